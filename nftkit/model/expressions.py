"""Expressions: the values and packet/metadata selectors that rules match on and statements use.

An expression is either a node (``PayloadExpr``, ``MetaExpr``, ``SetExpr``, ...) or an immediate
value: ``int`` (ports, marks, lengths, times in seconds), ``str`` (symbolic constants such as
``"established"`` and strings such as interface names; the datatype of the other side decides
how nft prints it), ``bool`` (``exists``/``missing``) or an ``ipaddress`` address.

Class names follow upstream nft (``payload_expr``, ``exthdr_expr``, ``tcpopt_expr``, ...); the
JSON spelling of each is its ``json_key``. Selector keys are checked against the keys nft knows
(up to 1.1), so a typo fails when the node is built, not when nft reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Any, ClassVar, Final

import attrs

from .._node import EXPR, EXPRS, Node, invalid, to_flags
from ..nft import selectors
from ..nft.families import ADDRESS_FAMILIES
from . import _validate
from .enums import NftEnum

__all__ = [
    "VALUE",
    "BinopExpr",
    "BinopOp",
    "ConcatExpr",
    "CtExpr",
    "DccpoptExpr",
    "ElemExpr",
    "Expr",
    "Expression",
    "ExthdrExpr",
    "FibExpr",
    "FibFlag",
    "IpoptExpr",
    "IpsecExpr",
    "JhashExpr",
    "ListExpr",
    "MapExpr",
    "MetaExpr",
    "NumgenExpr",
    "OsfExpr",
    "PayloadExpr",
    "PrefixExpr",
    "RangeExpr",
    "RtExpr",
    "SctpChunkExpr",
    "SetExpr",
    "SetRefExpr",
    "SocketExpr",
    "SymhashExpr",
    "TcpoptExpr",
    "Value",
    "VerdictExpr",
    "VerdictKind",
    "XfrmExpr",
]


#: A leading ``@``, a NUL, a lone surrogate (``os.fsdecode``'s escape of a byte that is not
#: UTF-8, which no path can encode).
_ODD_LITERAL = re.compile(r"\A@|[\x00\ud800-\udfff]")


def odd_literal(value: str) -> bool:
    """Whether ``check_literal`` refuses ``value``."""
    return _ODD_LITERAL.search(value) is not None


def check_literal(node: object, field: str, value: str) -> None:
    """Refuse a string value that would mean something else on another path: one starting with
    ``@`` (libnftables' JSON reads ``"@x"`` as a reference to set ``x``; text and netlink carry
    the literal), holding a NUL (the kernel would keep the part before it) or a lone
    surrogate (not UTF-8)."""
    if _ODD_LITERAL.search(value) is not None:
        raise invalid(node, field, f"{value!r}: a string value cannot start with '@' (nft's JSON "
                      "reads a set reference), hold a NUL byte or a lone surrogate (not "
                      "UTF-8); use SetRefExpr for a set")


class Expression(Node):
    """Base class of expression nodes. ``registry`` maps JSON keys to classes."""

    __slots__ = ()
    registry: ClassVar[dict[str, type[Expression]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("json_key"):
            Expression.registry[cls.json_key] = cls


#: Field metadata of an expression that carries a value of the surrounding datatype (a
#: prefix's address, an element's value): the JSON reader passes its datatype hint on.
VALUE: Final = {**EXPR, "value": True}

#: An immediate value.
Value = int | str | bool | IPv4Address | IPv6Address
#: Anything that can stand where nft expects an expression.
Expr = Expression | Value


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """An attrs converter: any iterable (a list, a generator) -> tuple."""
    return tuple(value)


#: A set or map name: the rule of every other name (nft prints it bare, after ``@``).
_name = _validate.name


_one_of = _validate.one_of


def _non_negative(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """An optional non-negative integer (None: not given)."""
    if value is None:
        return
    _count(inst, attribute, value)


def _count(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """A required non-negative integer."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise invalid(inst, attribute.name, f"must be a non-negative integer, got {value!r}")


_FAMILIES = ADDRESS_FAMILIES

# --- packet payload -----------------------------------------------------------------------

#: Raw payload bases: link layer, network header, transport header, inner header (nft >= 1.1).
PAYLOAD_BASES = selectors.PAYLOAD_BASES

