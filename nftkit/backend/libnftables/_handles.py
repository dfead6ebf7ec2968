"""Handles of what a JSON batch created: from nft's echo output, and read back from the kernel
where the echo left them out.
"""

from __future__ import annotations

from typing import Any

from ...errors import BackendError
from ...transaction import Kind, Op, Verb
from ._context import Context

__all__ = ["fill_handles", "handles_from_echo"]


def _key(kind: str, body: dict[str, Any]) -> tuple[str, ...]:
    if kind == "table":
        return (kind, str(body.get("family")), str(body.get("name")))
    if kind == "rule":
        return (kind, str(body.get("family")), str(body.get("table")), str(body.get("chain")))
    return (kind, str(body.get("family")), str(body.get("table")), str(body.get("name")))


def _op_key(op: Op) -> tuple[str, ...]:
    fam = op.family.value if op.family is not None else "None"
    if op.kind is Kind.TABLE:
        return (op.kind.value, fam, str(op.table))
    if op.kind is Kind.RULE:
        return (op.kind.value, fam, str(op.table), str(op.chain))
    return (op.kind.value, fam, str(op.table), str(op.name))


def handles_from_echo(ops: list[Op], echo: Any) -> list[int | None]:
    """Match nft's echo output (``{"nftables": [{"add": {"rule": {..., "handle": 7}}}]}``)
    to the ops that were sent, in order; ops without an echoed handle get None.

    nft echoes most commands in order but not all of them (and ``add table`` of an existing
    table comes back without a handle), so entries are matched by kind and name, moving
    forward only.
    """
    handles: list[int | None] = [None] * len(ops)
    items = echo.get("nftables", []) if isinstance(echo, dict) else []
    pos = 0
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        ((verb, inner),) = item.items()
        if verb not in ("add", "create", "insert", "replace") or not isinstance(inner, dict):
            continue
        ((kind, body),) = inner.items() if len(inner) == 1 else ((None, None),)
        if not isinstance(body, dict) or "handle" not in body:
            continue
        key = _key(str(kind), body)
        for j in range(pos, len(ops)):
            if ops[j].creates and ops[j].verb is not Verb.DELETE and _op_key(ops[j]) == key:
                handles[j] = int(body["handle"])
                pos = j + 1
                break
    return handles


def fill_handles(ctx: Context, ops: list[Op], handles: list[int | None]) -> list[int | None]:
    """Handles the echo left out, read back from the kernel (the touched tables only).

    libnftables 1.0.6 sometimes echoes the first objects of a batch without their handle
    (seen in the first batch with echo after some failed ones, in any context of the
    process). Tables, chains, sets and objects are found by name; rules that this batch
    appended to a chain are that chain's last rules, in order; other rules are found by
    their statements among the chain's rules whose handles are not otherwise known.
    """
    out = list(handles)
    known = {h for h in handles if h is not None}
    tables: dict[tuple[str, str], list[Any]] = {}
    table_handles: dict[tuple[str, str], int] = {}
    if any(op.kind is Kind.TABLE and h is None for op, h in zip(ops, out, strict=True)):
        for item in ctx.list({"tables": None}):
            body = item.get("table", {})
            table_handles[(body.get("family"), body.get("name"))] = body.get("handle")
    for j, op in enumerate(ops):
        if not op.creates or out[j] is not None or op.family is None or op.table is None:
            continue
        where = (op.family.value, op.table)
        if op.kind is Kind.TABLE:
            out[j] = table_handles.get(where)
            continue
        if where not in tables:
            try:
                tables[where] = ctx.list({"table": {"family": where[0],
                                                      "name": where[1]}})
            except BackendError:
                tables[where] = []
        if op.kind is Kind.RULE:
            tail = _appended(ops, j, tables[where])
            if tail is not None:
                out[j] = tail
                known.add(tail)
                continue
        for item in tables[where]:
            ((kind, body),) = item.items()
            if op.kind is Kind.RULE:
                if (kind == "rule" and body.get("chain") == op.chain
                        and body.get("handle") not in known
                        and _same_rule(ctx, op, body)):
                    out[j] = body.get("handle")
                    break
            elif kind == op.kind.value and body.get("name") == op.name:
                out[j] = body.get("handle")
                break
        found = out[j]
        if found is not None:
            known.add(found)
    return out

def _appended(ops: list[Op], j: int, items: list[Any]) -> int | None:
    """If every rule op of ``ops[j]``'s chain in this batch appends (no position, index or
    insert), they are the chain's last rules, in order: the handle of ``ops[j]``'s."""
    op = ops[j]
    mine = [k for k, o in enumerate(ops) if o.kind is Kind.RULE and o.family == op.family
            and o.table == op.table and o.chain == op.chain]
    if any(ops[k].verb is not Verb.ADD or ops[k].position is not None
           or ops[k].index is not None for k in mine):
        return None
    listed = [body.get("handle") for item in items for kind, body in item.items()
              if kind == "rule" and body.get("chain") == op.chain]
    if len(listed) < len(mine):
        return None
    handle = listed[len(listed) - len(mine) + mine.index(j)]
    return handle if isinstance(handle, int) else None

def _same_rule(ctx: Context, op: Op, listed: dict[str, Any]) -> bool:
    """Whether a listed rule is what ``op`` added (its JSON, as this nft lists it)."""
    sent = op.to_json(version=ctx.version)[op.verb.value]["rule"]
    return bool(sent.get("expr") == listed.get("expr")
                and sent.get("comment") == listed.get("comment"))
