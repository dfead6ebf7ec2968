"""Reads through libnftables: model objects from its JSON listings (``nft -j list ...``).

Each read asks for only what it returns (``list table``, ``list set``...), and parses only
that: other tables are never read. Every call runs inside the handle's namespace
(``Context.exec``), so interface indexes (``iif``, ``fwd to``) are named as there.

Where the JSON listing is known to be wrong or incomplete, the same listing is read as text
(``nft -a list ...``) through nftkit's parser instead, never guessed:

- table flags: nft 1.0.6 prints them from freed memory (``"flags": "t"``, or output cut off
  mid-document for ``flags owner``);
- chains hooked to devices (``ingress``/``egress``) and flowtables: 1.0.6 leaves their
  devices out;
- any listing nftkit's JSON reader cannot read (e.g. a ``ct timeout`` without a policy).

Elements of ``ifname`` and ``string`` sets are always names (``"10.0.0.2"`` is a name there).
"""

from __future__ import annotations

import json
import re
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import attrs

from ...errors import (
    BackendError,
    NotFoundError,
    ParseError,
    UnsupportedError,
    ValidationError,
)
from ...model.enums import Family
from ...model.expressions import ConcatExpr, ElemExpr
from ...model.objects import Counter, NamedObject, Quota
from ...model.ruleset import Chain, Ruleset, Table
from ...model.sets import Map, Set
from ...parse.json import from_json
from ...semantics.script import parse
from ._context import Context, OutputFlag
from ._errors import raise_for

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


_DEVICE_HOOKS = frozenset({"ingress", "egress"})
_NAMES = frozenset({"ifname", "string"})


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_/\\.-]*\Z")
#: ``# handle 3 progname agent``: what nft prints for an owned table, which nft's own
#: grammar (and nftkit's parser) has no place for; the handle is kept
_PROGNAME = re.compile(r"(# handle \d+) progname [^\n]*")


