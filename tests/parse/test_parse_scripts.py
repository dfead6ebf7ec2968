"""Scripts nft reads (``tests/parse/cases/scripts/*.nft``), read into the model nft loads.

Each ``NAME.nft`` is a script ``nft -f`` accepts; ``nftkit.parse`` of it must give the model
that ``nftkit.parse`` of nft's own listing of the loaded script gives. Where this kernel cannot
load a script (flowtables), ``NAME.expected`` holds nft's listing of it and the script is only
checked with ``nft -c`` (in a throwaway network namespace).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

import nftkit
from tests._oracle import NFT, have_netns, load_and_list

__all__: list[str] = []

SCRIPT_DIR = Path(__file__).resolve().parent / "cases" / "scripts"
SCRIPTS = sorted(SCRIPT_DIR.glob("*.nft"))
kernel = pytest.mark.skipif(not have_netns(), reason="needs root, nft and unshare -n")


def _expected(path: Path) -> Path | None:
    exp = path.with_suffix(".expected")
    return exp if exp.exists() else None


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_script_reads_as_expected_listing(path: Path) -> None:
    exp = _expected(path)
    if exp is None:
        pytest.skip("checked against the kernel's listing")
    assert nftkit.parse(path.read_text()) == nftkit.parse(exp.read_text())


@kernel
@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_script_reads_as_nft_loads_it(path: Path) -> None:
    text = path.read_text()
    if _expected(path) is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".nft") as f:
            f.write(text)
            f.flush()
            r = subprocess.run(["unshare", "-n", NFT, "-c", "-f", f.name],
                               capture_output=True, text=True)
        # (nft -c still asks the kernel: without flowtables it refuses at that step, not before)
        refused = "Could not process rule: No such file or directory" in r.stderr
        assert r.returncode == 0 or (refused and "syntax error" not in r.stderr), r.stderr
        return
    # (interfaces named through a define: every case uses ifb0 and ifb1)
    listing = load_and_list(text, devices=["ifb0", "ifb1"])
    assert listing.ok, listing.error
    assert nftkit.parse(text) == nftkit.parse(listing.text)


@kernel
def test_include_in_table_and_chain_blocks(tmp_path: Path) -> None:
    (tmp_path / "chains.nft").write_text(
        "chain c {\n\ttcp dport 22 accept\n}\nset s { type ipv4_addr; elements = { 10.0.0.1 }; }\n")
    (tmp_path / "rules.nft").write_text("tcp dport 80 accept\nip saddr @s drop\n")
    text = (f'table ip f {{\n\tinclude "{tmp_path}/chains.nft"\n\tchain d {{\n'
            "\t\ttype filter hook input priority 0; policy accept;\n"
            f'\t\tinclude "{tmp_path}/rules.nft"\n\t\tudp dport 53 accept\n\t}}\n}}\n')
    listing = load_and_list(text)
    assert listing.ok, listing.error
    assert nftkit.parse(text) == nftkit.parse(listing.text)
