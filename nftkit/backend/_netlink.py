"""A direct netlink path for set element updates (experimental, not wired into ``Nftables``).

libnftables rebuilds its cache of the table before it evaluates an element command, which
costs O(chains + sets) per update (0.4 s at 10k classic kube-proxy services). The kernel itself
only needs one ``NFT_MSG_NEWSETELEM``/``NFT_MSG_DELSETELEM`` message in an nfnetlink batch:
this module encodes those from the model (keys and data by the set's datatypes) and sends them
on a ``NETLINK_NETFILTER`` socket opened inside the target network namespace.

A small encoder of our own rather than pyroute2: the messages are three nested attributes deep
and the hard part, the byte layout of each nft datatype (host- or network-endian, 4-byte
padding of concatenation parts), is nft's and not a netlink library's.

Supported: keys and data of the fixed-size datatypes in ``ENCODERS`` and their concatenations
(``type`` or ``typeof``), verdict data (accept, drop, return, jump, goto). Not supported:
interval sets (ranges and prefixes), timeouts, element statements, object maps.
``tests/test_netlink.py`` checks, per datatype, that the kernel ends with exactly the elements
the libnftables path gives.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from ..errors import BackendError, NotFoundError, UnsupportedError
from ..model.datatypes import expr_datatype
from ..model.expressions import ConcatExpr, ElemExpr, VerdictExpr, VerdictKind
from ..model.sets import Map, Set
from ._batch import classify

__all__ = ["ENCODERS", "NetlinkElements", "encode_value"]

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM = 12, 14
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
NLA_F_NESTED = 0x8000
# enum nft_set_elem_list_attributes / nft_set_elem_attributes / nft_data_attributes
LIST_TABLE, LIST_SET, LIST_ELEMENTS = 1, 2, 3
LIST_ELEM = 1
ELEM_KEY, ELEM_DATA = 1, 2
DATA_VALUE, DATA_VERDICT = 1, 2
VERDICT_CODE, VERDICT_CHAIN = 1, 2
_VERDICTS = {VerdictKind.DROP: 0, VerdictKind.ACCEPT: 1, VerdictKind.CONTINUE: -1,
             VerdictKind.JUMP: -3, VerdictKind.GOTO: -4, VerdictKind.RETURN: -5}
_FAMILIES = {"ip": 2, "ip6": 10, "inet": 1, "arp": 3, "bridge": 7, "netdev": 5}
CLONE_NEWNET = 0x40000000


def _addr(version: int) -> Callable[[Any], bytes]:
    def enc(v: Any) -> bytes:
        try:
            a = v if isinstance(v, IPv4Address | IPv6Address) else ip_address(str(v))
        except ValueError:
            raise UnsupportedError(f"not an address: {v!r} (ranges and prefixes need "
                                   "libnftables)") from None
        if a.version != version:
            raise UnsupportedError(f"{v!r} is not an IPv{version} address")
        return a.packed
    return enc


def _uint(size: int, order: str) -> Callable[[Any], bytes]:
    def enc(v: Any) -> bytes:
        if isinstance(v, bool) or not isinstance(v, int):
            raise UnsupportedError(f"expected an integer, got {v!r}")
        return v.to_bytes(size, order)  # type: ignore[arg-type]
    return enc


def _proto(v: Any) -> bytes:
    if isinstance(v, str):
        try:
            v = socket.getprotobyname(v)
        except OSError:
            raise UnsupportedError(f"unknown protocol {v!r}") from None
    return _uint(1, "big")(v)


def _ether(v: Any) -> bytes:
    parts = str(v).split(":")
    if len(parts) != 6:
        raise UnsupportedError(f"not an ethernet address: {v!r}")
    return bytes(int(p, 16) for p in parts)


def _ifname(v: Any) -> bytes:
    raw = str(v).encode()
    if len(raw) >= 16:
        raise UnsupportedError(f"interface name too long: {v!r}")
    return raw.ljust(16, b"\0")


#: Byte encoders per nft datatype: network order for protocol fields, host order for marks
#: and generated numbers (what the kernel's registers hold).
ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "ipv4_addr": _addr(4),
    "ipv6_addr": _addr(6),
    "inet_proto": _proto,
    "inet_service": _uint(2, "big"),
    "mark": _uint(4, "little" if struct.pack("=I", 1)[0] == 1 else "big"),
    "integer": _uint(4, "little" if struct.pack("=I", 1)[0] == 1 else "big"),
    "ether_addr": _ether,
    "ifname": _ifname,
}


def _types(s: Set, data: bool) -> tuple[str, ...]:
    names = s.data_type if data else s.type  # type: ignore[attr-defined]
    typeof = s.data_typeof if data else s.typeof  # type: ignore[attr-defined]
    if names:
        return tuple(names)
    dt = expr_datatype(typeof) if typeof is not None else None
    if dt is None:
        raise UnsupportedError(f"set {s.name}: unknown key type")
    parts = dt.parts if dt.kind == "concat" else (dt,)
    return tuple(p.name if p is not None else "?" for p in parts)


def encode_value(value: Any, types: Sequence[str]) -> bytes:
    """The kernel's bytes for a key or data value: concatenation parts padded to 4 bytes."""
    parts = value.exprs if isinstance(value, ConcatExpr) else (value,)
    if len(parts) != len(types):
        raise UnsupportedError(f"{value!r} does not match the type {' . '.join(types)}")
    out = b""
    for part, name in zip(parts, types, strict=True):
        enc = ENCODERS.get(name)
        if enc is None:
            raise UnsupportedError(f"datatype {name} is not supported by the netlink path")
        raw = enc(part)
        out += raw + b"\0" * (-len(raw) % 4 if len(types) > 1 else 0)
    return out


