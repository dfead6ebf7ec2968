"""The import contracts of ``.importlinter``: layers (cli > backend > lint > semantics >
transaction > parse|render|check > model > nft > _node > errors|diagnostics) and no import
circle at any depth. docs/architecture.md says why the layers are in this order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command;"
         " sys.argv = ['lint-imports', '.importlinter', '--no-cache'];"
         " lint_imports_command()"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "BROKEN" not in run.stdout and run.stdout.count("KEPT") == 2, run.stdout
