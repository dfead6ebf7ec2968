"""Without libnftables.so.1: ``import nftkit`` works, the backend says what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys
import nftkit.backend.libnftables._ffi as ffi
ffi.LIBRARY = "libnftables-nftkit-test-missing.so.1"
import nftkit
assert "nftkit.backend.router" not in sys.modules
assert "nftkit.backend.libnftables._context" not in sys.modules
txn = nftkit.Transaction().add(nftkit.Table(family="inet", name="t"))  # no backend needed
try:
    nftkit.Nftables
except ImportError as exc:
    assert isinstance(exc, nftkit.NftkitError), type(exc)
    print(exc)
    sys.exit(0)
sys.exit(1)
"""


def test_missing_library_names_the_package() -> None:
    r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "libnftables1" in r.stdout and "libnftables.so.1" in r.stdout


def test_import_nftkit_does_not_load_the_backend() -> None:
    code = ("import sys, nftkit; print(any(m in sys.modules for m in ("
            "'nftkit.backend.router', 'nftkit.backend.libnftables._context')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert r.stdout.strip() == "False", r.stdout + r.stderr
