"""nft datatypes: which datatype an expression has, and how values of it are written.

The text renderer uses this to print a value the way nft does (a mark as ``0x00000010``, an
interface name as ``"lo"``, a port as ``22``, a conntrack expiration as ``1m30s``); the JSON
reader uses it to turn strings into semantic values (addresses become ``ipaddress`` objects).
nft's JSON already carries symbolic constants as strings (``"established"``, ``"tcp"``), so the
datatype mostly decides how *numbers* and *strings* print in text.

The tables (datatypes, symbols, selector fields) are in ``nftkit.nft``; this module finds the
datatype of a model expression from them.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Final

from ..nft.datatypes import (
    BITMASKS,
    DATATYPES,
    KINDS,
    NUMERIC_RANGES,
    Datatype,
    datatype,
)
from ..nft.families import ADDRESS_TYPES
from ..nft.selectors import CT, EXTHDR, FIB, META, RT, SOCKET, payload_datatype
from ..nft.symbols import NAMES, SYMBOLS
from .expressions import (
    BinopExpr,
    ConcatExpr,
    CtExpr,
    DccpoptExpr,
    Expr,
    ExthdrExpr,
    FibExpr,
    IpoptExpr,
    IpsecExpr,
    JhashExpr,
    MetaExpr,
    NumgenExpr,
    OsfExpr,
    PayloadExpr,
    RtExpr,
    SctpChunkExpr,
    SocketExpr,
    SymhashExpr,
    TcpoptExpr,
)

__all__ = [
    "BITMASKS",
    "DATATYPES",
    "KINDS",
    "NUMERIC_RANGES",
    "SYMBOLS",
    "Datatype",
    "datatype",
    "expr_datatype",
    "format_addr",
    "symbol",
]

#: number -> name per symbolic datatype; the first name of a number is nft's spelling.
_NAMES: Final = NAMES


def symbol(dt: Datatype | None, value: int) -> str | None:
    """The symbol nft prints for integer ``value`` of datatype ``dt`` (``8`` of ``ct_state``
    is ``new``), or None when nft prints a number."""
    # a bitmask value prints by name only when it is exactly one flag: nft prints 0xff
    if dt is None:
        return None
    table = _NAMES.get(dt.name)
    return None if table is None else table.get(value)


def format_addr(addr: IPv4Address | IPv6Address) -> str:
    """An address as nft prints it (glibc ``inet_ntop``), in text and JSON alike.

    IPv6 differs from Python's ``str`` where the first 96 bits are zero (``::18.52.18.52``) or
    the address is IPv4-mapped (``::ffff:1.2.3.4``).
    """
    if isinstance(addr, IPv4Address):
        return str(addr)
    packed = addr.packed
    if packed[:10] == bytes(10) and (packed[10:12] == b"\xff\xff" or (
            packed[10:12] == bytes(2) and packed[12:14] != bytes(2))):
        prefix = "::ffff:" if packed[10:12] == b"\xff\xff" else "::"
        return prefix + str(IPv4Address(packed[12:]))
    return str(addr)


_ADDR: Final = ADDRESS_TYPES


def expr_datatype(e: Expr) -> Datatype | None:
    """The datatype of an expression that selects a value (lhs of a match, key of a map)."""
    if isinstance(e, ConcatExpr):
        parts = tuple(expr_datatype(x) for x in e.exprs)
        return Datatype(name=" . ".join(p.name if p else "?" for p in parts), kind="concat",
                        parts=parts)
    name = _datatype_name(e)
    if name is None:
        return None
    return DATATYPES.get(name) or Datatype(name=name)


def _datatype_name(e: Expr) -> str | None:
    rule = _RULES.get(type(e))
    return None if rule is None else rule(e)


def _ct(e: CtExpr) -> str:
    if e.key in ("saddr", "daddr"):
        return _ADDR.get(e.family or "", "integer")
    family, _, field = e.key.partition(" ")
    if field:  # "ip saddr", "ip6 daddr"
        return _ADDR[family]
    return CT.get(e.key, "integer")


def _payload(e: PayloadExpr) -> str:
    if e.protocol is None or e.field is None:
        return "hex_integer"  # raw payloads print in hex
    return payload_datatype(e.protocol, e.field)


def _exthdr(e: ExthdrExpr) -> str:
    if e.field is None:
        return "boolean"  # presence: exists/missing
    if e.field == "type" and e.name != "mh":
        return "integer"  # only the mobility header's type is an mh_type (rt type is not)
    return EXTHDR.get(e.field, "integer")


def _option(e: TcpoptExpr | IpoptExpr | SctpChunkExpr) -> str:
    return "boolean" if e.field is None and getattr(e, "base", None) is None else "integer"


def _rt(e: RtExpr) -> str:
    if e.key == "nexthop":
        return _ADDR.get(e.family or "ip", "ipv4_addr")
    return RT.get(e.key, "integer")


def _binop(e: BinopExpr) -> str | None:
    # nft gives a bitwise operation (shifts included) the type of its left operand
    return _datatype_name(e.left)


#: How each selector's datatype is found, by expression class.
_RULES: Final[dict[type, Callable[[Any], str | None]]] = {
    MetaExpr: lambda e: META.get(e.key, "integer"),
    CtExpr: _ct,
    PayloadExpr: _payload,
    ExthdrExpr: _exthdr,
    TcpoptExpr: _option,
    IpoptExpr: _option,
    SctpChunkExpr: _option,
    DccpoptExpr: lambda e: "boolean",
    OsfExpr: lambda e: "osf_name",
    RtExpr: _rt,
    SocketExpr: lambda e: SOCKET.get(e.key, "integer"),
    FibExpr: lambda e: FIB.get(e.result, "integer"),
    IpsecExpr: lambda e: _ADDR[e.family] if e.family is not None else "integer",
    NumgenExpr: lambda e: "integer",
    JhashExpr: lambda e: "integer",
    SymhashExpr: lambda e: "integer",
    BinopExpr: _binop,
}
