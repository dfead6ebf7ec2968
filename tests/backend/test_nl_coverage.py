"""The netlink rule encoder's coverage of the upstream rule corpus does not regress.

Every ``ok`` rule of ``nftables-tests/py/{ip,ip6,inet,any}`` is encoded for nft 1.0.6
(``tests.nl_rules_report.classify``, no kernel): the number it carries may grow, never
shrink, and every rule it refuses is refused for a reason the coverage table in
docs/netlink.md names. Whether the carried rules are byte-identical with nft is checked by
``python -m tests.nl_rules_report`` (and, per shape, by test_nl_rules.py / test_nl_anon.py).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests._oracle import CORPUS
from tests.nl_rules_report import CATEGORIES, category, classify

#: Measured when the numbers were last raised: (rules encoded, refused, not parsed).
ENCODED, REFUSED, UNPARSED = 1247, 2195, 23
DOC = Path(__file__).resolve().parents[2] / "docs" / "netlink.md"


@pytest.fixture(scope="module")
def counts() -> tuple[Counter[str], Counter[str]]:
    if not (CORPUS / "py").is_dir():
        pytest.skip(f"the upstream corpus is not at {CORPUS}")
    cases = list(classify())
    return (Counter(c.status for c in cases),
            Counter(category(c.reason) for c in cases if c.status == "refused"))


def test_the_encoder_carries_no_fewer_rules(counts: tuple[Counter[str], Counter[str]]
                                            ) -> None:
    status, _ = counts
    assert status["encoded"] >= ENCODED, status
    assert status["refused"] <= REFUSED, status
    assert status["unparsed"] <= UNPARSED, status


def test_every_refusal_has_a_named_reason(counts: tuple[Counter[str], Counter[str]]) -> None:
    _, by_category = counts
    assert "other" not in by_category, by_category
    names = {name for name, _patterns in CATEGORIES}
    assert set(by_category) <= names


def test_the_docs_table_names_every_category() -> None:
    text = DOC.read_text()
    for name, _patterns in CATEGORIES:
        assert name in text, name
