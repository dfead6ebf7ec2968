"""A rule's expressions and matches, encoded as nft's linearizer builds them.

The expression half of the netlink rule encoder (``_rules`` has the statements and the
entry points): libnftnl's attribute builders, the selectors a left-hand side loads (their
length, byte order and datatype), the constants they are compared with, nft's register
allocation, and the relational matches. Anything outside the shapes below raises
``UnsupportedError``: the caller then goes through libnftables.

Shapes (nft text; ``S`` is a selector listed below) -> expressions::

    S == v, S != v, S < v, S > v, S <= v, S >= v     load, cmp
    S 1000-2000 / S != 1000-2000                    two cmps (nft < 1.1) / range
    ip saddr 10.0.0.0/8, ip saddr != 10.128.0.0/10  short load + cmp / bitwise + cmp
    ct state established,related, ct status dnat    bitwise + cmp neq 0 (flag match)
    meta mark & 0x4000 == 0, ct status & dnat != 0  bitwise (mask/xor) + cmp
    S @set, S != @set, a . b . c @set               lookup (concatenations in 32-bit regs)
    S vmap @map, k map @m                           lookup into the verdict / a data register
    S { 80, 443 }, S != { 1-1023, 8080 }, a . b { } lookup of an anonymous set (``_anon``)
    S vmap { 0 : goto a, 1 : goto b }               lookup of an anonymous verdict map
    dnat to S map { k : v }, meta mark set S map {} lookup of an anonymous data map
    S { v }, S != { 10.0.0.0/8 }                    as ``S v`` (nft compares with the element)
    meta mark | 0x4000, numgen random mod 2         bitwise, numgen (statement values)

Selectors: payload fields of ip/ip6/tcp/udp/th (byte-aligned ones, and ``tcp flags``), meta
mark/iifname/oifname/l4proto/nfproto/length/skuid/skgid/cpu, ct state/status/mark/zone/
direction/[original|reply] ip[6] saddr/daddr, numgen, fib ... type/oifname, concatenations.

Operators follow the model's JSON (what ``Nftables.run`` would send): ``in`` on a flag type
is nft's implicit flag test, ``==``/``!=`` a plain cmp (``ct state == a,b`` compares with
``a|b``).

Anonymous sets need a collector (``ExprLinearizer.anon``, ``_anon.AnonSets``) that the batch
declares before the rule; without one, or for nft >= 1.1 (not verified there), they are
refused. Refused here: some anonymous interval sets and maps (see ``_anon``),
``<``/``>``/ranges on host-order keys (nft adds a byteorder expression), ``x ^ c == v``
(nft folds it), ``==`` ranges for nft >= 1.1 (not verified there), shifts, interface
indexes, wildcard interface names.
"""

from __future__ import annotations

import functools
import socket
import struct
import sys
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import attrs

from ...errors import UnsupportedError
from ...model.expressions import (
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
)
from ...model.statements import MatchOp, MatchStmt
from ...nft import selectors
from ...nft.datatypes import BITMASKS
from ...nft.releases import profile
from ...nft.symbols import ACCEPTED, FIB_FLAGS
from ._anon import AnonSets
from ._tlv import _attr, _nest

__all__ = ["ExprLinearizer"]

_HOST = sys.byteorder
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


# What each selector loads: its netlink encoding (nftkit.nft.selectors) and its datatype.
# (protocol, field) -> (base, offset in bits, length in bits, datatype)
_PAYLOAD: dict[tuple[str, str], tuple[int, int, int, str]] = {
    k: (*v, selectors.payload_datatype(*k)) for k, v in selectors.PAYLOAD_NETLINK.items()}
# meta key -> (NFT_META_*, bits, byte order, datatype)
# (not ``meta protocol``: nft drops it where the table's family implies it; ``iif``/``oif``:
# not verified against nft's bytes)
_META: dict[str, tuple[int, int, str, str]] = {
    k: (*v, selectors.META[k]) for k, v in selectors.META_NETLINK.items()
    if k not in ("protocol", "iif", "oif")}
