"""Element values checked and typed where they enter a ``Transaction`` (``add_elements`` and
the other element methods), so that every path writes the same thing or none does.

- ``ipaddress`` networks and CIDR strings become prefixes: ``"10.0.0.0/8"`` and
  ``IPv4Network("10.0.0.0/8")`` are ``PrefixExpr(addr=IPv4Address("10.0.0.0"), len=8)``
  (nft ``10.0.0.0/8``, for a set with ``flags interval``); a network with host bits set
  (``"10.0.0.1/8"``) is refused rather than masked.
- Strings that one path would read as something else than another are refused: ``"@x"`` (a
  set reference in libnftables input, a literal on the netlink path), ``"$x"`` (a variable in
  nft text), and a NUL byte (the netlink path would cut the value there).
- Against the set's declared type, where it is known (the set given as a model, one added
  earlier in the same transaction, or one of ``Transaction(known=...)``): an address of the
  wrong family, an integer out of range or where none belongs, a prefix or range without
  ``flags interval``, a value that is not a verdict in a verdict map, a concatenation of the
  wrong length. Address strings become ``ipaddress`` objects.
- Host names where an address belongs are refused, unless the caller passes
  ``resolve=True``: then the name is sent as it is and nft resolves it, inside the target
  network namespace (``Nftables`` runs every libnftables call there); the netlink path does
  not resolve names, so such a transaction goes through libnftables.

Where the type is not known (a set given by name only), values pass unchecked here; the
backends check them against the set the kernel has before sending.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import Any

from ..errors import ValidationError
from ..model.enums import SetFlag
from ..model.expressions import ConcatExpr, ElemExpr, PrefixExpr, RangeExpr, VerdictExpr
from ..model.sets import Map, Set

__all__ = ["typed_elements"]

#: Classes that need no look when the set's type is unknown.
_OPAQUE = frozenset({IPv4Address, IPv6Address, int, PrefixExpr, RangeExpr, VerdictExpr})
_ADDRESS = {"ipv4_addr": 4, "ipv6_addr": 6}
#: Integer datatypes checked for range; True: a symbolic name (``"ssh"``, ``"tcp"``) is
#: also a value (nft looks it up in /etc/services, /etc/protocols).
_INTEGERS = {"inet_service": (16, True), "mark": (32, False), "inet_proto": (8, True)}
#: Datatypes whose values are exactly the instances of one class.
_CLASSES: dict[str, type] = {"ipv4_addr": IPv4Address, "ipv6_addr": IPv6Address,
                             "verdict": VerdictExpr}
_MAC = re.compile(r"[0-9A-Fa-f]{1,2}(:[0-9A-Fa-f]{1,2}){5}\Z")
_IFNAMSIZ = 16


def _refuse(field: str, message: str) -> ValidationError:
    return ValidationError("Transaction", field, message)


def _network(value: IPv4Network | IPv6Network) -> PrefixExpr:
    return PrefixExpr(addr=value.network_address, len=value.prefixlen)


def _string(value: str, type_name: str | None, resolve: bool) -> Any:
    """A string value, typed (an address, a prefix) or refused."""
    if "\x00" in value:
        raise _refuse("elements", f"{value!r} holds a NUL byte (the netlink path would cut "
                                  "it there)")
    if value[:1] in ("@", "$"):
        raise _refuse("elements", f"{value!r}: nft reads it as a "
                                  f"{'set reference' if value[0] == '@' else 'variable'} in "
                                  "libnftables input and as a literal on the netlink path; "
                                  "give the value itself")
    if value == "*":
        return value  # the catch-all element
    address, slash, _plen = value.partition("/")
    if slash and (address.count(".") == 3 or ":" in address):
        try:
            return _network(ip_network(value))
        except ValueError as exc:
            if "host bits" in str(exc):
                raise _refuse("elements", f"{value!r} has host bits set; give the network "
                                          "(nft would store another prefix)") from None
            if type_name in _ADDRESS:
                raise _refuse("elements", f"{value!r} is not a prefix") from None
            return value
    version = _ADDRESS.get(type_name or "")
    if version is None:
        return value
    try:
        return ip_address(value)
    except ValueError:
        if resolve:
            return value  # nft resolves it, inside the target namespace
        raise _refuse("elements", f"{value!r} is not an IPv{version} address; a host name "
                                  "is resolved only when asked for (resolve=True: by nft, "
                                  "inside the target network namespace)") from None


def _problem(value: Any, type_name: str, interval: bool, resolve: bool) -> str | None:
    """Why ``value`` cannot be a value of datatype ``type_name``, or None."""
    if isinstance(value, (PrefixExpr, RangeExpr)):
        if not interval:
            return f"{value!r}: a prefix or range needs a set with flags interval"
        parts = [value.addr] if isinstance(value, PrefixExpr) else [value.low, value.high]
        for part in parts:
            problem = _problem(part, type_name, False, resolve)
            if problem:
                return problem
        return None
    version = _ADDRESS.get(type_name)
    if version is not None:
        if isinstance(value, (IPv4Address, IPv6Address)):
            if value.version != version:
                return f"{value} is not of type {type_name}"
            return None
        if isinstance(value, str) and resolve:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return None  # nft reads an integer as an address, on every path
        return f"{value!r} is not of type {type_name}"
    integer = _INTEGERS.get(type_name)
    if integer is not None:
        bits, names = integer
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < 1 << bits:
                return f"{value} is out of range for {type_name}"
            return None
        if isinstance(value, str) and names:
            return None
        return f"{value!r} is not of type {type_name}"
    if type_name == "ifname":
        if not isinstance(value, str):
            return f"{value!r} is not an interface name"
        if len(value.encode()) >= _IFNAMSIZ:
            return f"{value!r} is longer than an interface name can be"
    elif type_name == "ether_addr":
        if not (isinstance(value, str) and _MAC.match(value)):
            return f"{value!r} is not an ethernet address"
    elif type_name == "verdict" and not isinstance(value, VerdictExpr):
        return f"{value!r} is not a verdict"
    return None


def _value(value: Any, types: Sequence[str] | None, interval: bool, resolve: bool) -> Any:
    """One key or data value: typed, checked against ``types`` (None: unknown)."""
    if isinstance(value, ElemExpr):
        inner = _value(value.val, types, interval, resolve)
        return value if inner is value.val else value.replace(val=inner)
    cls = value.__class__
    if cls is IPv4Network or cls is IPv6Network:
        value = _network(value)
    elif cls is ConcatExpr:
        if types is not None and len(types) != len(value.exprs):
            raise _refuse("elements", f"{value!r}: {len(value.exprs)} values for a "
                                      f"concatenation of {len(types)} ({' . '.join(types)})")
        parts = tuple(_value(p, None if types is None else (types[j],), interval, resolve)
                      for j, p in enumerate(value.exprs))
        if any(a is not b for a, b in zip(parts, value.exprs, strict=True)):
            value = value.replace(exprs=parts)
        return value
    elif isinstance(value, str):
        value = _string(value, types[0] if types is not None and len(types) == 1 else None,
                        resolve)
    if types is None or value == "*":
        return value
    if len(types) > 1:
        raise _refuse("elements", f"{value!r} does not fit a concatenation "
                                  f"({' . '.join(types)})")
    problem = _problem(value, types[0], interval, resolve)
    if problem is not None:
        raise _refuse("elements", problem)
    return value


def _known_types(s: Set | None) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The key and data types to check against (None: unknown, e.g. ``typeof``)."""
    if s is None:
        return None, None
    key = s.type if s.typeof is None and s.type else None
    data = None
    if isinstance(s, Map) and s.data_typeof is None and s.data_type and not s.is_objmap:
        data = s.data_type
    return key, data


