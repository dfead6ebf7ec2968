"""A rule's netlink expressions, built from the model the way nft's linearizer builds them.

``rule_expressions(rule, family=...)`` returns the payload of ``NFTA_RULE_EXPRESSIONS`` for a
``NFT_MSG_NEWRULE`` message: the same expressions, registers, attribute order and implicit
dependencies that ``nft`` (src/evaluate.c + src/netlink_linearize.c, attributes written by
libnftnl) sends for the same rule text. ``rule_userdata(rule)`` returns
``NFTA_RULE_USERDATA`` (the comment). Anything outside the shapes below raises
``UnsupportedError``: the caller then goes through libnftables.

Shapes (nft text; ``S`` is a selector listed below)::

    S == v, S != v, S < v, S > v, S <= v, S >= v     load, cmp
    S 1000-2000 / S != 1000-2000                    two cmps (nft < 1.1) / range
    ip saddr 10.0.0.0/8, ip saddr != 10.128.0.0/10  short load + cmp / bitwise + cmp
    ct state established,related, ct status dnat    bitwise + cmp neq 0 (flag match)
    meta mark & 0x4000 == 0, ct status & dnat != 0  bitwise (mask/xor) + cmp
    S @set, S != @set, a . b . c @set               lookup (concatenations in 32-bit regs)
    S vmap @map                                     lookup into the verdict register
    accept, drop, return, continue, jump c, goto c  immediate
    counter, log prefix "x" [group 1] [level info], limit rate 10/second [burst 5 packets]
    quota [over] 25 mbytes [used 1 kbytes]
    meta mark set 0x10 | numgen random mod 2 | meta mark | 0x4000 | k map @m
    ct mark set ... (same values)
    update/add @s { k [timeout 3h] }, update/add @m { k [timeout 3h] : v }   dynset
    masquerade [random, fully-random, persistent]
    snat/dnat ip to 10.0.0.1[:80], dnat ip to k map @m (data addr or addr . port)
    redirect to :8080, reject [with tcp reset]

Selectors: payload fields of ip/ip6/tcp/udp/th (byte-aligned ones, and ``tcp flags``), meta
mark/iifname/oifname/l4proto/nfproto/length/skuid/skgid/cpu, ct state/status/mark/zone/
direction/[original|reply] ip[6] saddr/daddr, numgen, fib ... type/oifname, concatenations.
Implicit dependencies: ``meta nfproto ipv4|ipv6`` before ip/ip6 fields in inet tables,
``meta l4proto tcp|udp`` before tcp/udp fields, unless the rule already matched them; the
one of ``reject with tcp reset`` goes to the head of the rule, as nft puts it.

Operators follow the model's JSON (what ``Nftables.run`` would send): ``in`` on a flag type
is nft's implicit flag test, ``==``/``!=`` a plain cmp (``ct state == a,b`` compares with
``a|b``). Families: ip, ip6, inet.

Refused (UnsupportedError), because nft rewrites them in ways that differ between releases
or need other messages: anonymous sets and maps (``{ 22, 80 }``, inline vmaps: NEWSET
messages of their own), two payload matches on one header or out of header order (nft's
statement merging: ``ip ttl 64 ip protocol udp`` is one 2-byte cmp, and 1.0.6 merges across
a ``counter``), ``<``/``>``/ranges on host-order keys (nft adds a byteorder expression),
``x ^ c == v`` (nft folds it), ``==`` ranges for nft >= 1.1 (not verified there), payload
mangling, interface indexes, wildcard interface names, byte-rate limits, statements inside
dynset elements, named objects, nat address/port ranges.

Version notes: written from nft 1.0.6 + libnftnl 1.2.4 (checked byte for byte here) and
nft 1.1.4's src/netlink_linearize.c, which builds the same expressions for every shape above
(``NFTA_BITWISE_OP`` is sent for mask/xor binops, as 1.0.6 does, and not for flag tests and
prefixes); the one known difference (``==`` ranges) is refused for 1.1 targets.

``set_ids``: nft sends each referenced set's ``NFTA_SET_ID`` (its id in the batch, or the
ordinal it gave a set it read from the kernel); the kernel resolves the set by name first
and uses the id only when no set of that name exists, so 0 (the default) is equivalent for
named sets. Pass the ids the batch gives its NEWSET messages to get nft's exact bytes.
"""

from __future__ import annotations

import functools
import socket
import struct
import sys
from collections.abc import Mapping, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import attrs

from ..errors import UnsupportedError
from ..model.expressions import (
    BinopExpr,
    BinopOp,
    ConcatExpr,
    CtExpr,
    ElemExpr,
    FibExpr,
    ListExpr,
    MapExpr,
    MetaExpr,
    NumgenExpr,
    PayloadExpr,
    PrefixExpr,
    RangeExpr,
    SetExpr,
    SetRefExpr,
    VerdictExpr,
    VerdictKind,
)
from ..model.ruleset import Rule, Table
from ..model.sets import Map, Set
from ..model.statements import (
    CounterStmt,
    LimitStmt,
    LimitUnit,
    LogStmt,
    MangleStmt,
    MapStmt,
    MatchOp,
    MatchStmt,
    NatStmt,
    NatType,
    QuotaStmt,
    RejectStmt,
    RejectType,
    SetStmt,
    VerdictMapStmt,
)
from ..render.context import installed_nft_version, parse_version
from ._netlink import _attr, _nest

