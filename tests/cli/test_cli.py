"""``python -m nftkit``: fmt, json, text, check, lint (and --help on each)."""

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
                          cwd=Path(__file__).resolve().parents[2])


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


def test_check_ok_and_located_parse_error(tmp_path: Path) -> None:
    r = run("check", "-", stdin=RULESET)
    assert (r.returncode, r.stdout) == (0, "")
    bad = tmp_path / "bad.nft"
    bad.write_text(RULESET.replace("accept", "frobnicate"))
    r = run("check", str(bad))
    assert r.returncode == 2  # nothing was checked
    assert r.stdout.startswith(f"{bad}:4:") and "error: unexpected" in r.stdout
    assert "[E-parse]" in r.stdout and "^" in r.stdout


def test_check_prints_every_finding_with_its_position() -> None:
    r = run("check", "-", stdin="table inet t {\n"
                                "\tchain c {\n"
                                "\t\tjump nowhere\n"
                                "\t\tip saddr @nothing accept\n"
                                "\t}\n"
                                "}\n")
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines() == [
        "<stdin>:3:3: error: jump to chain 'nowhere', which does not exist "
        "[E-undefined-chain]",
        "<stdin>:4:3: error: @nothing does not exist [E-undefined-set]",
    ]


def test_lint_findings_and_exit_status(tmp_path: Path) -> None:
    path = tmp_path / "fw.nft"
    path.write_text(RULESET.replace("accept\n", "accept\n\t\tdrop\n\t\taccept\n"))
    r = run("lint", str(path))
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines()[0] == (
        f"{path}:6:3: warning: rule 3 is unreachable: rule 2 ends the chain for every packet "
        "[W-unreachable]")
    assert run("lint", "-", stdin=RULESET).returncode == 0
    assert run("lint", "--max-jump-edges", "x", "-").returncode == 2  # usage


def test_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    r = run("fmt", str(tmp_path / "missing.nft"))
    assert r.returncode == 2 and "missing.nft" in r.stderr


@pytest.mark.parametrize("command", [[], ["fmt"], ["json"], ["text"], ["check"], ["lint"]])
def test_help(command: list[str]) -> None:
    r = run(*command, "--help")
    assert r.returncode == 0 and "usage:" in r.stdout
    if command in (["check"], ["lint"]):
        assert "exit status: 0 nothing to report, 1 findings" in " ".join(r.stdout.split())
