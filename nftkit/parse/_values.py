"""Values of the text parser checked against, and normalised to, their datatype.

nft reads a value by the datatype of the expression on the other side: ``tcp dport ssh`` is
port 22 (``/etc/services``), ``meta l4proto icmpv6`` protocol 58 (``/etc/protocols``),
``ct state establishd`` an error ("Could not parse conntrack state"). The grammar reads every
value as a plain word, so the transformer asks this module (``apply``), per match, map key,
mangle value, flag mask and set element, with the JSON-shaped value
(``{"match": {"left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "ssh"}}``
has ``right`` ``22`` afterwards):

- ``check(value, dt)`` raises ``BadValue`` for a value nft cannot read as ``dt``;
- ``normalize(value, dt)`` turns it into what nft stores and prints (its JSON): a service name
  becomes its port (``"ssh"`` -> ``22``), a user name its uid, an alias the canonical symbol
  (``"icmpv6"`` -> ``"ipv6-icmp"``, ``"vlan"`` -> ``"8021q"``) and a number of a symbolic type
  its symbol (``nft -n`` prints ``meta l4proto 6``, ``ct state 0x2,0x4``: ``6`` -> ``"tcp"``,
  ``2`` -> ``"established"``), so numeric and symbolic listings give the same model.

Host databases are read the way nft reads them (services through the C library, protocols
from ``/etc/protocols`` and then the C library, users and groups through ``pwd``/``grp``,
device groups and realms from ``/etc/iproute2``), so what is accepted follows the installed
system, as it does for nft. A value that cannot be read raises a ParseError located at the
token that produced it (``remember`` notes them; see ``error``).
"""

from __future__ import annotations

import contextlib
import functools
import grp
import ipaddress
import pwd
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import attrs
from lark import Token

from ..errors import NftkitError, ParseError
from ..model.datatypes import Datatype, datatype, expr_datatype
from ..nft.datatypes import BITMASKS, DESCRIPTIONS, FREE
from ..nft.symbols import ACCEPTED, PROTO_KEYWORDS
from ._json_decoder import JsonDecoder

__all__ = [
    "EXPECTED",
    "PARSES",
    "BadValue",
    "TemplateNumber",
    "apply",
    "check",
    "checked",
    "convertible",
    "describe",
    "error",
    "forget",
    "in_template",
    "is_flags",
    "lhs_datatype",
    "normalize",
    "plain",
    "recording",
    "remember",
    "set_datatype",
    "set_elements",
    "symbol_tables",
    "value_leaves",
]

J = Any

#: What a value of each checked datatype may be (for the error's "expected ...").
EXPECTED: Final = DESCRIPTIONS
_ETHER = re.compile(r"[0-9a-fA-F]{1,2}(?::[0-9a-fA-F]{1,2}){5}\Z")
_TIME = re.compile(r"(?:\d+d)?(?:\d+h)?(?:\d+m(?!s))?(?:\d+s)?(?:\d+ms)?\Z")
_FREE: Final = FREE  # values never checked (free strings, or not modelled)


class BadValue(Exception):
    """``value`` cannot be read as datatype ``dt`` (the transformer locates it)."""

    def __init__(self, value: J, dt: Datatype) -> None:
        super().__init__(value)
        self.value = value
        self.dt = dt


def describe(dt: Datatype) -> str:
    """What values of ``dt`` look like, for an error message."""
    if dt.name in EXPECTED:
        return EXPECTED[dt.name]
    table = symbol_tables().get(dt.name)
    if table is not None:
        names = sorted(table, key=lambda n: (table[n], n))
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        return f"a {dt.name}: a number or one of {shown}"
    return f"a {dt.name}"


@functools.cache
def symbol_tables() -> dict[str, dict[str, int]]:
    """name -> number per symbolic datatype: nft's symbols and aliases, and the host's
    device groups and realms."""
    out = {k: dict(v) for k, v in ACCEPTED.items()}
    for name, path in (("devgroup", "group"), ("realm", "rt_realms")):
        out[name] = _iproute2(path)
    return out


