"""Developer report: the text parser over the corpus, with nft's listings as the oracle.

    python -m tests.parse_report [--oracle-cache] [-v] [PATTERN ...]

For each loadable dump, with T = ``nft list ruleset`` and J = ``nft -j list ruleset``:
``parse(T) == from_json(J)`` (model), ``to_text(parse(T)) == T`` and ``to_json(parse(T)) == J``.
Without ``--oracle-cache`` the installed nft is run in throwaway namespaces.
"""

from __future__ import annotations

import difflib
import re
import sys
import traceback
from collections import Counter
from typing import Any

import nftkit
from tests._oracle import CORPUS, corpus_dumps, normalize_json
from tests.corpus_report import listing

__all__ = ["check_listing", "main"]


def _lines(model: object) -> list[str]:
    return re.sub(r", handle=\d+", "", repr(model)).replace("), ", "),\n").splitlines(True)


def check_listing(text: str, doc: dict[str, Any]) -> dict[str, str | None]:
    """Problems per check (None when it passes): parse, model, text, json."""
    out: dict[str, str | None] = {}
    try:
        model = nftkit.parse(text)
    except Exception as exc:
        msg = f"parse: {type(exc).__name__}: {exc}"
        return {"parse": msg, "model": msg, "text": msg, "json": msg}
    out["parse"] = None
    try:
        want = nftkit.from_json(doc)
        out["model"] = None if model == want else "model differs:\n" + "".join(
            difflib.unified_diff(_lines(want), _lines(model),
                                 "from_json", "parse", n=1))
    except Exception as exc:
        out["model"] = f"from_json: {type(exc).__name__}: {exc}"
    try:
        got = nftkit.to_text(model)
        out["text"] = None if got == text else "".join(difflib.unified_diff(
            text.splitlines(True), got.splitlines(True), "nft", "nftkit", n=1))
    except Exception as exc:
        out["text"] = f"to_text: {type(exc).__name__}: {exc}"
    try:
        got_j = normalize_json(nftkit.to_json(model))
        want_j = normalize_json(doc)
        out["json"] = None if got_j == want_j else "to_json differs"
    except Exception as exc:
        out["json"] = f"to_json: {type(exc).__name__}: {exc}"
    return out


def main(argv: list[str]) -> int:
    cached = "--oracle-cache" in argv
    verbose = "-v" in argv
    pats = [a for a in argv if not a.startswith("-")]
    counts: Counter[str] = Counter()
    loaded = 0
    for path in corpus_dumps():
        rel = str(path.relative_to(CORPUS))
        if pats and not any(p in rel for p in pats):
            continue
        lst = listing(path, cached)
        if not lst.ok or lst.json is None:
            continue
        loaded += 1
        try:
            res = check_listing(lst.text, lst.json)
        except Exception:
            res = {"parse": traceback.format_exc()}
        for k, v in res.items():
            counts[k] += v is None
        bad = {k: v for k, v in res.items() if v is not None}
        if bad:
            print(f"FAIL {rel}: " + " ".join(f"{k}={'ok' if res.get(k) is None else 'FAIL'}"
                                             for k in res))
            if verbose:
                for k, v in bad.items():
                    print(f"  [{k}] {v[:2500]}")
    print(f"loaded {loaded}: " + ", ".join(f"{k} {counts[k]}/{loaded}"
                                           for k in ("parse", "model", "text", "json")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
