"""Any nft script -> model plus where each table, chain, set and rule was written.

``parse_with_positions`` is ``nftkit.parse`` for tools that report on a file (``python -m
nftkit check|lint``). Declarations (table blocks, ``add``/``create``) are located by the
parser alone (``nftkit.parse.positions``); a script with other commands (``insert rule ip t c
counter``, ``delete rule ... handle 4``) runs through the command engine, and each rule of the
result is located where the command that made it was written::

    rs, where = parse_with_positions("table ip t { chain c { drop } }\\n"
                                     "insert rule ip t c counter\\n")
    [where.position(r) for r in rs.tables[0].chains[0].rules]  # [(2, 20), (1, 25)]
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..diagnostics import SourceMap
from ..model.ruleset import Rule, Ruleset
from ..parse.nft import _flatten
from ..parse.positions import is_declarative, located_items, rule_positions, source_map
from ..parse.transformer import Cmd, TableBlock
from ..transaction import Kind
from .script import apply_script, script_transaction

__all__ = ["parse_with_positions"]

_Key = tuple[str, str, str]
_At = tuple[int, int] | None


def parse_with_positions(text: str, *, filename: str | None = None,
                         include_paths: Sequence[str | os.PathLike[str]] = (),
                         check: bool = False) -> tuple[Ruleset, SourceMap]:
    """``parse(text)`` and where its tables, chains, sets and rules are written.

    With ``check=False`` (the default) a declarative file's jump to a missing chain or
    missing ``@set`` is left for ``nftkit.check`` to report with the others, where ``parse``
    refuses it (a script of commands runs through the engine, which refuses it).
    """
    top, rules_at = located_items(text, filename=filename, include_paths=include_paths)
    items = _flatten(top)
    if is_declarative(items):
        ruleset, declared = rule_positions(items, rules_at, text, filename, check=check)
        return ruleset, source_map(ruleset, top, declared, filename)
    txn, lines = script_transaction(items, text, filename)
    ruleset = apply_script(txn, lines, text, filename)
    # each rule op's position, in op order; the engine placed the rules (insert, replace,
    # position): a listed rule takes the first unused op rule equal to it in its chain
    made: dict[_Key, list[tuple[Rule, _At]]] = defaultdict(list)
    for item in items:
        ops, _ = script_transaction([item], text, filename)
        block = _block_positions(item, rules_at, text, filename)
        seen: dict[_Key, int] = defaultdict(int)
        for op in ops.ops:
            if op.kind is not Kind.RULE or not isinstance(op.obj, Rule):
                continue
            key = (str(op.family), str(op.table), str(op.chain))
            if block is not None:
                found = block.get(key, [])
                at = found[seen[key]] if seen[key] < len(found) else None
                seen[key] += 1
            else:
                at = rules_at.get(id(item.obj.get("rule"))) if isinstance(item, Cmd) else None
            made[key].append((op.obj, at))
    rules: dict[_Key, list[_At]] = {}
    for table in ruleset.tables:
        for chain in table.chains:
            key = (str(table.family), table.name, chain.name)
            pool = made.get(key, [])
            used = [False] * len(pool)
            out: list[_At] = []
            for rule in chain.rules:
                i = next((i for i, (r, _) in enumerate(pool) if not used[i] and r == rule), None)
                if i is None:
                    out.append(None)
                else:
                    used[i] = True
                    out.append(pool[i][1])
            rules[key] = out
    return ruleset, source_map(ruleset, top, rules, filename)


def _block_positions(item: Any, rules_at: dict[int, tuple[int, int]], text: str,
                     filename: str | None) -> dict[_Key, list[_At]] | None:
    """Per chain, the positions of a table block's rules (None for other items)."""
    if not (isinstance(item, TableBlock) or (isinstance(item, Cmd) and item.kind == "table")):
        return None
    return rule_positions([item], rules_at, text, filename)[1]
