"""The JSON path: a transaction as ONE ``nft_run_cmd_from_buffer`` call with a JSON command
batch, so the kernel applies all of it or none of it.

::

    run_json(ctx, txn, dry=False, want_handles=True, ordered=True)  # -> TransactionResult

- Element adds and deletes only (a service update): the command is written directly
  (``_element_json``), with nothing to reorder, emulate, reset or echo.
- Otherwise the batch in ``txn.batch()`` order, with what libnftables cannot take as written
  rewritten (``_rewrite``: destroy emulation, rule positions), handles from nft's echo output
  (``_handles``), resets after the batch, and the failing op found by bisection (``_bisect``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ...errors import UnsupportedError
from ...model.expressions import ConcatExpr
from ...model.sets import Map
from ...nft.releases import profile
from ...transaction import Op, Transaction, TransactionResult, Verb, result_without_handles
from ._bisect import batch_doc, batch_error
from ._context import Context, OutputFlag
from ._element_json import element_command, element_only
from ._handles import fill_handles, handles_from_echo
from ._rewrite import ops_to_send

__all__ = ["run_json"]


def run_json(ctx: Context, txn: Transaction, *, dry: bool, want_handles: bool = True,
             ordered: bool = True, guards: Sequence[str] = ()) -> TransactionResult:
    """Apply (or dry-run) ``txn`` through libnftables' JSON input; see the module.

    ``guards``: for an element-only transaction that is not a dry run, JSON commands (text)
    sent
    after its own, in the same batch (an ``add set`` that the kernel refuses unless the set
    still has the type the elements were written for); ignored otherwise."""
    ops = txn.ops
    if not dry and element_only(ops):
        # byte-identical to json.dumps(batch_doc(...)) (nftkit/backend/libnftables/
        # _element_json.py), without building the document
        command = element_command(ops, ctx._version or ctx.version)
        if guards:
            command = command[:-2] + ", " + ", ".join(guards) + "]}"
        with ctx.lock:
            rc, _out, err = ctx.exec(command, flags=OutputFlag.JSON | OutputFlag.HANDLE,
                                     output=False)
            if rc != 0:
                raise batch_error(ctx, list(enumerate(ops)), err, ops)
        return result_without_handles(ops, "libnftables-json")
    batch = txn.batch(ordered=ordered)
    # The kernel resets counters and quotas on a *read* request, outside the batch (even
    # in a dry run), so resets cannot be atomic with it: they run after the batch commits,
    # and a dry run only checks that their targets exist.
    resets = [(i, op) for i, op in enumerate(ops) if op.verb is Verb.RESET]
    with ctx.lock:
        _refuse_unreadable(ctx, ops)
        sent = ops_to_send(ctx, ops, batch)
        handles: list[int | None] = [None] * len(ops)
        if sent:
            echo = want_handles and not dry and any(op.creates for _, op in sent)
            rc, out, err = ctx.json(batch_doc(ctx, sent), echo=echo, dry=dry)
            if rc != 0:
                raise batch_error(ctx, sent, err, ops)
            if echo:
                doc = json.loads(out) if out.strip() else {}
                echoed = handles_from_echo([op for _, op in sent], doc)
                if any(op.creates and h is None
                       for (_i, op), h in zip(sent, echoed, strict=True)):
                    echoed = fill_handles(ctx, [op for _, op in sent], echoed)
                for (i, _op), handle in zip(sent, echoed, strict=True):
                    # A set sent as set + elements has two entries with the set's index.
                    if handle is not None:
                        handles[i] = handle
        for i, op in resets:
            reset = {"nftables": [op.to_json(version=ctx.version)]}
            if dry:
                reset = {"nftables": [{"list": op.to_json()["reset"]}]}
            rc, _out, err = ctx.json(reset)
            if rc != 0:
                raise batch_error(ctx, [(i, op)], err, ops)
    return TransactionResult(ops=ops, handles=tuple(handles), path="libnftables-json")


def _refuse_unreadable(ctx: Context, ops: tuple[Op, ...]) -> None:
    """Refuse what this libnftables cannot read from JSON, before sending anything.

    nft 1.0.6 reads a map with concatenated data (``type inet_proto . inet_service :
    ipv4_addr . inet_service``) as a plain set, and then crashes the whole process
    (SIGSEGV) on a rule that uses it: that must never reach it.
    """
    version = ctx.version
    if profile(version).json_input_exact:
        return
    for i, op in enumerate(ops):
        if isinstance(op.obj, Map) and (len(op.obj.data_type) > 1 or isinstance(
                op.obj.data_typeof, ConcatExpr)):
            raise UnsupportedError(
                f"operation {i} ({op.describe()}): libnftables "
                f"{'.'.join(map(str, version))} cannot read a map with concatenated "
                "data from JSON (nft >= 1.1 can); load it with run_text() instead")
