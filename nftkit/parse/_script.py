"""Script commands -> ``Transaction`` operations (``nftkit.parse_script``).

Each command of an ``nft -f`` script becomes the ``Op`` s nftkit's ``Transaction`` would build
for it: ``add rule inet t c tcp dport 22 accept`` is one ``add rule`` op with a ``Rule`` model
object, a ``table inet t { ... }`` block is the ops that add the table and everything in it.
Objects are decoded with the same machinery as ``parse``, each in a scratch table.
"""

from __future__ import annotations

from typing import Any

from ..errors import NftkitError, ParseError
from ..model.ruleset import Table
from ..transaction import Kind, Op, Transaction, Verb
from ._apply import Applier, _str
from .json import JsonDecoder
from .transformer import Cmd, TableBlock

__all__ = ["script_transaction"]


def _scratch_table(text: str, filename: str | None, family: str, name: str) -> Applier:
    app = Applier(text, filename)
    app._table(family, name, create=True)
    return app


def _only_table(app: Applier) -> Table:
    rs = app.ruleset(check=False)  # one command alone: its references live elsewhere
    return rs.tables[0]


def _element(dec: JsonDecoder, e: Any) -> Any:
    if isinstance(e, list | tuple) and len(e) == 2 and isinstance(e, tuple):
        return (dec.expr(_str(e[0])), dec.expr(_str(e[1])))
    return dec.expr(_str(e))


def script_transaction(items: list[Any], text: str, filename: str | None) -> Transaction:
    """The ops of a parsed script, in order."""
    txn = Transaction()
    for item in items:
        try:
            _ops(txn, item, text, filename)
        except ParseError:
            raise
        except NftkitError as exc:
            raise ParseError(str(exc), filename=filename or "<input>") from None
    return txn


def _ops(txn: Transaction, item: Any, text: str, filename: str | None) -> None:
    if isinstance(item, TableBlock):
        app = Applier(text, filename)
        app.apply(item)
        txn.add(_only_table(app))
        return
    assert isinstance(item, Cmd)
    o, kind, verb = item.obj, item.kind, item.verb
    fam = str(o.get("family", "ip")) if isinstance(o, dict) else "ip"
    if verb == "list":
        raise ParseError("list commands cannot be part of a ruleset file (nft -f)",
                         filename=filename or "<input>")
    if verb in ("add", "create") and kind == "table":
        app = Applier(text, filename)
        app.apply(Cmd("add", "table", o, item.extra))
        table = _only_table(app)
        txn.add(table) if verb == "add" else txn.create(table)
        return
    if verb in ("add", "create") and kind != "rule":
        tname = str(o["table"])
        app = _scratch_table(text, filename, fam, tname)
        if kind == "element":
            dec = JsonDecoder()
            elements = [_element(dec, e) for e in item.extra]
            txn.append(Op(verb=verb, kind=Kind.ELEMENT, family=fam, table=tname,
                          name=str(o["name"]), elements=elements))
            return
        app.apply(Cmd("add", kind, o, item.extra))
        table = _only_table(app)
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
        app = _scratch_table(text, filename, fam, tname)
        app.apply(Cmd("add", "chain", {"family": fam, "table": tname, "name": cname}, None))
        app.apply(Cmd("add", "rule", {k: v for k, v in o.items()
                                      if k not in ("position", "index")}))
        rule = _only_table(app).chains[0].rules[0].replace(handle=None)
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
            what = {"counters": Kind.COUNTERS, "quotas": Kind.QUOTAS}.get(
                args[0] if args else "", Kind.COUNTERS)
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
