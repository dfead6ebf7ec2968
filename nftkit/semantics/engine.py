"""Run a batch of operations on a ``State``, as the kernel runs an ``nft -f`` transaction.

``run_batch`` applies the ops in order (``Applier``, one op each), with nft's cache rule for a
batch that flushes the ruleset (``FlushCache``), and stops at the first op that fails::

    work = state.clone()
    handles, resets = run_batch(work, state, txn.ops, txn.batch(), version)
    work.commit()

Resets are handed back, not applied: the kernel resets on a read request, outside the batch.
``Nftables.run`` sends them after the batch; ``nft -f`` sends each as it reaches it, before
the batch, and stops at the first that fails (``run_resets``). What a backend adds on top
(positions checked before sending, handles a failed batch uses up) stays in the backend
(``nftkit.backend.fake``).
"""

from __future__ import annotations

from ..errors import BackendError, NotFoundError
from ..transaction import Op, Verb
from .apply import Applier, Fail, FlushCache
from .state import State

__all__ = ["LATEST", "BatchAborted", "run_batch", "run_op", "run_resets"]

#: The nft release whose behaviour ``nftkit.parse`` follows where releases differ (``reset``).
LATEST = (1, 1, 0)


class BatchAborted(Exception):
    """The batch failed at one op: ``error`` to raise, ``rest`` the ops after it (a backend
    that numbers handles like the kernel still uses up theirs)."""

    def __init__(self, error: BackendError, rest: tuple[Op, ...]) -> None:
        super().__init__(str(error))
        self.error = error
        self.rest = rest


def run_op(version: tuple[int, int, int], work: State, base: State, op: Op,
           index: int) -> int | None:
    """Apply one op to ``work`` (``base``: the state before the batch, nft's cache); its
    handle, if it creates something. A failure is the ``BackendError`` subclass the kernel's
    errno maps to, naming the op and its index."""
    try:
        return Applier(work, base, op, version).apply()
    except Fail as fail:
        raise fail.cls(f"{op.describe()}: {fail.message}", nft_message=fail.message,
                       index=index, operation=op) from None


def run_batch(work: State, base: State, ops: tuple[Op, ...], batch: list[tuple[int, Op]],
              version: tuple[int, int, int]) -> tuple[list[int | None], list[tuple[int, Op]]]:
    """Apply ``batch`` (``(index in ops, op)`` pairs) to ``work``: the handle of each op in
    ``ops`` (None where it created nothing), and the resets to run after the commit.

    Raises ``BatchAborted`` at the first op that fails; its error names the op as written
    (``ops[index]``), not the part of it that was sent (a set's elements).
    """
    cache = FlushCache(ops)  # ordering never moves an op across a flush: indices hold
    handles: list[int | None] = [None] * len(ops)
    resets: list[tuple[int, Op]] = []
    for k, (index, op) in enumerate(batch):
        if op.verb is Verb.RESET:
            resets.append((index, op))
            continue
        uncached = cache.check(index, op, work)
        if uncached is not None:
            raise BatchAborted(NotFoundError(f"{ops[index].describe()}: {uncached}",
                                             nft_message=uncached, index=index,
                                             operation=ops[index]),
                               tuple(o for _i, o in batch[k + 1:]))
        try:
            handle = run_op(version, work, base, op, index)
        except BackendError as err:
            if op is not ops[index]:
                err = type(err)(f"{ops[index].describe()}: {err.nft_message}",
                                nft_message=err.nft_message, index=index,
                                operation=ops[index])
            raise BatchAborted(err, tuple(o for _i, o in batch[k + 1:])) from None
        if handle is not None:  # a set split into set + elements: the set's handle
            handles[index] = handle
    return handles, resets


def run_resets(state: State, ops: tuple[Op, ...], version: tuple[int, int, int]) -> None:
    """The ``reset`` ops of ``ops`` on ``state``, in order, as ``nft -f`` runs them: each at
    once (no batch: what one resets stays reset when a later command fails), against the
    ruleset as it was before the script's batch."""
    for index, op in enumerate(ops):
        if op.verb is Verb.RESET:
            run_op(version, state, state, op, index)
