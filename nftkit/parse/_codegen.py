"""Compiled matchers and builders for the listing fast path's templates (``_fast``).

A template is a rule or element line with its variable words replaced by typed holes
(``ip saddr \\0ipv4\\0 jump \\0name\\0``). For each proven template this module makes:

- a **matcher**: one regular expression that matches exactly the lines the template scanner
  (``_fast._HOLES``) would reduce to that template, capturing the hole words. A line is then
  matched by C code in one call instead of a Python callback per token. The hole patterns
  are the scanner's own (same classes, same end-of-word rule); a ``name`` hole is only
  allowed where the scanner allows one (right after a literal ``jump``/``goto``) and may not
  itself end in ``jump``/``goto`` (the scanner would then read the next word as a name too),
  and the builder refuses a name that is a keyword (the scanner keeps keywords as text).
- a **builder**: a function of the captured words, generated as Python source, that
  converts each hole once (``int(..)``, ``int(.., 16)``, the address) and rebuilds only the
  nodes above a hole, each with a compiled constructor (``_ctor.constructor``) that runs the
  converters, validators and post-init checks of the changed fields only; and that checks
  each hole's value against the datatype lark checked its stand-in against (``guard``: a
  port above 65535 raises ``Refused``; the template's parse does not range-check stand-ins).

Both are checked against the template's two proof parses before use (``_fast``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ._ctor import constructor

__all__ = ["Gen", "Refused", "matcher"]

J = Any
_END = r"(?![\w.:/\-\[\]%])"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_Q = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"

#: per hole class: its pattern (as in the scanner) and how many groups it captures
_PATTERNS: dict[str, tuple[str, int]] = {
    "int": (rf"([1-9]\d{{0,8}}|0){_END}", 1),
    "hex": (rf"(0x[0-9a-f]{{1,8}}){_END}", 1),
    "ipv4": (rf"({_Q}){_END}", 1),
    "ipv4port": (rf"(({_Q}):([1-9]\d{{0,4}})){_END}", 3),
    "string": (r'"([^"\n]*)"', 1),
    "name": (rf"([A-Za-z_][\w./\-]*){_END}(?<!jump)(?<!goto)", 1),
}


class Refused(Exception):
    """A hole's value is not valid where it stands (``tcp dport 99999``): the fast path gives
    up, and lark, reading the whole text, reports the error where it is."""


def _atom_exprs(cls: str, g: int) -> list[str]:
    """Python expressions (over the match groups ``g``) of a hole's atoms, in the order of
    ``_fast_templates.hole_atoms``: int -> (value, text), hex -> (value, text), ipv4port -> (address
    text, port, text), others -> (text,) (a string without its quotes)."""
    if cls == "int":
        return [f"int(g[{g}])", f"g[{g}]"]
    if cls == "hex":
        return [f"int(g[{g}], 16)", f"g[{g}]"]
    if cls == "ipv4port":
        return [f"g[{g + 1}]", f"int(g[{g + 2}])", f"g[{g}]"]
    return [f"g[{g}]"]


def matcher(key: str, classes: Sequence[str]
            ) -> tuple[re.Pattern[str], list[str], list[int]] | None:
    """(the line pattern, the atoms' expressions, the groups holding names) of a template
    key, or None when no pattern can stand for the scanner there."""
    parts = key.split("\0")
    if len(parts) != 2 * len(classes) + 1 or parts[1::2] != list(classes):
        return None  # a NUL in the line itself: leave it to the scanner
    pattern: list[str] = []
    atoms: list[str] = []
    names: list[int] = []
    g = 0
    for k, cls in enumerate(classes):
        literal = parts[2 * k]
        pattern.append(re.escape(literal))
        if cls == "name":
            if not literal.endswith(("jump ", "goto ")):
                return None  # the scanner's look-behind reached into another hole
            names.append(g)
        regex, groups = _PATTERNS[cls]
        pattern.append(regex)
        atoms.extend(_atom_exprs(cls, g))
        g += groups
    pattern.append(re.escape(parts[-1]))
    return re.compile("".join(pattern)), atoms, names


def _init_names(t: type) -> dict[str, str]:
    return {f.name: f.alias or f.name for f in attrs.fields(t) if f.init}


def _slow(cls: type, x: Any, free: tuple[str, ...]) -> Callable[..., Any]:
    """``cls(**fields of x, **free)``: for a class ``constructor`` cannot compile."""
    inits = _init_names(cls)
    base = {alias: getattr(x, name) for name, alias in inits.items()}
    aliases = [inits[n] for n in free]  # KeyError: not an init field (template refused)

    def make(*values: Any) -> Any:
        kwargs = base.copy()
        kwargs.update(zip(aliases, values, strict=True))
        return cls(**kwargs)

    return make


class Gen:
    """Writes one builder function: ``make(g)`` over a match's groups ``g``.

    ``exprs`` maps a template leaf, as ``(type, sentinel value)``, to the expression of the
    value that replaces it; each is computed once, on first use, into a local variable.
    """

    def __init__(self, exprs: dict[tuple[type, J], str]) -> None:
        self.exprs = exprs
        self.ns: dict[str, Any] = {}
        #: the body: (line, whether it is a guard: left out of the unguarded builder)
        self.lines: list[tuple[str, bool]] = []
        self.vars: dict[tuple[type, J], str] = {}

    def const(self, x: Any) -> str:
        name = f"_k{len(self.ns)}"
        self.ns[name] = x
        return name

    def var(self, key: tuple[type, J]) -> str:
        v = self.vars.get(key)
        if v is None:
            v = self.vars[key] = f"x{len(self.vars)}"
            self.lines.append((f"    {v} = {self.exprs[key]}", False))
        return v

    def guard(self, key: tuple[type, J], check: Callable[[Any], object] | None,
              limit: int | None = None) -> None:
        """Check the value replacing leaf ``key``: ``value <= limit`` (a number; Refused
        otherwise), or ``check(value)`` (which raises for a bad value)."""
        v = self.var(key)
        if limit is not None:
            self.ns["_Refused"] = Refused
            self.lines.append((f"    if {v} > {limit}:\n        raise _Refused", True))
        if check is not None:
            self.lines.append((f"    {self.const(check)}({v})", True))

    def has(self, key: tuple[type, J]) -> bool:
        return key in self.exprs

    def model(self, x: Any, plan: Any) -> str:
        """The expression rebuilding model value ``x`` by ``plan`` (``_fast_templates._plan``)."""
        if plan is None:
            return self.const(x)
        kind, arg = plan
        if kind == "leaf":
            return self.var(arg)
        if kind == "tuple":
            return "(" + "".join(self.model(v, p) + ", "
                                 for v, p in zip(x, arg, strict=True)) + ")"
        cls = type(x)
        free = tuple(n for n, _ in arg)
        fixed = {f.name: getattr(x, f.name) for f in attrs.fields(cls) if f.name not in free}
        make = constructor(cls, fixed, free) or _slow(cls, x, free)
        return f"{self.const(make)}(" + ", ".join(self.model(getattr(x, n), p)
                                                  for n, p in arg) + ")"

    def json(self, obj: J) -> str:
        """The expression rebuilding JSON ``obj`` with its hole leaves replaced (fresh
        containers, other leaves shared: what ``_fast_templates.substitute`` does)."""
        t = type(obj)
        if t is dict:
            return "{" + ", ".join(f"{self.const(k)}: {self.json(v)}"
                                   for k, v in obj.items()) + "}"
        if t is list:
            return "[" + ", ".join(self.json(v) for v in obj) + "]"
        if t is tuple:
            return "(" + "".join(self.json(v) + ", " for v in obj) + ")"
        if (t is int or t is str) and (t, obj) in self.exprs:
            return self.var((t, obj))
        return self.const(obj)

    def function(self, result: str, names: Sequence[int], keywords: frozenset[str],
                 label: str, guards: bool = True) -> Callable[[Sequence[str | None]], Any]:
        """``make(g)``: ``result`` evaluated over ``g``, or None when a name is a keyword;
        without ``guards`` (for the proof parses, whose stand-ins are out of range) the
        values are not checked."""
        head = []
        if names:
            self.ns["_KW"] = keywords
            cond = " or ".join(f"g[{i}] in _KW" for i in names)
            head.append(f"    if {cond}:\n        return None")
        body = [line for line, guard in self.lines if guards or not guard]
        src = ("def make(g):\n" + "\n".join([*head, *body])
               + f"\n    return {result}\n")
        exec(compile(src, f"<nftkit template {label}>", "exec"), self.ns)
        make: Callable[[Sequence[str | None]], Any] = self.ns["make"]
        return make
