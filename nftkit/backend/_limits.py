"""Batches an nft release cannot take, refused alike by ``Nftables`` and ``FakeNftables``.

nft 1.0.6 crashes (SIGSEGV, the whole process) on a batch that renames a chain and then
deletes that chain or its table, e.g. ``rename chain inet t a b; delete chain inet t b``. The
real backend must never send it, and the fake refuses it the same way, so that a test suite
written against the fake sees what production would see.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import UnsupportedError
from ..nft.releases import profile
from ..transaction import Kind, Op, Verb

__all__ = ["refuse_rename_then_delete"]


def refuse_rename_then_delete(ops: Sequence[Op], version: tuple[int, int, int]) -> None:
    """Raise ``UnsupportedError`` naming the op if ``ops`` renames a chain and later deletes
    (or destroys) it, its new name or its table: nft crashes on such a batch (a segfault in
    nft 1.0.6, 1.1.3 and 1.1.7; ``ReleaseProfile.rename_then_delete``)."""
    if profile(version).rename_then_delete:
        return
    renamed: dict[tuple[object, object], set[object]] = {}
    for i, op in enumerate(ops):
        where = (op.family, op.table)
        if op.verb is Verb.RENAME:
            renamed.setdefault(where, set()).update({op.name, op.new_name})
        elif (op.verb in (Verb.DELETE, Verb.DESTROY) and where in renamed
              and (op.kind is Kind.TABLE or (op.kind is Kind.CHAIN
                                             and op.name in renamed[where]))):
            raise UnsupportedError(
                f"operation {i} ({op.describe()}): libnftables "
                f"{'.'.join(map(str, version))} crashes on a batch that renames a "
                "chain and then deletes it or its table; send them in two transactions")
