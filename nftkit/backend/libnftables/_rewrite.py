"""The ops a JSON batch sends, where libnftables cannot take them as written.

- ``destroy`` where libnftables or the kernel has no native one (nft < 1.0.7): each becomes a
  ``delete`` of what exists at that point of the batch (checked by dry runs just before
  sending), or is dropped.
- ``add rule ... position H``: sent as ``add rule ... index N`` (see ``_position_to_index``).
"""

from __future__ import annotations

import attrs

from ...errors import NotFoundError
from ...transaction import Kind, Op, Verb
from .._positions import position_index
from ._bisect import Sent, dry_ok
from ._context import Context
from ._errors import classify

__all__ = ["ops_to_send"]


def ops_to_send(ctx: Context, ops: tuple[Op, ...], batch: list[tuple[int, Op]]) -> Sent:
    """The ops of ``batch`` to send; where ``destroy`` is not native, each becomes a
    ``delete`` of what exists at that point of the batch (checked by dry runs just before
    sending), or is dropped. ``ops`` are the transaction's ops as written (ordering keeps
    the rules' order, so a ``position`` resolves the same against them)."""
    sent: Sent = []
    emulate = any(op.verb is Verb.DESTROY for op in ops) and not ctx.native_destroy
    for i, op in batch:
        if op.verb is Verb.RESET:
            continue  # applied after the batch, see _json.run_json
        if op.verb is Verb.ADD and op.kind is Kind.RULE and op.position is not None:
            op = _position_to_index(ctx, ops, i, op)
        if not (emulate and op.verb is Verb.DESTROY):
            sent.append((i, op))
            continue
        if op.kind is Kind.ELEMENT:
            present = tuple(e for e in op.elements
                            if _exists(ctx, sent, attrs.evolve(op, verb=Verb.DELETE,
                                                               elements=(e,)), i))
            if present:
                sent.append((i, attrs.evolve(op, verb=Verb.DELETE, elements=present)))
        else:
            delete = attrs.evolve(op, verb=Verb.DELETE)
            if _exists(ctx, sent, delete, i):
                sent.append((i, delete))
    return sent

def _position_to_index(ctx: Context, ops: tuple[Op, ...], i: int, op: Op) -> Op:
    """``add rule ... position H`` as ``add rule ... index N``.

    libnftables' JSON parser ignores the handle of an ``add`` (it honours it for
    ``insert``) in nft 1.0.6 and later releases, silently appending the rule instead; the
    index form works everywhere, also for rules added earlier in the same batch (nft keeps
    its rule cache up to date within a batch). N is where rule H stands at that point of
    the batch: the chain's rules as the kernel has them now, then the earlier ops of the
    transaction replayed on that list (UnsupportedError where that cannot be exact: a rule
    of the chain deleted, or the chain renamed, earlier in the transaction).
    """
    assert op.family is not None
    try:
        items = ctx.list({"chain": {"family": op.family.value, "table": op.table,
                                      "name": op.chain}})
        rules: list[int | None] = [item["rule"].get("handle")
                                   for item in items if "rule" in item]
    except NotFoundError:
        rules = []  # the chain may be created earlier in this transaction
    return attrs.evolve(op, position=None, index=position_index(ops, i, rules))

def _exists(ctx: Context, sent: Sent, delete: Op, index: int) -> bool:
    # Only the earlier ops on the same table can make the object exist or not; leaving
    # the others out also spares the handles a dry run of them would use up.
    sent = [(i, o) for i, o in sent if o.kind is Kind.RULESET or (
        o.family == delete.family and o.table == delete.table)]
    ok, err = dry_ok(ctx, [*sent, (index, delete)])
    if ok or classify(err) is not NotFoundError:
        return True  # present (a delete that fails otherwise, e.g. EBUSY, fails for real)
    # ENOENT: from our delete, or from an earlier op (then keep it: the batch fails anyway
    # and the error is attributed to that earlier op).
    return not dry_ok(ctx, sent)[0] if sent else False
