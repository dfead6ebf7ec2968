"""A fast path for ``nft list ruleset`` output: rule and element templates.

A listing of a large ruleset repeats a few rule and element shapes thousands of times with
different addresses, ports and chain names (``ip saddr 10.244.1.5 jump mark-for-masquerade``,
``10.96.0.1 . tcp . 80 : goto svc-0``). Running every token through lark's LALR parser costs
seconds; here each line is reduced to a *template* by replacing its variable words (IPv4
addresses, numbers, hex numbers, ``addr:port``, quoted strings, jump targets) by sentinels,
the template is parsed once by the real grammar, and every line of that shape reuses the
result with its own values substituted back.

A template is only reused when that is provably the same as parsing the line: it is parsed
twice with two different sentinel sets, and the second result must equal the first with the
sentinels swapped. A template whose result depends on the values in any other way (a
``last used 30`` that becomes milliseconds, say) fails that test and its lines go through
lark one by one. Any listing this module does not recognise line by line (scripts, defines,
includes, unusual layouts) returns None, and the caller parses the whole text with lark.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import attrs
from lark import Token

from .._node import Node
from ._apply import _references, _reject_defaults
from .json import JsonDecoder, decode_rule
from .transformer import TableBlock, plain

__all__ = ["FastListing"]

J = Any
_WORD = r"[\w\[][\w.:/\-\[\]%]*"
# the tokens of a line, as far as templates care: strings, @refs, $vars, words, the rest
_SCAN = re.compile(rf'"[^"\n]*"|@[\w.,/\-]+|\$\w+|{_WORD}|\S')
_IPV4 = r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"
_CLASSES: list[tuple[str, re.Pattern[str]]] = [
    ("int", re.compile(r"[1-9]\d{0,8}|0")),
    ("hex", re.compile(r"0x[0-9a-f]{1,8}")),
    ("ipv4", re.compile(_IPV4)),
    ("ipv4port", re.compile(rf"{_IPV4}:\d{{1,5}}")),
]
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_Q = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
_END = r"(?![\w.:/\-\[\]%])"
# one pass over a line: the variable words become holes (by class), the rest stays text
_HOLES = re.compile(
    r'(?P<string>"[^"\n]*")|@[\w.,/\-]+|\$\w+'
    rf"|(?P<ipv4port>{_Q}:[1-9]\d{{0,4}}){_END}|(?P<ipv4>{_Q}){_END}"
    rf"|(?P<hex>0x[0-9a-f]{{1,8}}){_END}|(?P<int>[1-9]\d{{0,8}}|0){_END}"
    rf"|(?<=jump |goto )(?P<name>[A-Za-z_][\w./\-]*){_END}|{_WORD}"
)
#: what a hole of each class leaves in the template key
_MARKS = {c: "\0" + c + "\0" for c in ("string", "ipv4port", "ipv4", "hex", "int", "name")}
_DOTTED = re.compile(_Q)
_HANDLE = re.compile(r" # handle (\d+)$")
_TABLE = re.compile(rf"^table (ip6|ip|inet|arp|bridge|netdev) ({_WORD})"
                    r" \{(?: # handle (\d+))?$")
_OPENS = re.compile(r"\{(?: # handle \d+)?$")
_BLOCK = re.compile(rf"^\t(chain|set|map) ({_WORD}) " r"\{(?: # handle (\d+))?$")


def _sentinel(cls: str, k: int, alt: int) -> str:
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


def _atoms(cls: str, text: str) -> list[J]:
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


class _Template:
    __slots__ = (
        "build",
        "comment",
        "conv",
        "ir",
        "live",
        "ok",
        "rebuild",
        "refs",
        "stmts",
        "subst_keys",
    )

    def __init__(self, ir: J, subst_keys: list[J], ok: bool) -> None:
        self.ir = ir
        self.subst_keys = subst_keys
        self.ok = ok
        self.stmts: tuple[Any, ...] = ()
        self.refs: list[tuple[str, str]] = []
        self.comment: str | None = None
        self.live: set[int] | None = None
        self.rebuild: Any = None
        #: the rule's statements from a value table (``_compile`` of ``rebuild``)
        self.build: Callable[[dict[tuple[type, J], J]], Any] = _constant(())
        self.conv: list[tuple[tuple[type, J], int, Callable[[str], J]]] = []

    def plan(self, holes: list[tuple[str, str]]) -> None:
        """Precompute which model leaves each hole fills and which nodes hold any."""
        table = _model_table(self.subst_keys, self.subst_keys)
        self.live = set()
        _mark(self.stmts, table, self.live)
        self.rebuild = _plan(self.stmts, table, self.live)
        self.build = _compile(self.stmts, self.rebuild)
        self.conv = []
        i = 0
        for cls, _ in holes:
            for j, conv in enumerate(_CONVERTERS[cls]):
                k = self.subst_keys[i + j]
                self.conv.append(((type(k), k), i + j, conv))
                if type(k) is str:
                    try:
                        a = _addr(k)
                    except ValueError:
                        continue
                    self.conv.append(((type(a), a), i + j, _addr))
            i += len(_CONVERTERS[cls])

    def table(self, holes: list[tuple[str, str]]) -> dict[tuple[type, J], J]:
        values = [a for cls, word in holes for a in _atoms(cls, word)]
        return {key: conv(values[i]) if conv is not _same else values[i]
                for key, i, conv in self.conv}


def _same(v: J) -> J:
    return v


#: per class, how each atom of _atoms() is made from... itself (atoms are already values)
_CONVERTERS: dict[str, list[Callable[[J], J]]] = {
    "int": [_same, _same], "hex": [_same, _same], "ipv4port": [_same, _same, _same],
    "ipv4": [_same], "string": [_same], "name": [_same],
}


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


Builder = Callable[[dict[tuple[type, J], J]], Any]


def _constant(x: Any) -> Builder:
    return lambda table: x


def _compile(x: Any, plan: Any) -> Builder:
    """A function of a value table that rebuilds ``x`` by ``plan`` (the nodes on the way to
    a substituted leaf are made again, validators included; the rest is shared). The template
    ``x`` is fixed, so its unchanged fields are read once here rather than for every rule."""
    if plan is None:
        return _constant(x)
    kind, arg = plan
    if kind == "leaf":
        key = arg
        return lambda table: table[key]
    if kind == "tuple":
        parts = [(None, v) if p is None else (_compile(v, p), None)
                 for v, p in zip(x, arg, strict=True)]
        return lambda table: tuple([v if f is None else f(table) for f, v in parts])
    cls = type(x)
    inits = _INITS.get(cls)
    if inits is None:
        inits = _INITS[cls] = _init_names(cls)
    base = {alias: getattr(x, name) for name, alias in inits}
    subs = [(n, _compile(getattr(x, n), p)) for n, p in arg]
    if len(subs) == 1:  # the common case: one substituted field (no loop)
        ((n1, f1),) = subs

        def node1(table: dict[tuple[type, J], J]) -> Any:
            kwargs = base.copy()
            kwargs[n1] = f1(table)
            return cls(**kwargs)  # validators run, as attrs.evolve would

        return node1

    def node(table: dict[tuple[type, J], J]) -> Any:
        kwargs = base.copy()
        for n, f in subs:
            kwargs[n] = f(table)
        return cls(**kwargs)  # validators run, as attrs.evolve would

    return node


def _init_names(t: type) -> tuple[tuple[str, str], ...]:
    """(attribute name, __init__ argument name) of the init fields of attrs class ``t``."""
    return tuple((f.name, f.alias or f.name) for f in attrs.fields(t) if f.init)


_INITS: dict[type, tuple[tuple[str, str], ...]] = {}


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


def _model_table(keys: list[J], values: list[J]) -> dict[tuple[type, J], J]:
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
    if _DOTTED.fullmatch(s):  # canonical dotted quad: inet_aton reads it exactly
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


def _msub(x: Any, table: dict[tuple[type, J], J], live: set[int] | None) -> Any:
    """``x`` with every leaf found in ``table`` replaced (nodes rebuilt, validators run);
    ``live``, when given, holds the ids of the only nodes that contain such leaves."""
    t = type(x)
    if t in _LEAVES:
        return table.get((t, x), x)
    if live is not None and id(x) not in live:
        return x
    if t is tuple:
        items = tuple(_msub(v, table, live) for v in x)
        return x if all(a is b for a, b in zip(items, x, strict=True)) else items
    if isinstance(x, Node):
        names = _FIELDS.get(t)
        if names is None:
            names = _FIELDS[t] = tuple(f.name for f in attrs.fields(t))
        changes = {}
        for name in names:
            v = getattr(x, name)
            nv = _msub(v, table, live)
            if nv is not v:
                changes[name] = nv
        return attrs.evolve(x, **changes) if changes else x  # type: ignore[misc]
    return x


def _substitute(obj: J, table: dict[tuple[type, J], J]) -> J:
    t = type(obj)
    if t is dict:
        return {k: _substitute(v, table) for k, v in obj.items()}
    if t is list:
        return [_substitute(v, table) for v in obj]
    if t is tuple:
        return tuple(_substitute(v, table) for v in obj)
    if t is int or t is str:
        return table.get((t, obj), obj)
    return obj


def _has_node(obj: J) -> bool:
    if isinstance(obj, Node):
        return True
    if isinstance(obj, dict):
        return any(_has_node(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return any(_has_node(v) for v in obj)
    return False


class FastListing:
    """Parses listing-shaped text into the same items lark would produce, or gives up."""

    def __init__(self, parse_items: Callable[[str], list[Any]], keywords: frozenset[str]
                 ) -> None:
        self.parse_items = parse_items  # lark: text -> items (TableBlock / Cmd)
        self.keywords = keywords
        self.rules: dict[str, _Template] = {}
        self.elems: dict[str, _Template] = {}

    # --- templates -------------------------------------------------------------------------

    def _split(self, text: str) -> tuple[list[tuple[str, str]], str]:
        """(holes as (class, word), the template key) of one rule or element."""
        holes: list[tuple[str, str]] = []
        keywords = self.keywords
        append, marks = holes.append, _MARKS

        def hole(m: re.Match[str]) -> str:  # (called per token: kept minimal)
            cls = m.lastgroup
            word = m[0]
            if cls is None or (cls == "name" and word in keywords):
                return word
            append((cls, word))
            return marks[cls]

        return holes, _HOLES.sub(hole, text)

    @staticmethod
    def _fill(key: str, holes: list[tuple[str, str]], alt: int) -> str:
        parts = key.split("\0")
        out = [parts[0]]
        for k in range(len(holes)):
            out.append(_sentinel(parts[2 * k + 1], k, alt))
            out.append(parts[2 * k + 2])
        return "".join(out)

    def _template(self, cache: dict[str, _Template], holes: list[tuple[str, str]],
                  key: str, parse: Callable[[str], J]) -> _Template:
        tpl = cache.get(key)
        if tpl is not None:
            return tpl
        ir_a = parse(self._fill(key, holes, 0))
        keys_a = [a for k, (cls, _) in enumerate(holes) for a in _atoms(cls, _sentinel(cls, k, 0))]
        ok = not _has_node(ir_a)
        if ok and holes:
            ir_b = parse(self._fill(key, holes, 1))
            keys_b = [a for k, (cls, _) in enumerate(holes)
                      for a in _atoms(cls, _sentinel(cls, k, 1))]
            swap = {(type(a), a): b for a, b in zip(keys_a, keys_b, strict=True)}
            ok = len(swap) == len(keys_a) and _substitute(ir_a, swap) == ir_b
        tpl = cache[key] = _Template(ir_a, keys_a, ok)
        return tpl

    def _instantiate(self, tpl: _Template, holes: list[tuple[str, str]]) -> J:
        values = [a for cls, word in holes for a in _atoms(cls, word)]
        table = {(type(a), a): v for a, v in zip(tpl.subst_keys, values, strict=True)}
        return _substitute(tpl.ir, table)

    def rule(self, text: str, family: str) -> dict[str, J]:
        """One rule line as the Applier's rule item: decoded statements, ready to use."""
        handle = None
        m = _HANDLE.search(text)
        if m:
            handle = int(m.group(1))
            text = text[: m.start()]
        holes, key = self._split(text)
        tpl = self.rules.get(family + "\0" + key)
        if tpl is None:
            tpl = self.rules[family + "\0" + key] = self._rule_template(family, holes, key)
        if not tpl.ok:
            rule = self._parse_rule(text)
            if handle is not None:
                rule["handle"] = handle
            return rule
        table = tpl.table(holes)
        out: dict[str, J] = {"expr": list(tpl.build(table)),
                             "refs": [(k, table.get((str, n), n)) for k, n in tpl.refs]}
        if tpl.comment is not None:
            out["comment"] = table.get((str, tpl.comment), tpl.comment)
        if handle is not None:
            out["handle"] = handle
        return out

    def _rule_template(self, family: str, holes: list[tuple[str, str]], key: str
                       ) -> _Template:
        """Parse and decode the template with sentinel set A; prove it with set B."""
        text_a = self._fill(key, holes, 0)
        rule_a = self._parse_rule(text_a)
        keys_a = [a for k, (cls, _) in enumerate(holes) for a in _atoms(cls, _sentinel(cls, k, 0))]
        tpl = _Template(rule_a, keys_a, False)
        try:
            model_a = self._decode(rule_a, family)
            if holes:
                rule_b = self._parse_rule(self._fill(key, holes, 1))
                keys_b = [a for k, (cls, _) in enumerate(holes)
                          for a in _atoms(cls, _sentinel(cls, k, 1))]
                if len({(type(a), a) for a in keys_a}) != len(keys_a):
                    return tpl
                model_b = self._decode(rule_b, family)
                if _msub(model_a, _model_table(keys_a, keys_b), None) != model_b:
                    return tpl
                if _substitute(rule_a.get("comment"), {(type(a), a): b for a, b in
                                                       zip(keys_a, keys_b, strict=True)}) \
                        != rule_b.get("comment"):
                    return tpl
        except Exception:
            return tpl
        tpl.stmts = model_a.stmts
        tpl.plan(holes)
        tpl.refs = _references(rule_a["expr"])
        tpl.comment = rule_a.get("comment")
        tpl.ok = True
        return tpl

    @staticmethod
    def _decode(rule: dict[str, J], family: str) -> Any:
        expr = _reject_defaults(plain(rule["expr"]), family)
        if _has_node(expr):
            raise ValueError("bound chains are not templated")
        return decode_rule(JsonDecoder(), {"expr": expr, "comment": rule.get("comment")})

    def _parse_rule(self, text: str) -> dict[str, J]:
        (cmd,) = self.parse_items("add rule ip t c " + text)
        return {k: v for k, v in cmd.obj.items() if k not in ("family", "table", "chain")}

    def element(self, text: str) -> J:
        holes, key = self._split(text)
        tpl = self._template(self.elems, holes, key, self._parse_element)
        return self._instantiate(tpl, holes) if tpl.ok else self._parse_element(text)

    def _parse_element(self, text: str) -> J:
        (cmd,) = self.parse_items("add element ip t s { " + text + " }")
        (elem,) = cmd.extra
        return elem

    # --- structure -------------------------------------------------------------------------

    def parse(self, text: str) -> list[Any] | None:
        """The items of a listing, or None when the text is not plain listing output."""
        lines = text.split("\n")
        items: list[Any] = []
        i, n = 0, len(lines)
        while i < n:
            line = lines[i]
            if not line:
                i += 1
                continue
            m = _TABLE.match(line)
            if not m:
                return None
            family, name, handle = m.group(1), m.group(2), m.group(3)
            table_items: list[Any] = []
            i += 1
            while i < n and lines[i] != "}":
                line = lines[i]
                if not line:
                    i += 1
                    continue
                if not line.startswith("\t") or line.startswith("\t\t"):
                    return None
                if not _OPENS.search(line):  # table flags / comment: one line each
                    table_items.extend(self._mini(family, name, line))
                    i += 1
                    continue
                end = i + 1
                while end < n and lines[end] != "\t}":
                    if not lines[end].startswith("\t\t"):
                        return None
                    end += 1
                if end >= n:
                    return None
                b = _BLOCK.match(line)
                item = None
                if b is not None and b.group(2) not in self.keywords:
                    kind, bname = b.group(1), b.group(2)
                    bhandle = int(b.group(3)) if b.group(3) else None
                    body = lines[i + 1:end]
                    if kind == "chain":
                        item = self._chain(family, name, bname, bhandle, body)
                    else:
                        item = self._set(family, name, kind, line, body, lines[end])
                    if item is None:
                        return None
                    table_items.append(item)
                else:
                    table_items.extend(self._mini(family, name, "\n".join(lines[i:end + 1])))
                i = end + 1
            if i >= n:
                return None
            i += 1
            tid = {"family": family, "name": Token("WORD", name),
                   "handle": int(handle) if handle else None}
            items.append(TableBlock(tid, table_items))
        return items

    def _mini(self, family: str, table: str, block: str) -> list[Any]:
        """Table-level lines parsed by lark inside a stand-in table."""
        (tb,) = self.parse_items(f"table {family} {table} {{\n{block}\n}}")
        assert isinstance(tb, TableBlock)
        return tb.items

    def _chain(self, family: str, table: str, name: str, handle: int | None,
               body: list[str]) -> Any:
        citems: list[Any] = []
        other: list[str] = []
        for line in body:
            if not line.startswith("\t\t") or line.startswith("\t\t\t"):
                return None
            text = line[2:]
            head = text.split(" ", 1)[0]
            if head in ("type", "comment", "policy", "devices", "flags") or ("{" in text and \
                    text.rstrip().endswith("{")):
                if text.rstrip().endswith("{"):
                    return None  # an anonymous chain spans lines: lark handles it
                other.append(line)
                continue
            citems.append(self.rule(text, family))
        if other:
            (tb,) = self.parse_items(f"table {family} {table} {{\n\tchain {name} {{\n"
                                     + "\n".join(other) + "\n\t}\n}")
            ((_, (_, (_, spec_items))),) = tb.items
            citems = list(spec_items) + citems
        return ("chain", (Token("WORD", name), (handle, citems)))

    def _set(self, family: str, table: str, kind: str, header: str, body: list[str],
             closing: str) -> Any:
        other: list[str] = []
        elements: list[J] | None = None
        i = 0
        while i < len(body):
            line = body[i]
            if line.startswith("\t\telements = { "):
                chunks = [line[len("\t\telements = { "):]]
                while not chunks[-1].endswith(" }"):
                    i += 1
                    if i >= len(body) or not body[i].startswith("\t\t\t     "):
                        return None
                    chunks.append(body[i].strip())
                joined = " ".join(chunks)[:-2]
                elements = [self.element(e.strip()) for e in _split_elements(joined)]
                if elements and any(e is None for e in elements):
                    return None
            else:
                other.append(line)
            i += 1
        (tb,) = self.parse_items(f"table {family} {table} {{\n{header}\n"
                                 + "\n".join(other) + f"\n{closing}\n}}")
        ((skind, (sname, (shandle, sitems))),) = tb.items
        if elements is not None:
            sitems = [*sitems, ("elem", elements)]
        return (skind, (sname, (shandle, sitems)))


_ELEM_SPLIT = re.compile(r'(?:"[^"]*"|[^,"])+')


def _split_elements(text: str) -> list[str]:
    return _ELEM_SPLIT.findall(text)

