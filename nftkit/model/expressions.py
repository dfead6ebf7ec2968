"""Expressions: the values and packet/metadata selectors that rules match on and statements use.

An expression is either a node (``PayloadExpr``, ``MetaExpr``, ``SetExpr``, ...) or an immediate
value: ``int`` (ports, marks, lengths), ``str`` (symbolic constants such as ``"established"`` and
strings such as interface names; the datatype of the other side decides how nft prints it),
``bool`` or an ``ipaddress`` address.
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Any, ClassVar

import attrs

from .._node import EXPR, EXPRS, Node, invalid

__all__ = [
    "BinopExpr",
    "ConcatExpr",
    "CtExpr",
    "ElemExpr",
    "Expr",
    "Expression",
    "ListExpr",
    "MapExpr",
    "MetaExpr",
    "PayloadExpr",
    "PrefixExpr",
    "RangeExpr",
    "SetExpr",
    "SetRefExpr",
    "Value",
    "VerdictExpr",
    "VerdictKind",
]


class Expression(Node):
    """Base class of expression nodes. ``registry`` maps JSON keys to classes."""

    __slots__ = ()
    registry: ClassVar[dict[str, type[Expression]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("json_key"):
            Expression.registry[cls.json_key] = cls


#: An immediate value.
Value = int | str | bool | IPv4Address | IPv6Address
#: Anything that can stand where nft expects an expression.
Expr = Expression | Value


@attrs.frozen(kw_only=True)
class PayloadExpr(Expression):
    """A header field, by protocol and field name, or raw (base, offset, length in bits).

    Text: ``tcp dport``, ``ip saddr``, ``@nh,16,16``.
    JSON: ``{"payload": {"protocol": "tcp", "field": "dport"}}`` or
    ``{"payload": {"base": "nh", "offset": 16, "len": 16}}``.
    """

    json_key = "payload"
    protocol: str | None = None
    field: str | None = None
    base: str | None = None
    offset: int | None = None
    len: int | None = None
    inner: str | None = attrs.field(default=None)  # nft >= 1.1: tunnel inner headers

    def __attrs_post_init__(self) -> None:
        named = self.protocol is not None and self.field is not None
        raw = self.base is not None and self.offset is not None and self.len is not None
        if named == raw:
            raise invalid(self, None, "give protocol and field, or base, offset and len")


@attrs.frozen(kw_only=True)
class MetaExpr(Expression):
    """Packet metadata. Text: ``meta mark``, ``iifname`` (unqualified keys print bare).
    JSON: ``{"meta": {"key": "mark"}}``."""

    json_key = "meta"
    key: str


@attrs.frozen(kw_only=True)
class CtExpr(Expression):
    """Conntrack data. Text: ``ct state``, ``ct original ip saddr``, ``ct reply proto-dst``.
    JSON: ``{"ct": {"key": "saddr", "family": "ip", "dir": "original"}}``."""

    json_key = "ct"
    key: str
    family: str | None = None
    dir: str | None = None


@attrs.frozen(kw_only=True)
class PrefixExpr(Expression):
    """An address prefix. Text: ``10.0.0.0/8``. JSON: ``{"prefix": {"addr": "10.0.0.0", "len": 8}}``."""

    json_key = "prefix"
    addr: Expr = attrs.field(metadata=EXPR)
    len: int


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
    exprs: tuple[Expr, ...] = attrs.field(converter=tuple, metadata=EXPRS)

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
    elements: tuple[Any, ...] = attrs.field(converter=tuple, metadata=EXPRS)


@attrs.frozen(kw_only=True)
class SetRefExpr(Expression):
    """A named set or map. Text: ``@blocklist``. JSON: ``"@blocklist"``."""

    name: str


@attrs.frozen(kw_only=True)
class ListExpr(Expression):
    """A comma list of flag values. Text: ``established,related``. JSON: ``["established", ...]``."""

    values: tuple[Expr, ...] = attrs.field(converter=tuple, metadata=EXPRS)


class BinopOp(StrEnum):
    AND = "&"
    OR = "|"
    XOR = "^"
    LSHIFT = "<<"
    RSHIFT = ">>"


@attrs.frozen(kw_only=True)
class BinopExpr(Expression):
    """A bitwise operation. Text: ``meta mark & 0x0000ff00``. JSON: ``{"&": [left, right]}``.

    nft 1.1 may print more than two operands (``{"|": [a, b, c]}``); they are read as a
    left-nested chain.
    """

    op: BinopOp = attrs.field(converter=BinopOp)
    left: Expr = attrs.field(metadata=EXPR)
    right: Expr = attrs.field(metadata=EXPR)


@attrs.frozen(kw_only=True)
class MapExpr(Expression):
    """A map lookup. Text: ``ip saddr map { 10.0.0.1 : 1 }``, ``tcp dport map @ports``.
    JSON: ``{"map": {"key": ..., "data": ...}}``."""

    json_key = "map"
    key: Expr = attrs.field(metadata=EXPR)
    data: Expr = attrs.field(metadata=EXPR)


@attrs.frozen(kw_only=True)
class ElemExpr(Expression):
    """A set element with options. Text: ``10.0.0.1 timeout 30s expires 10s comment "x"``.
    JSON: ``{"elem": {"val": ..., "timeout": 30, "expires": 10, "comment": "x"}}``.

    ``timeout``/``expires`` are in milliseconds. ``stmts`` holds per-element statements such as
    ``counter packets 0 bytes 0``.
    """

    json_key = "elem"
    val: Expr = attrs.field(metadata=EXPR)
    timeout: int | None = None
    expires: int | None = None
    comment: str | None = None
    stmts: tuple[Any, ...] = attrs.field(default=(), converter=tuple)


class VerdictKind(StrEnum):
    ACCEPT = "accept"
    DROP = "drop"
    CONTINUE = "continue"
    RETURN = "return"
    JUMP = "jump"
    GOTO = "goto"


# Verdicts are both expressions (map data) and statements (end of a rule).
@attrs.frozen(kw_only=True)
class VerdictExpr(Expression):
    """A verdict. Text: ``accept``, ``jump other``. JSON: ``{"accept": null}``,
    ``{"jump": {"target": "other"}}``."""

    kind: VerdictKind = attrs.field(converter=VerdictKind)
    target: str | None = None

    def __attrs_post_init__(self) -> None:
        needs_target = self.kind in (VerdictKind.JUMP, VerdictKind.GOTO)
        if needs_target != (self.target is not None):
            raise invalid(self, "target", f"{self.kind} {'needs' if needs_target else 'takes no'} target")