__all__ = ["rule_expressions", "rule_userdata"]

_HOST = sys.byteorder
_NFPROTO = {"ip": 2, "ip6": 10, "inet": 1}
_VERDICTS = {VerdictKind.DROP: 0, VerdictKind.ACCEPT: 1, VerdictKind.CONTINUE: -1,
             VerdictKind.JUMP: -3, VerdictKind.GOTO: -4, VerdictKind.RETURN: -5}
_CMP = {MatchOp.EQ: 0, MatchOp.IN: 0, MatchOp.NE: 1, MatchOp.LT: 2, MatchOp.LE: 3,
        MatchOp.GT: 4, MatchOp.GE: 5}

# --- attribute helpers (libnftnl writes integers in network byte order) --------------------


@functools.lru_cache(maxsize=4096)
def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack(">I", value & 0xFFFFFFFF))


def _u64(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack(">Q", value))


@functools.lru_cache(maxsize=4096)
def _str(kind: int, value: str) -> bytes:
    return _attr(kind, value.encode() + b"\0")


def _data(kind: int, raw: bytes) -> bytes:
    return _nest(kind, _attr(1, raw))  # NFTA_DATA_VALUE


def _expr(name: str, *items: bytes) -> bytes:
    # NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { ... } }
    return _nest(1, _str(1, name), _nest(2, *items))


def _reg(slot: int) -> int:
    """nft's register number for a 32-bit slot: 128-bit names (1-4) where aligned, else
    the 32-bit names (NFT_REG32_00 = 8)."""
    return 1 + slot // 4 if slot % 4 == 0 else 8 + slot


