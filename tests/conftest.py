"""Shared fixtures: the nft oracle in throwaway network namespaces, and corpus discovery."""

from __future__ import annotations

import pytest

from tests._oracle import CORPUS, have_netns
from tests._releases import mark_release_xfails

_counts: dict[str, list[int]] = {}


def record(check: str, passed: bool) -> None:
    """Count a conformance result; the totals are printed at the end of the run."""
    ok, total = _counts.setdefault(check, [0, 0])
    _counts[check] = [ok + passed, total + 1]


@pytest.fixture(scope="session")
def oracle() -> None:
    """Skip unless we are root with nft and can make network namespaces."""
    if not have_netns():
        pytest.skip("needs root, nft and unshare -n (throwaway network namespaces)")


@pytest.fixture(scope="session")
def corpus() -> None:
    if not CORPUS.exists():
        pytest.skip(f"upstream corpus not found at {CORPUS} (../shared is absent)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _counts:
        terminalreporter.section("nftkit conformance counts")
        for check, (ok, total) in sorted(_counts.items()):
            terminalreporter.write_line(f"{check}: {ok}/{total} passed")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_release_xfails(items)  # tests/_releases.py: RELEASE_XFAILS
