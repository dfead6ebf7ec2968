"""Whether element values have the kind of value a kernel set's type takes.

nft reads a JSON string by the set's type, so ``"10.0.0.2"`` lands in an ``ether_addr`` set
as ``00:00:10:00:00:02`` and in an ``ifname`` set as the name ``"10.0.0.2"``; the netlink
encoders write an ``IPv4Address`` as 4 bytes, which a ``mark`` set stores as ``0x0200000a``.
Both paths check element values against the set the kernel has *now* (its type read at the
current ruleset generation) before sending, with ``value_mismatch``::

    value_mismatch(IPv4Address("10.0.0.2"), ("ether_addr",), None)
    # -> "10.0.0.2 (an IPv4 address) does not fit type ether_addr"

Only the kind of each value is checked (an address of the right family, an integer, a
name...): ranges and spellings are left to the encoders and to nft.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

from ..model.expressions import ConcatExpr, ElemExpr, PrefixExpr, RangeExpr, VerdictExpr
from ..nft.datatypes import NOT_INTEGER

__all__ = ["first_mismatch", "value_mismatch"]

_ADDR = {IPv4Address: "ipv4_addr", IPv6Address: "ipv6_addr", IPv4Network: "ipv4_addr",
         IPv6Network: "ipv6_addr"}
_ADDR_WORDS = {IPv4Address: "an IPv4 address", IPv6Address: "an IPv6 address",
               IPv4Network: "an IPv4 network", IPv6Network: "an IPv6 network"}
#: Types whose values are never plain integers (nft reads an integer as an address:
#: ``80`` in an ``ipv4_addr`` set is 0.0.0.80, on every path).
_NOT_INT = NOT_INTEGER


def _part(value: Any, type_name: str) -> str | None:
    if isinstance(value, PrefixExpr):
        return _part(value.addr, type_name)
    if isinstance(value, RangeExpr):
        return _part(value.low, type_name) or _part(value.high, type_name)
    kind = _ADDR.get(type(value))
    if kind is not None:
        if type_name != kind:
            return f"{value} ({_ADDR_WORDS[type(value)]}) does not fit type {type_name}"
        return None
    if isinstance(value, int) and not isinstance(value, bool) and type_name in _NOT_INT:
        return f"{value} (an integer) does not fit type {type_name}"
    if isinstance(value, VerdictExpr) != (type_name == "verdict"):
        return f"{value!r} does not fit type {type_name}"
    return None


def _fits(value: Any, types: Sequence[str]) -> str | None:
    if isinstance(value, ElemExpr):
        value = value.val
    if isinstance(value, ConcatExpr):
        if len(value.exprs) != len(types):
            return (f"{len(value.exprs)} values do not fit a concatenation of "
                    f"{len(types)} ({' . '.join(types)})")
        for part, name in zip(value.exprs, types, strict=True):
            problem = _part(part, name)
            if problem:
                return problem
        return None
    if len(types) > 1:
        return f"{value!r} does not fit a concatenation ({' . '.join(types)})"
    return _part(value, types[0])


def value_mismatch(element: Any, key: Sequence[str], data: Sequence[str] | None) -> str | None:
    """Why ``element`` (a key, or a ``(key, data)`` pair for a map) does not fit a set of
    ``key`` types (and map ``data`` types), or None. Only checked where the types are known:
    pass an empty ``key`` to skip the key."""
    if isinstance(element, tuple):
        if data is None:
            return "a (key, data) pair does not fit a set"
        k, d = element[0], element[1] if len(element) > 1 else None
        problem = _fits(k, key) if key else None
        if problem is None and d is not None and data:
            problem = _fits(d, data)
        return problem
    return _fits(element, key) if key else None


_SIMPLE = frozenset({IPv4Address, IPv6Address, int, str, bool})
#: (key types, data types, shape of an element) -> why it does not fit (None: it does)
_SEEN: dict[tuple[object, ...], str | None] = {}
_SEEN_MAX = 4096


def first_mismatch(elements: Sequence[Any], key: Sequence[str],
                   data: Sequence[str] | None) -> tuple[int, str] | None:
    """``(position, why)`` of the first element of ``elements`` that does not fit (see
    ``value_mismatch``), or None. Elements of one shape are checked once (per process): the
    answer depends only on the classes of the values."""
    types = (tuple(key), None if data is None else tuple(data))
    for i, element in enumerate(elements):
        cls = element.__class__
        if cls in _SIMPLE:
            shape: object = cls
        elif cls is ConcatExpr:
            shape = tuple(map(type, element.exprs))
        elif cls is tuple and len(element) == 2:
            k, d = element
            kc, dc = k.__class__, d.__class__
            if (kc in _SIMPLE or kc is ConcatExpr) and (dc in _SIMPLE or dc is VerdictExpr):
                shape = (tuple, kc, tuple(map(type, k.exprs)) if kc is ConcatExpr else (), dc)
            else:
                shape = None
        else:
            shape = None
        if shape is None:
            problem = value_mismatch(element, *types)
        else:
            memo = (types, shape)
            try:
                problem = _SEEN[memo]
            except KeyError:
                if len(_SEEN) >= _SEEN_MAX:
                    _SEEN.clear()
                problem = _SEEN[memo] = value_mismatch(element, *types)
        if problem is not None:
            return i, problem
    return None
