"""Smoke test of the release matrix: every cached root's nft runs and loads a ruleset.

The roots come from ``scripts/releases.sh build``; a release without a cached root skips.
"""

from __future__ import annotations

import pytest

from tests._releases import RELEASES_DIR, SUITES, release, skip_reason

# The nft series each Debian suite ships (sid moves on: any release).
SERIES = {"bookworm": (1, 0), "trixie": (1, 1)}

RULESET = """\
table inet nftkit_smoke {
\tset allowed {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.0.0.0/8 }
\t}

\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tip saddr @allowed tcp dport 22 counter accept
\t}
}
"""


@pytest.mark.kernel
@pytest.mark.parametrize("suite", SUITES)
def test_release_nft_loads_and_lists(suite: str) -> None:
    if (why := skip_reason()) is not None:
        pytest.skip(why)
    rel = release(suite)
    if rel is None:
        pytest.skip(f"no {suite} root cached in {RELEASES_DIR}: scripts/releases.sh build {suite}")
    version = rel.version()
    if suite in SERIES:
        assert version[:2] == SERIES[suite]
    listing = rel.load_and_list(RULESET)
    assert listing.ok, listing.error
    assert "table inet nftkit_smoke {" in listing.text
    assert "ip saddr @allowed tcp dport 22 counter packets 0 bytes 0 accept" in listing.text
    assert listing.json is not None
    names = [o["set"]["name"] for o in listing.json["nftables"] if "set" in o]
    assert names == ["allowed"]
    assert not rel.nft("list", "tables").stdout.strip()  # each call: a namespace of its own


def test_docs_table_of_differences_is_current() -> None:
    """docs/releases.md holds the table ``scripts/releases.sh table`` prints from the
    release profiles (regenerate it there when a profile changes)."""
    from pathlib import Path

    from nftkit.nft.releases import markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "releases.md").read_text()
    begin = doc.index("<!-- BEGIN release table")
    begin = doc.index("\n", begin) + 1
    end = doc.index("<!-- END release table -->")
    assert doc[begin:end] == markdown(), "docs/releases.md is stale: scripts/releases.sh table"


@pytest.mark.kernel
@pytest.mark.parametrize("suite", SUITES)
def test_demo_and_examples_run_under_release(suite: str) -> None:
    """examples/demo.py (what scripts/demo.sh runs) and every other example succeed with
    each cached release's nft, libnftables and Python (``scripts/releases.sh shell``)."""
    import subprocess
    from pathlib import Path

    if (why := skip_reason()) is not None:
        pytest.skip(why)
    root = Path(__file__).resolve().parents[2]
    script_ = str(root / "scripts" / "releases.sh")
    listed = subprocess.run([script_, "list"], capture_output=True, text=True).stdout.split()
    if release(suite) is None or suite not in listed:
        pytest.skip(f"no current {suite} root in {RELEASES_DIR}: scripts/releases.sh build {suite}")
    examples = sorted(p.name for p in (root / "examples").glob("*.py"))
    assert "demo.py" in examples
    script = ('for f in "$@"; do PYTHONPATH=/src/nftkit python3 "examples/$f" >/dev/null '
              '|| { echo "examples/$f failed"; exit 1; }; done')
    r = subprocess.run([str(root / "scripts" / "releases.sh"), "shell", suite, "--",
                        "sh", "-c", script, "sh", *examples],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
