"""One call inside another network namespace, made by a helper thread.

A netlink socket and a libnftables context belong to the network namespace they are created
in. To create one in another namespace without ever leaving a caller's thread there, a short
helper thread enters the namespace (``setns(fd, CLONE_NEWNET)``), makes the object, goes back
and ends. Both the libnftables context (``Nftables``) and the direct netlink socket use this,
and both name the missing capability the same way (``PERMISSION_HINT``).
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import BackendError, NotFoundError, PermissionDeniedError

__all__ = ["CLONE_NEWNET", "PERMISSION_HINT", "call_in", "open_netns", "setns_error"]

CLONE_NEWNET = 0x40000000
PERMISSION_HINT = (
    "permission denied: changing or reading nftables needs CAP_NET_ADMIN in the target "
    "network namespace (run as root, or in a user namespace that owns the network namespace)"
)
T = TypeVar("T")
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def call_in(fd: int | None, make: Callable[[], T]) -> T:
    """``make()`` run inside the network namespace ``fd`` (an open namespace file; None: here,
    in the calling thread). Raises ``OSError`` (with its errno) when the namespace cannot be
    entered, and whatever ``make`` raises."""
    if fd is None:
        return make()
    box: dict[str, Any] = {}

    def work() -> None:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(fd)
            try:
                box["value"] = make()
            finally:
                _setns(home)  # (the thread ends anyway; back home for tidiness)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            os.close(home)

    worker = threading.Thread(target=work, name="nftkit-setns")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def netns_path(netns: str | os.PathLike[str]) -> str:
    """``/run/netns/NAME`` for a bare name (as made by ``ip netns add NAME``), else the path."""
    text = os.fspath(netns)
    return text if "/" in text else f"/run/netns/{text}"


def open_netns(netns: str | os.PathLike[str] | int) -> int:
    """A file descriptor of the namespace that the caller owns (a dup of a given one)."""
    if isinstance(netns, int):
        return os.dup(netns)
    path = netns_path(netns)
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFoundError(f"network namespace {path} does not exist") from None
    except PermissionError:
        raise PermissionDeniedError(f"cannot open {path}: {PERMISSION_HINT}") from None


def setns_error(netns: object, err: int) -> BackendError:
    """The nftkit error for a failed ``setns(2)`` into ``netns``."""
    if err == 1:  # EPERM
        return PermissionDeniedError(f"setns({netns!r}): {PERMISSION_HINT}")
    return BackendError(f"setns({netns!r}) failed: {os.strerror(err)}")
