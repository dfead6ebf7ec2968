"""Reads through libnftables: model objects from its JSON listings (``nft -j list ...``).

Each read asks for only what it returns (``list table``, ``list set``...), and parses only
that: other tables are never read.
"""

from __future__ import annotations

from typing import Any

from ...errors import NotFoundError, ValidationError
from ...model.enums import Family
from ...model.objects import Counter, NamedObject, Quota
from ...model.ruleset import Chain, Ruleset, Table
from ...model.sets import Map, Set
from ...parse.json import from_json
from ._context import Context

__all__ = [
    "list_chain",
    "list_counters",
    "list_map",
    "list_quotas",
    "list_ruleset",
    "list_set",
    "list_table",
    "list_tables",
]


def list_ruleset(ctx: Context) -> Ruleset:
    """Every table of the namespace (``nft list ruleset``)."""
    return from_json({"nftables": ctx.list({"ruleset": None})})

def list_table(ctx: Context, family: Family | str, name: str) -> Table:
    """One table with everything in it; NotFoundError if absent. Other tables are not
    read."""
    fam = Family(family).value
    items = ctx.list({"table": {"family": fam, "name": name}})
    return from_json({"nftables": items}).table(fam, name)

def _in_table(family: str, table: str, items: list[Any]) -> Table:
    head = {"table": {"family": family, "name": table}}
    return from_json({"nftables": [head, *items]}).table(family, table)

def list_chain(ctx: Context, family: Family | str, table: str, name: str) -> Chain:
    """One chain with its rules (``nft list chain``)."""
    fam = Family(family).value
    items = ctx.list({"chain": {"family": fam, "table": table, "name": name}})
    return _in_table(fam, table, items).chain(name)

def list_tables(ctx: Context) -> list[Table]:
    """The tables without their contents (``nft list tables``)."""
    items = ctx.list({"tables": None})
    return list(from_json({"nftables": items}).tables)

def list_set(ctx: Context, family: Family | str, table: str, name: str) -> Set:
    """One set with its elements (``nft list set``); NotFoundError if absent or a map."""
    fam = Family(family).value
    items = ctx.list({"set": {"family": fam, "table": table, "name": name}})
    result = _in_table(fam, table, items).set(name)
    if isinstance(result, Map):
        raise NotFoundError(f"{fam} {table} {name} is a map, not a set")
    return result

def list_map(ctx: Context, family: Family | str, table: str, name: str) -> Map:
    """One map with its elements (``nft list map``); NotFoundError if absent or a set."""
    fam = Family(family).value
    items = ctx.list({"map": {"family": fam, "table": table, "name": name}})
    result = _in_table(fam, table, items).set(name)
    if not isinstance(result, Map):
        raise NotFoundError(f"{fam} {table} {name} is a set, not a map")
    return result

def _objects(ctx: Context, kind: str, family: Family | str | None,
             table: str | None) -> list[NamedObject]:
    where: dict[str, str] = {}
    if family is not None:
        where["family"] = Family(family).value
    if table is not None:
        if family is None:
            raise ValidationError("Nftables", "family", "table= needs family=")
        where["table"] = table
    items = ctx.list({kind: where or None})
    heads = {(i[k]["family"], i[k]["table"]) for i in items for k in i}
    doc = [{"table": {"family": f, "name": t}} for f, t in sorted(heads)]
    return [o for t in from_json({"nftables": doc + items}).tables for o in t.objects]

def list_counters(ctx: Context, family: Family | str | None = None,
                  table: str | None = None) -> list[Counter]:
    """Named counters with their values, of one table, one family or all
    (``nft list counters [table inet t]``)."""
    return [o for o in _objects(ctx, "counters", family, table) if isinstance(o, Counter)]

def list_quotas(ctx: Context, family: Family | str | None = None,
                table: str | None = None) -> list[Quota]:
    """Named quotas with their usage, of one table, one family or all."""
    return [o for o in _objects(ctx, "quotas", family, table) if isinstance(o, Quota)]
