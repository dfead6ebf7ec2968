"""examples/sync_loop.py in a throwaway network namespace: 150 random steps, each synced and
checked against the kernel (the example asserts it), plus the command line."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nftkit
from tests._backend_netns import backend_skip_reason, netns

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]


def _load_example() -> Any:
    spec = importlib.util.spec_from_file_location("sync_loop", ROOT / "examples" / "sync_loop.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def ns() -> Iterator[str]:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    with netns() as name:
        yield name


def test_agent_loop_keeps_the_kernel_equal_to_the_model(ns: str) -> None:
    example = _load_example()
    with nftkit.Nftables(netns=ns) as nft:
        counts = example.run(nft, 150, seed=3)
        assert counts["path netlink"] > 0
        assert counts["retries"] == 0  # nobody else writes here
        # a foreign write is seen and undone by the next sync
        nft.run_text("add rule ip agent input tcp dport 1 accept")
        agent = example.Agent(3)
        for _ in range(150):
            agent.step()
        result = nft.sync(agent.desired())
        assert result.read and [op.verb.value for op in result.ops] == ["delete"]
        assert not nft.drift(agent.desired()).ops


def test_command_line(ns: str) -> None:
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "sync_loop.py"), "--steps",
                        "20", "--netns", ns], capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert "table ip agent" in r.stdout and "operations:" in r.stdout
