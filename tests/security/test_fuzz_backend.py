"""The CI-sized run of the forked-child backend fuzz (``scripts/fuzz_backend.py`` runs the
full one): model values from ``nftkit.testing`` with hostile mutations, through every path,
in forked children in throwaway network namespaces. No child may die by a signal or hang.

``NFTKIT_FUZZ_VALUES`` sets the number of values (default 60, well under a minute here).
"""

from __future__ import annotations

import os

import pytest

from tests._oracle import have_netns
from tests.security._fuzz import fuzz, generate

VALUES = int(os.environ.get("NFTKIT_FUZZ_VALUES", "60"))

pytestmark = pytest.mark.kernel


def test_model_values_never_kill_the_process(capsys: pytest.CaptureFixture[str]) -> None:
    if not have_netns():
        pytest.skip("needs root and network namespaces")
    values, refused = generate(VALUES, seed=12, base=max(VALUES // 4, 1))
    report = fuzz(values, per_child=VALUES // 2 or 1, timeout=120)
    with capsys.disabled():
        print(f"\nmutations refused by the model: {dict(refused)}\n{report.summary()}")
    assert not report.signals, report.signals
    assert not report.hangs, report.hangs
    assert report.outcomes["fake"].total() == VALUES
