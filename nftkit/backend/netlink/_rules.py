"""A rule's netlink expressions, built from the model the way nft's linearizer builds them.

``rule_expressions(rule, family=...)`` returns the payload of ``NFTA_RULE_EXPRESSIONS`` for a
``NFT_MSG_NEWRULE`` message: the same expressions, registers, attribute order and implicit
dependencies that ``nft`` (src/evaluate.c + src/netlink_linearize.c, attributes written by
libnftnl) sends for the same rule text. ``rule_userdata(rule)`` returns
``NFTA_RULE_USERDATA`` (the comment). Anything outside the shapes below raises
``UnsupportedError``: the caller then goes through libnftables.

This module has the statements, the implicit dependencies and the entry points; the matches
and the expressions they load (selectors, values, registers, lookups) are in ``_exprs``.

Shapes (nft text; ``S`` is a selector of ``_exprs``)::

    S == v, S @set, S vmap @map, ...                see _exprs (load, cmp, bitwise, lookup)
    accept, drop, return, continue, jump c, goto c  immediate
    counter, log prefix "x" [group 1] [level info], limit rate 10/second [burst 5 packets]
    quota [over] 25 mbytes [used 1 kbytes]
    meta mark set 0x10 | numgen random mod 2 | meta mark | 0x4000 | k map @m
    ct mark set ... (same values)
    update/add @s { k [timeout 3h] }, update/add @m { k [timeout 3h] : v }   dynset
    masquerade [random, fully-random, persistent]
    snat/dnat ip to 10.0.0.1[:80], dnat ip to k map @m (data addr or addr . port)
    redirect to :8080, reject [with tcp reset]

Implicit dependencies: ``meta nfproto ipv4|ipv6`` before ip/ip6 fields in inet tables,
``meta l4proto tcp|udp`` before tcp/udp fields, unless the rule already matched them; the
one of ``reject with tcp reset`` goes to the head of the rule, as nft puts it.
Families: ip, ip6, inet.

Anonymous sets and verdict maps (``{ 22, 80 }``, ``vmap { 0 : goto a }``) need NEWSET and
NEWSETELEM messages of their own before the rule: pass ``anon`` (``_anon.AnonSets``) to
collect them; without it they are refused.

Refused (UnsupportedError), because nft rewrites them in ways that differ between releases
or need other messages: some anonymous interval sets and maps (``_anon``), two payload
matches on one header or out of header order (nft's
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

import struct
from collections.abc import Mapping, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from ...model.expressions import (
    BinopExpr,
    ConcatExpr,
    CtExpr,
    ElemExpr,
    ListExpr,
    MapExpr,
    MetaExpr,
    PayloadExpr,
    RangeExpr,
    SetExpr,
    VerdictExpr,
    VerdictKind,
)
from ...model.ruleset import Rule, Table
from ...model.sets import Map, Set
from ...model.statements import (
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
from ...nft import selectors
from ...nft.families import INET_FAMILIES, NFPROTO
from ...nft.releases import parse_version
from ...nft.symbols import LOG_LEVELS, NAT_FLAGS, PROTO_KEYWORDS, SYMBOLS
from ...nft.units import TIME_UNITS
from ...render.context import installed_nft_version
from ._anon import AnonSets
from ._exprs import (
    _CT,
    _META,
    _PAYLOAD,
    ExprLinearizer,
    _data,
    _expr,
    _int_value,
    _plain,
    _reg,
    _Sel,
    _selector,
    _space,
    _str,
    _u32,
    _u64,
    _unsupported,
)
from ._tlv import _attr, _nest

__all__ = ["names_no_set", "rule_expressions", "rule_userdata"]

_NFPROTO = {f: NFPROTO[f] for f in INET_FAMILIES}
_VERDICTS = {VerdictKind.DROP: 0, VerdictKind.ACCEPT: 1, VerdictKind.CONTINUE: -1,
             VerdictKind.JUMP: -3, VerdictKind.GOTO: -4, VerdictKind.RETURN: -5}

_REJECT_CODES: dict[str, dict[str, int]] = {
    kind: SYMBOLS[f"{kind}_code"] for kind in ("icmp", "icmpv6", "icmpx")}
_NAT_FLAGS = NAT_FLAGS
#: protocol numbers (``meta l4proto``, ``ip protocol``) and families (``meta nfproto``) whose
#: match satisfies a later dependency
_DEP_NAMES: dict[int, str] = {
    **{n: p for p, n in PROTO_KEYWORDS.items()}, **{NFPROTO[f]: f for f in ("ip", "ip6")}}


class _Linearizer(ExprLinearizer):
    """The statements of one rule and their implicit dependencies."""

    def __init__(self, family: str, table: Table | None, set_ids: Mapping[str, int],
                 version: tuple[int, int, int]) -> None:
        if family not in _NFPROTO:
            raise _unsupported(f"the {family} family")
        super().__init__(set_ids, version)
        self.family = family
        self.table = table
        self.l3: str | None = None if family == "inet" else family
        self.l4: str | None = None

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
            elif proto in PROTO_KEYWORDS:
                l3 = selectors.TRANSPORT_L3.get(proto)
                if l3 is not None:  # icmp is ip's, icmpv6 ip6's: in inet, nfproto first
                    if self.l3 is None:
                        before += self._meta_eq(15, NFPROTO[l3])
                        self.l3 = l3
                    elif self.l3 != l3:
                        raise _unsupported(f"{proto} fields in a {self.l3} context")
                if self.l4 is None:
                    before += self._meta_eq(16, PROTO_KEYWORDS[proto])
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
        if (isinstance(left, MetaExpr) and left.key in ("l4proto", "nfproto")) or (
                isinstance(left, PayloadExpr) and left.field in ("protocol", "nexthdr")):
            sel = _selector(left)
            name = _DEP_NAMES.get(_int_value(st.right, sel))
            if sel.dtype == "nf_proto":
                self.l3 = name if name in ("ip", "ip6") else self.l3
            elif name in PROTO_KEYWORDS:
                self.l4 = name

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

    def mangle(self, st: MangleStmt) -> None:
        key = st.key
        if isinstance(key, (MetaExpr, CtExpr)) and key.key == "mark" and (
                not isinstance(key, CtExpr) or key.dir is None):
            target = _selector(key)
        else:
            raise _unsupported(f"setting {type(key).__name__}")
        val_sel = None if not isinstance(st.value, ConcatExpr) else _selector(st.value)
        slot = self.get(val_sel)
        if isinstance(st.value, MapExpr):
            self.map(st.value, slot, target)
        else:
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
            self.map(st.addr, amin, addr_sel)
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
        if isinstance(e.data, SetExpr):
            if any(isinstance(el, tuple) and isinstance(el[1], ConcatExpr)
                   for el in e.data.elements):
                raise _unsupported("anonymous nat maps to an address and a port")
            return False
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
            items.append(_u32(5, LOG_LEVELS.index(str(st.level))))
        self.out.append(_expr("log", *items))

    def limit(self, st: LimitStmt) -> None:
        if st.unit != LimitUnit.PACKETS:
            raise _unsupported("byte-rate limits")
        items = [_u64(1, st.rate), _u64(2, TIME_UNITS[str(st.per)])]
        if st.burst:
            items.append(_u32(3, st.burst))
        items += [_u32(4, 0), _u32(5, 1 if st.inv else 0)]
        self.out.append(_expr("limit", *items))


def _merge_candidate(st: MatchStmt) -> bool:
    """A payload match nft's stmt_reduce may merge or move: a comparison with a single
    value (``!=`` only before nft 1.0.10; flag tests are counted too, to be safe)."""
    right = st.right
    if isinstance(right, SetExpr) and len(right.elements) == 1:
        right = right.elements[0]  # nft compares with the one element
    return isinstance(st.left, PayloadExpr) and isinstance(
        right, int | str | IPv4Address | IPv6Address | ListExpr) and st.op in (
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
                     version: str | tuple[int, ...] | None = None,
                     anon: AnonSets | None = None) -> bytes:
    """The payload of ``NFTA_RULE_EXPRESSIONS`` for ``rule`` in a ``family`` table.

    ``table`` gives the named sets and maps the rule refers to (needed for the data type of
    a nat map). ``set_ids`` maps set names to the ``NFTA_SET_ID`` they have in the same
    batch (nft sends the id with every set reference; the kernel resolves the name first,
    so 0 for a set that already exists is fine). ``version``: the nft release to reproduce
    (default: the installed one). ``anon``: where the rule declares its anonymous sets
    and maps (``{ 22, 80 }``, inline vmaps: ``_anon``), which the batch must send before
    the rule; without it they are refused. Raises ``UnsupportedError`` for shapes not
    covered (see the module docstring).
    """
    ver = parse_version(version) if version is not None else (
        installed_nft_version() or (1, 0, 6))
    _refuse_payload_merge(rule)
    lin = _Linearizer(family, table, set_ids or {}, ver)
    lin.anon = anon
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


#: statements that name no set, whatever their fields
_PLAIN_STMTS = (VerdictExpr, CounterStmt, LogStmt, LimitStmt, QuotaStmt, RejectStmt)


def names_no_set(rule: Rule) -> bool:
    """A quick, conservative ``not any(check.set_refs(rule))`` for the common statements
    (the netlink path then skips the walk of the whole rule)."""
    for st in rule.stmts:
        if isinstance(st, _PLAIN_STMTS):
            continue
        if isinstance(st, MatchStmt):
            ok = _plain(st.left) and _plain(st.right)
        elif isinstance(st, VerdictMapStmt):
            ok = _plain(st.key) and _plain(st.data)
        elif isinstance(st, NatStmt):
            ok = _plain(st.addr) and _plain(st.port)
        elif isinstance(st, MangleStmt):
            ok = _plain(st.key) and _plain(st.value)
        else:
            ok = False
        if not ok:
            return False
    return True
