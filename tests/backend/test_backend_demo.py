"""examples/demo.py (what scripts/demo.sh runs) succeeds and cleans up its namespace."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests._backend_netns import backend_skip_reason

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_and_cleans_up() -> None:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py")], cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "demo succeeded" in r.stdout
    assert "listing byte-identical afterwards: True" in r.stdout
    assert "NotFoundError at operation 1" in r.stdout
    ns = re.search(r"network namespace (nftkit-demo-\w+) removed", r.stdout)
    assert ns, r.stdout
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert ns.group(1) not in listed