@functools.cache
def _print_names() -> dict[str, dict[int, str]]:
    """number -> the name nft prints, per symbolic datatype (the first name of a number in
    nft's table order; for ``nftkit.nft.symbols.SYMBOLS`` the order it has)."""
    out: dict[str, dict[int, str]] = {}
    for dt, table in symbol_tables().items():
        names: dict[int, str] = {}
        for name, number in table.items():
            names.setdefault(number, name)
        out[dt] = names
    return out


def _iproute2(name: str) -> dict[str, int]:
    """``NUMBER NAME`` lines of an iproute2 table (nft reads /etc/iproute2; newer iproute2
    installs its defaults under /usr/share/iproute2)."""
    table: dict[str, int] = {}
    for base in ("/usr/share/iproute2", "/etc/iproute2"):
        try:
            text = Path(base, name).read_text()
        except (OSError, UnicodeDecodeError):
            continue
        for line in text.splitlines():
            parts = line.split("#", 1)[0].split()
            if len(parts) >= 2:
                try:
                    table[parts[1]] = int(parts[0], 0)
                except ValueError:
                    continue
    return table


@functools.cache
def _protocols() -> tuple[dict[str, int], dict[int, str]]:
    """/etc/protocols: name or alias -> number, number -> official name (what nft prints)."""
    names: dict[str, int] = {}
    numbers: dict[int, str] = {}
    try:
        text = Path("/etc/protocols").read_text()
    except (OSError, UnicodeDecodeError):
        text = ""
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        number = int(parts[1])
        numbers.setdefault(number, parts[0])
        for n in (parts[0], *parts[2:]):
            names.setdefault(n, number)
    return names, numbers


def _protocol(name: str) -> int | None:
    names, _ = _protocols()
    number = names.get(name)
    if number is None:
        try:  # the C library may know more (nsswitch)
            number = socket.getprotobyname(name)
        except (OSError, ValueError, UnicodeError):
            number = None
    if number is None:
        number = PROTO_KEYWORDS.get(name)
    return number


