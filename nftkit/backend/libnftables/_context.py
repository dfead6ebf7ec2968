"""One libnftables context (cffi), bound to one network namespace.

libnftables opens its netlink socket when the context is created, so a context created by a
helper thread that has ``setns()``-ed into the target namespace stays bound to it. Interface
names (``meta iif "eth0"``, a chain's ``device``) are resolved by libnftables in the calling
thread, so each call that may hold one also runs with the calling thread switched into the
namespace and back (two ``setns()``, a few microseconds).

Everything that calls into libnftables goes through ``Context.exec``/``exec_file``: the JSON
path (``_json``), the text path (``_text``), handle recovery (``_handles``), destroy emulation
(``_destroy``), error bisection (``_errors``) and the reads (``_reads``).

libnftables keeps a cache of kernel objects in each context, filled before a command with what
that command needs: tables, chains and sets for a write; every rule and every set's elements
for a listing or for ``--echo``. So that no context keeps a whole ruleset between calls:

- reads (``read=True``) run in a context made for the call and freed after it (``nft_ctx_new``
  costs ~0.07 ms, next to the dumps a listing makes anyway);
- writes run in the long-lived context (a table with ``flags owner`` belongs to the socket of
  the context that made it, and must live as long as the ``Nftables`` handle), and after a
  write with ``--echo`` one cheap command (``list flowtables``: a GETGEN and two small dumps)
  makes libnftables drop the full cache the echo filled, since the batch changed the
  ruleset's generation.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from enum import IntFlag
from typing import Any

from ...errors import BackendError, PermissionDeniedError, UnsupportedError
from ...nft.releases import profile
from ...render.context import DEFAULT_VERSION, installed_nft_version, parse_version
from .._netns import CLONE_NEWNET, PERMISSION_HINT, call_in, setns_error
from ._errors import classify, clean_message
from ._ffi import load

__all__ = ["Context", "OutputFlag"]

_ffi, _lib, _libc = load()


#: ``enum nft_output_flags`` from <nftables/libnftables.h>, in bit order (REVERSEDNS = 1 << 0
#: ... TERSE = 1 << 11).
OutputFlag = IntFlag(
    "OutputFlag",
    "REVERSEDNS SERVICE STATELESS HANDLE JSON ECHO GUID NUMERIC_PROTO NUMERIC_PRIO "
    "NUMERIC_SYMBOL NUMERIC_TIME TERSE",
)


_NFT_OPTIMIZE_ENABLED = 0x1


def _new_context(fd: int | None, netns: object) -> Any:
    """``nft_ctx_new`` in the current namespace, or in the namespace ``fd`` via a helper
    thread (``_netns.call_in``: no caller thread is ever left in a foreign namespace)."""
    try:
        ctx = call_in(fd, lambda: _lib.nft_ctx_new(0))
    except OSError as exc:
        raise setns_error(netns, exc.errno or 0) from None
    if ctx is None or ctx == _ffi.NULL:
        raise BackendError("nft_ctx_new failed")
    return ctx


class _HomeFd:
    """A thread's own network namespace, open for the thread's life (closed with it)."""

    __slots__ = ("fd",)

    def __init__(self) -> None:
        self.fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def __del__(self) -> None:
        os.close(self.fd)


_home = threading.local()


def _home_fd() -> int:
    """This thread's own network namespace, opened once per thread (reopening it for every
    call would double the cost of a call's namespace switch)."""
    home: _HomeFd | None = getattr(_home, "ns", None)
    if home is None:
        home = _home.ns = _HomeFd()
    return home.fd


@contextlib.contextmanager
def _inside(fd: int | None, netns: object) -> Iterator[None]:
    """Run the calling thread inside namespace ``fd`` for the duration (no-op for None).

    libnftables talks to the kernel through the context's socket, bound at creation, but
    resolves names with calls made by the calling thread: interface names and indexes
    (``iif "eth0"``, a chain's ``device``, ``fwd to``) through if_nametoindex/if_indextoname,
    and host names through getaddrinfo. Every call (writes and reads alike) therefore runs
    in the namespace, and the thread goes back right after: the result never depends on the
    caller's namespace. setns() changes only the calling thread; two cost ~10 us.
    """
    if fd is None:
        yield
        return
    home = _home_fd()
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise setns_error(netns, _ffi.errno)
    try:
        yield
    finally:
        if _libc.setns(home, CLONE_NEWNET) != 0:  # pragma: no cover - cannot happen
            raise BackendError("could not return the thread to its network namespace: "
                               + os.strerror(_ffi.errno))