# ct key -> (NFT_CT_*, bits, byte order, datatype)
_CT: dict[str, tuple[int, int, str, str]] = {
    k: (*v, selectors.CT[k]) for k, v in selectors.CT_NETLINK.items()}
_SYMBOLS = ACCEPTED
_BITMASKS = BITMASKS
_FIB_FLAGS = FIB_FLAGS
_FIB_RESULT = {k: (*v, selectors.FIB[k]) for k, v in selectors.FIB_NETLINK.items()}


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


def _keyed(e: Any, table: Mapping[str, tuple[int, int, str, str]], key: str, what: str
           ) -> _Sel:
    """The selector ``table[key]`` describes (its NFT_* number, bits, byte order, datatype)."""
    spec = table.get(key)
    if spec is None:
        raise _unsupported(what)
    return _Sel(e, spec[1], spec[2], spec[3])


def _selector_of(e: Any) -> _Sel:
    if isinstance(e, PayloadExpr):
        spec = _PAYLOAD.get((e.protocol or "", e.field or ""))
        if spec is None or e.tunnel is not None:
            raise _unsupported(f"payload {e.protocol} {e.field}")
        return _Sel(e, spec[2], "big", spec[3])
    if isinstance(e, MetaExpr):
        return _keyed(e, _META, e.key, f"meta {e.key}")
    if isinstance(e, CtExpr):
        key = f"{e.family} {e.key}" if e.family else e.key
        if e.dir is not None and key in ("state", "status", "direction"):
            raise _unsupported(f"ct {key}")
        return _keyed(e, _CT, key, f"ct {key}")
    if isinstance(e, NumgenExpr):
        return _Sel(e, 32, "host", "integer")
    if isinstance(e, FibExpr):
        return _keyed(e, _FIB_RESULT, e.result, f"fib ... {e.result}")
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
        found = _by_name(sel.dtype, value)
        if found is not None:
            return found
    raise _unsupported(f"the value {value!r} for {sel.dtype}")


@functools.lru_cache(maxsize=1024)
def _by_name(dtype: str, value: str) -> int | None:
    """A protocol or service named in /etc/protocols or /etc/services (looked up once: a
    lookup reads the file, ~50 us, and every ``meta l4proto tcp`` of a batch needs it)."""
    try:
        if dtype == "inet_proto":
            return socket.getprotobyname(value)
        if dtype == "inet_service":
            return socket.getservbyname(value)
    except OSError:
        pass
    return None


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
    if sel.dtype in ("concat", "iface_index"):
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


