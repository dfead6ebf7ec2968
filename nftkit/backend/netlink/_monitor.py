"""The kernel's nftables notifications (multicast group ``NFNLGRP_NFTABLES``) as raw events,
grouped by commit, in any network namespace; and the element decoder.

Every commit, by any process, makes the kernel send one ``NFT_MSG_NEW*``/``DEL*`` message per
change to the sockets that joined the group, then ``NFT_MSG_NEWGEN`` with the new generation
id, the committing process id and its name. ``MonitorSocket.read`` returns one commit at a
time (``Batch``): its messages and that generation, so every change is known by the
generation it belongs to.

``decode_element`` turns an element of a ``NEWSETELEM``/``DELSETELEM`` message back into the
value a listing gives (``10.0.0.1``, ``80``, ``1.2.3.4 . 80``, ``22 : accept``), for the
datatypes whose value has one spelling in the model, and checks the result by encoding it
again with THE element encoder (``_elements``): what does not give the same bytes back is
refused (None), never guessed.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from ...errors import BackendError, UnsupportedError
from ...model.expressions import ConcatExpr, VerdictExpr, VerdictKind
from ._elements import encode_value, verdict_data
from ._socket import _HEAD, NFNL_SUBSYS_NFTABLES, SO_RCVBUFFORCE, _open_in, parse_attrs

__all__ = ["Batch", "MonitorSocket", "RawEvent", "decode_element", "element_nests"]

NFNLGRP_NFTABLES = 7
NFT_MSG_NEWGEN = 15
#: nft message type -> (kind, action)
MESSAGES = {0: ("table", "add"), 2: ("table", "delete"), 3: ("chain", "add"),
            5: ("chain", "delete"), 6: ("rule", "add"), 8: ("rule", "delete"),
            9: ("set", "add"), 11: ("set", "delete"), 12: ("element", "add"),
            14: ("element", "delete"), 18: ("object", "add"), 20: ("object", "delete"),
            22: ("flowtable", "add"), 24: ("flowtable", "delete")}
#: NFTA_*_TABLE, NFTA_*_NAME, NFTA_*_HANDLE attribute numbers per kind (None: has none)
_WHERE = {"table": (None, 1, 4), "chain": (1, 3, 2), "rule": (1, None, 3),
          "set": (1, 2, 16), "element": (1, 2, None), "object": (1, 2, 6),
          "flowtable": (1, 2, 5)}
NFTA_RULE_CHAIN = 2
NFTA_SET_FLAGS = 3
NFTA_SET_ELEM_LIST_ELEMENTS = 3
NFT_SET_ANONYMOUS = 0x1
_ELEM_KEY, _ELEM_DATA, _ELEM_FLAGS = 1, 2, 3
_DATA_VALUE, _DATA_VERDICT = 1, 2
_VERDICT_CODE, _VERDICT_CHAIN = 1, 2
_VERDICTS = {0: VerdictKind.DROP, 1: VerdictKind.ACCEPT, -1: VerdictKind.CONTINUE,
             -3: VerdictKind.JUMP, -4: VerdictKind.GOTO, -5: VerdictKind.RETURN}
_RCVBUF = 8 << 20
_SLICE = 0.2
_NFGEN = struct.Struct("=BBH")


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


@dataclass(slots=True)
class RawEvent:
    """One notification: kind (``table``, ``chain``, ...), action (``add``/``delete``), nfproto
    family number, where, and the message's attributes."""

    kind: str
    action: str
    family: int
    table: str | None
    name: str | None
    handle: int | None
    attrs: list[tuple[int, bytes]]

    @property
    def chain(self) -> str | None:
        if self.kind != "rule":
            return None
        raw = dict(self.attrs).get(NFTA_RULE_CHAIN)
        return None if raw is None else _text(raw)

    @property
    def anonymous(self) -> bool:
        """An anonymous set (part of a rule: ``tcp dport { 22, 80 }``)."""
        raw = dict(self.attrs).get(NFTA_SET_FLAGS)
        return raw is not None and bool(struct.unpack(">I", raw)[0] & NFT_SET_ANONYMOUS)


@dataclass(slots=True)
class Batch:
    """The notifications of one commit, and its generation (``NEWGEN``). ``lost``: the kernel
    dropped notifications before these (the socket buffer overflowed)."""

    events: list[RawEvent] = field(default_factory=list)
    genid: int | None = None
    pid: int | None = None
    process: str | None = None
    lost: bool = False


