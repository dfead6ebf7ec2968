"""``python -m nftkit diff OLD NEW`` and ``python -m nftkit apply FILE [--dry-run]``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import nftkit
from nftkit.cli import main
from tests._backend_netns import backend_skip_reason, netns

OLD = """table inet t {
  set s { type ipv4_addr; elements = { 10.0.0.1, 10.0.0.2 } }
  chain c { tcp dport 22 accept
    ip saddr @s drop }
}
"""
NEW = OLD.replace("10.0.0.2", "10.0.0.3").replace("dport 22", "dport 2222")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old.nft", tmp_path / "new.nft"
    old.write_text(OLD)
    new.write_text(NEW)
    return old, new


def test_diff_prints_a_script_and_a_summary(files: tuple[Path, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    old, new = files
    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert out == ("delete element inet t s { 10.0.0.2 }\n"
                   "replace rule inet t c handle 3 tcp dport 2222 accept\n"
                   "add element inet t s { 10.0.0.3 }\n"
                   "# 3 operation(s): 1 add element, 1 delete element, 1 replace rule\n")
    # the script applied to OLD (loaded alone) gives NEW
    fake = nftkit.FakeNftables(nftkit.parse(OLD))
    fake.run_text(out)
    assert nftkit.canonical(fake.list_ruleset()) == nftkit.canonical(nftkit.parse(NEW))


def test_diff_of_equal_files_exits_0(files: tuple[Path, Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    old, _new = files
    assert main(["diff", str(old), str(old)]) == 0
    assert capsys.readouterr().out == "# no difference\n"


def test_diff_owns_tables(files: tuple[Path, Path], tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    old, _new = files
    other = tmp_path / "other.nft"
    other.write_text("table ip x { chain c { accept } }\n")
    assert main(["diff", str(old), str(other)]) == 1
    out = capsys.readouterr().out
    assert "delete table" not in out and "add table ip x" in out
    assert main(["diff", str(old), str(other), "--all"]) == 1
    assert "delete table inet t" in capsys.readouterr().out
    assert main(["diff", str(old), str(other), "-t", "inet t"]) == 1
    assert capsys.readouterr().out.startswith("delete table inet t\n")


def test_diff_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.nft"
    bad.write_text("table inet t { chain c { nonsense } }\n")
    assert main(["diff", str(bad), str(bad)]) == 2
    assert main(["diff", str(tmp_path / "missing"), str(bad)]) == 2


@pytest.fixture
def ns() -> Iterator[str]:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    with netns() as name:
        yield name


@pytest.mark.kernel
def test_apply_and_dry_run_in_a_namespace(files: tuple[Path, Path], ns: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    old, new = files
    assert main(["apply", str(old), "--netns", ns]) == 0
    assert "# sent by netlink" in capsys.readouterr().out
    assert main(["apply", str(new), "--netns", ns, "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "replace rule inet t c handle 3 tcp dport 2222 accept" in out
    assert main(["diff", f"netns:{ns}", str(new)]) == 1
    assert "replace rule inet t c handle 3" in capsys.readouterr().out
    assert main(["apply", str(new), "--netns", ns]) == 0
    capsys.readouterr()
    assert main(["apply", str(new), "--netns", ns, "--dry-run"]) == 0
    assert main(["diff", f"netns:{ns}", str(new)]) == 0
