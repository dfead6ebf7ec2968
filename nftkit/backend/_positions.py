"""Where ``add(after=handle)`` lands: shared by the libnftables backend and the fake.

nft 1.0.6's JSON input ignores a rule's ``handle`` position and appends; the backend sends an
index instead, computed by replaying the earlier operations of the batch on the chain's rule
handles. The fake must compute exactly the same, so both use this one function.
"""

from __future__ import annotations

from ..errors import NotFoundError, UnsupportedError
from ..transaction import Kind, Op, Verb

__all__ = ["position_index", "replay"]


def replay(e: Op, op: Op, rules: list[int | None], j: int, i: int) -> list[int | None]:
    """The rule handles of ``op``'s chain after the earlier op ``e`` (None: a rule made in the
    batch), as both backends work them out."""
    if e.verb is Verb.FLUSH and e.kind in (Kind.RULESET, Kind.TABLE):
        return []
    if e.verb in (Verb.DELETE, Verb.DESTROY, Verb.FLUSH) and (
            e.kind is Kind.TABLE or (e.kind is Kind.CHAIN and e.name == op.chain)):
        return []
    if e.verb is Verb.RENAME and op.chain in (e.name, e.new_name):
        raise UnsupportedError(
            f"operation {i} ({op.describe()}): add(after=handle) after renaming chain "
            f"{op.chain} (operation {j}) in the same transaction; use index=")
    if e.kind is not Kind.RULE or e.chain != op.chain:
        return rules
    if e.verb in (Verb.DELETE, Verb.DESTROY):
        raise UnsupportedError(
            f"operation {i} ({op.describe()}): add(after=handle) after deleting a rule of "
            f"chain {op.chain} (operation {j}) in the same transaction; use "
            "insert(before=...) or two transactions")
    out = list(rules)
    if e.verb is Verb.ADD:
        if e.position is not None:
            at = out.index(e.position) + 1 if e.position in out else len(out)
        elif e.index is not None:
            at = min(e.index + 1, len(out))
        else:
            at = len(out)
        out.insert(at, None)
    elif e.verb is Verb.INSERT:
        if e.position is not None:
            at = out.index(e.position) if e.position in out else 0
        else:
            at = min(e.index or 0, len(out))
        out.insert(at, None)
    return out


def position_index(ops: tuple[Op, ...], i: int, rules: list[int | None]) -> int:
    """The index that rule ``ops[i].position`` has when op ``i`` runs: ``rules`` (the chain's
    handles before the batch) with the earlier ops of the same table replayed on them;
    NotFoundError if it is not there."""
    op = ops[i]
    for j, earlier in enumerate(ops[:i]):
        if earlier.kind is Kind.RULESET or (
                earlier.family == op.family and earlier.table == op.table):
            rules = replay(earlier, op, rules, j, i)
    if op.position not in rules:
        raise NotFoundError(f"{op.describe()}: no rule with handle {op.position} in chain "
                            f"{op.chain} at that point", index=i, operation=op)
    return rules.index(op.position)