class ExprLinearizer:
    """Registers and expressions of one rule (netlink_gen_expr and friends); the
    statements are ``_rules._Linearizer``, a subclass."""

    def __init__(self, set_ids: Mapping[str, int], version: tuple[int, int, int]) -> None:
        self.set_ids = set_ids
        self.version = version
        self.nft_release = profile(version)
        self.out: list[bytes] = []
        self.low = 0  # first free 32-bit register slot
        #: where inline sets are declared (None: they are refused)
        self.anon: AnonSets | None = None

    # registers, as nft's get_register/release_register
    def get(self, sel: _Sel | None) -> int:
        n = _space(sel.bits) if sel is not None and sel.dtype == "concat" else 4
        slot = self.low
        self.low += n
        return slot

    def release(self, sel: _Sel | None) -> None:
        self.low -= _space(sel.bits) if sel is not None and sel.dtype == "concat" else 4

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

    def anonymous_sets(self) -> AnonSets:
        if self.anon is None or not self.nft_release.netlink_anonymous_sets:
            raise _unsupported("anonymous sets and maps")
        return self.anon

    def set_ref(self, ref: Any, key: Any, sel: _Sel, *, vmap: bool,
                data: _Sel | None = None) -> tuple[str, int]:
        """The name and id a lookup of ``key`` in ``ref`` sends: a named set's, or those
        of the anonymous set (``vmap``: verdict map; ``data``: a map into a value of that
        selector's type) declared for ``{ ... }``."""
        if not isinstance(ref, SetExpr):
            name = self.named(ref)
            return name, self.set_id(name)
        anon = self.anonymous_sets()
        if not ref.elements:
            raise _unsupported("empty anonymous sets")
        widths = [p.bits for p in sel.parts] if sel.dtype == "concat" else [sel.bits]
        if data is not None:
            s = anon.declare_map(key, sel.dtype, sel.order, widths, ref.elements,
                                 (data.dtype, data.order, data.bits))
        elif vmap:
            s = anon.declare_vmap(key, sel.dtype, sel.order, widths, ref.elements)
        else:
            s = anon.declare_set(key, widths, ref.elements)
        return s.name, s.id

    def map(self, e: MapExpr, dreg_slot: int | None, data: _Sel | None = None) -> None:
        """``key map @m`` into ``dreg_slot`` (None: the verdict register, ``vmap``);
        ``data``: what the value is loaded as (needed for ``key map { k : v }``)."""
        key = _selector(e.key)
        if isinstance(e.data, SetExpr) and dreg_slot is not None:
            if data is None or data.dtype == "concat":
                raise _unsupported("anonymous data maps here")
            name, set_id = self.set_ref(e.data, e.key, key, vmap=False, data=data)
        else:
            name, set_id = self.set_ref(e.data, e.key, key, vmap=True)
        slot = self.get(key) if dreg_slot is None else dreg_slot
        extra = _space(key.bits) if key.dtype == "concat" else 0
        self.low += extra  # nft reserves the key's registers while it loads it
        self.gen(e.key, slot)
        self.low -= extra
        self.out.append(_expr("lookup", _u32(2, _reg(slot)),
                              _u32(3, 0 if dreg_slot is None else _reg(dreg_slot)),
                              _str(1, name), _u32(4, set_id)))
        if dreg_slot is None:
            self.release(key)

    # relational expressions (matches)
    def match(self, st: MatchStmt) -> None:
        left, op, right = st.left, st.op, st.right
        sel = _selector(left)
        if isinstance(right, SetExpr) and len(right.elements) == 1 and op in (
                MatchOp.EQ, MatchOp.IN, MatchOp.NE):
            # nft compares with the one element of ``x { v }`` (and ``x != { v }``)
            self.anonymous_sets()
            only = right.elements[0]
            if isinstance(only, tuple | ElemExpr | SetExpr | ConcatExpr) or (
                    sel.dtype in _BITMASKS):
                raise _unsupported("this one-element set")
            right = only
        if isinstance(right, (SetRefExpr, SetExpr)):
            if op not in (MatchOp.EQ, MatchOp.IN, MatchOp.NE):
                raise _unsupported(f"{op} with a set")
            name, set_id = self.set_ref(right, left, sel, vmap=False)
            slot = self.get(sel)
            self.gen(left, slot)
            items = [_u32(2, _reg(slot)), _str(1, name), _u32(4, set_id)]
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
                if not self.nft_release.netlink_range_cmps:
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


#: values and selectors that name no set
_PLAIN = (int, str, IPv4Address, IPv6Address, PayloadExpr, MetaExpr, CtExpr, NumgenExpr,
          FibExpr, VerdictExpr)


def _plain(x: object) -> bool:
    """Whether expression ``x`` surely names no set (False: maybe, walk it)."""
    if x is None or isinstance(x, _PLAIN):
        return True
    if isinstance(x, PrefixExpr):
        return _plain(x.addr)
    if isinstance(x, RangeExpr):
        return _plain(x.low) and _plain(x.high)
    if isinstance(x, BinopExpr):
        return _plain(x.left) and _plain(x.right)
    if isinstance(x, ConcatExpr | SetExpr | ListExpr | tuple):
        items = (x.exprs if isinstance(x, ConcatExpr) else x.elements if isinstance(
            x, SetExpr) else x.values if isinstance(x, ListExpr) else x)
        return all(_plain(i) for i in items)
    return False
