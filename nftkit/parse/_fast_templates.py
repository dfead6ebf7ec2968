"""The proven templates of the listing fast path (``_fast``): stand-ins, proof, substitution.

A line's variable words (holes) are replaced by stand-ins (``sentinel``: two disjoint sets),
the line is parsed with each set, and the template is reused only when the second result is
the first with the stand-ins swapped. ``Template`` holds the proven result and, once compiled
(``_codegen``), a line pattern and a builder over its groups; ``value_guards`` are the value
checks the builder makes (the checks lark made of the stand-ins: ``Recorder``); ``substitute``
and ``msub`` put the real values into JSON and model results.
"""

from __future__ import annotations

import functools
import re
import socket
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import attrs

from .._node import Node
from ..model.datatypes import Datatype
from . import _values
from ._codegen import Gen, matcher

__all__ = ["DOTTED", "DOTTED_QUAD", "Pairs", "Recorder", "Template", "built", "has_node",
           "hole_atoms", "model_table", "msub", "same_model", "sentinel", "substitute",
           "value_guards"]

J = Any
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
#: a canonical dotted quad (each octet 0-255, no leading zeros)
DOTTED_QUAD = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
DOTTED = re.compile(DOTTED_QUAD)


def sentinel(cls: str, k: int, alt: int) -> str:
    """The k-th sentinel of a class; ``alt`` picks one of two disjoint sentinel sets."""
    n = 100_000_000 + 2 * k + alt
    if cls == "int":
        return str(n)
    if cls == "hex":
        return f"0x{n:08x}"
    ip = f"198.{18 + alt}.{k // 256}.{k % 256}"
    if cls == "ipv4":
        return ip
    if cls == "ipv4port":
        return f"{ip}:{40000 + 2 * k + alt}"
    if cls == "string":
        return f'"zq{alt}s{k}"'
    return f"zq{alt}n{k}"  # a name


def hole_atoms(cls: str, text: str) -> list[J]:
    """The JSON atoms a word of this class can turn into (positions match across words)."""
    if cls == "int":
        return [int(text), text]
    if cls == "hex":
        return [int(text, 16), text]
    if cls == "ipv4port":
        addr, _, port = text.partition(":")
        return [addr, int(port), text]
    if cls == "string":
        return [text[1:-1]]
    return [text]


Pairs = list[tuple[J, Datatype]]


class Recorder:
    """Parses with the ``(value, datatype)`` of every ``_values.apply`` call noted
    (``_values.recording``): the checks a template's values went through."""

    @staticmethod
    def parse(parse_items: Callable[[str], list[Any]], text: str,
              pairs: Pairs | None) -> list[Any]:
        """``parse_items(text)``; the checks of its values are added to ``pairs``, or, with
        None (the text is a real line, not a template), made again with range checks (what
        lark outside a template does: BadValue here makes the fast path give up)."""
        rec: Pairs = []
        with _values.recording(rec):
            items = parse_items(text)
        if pairs is None:
            for v, dt in rec:
                _values.check(v, dt)
        else:
            pairs.extend(rec)
        return items


_Guard = tuple[tuple[type, J], "Callable[[Any], object] | None", "int | None"]


def value_guards(pairs: Pairs, keys: list[J], holes: list[tuple[str, str]]
            ) -> list[_Guard] | None:
    """The checks a template's builder makes on its holes' values, from the checks its
    stand-ins went through (``pairs``): ``(leaf key, check function, upper limit)``. None
    when a stand-in sits inside a constant (its value cannot be checked apart); BadValue when
    a constant of the template itself is invalid (the template is not used)."""
    bounds: dict[tuple[type, J], int] = {}  # an int leaf: the largest value its hole matches
    dotted: set[str] = set()  # leaves that the hole's pattern makes valid IPv4 addresses
    for k, (cls, _) in enumerate(holes):
        atoms = hole_atoms(cls, sentinel(cls, k, 0))
        if cls in ("int", "hex"):
            bounds[(int, atoms[0])] = 999_999_999 if cls == "int" else 0xFFFFFFFF
        elif cls == "ipv4port":
            bounds[(int, atoms[1])] = 99_999
            dotted.add(atoms[0])
        elif cls == "ipv4":
            dotted.add(atoms[0])
    known = {(type(a), a) for a in keys}
    texts = [a for a in keys if type(a) is str]
    out: list[_Guard] = []
    for v, dt in pairs:
        for leaf, ldt in _values.value_leaves(v, dt):
            key = (type(leaf), leaf)
            if key in known:
                if type(leaf) is int:
                    if 0 < ldt.bits < 64 and bounds.get(key, 1 << 64) >= 1 << ldt.bits:
                        out.append((key, None, (1 << ldt.bits) - 1))
                elif not (ldt.name == "ipv4_addr" and leaf in dotted):
                    out.append((key, functools.partial(_values.check, dt=ldt), None))
            elif (type(leaf) is int and _STAND_IN <= leaf <= _STAND_IN + 2 * len(holes) + 1) \
                    or (type(leaf) is str and any(t in leaf for t in texts)):
                return None
            else:
                _values.check(leaf, ldt)
    return out


