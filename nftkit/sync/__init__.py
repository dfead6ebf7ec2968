"""Declarative sync: canonical equality, the minimal diff, and the loop ``Nftables.sync`` runs.

::

    nftkit.canonical(nft.list_ruleset()) == nftkit.canonical(model)   # the kernel has it
    txn = nftkit.diff(nft.list_ruleset(), desired, tables=[("inet", "filter")])
    result = nft.sync(desired)            # read (or reuse), diff, one batch, retry on conflict
    result.path, result.retries, result.script

The modules, from the bottom up::

    _canonical  one spelling per meaning (``canonical``, and per-object forms)
    _diff       ``diff``/``plan``: per table, the ops in an order where every reference resolves
    _script     a transaction as an ``nft -f`` script
    _loop       ``run_sync``: the loop over any backend's ``Target``; ``SyncResult``

It sits above ``semantics`` and ``transaction`` and below ``backend`` (``.importlinter``): the
backends give it a ``Target`` (read at a generation, apply at a generation).
"""

from __future__ import annotations

from ._canonical import canonical
from ._diff import Plan, diff, owned_keys, plan
from ._loop import Applied, SyncPath, SyncResult, SyncState, Target, run_sync
from ._script import script

__all__ = [
    "Applied",
    "Plan",
    "SyncPath",
    "SyncResult",
    "SyncState",
    "Target",
    "canonical",
    "diff",
    "owned_keys",
    "plan",
    "run_sync",
    "script",
]