def _space(bits: int) -> int:
    return -(-bits // 32)


# --- selectors: what a left-hand side loads, and how its values are encoded ----------------


@attrs.frozen
class _Sel:
    """A loadable expression: its bit length, byte order and nft datatype."""

    expr: Any
    bits: int
    order: str  # "big" or "host"
    dtype: str
    parts: tuple[_Sel, ...] = ()


# (protocol, field) -> (base, offset in bits, length in bits, datatype)
_PAYLOAD: dict[tuple[str, str], tuple[int, int, int, str]] = {
    ("ip", "length"): (1, 16, 16, "integer"), ("ip", "id"): (1, 32, 16, "integer"),
    ("ip", "frag-off"): (1, 48, 16, "integer"), ("ip", "ttl"): (1, 64, 8, "integer"),
    ("ip", "protocol"): (1, 72, 8, "inet_proto"), ("ip", "checksum"): (1, 80, 16, "integer"),
    ("ip", "saddr"): (1, 96, 32, "ipv4_addr"), ("ip", "daddr"): (1, 128, 32, "ipv4_addr"),
    ("ip6", "length"): (1, 32, 16, "integer"), ("ip6", "nexthdr"): (1, 48, 8, "inet_proto"),
    ("ip6", "hoplimit"): (1, 56, 8, "integer"), ("ip6", "saddr"): (1, 64, 128, "ipv6_addr"),
    ("ip6", "daddr"): (1, 192, 128, "ipv6_addr"),
    ("tcp", "sport"): (2, 0, 16, "inet_service"), ("tcp", "dport"): (2, 16, 16, "inet_service"),
    ("tcp", "sequence"): (2, 32, 32, "integer"), ("tcp", "ackseq"): (2, 64, 32, "integer"),
    ("tcp", "flags"): (2, 104, 8, "tcp_flag"), ("tcp", "window"): (2, 112, 16, "integer"),
    ("tcp", "checksum"): (2, 128, 16, "integer"), ("tcp", "urgptr"): (2, 144, 16, "integer"),
    ("udp", "sport"): (2, 0, 16, "inet_service"), ("udp", "dport"): (2, 16, 16, "inet_service"),
    ("udp", "length"): (2, 32, 16, "integer"), ("udp", "checksum"): (2, 48, 16, "integer"),
    ("th", "sport"): (2, 0, 16, "inet_service"), ("th", "dport"): (2, 16, 16, "inet_service"),
}
# meta key -> (NFT_META_*, bits, byte order, datatype)
_META: dict[str, tuple[int, int, str, str]] = {
    "length": (0, 32, "host", "integer"), "mark": (3, 32, "host", "mark"),
    "iifname": (6, 128, "host", "ifname"), "oifname": (7, 128, "host", "ifname"),
    "skuid": (10, 32, "host", "integer"), "skgid": (11, 32, "host", "integer"),
    "nfproto": (15, 8, "host", "nfproto"), "l4proto": (16, 8, "host", "inet_proto"),
    "cpu": (20, 32, "host", "integer"),
}
# ct key -> (NFT_CT_*, bits, byte order, datatype)
_CT: dict[str, tuple[int, int, str, str]] = {
    "state": (0, 32, "host", "ct_state"), "direction": (1, 8, "host", "ct_dir"),
    "status": (2, 32, "host", "ct_status"), "mark": (3, 32, "host", "mark"),
    "zone": (17, 16, "host", "integer"),
    "ip saddr": (19, 32, "big", "ipv4_addr"), "ip daddr": (20, 32, "big", "ipv4_addr"),
    "ip6 saddr": (21, 128, "big", "ipv6_addr"), "ip6 daddr": (22, 128, "big", "ipv6_addr"),
}
_SYMBOLS: dict[str, dict[str, int]] = {
    "ct_state": {"invalid": 1, "established": 2, "related": 4, "new": 8, "untracked": 64},
    "ct_status": {"expected": 1, "seen-reply": 2, "assured": 4, "confirmed": 8, "snat": 16,
                  "dnat": 32, "dying": 512},
    "ct_dir": {"original": 0, "reply": 1},
    "nfproto": {"ipv4": 2, "ipv6": 10},
    "tcp_flag": {"fin": 1, "syn": 2, "rst": 4, "psh": 8, "ack": 16, "urg": 32, "ecn": 64,
                 "cwr": 128},
    "fib_addrtype": {"unspec": 0, "unicast": 1, "local": 2, "broadcast": 3, "anycast": 4,
                     "multicast": 5, "blackhole": 6, "unreachable": 7, "prohibit": 8},
}
_BITMASKS = frozenset({"ct_state", "ct_status", "tcp_flag"})
_FIB_FLAGS = {"saddr": 1, "daddr": 2, "mark": 4, "iif": 8, "oif": 16}
_FIB_RESULT = {"oif": (1, 32, "host", "ifindex"), "oifname": (2, 128, "host", "ifname"),
               "type": (3, 32, "host", "fib_addrtype")}
_REJECT_CODES: dict[str, dict[str, int]] = {
    "icmp": {"net-unreachable": 0, "host-unreachable": 1, "prot-unreachable": 2,
             "port-unreachable": 3, "net-prohibited": 9, "host-prohibited": 10,
             "admin-prohibited": 13},
    "icmpv6": {"no-route": 0, "admin-prohibited": 1, "addr-unreachable": 3,
               "port-unreachable": 4, "policy-fail": 5, "reject-route": 6},
    "icmpx": {"no-route": 0, "port-unreachable": 1, "host-unreachable": 2,
              "admin-prohibited": 3},
}
_NAT_FLAGS = {"random": 4, "persistent": 8, "fully-random": 16}


def _unsupported(what: str) -> UnsupportedError:
    return UnsupportedError(f"netlink rule encoder: {what} is not supported "
                            "(use the libnftables path)")


def _selector(e: Any) -> _Sel:
    """What ``e`` loads (cached: model nodes are frozen and hashable)."""
    try:
        return _selector_cached(e)
    except TypeError:  # an unhashable value somewhere in a hand-built node
        return _selector_of(e)


@functools.lru_cache(maxsize=8192)
def _selector_cached(e: Any) -> _Sel:
    return _selector_of(e)


def _selector_of(e: Any) -> _Sel:
    if isinstance(e, PayloadExpr):
        spec = _PAYLOAD.get((e.protocol or "", e.field or ""))
        if spec is None or e.tunnel is not None:
            raise _unsupported(f"payload {e.protocol} {e.field}")
        return _Sel(e, spec[2], "big", spec[3])
    if isinstance(e, MetaExpr):
        m = _META.get(e.key)
        if m is None:
            raise _unsupported(f"meta {e.key}")
        return _Sel(e, m[1], m[2], m[3])
    if isinstance(e, CtExpr):
        key = f"{e.family} {e.key}" if e.family else e.key
        c = _CT.get(key)
        if c is None or (e.dir is not None and key in ("state", "status", "direction")):
            raise _unsupported(f"ct {key}")
        return _Sel(e, c[1], c[2], c[3])
    if isinstance(e, NumgenExpr):
        return _Sel(e, 32, "host", "integer")
    if isinstance(e, FibExpr):
        r = _FIB_RESULT.get(e.result)
        if r is None:
            raise _unsupported(f"fib ... {e.result}")
        return _Sel(e, r[1], r[2], r[3])
    if isinstance(e, ConcatExpr):
        parts = tuple(_selector(p) for p in e.exprs)
        return _Sel(e, sum(_space(p.bits) * 32 for p in parts), "big", "concat", parts)
    if isinstance(e, BinopExpr):
        inner = _selector(e.left)
        if e.op in (BinopOp.LSHIFT, BinopOp.RSHIFT):
            raise _unsupported("shifts")
        return _Sel(e, inner.bits, inner.order, inner.dtype)
    raise _unsupported(f"the expression {type(e).__name__}")


def _int_value(value: Any, sel: _Sel) -> int:
    if isinstance(value, bool):
        raise _unsupported(f"the value {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, ListExpr):
        out = 0
        for v in value.values:
            out |= _int_value(v, sel)
        return out
    if isinstance(value, str):
        table = _SYMBOLS.get(sel.dtype)
        if table is not None and value in table:
            return table[value]
        try:
            if sel.dtype == "inet_proto":
                return socket.getprotobyname(value)
            if sel.dtype == "inet_service":
                return socket.getservbyname(value)
        except OSError:
            pass
    raise _unsupported(f"the value {value!r} for {sel.dtype}")


def _value(value: Any, sel: _Sel) -> bytes:
    """The bytes of constant ``value`` compared with (or loaded into) ``sel``."""
    if sel.dtype in ("ipv4_addr", "ipv6_addr"):
        want = IPv4Address if sel.dtype == "ipv4_addr" else IPv6Address
        if not isinstance(value, want):
            raise _unsupported(f"the value {value!r} for {sel.dtype}")
        return value.packed
    if sel.dtype == "ifname":
        if not isinstance(value, str) or value.endswith("*") or len(value.encode()) >= 16:
            raise _unsupported(f"the interface name {value!r}")
        return value.encode().ljust(16, b"\0")
    if sel.dtype in ("concat", "ifindex"):
        raise _unsupported(f"constant {sel.dtype} values")
    n = _int_value(value, sel)
    size = -(-sel.bits // 8)
    if n < 0 or n >= 1 << (size * 8):
        raise _unsupported(f"the value {value!r} (out of range)")
    return n.to_bytes(size, "big" if sel.order == "big" else _HOST)


@functools.lru_cache(maxsize=8192)
def _load(e: Any, slot: int, bits: int) -> bytes:
    """The expression loading selector ``e`` into register ``slot`` (``bits``: a shorter
    payload load, for byte-aligned prefixes; 0 for the whole field)."""
    _selector(e)  # validates: UnsupportedError for keys and fields not covered
    reg = _reg(slot)
    if isinstance(e, PayloadExpr):
        base, off, full, _ = _PAYLOAD[(e.protocol or "", e.field or "")]
        size = -(-(bits or full) // 8)
        return _expr("payload", _u32(1, reg), _u32(2, base), _u32(3, off // 8), _u32(4, size))
    if isinstance(e, MetaExpr):
        return _expr("meta", _u32(2, _META[e.key][0]), _u32(1, reg))
    if isinstance(e, CtExpr):
        key = f"{e.family} {e.key}" if e.family else e.key
        items = [_u32(2, _CT[key][0]), _u32(1, reg)]
        if e.dir is not None:
            items.append(_attr(3, bytes([_SYMBOLS["ct_dir"][e.dir]])))
        return _expr("ct", *items)
    if isinstance(e, NumgenExpr):
        return _expr("numgen", _u32(1, reg), _u32(2, e.mod),
                     _u32(3, 0 if e.mode == "inc" else 1), _u32(4, e.offset))
    flags = sum(_FIB_FLAGS[f] for f in e.flags)
    return _expr("fib", _u32(3, flags), _u32(2, _FIB_RESULT[e.result][0]), _u32(1, reg))


# --- the linearizer -----------------------------------------------------------------------

# (tuples, not ``A | B``: a union is built anew at each isinstance call on the hot path)
_LEAVES = (PayloadExpr, MetaExpr, CtExpr, NumgenExpr, FibExpr)


class _Linearizer:
    def __init__(self, family: str, table: Table | None, set_ids: Mapping[str, int],
                 version: tuple[int, int, int]) -> None:
        if family not in _NFPROTO:
            raise _unsupported(f"the {family} family")
        self.family = family
        self.table = table
        self.set_ids = set_ids
        self.version = version
        self.out: list[bytes] = []
        self.low = 0  # first free 32-bit register slot
        self.l3: str | None = None if family == "inet" else family
        self.l4: str | None = None

    # registers, as nft's get_register/release_register
    def get(self, sel: _Sel | None) -> int:
        n = _space(sel.bits) if sel is not None and sel.dtype == "concat" else 4
        slot = self.low
        self.low += n
        return slot

    def release(self, sel: _Sel | None) -> None:
        self.low -= _space(sel.bits) if sel is not None and sel.dtype == "concat" else 4

    # dependencies (src/payload.c): evaluated before the statement that needs them
    def deps(self, e: Any, before: list[bytes]) -> None:
        if isinstance(e, ConcatExpr):
            for p in e.exprs:
                self.deps(p, before)
        elif isinstance(e, (BinopExpr, ElemExpr)):
            self.deps(e.left if isinstance(e, BinopExpr) else e.val, before)
        elif isinstance(e, MapExpr):
            self.deps(e.key, before)
        elif isinstance(e, PayloadExpr):
            proto = e.protocol or ""
            if proto in ("ip", "ip6"):
                if self.l3 is None:
                    before += self._meta_eq(15, 2 if proto == "ip" else 10)
                    self.l3 = proto
                elif self.l3 != proto:
                    raise _unsupported(f"{proto} fields in a {self.l3} context")
            elif proto in ("tcp", "udp"):
                if self.l4 is None:
                    before += self._meta_eq(16, 6 if proto == "tcp" else 17)
                    self.l4 = proto
                elif self.l4 != proto:
                    raise _unsupported(f"{proto} fields in a {self.l4} context")

    def _meta_eq(self, key: int, value: int) -> list[bytes]:
        return [_expr("meta", _u32(2, key), _u32(1, _reg(0))),
                _expr("cmp", _u32(1, _reg(0)), _u32(2, 0), _data(3, bytes([value])))]

    def _note_context(self, st: MatchStmt) -> None:
        """An explicit ``meta l4proto tcp`` (or nfproto, ip protocol) satisfies the
        dependency of later tcp (ip) fields, as nft's protocol context does."""
        if st.op not in (MatchOp.EQ, MatchOp.IN) or not isinstance(st.right, (str, int)):
            return
        left = st.left
        names = {6: "tcp", 17: "udp", 2: "ip", 10: "ip6"}
        if (isinstance(left, MetaExpr) and left.key in ("l4proto", "nfproto")) or (
                isinstance(left, PayloadExpr) and left.field in ("protocol", "nexthdr")):
            sel = _selector(left)
            name = names.get(_int_value(st.right, sel))
            if sel.dtype == "nfproto":
                self.l3 = name if name in ("ip", "ip6") else self.l3
            elif name in ("tcp", "udp"):
                self.l4 = name

    # expressions
    def gen(self, e: Any, slot: int, sel: _Sel | None = None) -> None:
        """Load ``e`` into register ``slot`` (netlink_gen_expr)."""
        if isinstance(e, _LEAVES):
            self.out.append(_load(e, slot, sel.bits if sel is not None else 0))
            return
        if isinstance(e, ConcatExpr):
            for part in e.exprs:
                self.gen(part, slot)
                slot += _space(_selector(part).bits)
        elif isinstance(e, BinopExpr):
            self.binop(e, slot)
        elif isinstance(e, MapExpr):
            self.map(e, slot)
        else:
            raise _unsupported(f"loading {type(e).__name__}")

    def binop(self, e: BinopExpr, slot: int) -> None:
        """``x & m``, ``x | v``, ``x ^ v`` chains with constant right sides: one bitwise
        (mask, xor) as netlink_gen_bitwise_mask_xor folds them."""
        chain: list[BinopExpr] = []
        left: Any = e
        while isinstance(left, BinopExpr):
            if left.op in (BinopOp.LSHIFT, BinopOp.RSHIFT):
                raise _unsupported("shifts")
            chain.append(left)
            left = left.left
        sel = _selector(left)
        self.gen(left, slot)
        full = (1 << sel.bits) - 1
        mask, xor = full, 0
        for b in reversed(chain):
            if isinstance(b.right, (ListExpr, str, int)) and not isinstance(b.right, bool):
                val = _int_value(b.right, sel)
            else:
                raise _unsupported("bitwise operations with a non-constant right side")
            m, x = {BinopOp.AND: (val, 0), BinopOp.OR: (full & ~val, val),
                    BinopOp.XOR: (full, val)}[b.op]
            xor = x ^ (xor & m)
            mask &= m
        size = -(-sel.bits // 8)
        order = "big" if sel.order == "big" else _HOST
        reg = _reg(slot)
        self.out.append(_expr("bitwise", _u32(1, reg), _u32(2, reg), _u32(6, 0), _u32(3, size),
                              _data(4, mask.to_bytes(size, order)),
                              _data(5, xor.to_bytes(size, order))))

    def set_id(self, name: str) -> int:
        return self.set_ids.get(name, 0)

    def named(self, ref: Any) -> str:
        if isinstance(ref, SetExpr):
            raise _unsupported("anonymous sets and maps")
        if not isinstance(ref, SetRefExpr):
            raise _unsupported(f"a {type(ref).__name__} as a set")
        return ref.name

    def map(self, e: MapExpr, dreg_slot: int | None) -> None:
        """``key map @m`` into ``dreg_slot`` (None: the verdict register, ``vmap``)."""
        name = self.named(e.data)
        key = _selector(e.key)
        slot = self.get(key) if dreg_slot is None else dreg_slot
        extra = _space(key.bits) if key.dtype == "concat" else 0
        self.low += extra  # nft reserves the key's registers while it loads it
        self.gen(e.key, slot)
        self.low -= extra
        self.out.append(_expr("lookup", _u32(2, _reg(slot)),
                              _u32(3, 0 if dreg_slot is None else _reg(dreg_slot)),
                              _str(1, name), _u32(4, self.set_id(name))))
        if dreg_slot is None:
            self.release(key)

    # statements
    def stmt(self, st: Any) -> None:
        before: list[bytes] = []
        for e in _dep_exprs(st):
            self.deps(e, before)
        self.out += before
        if isinstance(st, MatchStmt):
            self.match(st)
            self._note_context(st)
        elif isinstance(st, VerdictExpr):
            self.verdict(st)
        elif isinstance(st, CounterStmt):
            items = []
            if st.bytes:
                items.append(_u64(1, st.bytes))
            if st.packets:
                items.append(_u64(2, st.packets))
            self.out.append(_expr("counter", *items))
        elif isinstance(st, MangleStmt):
            self.mangle(st)
        elif isinstance(st, NatStmt):
            self.nat(st)
        elif isinstance(st, RejectStmt):
            self.reject(st)
        elif isinstance(st, (MapStmt, SetStmt)):
            self.dynset(st)
        elif isinstance(st, LogStmt):
            self.log(st)
        elif isinstance(st, LimitStmt):
            self.limit(st)
        elif isinstance(st, QuotaStmt):
            # quota [over] 25 mbytes [used 1 kbytes]: BYTES, CONSUMED, FLAGS (1 = over)
            self.out.append(_expr("quota", _u64(1, st.bytes), _u64(4, st.used),
                                  _u32(2, 1 if st.inv else 0)))
        elif isinstance(st, VerdictMapStmt):
            self.map(MapExpr(key=st.key, data=st.data), None)
        else:
            raise _unsupported(f"the statement {type(st).__name__}")

    def verdict(self, v: VerdictExpr) -> None:
        items = [_attr(1, struct.pack(">i", _VERDICTS[v.kind]))]
        if v.target is not None:
            items.append(_str(2, v.target))
        self.out.append(_expr("immediate", _u32(1, 0), _nest(2, _nest(2, *items))))

    def match(self, st: MatchStmt) -> None:
        left, op, right = st.left, st.op, st.right
        sel = _selector(left)
        if isinstance(right, (SetRefExpr, SetExpr)):
            name = self.named(right)
            if op not in (MatchOp.EQ, MatchOp.IN, MatchOp.NE):
                raise _unsupported(f"{op} with a set")
            slot = self.get(sel)
            self.gen(left, slot)
            items = [_u32(2, _reg(slot)), _str(1, name), _u32(4, self.set_id(name))]
            if op == MatchOp.NE:
                items.append(_u32(5, 1))  # NFT_LOOKUP_F_INV
            self.out.append(_expr("lookup", *items))
            self.release(sel)
            return
        if op == MatchOp.NEG:
            raise _unsupported("the ! flag match")
        if isinstance(right, ListExpr) and sel.dtype not in _BITMASKS:
            raise _unsupported(f"a list of values for {sel.dtype}")
        if isinstance(left, BinopExpr) and left.op != BinopOp.AND:
            # nft folds ``x ^ c1 == c2`` into ``x == c1 ^ c2`` (binop transfer)
            raise _unsupported(f"a match on x {left.op} c")
        slot = self.get(sel)
        reg = _reg(slot)
        if isinstance(right, PrefixExpr):
            self.prefix(left, sel, op, right, slot)
        elif isinstance(right, RangeExpr):
            if sel.order == "host" and sel.bits > 8:
                raise _unsupported(f"a range of host-order {sel.dtype}")
            lo, hi = _value(right.low, sel), _value(right.high, sel)
            self.gen(left, slot)
            if op in (MatchOp.EQ, MatchOp.IN):
                if self.version >= (1, 1, 0):
                    # not verified against nft 1.1's linearizer: let libnftables do it
                    raise _unsupported("range matches with nft >= 1.1")
                self.out.append(_expr("cmp", _u32(1, reg), _u32(2, 5), _data(3, lo)))
                self.out.append(_expr("cmp", _u32(1, reg), _u32(2, 3), _data(3, hi)))
            elif op == MatchOp.NE:
                self.out.append(_expr("range", _u32(1, reg), _u32(2, 1), _data(3, lo),
                                      _data(4, hi)))
            else:
                raise _unsupported(f"{op} with a range")
        elif (op == MatchOp.IN and sel.dtype in _BITMASKS
              and not isinstance(left, BinopExpr)):
            # netlink_gen_flagcmp: (x & flags) != 0, no NFTA_BITWISE_OP
            val = _value(right, sel)
            zero = bytes(len(val))
            self.gen(left, slot)
            self.out.append(_expr("bitwise", _u32(1, reg), _u32(2, reg), _u32(3, len(val)),
                                  _data(4, val), _data(5, zero)))
            self.out.append(_expr("cmp", _u32(1, reg), _u32(2, 1), _data(3, zero)))
        else:
            if op not in (MatchOp.EQ, MatchOp.IN, MatchOp.NE) and sel.order == "host" and (
                    sel.bits > 8):
                # nft converts host-order values with a byteorder expression first
                raise _unsupported(f"{op} on a host-order {sel.dtype}")
            val = _value(right, sel)
            self.gen(left, slot)
            self.out.append(_expr("cmp", _u32(1, reg), _u32(2, _CMP[op]), _data(3, val)))
        self.release(sel)

    def prefix(self, left: Any, sel: _Sel, op: MatchOp, right: PrefixExpr, slot: int) -> None:
        if op not in (MatchOp.EQ, MatchOp.IN, MatchOp.NE) or sel.dtype not in (
                "ipv4_addr", "ipv6_addr"):
            raise _unsupported(f"a prefix with {op} on {sel.dtype}")
        addr = _value(right.addr, sel)
        plen, reg = right.len, _reg(slot)
        if plen and plen % 8 == 0:
            # byte-aligned: load only the prefix bytes, compare them
            self.gen(left, slot, _Sel(left, plen, sel.order, sel.dtype))
            data = addr[:plen // 8]
        else:
            mask = ((1 << plen) - 1) << (sel.bits - plen)
            masked = int.from_bytes(addr, "big") & mask
            size = sel.bits // 8
            self.gen(left, slot)
            self.out.append(_expr("bitwise", _u32(1, reg), _u32(2, reg), _u32(3, size),
                                  _data(4, mask.to_bytes(size, "big")), _data(5, bytes(size))))
            data = masked.to_bytes(size, "big")
        self.out.append(_expr("cmp", _u32(1, reg), _u32(2, _CMP[op]), _data(3, data)))

    def load_value(self, value: Any, target: _Sel, slot: int) -> None:
        """A statement's value into ``slot``: a constant (immediate) or an expression."""
        if isinstance(value, (int, str, IPv4Address, IPv6Address)) and not isinstance(
                value, bool):
            self.out.append(_expr("immediate", _u32(1, _reg(slot)),
                                  _data(2, _value(value, target))))
        else:
            self.gen(value, slot)

    def mangle(self, st: MangleStmt) -> None:
        key = st.key
        if isinstance(key, (MetaExpr, CtExpr)) and key.key == "mark" and (
                not isinstance(key, CtExpr) or key.dir is None):
            target = _selector(key)
        else:
            raise _unsupported(f"setting {type(key).__name__}")
        val_sel = None if not isinstance(st.value, ConcatExpr) else _selector(st.value)
        slot = self.get(val_sel)
        self.load_value(st.value, target, slot)
        self.release(val_sel)
        if isinstance(key, MetaExpr):
            self.out.append(_expr("meta", _u32(2, _META[key.key][0]), _u32(3, _reg(slot))))
        else:
            self.out.append(_expr("ct", _u32(2, _CT["mark"][0]), _u32(4, _reg(slot))))

    def nat(self, st: NatStmt) -> None:
        flags = 0
        for f in st.flags:
            if f not in _NAT_FLAGS:
                raise _unsupported(f"the nat flag {f}")
            flags |= _NAT_FLAGS[f]
        if st.type_flags:
            raise _unsupported("nat type flags (interval, prefix, concat)")
        if st.type == NatType.MASQUERADE:
            if st.addr is not None or st.port is not None:
                raise _unsupported("masquerade to a port")
            self.out.append(_expr("masq", *([_u32(1, flags)] if flags else [])))
            return
        port_sel = _Sel(None, 16, "big", "inet_service")
        if st.type == NatType.REDIRECT:
            if st.addr is not None or st.port is None or isinstance(st.port, RangeExpr):
                raise _unsupported("this redirect")
            slot = self.get(None)
            self.load_value(st.port, port_sel, slot)
            self.release(None)
            items = [_u32(1, _reg(slot))]
            flags |= 2  # NF_NAT_RANGE_PROTO_SPECIFIED
            self.out.append(_expr("redir", *items, *([_u32(3, flags)] if flags else [])))
            return
        if self.family == "inet" or st.family not in (None, self.family) or st.addr is None:
            raise _unsupported(f"{st.type} in this form")
        fam = st.family or self.family
        addr_bits = 32 if fam == "ip" else 128
        addr_sel = _Sel(None, addr_bits, "big", "ipv4_addr" if fam == "ip" else "ipv6_addr")
        items = [_u32(1, 0 if st.type == NatType.SNAT else 1), _u32(2, _NFPROTO[fam])]
        registers = 1
        amin = self.get(None)
        pmin: int | None = None
        if isinstance(st.addr, MapExpr):
            if st.port is not None:
                raise _unsupported("a nat map with a port")
            concat = self._nat_map_data(st.addr)
            self.map(st.addr, amin)
            if concat:
                pmin = amin + _space(addr_bits)
        elif isinstance(st.addr, IPv4Address | IPv6Address):
            self.load_value(st.addr, addr_sel, amin)
        else:
            raise _unsupported(f"nat to {type(st.addr).__name__}")
        if st.port is not None:
            if isinstance(st.port, RangeExpr):
                raise _unsupported("nat port ranges")
            flags |= 2  # NF_NAT_RANGE_PROTO_SPECIFIED, as nft's evaluation sets it
            pmin = self.get(None)
            registers += 1
            self.load_value(st.port, port_sel, pmin)
        items.append(_u32(3, _reg(amin)))
        if pmin is not None:
            items.append(_u32(5, _reg(pmin)))
        if flags:
            items.append(_u32(7, flags))
        for _ in range(registers):
            self.release(None)
        self.out.append(_expr("nat", *items))

    def _nat_map_data(self, e: MapExpr) -> bool:
        """Whether the map's data is ``addr . port`` (STMT_NAT_F_CONCAT)."""
        s = self.lookup_set(self.named(e.data))
        if not isinstance(s, Map) or "interval" in s.flags or s.data_interval:
            raise _unsupported("nat maps that are not plain named maps")
        if s.data_type:
            if len(s.data_type) == 1:
                return False
            if tuple(s.data_type) in (("ipv4_addr", "inet_service"),
                                      ("ipv6_addr", "inet_service")):
                return True
        elif isinstance(s.data_typeof, ConcatExpr):
            if len(s.data_typeof.exprs) == 2:
                return True
        elif s.data_typeof is not None:
            return False
        raise _unsupported(f"the data type of map {s.name}")

    def lookup_set(self, name: str) -> Set:
        if self.table is None:
            raise _unsupported("named maps without the table (pass table=)")
        for s in self.table.sets:
            if s.name == name:
                return s
        raise _unsupported(f"a reference to the unknown set @{name}")

    def reject(self, st: RejectStmt) -> None:
        if st.type == RejectType.TCP_RESET:
            if self.l4 != "tcp":
                # nft puts this dependency at the head of the rule, not before the reject
                self.out[:0] = self._meta_eq(16, 6)
                self.l4 = "tcp"
            self.out.append(_expr("reject", _u32(1, 1), _attr(2, b"\0")))
            return
        # the type each family's plain ``reject`` means, and the one it allows explicitly
        kind = {"ip": RejectType.ICMP, "ip6": RejectType.ICMPV6, "inet": RejectType.ICMPX}[
            self.family]
        if st.type not in (None, kind):
            raise _unsupported(f"reject with {st.type} in the {self.family} family")
        codes = _REJECT_CODES[kind]
        code = st.code if st.code is not None else "port-unreachable"
        if isinstance(code, str) and code in codes:
            code = codes[code]
        if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code < 256:
            raise _unsupported(f"the reject code {st.code!r}")
        rtype = 2 if kind == RejectType.ICMPX else 0  # NFT_REJECT_ICMPX_UNREACH / ICMP_UNREACH
        self.out.append(_expr("reject", _u32(1, rtype), _attr(2, bytes([code]))))

    def dynset(self, st: MapStmt | SetStmt) -> None:
        if st.stmts:
            raise _unsupported("statements in a set element")
        elem = st.elem
        timeout = 0
        if isinstance(elem, ElemExpr):
            if elem.expires is not None or elem.comment is not None or elem.stmts:
                raise _unsupported("element options other than timeout")
            timeout = elem.timeout or 0
            elem = elem.val
        name = st.map if isinstance(st, MapStmt) else st.set
        key = _selector(elem)
        kslot = self.get(key)
        self.gen(elem, kslot)
        items = [_u32(4, _reg(kslot))]
        if isinstance(st, MapStmt):
            data = _selector(st.data)
            dslot = self.get(data)
            self.gen(st.data, dslot)
            self.release(key)
            self.release(data)
            items.append(_u32(5, _reg(dslot)))
        else:
            self.release(key)
        op = {"add": 0, "update": 1, "delete": 2}[str(st.op)]
        items += [_u32(3, op)]
        if timeout:
            items.append(_u64(6, timeout))
        items += [_str(1, name), _u32(2, self.set_id(name))]
        self.out.append(_expr("dynset", *items))

    def log(self, st: LogStmt) -> None:
        if st.flags or st.snaplen is not None or st.queue_threshold is not None:
            raise _unsupported("log flags, snaplen and queue-threshold")
        items = []
        if st.prefix is not None:
            if "$" in st.prefix:
                raise _unsupported("log prefixes with variables")
            items.append(_str(2, st.prefix))
        if st.group is not None:
            if st.level is not None:
                raise _unsupported("log group with level")
            items.append(_attr(1, struct.pack(">H", st.group)))
        elif st.level is not None:
            levels = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
                      "audit"]
            items.append(_u32(5, levels.index(str(st.level))))
        self.out.append(_expr("log", *items))

    def limit(self, st: LimitStmt) -> None:
        if st.unit != LimitUnit.PACKETS:
            raise _unsupported("byte-rate limits")
        per = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
        items = [_u64(1, st.rate), _u64(2, per[str(st.per)])]
        if st.burst:
            items.append(_u32(3, st.burst))
        items += [_u32(4, 0), _u32(5, 1 if st.inv else 0)]
        self.out.append(_expr("limit", *items))


def _merge_candidate(st: MatchStmt) -> bool:
    """A payload match nft's stmt_reduce may merge or move: a comparison with a single
    value (``!=`` only before nft 1.0.10; flag tests are counted too, to be safe)."""
    return isinstance(st.left, PayloadExpr) and isinstance(
        st.right, int | str | IPv4Address | IPv6Address | ListExpr) and st.op in (
        MatchOp.EQ, MatchOp.IN, MatchOp.NE)


def _refuse_payload_merge(rule: Rule) -> None:
    """nft sorts a rule's payload matches by header offset and merges adjacent ones into
    one wider load (``ip ttl 64 ip protocol udp`` -> one 2-byte cmp). Which statements
    fence a merge changed between releases (nft 1.0.6 merges ``tcp dport 22 counter tcp
    sport 1024``; later releases stop at the counter), so any rule where that could apply
    (two candidates on one header, or candidates out of header order) is refused."""
    run: list[tuple[int, int]] = []
    for st in rule.stmts:
        if isinstance(st, MatchStmt) and isinstance(st.left, PayloadExpr) and (
                _merge_candidate(st)):
            spec = _PAYLOAD.get((st.left.protocol or "", st.left.field or ""))
            run.append((spec[0], spec[1]) if spec else (-1, -1))
    bases = [b for b, _ in run]
    if run != sorted(run) or len(set(bases)) != len(bases):
        raise _unsupported("several payload matches on one header (nft merges them)")


def _dep_exprs(st: Any) -> Sequence[Any]:
    """The expressions of a statement whose protocol dependencies nft inserts before it."""
    if isinstance(st, MatchStmt):
        return (st.left,)
    if isinstance(st, MangleStmt):
        return (st.value,)
    if isinstance(st, NatStmt):
        return (st.addr,) if isinstance(st.addr, MapExpr) else ()
    if isinstance(st, MapStmt):
        return (st.elem, st.data)
    if isinstance(st, SetStmt):
        return (st.elem,)
    if isinstance(st, VerdictMapStmt):
        return (st.key,)
    return ()


def rule_expressions(rule: Rule, *, family: str, table: Table | None = None,
                     set_ids: Mapping[str, int] | None = None,
                     version: str | tuple[int, ...] | None = None) -> bytes:
    """The payload of ``NFTA_RULE_EXPRESSIONS`` for ``rule`` in a ``family`` table.

    ``table`` gives the named sets and maps the rule refers to (needed for the data type of
    a nat map). ``set_ids`` maps set names to the ``NFTA_SET_ID`` they have in the same
    batch (nft sends the id with every set reference; the kernel resolves the name first,
    so 0 for a set that already exists is fine). ``version``: the nft release to reproduce
    (default: the installed one). Raises ``UnsupportedError`` for shapes not covered (see
    the module docstring).
    """
    ver = parse_version(version) if version is not None else (
        installed_nft_version() or (1, 0, 6))
    _refuse_payload_merge(rule)
    lin = _Linearizer(family, table, set_ids or {}, ver)
    for st in rule.stmts:
        lin.stmt(st)
    return b"".join(lin.out)


def rule_userdata(rule: Rule) -> bytes | None:
    """``NFTA_RULE_USERDATA``: the comment as libnftnl's TLV (type 0 = comment, with its
    NUL), or None without a comment. ``comment "ssh"`` -> ``00 04 73 73 68 00``."""
    if rule.comment is None:
        return None
    raw = rule.comment.encode() + b"\0"
    if len(raw) > 255:
        raise _unsupported("comments longer than 254 bytes")
    return bytes([0, len(raw)]) + raw
