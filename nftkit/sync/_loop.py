"""The sync loop, for any backend: read (or reuse) the current state, diff, apply as one batch
that the kernel refuses if another writer committed since the read, and retry.

A backend provides a ``Target`` (``nftkit/backend/_sync.py`` for ``Nftables``, a few lines
in ``FakeNftables``); ``SyncState`` is what a handle remembers between syncs: the owned
tables as they were after its last sync, their rules' handles, and the ruleset generation
they are valid at. When the generation is still that one, nothing is read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal, Protocol

import attrs

from ..errors import ConflictError, ValidationError
from ..model.enums import Family
from ..model.ruleset import Rule, Ruleset, Table
from ..model.sets import Set
from ..transaction import Op, Transaction
from ._canonical import canonical_rule
from ._diff import Handles, TableKey, owned_keys, plan
from ._script import script

__all__ = ["Applied", "SyncPath", "SyncResult", "SyncState", "Target", "run_sync"]

#: How a sync went: the path of its batch, ``"none"`` (nothing to change) or ``"dry-run"``.
SyncPath = Literal["netlink", "libnftables-json", "libnftables-text", "fake", "none",
                   "dry-run"]


@attrs.frozen(kw_only=True)
class Applied:
    """A batch the kernel committed: its path, the handles per op (None: unknown), and the
    generation the ruleset is at now if known to be the batch's own (else None)."""

    path: SyncPath
    handles: tuple[int | None, ...]
    genid: int | None


class Target(Protocol):
    """What the sync loop needs from a backend."""

    def generation(self) -> int:
        """The ruleset generation id now."""

    def read(self, keys: Sequence[TableKey]) -> tuple[int, dict[TableKey, Table | None]]:
        """The tables (None: absent) with handles, and the generation they were read at."""

    def apply(self, txn: Transaction, genid: int, script: Callable[[], str]
              ) -> Applied | None:
        """Commit ``txn`` (``script()``: the same as nft commands) only if the ruleset is
        still at ``genid``: None when another writer committed since (nothing applied)."""


class _Script:
    """A transaction's ``nft -f`` script, written on first use (it costs more than the
    sync itself for large changes)."""

    __slots__ = ("sets", "text", "txn")

    def __init__(self, txn: Transaction, sets: dict[tuple[str, str, str], Set]) -> None:
        self.txn = txn
        self.sets = sets
        self.text: str | None = None

    def __call__(self) -> str:
        if self.text is None:
            self.text = script(self.txn, self.sets) if self.txn.ops else ""
        return self.text


@attrs.frozen(kw_only=True)
class SyncResult:
    """What ``sync`` did.

    Attributes:
        txn: the operations sent (or that would be sent, for a dry run); empty when the
            kernel already had the desired state.
        script: ``txn`` as an ``nft -f`` script.
        path: ``"netlink"``, ``"libnftables-json"`` or ``"libnftables-text"`` (the batch's
            path), ``"fake"``, ``"none"`` (nothing to do) or ``"dry-run"``.
        retries: how many times another writer's commit made the loop read and diff again.
        read: whether the current state was read from the kernel (False: the state
            remembered from the last sync was still valid, at the same generation).
        genid: the ruleset generation after the sync (None when unknown).
    """

    txn: Transaction
    path: SyncPath
    retries: int = 0
    read: bool = False
    genid: int | None = None
    _script: Callable[[], str] = attrs.field(alias="script_of", eq=False, repr=False)

    @property
    def script(self) -> str:
        return self._script()

    @property
    def ops(self) -> tuple[Op, ...]:
        return self.txn.ops

    @property
    def changed(self) -> bool:
        return bool(self.txn.ops) and self.path != "dry-run"


class SyncState:
    """What one handle remembers between syncs (valid at ``genid`` only)."""

    #: How many rule spellings ``aliases`` keeps at most.
    ALIASES = 65536

    def __init__(self) -> None:
        #: one sync at a time per handle (the state is read and written by the whole loop)
        self.lock = threading.Lock()
        self.genid: int | None = None
        self.tables: dict[TableKey, Table | None] = {}
        self.handles: dict[TableKey, Handles] = {}
        #: canonical rule as listed -> canonical rule as sent, learnt from reads of rules
        #: whose handles a sync knew (kept across generations: nft's rewrites do not change)
        self.aliases: dict[Rule, Rule] = {}
        self._sent: dict[tuple[TableKey, str, int], Rule] = {}
        self._sent_at: int | None = None

    def forget(self, committed: int | None = None) -> None:
        """Drop what is known. ``committed``: the generation this handle's own last batch
        made, after which the tables hold what it sent, rules at the handles known: the
        next read, if still at that generation, teaches how nft lists those rules."""
        sent: dict[tuple[TableKey, str, int], Rule] = {}
        for key, t in self.tables.items() if committed is not None else ():
            hs = self.handles.get(key, {})
            for c in t.chains if t is not None else ():
                for r, h in zip(c.rules, hs.get(c.name, ()), strict=False):
                    if h is not None:
                        sent[(key, c.name, h)] = r
        self._sent = sent
        self._sent_at = committed
        self.clear()

    def learn(self, genid: int, tables: Mapping[TableKey, Table | None]) -> None:
        """Aliases from a read at the generation of this handle's own last batch (nobody
        else changed anything since): each listed rule that was sent as another spelling."""
        sent, self._sent = self._sent, {}
        if not sent or genid != self._sent_at:
            return
        for key, t in tables.items():
            for c in t.chains if t is not None else ():
                for r in c.rules:
                    was = sent.get((key, c.name, r.handle)) if r.handle is not None else None
                    if was is None:
                        continue
                    listed, wanted = canonical_rule(r), canonical_rule(was)
                    if listed != wanted:
                        if len(self.aliases) >= self.ALIASES:
                            self.aliases.clear()
                        self.aliases[listed] = wanted

    def clear(self) -> None:
        self.genid = None
        self.tables.clear()
        self.handles.clear()

    def store(self, genid: int, tables: Mapping[TableKey, Table | None]) -> None:
        """Tables read from the kernel at ``genid`` (their rules carry handles)."""
        if self.genid != genid:
            self.clear()
            self.genid = genid
        for key, t in tables.items():
            self.tables[key] = t
            self.handles[key] = {} if t is None else {
                c.name: tuple(r.handle for r in c.rules) for c in t.chains}