@functools.lru_cache(maxsize=4096)
def _service(name: str) -> int | None:
    if not name or name[0].isdigit():
        return None
    try:
        return socket.getservbyname(name)
    except (OSError, UnicodeError, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def _user(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except (KeyError, ValueError, UnicodeError):
        return None


@functools.lru_cache(maxsize=4096)
def _group(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except (KeyError, ValueError, UnicodeError):
        return None


@functools.lru_cache(maxsize=65536)  # (addresses recur all over a ruleset)
def _is_addr(s: str, version: int) -> bool:
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return False
    return addr.version == version


def _name_value(s: str, dt: Datatype) -> int | str | None:
    """What the word ``s`` is as a value of ``dt`` (the number or canonical symbol nft stores),
    or None when nft cannot read it as one; ``s`` itself where nothing is checked."""
    name = dt.name
    if name in ("ipv4_addr", "ipv6_addr"):
        return s if _is_addr(s, 4 if name == "ipv4_addr" else 6) else None
    if name == "ether_addr":
        return s if _ETHER.match(s) else None
    if name == "inet_service":
        return _service(s)
    if name == "inet_proto":
        number = _protocol(s)
        if number is None:
            return None
        return _protocols()[1].get(number, s)
    if name == "uid":
        return _user(s)
    if name == "gid":
        return _group(s)
    if name == "relative_time":
        return s if s and _TIME.match(s) else None
    if name in ("integer", "hex_integer", "mark"):
        return None
    table = symbol_tables().get(name)
    if table is None:
        return s
    number = table.get(s)
    if number is None:
        return None
    return _print_names()[name].get(number, s)


def _bits_ok(v: int, dt: Datatype) -> bool:
    return v >= 0 and (dt.bits == 0 or dt.bits >= 64 or v < (1 << dt.bits))


def checked(dt: Datatype | None) -> bool:
    """Whether values of ``dt`` are checked at all."""
    return dt is not None and dt.kind != "concat" and dt.name not in _FREE


def convertible(v: int, dt: Datatype) -> bool:
    """Whether the number ``v`` of ``dt`` becomes a symbol (what ``nft -n`` prints as a
    number and nft's listing as a name)."""
    return _number_symbol(v, dt) is not None


def _number_symbol(v: int, dt: Datatype) -> J:
    name = dt.name
    if name == "inet_proto":
        return _protocols()[1].get(v)
    names = _print_names().get(name)
    if names is None:
        return None
    # (a bitmask value of several flags stays a number: nft prints ``tcp flags == 0xff``, and
    # ``nft -n`` prints a flag list as a list of single-flag numbers, ``0x2,0x4``)
    return names.get(v)


def check(v: J, dt: Datatype | None, *, ranges: bool = True) -> None:
    """Raise ``BadValue`` for a part of ``v`` nft cannot read as ``dt``."""
    normalize(v, dt, ranges=ranges, convert=False)


def normalize(v: J, dt: Datatype | None, *, ranges: bool = True, convert: bool = True,
              numbers: bool = True) -> J:
    """``v`` checked against ``dt`` and, with ``convert``, as nft stores it (see the module
    docstring). ``ranges``: check that numbers fit ``dt``; ``numbers``: turn numbers of
    symbolic types into symbols. Anything that is not a constant (a selector, a map, ...) is
    left as it is."""
    if dt is None:
        return v
    return _value(v, dt, ranges, convert, numbers)


def _value(v: J, dt: Datatype | None, ranges: bool, convert: bool, numbers: bool) -> J:
    if dt is None or dt.name in _FREE:
        return v
    t = type(v)
    concat = dt.kind == "concat"
    if t is int:
        if concat:
            return v
        if ranges and not _bits_ok(v, dt):
            raise BadValue(v, dt)
        if convert and numbers:
            sym = _number_symbol(v, dt)
            if sym is not None:
                return sym
        return v
    if t is str:
        if concat or not v or v[0] in "@$" or v == "*":
            return v
        found = _name_value(v, dt)
        if found is None and v[0].isdigit() and "-" in v:
            # nft's scanner reads ``22-ssh`` as a number, "-" and a symbol: a range
            low, _, high = v.partition("-")
            if low.isdigit() and high:
                return {"range": [_value(int(low), dt, ranges, convert, False),
                                  _value(high, dt, ranges, convert, False)]}
        if found is None:
            raise BadValue(v, dt)
        if isinstance(found, int) and ranges and not _bits_ok(found, dt):
            raise BadValue(v, dt)
        return found if convert else v
    if t is list:  # a flag list: ct state established,related
        return [_value(x, dt, ranges, convert, numbers) for x in v]
    if t is tuple and len(v) == 2:  # a map element (key, data): only the key has this type
        return (_value(v[0], dt, ranges, convert, numbers), v[1])
    if t is not dict or len(v) != 1:
        return v
    ((k, body),) = v.items()
    if k == "concat" and concat and isinstance(body, list) and len(body) == len(dt.parts):
        return {"concat": [_value(x, p, ranges, convert, numbers)
                           for x, p in zip(body, dt.parts, strict=True)]}
    if k == "set" and isinstance(body, list):
        return {"set": [_value(x, dt, ranges, convert, numbers) for x in body]}
    if k == "elem" and isinstance(body, dict) and "val" in body:
        return {"elem": {**body, "val": _value(body["val"], dt, ranges, convert, numbers)}}
    if concat:
        return v
    if k == "range" and isinstance(body, list):
        # nft prints ranges of symbolic types by number (``arp operation 1-2``) but its JSON
        # names each end that has a name, as for a single value (``["request", "reply"]``,
        # ``["addr-unreachable", 66]``): the model holds that one form from both readers.
        # (Not protocols nor flags: nft's JSON keeps ``[6, 17]`` and ``ct state`` ``[1, 2]``.)
        named = numbers and dt.name != "inet_proto" and dt.name not in BITMASKS
        return {"range": [_value(x, dt, ranges, convert, named) for x in body]}
    if k == "prefix" and isinstance(body, dict) and "addr" in body:
        return {"prefix": {**body, "addr": _value(body["addr"], dt, ranges, convert,
                                                  numbers)}}
    if k in ("|", "^") and isinstance(body, list) and len(body) == 2 and dt.name in BITMASKS:
        return {k: [_value(x, dt, ranges, convert, numbers) for x in body]}  # syn | ack
    return v  # selectors, maps, bit operations on other types: not a constant of this type


def value_leaves(v: J, dt: Datatype | None) -> list[tuple[J, Datatype]]:
    """The constants of ``v`` that ``check(v, dt)`` checks, each with the datatype it is
    checked against (``{"set": [22, 80]}`` of ``inet_service``: both ports; a concatenation:
    each part with its part's type). It follows ``_value`` step by step: the listing fast
    path (``_fast``) checks a template's stand-ins by these datatypes once the real values
    are known, so ``check(leaf, leaf_dt)`` must raise exactly where ``check(v, dt)`` would."""
    out: list[tuple[J, Datatype]] = []
    _leaves(v, dt, out)
    return out


def _leaves(v: J, dt: Datatype | None, out: list[tuple[J, Datatype]]) -> None:
    if dt is None or dt.name in _FREE:
        return
    t = type(v)
    concat = dt.kind == "concat"
    if t is int or t is str:
        if not concat:
            out.append((v, dt))
        return
    if t is list:
        for x in v:
            _leaves(x, dt, out)
        return
    if t is tuple and len(v) == 2:
        _leaves(v[0], dt, out)
        return
    if t is not dict or len(v) != 1:
        return
    ((k, body),) = v.items()
    if k == "concat" and concat and isinstance(body, list) and len(body) == len(dt.parts):
        for x, p in zip(body, dt.parts, strict=True):
            _leaves(x, p, out)
    elif k == "set" and isinstance(body, list):
        for x in body:
            _leaves(x, dt, out)
    elif k == "elem" and isinstance(body, dict) and "val" in body:
        _leaves(body["val"], dt, out)
    elif concat:
        return
    elif (k == "range" and isinstance(body, list)) or (
            k in ("|", "^") and isinstance(body, list) and len(body) == 2
            and dt.name in BITMASKS):
        for x in body:
            _leaves(x, dt, out)
    elif k == "prefix" and isinstance(body, dict) and "addr" in body:
        _leaves(body["addr"], dt, out)


# --- the transformer's side: where a value came from, what the left-hand side is ----------

_local = threading.local()
#: Per thread: the stack of parses in progress, the innermost last (``nftkit.parse.nft``
#: pushes its per-parse contexts here; ``in_template`` reads the innermost one).
PARSES = threading.local()
#: datatypes of left-hand sides by their JSON (the same selectors recur all over a ruleset)
_LHS: dict[str, Datatype | None] = {}
#: selectors whose "integer" datatype is known to be exact (elsewhere ``integer`` is the
#: model's fallback for fields it has no datatype for, and those are left unchecked)
_INTEGER_SELECTORS: Final = frozenset({"meta", "payload", "ct"})


def plain(v: J) -> J:
    """JSON values all the way down (tokens become str, tuples lists)."""
    if isinstance(v, Token):
        return str(v)
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [plain(x) for x in v]
    return v


def remember(value: J, tok: Token) -> None:
    """Note that ``tok`` produced ``value`` (so a bad value can be located)."""
    seen: list[tuple[J, Token]] | None = getattr(_local, "seen", None)
    if seen is None:
        seen = _local.seen = []
    elif len(seen) >= 4096:
        del seen[:2048]
    seen.append((value, tok))


def forget() -> None:
    """Drop the noted values (a statement or block is complete)."""
    seen: list[tuple[J, Token]] | None = getattr(_local, "seen", None)
    if seen:
        seen.clear()


def _locate(value: J) -> Token | None:
    seen: list[tuple[J, Token]] = getattr(_local, "seen", None) or []
    for v, tok in reversed(seen):
        if type(v) is type(value) and v == value:
            return tok
    return seen[-1][1] if seen else None


def locate(value: J) -> Token | None:
    """The token that produced ``value`` in the current statement (or the last one noted)."""
    return _locate(value)


def error(exc: BadValue) -> ParseError:
    """A located ParseError for a value nft cannot read."""
    tok = _locate(exc.value)
    if isinstance(exc.value, int) and exc.dt.bits:
        message = f"{exc.value} is out of range for {exc.dt.name} " \
                  f"(0-{(1 << exc.dt.bits) - 1})"
    else:
        message = f'"{str(exc.value)[:60]}" is not a valid {exc.dt.name}'
    return ParseError(message, line=tok.line
                      if tok is not None else None, column=tok.column if tok is not None
                      else None, expected=(describe(exc.dt),))


def lhs_datatype(left: J) -> Datatype | None:
    """The datatype values compared with the JSON-shaped selector ``left`` must have, or None
    when they are not checked."""
    try:
        key = repr(left)  # (tokens and strs give different keys: only a cache miss)
    except RecursionError:
        return None
    if key in _LHS:
        return _LHS[key]
    dt = _lhs_datatype(left)
    if len(_LHS) >= 4096:
        _LHS.clear()
    _LHS[key] = dt
    return dt


def _lhs_datatype(left: J) -> Datatype | None:
    if not isinstance(left, dict) or len(left) != 1 or _shifted(left):
        return None
    try:
        expr = JsonDecoder().expr(plain(left))
    except NftkitError:  # not a selector the model reads: nothing to check against
        return None
    dt = expr_datatype(expr)
    if dt is None or _family_free(left):
        return None
    if dt.kind == "concat":
        parts = tuple(_exact(p, s) for p, s in zip(dt.parts, _concat_parts(left), strict=False))
        return attrs.evolve(dt, parts=parts)
    return _exact(dt, left)


def _shifted(left: J) -> bool:
    """Whether a shift is applied to the selector (``ip dscp << 2``): its values are plain
    numbers, not the selector's symbols."""
    while isinstance(left, dict) and len(left) == 1:
        ((k, body),) = left.items()
        if k in ("<<", ">>"):
            return True
        if k not in ("&", "|", "^") or not isinstance(body, list) or not body:
            return False
        left = body[0]
    return False


def _concat_parts(left: J) -> list[J]:
    body = left.get("concat") if isinstance(left, dict) else None
    return body if isinstance(body, list) else []


def _exact(dt: Datatype | None, left: J) -> Datatype | None:
    """``dt``, or None where it is the model's ``integer`` fallback rather than a known type."""
    if dt is None or dt.name not in ("integer", "hex_integer"):
        return dt
    while isinstance(left, dict) and len(left) == 1 and next(iter(left)) in ("&", "|", "^"):
        left = next(iter(left.values()))[0]
    if not isinstance(left, dict) or len(left) != 1:
        return None
    ((k, body),) = left.items()
    if k not in _INTEGER_SELECTORS or not isinstance(body, dict):
        return None
    if k == "payload" and "protocol" not in body:
        return None  # raw payloads: @nh,0,8 (nft reads them in hex, by their length)
    if k == "ct" and body.get("key") in ("saddr", "daddr"):
        return None  # an address of the table's family
    return dt


def _family_free(left: J) -> bool:
    """Whether ``left`` is an address selector whose family is the table's (``rt nexthop``
    in an ip6 table is an IPv6 address; the model assumes IPv4)."""
    return isinstance(left, dict) and len(left) == 1 and isinstance(left.get("rt"), dict) \
        and "family" not in left["rt"]


def is_flags(left: J) -> bool:
    """Whether the selector ``left`` has a bitmask type (``tcp flags``, ``ct state``)."""
    dt = lhs_datatype(left)
    return dt is not None and dt.name in BITMASKS


def set_datatype(spec: J) -> Datatype | None:
    """The datatype of a set's keys or data from its ``type``/``typeof`` item (a type name, a
    list of names for a concatenation, or ``{"typeof": selector}``)."""
    if isinstance(spec, str):
        return None if spec == "verdict" else datatype(spec)
    if isinstance(spec, list) and all(isinstance(x, str) for x in spec):
        parts = tuple(datatype(x) for x in spec)
        return Datatype(name=" . ".join(spec), kind="concat", parts=parts)
    if isinstance(spec, dict) and "typeof" in spec:
        return lhs_datatype(spec["typeof"])
    return None


def set_elements(items: list[Any], elements: list[J]) -> list[J]:
    """``elements`` of the set whose block items (``("type", [key, data])``, ...) are
    ``items``, checked against and normalised to its key and data types (the transformer's
    set blocks; a reader that parses elements apart from their set calls this too)."""
    types = [x[1] for x in items if isinstance(x, tuple) and len(x) == 2 and x[0] == "type"]
    if not types or not isinstance(types[0], list) or not elements:
        return elements
    spec = types[0]
    key_dt = set_datatype(spec[0])
    data_dt = set_datatype(spec[1]) if len(spec) > 1 else None
    if key_dt is None and data_dt is None:
        return elements
    out: list[J] = []
    for e in elements:
        if isinstance(e, tuple) and len(e) == 2:  # a map element: key and data typed apart
            out.append((apply(e[0], key_dt), apply(e[1], data_dt)))
        else:
            out.append(apply(e, key_dt))
    forget()  # (a long element list: its tokens are not needed any more)
    return out


def in_template() -> bool:
    """Whether the text being parsed is a fast-path template (``nftkit.parse._fast``): its
    numbers are stand-ins, so they are neither range-checked nor turned into symbols."""
    stack: list[Any] = getattr(PARSES, "stack", None) or []
    return bool(stack) and bool(stack[-1].template)


class TemplateNumber(ParseError):
    """A fast-path template holds a stand-in where a number of a symbolic type stands (``nft
    -n`` output: ``meta l4proto 6`` is ``tcp``): the template cannot be reused with the real
    numbers substituted, so the fast path gives up and the whole text goes through lark (a
    listing whose lines would each need lark is parsed faster as one text)."""

    def __init__(self) -> None:
        super().__init__("a number of a symbolic type in a fast-path template")


#: Per thread: where ``apply`` notes the ``(value, datatype)`` of each call, while the listing
#: fast path records the checks a template's values go through (``recording``).
_recording = threading.local()


@contextlib.contextmanager
def recording(pairs: list[tuple[J, Datatype]]) -> Iterator[None]:
    """Within the block, each successful ``apply(v, dt)`` of this thread with a datatype
    appends ``(v, dt)`` to ``pairs`` (nested blocks: the innermost list)."""
    prev = getattr(_recording, "pairs", None)
    _recording.pairs = pairs
    try:
        yield
    finally:
        _recording.pairs = prev


def apply(v: J, dt: Datatype | None) -> J:
    """``v`` checked against and normalised to ``dt``; a located ParseError if invalid."""
    out = _apply(v, dt)
    if dt is not None:
        pairs = getattr(_recording, "pairs", None)
        if pairs is not None:
            pairs.append((v, dt))
    return out


def _apply(v: J, dt: Datatype | None) -> J:
    if dt is None or dt.name in _FREE:
        return v
    try:
        if in_template():
            out = _value(v, dt, False, True, True)
            if _has_stand_in(out, dt):
                raise TemplateNumber
            return out
        return _value(v, dt, True, True, True)
    except BadValue as exc:
        raise error(exc) from None


#: The fast path's stand-in numbers start here (``_fast._sentinel``); no number of a symbolic
#: type in an nft listing is this large (tests/test_parse_values.py checks that the fast path
#: and lark agree on ``nft -n`` listings).
_STAND_IN = 100_000_000


def _has_stand_in(v: J, dt: Datatype | None) -> bool:
    """Whether ``v`` holds a template's stand-in for a number of a symbolic type: one that
    stayed a number here, but whose real value may be a symbol."""
    if dt is None or dt.name in _FREE:
        return False
    if type(v) is int:
        return dt.kind != "concat" and (dt.name == "inet_proto" or dt.name in _print_names()) \
            and (v >= _STAND_IN or not _bits_ok(v, dt))
    if isinstance(v, list):
        return any(_has_stand_in(x, dt) for x in v)
    if isinstance(v, tuple) and len(v) == 2:
        return _has_stand_in(v[0], dt)
    if isinstance(v, dict) and len(v) == 1:
        ((k, body),) = v.items()
        if k == "concat" and dt.kind == "concat" and isinstance(body, list):
            return any(_has_stand_in(x, p) for x, p in zip(body, dt.parts, strict=False))
        if k == "set" and isinstance(body, list):
            return any(_has_stand_in(x, dt) for x in body)
        if k == "elem" and isinstance(body, dict):
            return _has_stand_in(body.get("val"), dt)
        if k in ("|", "^") and isinstance(body, list):
            return any(_has_stand_in(x, dt) for x in body)
    return False