#: Header fields nft knows, by protocol (nft's proto.c). Tunnel headers (nft >= 1.1) are not
#: checked field by field.
PAYLOAD_FIELDS: dict[str, frozenset[str]] = {
    proto: frozenset(fields) for proto, fields in selectors.PAYLOAD.items()
}
#: Tunnel protocols whose headers nft >= 1.1 matches (and whose inner headers it reaches).
TUNNELS = selectors.TUNNELS


@attrs.frozen(kw_only=True)
class PayloadExpr(Expression):
    """A header field, by protocol and field name, or raw (base, offset and length in bits).

    Text: ``tcp dport``, ``ip saddr``, ``@nh,16,16``, ``vxlan ip saddr`` (inner header).
    JSON: ``{"payload": {"protocol": "tcp", "field": "dport"}}``,
    ``{"payload": {"base": "nh", "offset": 16, "len": 16}}``,
    ``{"payload": {"tunnel": "vxlan", "protocol": "ip", "field": "saddr"}}`` (nft >= 1.1).
    """

    json_key = "payload"
    protocol: str | None = None
    field: str | None = None
    base: str | None = attrs.field(default=None, validator=_one_of(PAYLOAD_BASES, optional=True))
    offset: int | None = attrs.field(default=None, validator=_non_negative)
    len: int | None = attrs.field(default=None, validator=_non_negative)
    #: The tunnel whose inner header this is (``vxlan``, ``geneve``, ``gre``, ``gretap``).
    tunnel: str | None = None

    def __attrs_post_init__(self) -> None:
        named = self.protocol is not None and self.field is not None
        raw = self.base is not None and self.offset is not None and self.len is not None
        if named == raw or (raw and (self.protocol or self.field)):
            raise invalid(self, None, "give protocol and field, or base, offset and len")
        if named:
            fields = PAYLOAD_FIELDS.get(self.protocol or "")
            if fields is None and self.protocol not in TUNNELS:
                raise invalid(self, "protocol", f"unknown protocol {self.protocol!r}")
            if fields is not None and self.field not in fields:
                raise invalid(self, "field", f"{self.protocol} has no field {self.field!r} "
                              f"(one of: {', '.join(sorted(fields))})")
        if self.tunnel is not None and self.tunnel not in TUNNELS:
            raise invalid(self, "tunnel", f"unknown tunnel {self.tunnel!r}")

    @property
    def is_raw(self) -> bool:
        return self.base is not None


#: IPv6 extension headers nft knows (``exthdr`` names).
EXTHDR_NAMES = selectors.EXTHDR_NAMES
EXTHDR_FIELDS = selectors.EXTHDR_FIELDS


@attrs.frozen(kw_only=True)
class ExthdrExpr(Expression):
    """An IPv6 extension header field, or (no field) whether the header is present.

    Text: ``frag more-fragments``, ``rt0 addr[1]``, ``exthdr hbh exists`` (matched against
    ``True``/``False``). JSON: ``{"exthdr": {"name": "frag", "field": "more-fragments"}}``,
    ``{"exthdr": {"name": "rt0", "field": "addr", "offset": 1}}``, ``{"exthdr": {"name": "hbh"}}``.
    """

    json_key = "exthdr"
    name: str = attrs.field(validator=_one_of(EXTHDR_NAMES))
    field: str | None = attrs.field(default=None, validator=_validate.selector_field(
        EXTHDR_FIELDS))
    offset: int | None = attrs.field(default=None, validator=_non_negative)


#: TCP options nft knows by name (others are given by kind number, ``"123"``).
TCP_OPTIONS = selectors.TCP_OPTIONS
TCP_OPTION_FIELDS = selectors.TCP_OPTION_FIELDS