def _desired(desired: Ruleset | Table | Iterable[Table]) -> dict[TableKey, Table]:
    if isinstance(desired, Table):
        tables: Iterable[Table] = (desired,)
    elif isinstance(desired, Ruleset):
        tables = desired.tables
    else:
        tables = desired
    out: dict[TableKey, Table] = {}
    for t in tables:
        if not isinstance(t, Table):
            raise ValidationError("sync", "desired", f"expected tables, got {t!r}")
        out[(t.family, t.name)] = t
    return out


def _known_sets(*tables: Mapping[TableKey, Table | None]) -> dict[tuple[str, str, str], Set]:
    out: dict[tuple[str, str, str], Set] = {}
    for ts in tables:
        for (fam, name), t in ts.items():
            for s in t.sets if t is not None else ():
                out[(fam.value, name, s.name)] = s
    return out


def run_sync(target: Target, state: SyncState, desired: Ruleset | Table | Iterable[Table], *,
             tables: Iterable[Table | tuple[Family | str, str] | str] | None = None,
             dry_run: bool = False, retries: int = 5) -> SyncResult:
    """One sync (see ``Nftables.sync``)."""
    with state.lock:
        return _run_sync(target, state, desired, tables, dry_run, retries)


def _run_sync(target: Target, state: SyncState, desired: Ruleset | Table | Iterable[Table],
              tables: Iterable[Table | tuple[Family | str, str] | str] | None, dry_run: bool,
              retries: int) -> SyncResult:
    want = _desired(desired)
    owned = owned_keys(tables) if tables is not None else list(want)
    want_owned = {k: want.get(k) for k in owned}
    attempt = 0
    while True:
        read = False
        gen = target.generation()
        missing = [k for k in owned if k not in state.tables]
        if state.genid != gen:
            state.clear()
            missing = list(owned)
        if missing:
            gen, found = target.read(missing)
            state.learn(gen, found)
            state.store(gen, found)
            read = True
        current = {k: state.tables[k] for k in owned}
        p = plan(current, want_owned, {k: state.handles[k] for k in owned}, state.aliases)
        txn = p.txn
        if dry_run or not txn.ops:
            text = _Script(txn, _known_sets(current, want_owned))
            return SyncResult(txn=txn, script_of=text, path="dry-run" if dry_run else "none",
                              retries=attempt, read=read, genid=gen)
        text = _Script(txn, _known_sets(current, want_owned))
        done = target.apply(txn, gen, text)
        if done is None:
            state.forget()
            attempt += 1
            if attempt > retries:
                raise ConflictError(
                    f"sync: another process changed the ruleset each time ({attempt} "
                    f"attempts, {len(txn.ops)} operation(s) the last time); nothing of the "
                    "last attempt was applied")
            continue
        hs = p.handles(done.handles)
        for k in owned:  # what the kernel has now, as far as the handles are known
            state.tables[k] = want_owned[k]
            state.handles[k] = hs.get(k, {})
        complete = all(h is not None for chains in hs.values() for c in chains.values()
                       for h in c)
        if done.genid is None:
            # another writer committed around a batch that could not carry the generation:
            # the kernel must now hold the desired state, else diff and send again
            state.forget()
            gen, found = target.read(owned)
            state.store(gen, found)
            if plan(found, want_owned, aliases=state.aliases).txn.ops:
                state.clear()
                attempt += 1
                if attempt > retries:
                    raise ConflictError(
                        f"sync: another process changed the ruleset each time ({attempt} "
                        "attempts); the owned tables are not in the desired state")
                continue
            return SyncResult(txn=txn, script_of=text, path=done.path, retries=attempt,
                              read=read, genid=gen)
        if complete:
            state.genid = done.genid
        else:
            state.forget(done.genid)  # (read again next time; the handles known teach)
        return SyncResult(txn=txn, script_of=text, path=done.path, retries=attempt, read=read,
                          genid=done.genid)
