"""``FakeNftables``: an in-memory nftables with the kernel's transaction semantics, for tests.

It has the interface of ``nftkit.Nftables`` and needs no root, no libnftables and no kernel::

    fake = FakeNftables()
    result = fake.run(Transaction().add(Table(family="inet", name="t", chains=[
        Chain.base("input", hook="input", policy="drop")])))
    result.handles          # (1, 1): the table's handle, the chain's
    print(fake.dump())      # table inet t { chain input { type filter hook input ... } }

What it reproduces (checked against the kernel by tests/test_differential.py):

- ``run(txn)`` is atomic: when an operation fails, nothing of the transaction stays, and the
  error (``NotFoundError``, ``ExistsError``, ``BusyError``, ``InvalidError``) carries the index
  and ``Op`` of the operation that failed. ``check(txn)`` is the same without the commit.
- Handles are numbered like the kernel's: tables from one counter per namespace, everything else
  (chains, rules, sets, objects, flowtables; anonymous sets too) from one counter per table,
  starting at 1. As in the kernel, a failed batch still uses up the handles its creating
  operations would have taken (the kernel processes the whole batch before it aborts).
- ``add`` of an existing object is fine (a base chain may change its policy, a quota its limit),
  unless its definition differs (another set type, a base chain on another hook: ``ExistsError``
  / ``InvalidError``); ``create`` of an existing one is ``ExistsError``; deleting a missing one
  is ``NotFoundError`` (``destroy`` ignores it).
- References: a rule's ``jump``/``goto`` target, ``@set`` and named object must exist
  (``NotFoundError``); a jump to a base chain, a set of the wrong kind or key type, a loop or
  a chain 16 jumps away from a base chain are ``InvalidError``; deleting a chain,
  set or object that something still refers to is ``BusyError``. Deleting a table or a chain
  deletes what is in it (rules included).
- Elements: adding an existing one is fine with ``add`` (a map element only with the same
  data), ``ExistsError`` with ``create``; deleting a missing one is ``NotFoundError``;
  an interval that overlaps another is refused; the datatype of keys and data is checked
  where nftkit knows it.
- ``flush`` (ruleset: every table; table: every rule; chain: its rules; set/map: its
  elements), ``reset`` (nothing counts in a fake: it checks the target exists), ``rename``
  (jumps follow the chain to its new name, as in the kernel, which refers to chains by pointer).

Traffic never passes through a fake: counters and quotas stay as they were created.

The semantics themselves are ``nftkit.semantics`` (the engine ``nftkit.parse`` also runs
scripts with); this package adds what ``Nftables`` does around a batch (rule positions
checked before sending, handles a failed batch uses up) and the listing methods.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from ...errors import (
    BackendError,
    BusyError,
    ExistsError,
    InvalidError,
    NotFoundError,
    ValidationError,
)
from ...model.enums import Family
from ...model.objects import Counter, NamedObject, Quota
from ...model.ruleset import Chain, Ruleset, Table
from ...model.sets import Map, Set
from ...render.context import RenderContext
from ...render.json import to_json
from ...render.text import to_text
from ...semantics.engine import BatchAborted, run_batch, run_op, run_resets
from ...semantics.script import parse_script
from ...semantics.state import State, TableState, set_model
from ...sync import Applied, SyncResult, SyncState, run_sync
from ...sync._diff import TableKey
from ...transaction import (
    Kind,
    Op,
    Transaction,
    TransactionPath,
    TransactionResult,
    Verb,
    result_without_handles,
)
from .._limits import refuse_rename_then_delete
from .._positions import position_index
from .._sync import drift
from ._monitor import FakeMonitor, Monitors

__all__ = ["FakeNftables", "FakeTarget"]


#: nft's text for the errno behind each error class (what the kernel path's messages carry)
_STRERROR: dict[type[BackendError], str] = {
    NotFoundError: "No such file or directory", ExistsError: "File exists",
    BusyError: "Device or resource busy"}


def _as_nft(err: BackendError) -> BackendError:
    """``err`` worded as ``Nftables`` words it: ``<op>: <errno text>: <why>`` (``add rule inet
    t c: No such file or directory: chain c in table inet t does not exist``), where nft says
    ``add rule inet t c: No such file or directory`` (or ``Could not process rule: No such
    file or directory``, when the kernel rather than nft's cache found it). The class, index,
    operation and ``nft_message`` (the why) stay."""
    text = _STRERROR.get(type(err))
    op = err.operation
    if text is None or not isinstance(op, Op) or text in err.nft_message:
        return err
    why = err.nft_message or str(err)
    return type(err)(f"{op.describe()}: {text}: {why}", nft_message=err.nft_message,
                     index=err.index, operation=op)


def _check_path(path: str | None) -> None:
    if path is not None and path not in ("netlink", "libnftables-json", "libnftables-text"):
        raise ValidationError("FakeNftables", "path", f"expected one of netlink, "
                              f"libnftables-json, libnftables-text, got {path!r}")


class FakeNftables:
    """An in-memory stand-in for ``nftkit.Nftables`` (see the module docstring).

    ``FakeNftables(ruleset)`` starts from a ruleset (handles are assigned as if it had been
    added in one transaction). ``version`` is the nft release to behave like where that
    matters (``reset rules`` needs 1.0.7); by default the installed nft's. Safe to use from
    several threads: each ``run`` is atomic.
    """

    def __init__(self, ruleset: Ruleset | Table | None = None, *,
                 version: str | tuple[int, ...] | None = None) -> None:
        self._state = State()
        self._lock = threading.Lock()
        self._monitors = Monitors()
        #: the ruleset generation: one more per committed batch, as the kernel's genid
        self.generation = 0
        self._sync_state = SyncState()
        self.version = RenderContext(version=version).version
        if ruleset is not None:
            self.run(Transaction().add(ruleset))

    # --- context manager, like Nftables -------------------------------------------------------

    def __enter__(self) -> FakeNftables:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release; for symmetry with ``Nftables``."""

    # --- transactions ---------------------------------------------------------------------------

    def run(self, txn: Transaction, *, handles: bool = True, ordered: bool = True,
            netlink: bool | None = None, path: TransactionPath | None = None
            ) -> TransactionResult:
        """Apply ``txn`` atomically; returns the handles assigned to what it created.

        As with ``Nftables``, the ops are applied in batch order (``txn.batch()``; handles
        are assigned in that order, as the kernel does), unless ``ordered=False``, and
        errors name the op's index in ``txn.ops``. Resets (``reset counter``, ...) run after
        the batch commits: the kernel resets on a read request, outside any batch.

        ``handles``, ``netlink`` and ``path`` are taken as ``Nftables.run`` takes them, so
        that code written for one runs on the other: ``handles=False`` gives all-None
        handles; a fake has one path, so ``netlink`` and ``path`` choose nothing (an
        unknown ``path`` is still a ValidationError).
        """
        _check_path(path)
        try:
            result = self._run(txn, ordered=ordered, nft_f=False)
        except BackendError as err:
            raise _as_nft(err) from None
        return result if handles else result_without_handles(txn.ops)

    def _run(self, txn: Transaction, *, ordered: bool, nft_f: bool) -> TransactionResult:
        """``nft_f``: as ``nft -f`` runs a script (rule positions as nft places them; resets
        at once, before the batch, see ``run_resets``)."""
        with self._lock:
            return self._commit(txn, ordered=ordered, nft_f=nft_f)

    def _commit(self, txn: Transaction, *, ordered: bool, nft_f: bool) -> TransactionResult:
        if nft_f:
            run_resets(self._state, txn.ops, self.version)
        work = self._state.clone()
        handles, resets = self._apply(work, txn, dry=False, ordered=ordered,
                                      json_positions=not nft_f)
        before = self._state.model() if self._monitors else None
        work.commit()
        self._state = work
        self.generation += 1
        for index, op in resets if not nft_f else ():
            run_op(self.version, self._state, self._state, op, index)
        self._monitors.committed(before, None if before is None else work.model())
        return TransactionResult(ops=txn.ops, handles=tuple(handles))

    def sync(self, desired: Ruleset | Table | Iterable[Table], *,
             tables: Iterable[Table | tuple[Family | str, str] | str] | None = None,
             dry_run: bool = False, retries: int = 5) -> SyncResult:
        """Make the owned tables what ``desired`` says, as ``Nftables.sync`` does (the batch
        is refused when another ``run`` committed since the state was read; ``path`` is
        ``"fake"``)."""
        return run_sync(FakeTarget(self), self._sync_state, desired, tables=tables,
                        dry_run=dry_run, retries=retries)

    def drift(self, desired: Ruleset | Table | Iterable[Table], *,
              tables: Iterable[Table | tuple[Family | str, str] | str] | None = None
              ) -> Transaction:
        """What ``sync`` would send now (``Nftables.drift``)."""
        return drift(FakeTarget(self), self._sync_state, desired, tables=tables)

    def run_text(self, commands: str, *, handles: bool = False, json_output: bool = False,
                 dry: bool = False) -> str:
        """Run an ``nft -f`` script; its output (``""``; ``list ruleset`` alone: the listing).

        The script's commands run in script order, as ``nft -f`` runs them (like
        ``run(parse_script(commands), ordered=False)``, but a rule placed by ``position``
        needs no index that ``Nftables.run`` could send instead, and resets run at once,
        before the batch, and stay done when it fails); ``dry``: ``check``::

            fake.run_text("add table inet t\nadd chain inet t c")
        """
        if commands.strip() == "list ruleset":
            if json_output:
                return json.dumps(to_json(self.list_ruleset()))
            return self.dump(handles=handles)
        txn = parse_script(commands)
        if dry:
            self._check(txn, ordered=False, nft_f=True)
        else:
            self._run(txn, ordered=False, nft_f=True)
        return ""

    def run_file(self, path: str | os.PathLike[str], *, dry: bool = False) -> str:
        """Run an nft script file, as ``Nftables.run_file`` does (``include`` and
        ``define`` are not supported by the fake's script reader beyond what
        ``parse_script`` takes)."""
        with open(path, encoding="utf-8") as f:
            return self.run_text(f.read(), dry=dry)

    def check(self, txn: Transaction, *, ordered: bool = True, netlink: bool | None = None,
              path: TransactionPath | None = None) -> None:
        """Dry run: raise what ``run`` would raise, change nothing (not even handle counters,
        which a kernel dry run does use up)."""
        _check_path(path)
        try:
            self._check(txn, ordered=ordered, nft_f=False)
        except BackendError as err:
            raise _as_nft(err) from None

    def _check(self, txn: Transaction, *, ordered: bool, nft_f: bool) -> None:
        with self._lock:
            if nft_f:
                run_resets(self._state.clone(), txn.ops, self.version)
            work = self._state.clone()
            _handles, resets = self._apply(work, txn, dry=True, ordered=ordered,
                                           json_positions=not nft_f)
            for index, op in resets if not nft_f else ():
                run_op(self.version, work, self._state, op, index)

    def _apply(self, work: State, txn: Transaction, *, dry: bool, ordered: bool,
               json_positions: bool) -> tuple[list[int | None], list[tuple[int, Op]]]:
        """The batch part of ``txn`` on ``work``; the resets to run after it
        (``json_positions``: rule positions as ``Nftables.run`` sends them, see
        ``_check_positions``)."""
        if not isinstance(txn, Transaction):
            raise TypeError(f"expected a Transaction, got {type(txn).__name__}")
        ops = txn.ops
        refuse_rename_then_delete(ops, self.version)
        if json_positions:
            self._check_positions(ops)
        try:
            return run_batch(work, self._state, ops, txn.batch(ordered=ordered), self.version)
        except BatchAborted as aborted:
            if not dry:
                self._burn_handles(aborted.rest, work)
            raise aborted.error from None

    def _check_positions(self, ops: tuple[Op, ...]) -> None:
        """What ``Nftables`` checks before it sends a batch: libnftables ignores the handle of a
        JSON ``add rule``, so ``add(rule, after=H)`` is sent with the index rule H has at that
        point of the batch, worked out from the kernel's listing of the chain and the earlier
        ops; H must be there (NotFoundError), and the earlier ops must not make the index
        uncertain (UnsupportedError)."""
        for i, op in enumerate(ops):
            if not (op.verb is Verb.ADD and op.kind is Kind.RULE and op.position is not None):
                continue
            assert op.family is not None and op.table is not None
            t = self._state.tables.get((op.family, op.table))
            chain = t.chains.get(op.chain or "") if t is not None else None
            rules: list[int | None] = [r.handle for r in chain.rules] if chain else []
            position_index(ops, i, rules)

    def _burn_handles(self, rest: tuple[Op, ...], work: State) -> None:
        """The kernel processes a whole batch before aborting it: the handles that the failed
        batch took (and those its later creating operations would have taken) stay used."""
        for table_key, table in work.tables.items():
            if table_key in self._state.tables:
                self._state.tables[table_key].hgen = table.hgen
        self._state.table_handle = work.table_handle
        for op in rest:
            if not op.creates or op.family is None or op.table is None:
                continue
            if op.kind is Kind.TABLE:
                if (op.family, op.table) not in work.tables:
                    self._state.table_handle += 1
                continue
            live = self._state.tables.get((op.family, op.table))
            if live is not None:
                live.hgen += 1

    def monitor(self) -> FakeMonitor:
        """The changes made through this fake from now on, as ``Nftables.monitor()`` gives
        them (``nftkit.backend.fake._monitor``: the order within one commit may differ)."""
        return self._monitors.open()

    # --- reading --------------------------------------------------------------------------------

    def list_ruleset(self) -> Ruleset:
        """Every table, as ``nft list ruleset`` would show it (with handles)."""
        with self._lock:
            return self._state.model()

    def list_table(self, family: Family | str, name: str) -> Table:
        """One table with everything in it; ``NotFoundError`` if it does not exist."""
        with self._lock:
            return self._table(family, name).model()

    def list_tables(self) -> list[Table]:
        """The tables without their contents."""
        with self._lock:
            return [t.table for t in self._state.tables.values()]

    def list_chain(self, family: Family | str, table: str, name: str) -> Chain:
        """One chain with its rules; ``NotFoundError`` if there is no such chain."""
        with self._lock:
            t = self._table(family, table)
            state = _named(t.chains, "chain", name, t)
            return state.chain.replace(rules=tuple(state.live))

    def list_set(self, family: Family | str, table: str, name: str) -> Set:
        """A set with its elements; ``NotFoundError`` if there is no such set."""
        found = self._set(family, table, name)
        if isinstance(found, Map):
            raise NotFoundError(f"{family} {table} {name} is a map, not a set")
        return found

    def list_map(self, family: Family | str, table: str, name: str) -> Map:
        """A map (or verdict map) with its elements; ``NotFoundError`` if there is none."""
        found = self._set(family, table, name)
        if not isinstance(found, Map):
            raise NotFoundError(f"{family} {table} {name} is a set, not a map")
        return found

    def list_counters(self, family: Family | str | None = None,
                      table: str | None = None) -> list[Counter]:
        """Named counters, of one table or of all."""
        return [o for o in self._objects(family, table) if isinstance(o, Counter)]

    def list_quotas(self, family: Family | str | None = None,
                    table: str | None = None) -> list[Quota]:
        """Named quotas, of one table or of all."""
        return [o for o in self._objects(family, table) if isinstance(o, Quota)]

    def dump(self, *, handles: bool = False, version: str | tuple[int, ...] | None = None) -> str:
        """The ruleset as canonical ``nft list ruleset`` text (``handles=True``: ``nft -a``)."""
        return to_text(self.list_ruleset(), handles=handles, version=version)

    def _table(self, family: Family | str, name: str) -> TableState:
        try:
            fam = Family(family)
        except ValueError:
            raise InvalidError(f"unknown family {family!r}") from None
        t = self._state.tables.get((fam, name))
        if t is None:
            raise NotFoundError(f"table {fam} {name} does not exist")
        return t

    def _set(self, family: Family | str, table: str, name: str) -> Set:
        with self._lock:
            t = self._table(family, table)
            return set_model(_named(t.sets, "set", name, t))

    def _objects(self, family: Family | str | None, table: str | None) -> list[NamedObject]:
        with self._lock:
            if table is not None:
                if family is None:
                    raise InvalidError("table= needs family=")
                return list(self._table(family, table).objects.values())
            fam = Family(family) if family is not None else None
            return [o for t in self._state.tables.values() if fam in (None, t.family)
                    for o in t.objects.values()]


_S = TypeVar("_S")


def _named(states: dict[str, _S], what: str, name: str, t: TableState) -> _S:
    """``states[name]``; NotFoundError naming the chain or set and its table otherwise."""
    state = states.get(name)
    if state is None:
        raise NotFoundError(f"{what} {name} does not exist in {t.describe()}")
    return state
class FakeTarget:
    """``Target`` of a ``FakeNftables``."""

    def __init__(self, fake: FakeNftables) -> None:
        self.fake = fake

    def generation(self) -> int:
        return self.fake.generation

    def read(self, keys: Sequence[TableKey]) -> tuple[int, dict[TableKey, Table | None]]:
        fake = self.fake
        with fake._lock:
            out: dict[TableKey, Table | None] = {}
            for key in keys:
                t = fake._state.tables.get(key)
                out[key] = None if t is None else t.model()
            return fake.generation, out

    def apply(self, txn: Transaction, genid: int, script: Callable[[], str]
              ) -> Applied | None:
        fake = self.fake
        with fake._lock:
            if fake.generation != genid:
                return None
            result = fake._commit(txn, ordered=True, nft_f=False)
            return Applied(path="fake", handles=result.handles, genid=fake.generation)