class Context:
    """A libnftables context in the namespace ``fd`` (None: the current one); thread-safe.

    The context owns ``fd`` from here on: ``close`` closes it. ``netns`` is only for messages.
    ``lock`` serialises every use of the context (and of the netlink socket of the same
    ``Nftables``).
    """

    def __init__(self, fd: int | None, netns: object, *, include_paths: Iterable[str] = (),
                 variables: Mapping[str, str] | None = None, optimize: bool = False) -> None:
        self.fd = fd
        self.netns = netns
        self.lock = threading.RLock()
        self._include_paths = tuple(include_paths)
        self._variables = dict(variables or {})
        self._optimize = optimize
        self._version: tuple[int, int, int] | None = None
        self._native_destroy: bool | None = None
        #: how many echoes were followed by a cache drop (see the module; tests read it)
        self.cache_drops = 0
        try:
            self._ctx: Any = _ffi.gc(_new_context(fd, netns), _lib.nft_ctx_free)
            self._configure(self._ctx)
        except BaseException:
            self.close()
            raise

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
        ctx = _ffi.gc(_new_context(self.fd, self.netns), _lib.nft_ctx_free)
        self._configure(ctx)
        return ctx

    def close(self) -> None:
        """Free the libnftables context and close the namespace fd (idempotent)."""
        with self.lock:
            ctx = getattr(self, "_ctx", None)
            if ctx is not None:
                _ffi.release(ctx)
                self._ctx = None
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None

    @property
    def closed(self) -> bool:
        return self._ctx is None

    def exec(self, command: str, *, flags: int, dry: bool = False, output: bool = True,
             read: bool = False) -> tuple[int, str, str]:
        """One ``nft_run_cmd_from_buffer``: ``(rc, output, error output)``.

        ``output=False``: the output is not wanted ("" is returned) and the error output only
        when the command failed. Both buffers are still fetched, since fetching is what empties
        them (libnftables appends to them until then).

        ``read=True``: a listing, run in a context of its own (see the module).
        """
        lib = _lib
        with self.lock:
            ctx = self._ctx
            if ctx is None:
                raise BackendError("this Nftables context is closed")
            if dry:
                ctx = self._dry_context()
                lib.nft_ctx_set_dry_run(ctx, True)
            elif read:
                ctx = self._read_context()
            elif flags & OutputFlag.ECHO:
                try:
                    return self._exec(ctx, command, flags, output)
                finally:
                    self._drop_cache(ctx)
            # (the long-lived context is never put in dry-run mode: dry runs get their own)
            return self._exec(ctx, command, flags, output)

    def _exec(self, ctx: Any, command: str, flags: int, output: bool) -> tuple[int, str, str]:
        lib = _lib
        lib.nft_ctx_output_set_flags(ctx, flags)
        # bytes, not ffi.new("char[]"): cffi passes a bytes object's buffer without a copy
        buf = command.encode()
        fd = self.fd
        if fd is None:
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

    def _read_context(self) -> Any:
        """A context for one listing, freed after it with the whole cache it filled."""
        ctx = _ffi.gc(_new_context(self.fd, self.netns), _lib.nft_ctx_free)
        self._configure(ctx)
        return ctx

    def _drop_cache(self, ctx: Any) -> None:
        """Make ``ctx`` drop the cache an echo filled (every rule and element): libnftables
        releases its cache before any command once the ruleset's generation moved, and
        refills it with what that command needs; ``list flowtables`` needs tables and
        flowtables only. The cost: a GETGEN and two small dumps."""
        self.cache_drops += 1
        self._exec(ctx, "list flowtables", 0, False)

    def exec_file(self, path: str, *, dry: bool) -> tuple[int, str, str]:
        """One ``nft_run_cmd_from_filename`` (``nft -f``): ``(rc, output, error output)``."""
        with self.lock:
            if self._ctx is None:
                raise BackendError("this Nftables context is closed")
            ctx = self._dry_context() if dry else self._ctx
            _lib.nft_ctx_output_set_flags(ctx, 0)
            _lib.nft_ctx_set_dry_run(ctx, dry)
            with _inside(self.fd, self.netns):
                rc = _lib.nft_run_cmd_from_filename(ctx, os.fsencode(path))
            out = _ffi.string(_lib.nft_ctx_get_output_buffer(ctx)).decode(errors="replace")
            err = _ffi.string(_lib.nft_ctx_get_error_buffer(ctx)).decode(errors="replace")
            return rc, out, err

    def json(self, doc: Any, *, echo: bool = False, dry: bool = False,
             read: bool = False) -> tuple[int, str, str]:
        """A JSON command document (``{"nftables": [...]}``), with handles in the output
        (``read``: see ``exec``)."""
        flags = OutputFlag.JSON | OutputFlag.HANDLE | (OutputFlag.ECHO if echo else 0)
        return self.exec(json.dumps(doc), flags=flags, dry=dry, read=read)

    def list(self, what: dict[str, Any]) -> list[Any]:
        """``{"list": what}``: the listed items without the metainfo (an nftkit error if nft
        refuses, e.g. NotFoundError for a missing table)."""
        rc, out, err = self.json({"nftables": [{"list": what}]}, read=True)
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

    @property
    def version(self) -> tuple[int, int, int]:
        """The libnftables version (from its JSON metainfo), e.g. ``(1, 0, 6)``."""
        if self._version is None:
            # "list flowtables" carries the same metainfo but, unlike "list tables", does not
            # make nft 1.0.6 read the whole ruleset (14-18 s at 10k classic services).
            rc, out, _err = self.json({"nftables": [{"list": {"flowtables": None}}]})
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
            if profile(self.version).destroy:
                probe = {"destroy": {"table": {"family": "inet",
                                               "name": f"nftkit-probe-{uuid.uuid4().hex[:8]}"}}}
                rc, _out, _err = self.json({"nftables": [probe]}, dry=True)
                native = rc == 0
            self._native_destroy = native
        return self._native_destroy
