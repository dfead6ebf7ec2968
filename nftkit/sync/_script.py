"""A diff's transaction as an ``nft -f`` script: what ``sync(dry_run=True)`` and ``python -m
nftkit diff`` print::

    delete element inet t allowed { 10.0.0.1 }
    flush chain inet t old
    replace rule inet t input handle 7 tcp dport 22 accept
    insert rule inet t input position 9 ip saddr @allowed accept
    delete chain inet t old
    add rule inet t input counter packets 0 bytes 0 drop
    add element inet t allowed { 10.0.0.2 }
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..model.enums import Family, SetFlag
from ..model.ruleset import Chain, Rule, Table
from ..model.sets import Map, Set
from ..render.text import to_script
from ..transaction import Kind, Op, Transaction, Verb

__all__ = ["script"]

_SetKey = tuple[str, str, str]


def _lines(t: Table, skip: int) -> list[str]:
    """The commands of ``to_script(t)`` after the first ``skip`` (its table and chain)."""
    text = to_script(t).rstrip("\n")
    out: list[str] = []
    for line in text.split("\n"):
        if line.startswith(("add ", "create ")) or not out:
            out.append(line)
        else:  # a command over several lines
            out[-1] += "\n" + line
    return out[skip:]


def _where(family: Family, table: str, chain: str) -> str:
    """``inet t c``, quoted as nft needs."""
    line = _lines(Table(family=family, name=table, chains=(Chain(name=chain),)), 1)[0]
    return line[len("add chain "):]


def _rule_body(family: Family, table: str, chain: str, rule: Rule) -> str:
    line = _lines(Table(family=family, name=table,
                        chains=(Chain(name=chain, rules=(rule,)),)), 2)[0]
    return line[len("add rule ") + len(_where(family, table, chain)) + 1:]


def _element_lines(verb: str, family: Family, table: str, s: Set, elements: Iterable[Any],
                   keys_only: bool) -> list[str]:
    model: Set
    if keys_only and isinstance(s, Map):
        model = Set(name=s.name, type=s.type, typeof=s.typeof,
                    flags=s.flags & {SetFlag.INTERVAL})
    else:
        model = s
    model = model.replace(elements=tuple(elements), flags=model.flags - {SetFlag.CONSTANT})
    lines = [line for line in _lines(Table(family=family, name=table, sets=(model,)), 1)
             if line.startswith("add element ")]
    return [verb + line[len("add"):] for line in lines]


def script(txn: Transaction, sets: Mapping[_SetKey, Set] | None = None) -> str:
    """``txn`` as nft commands; elements are written by the type of their set: one added by
    ``txn``, else ``sets[(family, table, name)]``."""
    known: dict[_SetKey, Set] = dict(sets or {})
    out: list[str] = []
    for op in txn.ops:
        out += _op_lines(op, known)
    return "".join(line + "\n" for line in out)


def _op_lines(op: Op, known: dict[_SetKey, Set]) -> list[str]:
    fam, table, verb, kind, obj = op.family, op.table or "", op.verb, op.kind, op.obj
    if fam is None:
        return [f"{verb.value} {kind.value}"]  # flush ruleset / reset: not made by diff
    if kind is Kind.TABLE:
        if verb in (Verb.ADD, Verb.CREATE) and isinstance(obj, Table):
            lines = _lines(obj.replace(chains=(), sets=(), flowtables=(), objects=()), 0)
            return [verb.value + line[len("add"):] for line in lines]
        ident = _lines(Table(family=fam, name=table), 0)[0][len("add table "):]
        return [f"{verb.value} table {ident}"]
    if verb in (Verb.ADD, Verb.CREATE) and isinstance(obj, Set):
        known[(fam.value, table, obj.name)] = obj
        lines = _lines(Table(family=fam, name=table, sets=(obj,)), 1)
        return [verb.value + line[len("add"):] for line in lines]
    if verb in (Verb.ADD, Verb.CREATE) and obj is not None and kind is not Kind.RULE:
        t = Table(family=fam, name=table)
        if isinstance(obj, Chain):
            t = t.replace(chains=(obj,))
        elif kind is Kind.FLOWTABLE:
            t = t.replace(flowtables=(obj,))
        else:
            t = t.replace(objects=(obj,))
        return [verb.value + line[len("add"):] for line in _lines(t, 1)]
    if kind is Kind.RULE:
        where = _where(fam, table, op.chain or "")
        if verb is Verb.DELETE or verb is Verb.DESTROY:
            return [f"{verb.value} rule {where} handle {op.handle}"]
        assert isinstance(obj, Rule)
        body = _rule_body(fam, table, op.chain or "", obj)
        if verb is Verb.REPLACE:
            return [f"replace rule {where} handle {op.handle} {body}"]
        place = f" position {op.position}" if op.position is not None else (
            f" index {op.index}" if op.index is not None else "")
        return [f"{verb.value} rule {where}{place} {body}"]
    if kind is Kind.ELEMENT:
        s = known.get((fam.value, table, op.name or ""))
        if s is None:
            return [f"{verb.value} element {_where(fam, table, op.name or '')} "
                    f"{{ {len(op.elements)} element(s) of a set not known here }}"]
        removing = verb in (Verb.DELETE, Verb.DESTROY)
        return _element_lines(verb.value, fam, table, s, op.elements, removing)
    name = op.name or op.chain or ""
    return [f"{verb.value} {kind.value} {_where(fam, table, name)}"]
