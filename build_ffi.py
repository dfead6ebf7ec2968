"""Generate nftkit's cffi out-of-line ABI-mode module for libnftables and libc's setns.

ABI mode needs neither a C compiler nor libnftables' headers: the generated module
(``nftkit/backend/libnftables/_nftables_ffi.py``, plain Python) holds the parsed declarations,
and the library is ``dlopen``-ed at run time. Run ``python build_ffi.py`` to (re)generate it;
nftkit also generates it on first import when it is absent (see
nftkit/backend/libnftables/_ffi.py), so a plain ``pip install`` or a source checkout works
without this step.

The declarations live in ``nftkit/backend/libnftables/_cdef.py`` (loaded here by path, so
this script needs only cffi, not nftkit's other dependencies).
"""

from __future__ import annotations

import runpy
from pathlib import Path

import cffi

__all__ = ["ffibuilder", "main"]

_HERE = Path(__file__).resolve().parent
_CDEF = runpy.run_path(str(_HERE / "nftkit" / "backend" / "libnftables" / "_cdef.py"))

ffibuilder = cffi.FFI()
ffibuilder.cdef(_CDEF["CDEF"])
ffibuilder.set_source(_CDEF["MODULE"], None)  # None: ABI mode, no C source to compile


def main() -> None:
    """Write the module next to the package sources."""
    target = _HERE / "nftkit" / "backend" / "libnftables" / "_nftables_ffi.py"
    ffibuilder.emit_python_code(str(target))
    target.write_text(_CDEF["HEADER"] + target.read_text())
    print(f"wrote {target.relative_to(_HERE)}")


if __name__ == "__main__":
    main()
