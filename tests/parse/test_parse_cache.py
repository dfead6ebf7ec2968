"""The analysed grammar is cached on disk (lark's cache) and gives the same parser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

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


# --- a file the user did not write is never unpickled (issue 12 item 7) ----------------------

#: A pickle that, when loaded, creates the file named by its argument (lark unpickles the
#: cache's second line before it checks anything).
_PLANT = """
import pickle, sys
class Plant:
    def __reduce__(self):
        return (open, (sys.argv[2], "w"))
with open(sys.argv[1], "wb") as f:
    f.write(b"0" * 64 + b"\\n")
    pickle.dump(Plant(), f)
"""


def _plant(cache: Path, marker: Path) -> Path:
    cache.mkdir(mode=0o700)
    planted = cache / "grammar.lark-cache"
    subprocess.run([sys.executable, "-c", _PLANT, str(planted), str(marker)], check=True)
    planted.chmod(0o600)
    return planted


def test_a_planted_file_of_another_user_is_not_loaded(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file to another user")
    marker = tmp_path / "pwned"
    planted = _plant(tmp_path / "cache", marker)
    os.chown(planted, 65534, 65534)
    assert _run(str(tmp_path / "cache"))[:-1] == _run("")[:-1]
    assert not marker.exists()
    assert planted.stat().st_uid == 65534  # left alone, and not used


def test_a_group_writable_file_is_not_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    planted = _plant(tmp_path / "cache", marker)
    planted.chmod(0o664)
    assert _run(str(tmp_path / "cache"))[:-1] == _run("")[:-1]
    assert not marker.exists()


def test_the_planted_file_would_run(tmp_path: Path) -> None:
    """The control: the same file, the user's own and private, is unpickled (so the two
    tests above would notice a check that let it through)."""
    marker = tmp_path / "pwned"
    _plant(tmp_path / "cache", marker)
    _run(str(tmp_path / "cache"))
    assert marker.exists()


def test_the_written_cache_is_private(tmp_path: Path) -> None:
    old = os.umask(0o002)
    try:
        assert _run(str(tmp_path / "cache"))[-1] == "cached: True"
    finally:
        os.umask(old)
    assert (tmp_path / "cache" / "grammar.lark-cache").stat().st_mode & 0o077 == 0
    assert _run(str(tmp_path / "cache"))[-1] == "cached: True"