#: the fast path's smallest stand-in number (``sentinel``)
_STAND_IN = 100_000_000


class Template:
    __slots__ = ("comment", "guards", "ir", "make", "match", "ok", "proof", "refs", "stmts",
                 "subst_keys")

    def __init__(self, ir: J, subst_keys: list[J], ok: bool) -> None:
        self.ir = ir
        self.subst_keys = subst_keys
        self.ok = ok
        self.stmts: tuple[Any, ...] = ()
        self.refs: list[tuple[str, str]] = []
        self.comment: str | None = None
        #: the checks of the holes' values (``value_guards``)
        self.guards: list[_Guard] = []
        #: the compiled line pattern (``fullmatch``) and builder over its groups (_codegen);
        #: ``proof``: the builder without the checks (for the proof parses' stand-ins)
        self.match: Callable[[str], re.Match[str] | None] | None = None
        self.make: Callable[[Sequence[str | None]], Any] | None = None
        self.proof: Callable[[Sequence[str | None]], Any] | None = None

    def compile_rule(self, key: str, holes: list[tuple[str, str]],
                     keywords: frozenset[str]) -> bool:
        """Make ``match``/``make`` for a proven rule template (False: cannot)."""
        found = matcher(key, [cls for cls, _ in holes])
        if found is None:
            return False
        pattern, atoms, names = found
        table = model_table(self.subst_keys, self.subst_keys)
        live: set[int] = set()
        _mark(self.stmts, table, live)
        plan = _plan(self.stmts, table, live)
        exprs: dict[tuple[type, J], str] = {}
        for i, k in enumerate(self.subst_keys):
            exprs[(type(k), k)] = atoms[i]
            if type(k) is str:  # an address sentinel is also an address leaf
                try:
                    a = _addr(k)
                except ValueError:
                    continue
                exprs[(type(a), a)] = f"_addr({atoms[i]})"
        gen = Gen(exprs)
        gen.ns["_addr"] = _addr
        if plan is None:
            stmts = f"list({gen.const(self.stmts)})"
        else:
            stmts = "[" + "".join(gen.model(v, p) + ", "
                                  for v, p in zip(self.stmts, plan[1], strict=True)) + "]"

        def text(s: str) -> str:  # a name or comment: the hole's word if it is a sentinel
            return gen.var((str, s)) if gen.has((str, s)) else gen.const(s)

        refs = "[" + "".join(f"({gen.const(k)}, {text(n)}), " for k, n in self.refs) + "]"
        result = f'{{"expr": {stmts}, "refs": {refs}'
        if self.comment is not None:
            result += f', "comment": {text(self.comment)}'
        for guard in self.guards:
            gen.guard(*guard)
        self.make = gen.function(result + "}", names, keywords, "rule")
        self.proof = gen.function(result + "}", names, keywords, "rule", guards=False)
        self.match = pattern.fullmatch
        return True

    def compile_element(self, key: str, holes: list[tuple[str, str]],
                        keywords: frozenset[str]) -> bool:
        """Make ``match``/``make`` for a proven element template (False: cannot)."""
        found = matcher(key, [cls for cls, _ in holes])
        if found is None:
            return False
        pattern, atoms, names = found
        gen = Gen({(type(k), k): atoms[i] for i, k in enumerate(self.subst_keys)})
        result = gen.json(self.ir)
        for guard in self.guards:
            gen.guard(*guard)
        self.make = gen.function(result, names, keywords, "element")
        self.proof = gen.function(result, names, keywords, "element", guards=False)
        self.match = pattern.fullmatch
        return True


def built(tpl: Template, text: str, proof: bool = False) -> Any:
    """What the template's compiled builder makes of ``text`` (None: no match); ``proof``:
    the builder without value checks (``text`` is a proof parse's, with stand-ins)."""
    make = tpl.proof if proof else tpl.make
    if tpl.match is None or make is None:
        return None
    m = tpl.match(text)
    return None if m is None else make(m.groups())


