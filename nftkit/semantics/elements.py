"""Set and map elements for the engine: identity, datatype checks and interval rules.

The kernel identifies an element by its key; an interval set stores closed ranges and refuses a
new one that overlaps an existing one unless it is the same range. nft lists an interval that is
a whole prefix as a prefix (``10.0.0.0/8``), a one-value interval as the value, others as ranges
(``1024-2047``). These helpers reproduce that, for the datatypes whose values nftkit knows
(addresses, ports, marks, integers); keys of other types are compared as model values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from ..model.enums import SetFlag
from ..model.expressions import ConcatExpr, ElemExpr, PrefixExpr, RangeExpr, VerdictExpr
from ..model.sets import Map, Set
from ..nft.datatypes import DATATYPES

__all__ = [
    "Interval",
    "coerce",
    "element_key",
    "element_problem",
    "interval_of",
    "normalize_value",
    "render_interval",
    "sort_key",
]

#: (low, high, kind): kind is "v4", "v6" or "int".
Interval = tuple[int, int, str]

#: Integer datatypes whose elements the fake range-checks (inet_proto may be a name).
_INTEGERS = {"inet_service", "mark"}


def normalize_value(value: Any) -> Any:
    """Address strings -> ipaddress objects, recursively through prefixes/ranges/concats/pairs,
    so that ``"10.0.0.1"`` and ``IPv4Address("10.0.0.1")`` are the same key."""
    if isinstance(value, tuple):
        return tuple(normalize_value(v) for v in value)
    if isinstance(value, str) and value and (value[0].isdigit() or ":" in value):
        try:
            return ipaddress.ip_address(value)
        except ValueError:
            return value
    if isinstance(value, PrefixExpr):
        return value.replace(addr=normalize_value(value.addr))
    if isinstance(value, RangeExpr):
        return value.replace(low=normalize_value(value.low), high=normalize_value(value.high))
    if isinstance(value, ConcatExpr):
        return value.replace(exprs=tuple(normalize_value(v) for v in value.exprs))
    if isinstance(value, ElemExpr):
        return value.replace(val=normalize_value(value.val))
    return value


def _coerce_value(value: Any, type_name: str) -> Any:
    """nft reads a plain integer where an address is expected (``80`` is ``0.0.0.80``)."""
    if type_name in ("ipv4_addr", "ipv6_addr") and isinstance(value, int) \
            and not isinstance(value, bool):
        bits = 32 if type_name == "ipv4_addr" else 128
        if 0 <= value < 2**bits:
            return IPv4Address(value) if bits == 32 else IPv6Address(value)
    if isinstance(value, PrefixExpr):
        return value.replace(addr=_coerce_value(value.addr, type_name))
    if isinstance(value, RangeExpr):
        return value.replace(low=_coerce_value(value.low, type_name),
                             high=_coerce_value(value.high, type_name))
    if isinstance(value, ElemExpr):
        return value.replace(val=_coerce_value(value.val, type_name))
    return value


def coerce(s: Set, element: Any) -> Any:
    """``element`` with values converted as nft converts them for the set's datatypes."""
    key_type = s.type[0] if s.typeof is None and len(s.type) == 1 else ""
    if isinstance(element, tuple) and len(element) == 2:
        data_type = ""
        if isinstance(s, Map) and s.data_typeof is None and len(s.data_type) == 1:
            data_type = s.data_type[0]
        return (_coerce_value(element[0], key_type), _coerce_value(element[1], data_type))
    return _coerce_value(element, key_type)


def element_key(element: Any, is_map: bool) -> Any:
    """The key that identifies an element: the key of a ``(key, data)`` pair, without options."""
    if is_map and isinstance(element, tuple):
        element = element[0]
    if isinstance(element, ElemExpr):
        element = element.val
    return element


def interval_of(key: Any) -> Interval | None:
    """A key as a closed integer interval, or None when its type is unknown."""
    if isinstance(key, bool):
        return None
    if isinstance(key, (IPv4Address, IPv6Address)):
        kind = "v4" if key.version == 4 else "v6"
        return int(key), int(key), kind
    if isinstance(key, int):
        return key, key, "int"
    if isinstance(key, PrefixExpr) and isinstance(key.addr, (IPv4Address, IPv6Address)):
        net = ipaddress.ip_network(f"{key.addr}/{key.len}", strict=False)
        kind = "v4" if net.version == 4 else "v6"
        return int(net.network_address), int(net.broadcast_address), kind
    if isinstance(key, RangeExpr):
        low, high = interval_of(key.low), interval_of(key.high)
        if low is None or high is None or low[2] != high[2]:
            return None
        return low[0], high[1], low[2]
    return None


