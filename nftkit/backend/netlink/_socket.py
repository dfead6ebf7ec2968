"""A ``NETLINK_NETFILTER`` socket in any network namespace: one atomic nfnetlink batch per
call, with an ack per message, and small dumps (``GETSET`` ...) for reads and tests.

A batch is ``NFNL_MSG_BATCH_BEGIN``, the messages, ``NFNL_MSG_BATCH_END``, sent with ONE
``send``: the kernel applies all of it or none. Every message asks for an ack, so the first
error names the message that failed (its sequence number), which the caller maps back to the
transaction op: exact, where libnftables' JSON path has to bisect with dry runs. A batch sent
without ``BATCH_END`` is validated and then aborted by the kernel (nothing changes): that is
the dry run (``check``).

The socket buffers are sized to the batch with ``SO_SNDBUFFORCE``/``SO_RCVBUFFORCE`` (we are
CAP_NET_ADMIN anyway), as nft does: a 30k-service full sync is a ~7 MB batch, and the kernel
takes one ``sendmsg`` of at most the send buffer. ``NETLINK_CAP_ACK`` keeps error replies from
echoing whole 64 KiB element messages back.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
import threading
from collections.abc import Sequence

from ...errors import BackendError, NotFoundError, PermissionDeniedError
from .._netns import PERMISSION_HINT, call_in, netns_path

__all__ = ["NLMSG_DONE", "NLMSG_ERROR", "NetlinkSocket", "parse_attrs"]

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFNL_BATCH_GENID = 1
NFT_MSG_GETGEN = 16
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
_HEAD = struct.Struct("=IHHII")
_NFGEN = struct.Struct("=BBH")


def _open_in(netns: str | int | None) -> socket.socket:
    """A netfilter netlink socket created inside ``netns`` (None: here; a name under
    /run/netns, a path, or an fd) by a helper thread (``_netns.call_in``)."""
    fd = None
    try:
        if isinstance(netns, int):
            fd = netns
        elif netns is not None:
            fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
        return call_in(fd, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                                 NETLINK_NETFILTER))
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            raise PermissionDeniedError(f"netlink socket in {netns!r}: {PERMISSION_HINT}"
                                        ) from None
        raise BackendError(f"cannot open a netfilter netlink socket: {exc}") from None
    finally:
        if fd is not None and not isinstance(netns, int):
            os.close(fd)


def _refused(what: str, err: int) -> BackendError:
    """The error for a refused request: PermissionDeniedError naming CAP_NET_ADMIN, as the
    libnftables path raises it, for EPERM and EACCES."""
    if err in (errno.EPERM, errno.EACCES):
        return PermissionDeniedError(PERMISSION_HINT, nft_message=f"{what}: {os.strerror(err)}")
    return BackendError(f"{what}: {os.strerror(err)}")


def message(kind: int, flags: int, seq: int, family: int, body: bytes,
            res_id: int = 0) -> bytes:
    """One netlink message with its ``nfgenmsg`` header (version 0, ``res_id`` big-endian)."""
    payload = _NFGEN.pack(family, 0, socket.htons(res_id)) + body
    return _HEAD.pack(16 + len(payload), kind, flags, seq, 0) + payload


def parse_attrs(data: bytes | memoryview, off: int = 0, end: int | None = None
                ) -> list[tuple[int, bytes]]:
    """``(type without NLA_F_NESTED, payload)`` of each attribute in ``data[off:end]``."""
    end = len(data) if end is None else end
    out: list[tuple[int, bytes]] = []
    while off + 4 <= end:
        length, kind = struct.unpack_from("=HH", data, off)
        if length < 4:
            break
        out.append((kind & 0x3FFF, bytes(data[off + 4:off + length])))
        off += (length + 3) & ~3
    return out


class NetlinkSocket:
    """A ``NETLINK_NETFILTER`` socket bound to one network namespace; thread-safe."""

    def __init__(self, netns: str | int | None = None) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._sock = _open_in(netns)
        self._sock.bind((0, 0))
        with contextlib.suppress(OSError):  # kernels before 4.3 have no NETLINK_CAP_ACK
            self._sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self._bufsize = 0
        self._sndbuf = 0
        #: ``(message type, family, attributes)`` of the objects the kernel echoed back for
        #: the last batch's NLM_F_ECHO messages (in commit order).
        self.echoed: list[tuple[int, int, list[tuple[int, bytes]]]] = []

    def close(self) -> None:
        self._sock.close()

    def _size_buffers(self, send: int, receive: int) -> None:
        """Grow the buffers: ``send`` bytes go out in one sendmsg; ``receive`` must hold
        every ack (the kernel queues them all before send() returns)."""
        for force, plain, size, have in ((SO_SNDBUFFORCE, socket.SO_SNDBUF, send,
                                          self._sndbuf),
                                         (SO_RCVBUFFORCE, socket.SO_RCVBUF, receive,
                                          self._bufsize)):
            if size <= have:
                continue
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, force, size)
            except OSError:
                self._sock.setsockopt(socket.SOL_SOCKET, plain, size)
            if force == SO_SNDBUFFORCE:
                self._sndbuf = size
            else:
                self._bufsize = size

    def batch(self, messages: Sequence[tuple[int, int, int, bytes]], *,
              commit: bool = True, genid: int | None = None) -> tuple[int, int] | None:
        """Send ``(nft message type, flags, nfproto family, body)`` messages as one batch.

        Returns None when every message was acked, else ``(position, errno)`` of the first
        message the kernel refused (then nothing was applied). ``commit=False`` leaves out
        ``BATCH_END``: the kernel validates every message and aborts (a dry run).

        ``genid``: the ruleset generation the batch was built against (``NFNL_BATCH_GENID``
        in the batch-begin message); when another writer committed since, the kernel refuses
        the whole batch with ``(0, ERESTART)``.
        """
        with self._lock:
            seq = self._seq + 1
            self._seq += len(messages) + 2
            begin = b"" if genid is None else struct.pack("=HHI", 8, NFNL_BATCH_GENID,
                                                         socket.htonl(genid))
            parts = [message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, 0, begin,
                             NFNL_SUBSYS_NFTABLES)]
            flags0 = NLM_F_REQUEST | NLM_F_ACK
            sub = NFNL_SUBSYS_NFTABLES << 8
            for i, (kind, flags, fam, body) in enumerate(messages, 1):
                payload = _NFGEN.pack(fam, 0, 0) + body
                parts.append(_HEAD.pack(16 + len(payload), sub | kind, flags0 | flags,
                                        seq + i, 0))
                parts.append(payload)
            if commit:
                parts.append(message(NFNL_MSG_BATCH_END, NLM_F_REQUEST,
                                     seq + len(messages) + 1, 0, b"", NFNL_SUBSYS_NFTABLES))
            data = b"".join(parts)
            # an ack takes ~1 KiB of receive buffer (the kernel counts the skb's true size)
            self._size_buffers(len(data) + 65536, len(messages) * 1024 + 65536)
            try:
                self._sock.send(data)
                return self._acks(seq, len(messages))
            except OSError as exc:
                raise BackendError(f"netlink batch of {len(data)} bytes: {exc}") from None

    def _acks(self, seq: int, count: int) -> tuple[int, int] | None:
        """Read one reply per message; the first error (lowest position) wins. After an
        error the kernel still answers the remaining messages (it validates them all, then
        aborts), so every reply is read to leave the socket clean."""
        pending = set(range(seq + 1, seq + count + 1))
        first: tuple[int, int] | None = None
        self.echoed = []
        while pending:
            data = self._sock.recv(1 << 17)  # acks one per datagram; echoes batched
            off = 0
            while off + 16 <= len(data):
                length, kind, _flags, rseq, _pid = _HEAD.unpack_from(data, off)
                if kind >> 8 == NFNL_SUBSYS_NFTABLES and length >= 20:
                    # what the kernel echoes for NLM_F_ECHO messages, at commit
                    self.echoed.append((kind & 0xFF, data[off + 16],
                                        parse_attrs(data, off + 20, off + length)))
                elif kind == NLMSG_ERROR and rseq in pending:
                    pending.discard(rseq)
                    (err,) = struct.unpack_from("=i", data, off + 16)
                    if err and (first is None or rseq - seq - 1 < first[0]):
                        first = (rseq - seq - 1, -err)
                elif kind == NLMSG_ERROR and rseq == seq:
                    # an error on BATCH_BEGIN itself (e.g. EPERM): nothing else follows
                    (err,) = struct.unpack_from("=i", data, off + 16)
                    if err:
                        return (0, -err)
                off += max((length + 3) & ~3, 16)
            if first is not None and not self._more_waiting():
                # the kernel answers an aborted batch only for the messages it processed
                break
        return first

    def _more_waiting(self) -> bool:
        try:
            self._sock.setblocking(False)
            try:
                return bool(self._sock.recv(16, socket.MSG_PEEK))
            except BlockingIOError:
                return False
        finally:
            self._sock.setblocking(True)

    def request(self, kind: int, family: int, body: bytes) -> list[tuple[int, bytes]]:
        """A ``GET*`` request for one object: its attributes (NotFoundError on ENOENT)."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._sock.send(message((NFNL_SUBSYS_NFTABLES << 8) | kind, NLM_F_REQUEST, seq,
                                    family, body))
            while True:
                data = self._sock.recv(1 << 20)
                off = 0
                while off + 16 <= len(data):
                    length, mtype, _flags, rseq, _pid = _HEAD.unpack_from(data, off)
                    if rseq == seq and mtype == NLMSG_ERROR:
                        (err,) = struct.unpack_from("=i", data, off + 16)
                        if err == -errno.ENOENT:
                            raise NotFoundError("not found")
                        raise _refused("netlink get", -err)
                    if rseq == seq:
                        return parse_attrs(data, off + 20, off + length)
                    off += (length + 3) & ~3

    def genid(self) -> int:
        """The ruleset's generation id now (``NFT_MSG_GETGEN``): every commit increments it."""
        attrs = dict(self.request(NFT_MSG_GETGEN, 0, b""))
        value: int = struct.unpack(">I", attrs[1])[0]
        return value

    def dump(self, kind: int, family: int, body: bytes = b"") -> list[list[tuple[int, bytes]]]:
        """A ``GET*`` dump request; the attributes of each object returned."""
        return [attrs for _fam, attrs in self.dump_families(kind, family, body)]

    def dump_families(self, kind: int, family: int, body: bytes = b""
                      ) -> list[tuple[int, list[tuple[int, bytes]]]]:
        """A ``GET*`` dump request; ``(nfproto family, attributes)`` of each object (family
        0 dumps every family)."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._sock.send(message((NFNL_SUBSYS_NFTABLES << 8) | kind,
                                    NLM_F_REQUEST | NLM_F_DUMP, seq, family, body))
            out: list[tuple[int, list[tuple[int, bytes]]]] = []
            while True:
                data = self._sock.recv(1 << 20)
                off = 0
                while off + 16 <= len(data):
                    length, mtype, _flags, _rseq, _pid = _HEAD.unpack_from(data, off)
                    if mtype == NLMSG_DONE:
                        return out
                    if mtype == NLMSG_ERROR:
                        (err,) = struct.unpack_from("=i", data, off + 16)
                        if err:
                            raise _refused("netlink dump", -err)
                        return out
                    out.append((data[off + 16], parse_attrs(data, off + 20, off + length)))
                    off += (length + 3) & ~3
