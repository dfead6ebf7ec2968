"""Transactions: an ordered list of typed operations that a backend applies as one atomic batch.

A ``Transaction`` is built with methods that validate their arguments at once (bad input raises
``ValidationError`` at the call, not at ``run``). Every method appends one or more ``Op`` s;
each ``Op`` is exactly one libnftables JSON command, so ``txn.ops[i]`` is command ``i`` of
``txn.to_json(ordered=False)`` and errors can name the operation that failed. By default
backends send the batch reordered so that the kernel does the least work (``txn.batch()``,
``txn.to_json()``); errors still name the op's index in ``txn.ops``::

    txn = Transaction()
    txn.add(Table(family="inet", name="t", chains=[Chain(name="c", rules=[rule])]))
    txn.add_elements(vmap, [(80, VerdictExpr(kind="jump", target="svc-http"))], table=("inet", "t"))
    txn.delete("chain", table=("inet", "t"), name="old")
    txn.to_json(ordered=False)
    # {"nftables": [{"add": {"table": {"family": "inet", "name": "t"}}},
    #               {"add": {"chain": {"family": "inet", "table": "t", "name": "c"}}},
    #               {"add": {"rule": {..., "chain": "c", "expr": [...]}}},
    #               {"add": {"element": {"family": "inet", "table": "t", "name": "svc",
    #                                    "elem": [[80, {"jump": {"target": "svc-http"}}]]}}},
    #               {"delete": {"chain": {"family": "inet", "table": "t", "name": "old"}}}]}

The set of operations is closed (``Verb`` x ``Kind``, see ``ALLOWED``), so a backend such as
``FakeNftables`` can implement every one of them:

=========  =================================================================================
verb       kinds (nft command form)
=========  =================================================================================
add        table, chain, rule, set, map, element, flowtable, named objects
           (``add rule inet t c [position H | index N] ...``: after handle H / at index N)
create     table, chain, set, map, element, flowtable, named objects (fails if it exists)
insert     rule (``insert rule ... [position H | index N]``: before handle H / index N,
           or at the top of the chain)
replace    rule, by handle
delete     table, chain, set, map, flowtable, named objects (by name or handle), rule (by
           handle), element
destroy    as delete, but succeeds when the object does not exist. Native (``destroy ...``)
           with nft >= 1.0.7 and a kernel that has it; the libnftables backend emulates it
           otherwise (delete if it exists, decided at run time, just before the batch).
flush      ruleset, table, chain, set, map
reset      counter, quota (one named object), counters, quotas (of a table or all),
           rules (of a chain, a table or all; nft >= 1.0.7). The kernel resets on a read
           request, not in the batch: backends apply resets after the batch commits (and
           not at all when it fails); a dry run only checks that their targets exist.
rename     chain
=========  =================================================================================

Adding (or creating) a ``Table`` adds the table and then everything in it, in an order where
every reference resolves: named objects, flowtables, chains (empty), sets and maps (with their
elements, which may jump to those chains), then each chain's rules (which may use all of
these). A ``Ruleset`` adds each of its tables. Each such object is its
own ``Op`` whose ``obj`` carries only that object (a table op's ``obj`` has no chains, a chain
op's ``obj`` has no rules; a set op's ``obj`` keeps its elements, which nft adds with the set).
"""

from __future__ import annotations

from .ops import *  # noqa: F403
from .ops import __all__ as _ops_all
from .txn import Transaction

__all__ = ["Transaction", *_ops_all]

