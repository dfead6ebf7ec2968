"""The analysed grammar is cached on disk (lark's cache) and gives the same parser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# Prints repr() of parse() of every project fixture listing, and whether the cache file exists.
SCRIPT = """
import os, sys
from pathlib import Path
import nftkit
for path in sorted(Path(sys.argv[1]).glob("*.nft")):
    print(path.name, repr(nftkit.parse(path.read_text())))
where = os.environ["NFTKIT_CACHE_DIR"]
print("cached:", bool(where) and (Path(where) / "grammar.lark-cache").exists())
"""


def _run(cache_dir: str) -> list[str]:
    # a fixed hash seed: repr() of a frozenset of flags follows the string hashes
    env = {**os.environ, "NFTKIT_CACHE_DIR": cache_dir, "PYTHONHASHSEED": "0"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(FIXTURES)], env=env, check=True,
                         capture_output=True, text=True, timeout=120)
    return out.stdout.splitlines()


def test_cached_grammar_parses_the_same(tmp_path: Path) -> None:
    if not list(FIXTURES.glob("*.nft")):
        pytest.skip("no .nft fixtures")
    cache = tmp_path / "cache"
    uncached = _run("")
    assert uncached[-1] == "cached: False"
    first = _run(str(cache))  # builds and writes the cache
    assert first[-1] == "cached: True"
    second = _run(str(cache))  # loads it
    assert first[:-1] == second[:-1] == uncached[:-1]


def test_a_directory_others_can_write_is_not_used(tmp_path: Path) -> None:
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)
    assert _run(str(cache))[-1] == "cached: False"