def _plain(v: Any) -> bool:
    """Whether ``v`` stays as it is for a set of unknown type: a value of a class that needs
    no look, a string with nothing to type or refuse, or a concatenation of those."""
    c = v.__class__
    if c in _OPAQUE:
        return True
    if c is str:
        return bool(v) and v[0] not in "@$" and "\x00" not in v and "/" not in v
    if c is ConcatExpr:
        for p in v.exprs:  # (a loop, not all(): this runs for every element update)
            pc = p.__class__
            if pc in _OPAQUE or (pc is str and p and p[0] not in "@$" and "\x00" not in p
                                 and "/" not in p):
                continue
            return False
        return True
    return False


def _never(value: object) -> bool:
    return False


def _fits(types: tuple[str, ...] | None) -> Callable[[Any], bool]:
    """A quick test for values that certainly fit ``types`` as they are (False: look
    closer)."""
    if types is None or len(types) != 1:
        return _never
    name = types[0]
    cls = _CLASSES.get(name)
    if cls is not None:
        return lambda v: v.__class__ is cls
    integer = _INTEGERS.get(name)
    if integer is not None:
        limit = 1 << integer[0]
        return lambda v: v.__class__ is int and 0 <= v < limit
    return _never


def typed_elements(elements: tuple[Any, ...], s: Set | None, *, removing: bool,
                   resolve: bool) -> tuple[Any, ...]:
    """``elements`` with values typed (networks and CIDR strings as prefixes, address
    strings as addresses), checked against set ``s`` where known (see the module);
    ValidationError naming the element otherwise. The tuple itself when nothing changed."""
    if s is None:
        for e in elements:
            if _plain(e) or (e.__class__ is tuple and len(e) == 2 and _plain(e[0])
                             and _plain(e[1])):
                continue
            break
        else:
            return elements  # nothing to type, nothing to check against
    key, data = _known_types(s)
    if key is not None and len(key) == 1 and data is None and not isinstance(s, Map):
        cls = _CLASSES.get(key[0])
        if cls is not None and all(e.__class__ is cls for e in elements):
            return elements  # (a set of addresses: the common case, checked at once)
    interval = s is not None and SetFlag.INTERVAL in s.flags
    data_interval = isinstance(s, Map) and s.data_interval
    fits_key, fits_data = _fits(key), _fits(data)
    out: list[Any] = []
    changed = False
    for i, e in enumerate(elements):
        if fits_key(e) or (e.__class__ is tuple and len(e) == 2 and fits_key(e[0])
                           and (removing or fits_data(e[1]))):
            out.append(e)  # (the common shapes, without a call per value)
            continue
        try:
            if isinstance(e, tuple):
                k = _value(e[0], key, interval, resolve)
                d = e[1] if removing else _value(e[1], data, data_interval, resolve)
                new: Any = e if k is e[0] and d is e[1] else (k, d)
            else:
                new = _value(e, key, interval, resolve)
        except ValidationError as exc:
            where = f" of {s.name}" if s is not None else ""
            raise _refuse("elements", f"element {i}{where}: "
                                      f"{str(exc).split(': ', 1)[1]}") from None
        changed = changed or new is not e
        out.append(new)
    return tuple(out) if changed else elements