@attrs.frozen(kw_only=True)
class TcpoptExpr(Expression):
    """A TCP option field, or (no field) whether the option is present; or a raw option.

    Text: ``tcp option maxseg size``, ``tcp option sack-perm exists``, ``tcp option @8,16,32``
    (raw: kind, offset and length in bits). JSON: ``{"tcp option": {"name": "maxseg", "field":
    "size"}}``, ``{"tcp option": {"base": 8, "offset": 16, "len": 32}}``. Unknown option kinds are
    given by number as ``name`` (``"123"``, nft >= 1.0.4). The text parser also reads nft's
    aliases ``mss`` and ``sack-permitted`` (``selectors.TCP_OPTION_ALIASES``).
    """

    json_key = "tcp option"
    name: str | None = None
    field: str | None = attrs.field(default=None, validator=_validate.selector_field(
        TCP_OPTION_FIELDS))
    base: int | None = attrs.field(default=None, validator=_non_negative)
    offset: int | None = attrs.field(default=None, validator=_non_negative)
    len: int | None = attrs.field(default=None, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        raw = self.base is not None
        if raw == (self.name is not None) or (raw and (self.offset is None or self.len is None)):
            raise invalid(self, "name", "give an option name, or base (kind), offset and len")
        if self.name is not None and not (self.name in TCP_OPTIONS or (
                isinstance(self.name, str) and self.name.isascii() and self.name.isdigit()
                and len(self.name) <= 3)):
            raise invalid(self, "name", f"unknown TCP option {self.name!r} (one of: "
                          f"{', '.join(sorted(TCP_OPTIONS))}, or a kind number)")


@attrs.frozen(kw_only=True)
class IpoptExpr(Expression):
    """An IPv4 option field, or (no field) whether it is present.

    Text: ``ip option rr ptr``, ``ip option lsrr exists``.
    JSON: ``{"ip option": {"name": "rr", "field": "ptr"}}``.
    """

    json_key = "ip option"
    name: str = attrs.field(validator=_one_of(selectors.IP_OPTIONS))
    field: str | None = attrs.field(default=None, validator=_validate.selector_field(
        selectors.IP_OPTION_FIELDS))


#: SCTP chunk types nft knows (nft >= 1.0.1).
SCTP_CHUNKS = selectors.SCTP_CHUNKS
SCTP_CHUNK_FIELDS = selectors.SCTP_CHUNK_FIELDS


@attrs.frozen(kw_only=True)
class SctpChunkExpr(Expression):
    """An SCTP chunk field, or (no field) whether the chunk is present.

    Text: ``sctp chunk init-ack num-outbound-streams``, ``sctp chunk data exists``.
    JSON: ``{"sctp chunk": {"name": "data", "field": "tsn"}}``.
    """

    json_key = "sctp chunk"
    name: str = attrs.field(validator=_one_of(SCTP_CHUNKS))
    field: str | None = attrs.field(default=None, validator=_validate.selector_field(
        SCTP_CHUNK_FIELDS))


@attrs.frozen(kw_only=True)
class DccpoptExpr(Expression):
    """Whether a DCCP option (by type number) is present. Text: ``dccp option 40``.
    JSON: ``{"dccp option": {"type": 40}}`` (nft >= 1.0.1)."""

    json_key = "dccp option"
    type: int = attrs.field(validator=_count)


# --- metadata -----------------------------------------------------------------------------

#: Meta keys nft knows (up to 1.1). ``ibrname``/``obrname`` are ``ibriport``/``obriport``.
META_KEYS = frozenset(selectors.META)


#: Other spellings nft accepts for meta keys, and the one it lists.
META_ALIASES = selectors.META_ALIASES


def _meta_key(key: str) -> str:
    return META_ALIASES.get(key, key)


@attrs.frozen(kw_only=True)
class MetaExpr(Expression):
    """Packet metadata. Text: ``meta length``, ``iifname`` (some keys print bare).
    JSON: ``{"meta": {"key": "mark"}}``. Aliases become the key nft lists (``secpath`` is
    ``ipsec``)."""

    json_key = "meta"
    key: str = attrs.field(converter=_meta_key, validator=_one_of(META_KEYS))


#: Conntrack keys nft knows (up to 1.1); ``saddr``/``daddr`` take a family.
CT_KEYS = frozenset(selectors.CT)


@attrs.frozen(kw_only=True)
class CtExpr(Expression):
    """Conntrack data. Text: ``ct state``, ``ct original ip saddr``, ``ct reply proto-dst``.
    JSON: ``{"ct": {"key": "ip saddr", "dir": "original"}}``.

    An address of a stated family (nft's ``src_ip``/``dst_ip6``... keys) is ``key="saddr",
    family="ip"`` whichever way it is written (``key="ip saddr"`` is normalised to it); nft's
    JSON spells it ``"key": "ip saddr"`` (1.0.6 and 1.1 alike; nft's JSON reader ignores a
    ``"family"`` member). ``key="saddr"`` without a family is nft's family-neutral ``src``
    key (``"key": "saddr"``; nft prints the table's family, or the address's, in text)."""

    json_key = "ct"
    key: str = attrs.field(validator=_one_of(CT_KEYS))
    family: str | None = attrs.field(default=None, validator=_one_of(_FAMILIES, optional=True))
    dir: str | None = attrs.field(
        default=None, validator=_one_of(frozenset({"original", "reply"}), optional=True))

    def __attrs_post_init__(self) -> None:
        if " " in self.key:  # "ip saddr": one concept, one form (frozen: set once, here)
            family, key = self.key.split(" ", 1)
            if self.family not in (None, family):
                raise invalid(self, "family", f"{self.family!r} contradicts key {self.key!r}")
            object.__setattr__(self, "key", key)
            object.__setattr__(self, "family", family)


@attrs.frozen(kw_only=True)
class RtExpr(Expression):
    """Routing data. Text: ``rt classid``, ``rt ip nexthop``, ``rt mtu``, ``rt ipsec``.
    JSON: ``{"rt": {"key": "nexthop", "family": "ip"}}``."""

    json_key = "rt"
    key: str = attrs.field(
        validator=_one_of(frozenset(selectors.RT)))
    family: str | None = attrs.field(default=None, validator=_one_of(_FAMILIES, optional=True))


@attrs.frozen(kw_only=True)
class SocketExpr(Expression):
    """The packet's socket. Text: ``socket transparent``, ``socket cgroupv2 level 1``.
    JSON: ``{"socket": {"key": "cgroupv2", "level": 1}}``."""

    json_key = "socket"
    key: str = attrs.field(
        validator=_one_of(frozenset(selectors.SOCKET)))
    level: int | None = attrs.field(default=None, validator=_non_negative)


@attrs.frozen(kw_only=True)
class OsfExpr(Expression):
    """Passive OS fingerprint. Text: ``osf name``, ``osf ttl skip version``.
    JSON: ``{"osf": {"key": "name", "ttl": "skip"}}``."""

    json_key = "osf"
    key: str = attrs.field(validator=_one_of(frozenset({"name", "version"})))
    ttl: str | None = attrs.field(
        default=None, validator=_one_of(frozenset({"loose", "skip"}), optional=True))


IPSEC_KEYS = selectors.IPSEC_KEYS


@attrs.frozen(kw_only=True)
class IpsecExpr(Expression):
    """IPsec (xfrm) state of the packet. Text: ``ipsec in reqid``, ``ipsec out spnum 1 ip6
    daddr``. JSON: ``{"ipsec": {"key": "daddr", "dir": "out", "spnum": 1, "family": "ip6"}}``.
    ``family`` goes with ``saddr``/``daddr`` only."""

    json_key = "ipsec"
    key: str = attrs.field(validator=_one_of(IPSEC_KEYS))
    dir: str = attrs.field(validator=_one_of(frozenset({"in", "out"})))
    spnum: int = attrs.field(default=0, validator=_count)
    family: str | None = attrs.field(default=None, validator=_one_of(_FAMILIES, optional=True))

    def __attrs_post_init__(self) -> None:
        if (self.family is not None) != (self.key in ("saddr", "daddr")):
            raise invalid(self, "family", "give a family with saddr/daddr, and only with them")


#: nft's C name for the ipsec expression.
XfrmExpr = IpsecExpr


# --- generated values ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class NumgenExpr(Expression):
    """A generated number. Text: ``numgen inc mod 2 offset 100``.
    JSON: ``{"numgen": {"mode": "inc", "mod": 2, "offset": 100}}`` (offset always present)."""

    json_key = "numgen"
    mode: str = attrs.field(validator=_one_of(frozenset({"inc", "random"})))
    mod: int = attrs.field(validator=_count)
    offset: int = attrs.field(default=0, validator=_count)


@attrs.frozen(kw_only=True)
class JhashExpr(Expression):
    """A Jenkins hash of an expression. Text: ``jhash ip saddr . ip daddr mod 2 seed 0xdead
    offset 100``. JSON: ``{"jhash": {"mod": 2, "offset": 100, "expr": ..., "seed": 57005}}``.
    ``seed``/``offset`` None means not given (nft shows an explicit ``seed 0x0``)."""

    json_key = "jhash"
    mod: int = attrs.field(validator=_count)
    offset: int | None = attrs.field(default=None, validator=_non_negative)
    expr: Expr = attrs.field(metadata=EXPR)
    seed: int | None = attrs.field(default=None, validator=_non_negative)


@attrs.frozen(kw_only=True)
class SymhashExpr(Expression):
    """A symmetric hash of the flow. Text: ``symhash mod 2 offset 100``.
    JSON: ``{"symhash": {"mod": 2, "offset": 100}}``."""

    json_key = "symhash"
    mod: int = attrs.field(validator=_count)
    offset: int | None = attrs.field(default=None, validator=_non_negative)


class FibFlag(StrEnum):
    """What a fib lookup is keyed on, in nft's order."""

    SADDR = "saddr"
    DADDR = "daddr"
    MARK = "mark"
    IIF = "iif"
    OIF = "oif"


def _fib_flags(value: object) -> frozenset[FibFlag]:
    return to_flags(FibFlag, value)


@attrs.frozen(kw_only=True)
class FibExpr(Expression):
    """A FIB lookup. Text: ``fib saddr . iif oif``, ``fib daddr type``.
    JSON: ``{"fib": {"result": "oif", "flags": ["saddr", "iif"]}}``."""

    json_key = "fib"
    #: ``check`` (nft >= 1.1) tests whether a route exists: ``fib daddr check missing``.
    result: str = attrs.field(
        validator=_one_of(frozenset(selectors.FIB)))
    flags: frozenset[FibFlag] = attrs.field(factory=frozenset, converter=_fib_flags)

    def __attrs_post_init__(self) -> None:
        if (FibFlag.SADDR in self.flags) == (FibFlag.DADDR in self.flags):
            raise invalid(self, "flags", "give exactly one of saddr and daddr")


# --- values and containers ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PrefixExpr(Expression):
    """An address prefix. Text: ``10.0.0.0/8``.
    JSON: ``{"prefix": {"addr": "10.0.0.0", "len": 8}}``."""

    json_key = "prefix"
    addr: Expr = attrs.field(metadata=VALUE)
    len: int = attrs.field(validator=_count)

    def __attrs_post_init__(self) -> None:
        bits = 32 if isinstance(self.addr, IPv4Address) else (
            128 if isinstance(self.addr, IPv6Address) else None)
        if bits is not None and self.len > bits:
            raise invalid(self, "len", f"{self.len} is longer than the address ({bits} bits)")


@attrs.frozen(kw_only=True)
class RangeExpr(Expression):
    """An inclusive range. Text: ``1024-65535``. JSON: ``{"range": [1024, 65535]}``."""

    json_key = "range"
    json_shape = "list"
    low: Expr = attrs.field(metadata=EXPR)
    high: Expr = attrs.field(metadata=EXPR)


@attrs.frozen(kw_only=True)
class ConcatExpr(Expression):
    """A concatenation. Text: ``ip saddr . tcp dport``. JSON: ``{"concat": [...]}``."""

    json_key = "concat"
    json_shape = "list"
    exprs: tuple[Expr, ...] = attrs.field(converter=_tuple, metadata=EXPRS)

    def __attrs_post_init__(self) -> None:
        if len(self.exprs) < 2:
            raise invalid(self, "exprs", "a concatenation needs at least two expressions")


@attrs.frozen(kw_only=True)
class SetExpr(Expression):
    """An anonymous set. Text: ``{ 22, 80 }``. JSON: ``{"set": [22, 80]}``.

    Elements are expressions; map-style pairs ``(key, data)`` appear in anonymous maps/vmaps.
    """

    json_key = "set"
    json_shape = "list"
    elements: tuple[Any, ...] = attrs.field(converter=_tuple, metadata=EXPRS)


@attrs.frozen(kw_only=True)
class SetRefExpr(Expression):
    """A named set or map. Text: ``@blocklist``. JSON: ``"@blocklist"``."""

    name: str = attrs.field(validator=_name)


@attrs.frozen(kw_only=True)
class ListExpr(Expression):
    """A comma list of flag values. Text: ``established,related``.
    JSON: ``["established", "related"]``."""

    values: tuple[Expr, ...] = attrs.field(converter=_tuple, metadata=EXPRS)


class BinopOp(NftEnum):
    """Bitwise operators, as nft spells them in text and JSON."""

    AND = "&"
    OR = "|"
    XOR = "^"
    LSHIFT = "<<"
    RSHIFT = ">>"


def _binop_op(value: BinopOp | str) -> BinopOp:
    return _validate.to_enum(BinopOp, value, "BinopExpr", "op")


@attrs.frozen(kw_only=True)
class BinopExpr(Expression):
    """A bitwise operation or shift. Text: ``meta mark & 0x0000ff00``, ``ip dscp << 2``.
    JSON: ``{"&": [left, right]}``.

    nft 1.1 may print more than two operands (``{"|": [a, b, c]}``); they are read as a
    left-nested chain.
    """

    op: BinopOp = attrs.field(converter=_binop_op)
    left: Expr = attrs.field(metadata=EXPR)
    right: Expr = attrs.field(metadata=EXPR)


def verdict_key(element: object) -> bool:
    """Whether a set or map element's key is a verdict: no set type holds one, and
    libnftables aborts the process on it (``BUG: invalid data expression type verdict``,
    an assertion in ``netlink_gen_key``), on the JSON and netlink paths alike."""
    key = element[0] if type(element) is tuple and element else element
    if type(key) is ElemExpr:
        key = key.val
    return type(key) is VerdictExpr


def check_mappings(node: object, value: object) -> None:
    """A map's mappings are an anonymous map (``{ k : v, ... }``) or a named one (``@m``):
    libnftables aborts the process on anything else (``BUG: invalid mapping expression``,
    an assertion in ``expr_evaluate_map``)."""
    if not isinstance(value, (SetExpr, SetRefExpr)):
        raise invalid(node, "data", f"must be an anonymous map (SetExpr) or a named one "
                      f"(SetRefExpr), got {type(value).__name__}")


@attrs.frozen(kw_only=True)
class MapExpr(Expression):
    """A map lookup. Text: ``ip saddr map { 10.0.0.1 : 1 }``, ``tcp dport map @ports``.
    JSON: ``{"map": {"key": ..., "data": ...}}``."""

    json_key = "map"
    key: Expr = attrs.field(metadata=EXPR)
    data: Expr = attrs.field(metadata={**EXPR, "hint": "key"})

    def __attrs_post_init__(self) -> None:
        check_mappings(self, self.data)


@attrs.frozen(kw_only=True)
class ElemExpr(Expression):
    """A set element with options. Text: ``10.0.0.1 timeout 30s expires 10s comment "x"``.
    JSON: ``{"elem": {"val": ..., "timeout": 30, "expires": 10, "comment": "x"}}``.

    ``timeout``/``expires`` are in milliseconds. ``stmts`` holds per-element statements such as
    ``counter packets 0 bytes 0``.
    """

    json_key = "elem"
    val: Expr = attrs.field(metadata=VALUE)
    timeout: int | None = attrs.field(default=None, validator=_non_negative)
    expires: int | None = attrs.field(default=None, validator=_non_negative)
    comment: str | None = attrs.field(default=None, validator=_validate.comment)
    stmts: tuple[Any, ...] = attrs.field(default=(), converter=_tuple,
                                         validator=_validate.stateful_stmts)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.val, ElemExpr):  # libnftables aborts on an element in an element
            raise invalid(self, "val", "an element cannot hold another element")
        if type(self.val) is str:
            check_literal(self, "val", self.val)