def _word(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise UnsupportedError(f"{name!r} cannot be named in an nft text command, and "
                               "this release's JSON listing of it cannot be trusted")
    return name


def _text_command(what: dict[str, Any]) -> str:
    ((kind, body),) = what.items()
    if body is None:
        return f"list {kind}"
    words = [body["family"]]
    if "table" in body:
        words.append(_word(body["table"]))
    words.append(_word(body["name"]))
    return f"list {kind} " + " ".join(words)


def _untrusted(items: list[Any]) -> bool:
    """Whether a JSON listing holds something its release may print wrong or leave out."""
    for item in items:
        table = item.get("table")
        if table is not None and "flags" in table:
            return True
        chain = item.get("chain")
        if chain is not None and chain.get("hook") in _DEVICE_HOOKS and "dev" not in chain:
            return True
        flowtable = item.get("flowtable")
        if flowtable is not None and "dev" not in flowtable:
            return True
    return False


def _from_text(ctx: Context, what: dict[str, Any]) -> Ruleset:
    command = _text_command(what)
    rc, out, err = ctx.exec(command, flags=OutputFlag.HANDLE, read=True)
    if rc != 0:
        raise_for(err, command)
    try:
        return parse(_PROGNAME.sub(r"\1", out))
    except ParseError as exc:
        raise BackendError(f"{command}: nftkit cannot read this listing: {exc}",
                           nft_message=out[:2000]) from None


def _read(ctx: Context, what: dict[str, Any], head: dict[str, Any] | None = None, *,
          text: bool = False) -> Ruleset:
    """The listing of ``what`` as a ruleset (``head``: a table item the listing of a chain,
    set or map leaves out), from JSON, or from text where the JSON cannot be trusted
    (``text``: the caller knows it cannot: nft 1.0.6 may even abort while printing the
    flags of a table as JSON)."""
    if text:
        return _retyped(_from_text(ctx, what))
    try:
        items = ctx.list(what)
    except json.JSONDecodeError:
        return _retyped(_from_text(ctx, what))
    if _untrusted(items):
        return _retyped(_from_text(ctx, what))
    try:
        return _retyped(from_json({"nftables": [head, *items] if head else items}))
    except ParseError:
        return _retyped(_from_text(ctx, what))


def _name(v: Any) -> Any:
    if isinstance(v, (IPv4Address, IPv6Address)) or (isinstance(v, int)
                                                     and not isinstance(v, bool)):
        return str(v)
    return v


def _retyped_value(v: Any, types: tuple[str, ...]) -> Any:
    if isinstance(v, ElemExpr):
        return attrs.evolve(v, val=_retyped_value(v.val, types))
    if len(types) > 1 and isinstance(v, ConcatExpr) and len(v.exprs) == len(types):
        if not any(t in _NAMES for t in types):
            return v
        return attrs.evolve(v, exprs=tuple(_name(x) if t in _NAMES else x
                                           for x, t in zip(v.exprs, types, strict=True)))
    if len(types) == 1 and types[0] in _NAMES:
        return _name(v)
    return v


def _retyped_set(s: Set) -> Set:
    key = s.type if s.typeof is None else ()
    data = s.data_type if isinstance(s, Map) and s.data_typeof is None else ()
    if not any(t in _NAMES for t in (*key, *data)) or not s.elements:
        return s
    out = []
    for e in s.elements:
        if isinstance(s, Map) and isinstance(e, tuple) and len(e) == 2:
            out.append((_retyped_value(e[0], key), _retyped_value(e[1], data)))
        else:
            out.append(_retyped_value(e, key))
    return attrs.evolve(s, elements=tuple(out))


def _retyped(rs: Ruleset) -> Ruleset:
    """Elements of ``ifname``/``string`` parts as names (a reader without the set's type
    reads ``"10.0.0.2"`` as an address)."""
    tables = []
    changed = False
    for t in rs.tables:
        sets = tuple(_retyped_set(s) for s in t.sets)
        if any(a is not b for a, b in zip(sets, t.sets, strict=True)):
            changed = True
            t = attrs.evolve(t, sets=sets)
        tables.append(t)
    return attrs.evolve(rs, tables=tuple(tables)) if changed else rs


def list_ruleset(ctx: Context, *, text: bool = False) -> Ruleset:
    """Every table of the namespace (``nft list ruleset``); ``text``: from the text
    listing."""
    return _read(ctx, {"ruleset": None}, text=text)

def list_table(ctx: Context, family: Family | str, name: str, *, text: bool = False) -> Table:
    """One table with everything in it; NotFoundError if absent. Other tables are not
    read."""
    fam = Family(family).value
    return _read(ctx, {"table": {"family": fam, "name": name}}, text=text).table(fam, name)

def _in_table(ctx: Context, kind: str, family: str, table: str, name: str,
              text: bool) -> Table:
    head = {"table": {"family": family, "name": table}}
    what = {kind: {"family": family, "table": table, "name": name}}
    return _read(ctx, what, head, text=text).table(family, table)

def list_chain(ctx: Context, family: Family | str, table: str, name: str, *,
               text: bool = False) -> Chain:
    """One chain with its rules (``nft list chain``)."""
    fam = Family(family).value
    return _in_table(ctx, "chain", fam, table, name, text).chain(name)

def list_tables(ctx: Context, *, text: bool = False) -> list[Table]:
    """The tables without their contents (``nft list tables``)."""
    items = None
    try:
        if not text:
            items = ctx.list({"tables": None})
    except json.JSONDecodeError:
        pass
    if items is not None and not _untrusted(items):
        return list(from_json({"nftables": items}).tables)
    # the flags of some table cannot be read from this listing: the listing of each table
    # as text has them (``nft list tables`` prints no flags)
    rc, out, err = ctx.exec("list tables", flags=0, read=True)
    if rc != 0:
        raise_for(err, "list tables")
    names = [line.split()[1:3] for line in out.splitlines() if line.startswith("table ")]
    return [attrs.evolve(list_table(ctx, fam, name, text=True), chains=(), sets=(),
                         flowtables=(), objects=()) for fam, name in names]

def list_set(ctx: Context, family: Family | str, table: str, name: str, *,
               text: bool = False) -> Set:
    """One set with its elements (``nft list set``); NotFoundError if absent or a map."""
    fam = Family(family).value
    result = _in_table(ctx, "set", fam, table, name, text).set(name)
    if isinstance(result, Map):
        raise NotFoundError(f"{fam} {table} {name} is a map, not a set")
    return result

def list_map(ctx: Context, family: Family | str, table: str, name: str, *,
               text: bool = False) -> Map:
    """One map with its elements (``nft list map``); NotFoundError if absent or a set."""
    fam = Family(family).value
    result = _in_table(ctx, "map", fam, table, name, text).set(name)
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
