"""nft scripts through the engine: ``parse`` (text -> ``Ruleset``) and ``parse_script`` (text
-> ``Transaction``).

The parser (``nftkit.parse.nft.parse_commands``) reads a script into table blocks and commands;
each becomes the ``Op`` s nftkit's ``Transaction`` would build for it (``add rule inet t c
tcp dport 22 accept`` is one ``add rule`` op with a ``Rule``; a ``table inet t { ... }`` block
is the ops that add the table and everything in it), its objects decoded by
``nftkit.parse._decode``. ``parse`` runs those ops on an empty ruleset with the same engine
as ``FakeNftables`` (``run_batch``), in script order, as ``nft -f`` does::

    nftkit.parse("add table inet t\ncreate table inet t")
    # ParseError: <input>:2:1: File exists: create table inet t: table inet t exists

A script of table blocks only (a listing, a declarative file) applied to an empty ruleset is
its tables, merged where a table comes twice: ``parse`` decodes those directly (the listing
fast path's speed depends on it), checking that jump targets and ``@sets`` exist.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..errors import (
    BackendError,
    BusyError,
    ExistsError,
    NftkitError,
    NotFoundError,
    ParseError,
)
from ..model.ruleset import Ruleset, Table
from ..parse._decode import Decoder, line_of, plain_body
from ..parse.json import JsonDecoder, gc_paused
from ..parse.nft import parse_commands
from ..parse.transformer import Cmd, TableBlock
from ..transaction import Kind, Op, Transaction, Verb
from .engine import LATEST, BatchAborted, run_batch, run_resets
from .state import State

__all__ = ["apply_script", "parse", "parse_script", "script_transaction"]


def parse(text: str, *, filename: str | None = None,
          include_paths: Sequence[str | os.PathLike[str]] = ()) -> Ruleset:
    """Read ``nft list ruleset`` output or an ``nft -f`` script into a ``Ruleset``.

    A script's commands are applied to an empty ruleset with the kernel's semantics (``add``
    is idempotent, ``create`` fails on an existing object, ``delete`` on a missing one, ...)::

        nftkit.parse("table inet t { chain c { tcp dport 22 accept } }")
    """
    # no cycles, only many long-lived objects: the collector is off while they are made,
    # and they join its oldest generation after (see gc_paused)
    with gc_paused(long_lived=True):
        items = parse_commands(text, filename=filename, include_paths=include_paths)
        if all(isinstance(item, TableBlock) for item in items):
            dec = Decoder(text, filename)
            for item in items:
                dec.apply(item)
            return dec.ruleset()
        txn, lines = script_transaction(items, text, filename)
        return apply_script(txn, lines, text, filename)


def parse_script(text: str, *, filename: str | None = None,
                 include_paths: Sequence[str | os.PathLike[str]] = ()) -> Transaction:
    """An ``nft -f`` script's commands as a ``Transaction`` (one ``Op`` per nft command; a
    table block becomes the ops that add the table and everything in it)::

        txn = nftkit.parse_script("add rule inet t c tcp dport 22 accept")
        txn.ops[0].verb, txn.ops[0].kind  # (Verb.ADD, Kind.RULE)
    """
    items = parse_commands(text, filename=filename, include_paths=include_paths)
    return script_transaction(items, text, filename)[0]


_STRERROR = {NotFoundError: "No such file or directory", ExistsError: "File exists",
             BusyError: "Device or resource busy"}


def apply_script(txn: Transaction, lines: Sequence[int | None], text: str,
                 filename: str | None) -> Ruleset:
    """The ruleset ``txn`` leaves when run on an empty one, in op order (``nft -f``); a
    failure is a ``ParseError`` at the line of the command (``lines[i]``: op ``i``'s).

    As in ``nft -f``, resets go first, against the ruleset before the script (here: empty,
    so ``reset counter inet t c`` of a counter the script adds fails)."""
    empty = State(keep_handles=True)  # a listing's "# handle N" stays
    work = empty.clone()
    try:
        run_resets(empty.clone(), txn.ops, LATEST)
        try:
            run_batch(work, empty, txn.ops, txn.batch(ordered=False), LATEST)
        except BatchAborted as aborted:
            raise aborted.error from None
        work.commit()
    except BackendError as err:
        line = lines[err.index] if err.index is not None and err.index < len(lines) else None
        what = _STRERROR.get(type(err), "Invalid argument")
        raise _located(f"{what}: {err.nft_message or err}", text, filename, line) from None
    return work.model()


def _located(message: str, text: str, filename: str | None, line: int | None) -> ParseError:
    source = None
    if line is not None:
        all_lines = text.split("\n")  # line numbers count "\n" only
        if 0 < line <= len(all_lines):
            source = all_lines[line - 1].expandtabs(1)
    return ParseError(message, filename=filename or "<input>", line=line,
                      column=1 if source is not None else None, source_line=source)


def _scratch_table(text: str, filename: str | None, family: str, name: str) -> Decoder:
    dec = Decoder(text, filename, number=False)
    dec.apply(Cmd("add", "table", {"family": family, "name": name}, None))
    return dec


def _only_table(dec: Decoder) -> Table:
    rs = dec.ruleset(check=False)  # one command alone: its references live elsewhere
    return rs.tables[0]


def _element(dec: JsonDecoder, e: Any) -> Any:
    if isinstance(e, tuple) and len(e) == 2:
        return (dec.expr(plain_body(e[0])), dec.expr(plain_body(e[1])))
    return dec.expr(plain_body(e))


def script_transaction(items: list[Any], text: str, filename: str | None
                       ) -> tuple[Transaction, list[int | None]]:
    """The ops of a parsed script, in order, and the line each came from."""
    txn = Transaction()
    lines: list[int | None] = []
    for item in items:
        line = line_of(item.table if isinstance(item, TableBlock) else item.obj)
        try:
            _ops(txn, item, text, filename)
        except ParseError as exc:
            if exc.line is not None:
                raise
            raise _located(exc.message, text, filename, line) from None
        except NftkitError as exc:
            raise _located(str(exc), text, filename, line) from None
        lines.extend([line] * (len(txn) - len(lines)))
    return txn, lines


def _table_ops(txn: Transaction, verb: Verb, table: Table) -> None:
    """A table block's ops in the order nft sends them (its handles follow it): the table,
    its chains, named objects, sets and maps (with their elements), flowtables, then the rules
    of each chain."""
    put = txn.add if verb is Verb.ADD else txn.create
    put(table.replace(chains=(), sets=(), flowtables=(), objects=()))
    ref = (table.family, table.name)
    for item in (*(c.replace(rules=()) for c in table.chains), *table.objects, *table.sets,
                 *table.flowtables):
        put(item, table=ref)
    for c in table.chains:
        for rule in c.rules:
            txn.add(rule, table=ref, chain=c.name)


def _ops(txn: Transaction, item: Any, text: str, filename: str | None) -> None:
    if isinstance(item, TableBlock):
        dec = Decoder(text, filename, number=False)
        dec.apply(item)
        _table_ops(txn, Verb.ADD, _only_table(dec))
        return
    assert isinstance(item, Cmd)
    o, kind, verb = item.obj, item.kind, item.verb
    fam = str(o.get("family", "ip")) if isinstance(o, dict) else "ip"
    if verb == "list":
        raise ParseError("list commands cannot be part of a ruleset file (nft -f)",
                         filename=filename or "<input>")
    if verb in ("add", "create") and kind == "table":
        dec = Decoder(text, filename, number=False)
        dec.apply(Cmd("add", "table", o, item.extra))
        _table_ops(txn, Verb(verb), _only_table(dec))
        return
    if verb in ("add", "create") and kind != "rule":
        tname = str(o["table"])
        dec = _scratch_table(text, filename, fam, tname)
        if kind == "element":
            jdec = JsonDecoder()
            elements = [_element(jdec, e) for e in item.extra]
            txn.append(Op(verb=verb, kind=Kind.ELEMENT, family=fam, table=tname,
                          name=str(o["name"]), elements=elements))
            return
        dec.apply(Cmd("add", kind, o, item.extra))
        table = _only_table(dec)
        obj: Any
        if kind == "chain":
            obj = table.chains[0]
        elif kind in ("set", "map", "meter"):
            obj = table.sets[0]
        elif kind == "flowtable":
            obj = table.flowtables[0]
        else:
            obj = table.objects[0]
        if verb == "add":
            txn.add(obj, table=(fam, tname))
        else:
            txn.create(obj, table=(fam, tname))
        return
    if kind == "rule" and verb in ("add", "insert", "replace"):
        tname, cname = str(o["table"]), str(o["chain"])
        dec = _scratch_table(text, filename, fam, tname)
        dec.apply(Cmd("add", "rule", {k: v for k, v in o.items()
                                      if k not in ("position", "index")}))
        rule = _only_table(dec).chains[0].rules[0]
        pos, idx = o.get("position"), o.get("index")
        if verb == "replace":
            txn.replace(rule, table=(fam, tname), chain=cname, handle=int(pos or 0))
        elif verb == "insert":
            txn.insert(rule, table=(fam, tname), chain=cname, before=pos, index=idx)
        else:
            txn.add(rule, table=(fam, tname), chain=cname, after=pos, index=idx)
        return
    if verb in ("delete", "destroy"):
        op = Op(verb=verb, kind=Kind.TABLE if kind == "table" else kind, family=fam,
                table=str(o.get("name" if kind == "table" else "table")) if (
                    kind != "table" or "name" in o) else None,
                name=None if kind in ("table", "rule") else (
                    str(o["name"]) if "name" in o else None),
                chain=str(o["chain"]) if kind == "rule" else None,
                handle=o.get("handle"),
                elements=[_element(JsonDecoder(), e) for e in item.extra]
                if kind == "element" else ())
        if kind == "element":
            op = Op(verb=verb, kind=Kind.ELEMENT, family=fam, table=str(o["table"]),
                    name=str(o["name"]), elements=op.elements)
        txn.append(op)
        return
    if verb == "flush":
        if kind == "ruleset":
            txn.append(Op(verb=Verb.FLUSH, kind=Kind.RULESET,
                          family=o.get("family")))
        elif kind == "table":
            txn.append(Op(verb=Verb.FLUSH, kind=Kind.TABLE, family=fam, table=str(o["name"])))
        elif kind == "chain":
            txn.append(Op(verb=Verb.FLUSH, kind=Kind.CHAIN, family=fam, table=str(o["table"]),
                          name=str(o["name"])))
        else:
            txn.append(Op(verb=Verb.FLUSH, kind=kind, family=fam, table=str(o["table"]),
                          name=str(o["name"])))
        return
    if verb == "reset":
        if kind == "many":
            args = o["args"]
            what = {"counters": Kind.COUNTERS, "quotas": Kind.QUOTAS, "rules": Kind.RULES,
                    "rule": Kind.RULES}.get(args[0] if args else "", Kind.COUNTERS)
            where = [str(a) for a in args[1:]]  # ``reset counters table inet t``
            if where[:1] == ["table"] and len(where) in (2, 3):
                rfam, rtable = (where[1], where[2]) if len(where) == 3 else ("ip", where[1])
                txn.append(Op(verb=Verb.RESET, kind=what, family=rfam, table=rtable))
            else:
                txn.append(Op(verb=Verb.RESET, kind=what))
        else:
            txn.append(Op(verb=Verb.RESET, kind=kind, family=fam, table=str(o["table"]),
                          name=str(o["name"])))
        return
    if verb == "rename":
        txn.append(Op(verb=Verb.RENAME, kind=Kind.CHAIN, family=fam, table=str(o["table"]),
                      name=str(o["name"]), new_name=str(item.extra)))
        return
    raise ParseError(f"cannot express {verb} {kind} as a transaction operation",
                     filename=filename or "<input>")