def _attr(kind: int, payload: bytes) -> bytes:
    head = struct.pack("=HH", 4 + len(payload), kind)
    return head + payload + b"\0" * (-len(payload) % 4)


def _nest(kind: int, *items: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, b"".join(items))


def _msg(kind: int, flags: int, seq: int, family: int, body: bytes, res_id: int = 0) -> bytes:
    payload = struct.pack("=BBH", family, 0, socket.htons(res_id)) + body
    return struct.pack("=IHHII", 16 + len(payload), kind, flags, seq, 0) + payload


def _data(value: Any, s: Set) -> bytes:
    if isinstance(value, VerdictExpr):
        items = [_attr(VERDICT_CODE, struct.pack(">i", _VERDICTS[value.kind]))]
        if value.target is not None:
            items.append(_attr(VERDICT_CHAIN, value.target.encode() + b"\0"))
        return _nest(ELEM_DATA, _nest(DATA_VERDICT, *items))
    return _nest(ELEM_DATA, _attr(DATA_VALUE, encode_value(value, _types(s, True))))


def _element(el: Any, s: Set, with_data: bool) -> bytes:
    key, data = (el if isinstance(el, tuple) else (el, None))
    if isinstance(key, ElemExpr):
        raise UnsupportedError("element options (timeout, comment, counter) need libnftables")
    items = [_nest(ELEM_KEY, _attr(DATA_VALUE, encode_value(key, _types(s, False))))]
    if with_data and data is not None:
        items.append(_data(data, s))
    return _nest(LIST_ELEM, *items)


def _libc_setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise BackendError(f"setns failed: {os.strerror(ctypes.get_errno())}")


class NetlinkElements:
    """Adds and deletes set/map elements with one nfnetlink batch per call.

    ``netns``: None (this namespace), a name under /run/netns or a path. The socket is created
    inside the namespace by a helper thread, like ``Nftables``' context.
    """

    def __init__(self, netns: str | None = None) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        box: dict[str, Any] = {}

        def make() -> None:
            home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            try:
                if netns is not None:
                    path = netns if "/" in netns else f"/run/netns/{netns}"
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        _libc_setns(fd)
                    finally:
                        os.close(fd)
                box["sock"] = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                            NETLINK_NETFILTER)
                if netns is not None:
                    _libc_setns(home)
            except (OSError, BackendError) as exc:
                box["error"] = exc
            finally:
                os.close(home)

        worker = threading.Thread(target=make, name="nftkit-netlink-setns")
        worker.start()
        worker.join()
        if "error" in box:
            raise BackendError(f"cannot open a netfilter netlink socket: {box['error']}")
        self._sock: socket.socket = box["sock"]
        self._sock.bind((0, 0))

    def close(self) -> None:
        self._sock.close()

    def add(self, family: str, table: str, s: Set, elements: Iterable[Any], *,
            create: bool = False) -> None:
        """``add element`` (``create``: fail if one exists) as one atomic batch."""
        self.batch([("create" if create else "add", family, table, s, elements)])

    def delete(self, family: str, table: str, s: Set, elements: Iterable[Any]) -> None:
        """``delete element`` (keys, or (key, data) pairs of a map) as one atomic batch."""
        self.batch([("delete", family, table, s, elements)])

    def batch(self, ops: Sequence[tuple[str, str, str, Set, Iterable[Any]]]) -> None:
        """Several element operations ``(verb, family, table, set, elements)``, verb ``add``,
        ``create`` or ``delete``, as ONE atomic batch: all apply or none."""
        messages = []
        for verb, family, table, s, elements in ops:
            if verb == "delete":
                kind, flags, with_data = NFT_MSG_DELSETELEM, 0, False
            elif verb in ("add", "create"):
                kind, with_data = NFT_MSG_NEWSETELEM, isinstance(s, Map)
                flags = NLM_F_CREATE | (NLM_F_EXCL if verb == "create" else 0)
            else:
                raise UnsupportedError(f"unknown element verb {verb!r}")
            elems = b"".join(_element(e, s, with_data) for e in elements)
            body = (_attr(LIST_TABLE, table.encode() + b"\0")
                    + _attr(LIST_SET, s.name.encode() + b"\0") + _nest(LIST_ELEMENTS, elems))
            messages.append((kind, flags, _FAMILIES[family], body))
        with self._lock:
            seq = self._seq + 1
            self._seq += len(messages) + 2
            out = [_msg(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, 0, b"", NFNL_SUBSYS_NFTABLES)]
            for i, (kind, flags, fam, body) in enumerate(messages, 1):
                out.append(_msg((NFNL_SUBSYS_NFTABLES << 8) | kind,
                                NLM_F_REQUEST | NLM_F_ACK | flags, seq + i, fam, body))
            out.append(_msg(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq + len(messages) + 1, 0, b"",
                            NFNL_SUBSYS_NFTABLES))
            self._sock.send(b"".join(out))
            self._await_acks(range(seq + 1, seq + len(messages) + 1))

    def _await_acks(self, seqs: range) -> None:
        """Read one reply per message (every message asks for an ack); the first error wins.
        When one message fails the kernel aborts the whole batch."""
        pending = set(seqs)
        first_error = 0
        while pending:
            data = self._sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, kind, _flags, rseq, _pid = struct.unpack_from("=IHHII", data, off)
                if kind == NLMSG_ERROR and rseq in pending:
                    pending.discard(rseq)
                    (err,) = struct.unpack_from("=i", data, off + 16)
                    if err and not first_error:
                        first_error = -err
                off += max(length, 16)
        if first_error:
            message = os.strerror(first_error)
            cls = NotFoundError if first_error == 2 else classify(
                f"Error: Could not process rule: {message}")
            raise cls(f"netlink element batch: {message}", nft_message=message)