def same_model(a: Any, b: Any) -> bool:
    return bool(a == b) and repr(a) == repr(b)


def _plan(x: Any, table: dict[tuple[type, J], J], live: set[int]) -> Any:
    """How to rebuild ``x``: None (unchanged), ("leaf", key), ("tuple", [plans]) or
    ("node", [(field, plan)])."""
    t = type(x)
    if t in _LEAVES:
        return ("leaf", (t, x)) if (t, x) in table else None
    if id(x) not in live:
        return None
    if t is tuple:
        return ("tuple", [_plan(v, table, live) for v in x])
    names = _FIELDS.get(t)
    if names is None:
        names = _FIELDS[t] = tuple(f.name for f in attrs.fields(t))
    return ("node", [(n, p) for n in names
                     if (p := _plan(getattr(x, n), table, live)) is not None])


def _mark(x: Any, table: dict[tuple[type, J], J], live: set[int]) -> bool:
    """Record id() of every node/tuple under which a sentinel leaf sits."""
    t = type(x)
    if t in _LEAVES:
        return (t, x) in table
    found = False
    if t is tuple:
        for v in x:
            found = _mark(v, table, live) or found
    elif isinstance(x, Node):
        for f in attrs.fields(t):
            found = _mark(getattr(x, f.name), table, live) or found
    if found:
        live.add(id(x))
    return found


_FIELDS: dict[type, tuple[str, ...]] = {}
_LEAVES = (int, str, IPv4Address, IPv6Address)


def model_table(keys: list[J], values: list[J]) -> dict[tuple[type, J], J]:
    """Sentinel -> value for model leaves: strings also as the addresses they decode to."""
    table: dict[tuple[type, J], J] = {}
    for k, v in zip(keys, values, strict=True):
        table[(type(k), k)] = v
        if type(k) is str:
            try:
                addr_k = _addr(k)
                addr_v = _addr(v)
            except ValueError:
                continue
            table[(type(addr_k), addr_k)] = addr_v
    return table


def _addr(s: str) -> IPv4Address | IPv6Address:
    found = _ADDRS.get(s)  # addresses recur (an endpoint is in its jump and its dnat rule)
    if found is not None:
        return found
    if DOTTED.fullmatch(s):  # canonical dotted quad: inet_aton reads it exactly
        found = IPv4Address(int.from_bytes(socket.inet_aton(s), "big"))
    elif s and (s[0].isdigit() or ":" in s):
        found = IPv4Address(s) if ":" not in s else IPv6Address(s)
    else:
        raise ValueError(s)
    if len(_ADDRS) >= 65536:
        _ADDRS.clear()
    _ADDRS[s] = found
    return found


_ADDRS: dict[str, IPv4Address | IPv6Address] = {}


def msub(x: Any, table: dict[tuple[type, J], J], live: set[int] | None) -> Any:
    """``x`` with every leaf found in ``table`` replaced (nodes rebuilt, validators run);
    ``live``, when given, holds the ids of the only nodes that contain such leaves."""
    t = type(x)
    if t in _LEAVES:
        return table.get((t, x), x)
    if live is not None and id(x) not in live:
        return x
    if t is tuple:
        items = tuple(msub(v, table, live) for v in x)
        return x if all(a is b for a, b in zip(items, x, strict=True)) else items
    if isinstance(x, Node):
        names = _FIELDS.get(t)
        if names is None:
            names = _FIELDS[t] = tuple(f.name for f in attrs.fields(t))
        changes = {}
        for name in names:
            v = getattr(x, name)
            nv = msub(v, table, live)
            if nv is not v:
                changes[name] = nv
        return attrs.evolve(x, **changes) if changes else x  # type: ignore[misc]
    return x


def substitute(obj: J, table: dict[tuple[type, J], J]) -> J:
    t = type(obj)
    if t is dict:
        return {k: substitute(v, table) for k, v in obj.items()}
    if t is list:
        return [substitute(v, table) for v in obj]
    if t is tuple:
        return tuple(substitute(v, table) for v in obj)
    if t is int or t is str:
        return table.get((t, obj), obj)
    return obj


def has_node(obj: J) -> bool:
    if isinstance(obj, Node):
        return True
    if isinstance(obj, dict):
        return any(has_node(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return any(has_node(v) for v in obj)
    return False
