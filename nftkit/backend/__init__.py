"""Backends that apply transactions and read rulesets back.

- ``nftkit.Nftables`` (``nftkit.backend.router``): the kernel, through its two sibling paths
  ``backend.netlink`` and ``backend.libnftables`` (see docs/architecture.md, "Backends").
  Importing the router needs libnftables.so.1 (Debian: ``libnftables1``) and raises
  ``BackendUnavailableError`` naming the package otherwise.
- ``nftkit.backend.fake.FakeNftables``: the same semantics in memory, for tests without root.

Both follow the ``Backend`` protocol, so code can take either. Importing this package needs
neither libnftables nor cffi.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .libnftables._ffi import LIBRARY, BackendUnavailableError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..model.enums import Family
    from ..model.objects import Counter, Quota
    from ..model.ruleset import Ruleset, Table
    from ..model.sets import Map, Set
    from ..sync import SyncResult
    from ..transaction import Transaction, TransactionResult

__all__ = ["LIBRARY", "Backend", "BackendUnavailableError"]


@runtime_checkable
class Backend(Protocol):
    """What ``Nftables`` and ``FakeNftables`` both provide."""

    def run(self, txn: Transaction, *, ordered: bool = True) -> TransactionResult:
        """Apply ``txn`` atomically (in batch order unless ``ordered=False``); handles per
        op. BackendError subclasses on failure, with ``index`` and ``operation`` of the
        failing op as written in ``txn.ops``."""
        ...

    def check(self, txn: Transaction, *, ordered: bool = True) -> None:
        """Validate ``txn`` as ``run`` would, changing nothing."""
        ...

    def list_ruleset(self) -> Ruleset:
        """Every table."""
        ...

    def list_table(self, family: Family | str, name: str) -> Table:
        """One table with its contents (NotFoundError if absent)."""
        ...

    def list_set(self, family: Family | str, table: str, name: str) -> Set:
        """One set with its elements."""
        ...

    def list_map(self, family: Family | str, table: str, name: str) -> Map:
        """One map with its elements."""
        ...

    def list_tables(self) -> list[Table]:
        """The tables without their contents."""
        ...

    def list_counters(self, family: Family | str | None = None,
                      table: str | None = None) -> list[Counter]:
        """Named counters, of one table or of all."""
        ...

    def list_quotas(self, family: Family | str | None = None,
                    table: str | None = None) -> list[Quota]:
        """Named quotas, of one table or of all."""
        ...

    def sync(self, desired: Ruleset | Table | Iterable[Table], *,
             tables: Iterable[Table | tuple[Family | str, str] | str] | None = None,
             dry_run: bool = False, retries: int = 5) -> SyncResult:
        """Make the owned tables what ``desired`` says, in one atomic batch (docs/sync.md)."""
        ...

    def drift(self, desired: Ruleset | Table | Iterable[Table], *,
              tables: Iterable[Table | tuple[Family | str, str] | str] | None = None
              ) -> Transaction:
        """What ``sync`` would send now (empty: no drift)."""
        ...
