"""The op of a failed JSON batch, found by bisection with dry runs.

libnftables gives no position for errors in JSON input (only for JSON syntax errors): the op
that failed is found by dry runs of prefixes of the batch, a binary search of about log2(n)
extra dry runs, only when a batch fails.
"""

from __future__ import annotations

from ...errors import BackendError, PermissionDeniedError
from ...transaction import Op
from .._netns import PERMISSION_HINT
from ._context import Context
from ._errors import classify, clean_message, json_index

__all__ = ["Sent", "batch_doc", "batch_error", "dry_ok"]

#: ``(index in the transaction, op as sent)`` of each op of a JSON batch.
Sent = list[tuple[int, Op]]


def batch_doc(ctx: Context, sent: Sent) -> dict[str, object]:
    """The JSON command document of ``sent``, for this libnftables' release."""
    version = ctx.version
    return {"nftables": [op.to_json(version=version) for _, op in sent]}


def dry_ok(ctx: Context, sent: Sent) -> tuple[bool, str]:
    """Whether a dry run of ``sent`` passes, and its error output."""
    rc, _out, err = ctx.json(batch_doc(ctx, sent), dry=True)
    return rc == 0, err


def batch_error(ctx: Context, sent: Sent, err: str, ops: tuple[Op, ...]) -> BackendError:
    """The nftkit error for a failed batch, naming the op that failed."""
    cls = classify(err)
    message = clean_message(err)
    if cls is PermissionDeniedError:
        return cls(PERMISSION_HINT, nft_message=message)
    pos = json_index(err)
    if pos is None or pos >= len(sent):
        pos, first = _bisect(ctx, sent, err)
        if first:
            message = clean_message(first)
            cls = classify(first)
    if pos is None:
        return cls(f"nft rejected the transaction: {message.splitlines()[0]}",
                   nft_message=message)
    # The op as the user wrote it: the sent one may be reordered, split off a set
    # (elements), a resolved ``position`` or an emulated ``destroy``.
    index = sent[pos][0]
    op = ops[index]
    reason = message.splitlines()[0] if message else "failed"
    return cls(f"{op.describe()}: {reason}", nft_message=message, index=index, operation=op)


def _bisect(ctx: Context, sent: Sent, err: str) -> tuple[int | None, str]:
    """The position of the first op whose prefix of the batch fails a dry run, with that
    prefix's error output. ``(None, "")`` when only the commit fails."""
    if len(sent) == 1:
        return 0, err
    # Each dry run uses up kernel handles for what its prefix would create (the kernel
    # allocates them before it aborts), so the search starts from the failure we already
    # have instead of re-running the whole batch.
    lo, hi, hi_err = 1, len(sent), err  # invariant: prefix [:hi] fails
    while lo < hi:
        mid = (lo + hi) // 2
        ok, mid_err = dry_ok(ctx, sent[:mid])
        if ok:
            lo = mid + 1
        else:
            hi, hi_err = mid, mid_err
    if hi == len(sent) and dry_ok(ctx, sent)[0]:
        return None, ""  # only the commit fails: no prefix reproduces it
    return hi - 1, hi_err
