"""Developer report: ``parse_rule`` over upstream's rule-level ``py/**/*.t`` files.

    python -m tests.parse_rules_report [-v] [PATTERN ...]

For every ``RULE;ok`` rule that the installed nft loads (tests/rules_report.py runs it and
caches the listings): ``parse_rule(source)`` succeeds (``source``), ``parse_rule`` of nft's
listed text equals ``from_json`` of nft's JSON for it (``listed``), and ``to_text`` of that
rule is the listed text (``text``).
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import nftkit
from nftkit.parse.json import JsonDecoder, decode_rule
from tests.rules_report import RuleCase, rule_cases, tfiles

__all__ = ["check_case", "main"]


def check_case(c: RuleCase) -> dict[str, str | None]:
    """Problems per check (None when it passes)."""
    out: dict[str, str | None] = {}
    try:
        nftkit.parse_rule(c.source, family=c.family)
        out["source"] = None
    except nftkit.NftkitError as exc:
        out["source"] = f"{c.source!r}: {exc}"
    if c.text is None or c.json is None:
        return out
    try:
        got = nftkit.parse_rule(c.text, family=c.family)
    except nftkit.NftkitError as exc:
        out["listed"] = out["text"] = f"{c.text!r}: {exc}"
        return out
    try:
        body: dict[str, Any] = {k: v for k, v in c.json.items() if k != "handle"}
        want = decode_rule(JsonDecoder(), body)
        out["listed"] = None if got == want else f"{c.text!r}:\n  parse {got!r}\n  json  {want!r}"
    except nftkit.NftkitError as exc:
        out["listed"] = f"from_json: {exc}"
    try:
        text = nftkit.to_text(got, family=c.family)
        out["text"] = None if text == c.text else f"{c.text!r} -> {text!r}"
    except nftkit.NftkitError as exc:
        out["text"] = f"to_text: {exc}"
    return out


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    pats = [a for a in argv if not a.startswith("-")]
    counts: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for path in tfiles():
        if pats and not any(p in str(path) for p in pats):
            continue
        for c in rule_cases(path):
            for check, problem in check_case(c).items():
                totals[check] += 1
                counts[check] += problem is None
                if problem and verbose:
                    print(f"FAIL {check} {path.name}: {problem[:600]}")
    print(", ".join(f"{k} {counts[k]}/{totals[k]}" for k in ("source", "listed", "text")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
