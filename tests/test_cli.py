"""``python -m nftkit``: fmt, json, text, check (and --help on each)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import nftkit

RULESET = """\
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		tcp dport { 22, 443 } accept
	}
}
"""


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nftkit", *args], input=stdin,
                          capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)


def test_fmt_canonicalises(tmp_path: Path) -> None:
    messy = tmp_path / "fw.nft"
    messy.write_text("define ports = { 22, 443 }\ntable inet filter {\n chain input {\n"
                     "  type filter hook input priority 0; policy drop\n"
                     "  tcp dport $ports accept # ssh and https\n }\n}\n")
    r = run("fmt", str(messy))
    assert r.returncode == 0, r.stderr
    assert r.stdout == nftkit.to_text(nftkit.parse(RULESET))


def test_json_and_text_round_trip(tmp_path: Path) -> None:
    r = run("json", "-", stdin=RULESET)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert nftkit.from_json(doc) == nftkit.parse(RULESET)
    (tmp_path / "r.json").write_text(r.stdout)
    back = run("text", str(tmp_path / "r.json"))
    assert back.returncode == 0, back.stderr
    assert nftkit.parse(back.stdout) == nftkit.parse(RULESET)


def test_check_ok_and_located_error(tmp_path: Path) -> None:
    assert run("check", "-", stdin=RULESET).returncode == 0
    bad = tmp_path / "bad.nft"
    bad.write_text(RULESET.replace("accept", "frobnicate"))
    r = run("check", str(bad))
    assert r.returncode == 1
    assert f"{bad}:4:" in r.stderr and "^" in r.stderr
    r = run("check", "-", stdin="table inet t { chain c { jump nowhere } }\n")
    assert r.returncode == 1 and "nowhere" in r.stderr


def test_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    r = run("fmt", str(tmp_path / "missing.nft"))
    assert r.returncode == 2 and "missing.nft" in r.stderr


@pytest.mark.parametrize("command", [[], ["fmt"], ["json"], ["text"], ["check"]])
def test_help(command: list[str]) -> None:
    r = run(*command, "--help")
    assert r.returncode == 0 and "usage:" in r.stdout
