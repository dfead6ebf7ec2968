"""The libnftables backend: one long-lived libnftables context, in any network namespace.

::

    nft = Nftables()                       # the current network namespace
    nft = Nftables(netns="blue")           # /run/netns/blue (as made by `ip netns add blue`)
    result = nft.run(txn)                  # one atomic batch; result.handles[i] for txn.ops[i]
    nft.check(txn)                         # the same, as a dry run: nothing changes
    table = nft.list_table("inet", "t")    # model objects, read back from the kernel

A transaction is sent as ONE ``nft_run_cmd_from_buffer`` call with a JSON command batch, so
the kernel applies all of it or none of it. libnftables gives no position for errors in JSON
input; nftkit finds the operation that failed by dry runs of prefixes of the batch (a binary
search: about log2(n) extra dry runs, only when a batch fails) and reports its index and op.

Namespaces: libnftables opens its netlink socket when the context is created, so the context
is created by a helper thread that has ``setns()``-ed into the target namespace, and stays
bound to it. Interface names (``meta iif "eth0"``, a chain's ``device``) are resolved by
libnftables in the calling thread, so each call also runs with the calling thread switched
into the namespace and back (two ``setns()``, a few microseconds).

Importing this module raises ``BackendUnavailableError`` (an ``ImportError``) naming the
Debian package when libnftables.so.1 is missing; ``import nftkit`` does not need it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from ..errors import (
    BackendError,
    NotFoundError,
    PermissionDeniedError,
    UnsupportedError,
    ValidationError,
)
from ..model.enums import Family
from ..model.expressions import ConcatExpr
from ..model.objects import Counter, NamedObject, Quota
from ..model.ruleset import Chain, Ruleset, Table
from ..model.sets import Map, Set
from ..parse.json import from_json
from ..render.context import DEFAULT_VERSION, installed_nft_version, parse_version
from ..transaction import (
    Kind,
    Op,
    Transaction,
    TransactionResult,
    Verb,
    result_without_handles,
)
from ._batch import PERMISSION_HINT, classify, clean_message, handles_from_echo, json_index
from ._element_json import element_command, element_only
from ._ffi import load
from ._limits import refuse_rename_then_delete
from ._netns import CLONE_NEWNET, call_in
from ._nl_objects import errno_error
from ._nl_txn import MissingSet, NetlinkPath
from ._positions import replay

__all__ = ["NETLINK_VERIFIED", "Nftables", "OutputFlag"]

_ffi, _lib, _libc = load()



class OutputFlag:
    """``enum nft_output_flags`` from <nftables/libnftables.h>."""

    REVERSEDNS = 1 << 0
    SERVICE = 1 << 1
    STATELESS = 1 << 2
    HANDLE = 1 << 3
    JSON = 1 << 4
    ECHO = 1 << 5
    GUID = 1 << 6
    NUMERIC_PROTO = 1 << 7
    NUMERIC_PRIO = 1 << 8
    NUMERIC_SYMBOL = 1 << 9
    NUMERIC_TIME = 1 << 10
    TERSE = 1 << 11


_NFT_OPTIMIZE_ENABLED = 0x1
_Sent = list[tuple[int, Op]]  # (index in the transaction, op as sent)


def _netns_path(netns: str | os.PathLike[str]) -> str:
    text = os.fspath(netns)
    return text if "/" in text else f"/run/netns/{text}"


def _open_netns(netns: str | os.PathLike[str] | int) -> int:
    """A file descriptor of the namespace that this object owns (a dup of a given one)."""
    if isinstance(netns, int):
        return os.dup(netns)
    path = _netns_path(netns)
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFoundError(f"network namespace {path} does not exist") from None
    except PermissionError:
        raise PermissionDeniedError(f"cannot open {path}: {PERMISSION_HINT}") from None


def _setns_error(netns: object, err: int) -> BackendError:
    if err == 1:  # EPERM
        return PermissionDeniedError(f"setns({netns!r}): {PERMISSION_HINT}")
    return BackendError(f"setns({netns!r}) failed: {os.strerror(err)}")


def _new_context(fd: int | None, netns: object) -> Any:
    """``nft_ctx_new`` in the current namespace, or in the namespace ``fd`` via a helper
    thread (``_netns.call_in``: no caller thread is ever left in a foreign namespace)."""
    try:
        ctx = call_in(fd, lambda: _lib.nft_ctx_new(0))
    except OSError as exc:
        raise _setns_error(netns, exc.errno or 0) from None
    if ctx is None or ctx == _ffi.NULL:
        raise BackendError("nft_ctx_new failed")
    return ctx


def _names_inside(command: str) -> bool:
    """Whether a JSON batch may hold interface names that libnftables resolves (``iif``,
    ``oif``, ``iifname``..., a chain's or flowtable's ``dev``, ``dup``/``fwd`` ``device``).
    Other JSON batches skip the namespace switch: it costs ~25 us, a quarter of a per-element
    update in a small table."""
    return "iif" in command or "oif" in command or "dev" in command


@contextlib.contextmanager
def _inside(fd: int | None, netns: object) -> Iterator[None]:
    """Run the calling thread inside namespace ``fd`` for the duration (no-op for None).

    libnftables talks to the kernel through the context's socket, bound at creation, but
    resolves interface names (``iif "eth0"``, ``device``) with calls made by the calling
    thread: so each call runs in the namespace, and the thread goes back right after. setns()
    changes only the calling thread; it costs a few microseconds.
    """
    if fd is None:
        yield
        return
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise _setns_error(netns, _ffi.errno)
        try:
            yield
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:  # pragma: no cover - cannot happen
                raise BackendError("could not return the thread to its network namespace: "
                                   + os.strerror(_ffi.errno))
    finally:
        os.close(home)


#: nft release series (major, minor) whose set userdata and rule expressions the netlink path
#: was checked against byte for byte (tests/test_nl_rules.py, tests/test_netlink_objects.py).
#: With another installed nft, batches that create sets, maps or rules go through its
#: libnftables; element updates, tables, chains and deletes use netlink with any release.
NETLINK_VERIFIED = frozenset({(1, 0)})
_UDATA_KINDS = frozenset({Kind.SET, Kind.MAP, Kind.RULE})
_CREATING = frozenset({Verb.ADD, Verb.CREATE, Verb.INSERT, Verb.REPLACE})


class Nftables:
    """A libnftables context bound to one network namespace; safe to share between threads.

    Args:
        netns: None for the current namespace, a name (``/run/netns/NAME``), a path, or an open
            file descriptor of a network namespace.
        include_paths: where ``include`` looks, for scripts run with ``run_file``/``run_text``.
        variables: ``define`` s for scripts run with ``run_file`` (libnftables applies them
            to files only): ``{"ports": "{ 22, 80 }"}``.
        optimize: let nft merge rules of text commands (``nft -o``, nft >= 1.0.3).
        netlink: let ``run``/``check`` send a transaction as one nfnetlink batch built
            directly from the model, without libnftables, when every op can be encoded
            (see ``_try_netlink``). None (the default): where the installed nft's release
            series was verified (``NETLINK_VERIFIED``), and for element updates, tables,
            chains and deletes with any release; True: whenever every op can be encoded;
            False: always libnftables. Also settable per call (``run(txn,
            netlink=False)``) and as the attribute.
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
        #: Which path the last ``run``/``check`` took: "netlink" or "libnftables".
        self.last_path = ""
        self._nl: NetlinkPath | None = None
        self._lock = threading.RLock()
        self._fd = None if netns is None else _open_netns(netns)
        try:
            self._ctx = _ffi.gc(_new_context(self._fd, netns), _lib.nft_ctx_free)
        except BaseException:
            if self._fd is not None:
                os.close(self._fd)
            raise
        self._version: tuple[int, int, int] | None = None
        self._native_destroy: bool | None = None
        self._include_paths = tuple(include_paths)
        self._variables = dict(variables or {})
        self._optimize = optimize
        self._configure(self._ctx)

    def _configure(self, ctx: Any) -> None:
        _lib.nft_ctx_buffer_output(ctx)
        _lib.nft_ctx_buffer_error(ctx)
        for path in self._include_paths:
            if _lib.nft_ctx_add_include_path(ctx, os.fsencode(path)) != 0:
                raise BackendError(f"cannot add include path {path!r}")
        for name, value in self._variables.items():
            if _lib.nft_ctx_add_var(ctx, f"{name}={value}".encode()) != 0:
                raise BackendError(f"cannot define variable {name!r}")
        if self._optimize:
            try:
                _lib.nft_ctx_set_optimize(ctx, _NFT_OPTIMIZE_ENABLED)
            except AttributeError:
                raise UnsupportedError("this libnftables has no optimize (nft < 1.0.3)") from None

    def _dry_context(self) -> Any:
        """A fresh context for one dry run. libnftables (1.0.6) keeps its cache per context
        and a dry run leaves it stale: after a dry run of ``delete table``, the next real run
        on the same context fails with ENOENT. A throwaway context keeps ``self._ctx`` clean."""
        ctx = _ffi.gc(_new_context(self._fd, self.netns), _lib.nft_ctx_free)
        self._configure(ctx)
        return ctx

    # --- the context --------------------------------------------------------------------

    def close(self) -> None:
        """Free the libnftables context now (it is also freed when garbage-collected)."""
        with self._lock:
            if self._ctx is not None:
                _ffi.release(self._ctx)
                self._ctx = None
            if self._nl is not None:
                self._nl.close()
                self._nl = None
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Nftables:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "current netns" if self.netns is None else f"netns={self.netns!r}"
        return f"Nftables({where})"

    def _exec(self, command: str, *, flags: int, dry: bool = False,
              output: bool = True) -> tuple[int, str, str]:
        """One ``nft_run_cmd_from_buffer``: ``(rc, output, error output)``.

        ``output=False``: the output is not wanted ("" is returned) and the error output only
        when the command failed. Both buffers are still fetched, since fetching is what empties
        them (libnftables appends to them until then).
        """
        lib = _lib
        with self._lock:
            ctx = self._ctx
            if ctx is None:
                raise BackendError("this Nftables context is closed")
            if dry:
                ctx = self._dry_context()
                lib.nft_ctx_set_dry_run(ctx, True)
            # (the long-lived context is never put in dry-run mode: dry runs get their own)
            lib.nft_ctx_output_set_flags(ctx, flags)
            # bytes, not ffi.new("char[]"): cffi passes a bytes object's buffer without a copy
            buf = command.encode()
            fd = self._fd
            if fd is None or (flags & OutputFlag.JSON and not _names_inside(command)):
                rc = lib.nft_run_cmd_from_buffer(ctx, buf)
            else:
                with _inside(fd, self.netns):
                    rc = lib.nft_run_cmd_from_buffer(ctx, buf)
            out_p = lib.nft_ctx_get_output_buffer(ctx)
            err_p = lib.nft_ctx_get_error_buffer(ctx)
            if not output:
                err = _ffi.string(err_p).decode(errors="replace") if rc != 0 else ""
                return rc, "", err
            out = _ffi.string(out_p).decode(errors="replace")
            err = _ffi.string(err_p).decode(errors="replace")
            return rc, out, err

    def _json(self, doc: Any, *, echo: bool = False, dry: bool = False) -> tuple[int, str, str]:
        flags = OutputFlag.JSON | OutputFlag.HANDLE | (OutputFlag.ECHO if echo else 0)
        return self._exec(json.dumps(doc), flags=flags, dry=dry)

    @property
    def version(self) -> tuple[int, int, int]:
        """The libnftables version (from its JSON metainfo), e.g. ``(1, 0, 6)``."""
        if self._version is None:
            # "list flowtables" carries the same metainfo but, unlike "list tables", does not
            # make nft 1.0.6 read the whole ruleset (14-18 s at 10k classic services).
            rc, out, _err = self._json({"nftables": [{"list": {"flowtables": None}}]})
            version = None
            if rc == 0 and out.strip():
                for item in json.loads(out).get("nftables", []):
                    if "metainfo" in item:
                        version = parse_version(item["metainfo"]["version"])
            self._version = version or installed_nft_version() or DEFAULT_VERSION
        return self._version

    @property
    def native_destroy(self) -> bool:
        """Whether libnftables and the kernel run ``destroy`` natively (probed once)."""
        if self._native_destroy is None:
            native = False
            if self.version >= (1, 0, 7):
                probe = {"destroy": {"table": {"family": "inet",
                                               "name": f"nftkit-probe-{uuid.uuid4().hex[:8]}"}}}
                rc, _out, _err = self._json({"nftables": [probe]}, dry=True)
                native = rc == 0
            self._native_destroy = native
        return self._native_destroy

    # --- transactions -------------------------------------------------------------------

    def run(self, txn: Transaction, *, handles: bool = True, ordered: bool = True,
            netlink: bool | None = None) -> TransactionResult:
        """Apply ``txn`` atomically; the handles the kernel assigned, per op.

        The batch is sent in the order that costs the kernel least (``txn.batch()``: tables,
        objects, sets, chains, rules, then elements); ``ordered=False`` sends ``txn.ops`` as
        they are.

        Raises NotFoundError, ExistsError, BusyError, InvalidError or PermissionDeniedError
        with ``index`` and ``operation`` naming the op that failed, as written in
        ``txn.ops`` (also when the batch was reordered); nothing is changed then.

        Handles come from nft's echo output, which makes libnftables load the whole table
        (rules included) first: about 10x slower at 1,000 services. So echo is only used when
        an op creates something that gets a handle (not for element ops), and
        ``handles=False`` skips it (``result.handles`` is then all None).

        Without libnftables: when every op can be encoded, the batch goes to the kernel as
        nfnetlink messages built from the model, handles echoed by the kernel (``netlink``:
        None for the context's setting, True or False to force either path; see the
        constructor); ``self.last_path`` says which path ran.
        """
        return self._apply(txn, dry=False, want_handles=handles, ordered=ordered,
                           netlink=netlink)

    def check(self, txn: Transaction, *, ordered: bool = True,
              netlink: bool | None = None) -> None:
        """Dry-run ``txn``: the kernel validates the whole batch, then discards it."""
        self._apply(txn, dry=True, ordered=ordered, netlink=netlink)

    def _apply(self, txn: Transaction, *, dry: bool, want_handles: bool = True,
               ordered: bool = True, netlink: bool | None = None) -> TransactionResult:
        if not isinstance(txn, Transaction):
            raise TypeError(f"expected a Transaction, got {type(txn).__name__}")
        ops = txn.ops
        done = self._try_netlink(txn, dry=dry, want_handles=want_handles, ordered=ordered,
                                 use=self.netlink if netlink is None else netlink)
        if done is not None:
            return done
        self.last_path = "libnftables"
        if not dry and element_only(ops):
            # Element adds and deletes only (a service update): nothing to reorder, emulate,
            # reset or echo, and the command is written directly, byte-identical to
            # json.dumps(self._batch(...)) (nftkit/backend/_element_json.py).
            command = element_command(ops, self._version or self.version)
            with self._lock:
                rc, _out, err = self._exec(command, flags=OutputFlag.JSON | OutputFlag.HANDLE,
                                           output=False)
                if rc != 0:
                    raise self._error(list(enumerate(ops)), err, ops)
            return result_without_handles(ops)
        batch = txn.batch(ordered=ordered)
        # The kernel resets counters and quotas on a *read* request, outside the batch (even
        # in a dry run), so resets cannot be atomic with it: they run after the batch commits,
        # and a dry run only checks that their targets exist.
        resets = [(i, op) for i, op in enumerate(ops) if op.verb is Verb.RESET]
        with self._lock:
            self._refuse_unreadable(ops)
            sent = self._resolve_destroy(ops, batch)
            handles: list[int | None] = [None] * len(ops)
            if sent:
                echo = want_handles and not dry and any(op.creates for _, op in sent)
                rc, out, err = self._json(self._batch(sent), echo=echo, dry=dry)
                if rc != 0:
                    raise self._error(sent, err, ops)
                if echo:
                    doc = json.loads(out) if out.strip() else {}
                    echoed = handles_from_echo([op for _, op in sent], doc)
                    if any(op.creates and h is None
                           for (_i, op), h in zip(sent, echoed, strict=True)):
                        echoed = self._fill_handles([op for _, op in sent], echoed)
                    for (i, _op), handle in zip(sent, echoed, strict=True):
                        # A set sent as set + elements has two entries with the set's index.
                        if handle is not None:
                            handles[i] = handle
            for i, op in resets:
                doc = {"nftables": [op.to_json(version=self.version)]}
                if dry:
                    doc = {"nftables": [{"list": op.to_json()["reset"]}]}
                rc, _out, err = self._json(doc)
                if rc != 0:
                    raise self._error([(i, op)], err, ops)
        return TransactionResult(ops=ops, handles=tuple(handles))

    def _try_netlink(self, txn: Transaction, *, dry: bool, want_handles: bool, ordered: bool,
                     use: bool | None) -> TransactionResult | None:
        """Apply (or dry-run) ``txn`` as one nfnetlink batch built from the model; None when
        libnftables must do it instead (nothing was changed then).

        Taken when ``use`` allows it (None: the release check below) and
        ``NetlinkPath.encode`` can write every op exactly as nft would (else
        UnsupportedError: libnftables). Handles: the creating messages carry
        NLM_F_ECHO and the kernel echoes each object it makes, with its handle, at commit
        (``NetlinkPath.handles``); ``handles=False`` skips that. The kernel's first refusal
        is reported against the op that sent the refused message: ENOENT, EEXIST, EBUSY and
        EPERM as NotFoundError, ExistsError, BusyError and PermissionDeniedError; other
        errors (EINVAL...) make libnftables run the transaction again, atomically and from
        scratch, so that the error carries nft's own explanation.
        """
        ops = txn.ops
        if self._nl is not None:
            self._nl.forget(ops)  # whatever runs it, deleted sets are no longer known
        if use is False or not ops or any(op.verb is Verb.RESET for op in ops):
            return None
        if use is None and self.version[:2] not in NETLINK_VERIFIED and any(
                op.kind in _UDATA_KINDS and op.verb in _CREATING for op in ops):
            # set userdata and rule expressions are written as the verified nft releases
            # write them; another release may list them differently: its libnftables does it
            return None
        echo = want_handles and not dry and any(op.creates for op in ops)
        if any(op.verb is Verb.DESTROY for op in ops) and not self.native_destroy:
            # the kernel's DESTROY fails when the table is missing; libnftables' emulation
            # (nft < 1.0.7) succeeds: keep one semantics per context, libnftables'
            return None
        with self._lock:
            if self._ctx is None:
                raise BackendError("this Nftables context is closed")
            self.last_path = "netlink"  # also when encode finds a missing set (NotFoundError)
            try:
                if self._nl is None:
                    self._nl = NetlinkPath(self._fd)
                nl = self._nl
                batch = txn.batch(ordered=ordered)
                messages, owners = nl.encode(ops, batch, echo=echo)
            except UnsupportedError:
                return None
            except MissingSet as missing:
                # an earlier op may fail first: the kernel decides, with a dry run of the
                # batch up to the element op
                messages, owners = missing.messages, missing.owners
                failed = nl.send(messages, commit=False) if messages else None
                if failed is None:
                    raise missing.error() from None
            else:
                failed = nl.send(messages, commit=not dry)
                if failed is None:
                    if not dry:
                        nl.committed(ops)
                    if not echo:
                        return result_without_handles(ops)
                    return TransactionResult(ops=ops, handles=tuple(nl.handles(ops, batch)))
            pos, err = failed
            if err not in (errno.ENOENT, errno.EEXIST, errno.EBUSY, errno.EPERM, errno.EACCES):
                return None
            index = owners[min(pos, len(owners) - 1)]
            raise errno_error(err, ops[index].describe(), index=index, operation=ops[index])

    def _fill_handles(self, ops: list[Op], handles: list[int | None]) -> list[int | None]:
        """Handles the echo left out, read back from the kernel (the touched tables only).

        libnftables 1.0.6 sometimes echoes the first objects of a batch without their handle
        (seen in the first batch with echo after some failed ones, in any context of the
        process). Tables, chains, sets and objects are found by name; rules that this batch
        appended to a chain are that chain's last rules, in order; other rules are found by
        their statements among the chain's rules whose handles are not otherwise known.
        """
        out = list(handles)
        known = {h for h in handles if h is not None}
        tables: dict[tuple[str, str], list[Any]] = {}
        table_handles: dict[tuple[str, str], int] = {}
        if any(op.kind is Kind.TABLE and h is None for op, h in zip(ops, out, strict=True)):
            for item in self._list({"tables": None}):
                body = item.get("table", {})
                table_handles[(body.get("family"), body.get("name"))] = body.get("handle")
        for j, op in enumerate(ops):
            if not op.creates or out[j] is not None or op.family is None or op.table is None:
                continue
            where = (op.family.value, op.table)
            if op.kind is Kind.TABLE:
                out[j] = table_handles.get(where)
                continue
            if where not in tables:
                try:
                    tables[where] = self._list({"table": {"family": where[0],
                                                          "name": where[1]}})
                except BackendError:
                    tables[where] = []
            if op.kind is Kind.RULE:
                tail = self._appended(ops, j, tables[where])
                if tail is not None:
                    out[j] = tail
                    known.add(tail)
                    continue
            for item in tables[where]:
                ((kind, body),) = item.items()
                if op.kind is Kind.RULE:
                    if (kind == "rule" and body.get("chain") == op.chain
                            and body.get("handle") not in known
                            and self._same_rule(op, body)):
                        out[j] = body.get("handle")
                        break
                elif kind == op.kind.value and body.get("name") == op.name:
                    out[j] = body.get("handle")
                    break
            found = out[j]
            if found is not None:
                known.add(found)
        return out

    @staticmethod
    def _appended(ops: list[Op], j: int, items: list[Any]) -> int | None:
        """If every rule op of ``ops[j]``'s chain in this batch appends (no position, index or
        insert), they are the chain's last rules, in order: the handle of ``ops[j]``'s."""
        op = ops[j]
        mine = [k for k, o in enumerate(ops) if o.kind is Kind.RULE and o.family == op.family
                and o.table == op.table and o.chain == op.chain]
        if any(ops[k].verb is not Verb.ADD or ops[k].position is not None
               or ops[k].index is not None for k in mine):
            return None
        listed = [body.get("handle") for item in items for kind, body in item.items()
                  if kind == "rule" and body.get("chain") == op.chain]
        if len(listed) < len(mine):
            return None
        handle = listed[len(listed) - len(mine) + mine.index(j)]
        return handle if isinstance(handle, int) else None

    def _same_rule(self, op: Op, listed: dict[str, Any]) -> bool:
        """Whether a listed rule is what ``op`` added (its JSON, as this nft lists it)."""
        sent = op.to_json(version=self.version)[op.verb.value]["rule"]
        return bool(sent.get("expr") == listed.get("expr")
                    and sent.get("comment") == listed.get("comment"))

    def _refuse_unreadable(self, ops: tuple[Op, ...]) -> None:
        """Refuse what this libnftables cannot read from JSON, before sending anything.

        nft 1.0.6 reads a map with concatenated data (``type inet_proto . inet_service :
        ipv4_addr . inet_service``) as a plain set, and then crashes the whole process
        (SIGSEGV) on a rule that uses it: that must never reach it.
        """
        if self.version >= (1, 1, 0):
            return
        refuse_rename_then_delete(ops, self.version)
        for i, op in enumerate(ops):
            if isinstance(op.obj, Map) and (len(op.obj.data_type) > 1 or isinstance(
                    op.obj.data_typeof, ConcatExpr)):
                raise UnsupportedError(
                    f"operation {i} ({op.describe()}): libnftables "
                    f"{'.'.join(map(str, self.version))} cannot read a map with concatenated "
                    "data from JSON (nft >= 1.1 can); load it with run_text() instead")

    def _batch(self, sent: _Sent) -> dict[str, Any]:
        version = self.version
        return {"nftables": [op.to_json(version=version) for _, op in sent]}

    def _dry_ok(self, sent: _Sent) -> tuple[bool, str]:
        rc, _out, err = self._json(self._batch(sent), dry=True)
        return rc == 0, err

    def _resolve_destroy(self, ops: tuple[Op, ...], batch: list[tuple[int, Op]]) -> _Sent:
        """The ops of ``batch`` to send; where ``destroy`` is not native, each becomes a
        ``delete`` of what exists at that point of the batch (checked by dry runs just before
        sending), or is dropped. ``ops`` are the transaction's ops as written (ordering keeps
        the rules' order, so a ``position`` resolves the same against them)."""
        sent: _Sent = []
        emulate = any(op.verb is Verb.DESTROY for op in ops) and not self.native_destroy
        for i, op in batch:
            if op.verb is Verb.RESET:
                continue  # applied after the batch, see _apply
            if op.verb is Verb.ADD and op.kind is Kind.RULE and op.position is not None:
                op = self._position_to_index(ops, i, op)
            if not (emulate and op.verb is Verb.DESTROY):
                sent.append((i, op))
                continue
            if op.kind is Kind.ELEMENT:
                present = tuple(e for e in op.elements
                                if self._exists(sent, attrs.evolve(op, verb=Verb.DELETE,
                                                                   elements=(e,)), i))
                if present:
                    sent.append((i, attrs.evolve(op, verb=Verb.DELETE, elements=present)))
            else:
                delete = attrs.evolve(op, verb=Verb.DELETE)
                if self._exists(sent, delete, i):
                    sent.append((i, delete))
        return sent

    def _position_to_index(self, ops: tuple[Op, ...], i: int, op: Op) -> Op:
        """``add rule ... position H`` as ``add rule ... index N``.

        libnftables' JSON parser ignores the handle of an ``add`` (it honours it for
        ``insert``) in nft 1.0.6 and later releases, silently appending the rule instead; the
        index form works everywhere, also for rules added earlier in the same batch (nft keeps
        its rule cache up to date within a batch). N is where rule H stands at that point of
        the batch: the chain's rules as the kernel has them now, then the earlier ops of the
        transaction replayed on that list (UnsupportedError where that cannot be exact: a rule
        of the chain deleted, or the chain renamed, earlier in the transaction).
        """
        assert op.family is not None
        try:
            items = self._list({"chain": {"family": op.family.value, "table": op.table,
                                          "name": op.chain}})
            rules: list[int | None] = [item["rule"].get("handle")
                                       for item in items if "rule" in item]
        except NotFoundError:
            rules = []  # the chain may be created earlier in this transaction
        for j, earlier in enumerate(ops[:i]):
            if earlier.kind is Kind.RULESET or (
                    earlier.family == op.family and earlier.table == op.table):
                rules = replay(earlier, op, rules, j, i)
        if op.position not in rules:
            raise NotFoundError(f"{op.describe()}: no rule with handle {op.position} in chain "
                                f"{op.chain} at that point", index=i, operation=op)
        return attrs.evolve(op, position=None, index=rules.index(op.position))

    def _exists(self, sent: _Sent, delete: Op, index: int) -> bool:
        # Only the earlier ops on the same table can make the object exist or not; leaving
        # the others out also spares the handles a dry run of them would use up.
        sent = [(i, o) for i, o in sent if o.kind is Kind.RULESET or (
            o.family == delete.family and o.table == delete.table)]
        ok, err = self._dry_ok([*sent, (index, delete)])
        if ok or classify(err) is not NotFoundError:
            return True  # present (a delete that fails otherwise, e.g. EBUSY, fails for real)
        # ENOENT: from our delete, or from an earlier op (then keep it: the batch fails anyway
        # and the error is attributed to that earlier op).
        return not self._dry_ok(sent)[0] if sent else False

    def _error(self, sent: _Sent, err: str, ops: tuple[Op, ...]) -> BackendError:
        """The nftkit error for a failed batch, naming the op that failed."""
        cls = classify(err)
        message = clean_message(err)
        if cls is PermissionDeniedError:
            return cls(PERMISSION_HINT, nft_message=message)
        pos = json_index(err)
        if pos is None or pos >= len(sent):
            pos, first = self._bisect(sent, err)
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

    def _bisect(self, sent: _Sent, err: str) -> tuple[int | None, str]:
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
            ok, mid_err = self._dry_ok(sent[:mid])
            if ok:
                lo = mid + 1
            else:
                hi, hi_err = mid, mid_err
        if hi == len(sent) and self._dry_ok(sent)[0]:
            return None, ""  # only the commit fails: no prefix reproduces it
        return hi - 1, hi_err

    # --- text commands ------------------------------------------------------------------

    def run_text(self, commands: str, *, handles: bool = False, json_output: bool = False,
                 dry: bool = False) -> str:
        """Run nft text commands (``"list ruleset"``, an ``nft -f`` script); their output.

        Errors are mapped like ``run``'s, without an operation index.
        """
        flags = (OutputFlag.HANDLE if handles else 0) | (OutputFlag.JSON if json_output else 0)
        if self._nl is not None and not dry:
            self._nl.forget_all()  # a script may replace any set
        rc, out, err = self._exec(commands, flags=flags, dry=dry)
        if rc != 0:
            cls = classify(err)
            msg = clean_message(err)
            if cls is PermissionDeniedError:
                raise cls(PERMISSION_HINT, nft_message=msg)
            raise cls(f"nft: {msg.splitlines()[0] if msg else 'failed'}", nft_message=err)
        return out

    def run_file(self, path: str | os.PathLike[str], *, dry: bool = False) -> str:
        """Run an nft script file (``nft -f``): the only input where libnftables applies
        ``variables`` (``define`` s given to the constructor) and ``include_paths``."""
        rc, out, err = self._exec_file(os.fspath(path), dry=dry)
        if rc != 0:
            cls = classify(err)
            msg = clean_message(err)
            if cls is PermissionDeniedError:
                raise cls(PERMISSION_HINT, nft_message=msg)
            raise cls(f"nft -f {path}: {msg.splitlines()[0] if msg else 'failed'}",
                      nft_message=err)
        return out

    def _exec_file(self, path: str, *, dry: bool) -> tuple[int, str, str]:
        with self._lock:
            if self._ctx is None:
                raise BackendError("this Nftables context is closed")
            ctx = self._dry_context() if dry else self._ctx
            _lib.nft_ctx_output_set_flags(ctx, 0)
            _lib.nft_ctx_set_dry_run(ctx, dry)
            with _inside(self._fd, self.netns):
                rc = _lib.nft_run_cmd_from_filename(ctx, os.fsencode(path))
            out = _ffi.string(_lib.nft_ctx_get_output_buffer(ctx)).decode(errors="replace")
            err = _ffi.string(_lib.nft_ctx_get_error_buffer(ctx)).decode(errors="replace")
            return rc, out, err

    # --- reads --------------------------------------------------------------------------

    def _list(self, what: dict[str, Any]) -> list[Any]:
        rc, out, err = self._json({"nftables": [{"list": what}]})
        if rc != 0:
            cls = classify(err)
            msg = clean_message(err)
            if cls is PermissionDeniedError:
                raise cls(PERMISSION_HINT, nft_message=msg)
            ((kind, body),) = what.items()
            where = " ".join(str(v) for v in (body or {}).values())
            raise cls(f"list {kind} {where}: {msg.splitlines()[0] if msg else 'failed'}",
                      nft_message=msg)
        items: list[Any] = json.loads(out).get("nftables", []) if out.strip() else []
        return [i for i in items if "metainfo" not in i]

    def list_ruleset(self) -> Ruleset:
        """Every table of the namespace (``nft list ruleset``)."""
        return from_json({"nftables": self._list({"ruleset": None})})

    def list_table(self, family: Family | str, name: str) -> Table:
        """One table with everything in it; NotFoundError if absent. Other tables are not
        read."""
        fam = Family(family).value
        items = self._list({"table": {"family": fam, "name": name}})
        return from_json({"nftables": items}).table(fam, name)

    def _in_table(self, family: str, table: str, items: list[Any]) -> Table:
        head = {"table": {"family": family, "name": table}}
        return from_json({"nftables": [head, *items]}).table(family, table)

    def list_chain(self, family: Family | str, table: str, name: str) -> Chain:
        """One chain with its rules (``nft list chain``)."""
        fam = Family(family).value
        items = self._list({"chain": {"family": fam, "table": table, "name": name}})
        return self._in_table(fam, table, items).chain(name)

    def list_tables(self) -> list[Table]:
        """The tables without their contents (``nft list tables``)."""
        items = self._list({"tables": None})
        return list(from_json({"nftables": items}).tables)

    def list_set(self, family: Family | str, table: str, name: str) -> Set:
        """One set with its elements (``nft list set``); NotFoundError if absent or a map."""
        fam = Family(family).value
        items = self._list({"set": {"family": fam, "table": table, "name": name}})
        result = self._in_table(fam, table, items).set(name)
        if isinstance(result, Map):
            raise NotFoundError(f"{fam} {table} {name} is a map, not a set")
        return result

    def list_map(self, family: Family | str, table: str, name: str) -> Map:
        """One map with its elements (``nft list map``); NotFoundError if absent or a set."""
        fam = Family(family).value
        items = self._list({"map": {"family": fam, "table": table, "name": name}})
        result = self._in_table(fam, table, items).set(name)
        if not isinstance(result, Map):
            raise NotFoundError(f"{fam} {table} {name} is a set, not a map")
        return result

    def _objects(self, kind: str, family: Family | str | None,
                 table: str | None) -> list[NamedObject]:
        where: dict[str, str] = {}
        if family is not None:
            where["family"] = Family(family).value
        if table is not None:
            if family is None:
                raise ValidationError("Nftables", "family", "table= needs family=")
            where["table"] = table
        items = self._list({kind: where or None})
        heads = {(i[k]["family"], i[k]["table"]) for i in items for k in i}
        doc = [{"table": {"family": f, "name": t}} for f, t in sorted(heads)]
        return [o for t in from_json({"nftables": doc + items}).tables for o in t.objects]

    def list_counters(self, family: Family | str | None = None,
                      table: str | None = None) -> list[Counter]:
        """Named counters with their values, of one table, one family or all
        (``nft list counters [table inet t]``)."""
        return [o for o in self._objects("counters", family, table) if isinstance(o, Counter)]

    def list_quotas(self, family: Family | str | None = None,
                    table: str | None = None) -> list[Quota]:
        """Named quotas with their usage, of one table, one family or all."""
        return [o for o in self._objects("quotas", family, table) if isinstance(o, Quota)]
