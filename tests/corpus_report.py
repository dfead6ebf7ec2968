"""Developer report: run the JSON conformance check over the corpus and print failures.

    python -m tests.corpus_report [--oracle-cache] [PATTERN] [-v]

By default the installed nft is the oracle (each dump loaded in a throwaway namespace). With
``--oracle-cache`` it reads the pre-computed nft 1.0.6 listings in
../shared/corpus/nft-1.0.6-oracle instead (fast, for iterating on a 1.0.6 machine).
"""

from __future__ import annotations

import difflib
import json
import sys
import traceback
from pathlib import Path

import nftkit
from tests._oracle import CORPUS, Listing, corpus_dumps, load_and_list, normalize_json

ORACLE = CORPUS.parent / "nft-1.0.6-oracle"


def listing(path: Path, cached: bool) -> Listing:
    if cached:
        rel = path.relative_to(CORPUS)
        t = ORACLE / (str(rel) + ".list.nft")
        j = ORACLE / (str(rel) + ".list.json")
        if not t.exists():
            return Listing(False, "", None, "did not load (oracle cache)")
        return Listing(True, t.read_text(), json.loads(j.read_text()), "")
    return load_and_list(path.read_text())


def check(lst: Listing) -> tuple[str | None, str | None]:
    """(text problem, json problem), each None when that check passes."""
    assert lst.json is not None
    try:
        model = nftkit.from_json(lst.json)
    except Exception as exc:
        msg = f"from_json: {type(exc).__name__}: {exc}"
        return msg, msg
    text_problem = json_problem = None
    try:
        got = nftkit.to_text(model)
        if got != lst.text:
            text_problem = "".join(difflib.unified_diff(
                lst.text.splitlines(True), got.splitlines(True), "nft", "nftkit", n=1))
    except Exception as exc:
        text_problem = f"to_text: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
    try:
        got_j = normalize_json(nftkit.to_json(model))
        want_j = normalize_json(lst.json)
        if got_j != want_j:
            a = json.dumps(want_j, indent=1).splitlines(True)
            b = json.dumps(got_j, indent=1).splitlines(True)
            json_problem = "".join(difflib.unified_diff(a, b, "nft", "nftkit", n=2))
    except Exception as exc:
        json_problem = f"to_json: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
    return text_problem, json_problem


def main(argv: list[str]) -> int:
    cached = "--oracle-cache" in argv
    verbose = "-v" in argv
    pats = [a for a in argv if not a.startswith("-")]
    loaded = text_ok = json_ok = 0
    for path in corpus_dumps():
        rel = str(path.relative_to(CORPUS))
        if pats and not any(p in rel for p in pats):
            continue
        lst = listing(path, cached)
        if not lst.ok:
            continue
        loaded += 1
        tp, jp = check(lst)
        text_ok += tp is None
        json_ok += jp is None
        if tp or jp:
            text_state = "ok" if tp is None else "FAIL"
            json_state = "ok" if jp is None else "FAIL"
            print(f"FAIL {rel}: text={text_state} json={json_state}")
            if verbose:
                for p in (tp, jp):
                    if p:
                        print(p[:3000])
    print(f"loaded {loaded}: text {text_ok}/{loaded}, json {json_ok}/{loaded}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