def _raw_event(mtype: int, family: int, attrs: list[tuple[int, bytes]]) -> RawEvent | None:
    known = MESSAGES.get(mtype)
    if known is None:
        return None
    kind, action = known
    t_attr, n_attr, h_attr = _WHERE[kind]
    d = dict(attrs)
    table = _text(d[t_attr]) if t_attr is not None and t_attr in d else None
    name = _text(d[n_attr]) if n_attr is not None and n_attr in d else None
    if kind == "table":
        table = name
    handle = (struct.unpack(">Q", d[h_attr])[0]
              if h_attr is not None and len(d.get(h_attr, b"")) == 8 else None)
    return RawEvent(kind, action, family, table, name, handle, attrs)


class MonitorSocket:
    """A ``NETLINK_NETFILTER`` socket in one network namespace that joined the nftables
    notification group. Not thread-safe: one reader."""

    def __init__(self, netns: int | None = None) -> None:
        self._sock = _open_in(netns)
        try:
            self._sock.bind((0, 1 << (NFNLGRP_NFTABLES - 1)))
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, _RCVBUF)
            except OSError:
                with contextlib.suppress(OSError):
                    self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            self._sock.setblocking(False)
        except OSError as exc:
            self._sock.close()
            raise BackendError(f"cannot join the nftables notification group: {exc}") from None
        self._current = Batch()
        self._ready: list[Batch] = []

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()

    @property
    def closed(self) -> bool:
        return self._sock.fileno() < 0

    def read(self, timeout: float | None) -> Batch | None:
        """The next complete commit; None when none completed within ``timeout`` seconds
        (None: wait as long as it takes; 0: only what has arrived)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready:
            if self.closed:
                return None
            left = _SLICE if deadline is None else deadline - time.monotonic()
            # (in slices: closing the socket from another thread does not wake a select)
            try:
                readable, _w, _x = select.select([self._sock], [], [],
                                                 max(0.0, min(left, _SLICE)))
            except (OSError, ValueError):  # closed by another thread meanwhile
                return None
            if readable:
                self._receive()
            elif deadline is not None and time.monotonic() >= deadline:
                return None
        return self._ready.pop(0)

    def ready(self) -> list[Batch]:
        """The complete commits received and not yet read (oldest first)."""
        return list(self._ready)

    def wait_for(self, genid: int, timeout: float) -> bool:
        """Receive until the commit of generation ``genid`` has arrived (its notifications
        follow the generation's increment closely); False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not any(b.genid == genid for b in self._ready):
            wait = deadline - time.monotonic()
            if wait <= 0 or self.closed:
                return False
            try:
                readable, _w, _x = select.select([self._sock], [], [], min(wait, _SLICE))
            except (OSError, ValueError):
                return False
            if readable:
                self._receive()
        return True

    def _receive(self) -> None:
        try:
            data = self._sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError as exc:
            if self.closed:  # by another thread meanwhile
                return
            if exc.errno == errno.ENOBUFS:  # the kernel dropped notifications
                self._ready.append(Batch(lost=True))
                self._current = Batch()  # (what came of the commit before is incomplete)
                return
            raise BackendError(f"reading nftables notifications: {exc}") from None
        off = 0
        while off + 20 <= len(data):
            length, mtype, _flags, _seq, _pid = _HEAD.unpack_from(data, off)
            if length < 16:
                break
            if mtype >> 8 == NFNL_SUBSYS_NFTABLES:
                family = _NFGEN.unpack_from(data, off + 16)[0]
                attrs = parse_attrs(data, off + 20, off + length)
                if mtype & 0xFF == NFT_MSG_NEWGEN:
                    d = dict(attrs)
                    batch = self._current
                    batch.genid = struct.unpack(">I", d[1])[0] if 1 in d else None
                    batch.pid = struct.unpack(">I", d[2])[0] if 2 in d else None
                    batch.process = _text(d[3]) if 3 in d else None
                    self._ready.append(batch)
                    self._current = Batch()
                else:
                    ev = _raw_event(mtype & 0xFF, family, attrs)
                    if ev is not None:
                        self._current.events.append(ev)
            off += (length + 3) & ~3


# --- elements -----------------------------------------------------------------------------


def element_nests(ev: RawEvent) -> list[list[tuple[int, bytes]]]:
    """The attributes of each element of a ``NEWSETELEM``/``DELSETELEM`` message."""
    raw = dict(ev.attrs).get(NFTA_SET_ELEM_LIST_ELEMENTS, b"")
    return [parse_attrs(nest) for _kind, nest in parse_attrs(raw)]


def _be(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def _host(raw: bytes) -> int:
    return int.from_bytes(raw, "little" if struct.pack("=I", 1)[0] == 1 else "big")


#: datatype -> (size, decoder): the types whose values have one spelling in the model
_DECODERS: dict[str, tuple[int, Any]] = {
    "ipv4_addr": (4, IPv4Address),
    "ipv6_addr": (16, IPv6Address),
    "inet_service": (2, _be),
    "mark": (4, _host),
    "ether_addr": (6, lambda raw: ":".join(f"{b:02x}" for b in raw)),
    "ifname": (16, _text),
}


def _value(raw: bytes, types: Sequence[str]) -> Any:
    """``raw`` as a value of ``types`` (a ConcatExpr for more than one), or None."""
    parts: list[Any] = []
    off = 0
    for name in types:
        dec = _DECODERS.get(name)
        if dec is None:
            return None
        size, decode = dec
        chunk = raw[off:off + size]
        if len(chunk) != size:
            return None
        parts.append(decode(chunk))
        off += size + (-size % 4 if len(types) > 1 else 0)
    value = parts[0] if len(parts) == 1 else ConcatExpr(exprs=tuple(parts))
    try:
        if off != len(raw) or encode_value(value, types) != raw:
            return None  # does not give the same bytes back: refused
    except UnsupportedError:
        return None
    return value


def _verdict(raw: bytes) -> VerdictExpr | None:
    d = dict(parse_attrs(raw))
    if set(d) != {_DATA_VERDICT}:
        return None
    v = dict(parse_attrs(d[_DATA_VERDICT]))
    code = struct.unpack(">i", v.get(_VERDICT_CODE, b"\0\0\0\0"))[0]
    kind = _VERDICTS.get(code)
    if kind is None:
        return None
    target = _text(v[_VERDICT_CHAIN]) if _VERDICT_CHAIN in v else None
    try:
        verdict = VerdictExpr(kind=kind, target=target)
        # (compared by attributes: the kernel sends nests without NLA_F_NESTED)
        ours = dict(parse_attrs(verdict_data(verdict)[4:])).get(_DATA_VERDICT, b"")
        same = parse_attrs(ours) == parse_attrs(d[_DATA_VERDICT])
    except (UnsupportedError, ValueError):
        return None
    return verdict if same else None


def decode_element(nest: list[tuple[int, bytes]], key: Sequence[str],
                   data: Sequence[str] | None) -> tuple[Any, str | None]:
    """``(value, None)`` for an element of a set with key datatypes ``key`` (and map data
    ``data``, ``("verdict",)`` for a verdict map), as ``Set.elements`` holds it; else
    ``(None, why)``."""
    d = dict(nest)
    extra = set(d) - {_ELEM_KEY, _ELEM_DATA}
    if _ELEM_FLAGS in d and _be(d[_ELEM_FLAGS]) == 0:
        extra.discard(_ELEM_FLAGS)
    if extra:
        return None, "an element with options (timeout, comment, statements, interval " \
                     "end or catch-all) is not decoded"
    if _ELEM_KEY not in d:
        return None, "an element without a key"
    kd = dict(parse_attrs(d[_ELEM_KEY]))
    if set(kd) != {_DATA_VALUE}:
        return None, "a key that is not a value"
    k = _value(kd[_DATA_VALUE], key)
    if k is None:
        return None, f"a key of type {' . '.join(key)} is not decoded"
    if data is None:
        return (k, None) if _ELEM_DATA not in d else (None, "data in a set's element")
    if _ELEM_DATA not in d:
        return None, "a map element without data"
    if tuple(data) == ("verdict",):
        verdict = _verdict(d[_ELEM_DATA])
        if verdict is None:
            return None, "a verdict that is not decoded"
        return (k, verdict), None
    dd = dict(parse_attrs(d[_ELEM_DATA]))
    if set(dd) != {_DATA_VALUE}:
        return None, "data that is not a value"
    v = _value(dd[_DATA_VALUE], data)
    if v is None:
        return None, f"data of type {' . '.join(data)} is not decoded"
    return (k, v), None
