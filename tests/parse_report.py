"""Developer report: the text parser over the corpus, with nft's listings as the oracle.

    python -m tests.parse_report [--oracle-cache] [-v] [--json] [PATTERN ...]

For each loadable dump, with T = ``nft list ruleset`` and J = ``nft -j list ruleset``:
``parse(T) == from_json(J)`` (model), ``to_text(parse(T)) == T`` and ``to_json(parse(T)) == J``.
``--json`` also compares the parser's JSON form with J directly (useful while the model grows).
Without ``--oracle-cache`` the installed nft is run in throwaway namespaces.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import traceback
from collections import Counter
from typing import Any

import nftkit
from nftkit.parse._decode import Decoder
from nftkit.parse.nft import parse_commands
from tests._oracle import CORPUS, corpus_dumps, normalize_json
from tests.corpus_report import listing

__all__ = ["check_listing", "main"]


def parse_document(text: str) -> list[dict[str, Any]]:
    """A listing's libnftables JSON objects, as the parser decodes them (before the model)."""
    dec = Decoder(text, None)
    for item in parse_commands(text):
        dec.apply(item)
    return dec.document()


def _norm(o: Any) -> Any:
    """JSON drift between nft versions that means the same: single flags as lists."""
    if isinstance(o, dict):
        out = {}
        for k, v in o.items():
            if k in ("flags", "dev") and isinstance(v, str):
                v = [v]
            out[k] = _norm(v)
        return out
    if isinstance(o, list):
        return [_norm(v) for v in o]
    return o


def _lines(model: object) -> list[str]:
    return re.sub(r", handle=\d+", "", repr(model)).replace("), ", "),\n").splitlines(True)


def check_listing(text: str, doc: dict[str, Any], *, compare_json_ir: bool = False
                  ) -> dict[str, str | None]:
    """Problems per check (None when it passes): parse, model, text, json, ir."""
    out: dict[str, str | None] = {}
    try:
        model = nftkit.parse(text)
    except Exception as exc:
        msg = f"parse: {type(exc).__name__}: {exc}"
        return {"parse": msg, "model": msg, "text": msg, "json": msg, "ir": msg}
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
    if compare_json_ir:
        ir = _norm(normalize_json({"nftables": parse_document(text)}))
        want_ir = _norm(normalize_json(doc))
        if ir == want_ir:
            out["ir"] = None
        else:
            a = json.dumps(want_ir, indent=1, sort_keys=True, default=repr).splitlines(True)
            b = json.dumps(ir, indent=1, sort_keys=True, default=repr).splitlines(True)
            out["ir"] = "".join(difflib.unified_diff(a, b, "nft", "parser", n=2))
    return out


def main(argv: list[str]) -> int:
    cached = "--oracle-cache" in argv
    verbose = "-v" in argv
    with_ir = "--json" in argv
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
            res = check_listing(lst.text, lst.json, compare_json_ir=with_ir)
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
                                           for k in ("parse", "model", "text", "json", "ir")
                                           if k != "ir" or with_ir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
