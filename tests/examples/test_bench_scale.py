"""bench/bench_scale.py runs end to end (tiny sizes: this checks the machinery, not speed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("oracle")]


def test_bench_runs_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import bench_scale

    out = tmp_path / "scale.json"
    rc = bench_scale.main(["--sizes", "20", "--classic-max", "20", "--ordering-sizes", "20",
                           "--reps", "3", "--budget", "5", "--out", str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())["rows"]
    tools = {(r["section"], r["layout"], r["tool"].strip()) for r in rows}
    for layout in ("grouped", "classic"):
        assert ("full sync", layout, "nftkit (build+compile+apply)") in tools
        assert ("full sync", layout, "nft -f (same text)") in tools
        assert ("update", layout, "nftkit Nftables.run()") in tools
        assert ("update", layout, "nft binary per transaction") in tools
    assert ("ordering", "shared", "nft -f, elements after rules") in tools
    assert ("ordering", "classic", "Transaction (JSON), order_ops") in tools
    assert all(r["median_s"] > 0 for r in rows)
    printed = capsys.readouterr().out
    assert "**Targets** (grouped layout)" in printed
    assert bench_scale.main(["--report", str(out)]) == 0
