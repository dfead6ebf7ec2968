"""docs/model.md runs as written, and examples/build_ruleset.py prints what nft would.

The Python blocks of docs/model.md are executed in order in one namespace. The last one talks
to the kernel (in a throwaway network namespace) and is skipped without root.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nftkit
from tests._oracle import have_netns, load_and_list

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "model.md"
EXAMPLE = ROOT / "examples" / "build_ruleset.py"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks() -> list[str]:
    return _BLOCK.findall(DOC.read_text())


def test_doc_has_examples() -> None:
    assert len(blocks()) >= 8


def test_doc_blocks_run_in_order() -> None:
    namespace: dict[str, object] = {"__name__": "docs_model"}
    *offline, kernel = blocks()
    for i, code in enumerate(offline):
        try:
            exec(compile(code, f"{DOC.name} block {i + 1}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{DOC.name} block {i + 1} failed:\n{code}") from exc
    if not have_netns():
        pytest.skip("the last block needs root, nft and unshare -n")
    exec(compile(kernel, f"{DOC.name} last block", "exec"), namespace)


def test_example_prints_text_and_json() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                         check=True).stdout
    text, _, doc = out.partition("\n{")
    assert text.startswith("table inet filter {")
    assert json.loads("{" + doc)["nftables"][1] == {"table": {"family": "inet", "name": "filter"}}


@pytest.mark.kernel
def test_example_text_is_what_nft_lists(oracle: None) -> None:
    text = subprocess.run([sys.executable, str(EXAMPLE), "--text"], capture_output=True,
                          text=True, check=True).stdout
    lst = load_and_list(text)
    assert lst.ok, lst.error
    assert lst.text == text
    assert lst.json is not None
    assert nftkit.to_text(nftkit.from_json(lst.json)) == text
