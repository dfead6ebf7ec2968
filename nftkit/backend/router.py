"""``Nftables``: the kernel's nftables in one network namespace, each transaction sent by the
path that carries it exactly.

::

    nft = Nftables()                       # the current network namespace
    nft = Nftables(netns="blue")           # /run/netns/blue (as made by `ip netns add blue`)
    result = nft.run(txn)                  # one atomic batch; result.handles[i] for txn.ops[i]
    result.path                            # "netlink" or "libnftables-json": how it went
    nft.check(txn)                         # the same, as a dry run: nothing changes
    table = nft.list_table("inet", "t")    # model objects, read back from the kernel

The router only decides; the paths are siblings that do not know about each other:

- ``backend.netlink``: nfnetlink messages built from the model, one batch (``NetlinkPath``);
- ``backend.libnftables``: nft's library, with a JSON command batch for transactions
  (``run_json``) and text for scripts (``run_text``/``run_file``), and the reads.

Per transaction: netlink when the ``netlink`` gate allows it (see ``Nftables``) and the
netlink encoders can write every op exactly as nft would, else libnftables' JSON path. See
docs/architecture.md, "Backends".

Importing this module raises ``BackendUnavailableError`` (an ``ImportError``) naming the
Debian package when libnftables.so.1 is missing; ``import nftkit`` does not need it.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import attrs

from ..errors import (
    BackendError,
    ConflictError,
    InvalidError,
    UnsupportedError,
    ValidationError,
)
from ..model.enums import Family, SetFlag
from ..model.expressions import RangeExpr
from ..model.objects import Counter, Quota
from ..model.ruleset import Chain, Ruleset, Table
from ..model.sets import Map, Set
from ..nft.releases import profile
from ..sync import SyncResult, SyncState, run_sync
from ..transaction import Kind, Op, Transaction, TransactionPath, TransactionResult, Verb
from ._kinds import first_mismatch
from ._limits import refuse_rename_then_delete
from ._monitor import Monitor
from ._netns import open_netns
from ._refusals import PATHS, json_inexact, netlink_refusal, refuse_crash
from ._sync import NftablesTarget, drift
from .libnftables import _reads as reads
from .libnftables._context import Context, OutputFlag
from .libnftables._element_json import element_only
from .libnftables._json import run_json
from .libnftables._text import json_drops, ops_script, run_file, run_text
from .netlink import NetlinkPath
from .netlink._facts import (
    ListingFacts,
    SetFacts,
    listing_facts,
    table_flags,
    table_flags_of,
)
from .netlink._objects import FAMILIES

__all__ = ["NETLINK_VERIFIED", "Nftables", "OutputFlag"]

#: nft release series (major, minor) whose set userdata and rule expressions the netlink path
#: was checked against byte for byte (tests/test_nl_rules.py, tests/test_netlink_objects.py).
#: With another installed nft, batches that create sets, maps or rules go through its
#: libnftables; element updates, tables, chains and deletes use netlink with any release.
NETLINK_VERIFIED = frozenset({(1, 0)})
_UDATA_KINDS = frozenset({Kind.SET, Kind.MAP, Kind.RULE})
_CREATING = frozenset({Verb.ADD, Verb.CREATE, Verb.INSERT, Verb.REPLACE})
_ALL_KINDS = frozenset({"table", "chain", "set"})
_CHAINS, _SETS = frozenset({"chain"}), frozenset({"set"})
_ELEMENT_VERBS = frozenset({Verb.ADD, Verb.CREATE, Verb.DELETE, Verb.DESTROY})


_GUARD_FLAGS = {0x2: "constant", 0x4: "interval", 0x10: "timeout", 0x20: "dynamic"}
_GUARD_IMPLIED = 0x8 | 0x80  # map, concat: nft sets them from the type


_GUARDS: dict[tuple[tuple[str, str, str], int], tuple[SetFacts, str | None]] = {}


def _guard(where: tuple[str, str, str], facts: SetFacts) -> str | None:
    """``_guard_command`` as JSON text, remembered per set and facts (by identity: facts are
    read once per generation and kept)."""
    key = (where, id(facts))
    hit = _GUARDS.get(key)
    if hit is not None and hit[0] is facts:
        return hit[1]
    if len(_GUARDS) > 1024:
        _GUARDS.clear()
    cmd = _guard_command(where, facts)
    text = None if cmd is None else json.dumps(cmd)
    _GUARDS[key] = (facts, text)
    return text


def _guard_command(where: tuple[str, str, str], facts: SetFacts) -> dict[str, Any] | None:
    """``add set`` of exactly the set ``facts`` describe, sent after element commands in the
    same batch: the kernel refuses (EEXIST) a set of the same name with another type or
    flags, so elements encoded for the set as it was checked never land in a set another
    process recreated meanwhile (libnftables cannot send NFNL_BATCH_GENID). None where nft
    cannot spell the set exactly: then the elements are checked again after the batch
    (``NetlinkPath.confirm``). The timeout and gc interval are repeated: the kernel resets
    them from an ``add set`` of an existing set."""
    m = facts.model
    if facts.flags & 0x20:
        return None  # nft 1.0.6's JSON refuses the "dynamic" flag ("Invalid set flag")
    if (m is None or facts.exprs or facts.object_map or facts.timeout % 1000
            or facts.gc_interval % 1000
            or facts.flags & ~(_GUARD_IMPLIED | sum(_GUARD_FLAGS))):
        return None
    data = m.data_type if isinstance(m, Map) else None
    if "integer" in m.type or (data is not None and "integer" in data):
        return None  # nft needs the length of an integer, which only typeof gives
    if data is not None and len(data) > 1:
        return None  # concatenated data: nft < 1.1 reads such a map from JSON as a set
    family, table, name = where
    body: dict[str, Any] = {"family": family, "table": table, "name": name,
                            "type": m.type[0] if len(m.type) == 1 else list(m.type)}
    if data is not None:
        body["map"] = data[0] if len(data) == 1 else list(data)
    flags = [word for bit, word in _GUARD_FLAGS.items() if facts.flags & bit]
    if flags:
        body["flags"] = flags
    if facts.timeout:
        body["timeout"] = facts.timeout // 1000
    if facts.gc_interval:
        body["gc-interval"] = facts.gc_interval // 1000
    return {"add": {"set": body}}


def _fill(t: Table, facts: ListingFacts) -> Table:
    """``t`` with the comments, ``auto-merge`` and ``dynamic`` flags the kernel has."""
    fam = t.family.value
    changes: dict[str, Any] = {}
    comment = facts.tables.get((fam, t.name), t.comment)
    if comment != t.comment:
        changes["comment"] = comment
    chains = tuple(
        attrs.evolve(c, comment=facts.chains[(fam, t.name, c.name)])
        if facts.chains.get((fam, t.name, c.name), c.comment) != c.comment else c
        for c in t.chains)
    if any(a is not b for a, b in zip(chains, t.chains, strict=True)):
        changes["chains"] = chains
    sets = []
    for s in t.sets:
        dynamic, merge = facts.sets.get((fam, t.name, s.name), (
            SetFlag.DYNAMIC in s.flags, s.auto_merge))
        if dynamic != (SetFlag.DYNAMIC in s.flags) or merge != s.auto_merge:
            flags = s.flags | {SetFlag.DYNAMIC} if dynamic else s.flags - {SetFlag.DYNAMIC}
            s = attrs.evolve(s, flags=flags, auto_merge=merge)
        sets.append(s)
    if any(a is not b for a, b in zip(sets, t.sets, strict=True)):
        changes["sets"] = tuple(sets)
    return attrs.evolve(t, **changes) if changes else t


_BARE = (IPv4Address, IPv6Address, int, str)


def _pinnable(e: object) -> bool:
    """A single value (not the catch-all element ``*``)."""
    return isinstance(e, _BARE) and not isinstance(e, bool) and e != "*"


def _pinned(txn: Transaction,
            checked: dict[tuple[str, str, str], tuple[int, SetFacts, int]]) -> Transaction:
    """``txn`` with each single value added to a set checked as an interval set written as
    the range ``{"range": [v, v]}``: stored the same, but refused by nft for a set without
    ``flags interval``. libnftables encodes elements for the set as *its* cache has it, read
    when the call starts; if another process replaced the set by a plain one and then by an
    interval one again since, a plain value would land as ``v-255.255.255.255`` and the
    guard (which compares the kernel's set with the checked one) would not see it."""
    if not any(facts.interval for _g, facts, _i in checked.values()):
        return txn
    ops = list(txn.ops)
    for where, (_gen, facts, _i) in checked.items():
        if not facts.interval:
            continue
        for j, op in enumerate(ops):
            if (op.kind is Kind.ELEMENT and op.verb in (Verb.ADD, Verb.CREATE)
                    and op.family is not None and (op.family.value, op.table, op.name) == where
                    and any(_pinnable(e) for e in op.elements)):
                ops[j] = attrs.evolve(op, elements=tuple(
                    RangeExpr(low=e, high=e) if _pinnable(e) else e for e in op.elements))
    return Transaction(ops)


def _text_culprit(lib: Context, exc: BackendError, ops: tuple[Op, ...],
                  batch: list[tuple[int, Op]], known: Mapping[tuple[str, str, str], Set]
                  ) -> BackendError:
    """``exc`` (a refused text batch) with the index and op of the first op whose prefix of
    the batch fails the same way, found by dry runs (nft's error position in a text buffer
    is not reliable); ``exc`` itself when none does."""
    low, high = 0, len(batch)  # the prefix of ``high`` ops fails; that of ``low`` does not
    while high - low > 1:
        mid = (low + high) // 2
        try:
            run_text(lib, ops_script([op for _i, op in batch[:mid]], known), dry=True)
        except BackendError as found:
            if type(found) is not type(exc):
                return exc
            high = mid
        else:
            low = mid
    index = batch[high - 1][0]
    reason = exc.nft_message.splitlines()[0].removeprefix("Error: ") if exc.nft_message \
        else str(exc)
    return type(exc)(f"{ops[index].describe()}: {reason}", nft_message=exc.nft_message,
                     index=index, operation=ops[index])


def _described(facts: SetFacts | None) -> str:
    """A kernel set's type and flags as nft spells them: ``type ipv4_addr; flags interval``
    (kernel type ids where nftkit cannot name them)."""
    if facts is None:
        return "deleted"
    m = facts.model
    if m is None:
        kt, kl, dt, dl = facts.types
        what = f"key type id {kt} ({kl} bytes)" + (f", data type id {dt} ({dl} bytes)"
                                                    if dl else "")
    else:
        what = "type " + " . ".join(m.type)
        if isinstance(m, Map):
            what += " : " + " . ".join(m.data_type)
    flags = [word for bit, word in _GUARD_FLAGS.items() if facts.flags & bit]
    return what + (f"; flags {', '.join(flags)}" if flags else "")


def _mismatch(op: Op, facts: SetFacts) -> tuple[int, str] | None:
    m = facts.model
    if m is None:
        return None
    return first_mismatch(op.elements, m.type, m.data_type if isinstance(m, Map) else None)


class _Owned:
    """What one ``Nftables`` owns (the libnftables context with the namespace fd, the netlink
    socket), released once: by ``close()``, or when the handle is garbage-collected
    (``weakref.finalize``: a handle dropped without ``close()`` leaks no fd)."""

    __slots__ = ("lib", "nl")

    def __init__(self, lib: Context) -> None:
        self.lib = lib
        self.nl: NetlinkPath | None = None

    def release(self) -> None:
        with self.lib.lock:
            if self.nl is not None:
                self.nl.close()
                self.nl = None
            self.lib.close()


class Nftables:
    """nftables in one network namespace; safe to share between threads.

    Args:
        netns: None for the current namespace, a name (``/run/netns/NAME``), a path, or an open
            file descriptor of a network namespace (duplicated: the caller keeps its own).
        include_paths: where ``include`` looks, for scripts run with ``run_file``/``run_text``.
        variables: ``define`` s for scripts run with ``run_file`` (libnftables applies them
            to files only): ``{"ports": "{ 22, 80 }"}``.
        optimize: let nft merge rules of text commands (``nft -o``, nft >= 1.0.3).
        netlink: let ``run``/``check`` send a transaction as one nfnetlink batch built
            directly from the model, without libnftables, when every op can be encoded.
            None (the default): where the installed nft's release series was verified
            (``NETLINK_VERIFIED``), and for element updates, tables, chains and deletes with
            any release; True: whenever every op can be encoded; False: always libnftables.
            Also settable per call (``run(txn, netlink=False)``) and as the attribute.
    """

    def __init__(
        self,
        netns: str | os.PathLike[str] | int | None = None,
        *,
        include_paths: Iterable[str] = (),
        variables: Mapping[str, str] | None = None,
        optimize: bool = False,
        netlink: bool | None = None,
    ) -> None:
        self.netns = netns
        self.netlink = netlink
        #: Which path the last ``run``/``check`` took: "netlink" or "libnftables" (the
        #: result's ``path`` says it per transaction, and names the libnftables input).
        self.last_path = ""
        fd = None if netns is None else open_netns(netns)
        # (the context owns fd from here on, and closes it if it cannot be made)
        self._lib = Context(fd, netns, include_paths=include_paths, variables=variables,
                            optimize=optimize)
        self._owned = _Owned(self._lib)
        self._release = weakref.finalize(self, self._owned.release)
        self._sync_state = SyncState()

    # --- the handle ---------------------------------------------------------------------

    def close(self) -> None:
        """Free the libnftables context, the netlink socket and the namespace fd now (also
        done when the handle is garbage-collected)."""
        self._release()

    def __enter__(self) -> Nftables:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "current netns" if self.netns is None else f"netns={self.netns!r}"
        return f"Nftables({where})"

    @property
    def version(self) -> tuple[int, int, int]:
        """The libnftables version (from its JSON metainfo), e.g. ``(1, 0, 6)``."""
        return self._lib.version

    @property
    def native_destroy(self) -> bool:
        """Whether libnftables and the kernel run ``destroy`` natively (probed once)."""
        return self._lib.native_destroy

    # --- transactions -------------------------------------------------------------------

    def run(self, txn: Transaction, *, handles: bool = True, ordered: bool = True,
            netlink: bool | None = None, path: TransactionPath | None = None
            ) -> TransactionResult:
        """Apply ``txn`` atomically; the handles the kernel assigned, per op.

        The batch is sent in the order that costs the kernel least (``txn.batch()``: tables,
        objects, sets, chains, rules, then elements); ``ordered=False`` sends ``txn.ops`` as
        they are.

        Raises NotFoundError, ExistsError, BusyError, InvalidError or PermissionDeniedError
        with ``index`` and ``operation`` naming the op that failed, as written in
        ``txn.ops`` (also when the batch was reordered); nothing is changed then.

        Handles come from the kernel's echo on the netlink path. Where a transaction goes to
        libnftables by itself (the netlink path cannot write it), they are looked up after the
        batch by name (``NetlinkPath.handles_by_name``: one GET per table, chain, set or
        object; the touched chain's rules for appended rules; None for rules placed by
        position), never from nft's ``--echo``, which makes libnftables read every rule and
        element of the ruleset first (~30,000 dumps at 10k kube-proxy services). Only a caller
        that asked for libnftables (``netlink=False``, here or on the handle) gets its echo.
        ``handles=False`` skips both (``result.handles`` is then all None).

        ``netlink``: None for the handle's setting, True or False to force either path (see
        the class); ``result.path`` says which path ran (``self.last_path`` too).

        ``path``: send ``txn`` by this path and no other, exact or refuse: ``"netlink"``,
        ``"libnftables-json"`` or ``"libnftables-text"`` (overrides ``netlink``). When that
        path cannot carry ``txn`` exactly, ``UnsupportedError`` says why and nothing is sent
        (docs/transactions.md, "Exact or refuse", lists each path's refusals).
        """
        return self._apply(txn, dry=False, want_handles=handles, ordered=ordered,
                           netlink=netlink, path=path)

    def check(self, txn: Transaction, *, ordered: bool = True,
              netlink: bool | None = None, path: TransactionPath | None = None) -> None:
        """Dry-run ``txn``: the kernel validates the whole batch, then discards it
        (``netlink`` and ``path`` as for ``run``)."""
        self._apply(txn, dry=True, ordered=ordered, netlink=netlink, path=path)

    def _apply(self, txn: Transaction, *, dry: bool, want_handles: bool = True,
               ordered: bool = True, netlink: bool | None = None,
               path: TransactionPath | None = None) -> TransactionResult:
        if not isinstance(txn, Transaction):
            raise TypeError(f"expected a Transaction, got {type(txn).__name__}")
        ops = txn.ops
        owned = self._owned
        if owned.nl is not None:
            owned.nl.forget(ops)  # whatever runs it, deleted sets are no longer known
        if path is not None:
            return self._forced(txn, path, dry=dry, want_handles=want_handles,
                                ordered=ordered)
        lib = self._lib
        use = self.netlink if netlink is None else netlink
        if self._netlink_allowed(ops, use):
            with lib.lock:
                self.last_path = "netlink"  # also when encode finds a missing set
                done = self._nl().apply(txn, dry=dry, want_handles=want_handles,
                                        ordered=ordered)
            if done is not None:
                return done
        self.last_path = "libnftables"
        refuse_rename_then_delete(ops, lib.version)  # nft crashes on it, JSON and text alike
        dropped = json_drops(ops, lib.version) or json_inexact(ops, lib.version)
        if dropped is not None:
            return self._via_text(txn, dropped, dry=dry, want_handles=want_handles,
                                  ordered=ordered)
        return self._via_json(txn, dry=dry, want_handles=want_handles, ordered=ordered,
                              echo=use is False)

    def _forced(self, txn: Transaction, path: TransactionPath, *, dry: bool, want_handles: bool,
                ordered: bool) -> TransactionResult:
        """``txn`` by ``path`` alone (``run(txn, path=...)``): UnsupportedError, before
        anything is sent, where that path would not write it exactly."""
        ops = txn.ops
        lib = self._lib
        if path not in PATHS:
            raise ValidationError("Nftables", "path",
                                  f"expected one of {', '.join(PATHS)}, got {path!r}")
        if not ops:
            return TransactionResult(ops=ops, handles=(), path=path)
        if path == "netlink":
            self.last_path = "netlink"
            return self._forced_netlink(txn, dry=dry, want_handles=want_handles,
                                        ordered=ordered)
        self.last_path = "libnftables"
        refuse_rename_then_delete(ops, lib.version)
        if path == "libnftables-text":
            return self._via_text(txn, None, dry=dry, want_handles=want_handles,
                                  ordered=ordered)
        dropped = json_drops(ops, lib.version) or json_inexact(ops, lib.version)
        if dropped is not None:
            raise UnsupportedError(
                f"the libnftables JSON path cannot carry this transaction: libnftables "
                f"{'.'.join(map(str, lib.version))} would not apply {dropped} from JSON; "
                "nothing was sent")
        return self._via_json(txn, dry=dry, want_handles=want_handles, ordered=ordered,
                              echo=True)

    def _forced_netlink(self, txn: Transaction, *, dry: bool, want_handles: bool,
                        ordered: bool) -> TransactionResult:
        ops = txn.ops
        why = netlink_refusal(ops, self.native_destroy)
        if why is None:
            with self._lib.lock:
                try:
                    done = self._nl().apply(txn, dry=dry, want_handles=want_handles,
                                            ordered=ordered, refuse=True)
                except UnsupportedError as exc:
                    why = str(exc)
                else:
                    if done is not None:
                        return done
        if why is not None:
            raise UnsupportedError(f"the netlink path cannot carry this transaction: {why}; "
                                   "nothing was sent")
        # The kernel refused the batch with an errno that nft explains (EINVAL...): nothing
        # was applied; a libnftables dry run of the same ops gives nft's explanation.
        try:
            self._apply(txn, dry=True, ordered=ordered, netlink=False)
        except UnsupportedError:
            pass
        finally:
            self.last_path = "netlink"
        raise InvalidError(f"{len(ops)} operation(s): the kernel refused this batch (sent "
                           "over netlink); nothing was applied")

    def _via_json(self, txn: Transaction, *, dry: bool, want_handles: bool,
                  ordered: bool, echo: bool) -> TransactionResult:
        """The libnftables JSON path, with the element checks and guards (see
        ``_check_elements``). ``echo``: the caller asked for libnftables, so its handles come
        from nft's echo; otherwise they are looked up by name after the batch."""
        ops = txn.ops
        lib = self._lib
        owned = self._owned
        with lib.lock:
            for attempt in range(NetlinkPath.RETRIES):
                checked = self._check_elements(ops, fresh=attempt > 0 or dry)
                refuse_crash(ops, lib.version, checked, text=False)
                guards: dict[tuple[str, str, str], str] = {}
                if not dry and element_only(ops):  # (run_json guards only those)
                    guards = {where: g for where, (_gen, facts, _i) in checked.items()
                              if (g := _guard(where, facts)) is not None}
                sent = _pinned(txn, checked)
                try:
                    # nft's echo only for a caller who asked for libnftables: see ``run``
                    result = run_json(lib, sent, dry=dry,
                                      want_handles=want_handles and echo,
                                      ordered=ordered, guards=list(guards.values()))
                except BackendError as exc:
                    if self._moved(checked):
                        continue  # another writer came between: check and send again
                    if exc.index is not None:
                        exc.operation = ops[exc.index]  # the caller's op, not the pinned one
                    raise
                if sent is not txn:
                    result = TransactionResult(ops=ops, handles=result.handles,
                                               path=result.path)
                break
            else:
                raise ConflictError(
                    f"{len(ops)} operation(s): refused each time, with another process "
                    f"changing the ruleset in between ({NetlinkPath.RETRIES} attempts); "
                    "nothing was applied")
            if not dry:
                nl = owned.nl
                if nl is not None:
                    nl.invalidate()
                self._confirm(ops, {w: c for w, c in checked.items() if w not in guards})
                if want_handles and not echo and any(op.creates for op in ops):
                    result = TransactionResult(ops=ops, handles=tuple(
                        self._nl().handles_by_name(ops)), path=result.path)
        return result

    def _confirm(self, ops: tuple[Op, ...],
                 checked: dict[tuple[str, str, str], tuple[int, SetFacts, int]]) -> None:
        """After a batch without guards: ConflictError when another writer replaced a set
        the batch's elements were checked against with a set of another type meanwhile."""
        for where, (gen, facts, index) in checked.items():
            nl = self._nl()
            if not nl.confirm(*where, gen, facts):
                _gen, now = nl.set_facts(*where)
                raise ConflictError(
                    f"set {' '.join(where)} was replaced by another process with a set of "
                    f"another type while these elements were sent (checked as "
                    f"{_described(facts)}, now {_described(now)}): they may have been "
                    "stored as values of its new type; read it back", index=index,
                    operation=ops[index])

    def _via_text(self, txn: Transaction, dropped: str | None, *, dry: bool,
                  want_handles: bool, ordered: bool) -> TransactionResult:
        """The libnftables text path, for a transaction this release's JSON parser would not
        apply exactly (``dropped`` says what it would drop; None: the path was forced): its
        ops as nft commands, one ``nft -f`` batch. Handles come from the kernel after it
        (``handles_by_name``)."""
        ops = txn.ops
        lib = self._lib
        with lib.lock:
            # elements of sets the transaction does not define: checked against the kernel's
            # set, written by its type, and confirmed after the batch
            checked = self._check_elements(ops, fresh=True)
        refuse_crash(ops, lib.version, checked, text=True)
        known = {where: facts.model for where, (_g, facts, _i) in checked.items()
                 if facts.model is not None}
        batch = _pinned(txn, checked).batch(ordered=ordered)
        try:
            script = ops_script([op for _i, op in batch], known)
        except (UnsupportedError, ValidationError) as exc:
            # (ValidationError: what nft's text cannot spell, e.g. a chain type the table
            # family has no hook for, that JSON sends for the kernel to judge)
            version = ".".join(map(str, lib.version))
            if dropped is None:
                raise UnsupportedError(
                    "the libnftables text path cannot carry this transaction "
                    f"({exc}); nothing was sent") from None
            raise UnsupportedError(
                f"libnftables {version} would not apply {dropped} from JSON, and the text "
                f"path cannot write this transaction ({exc}); nothing was sent") from None
        handles: list[int | None] = [None] * len(ops)
        with lib.lock:
            try:
                run_text(lib, script, dry=dry)
            except BackendError as exc:
                raise _text_culprit(lib, exc, ops, batch, known) from None
            if not dry:
                nl = self._nl()
                nl.invalidate()
                self._confirm(ops, checked)
                if want_handles:
                    handles = nl.handles_by_name(ops)
        return TransactionResult(ops=ops, handles=tuple(handles), path="libnftables-text")

    def _moved(self, checked: dict[tuple[str, str, str], tuple[int, SetFacts, int]]) -> bool:
        """Whether anyone committed since the sets in ``checked`` were read (then a refused
        batch may have met a set replaced meanwhile, and is checked and sent again)."""
        if not checked:
            return False
        now = self._nl().sock.genid()
        return any(gen != now for gen, _facts, _i in checked.values())

    def _nl(self) -> NetlinkPath:
        """The netlink socket and what it knows (opened on first use; under ``lib.lock``)."""
        if self._lib.closed:
            raise BackendError("this Nftables context is closed")
        nl = self._owned.nl
        if nl is None:
            nl = self._owned.nl = NetlinkPath(self._lib.fd)
        return nl

    def _check_elements(self, ops: tuple[Op, ...], *, fresh: bool
                        ) -> dict[tuple[str, str, str], tuple[int, SetFacts, int]]:
        """Check the element ops libnftables is about to send against the sets the kernel
        has: nft reads a value by the set's type, so an address sent to a set another
        process recreated as ``ether_addr`` or ``ifname`` would be stored as a MAC address or
        a name. InvalidError names the op. Returns what was checked: for the batch's guards
        (``_guard``), else for ``NetlinkPath.confirm`` after the batch.

        A set that can be guarded is checked against what is known of it (``fresh``: read
        now), since the kernel checks the guard in the batch itself; a value that does not
        fit is checked again against the set as it is now before it is refused."""
        made = {(op.family.value, op.table, op.obj.name) for op in ops
                if isinstance(op.obj, Set) and op.family is not None}
        nl = self._nl()
        checked: dict[tuple[str, str, str], tuple[int, SetFacts, int]] = {}
        for i, op in enumerate(ops):
            if op.kind is not Kind.ELEMENT or op.family is None or op.table is None \
                    or not op.elements or op.verb not in _ELEMENT_VERBS:
                continue
            where = (op.family.value, op.table, op.name or "")
            if where in made:
                continue  # a set of this batch: the model's validators checked it
            if where in checked:
                gen, facts, _i = checked[where]
            else:
                gen, found = nl.set_facts(*where, fresh=fresh)
                if found is not None and not fresh and _guard(where, found) is None:
                    gen, found = nl.set_facts(*where)  # unguarded: confirmed against gen
                if found is None or found.model is None:
                    continue  # missing (libnftables reports it), or a type read only by nft
                facts = found
            bad = _mismatch(op, facts)
            if bad is not None and not fresh:
                gen, found = nl.set_facts(*where)
                if found is None or found.model is None:
                    continue
                facts = found
                bad = _mismatch(op, facts)
            checked[where] = (gen, facts, i)
            if bad is not None:
                assert facts.model is not None
                raise InvalidError(
                    f"{op.describe()}: element {bad[0]}: {bad[1]} (the kernel's set "
                    f"{where[2]} has type {' . '.join(facts.model.type)})", index=i,
                    operation=op)
        return checked

    def _netlink_allowed(self, ops: tuple[Op, ...], use: bool | None) -> bool:
        """Whether the netlink path may try ``ops`` (it may still leave them to
        libnftables: ``NetlinkPath.apply`` returns None for what it cannot encode exactly)."""
        if use is False or not ops or any(op.verb is Verb.RESET for op in ops):
            return False
        if use is None and self.version[:2] not in NETLINK_VERIFIED and any(
                op.kind in _UDATA_KINDS and op.verb in _CREATING for op in ops):
            # set userdata and rule expressions are written as the verified nft releases
            # write them; another release may list them differently: its libnftables does it
            return False
        # the kernel's DESTROY fails when the table is missing; libnftables' emulation
        # (nft < 1.0.7) succeeds: keep one semantics per handle, libnftables'
        return not (any(op.verb is Verb.DESTROY for op in ops) and not self.native_destroy)

    # --- declarative sync (nftkit.sync; docs/sync.md) ------------------------------------

    def sync(self, desired: Ruleset | Table | Iterable[Table], *,
             tables: Iterable[Table | tuple[Family | str, str] | str] | None = None,
             dry_run: bool = False, retries: int = 5) -> SyncResult:
        """Make the owned tables what ``desired`` says, in one atomic batch.

        Reads the owned tables (``tables``: by default those of ``desired``; an owned table
        missing from ``desired`` is deleted), or reuses what the last sync left while the
        ruleset generation is unchanged; sends ``nftkit.diff(current, desired)`` as one batch
        that the kernel refuses if another writer committed since the read; then reads,
        diffs and sends again, up to ``retries`` times (``ConflictError`` after that,
        nothing of the last attempt applied). ``dry_run=True``: the result holds the
        transaction and its nft script, nothing is sent. One sync at a time per handle
        (others wait); docs/sync.md::

            result = nft.sync(desired)
            result.path, result.retries, len(result.ops)   # "netlink", 0, 3
        """
        return run_sync(NftablesTarget(self), self._sync_state, desired, tables=tables,
                        dry_run=dry_run, retries=retries)

    def drift(self, desired: Ruleset | Table | Iterable[Table], *,
              tables: Iterable[Table | tuple[Family | str, str] | str] | None = None
              ) -> Transaction:
        """The diff between the kernel and ``desired`` (empty: no drift); what ``sync``
        would send now."""
        return drift(NftablesTarget(self), self._sync_state, desired, tables=tables)

    # --- text commands (the libnftables text path) --------------------------------------

    def run_text(self, commands: str, *, handles: bool = False, json_output: bool = False,
                 dry: bool = False) -> str:
        """Run nft text commands (``"list ruleset"``, an ``nft -f`` script); their output.

        Errors are mapped like ``run``'s, without an operation index.
        """
        self._forget_sets(dry)
        return run_text(self._lib, commands, handles=handles, json_output=json_output, dry=dry)

    def run_file(self, path: str | os.PathLike[str], *, dry: bool = False) -> str:
        """Run an nft script file (``nft -f``): the only input where libnftables applies
        ``variables`` (``define`` s given to the constructor) and ``include_paths``."""
        self._forget_sets(dry)
        return run_file(self._lib, path, dry=dry)

    def _forget_sets(self, dry: bool) -> None:
        nl = self._owned.nl
        if nl is not None and not dry:
            nl.forget_all()  # a script may replace any set

    # --- reads (through libnftables) ----------------------------------------------------

    def _as_text(self, family: Family | str | None = None, table: str | None = None) -> bool:
        """Whether a read must use the text listing: nft < 1.1 prints table flags as JSON
        from freed memory (garbage such as ``"flags": "t"``, or a cut-off document, or an
        abort of the whole process), so a listing that holds a table with flags is read as
        text. The flags come from the kernel (one netlink GETTABLE)."""
        if profile(self.version).json_listing_exact:
            return False
        with self._lib.lock:
            sock = self._nl().sock
            if table is None:
                return any(table_flags(sock, 0).values())
            return bool(table_flags_of(sock, FAMILIES[Family(family or "inet").value], table))

    def _filled(self, tables: list[Table], family: Family | str | None = None,
                table: str | None = None, *, kinds: frozenset[str] = _ALL_KINDS,
                name: str | None = None) -> list[Table]:
        """``tables`` with what nft < 1.1's JSON listings leave out, as the kernel has it
        (``netlink._facts.listing_facts``): table and chain comments, ``auto-merge`` and
        ``flags dynamic`` of sets (a text listing has them already: then nothing changes)."""
        if profile(self.version).json_listing_exact or not tables:
            return tables
        fam = 0 if family is None else FAMILIES[Family(family).value]
        with self._lib.lock:
            facts = listing_facts(self._nl().sock, fam, table, kinds=kinds, name=name)
        return [_fill(t, facts) for t in tables]

    def list_ruleset(self) -> Ruleset:
        """Every table of the namespace (``nft list ruleset``)."""
        rs = reads.list_ruleset(self._lib, text=self._as_text())
        return attrs.evolve(rs, tables=tuple(self._filled(list(rs.tables))))

    def list_table(self, family: Family | str, name: str) -> Table:
        """One table with everything in it; NotFoundError if absent. Other tables are not
        read."""
        t = reads.list_table(self._lib, family, name, text=self._as_text(family, name))
        return self._filled([t], family, name)[0]

    def list_chain(self, family: Family | str, table: str, name: str) -> Chain:
        """One chain with its rules (``nft list chain``)."""
        chain = reads.list_chain(self._lib, family, table, name,
                                 text=self._as_text(family, table))
        t = Table(family=Family(family), name=table, chains=(chain,))
        return self._filled([t], family, table, kinds=_CHAINS, name=name)[0].chains[0]

    def list_tables(self) -> list[Table]:
        """The tables without their contents (``nft list tables``)."""
        return self._filled(reads.list_tables(self._lib, text=self._as_text()),
                            kinds=frozenset({"table"}))

    def list_set(self, family: Family | str, table: str, name: str) -> Set:
        """One set with its elements (``nft list set``); NotFoundError if absent or a map."""
        s = reads.list_set(self._lib, family, table, name, text=self._as_text(family, table))
        return self._filled([Table(family=Family(family), name=table, sets=(s,))],
                            family, table, kinds=_SETS, name=name)[0].sets[0]

    def list_map(self, family: Family | str, table: str, name: str) -> Map:
        """One map with its elements (``nft list map``); NotFoundError if absent or a set."""
        m = reads.list_map(self._lib, family, table, name, text=self._as_text(family, table))
        filled = self._filled([Table(family=Family(family), name=table, sets=(m,))],
                              family, table, kinds=_SETS, name=name)[0].sets[0]
        assert isinstance(filled, Map)
        return filled

    def list_counters(self, family: Family | str | None = None,
                      table: str | None = None) -> list[Counter]:
        """Named counters with their values, of one table, one family or all
        (``nft list counters [table inet t]``)."""
        return reads.list_counters(self._lib, family, table)

    def list_quotas(self, family: Family | str | None = None,
                    table: str | None = None) -> list[Quota]:
        """Named quotas with their usage, of one table, one family or all."""
        return reads.list_quotas(self._lib, family, table)

    # --- events (nft monitor) -----------------------------------------------------------

    def monitor(self, *, objects: bool = True) -> Monitor:
        """The changes of this namespace's ruleset, by any process, as typed ``Event`` s
        (``nft monitor``), with the generation each was committed in::

            with nft.monitor() as events:
                for ev in events.events(timeout=1.0):   # until 1 s without a change
                    print(ev.action, ev.kind, ev.obj)   # add rule Rule(...)

        ``obj`` is the object exactly as ``list_ruleset()`` gives it, or None with a
        ``reason`` (see ``nftkit.backend._monitor``); ``objects=False`` gives only what
        changed, without reading anything back. Close the monitor (or use ``with``): it
        holds its own sockets and no thread. docs/monitor.md has more.
        """
        if self._lib.closed:
            raise BackendError("this Nftables context is closed")
        return Monitor(self._lib.fd, self.list_table, objects=objects)
