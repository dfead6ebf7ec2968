"""docs/transactions.md runs as written: its python blocks, in order, in one namespace.

The page's throwaway network namespace ``nftkit-doc`` is renamed to a random one; output
shown as ``# ...`` comment lines right after a ``print(...)`` line must appear in what the
examples print (whitespace-insensitive).
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from tests._backend_netns import backend_skip_reason

pytestmark = pytest.mark.kernel

DOC = Path(__file__).resolve().parents[2] / "docs" / "transactions.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def expected_outputs(code: str) -> list[str]:
    """Comment groups that follow a print line: what the page says gets printed."""
    out: list[str] = []
    lines = code.splitlines()
    for i, line in enumerate(lines):
        if "print(" not in line:
            continue
        group = []
        for nxt in lines[i + 1:]:
            if not nxt.lstrip().startswith("# "):
                break
            group.append(nxt.lstrip()[2:])
        if group:
            out.append(" ".join(group))
    return out


def squash(text: str) -> str:
    return " ".join(text.split())


def test_doc_has_examples() -> None:
    assert len(blocks()) >= 6


def test_doc_examples_run() -> None:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    name = f"nftkit-test-{uuid.uuid4().hex[:8]}"
    scope: dict[str, object] = {"__name__": "docs_transactions"}
    printed = io.StringIO()
    try:
        for code in blocks():
            code = code.replace("nftkit-doc", name)
            with contextlib.redirect_stdout(printed):
                exec(compile(code, str(DOC), "exec"), scope)
            for want in expected_outputs(code):
                assert squash(want) in squash(printed.getvalue()), want
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
