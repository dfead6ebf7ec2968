"""Load the cffi module for libnftables and libc, generating it on first use when absent.

Why generate at first import rather than through setuptools ``cffi_modules``: ``cffi_modules``
needs a ``setup.py`` and, with editable installs and source checkouts (how nftkit's tests and
demo run), puts the generated file in a build directory the package never sees. An ABI-mode
module is plain Python produced from the declarations in ``_cdef.py`` in milliseconds, so
nftkit writes ``_nftables_ffi.py`` next to this file the first time it is needed (atomically:
a temporary file, then a rename), and falls back to parsing the declarations in memory when
the package directory is read-only. ``python build_ffi.py`` does the same ahead of time.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from ...errors import NftkitError
from ._cdef import CDEF, HEADER, MODULE, STAMP

__all__ = ["LIBRARY", "BackendUnavailableError", "load"]

#: The shared library nftkit dlopen()s (Debian package ``libnftables1``).
LIBRARY = "libnftables.so.1"

_MISSING = (
    f"{LIBRARY} was not found: install Debian's libnftables1 package "
    "(apt-get install libnftables1) or your distribution's libnftables"
)


class BackendUnavailableError(NftkitError, ImportError):
    """The libnftables backend cannot be loaded (``libnftables.so.1`` or cffi is missing)."""


def _generate(target: Path) -> None:
    import cffi  # type: ignore[import-untyped]

    builder = cffi.FFI()
    builder.cdef(CDEF)
    builder.set_source(MODULE, None)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".nftables_ffi.", suffix=".tmp")
    os.close(fd)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # cffi prints "generating ..."
            builder.emit_python_code(tmp)
        with open(tmp, "r+") as f:
            code = f.read()
            f.seek(0)
            f.write(HEADER + code)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _current(path: Path) -> bool:
    """Whether the generated module exists and was made from today's declarations."""
    try:
        with path.open() as f:
            return STAMP in f.read(512)
    except OSError:
        return False


def _ffi() -> Any:
    target = Path(__file__).with_name("_nftables_ffi.py")
    if _current(target):
        try:
            return importlib.import_module(MODULE).ffi
        except ImportError:
            pass
    try:
        import cffi
    except ImportError:
        raise BackendUnavailableError("the libnftables backend needs cffi (pip install cffi)")\
            from None
    try:
        _generate(target)
        importlib.invalidate_caches()
        return importlib.import_module(MODULE).ffi
    except (OSError, ImportError):
        # A read-only installation: parse the declarations in memory instead (slower import).
        ffi = cffi.FFI()
        ffi.cdef(CDEF)
        return ffi


def load() -> tuple[Any, Any, Any]:
    """``(ffi, libnftables, libc)``; BackendUnavailableError naming the package if absent."""
    ffi = _ffi()
    try:
        lib = ffi.dlopen(LIBRARY)
    except OSError:
        raise BackendUnavailableError(_MISSING) from None
    libc = ffi.dlopen(None)  # the C library: setns(2)
    return ffi, lib, libc
