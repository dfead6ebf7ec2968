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
from ..model.ruleset import Ruleset
from ._apply import Applier
from .nft import _cache_file, _Context, _ContextTransformer, _flatten, _run
from .transformer import Cmd, TableBlock

__all__ = ["parse_with_positions"]

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
    """The parse's transformer, noting where each rule starts (by id of its ``expr`` list,
    which every later copy of the rule body shares)."""

    def __init__(self) -> None:
        super().__init__()
        self.rules: dict[int, tuple[int, int]] = {}

    def _call_userfunc(self, tree: Tree[Any], new_children: list[Any] | None = None) -> Any:
        result = super()._call_userfunc(tree, new_children)  # type: ignore[no-untyped-call]
        if tree.data == "rule" and not tree.meta.empty:
            self.rules[id(result["expr"])] = (tree.meta.line, tree.meta.column)
        return result


class _LocatingApplier(Applier):
    """The applier, noting which rule body each located rule became."""

    def __init__(self, text: str, filename: str | None, rules: dict[int, tuple[int, int]]):
        super().__init__(text, filename)
        self._rule_pos = rules
        self.body_pos: dict[int, tuple[int, int]] = {}
        self._bodies: list[object] = []  # every body made, so that no id() is reused
        self._seen: set[int] = set()

    def _add_rule(self, t: Any, chain: str, rule: dict[str, Any], **kw: Any) -> None:
        super()._add_rule(t, chain, rule, **kw)
        rules: list[dict[str, Any]] = t.rules[chain]
        # appended in the common case; an insert or replace put it somewhere else
        body = rules[-1] if rules and id(rules[-1]) not in self._seen else next(
            (b for b in rules if id(b) not in self._seen), None)
        if body is None:
            return
        self._seen.add(id(body))
        self._bodies.append(body)
        pos = self._rule_pos.get(id(rule.get("expr")))
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


def parse_with_positions(text: str, *, filename: str | None = None,
                         include_paths: Sequence[str | os.PathLike[str]] = (),
                         check: bool = False) -> tuple[Ruleset, SourceMap]:
    """``parse(text)`` and where its tables, chains, sets and rules are written::

        rs, where = parse_with_positions(text, filename="rules.nft")
        where.position(rs.tables[0].chains[0].rules[1])  # (7, 3)

    With ``check=False`` (the default) a jump to a missing chain or a missing ``@set`` is left
    for ``nftkit.check`` to report with the others, where ``parse`` refuses it.
    """
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
    applier = _LocatingApplier(text, filename, transformer.rules)
    for item in _flatten(top):
        applier.apply(item)
    ruleset = applier.ruleset(check=check)
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
        state = applier.tables.get(key)
        for chain in table.chains:
            bodies = state.rules.get(chain.name, []) if state is not None else []
            if len(bodies) != len(chain.rules):
                continue
            for body, rule in zip(bodies, chain.rules, strict=True):
                pos = applier.body_pos.get(id(body))
                if pos is not None:
                    where.add(rule, *pos)
    return ruleset, where
