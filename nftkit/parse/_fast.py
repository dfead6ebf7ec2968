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

Finding a line's template with the scanner (``_HOLES``: a Python callback per token) is
itself most of the cost, so a proven template is compiled (``_codegen``): a line pattern that
matches exactly the lines the scanner reduces to that template, and a generated builder that
makes the rule's statements (or the element's JSON) from the pattern's groups. Lines are
tried against the compiled patterns of their first word first; the scanner only sees the
first lines of each template and lines no pattern takes. The compiled pair must reproduce
both proof parses before it is used. A shape's first line is parsed by lark as it is: the
template is made when a second line of that shape comes (a rule with a set of thousands of
addresses rarely recurs, and its template would cost far more than parsing it).

Values are checked as lark checks them. A template's parse cannot range-check its stand-ins
(``_values.in_template``), so the datatype each stand-in was checked against is recorded
(``Recorder``: the ``_values.apply`` calls of that parse) and the compiled builder checks
the real values (``tcp dport 99999``: out of range for inet_service). The lines lark parses
here one by one get the checks the template mode leaves out the same way, and the elements of
``elements = { ... }`` lines are checked and normalised by their set's types
(``_values.set_elements``, as lark's set blocks do). A bad value anywhere makes the fast path
give up, and lark, parsing the whole text, reports it with its line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from lark import Token

from ..errors import NftkitError, ParseError
from ..model.datatypes import Datatype
from ..model.ruleset import Rule
from ..nft.families import FAMILIES
from . import _values
from ._codegen import Refused
from ._fast_templates import (
    DOTTED,
    DOTTED_QUAD,
    Pairs,
    Recorder,
    Template,
    built,
    has_node,
    hole_atoms,
    model_table,
    msub,
    same_model,
    sentinel,
    substitute,
    value_guards,
)
from ._rules import RuleItem, has_bound_chain
from .transformer import TableBlock

__all__ = ["FastListing", "NotFast"]


class NotFast(Exception):
    """The text is not plain listing output, or holds a line the templates cannot take (an
    invalid value, which lark, reading the whole text, locates): parse it with lark."""


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
_END = r"(?![\w.:/\-\[\]%])"
# one pass over a line: the variable words become holes (by class), the rest stays text
_HOLES = re.compile(
    r'(?P<string>"[^"\n]*")|@[\w.,/\-]+|\$\w+'
    rf"|(?P<ipv4port>{DOTTED_QUAD}:[1-9]\d{{0,4}}){_END}|(?P<ipv4>{DOTTED_QUAD}){_END}"
    rf"|(?P<hex>0x[0-9a-f]{{1,8}}){_END}|(?P<int>[1-9]\d{{0,8}}|0){_END}"
    rf"|(?<=jump |goto )(?P<name>[A-Za-z_][\w./\-]*){_END}|{_WORD}"
)
#: what a hole of each class leaves in the template key
_MARKS = {c: "\0" + c + "\0" for c in ("string", "ipv4port", "ipv4", "hex", "int", "name")}
#: a chain's lines that are not rules
_CHAIN_LINES = frozenset({"type", "comment", "policy", "devices", "flags"})
#: at most this many compiled templates per first word (more: those lines use the scanner)
_BUCKET = 16
_Match = Callable[[str], "re.Match[str] | None"]
_Make = Callable[[Sequence["str | None"]], Any]
_FAMILY = "|".join(sorted(FAMILIES, key=len, reverse=True))  # ip6 before ip
_TABLE = re.compile(rf"^table ({_FAMILY}) ({_WORD})"
                    r" \{(?: # handle (\d+))?$")
_OPENS = re.compile(r"\{(?: # handle \d+)?$")
_BLOCK = re.compile(rf"^\t(chain|set|map) ({_WORD}) " r"\{(?: # handle (\d+))?$")


class FastListing:
    """Parses listing-shaped text into the same items lark would produce, or gives up."""

    def __init__(self, parse_items: Callable[[str], list[Any]], keywords: frozenset[str]
                 ) -> None:
        self.parse_items = parse_items  # lark: text -> items (TableBlock / Cmd)
        self.keywords = keywords
        self.rules: dict[str, Template] = {}
        self.elems: dict[str, Template] = {}
        #: compiled templates: family -> first word of the line (or "\0": a hole) ->
        #: [(fullmatch, make)]
        #: (templates are per table: a table's first line of each shape goes through lark
        #: and JSON, which is where from_json learns which sets that table's rules write)
        self.rmatch: dict[str, dict[str, list[tuple[_Match, _Make]]]] = {}
        self.ematch: list[tuple[_Match, _Make]] = []
        #: template keys seen once (a template is made on the second line of its shape)
        self.once: set[str] = set()
        self.elems_once: set[str] = set()

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
            out.append(sentinel(parts[2 * k + 1], k, alt))
            out.append(parts[2 * k + 2])
        return "".join(out)

    def _template(self, cache: dict[str, Template], holes: list[tuple[str, str]],
                  key: str, parse: Callable[[str, Pairs | None], J]) -> Template:
        tpl = cache.get(key)
        if tpl is not None:
            return tpl
        text_a = self._fill(key, holes, 0)
        pairs: Pairs = []
        ir_a = parse(text_a, pairs)
        keys_a = [a for k, (cls, _) in enumerate(holes)
                  for a in hole_atoms(cls, sentinel(cls, k, 0))]
        ok = not has_node(ir_a)
        proofs = [(text_a, ir_a)]
        if ok and holes:
            text_b = self._fill(key, holes, 1)
            ir_b = parse(text_b, [])
            keys_b = [a for k, (cls, _) in enumerate(holes)
                      for a in hole_atoms(cls, sentinel(cls, k, 1))]
            swap = {(type(a), a): b for a, b in zip(keys_a, keys_b, strict=True)}
            ok = len(swap) == len(keys_a) and substitute(ir_a, swap) == ir_b
            proofs.append((text_b, substitute(ir_a, swap)))
        tpl = cache[key] = Template(ir_a, keys_a, ok)
        if ok:
            try:
                guards = value_guards(pairs, keys_a, holes)
            except _values.BadValue:  # (an invalid constant: lark reports it)
                guards = None
            # (checked values are only checked by a compiled builder: see ``element``)
            tpl.ok = guards is not None
            tpl.guards = guards or []
        # the compiled matcher and builder must give what the proof parses gave
        # (compile_element is False for a template too odd to compile: the scanner path
        # stays; the proof builders run no checks, and their pattern's groups are what their
        # conversions take)
        if tpl.ok and len(self.ematch) < _BUCKET and tpl.compile_element(
                key, holes, self.keywords) and all(
                same_model(built(tpl, t, proof=True), ir) for t, ir in proofs):
            self.ematch.append((tpl.match, tpl.make))  # type: ignore[arg-type]
        return tpl

    def _instantiate(self, tpl: Template, holes: list[tuple[str, str]]) -> J:
        values = [a for cls, word in holes for a in hole_atoms(cls, word)]
        table = {(type(a), a): v for a, v in zip(tpl.subst_keys, values, strict=True)}
        return substitute(tpl.ir, table)

    def _rule_scanned(self, text: str, family: str, table: str) -> dict[str, J] | RuleItem:
        """A rule line through the template scanner (its template's first line, or a line
        no compiled pattern matched), or through lark if its template is not reusable."""
        holes, key = self._split(text)
        scoped = f"{family}\0{table}\0{key}"
        tpl = self.rules.get(scoped)
        if tpl is None:
            if scoped not in self.once:
                # a template costs two parses, a proof and a compile: not worth it for a
                # line whose shape never recurs (a rule with a set of 5,000 addresses)
                self.once.add(scoped)
                return self._parse_rule(text)
            tpl = self.rules[scoped] = self._rule_template(family, table, holes, key)
        out = built(tpl, text) if tpl.ok else None  # (Refused: a bad value, see _codegen)
        if out is None:
            out = self._parse_rule(text)
        return out

    def _rule_template(self, family: str, table: str, holes: list[tuple[str, str]], key: str
                       ) -> Template:
        """Parse and decode the template with sentinel set A; prove it with set B; compile
        it and check that the compiled builder gives both decoded results."""
        text_a = self._fill(key, holes, 0)
        pairs: Pairs = []
        keys_a = [a for k, (cls, _) in enumerate(holes)
                  for a in hole_atoms(cls, sentinel(cls, k, 0))]
        tpl = Template(None, keys_a, False)
        try:
            try:
                rule_a = self._parse_rule(text_a, pairs)
            except _values.TemplateNumber:
                raise  # (the whole text goes through lark: see TemplateNumber)
            model_a = self._model(rule_a)
            proofs = [(text_a, model_a, rule_a)]
            if holes:
                text_b = self._fill(key, holes, 1)
                rule_b = self._parse_rule(text_b, [])
                keys_b = [a for k, (cls, _) in enumerate(holes)
                          for a in hole_atoms(cls, sentinel(cls, k, 1))]
                if len({(type(a), a) for a in keys_a}) != len(keys_a):
                    return tpl
                model_b = self._model(rule_b)
                if msub(model_a, model_table(keys_a, keys_b), None) != model_b:
                    return tpl
                if substitute(model_a.comment, {(type(a), a): b for a, b in
                                                zip(keys_a, keys_b, strict=True)}) \
                        != model_b.comment:
                    return tpl
                proofs.append((text_b, model_b, rule_b))
            tpl.stmts = model_a.stmts
            tpl.refs = rule_a.refs
            tpl.comment = model_a.comment
            guards = value_guards(pairs, keys_a, holes)  # (BadValue: a bad constant, not used)
            if guards is None:
                return tpl
            tpl.guards = guards
            if not tpl.compile_rule(key, holes, self.keywords):
                return tpl
            for text, model, rule in proofs:
                out = built(tpl, text, proof=True)
                if out is None or not same_model(out["expr"], list(model.stmts)) \
                        or out["refs"] != rule.refs or out.get("comment") != model.comment:
                    return tpl
        except (NftkitError, _values.BadValue, ValueError, KeyError):
            # not reusable, its lines go through lark one by one: a bound chain (ValueError
            # from _model), a stand-in its node refuses (NftkitError), an invalid constant
            # (BadValue), a node the compiled builder cannot rebuild (KeyError from _slow)
            return tpl
        tpl.ok = True
        head = key.partition(" ")[0]
        bucket = self.rmatch.setdefault(f"{family}\0{table}", {}).setdefault(
            "\0" if "\0" in head else head, [])
        if len(bucket) < _BUCKET:
            bucket.append((tpl.match, tpl.make))  # type: ignore[arg-type]
        return tpl

    @staticmethod
    def _model(item: RuleItem) -> Rule:
        """The template's rule (a bare ``reject`` is completed later, by the table's family:
        ``_rules.reject_defaults``)."""
        if has_bound_chain(item.rule):
            raise ValueError("bound chains are not templated")
        return item.rule

    def _parse_rule(self, text: str, pairs: Pairs | None = None) -> RuleItem:
        """A rule line through lark; ``pairs``: it is a template, note its checks."""
        (cmd,) = Recorder.parse(self.parse_items, "add rule ip t c " + text, pairs)
        item: RuleItem = cmd.obj["rule"]
        return item

    def element(self, text: str) -> J:
        for match, make in self.ematch:
            m = match(text)
            if m is not None:
                out = make(m.groups())
                if out is not None:
                    return out
                break
        holes, key = self._split(text)
        if key not in self.elems and key not in self.elems_once:  # (see _rule_scanned)
            self.elems_once.add(key)
            return self._parse_element(text)
        tpl = self._template(self.elems, holes, key, self._parse_element)
        if tpl.ok and not tpl.guards:
            return self._instantiate(tpl, holes)
        return self._parse_element(text)

    def _parse_element(self, text: str, pairs: Pairs | None = None) -> J:
        (cmd,) = Recorder.parse(self.parse_items, "add element ip t s { " + text + " }",
                                 pairs)
        (elem,) = cmd.extra
        return elem

    # --- structure -------------------------------------------------------------------------

    def parse(self, text: str) -> list[Any]:
        """The items of a listing; ``NotFast`` when the text is not plain listing output or
        holds a line lark refuses out of its context (a value invalid for its datatype)."""
        try:
            items = self._listing(text)
        except (_values.BadValue, Refused, ParseError) as exc:
            raise NotFast(str(exc)) from None
        if items is None:
            raise NotFast("not plain listing output")
        return items

    def _listing(self, text: str) -> list[Any] | None:
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
                try:
                    end = lines.index("\t}", i + 1)  # the block's end
                except ValueError:
                    return None
                b = _BLOCK.match(line)
                if b is None or b.group(1) != "chain" or b.group(2) in self.keywords:
                    # (a chain's lines are checked by _chain, which is stricter)
                    for k in range(i + 1, end):
                        if not lines[k].startswith("\t\t"):
                            return None
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
        (tb,) = Recorder.parse(self.parse_items, f"table {family} {table} {{\n{block}\n}}",
                                None)
        assert isinstance(tb, TableBlock)
        return tb.items

    def _chain(self, family: str, table: str, name: str, handle: int | None,
               body: list[str]) -> Any:
        """A chain block's items: its rules (as ``rule`` makes them, inlined here: this loop
        runs for every rule line) and, through lark, its type/policy/comment lines."""
        citems: list[Any] = []
        other: list[str] = []
        append = citems.append
        scope = f"{family}\0{table}"
        by_head = self.rmatch.get(scope) or {}
        anywhere = by_head.get("\0", ())
        for line in body:
            if not line.startswith("\t\t") or line.startswith("\t\t\t"):
                return None
            text = line[2:]
            head = text.partition(" ")[0]
            if head in _CHAIN_LINES or ("{" in text and text.rstrip().endswith("{")):
                if text.rstrip().endswith("{"):
                    return None  # an anonymous chain spans lines: lark handles it
                other.append(line)
                continue
            handle_ = None
            # (what `` # handle (\d+)$`` finds: only the last such suffix can end the line)
            at = text.rfind(" # handle ")
            if at >= 0 and text[at + 10:].isdecimal():
                handle_ = int(text[at + 10:])
                text = text[:at]
            out: dict[str, J] | RuleItem | None = None
            # a compiled template first, picked by the line's first word (or one whose
            # first word is a hole); the scanner for the rest
            for match, make in by_head.get(head, ()):
                m = match(text)
                if m is not None:
                    out = make(m.groups())
                    break
            if out is None:
                for match, make in anywhere:
                    m = match(text)
                    if m is not None:
                        out = make(m.groups())
                        break
                if out is None:
                    out = self._rule_scanned(text, family, table)
                    by_head = self.rmatch.get(scope) or {}  # (it may have added a template)
                    anywhere = by_head.get("\0", ())
            if handle_ is None:
                pass
            elif isinstance(out, RuleItem):
                out.handle = handle_
            else:
                out["handle"] = handle_
            append(out)
        if other:
            (tb,) = Recorder.parse(self.parse_items,
                                    f"table {family} {table} {{\n\tchain {name} {{\n"
                                    + "\n".join(other) + "\n\t}\n}", None)
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
        (tb,) = Recorder.parse(self.parse_items, f"table {family} {table} {{\n{header}\n"
                                + "\n".join(other) + f"\n{closing}\n}}", None)
        ((skind, (sname, (shandle, sitems))),) = tb.items
        if elements is not None:
            # checked against and normalised to the set's types, as lark's set blocks are
            # (``nft -n``: ``6 . 80`` of ``inet_proto . inet_service`` is ``tcp . 80``)
            sitems = [*sitems, ("elem", _set_elements(sitems, elements))]
        return (skind, (sname, (shandle, sitems)))


def _set_elements(items: list[Any], elements: list[J]) -> list[J]:
    """``_values.set_elements(items, elements)`` (the elements checked against and normalised
    to the set's types), with the results for recurring values (protocols, ports) computed
    once: the elements of a large map are mostly ``addr . proto . port : verdict``."""
    types = [x[1] for x in items if isinstance(x, tuple) and len(x) == 2 and x[0] == "type"]
    if not types or not isinstance(types[0], list) or not elements:
        return elements
    spec = types[0]
    key = _normalizer(_values.set_datatype(spec[0]))
    data = _normalizer(_values.set_datatype(spec[1]) if len(spec) > 1 else None)
    return [(key(e[0]), data(e[1])) if isinstance(e, tuple) and len(e) == 2 else key(e)
            for e in elements]


def _normalizer(dt: Datatype | None) -> Callable[[J], J]:
    """``v`` -> ``_values.normalize(v, dt)`` (what ``_values.apply`` gives outside a parse),
    the result for a number or word (of a concatenation's part) cached."""
    if dt is None:
        return lambda v: v
    if dt.kind == "concat":
        parts = [_normalizer(p) for p in dt.parts]

        def concat(v: J) -> J:
            if type(v) is dict and len(v) == 1:
                body = v.get("concat")
                if type(body) is list and len(body) == len(parts):
                    return {"concat": [f(x) for f, x in zip(parts, body, strict=True)]}
            return _values.normalize(v, dt)

        return concat
    seen: dict[tuple[type, J], J] = {}
    # (a canonical dotted quad is an ipv4_addr as it is: what ``normalize`` finds, without
    # its ``ipaddress`` call per address, most of this function's cost in a large map)
    dotted = DOTTED.fullmatch if dt.name == "ipv4_addr" else None

    def leaf(v: J) -> J:
        t = type(v)
        if t is str and dotted is not None and dotted(v):
            return v
        if t is int or t is str:
            found = seen.get((t, v), seen)
            if found is seen:
                found = seen[(t, v)] = _values.normalize(v, dt)
            return found
        return _values.normalize(v, dt)

    return leaf


_ELEM_SPLIT = re.compile(r'(?:"[^"]*"|[^,"])+')


def _split_elements(text: str) -> list[str]:
    return _ELEM_SPLIT.findall(text)

