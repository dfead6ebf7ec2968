"""The backends' side of ``sync`` (``nftkit.sync.run_sync``): read the owned tables at one
ruleset generation, and commit a batch only if the ruleset is still at it.

``Nftables``: the batch goes by netlink with ``NFNL_BATCH_GENID`` set to the generation the
tables were read at, so the kernel refuses it (ERESTART) when any other writer committed in
between. A batch the netlink encoders cannot write goes through libnftables (``run``: JSON;
or the diff's own ``nft -f`` script where this release's JSON would drop something), which
cannot carry that generation: the generation is checked just before, and after the batch,
unless it is exactly one more, the loop reads the tables again and checks that they are the
desired ones (else it diffs and sends again).

(``FakeNftables`` has its own ``Target``: its ``generation`` counter, under its lock.)
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import BackendError, ConflictError, NotFoundError, UnsupportedError
from ..model.enums import Family
from ..model.ruleset import Ruleset, Table
from ..sync import Applied, SyncPath, SyncState, Target, run_sync
from ..sync._diff import TableKey
from ..transaction import Transaction

__all__ = ["NftablesTarget", "drift"]

#: How many times a read is taken again when a commit came between its start and end.
_READS = 10


class NftablesTarget:
    """``Target`` of an ``Nftables`` handle."""

    def __init__(self, nft: Any) -> None:
        # (an ``Nftables``: this module is below the router, which imports it)
        self.nft = nft

    def generation(self) -> int:
        lib = self.nft._lib
        with lib.lock:
            genid: int = self.nft._nl().sock.genid()
            return genid

    def read(self, keys: Sequence[TableKey]) -> tuple[int, dict[TableKey, Table | None]]:
        nft = self.nft
        for _attempt in range(_READS):
            before = self.generation()
            out: dict[TableKey, Table | None] = {}
            try:
                for fam, name in keys:
                    try:
                        out[(fam, name)] = nft.list_table(fam, name)
                    except NotFoundError:
                        out[(fam, name)] = None
            except BackendError:
                # (a listing is several requests: one can meet a table deleted meanwhile)
                if self.generation() != before:
                    continue
                raise
            if self.generation() == before:
                return before, out
        raise ConflictError(f"sync: the ruleset changed during each of {_READS} reads")

    def apply(self, txn: Transaction, genid: int, script: Callable[[], str]
              ) -> Applied | None:
        nft = self.nft
        sent = self._netlink(txn, genid)
        if sent is not _UNSUPPORTED:
            return sent  # type: ignore[return-value]
        if self.generation() != genid:
            return None
        path: SyncPath
        try:
            try:
                result = nft.run(txn, handles=False)
                # (no handles: libnftables 1.0.6's echo gives an insert's handle to the
                # replace before it; the next sync reads them)
                path, handles = result.path or "libnftables-json", (None,) * len(txn.ops)
            except UnsupportedError:
                # neither netlink nor this release's JSON carries all of it: nft commands
                # (one batch too; the handles are read back by the next sync)
                nft.run_text(script())
                path, handles = "libnftables-text", (None,) * len(txn.ops)
        except BackendError as exc:
            if self.generation() != genid:
                return None  # another writer came first: the batch met its changes
            raise exc from None
        now = self.generation()
        return Applied(path=path, handles=handles, genid=now if now == genid + 1 else None)

    def _netlink(self, txn: Transaction, genid: int) -> Applied | object | None:
        """The batch by netlink at ``genid``; ``_UNSUPPORTED`` when the encoders cannot
        write it exactly (then nothing was sent)."""
        from .netlink._objects import errno_error
        from .netlink._txn import MissingSet, _Stale

        nft = self.nft
        ops = txn.ops
        if not nft._netlink_allowed(ops, nft.netlink):
            return _UNSUPPORTED
        batch = txn.batch()
        echo = any(op.creates for op in ops)
        with nft._lib.lock:
            nl = nft._nl()
            if nl._genid != genid:
                nl.forget_all()  # what is known of sets is of another generation
            try:
                messages, owners = nl.encode(ops, batch, echo=echo)
            except UnsupportedError:
                return _UNSUPPORTED
            except (_Stale, MissingSet) as exc:
                if nl.sock.genid() != genid:
                    return None
                if isinstance(exc, MissingSet):
                    raise exc.error() from None
                return _UNSUPPORTED
            failed = nl.send(messages, commit=True, genid=genid)
            if failed == (0, errno.ERESTART):
                nl.restarts += 1
                nl.forget_all()
                return None
            if failed is not None:
                nl.forget_all()
                pos, err = failed
                index = owners[min(pos, len(owners) - 1)]
                if err in (errno.ENOENT, errno.EEXIST, errno.EBUSY, errno.EPERM,
                           errno.EACCES):
                    raise errno_error(err, ops[index].describe(), index=index,
                                      operation=ops[index])
                return _UNSUPPORTED  # libnftables runs it again, with nft's explanation
            nl.committed(ops, genid)
            handles: Sequence[int | None] = (nl.handles(ops, batch) if echo
                                             else [None] * len(ops))
        nft.last_path = "netlink"
        return Applied(path="netlink", handles=tuple(handles), genid=genid + 1)


_UNSUPPORTED = object()


def drift(target: Target, state: SyncState, desired: Ruleset | Table | Iterable[Table], *,
          tables: Iterable[Table | tuple[Family | str, str] | str] | None = None
          ) -> Transaction:
    """What a sync would send now: empty when the kernel has the desired state (the state
    remembered from the last sync is reused while the generation is unchanged)."""
    return run_sync(target, state, desired, tables=tables, dry_run=True).txn
