"""nft text -> model plus where each table, chain, set and rule was written.

``parse_with_positions`` is ``parse`` for tools that report on a file (``python -m nftkit
check|lint``): it returns the ``Ruleset`` and a ``nftkit.diagnostics.SourceMap`` from model
nodes to ``(line, column)``, so a finding about ``inet t chain a rule 2`` can say
``rules.nft:7:3``. Positions are a side table, not node fields: nodes equal in content stay
equal wherever they were written.

How: the ordinary parser transforms while it parses and keeps no positions, so here the text
is parsed to a tree with positions first and transformed after (same grammar, same
transformer, about twice the time; only tools that report positions pay it). A rule's
position is its tree's first token (``$var`` included); a table's, chain's or set's is its
name where first declared. Objects of included files get no position (their lines belong to
another file).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from importlib import resources
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import VisitError

from ..diagnostics import SourceMap
from ..errors import UnsupportedError
from ..model.ruleset import Ruleset
from ._decode import Decoder
from ._rules import RuleItem
from .nft import _cache_file, _Context, _ContextTransformer, _flatten, _run
from .transformer import Cmd, TableBlock

__all__ = [
    "is_declarative",
    "located_items",
    "parse_with_positions",
    "rule_positions",
    "source_map",
]

_lock = threading.Lock()
_tree_parser: list[Lark] = []


def _parser() -> Lark:
    """The grammar without a transformer, keeping positions (its own lark cache file: the
    options differ from ``nft._parser``'s, and one file would be rebuilt for each in turn)."""
    if not _tree_parser:
        with _lock:
            if not _tree_parser:
                grammar = resources.files("nftkit.parse").joinpath("nft.lark").read_text()
                _tree_parser.append(Lark(
                    grammar, parser="lalr", lexer="contextual", maybe_placeholders=False,
                    propagate_positions=True, cache=_cache_file("grammar-positions.lark-cache")))
    return _tree_parser[0]


class _Locating(_ContextTransformer):
    """The parse's transformer, noting where each rule starts (by id of its ``RuleItem``)."""

    def __init__(self) -> None:
        super().__init__()
        self.rules: dict[int, tuple[int, int]] = {}

    def _call_userfunc(self, tree: Tree[Any], new_children: list[Any] | None = None) -> Any:
        result = super()._call_userfunc(tree, new_children)  # type: ignore[no-untyped-call]
        if tree.data == "rule" and not tree.meta.empty:
            self.rules[id(result)] = (tree.meta.line, tree.meta.column)
        return result


class _LocatingDecoder(Decoder):
    """The decoder, noting which rule body each located rule became."""

    def __init__(self, text: str, filename: str | None) -> None:
        super().__init__(text, filename)
        self.rules_at: dict[int, tuple[int, int]] = {}
        self.body_pos: dict[int, tuple[int, int]] = {}
        self._bodies: list[object] = []  # every body made, so that no id() is reused
        self._seen: set[int] = set()

    def _add_rule(self, t: Any, chain: str, item: RuleItem, *, given: bool = True) -> None:
        super()._add_rule(t, chain, item, given=given)
        rules: list[Any] = t.rules[chain]
        # appended in the common case; an insert or replace put it somewhere else
        body = rules[-1] if rules and id(rules[-1]) not in self._seen else next(
            (b for b in rules if id(b) not in self._seen), None)
        if body is None:
            return
        self._seen.add(id(body))
        self._bodies.append(body)
        pos = self.rules_at.get(id(item))
        if pos is not None:
            self.body_pos[id(body)] = pos


def _at(tok: object) -> tuple[int, int] | None:
    if isinstance(tok, Token) and tok.line is not None and tok.column is not None:
        return tok.line, tok.column
    return None


def _declarations(items: list[Any]) -> dict[tuple[str, ...], tuple[int, int]]:
    """Where each table, chain and set of this file is first named."""
    out: dict[tuple[str, ...], tuple[int, int]] = {}

    def note(key: tuple[str, ...], tok: object) -> None:
        pos = _at(tok)
        if pos is not None and key not in out:
            out[key] = pos

    for item in items:
        if isinstance(item, TableBlock):
            fam, name = str(item.table["family"]), str(item.table["name"])
            note(("table", fam, name), item.table["name"])
            block: list[tuple[str, Any]] = item.items
            for kind, value in block:
                if kind in ("chain", "set", "map", "meter"):
                    note(("chain" if kind == "chain" else "set", fam, name, str(value[0])),
                         value[0])
        elif isinstance(item, Cmd) and item.verb in ("add", "create"):
            o = item.obj
            if item.kind == "table":
                note(("table", str(o["family"]), str(o["name"])), o["name"])
            elif item.kind in ("chain", "set", "map", "meter"):
                kind = "chain" if item.kind == "chain" else "set"
                note((kind, str(o["family"]), str(o["table"]), str(o["name"])), o["name"])
    return out


def located_items(text: str, *, filename: str | None = None,
                  include_paths: Sequence[str | os.PathLike[str]] = ()
                  ) -> tuple[list[Any], dict[int, tuple[int, int]]]:
    """The parser's items for ``text`` (includes expanded) and where each rule starts, by
    ``id()`` of its ``RuleItem``."""
    transformer = _Locating()
    parser = _parser()

    def run(source: str) -> list[Any]:
        tree = parser.parse(source)
        try:
            result: list[Any] = transformer.transform(tree)
        except VisitError as exc:  # lark wraps what the transformer raised
            raise exc.orig_exc from None
        return result

    top = _run(text, _Context(filename, include_paths, {}), run)
    return top, transformer.rules


def is_declarative(items: list[Any]) -> bool:
    """Whether ``items`` only declare (table blocks, ``add``/``create``): then each rule's
    place is where it is written, with no command engine needed to find it."""
    return all(isinstance(i, TableBlock) or (isinstance(i, Cmd) and i.verb in ("add", "create"))
               for i in items)


def rule_positions(items: list[Any], rules_at: dict[int, tuple[int, int]], text: str,
                   filename: str | None, *, check: bool = False
                   ) -> tuple[Ruleset, dict[tuple[str, str, str], list[tuple[int, int] | None]]]:
    """Declarations decoded, and per ``(family, table, chain)`` the position of each rule in
    order (``check``: jump targets and @sets must exist)."""
    dec = _LocatingDecoder(text, filename)
    dec.rules_at = rules_at
    for item in items:
        dec.apply(item)
    ruleset = dec.ruleset(check=check)
    return ruleset, {(*key, chain): [dec.body_pos.get(id(b)) for b in bodies]
                     for key, t in dec.tables.items() for chain, bodies in t.rules.items()}


def source_map(ruleset: Ruleset, top: list[Any],
               rules: dict[tuple[str, str, str], list[tuple[int, int] | None]],
               filename: str | None) -> SourceMap:
    """Positions of the tables, chains and sets of ``ruleset`` (where first declared in
    ``top``) and of its rules (``rules``: per chain, in the ruleset's order)."""
    # objects of included files are left out: their positions are in another file
    names = _declarations([i for i in top if not (isinstance(i, Cmd) and i.verb == "include")])
    where = SourceMap(filename)
    for table in ruleset.tables:
        key = (str(table.family), table.name)
        for node, name in ((table, ("table", *key)),
                           *((c, ("chain", *key, c.name)) for c in table.chains),
                           *((s, ("set", *key, s.name)) for s in table.sets)):
            pos = names.get(name)
            if pos is not None:
                where.add(node, *pos)
        for chain in table.chains:
            found = rules.get((*key, chain.name), [])
            if len(found) != len(chain.rules):
                continue
            for rule, at in zip(chain.rules, found, strict=True):
                if at is not None:
                    where.add(rule, *at)
    return where


def parse_with_positions(text: str, *, filename: str | None = None,
                         include_paths: Sequence[str | os.PathLike[str]] = (),
                         check: bool = False) -> tuple[Ruleset, SourceMap]:
    """``parse(text)`` of a declarative file and where its tables, chains, sets and rules
    are written::

        rs, where = parse_with_positions(text, filename="rules.nft")
        where.position(rs.tables[0].chains[0].rules[1])  # (7, 3)

    Scripts with other commands (``delete``, ``insert``, ...) raise ``UnsupportedError``:
    where their rules end up is the command engine's to say
    (``nftkit.semantics.positions.parse_with_positions`` handles every script).

    With ``check=False`` (the default) a jump to a missing chain or a missing ``@set`` is left
    for ``nftkit.check`` to report with the others, where ``parse`` refuses it.
    """
    top, rules_at = located_items(text, filename=filename, include_paths=include_paths)
    items = _flatten(top)
    if not is_declarative(items):
        raise UnsupportedError("positions are kept for declarations only (table blocks, add "
                               "and create commands)")
    ruleset, rules = rule_positions(items, rules_at, text, filename, check=check)
    return ruleset, source_map(ruleset, top, rules, filename)