def render_interval(iv: Interval) -> Any:
    """How nft lists an interval: a value, a prefix, or a range."""
    low, high, kind = iv

    def value(n: int) -> Any:
        if kind == "v4":
            return IPv4Address(n)
        if kind == "v6":
            return IPv6Address(n)
        return n

    if low == high:
        return value(low)
    if kind in ("v4", "v6"):
        width = 32 if kind == "v4" else 128
        size = high - low + 1
        if size & (size - 1) == 0 and low % size == 0:
            return PrefixExpr(addr=value(low), len=width - size.bit_length() + 1)
    return RangeExpr(low=value(low), high=value(high))


def sort_key(element: Any) -> tuple[int, int, str]:
    """A total order for listing elements: by interval when known, else by text."""
    key = element_key(element, isinstance(element, tuple))
    iv = interval_of(key)
    if iv is not None:
        return ({"v4": 0, "v6": 1, "int": 2}[iv[2]], iv[0], "")
    return (3, 0, repr(key))


def _value_problem(value: Any, type_name: str, interval: bool) -> str | None:
    """Why ``value`` cannot be a key of datatype ``type_name`` (None when fine or unknown)."""
    if isinstance(value, (PrefixExpr, RangeExpr)):
        if not interval:
            return "a prefix or range needs a set with flags interval"
        parts = [value.addr] if isinstance(value, PrefixExpr) else [value.low, value.high]
        for part in parts:
            problem = _value_problem(part, type_name, False)
            if problem:
                return problem
        iv = interval_of(value)
        if iv is not None and iv[0] > iv[1]:
            return f"range {value!r} is empty (low is above high)"
        return None
    if type_name in ("ipv4_addr", "ipv6_addr"):
        version = 4 if type_name == "ipv4_addr" else 6
        if not isinstance(value, (IPv4Address, IPv6Address)) or value.version != version:
            return f"{value!r} is not an {type_name}"
    elif type_name in _INTEGERS:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{value!r} is not an {type_name}"
        if not 0 <= value < 2 ** DATATYPES[type_name].bits:
            return f"{value} is out of range for {type_name}"
    elif type_name == "verdict" and not isinstance(value, VerdictExpr):
        return f"{value!r} is not a verdict"
    elif type_name == "ifname" and not isinstance(value, str):
        return f"{value!r} is not an interface name"
    return None


def element_problem(s: Set, element: Any, *, deleting: bool = False) -> str | None:
    """Why ``element`` does not fit set or map ``s`` (None when it does, or cannot be known)."""
    is_map = isinstance(s, Map)
    interval = SetFlag.INTERVAL in s.flags
    if is_map and not deleting and not isinstance(element, tuple):
        return f"map {s.name} takes (key, data) pairs, got {element!r}"
    if not is_map and isinstance(element, tuple):
        return f"set {s.name} takes keys, not pairs"
    options = element[0] if isinstance(element, tuple) else element
    if isinstance(options, ElemExpr) and options.timeout is not None \
            and SetFlag.TIMEOUT not in s.flags:
        return f"element timeout in {s.name}, which has no timeout flag"
    key = element_key(element, is_map)
    if s.typeof is None and len(s.type) == 1:
        problem = _value_problem(key, s.type[0], interval)
        if problem:
            return problem
    elif isinstance(key, (PrefixExpr, RangeExpr)) and not interval:
        return "a prefix or range needs a set with flags interval"
    if is_map and isinstance(element, tuple) and isinstance(s, Map) \
            and s.data_typeof is None and len(s.data_type) == 1:
        return _value_problem(element[1], s.data_type[0], False)
    return None


def overlaps(existing: Iterable[Interval], new: Interval) -> Interval | None:
    """The first existing interval that overlaps ``new`` without being equal to it."""
    for iv in existing:
        if iv[2] == new[2] and iv != new and iv[0] <= new[1] and new[0] <= iv[1]:
            return iv
    return None
