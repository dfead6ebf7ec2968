"""nft datatypes: which datatype an expression has, and how values of it are written.

The text renderer uses this to print a value the way nft does (a mark as ``0x00000010``, an
interface name as ``"lo"``, a port as ``22``); the JSON reader uses it to turn strings into
semantic values (addresses become ``ipaddress`` objects).
"""

from __future__ import annotations

from typing import Final

import attrs

from .expressions import BinopExpr, CtExpr, Expr, MetaExpr, PayloadExpr

__all__ = ["DATATYPES", "Datatype", "datatype", "expr_datatype"]


@attrs.frozen(kw_only=True)
class Datatype:
    """An nft datatype.

    ``kind`` is how an integer value prints: ``dec`` (``22``), ``hex`` (``0x`` and ``width``
    digits, e.g. a mark ``0x00000010``), ``string`` (quoted, ``"lo"``), ``addr`` (an address),
    ``symbol`` (a symbolic constant, integers print in decimal).
    ``bits`` is the size of the value in bits (0 when variable, e.g. strings).
    """

    name: str
    kind: str = "dec"
    width: int = 0
    bits: int = 0


def _dt(name: str, kind: str = "dec", width: int = 0, bits: int = 0) -> Datatype:
    return Datatype(name=name, kind=kind, width=width, bits=bits)


#: Datatypes by nft name (``nft describe``). Unknown names behave like ``integer``.
DATATYPES: Final[dict[str, Datatype]] = {
    d.name: d
    for d in (
        _dt("integer"),
        _dt("string", "string"),
        _dt("ifname", "string", bits=128),
        _dt("mark", "hex", 8, 32),
        _dt("ipv4_addr", "addr", bits=32),
        _dt("ipv6_addr", "addr", bits=128),
        _dt("ether_addr", "addr", bits=48),
        _dt("inet_service", "dec", bits=16),
        _dt("inet_proto", "symbol", bits=8),
        _dt("verdict", "symbol"),
    )
}


def datatype(name: str | None) -> Datatype | None:
    """The datatype called ``name`` (None for None; unknown names give an ``integer`` alike)."""
    if name is None:
        return None
    return DATATYPES.get(name) or Datatype(name=name)


_META_TYPES: dict[str, str] = {
    "mark": "mark", "iifname": "ifname", "oifname": "ifname", "l4proto": "inet_proto",
}
_CT_TYPES: dict[str, str] = {"mark": "mark"}
_PAYLOAD_TYPES: dict[tuple[str, str], str] = {
    ("ip", "saddr"): "ipv4_addr", ("ip", "daddr"): "ipv4_addr",
    ("ip6", "saddr"): "ipv6_addr", ("ip6", "daddr"): "ipv6_addr",
    ("tcp", "sport"): "inet_service", ("tcp", "dport"): "inet_service",
    ("udp", "sport"): "inet_service", ("udp", "dport"): "inet_service",
    ("ip", "protocol"): "inet_proto", ("ip6", "nexthdr"): "inet_proto",
}


def expr_datatype(e: Expr) -> Datatype | None:
    """The datatype of an expression that selects a value (lhs of a match, key of a map)."""
    if isinstance(e, MetaExpr):
        return datatype(_META_TYPES.get(e.key, "integer"))
    if isinstance(e, CtExpr):
        return datatype(_CT_TYPES.get(e.key, "integer"))
    if isinstance(e, PayloadExpr):
        if e.protocol is not None and e.field is not None:
            return datatype(_PAYLOAD_TYPES.get((e.protocol, e.field), "integer"))
        return datatype("integer")
    if isinstance(e, BinopExpr):
        return expr_datatype(e.left)
    return None