class VerdictKind(NftEnum):
    ACCEPT = "accept"
    DROP = "drop"
    CONTINUE = "continue"
    RETURN = "return"
    JUMP = "jump"
    GOTO = "goto"


def _verdict_kind(value: VerdictKind | str) -> VerdictKind:
    return _validate.to_enum(VerdictKind, value, "VerdictExpr", "kind")


# Verdicts are both expressions (map data) and statements (end of a rule).
@attrs.frozen(kw_only=True)
class VerdictExpr(Expression):
    """A verdict. Text: ``accept``, ``jump other``. JSON: ``{"accept": null}``,
    ``{"jump": {"target": "other"}}``."""

    kind: VerdictKind = attrs.field(converter=_verdict_kind)
    #: A chain name (nft's identifier rules; NFT_CHAIN_MAXNAMELEN is 256 with the NUL).
    target: str | None = None

    def __attrs_post_init__(self) -> None:
        needs_target = self.kind in (VerdictKind.JUMP, VerdictKind.GOTO)
        if needs_target != (self.target is not None):
            need = "needs" if needs_target else "takes no"
            raise invalid(self, "target", f"{self.kind} {need} target")
        if self.target is not None and (
                type(self.target) is not str or self.target not in _GOOD_TARGETS):
            # a keyword is let through: the chain may be another program's (JSON-created)
            _validate.check_name("VerdictExpr", "target", self.target, keywords=False)
            if len(_GOOD_TARGETS) >= 4096:
                _GOOD_TARGETS.clear()
            _GOOD_TARGETS.add(self.target)


#: Jump targets already checked (a kube-proxy-style ruleset repeats a few thousand of them).
_GOOD_TARGETS: set[str] = set()
