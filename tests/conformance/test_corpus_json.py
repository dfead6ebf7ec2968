"""Conformance over upstream's shell-test dumps, with the installed nft as the oracle.

For every dump the installed nft loads (in a throwaway namespace): with J = ``nft -j list
ruleset`` and T = ``nft list ruleset``, ``to_text(from_json(J)) == T`` byte for byte and
``to_json(from_json(J)) == J`` ignoring metainfo and handles. Dumps that cannot pass are listed
with the reason in ``tests/corpus_exceptions.txt``; they must still fail (strict xfail), so the
list cannot go stale.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nftkit
from tests._oracle import CORPUS, corpus_dumps, load_and_list, normalize_json
from tests._releases import applies
from tests.conftest import record

EXCEPTIONS_FILE = (Path(__file__).resolve().parents[1] / "corpus_exceptions.txt")


def _exceptions() -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for line in EXCEPTIONS_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            path, check, versions, reason = line.split("\t", 3)
            if applies(versions):
                out[(path, check)] = f"{reason} (nft {versions})"
    return out


EXCEPTIONS = _exceptions()
DUMPS = corpus_dumps()


@pytest.fixture(scope="module")
def listings() -> dict[Path, object]:
    return {}


def _listing(path: Path, cache: dict[Path, object]) -> object:
    if path not in cache:
        cache[path] = load_and_list(path.read_text())
    return cache[path]


def _applicable(path: Path, check: str, cache: dict[Path, object]) -> tuple[object, str]:
    lst = _listing(path, cache)
    if not lst.ok:  # type: ignore[attr-defined]
        pytest.skip(f"installed nft does not load it: {lst.error.splitlines()[0][:200]}")  # type: ignore[attr-defined]
    rel = str(path.relative_to(CORPUS))
    reason = EXCEPTIONS.get((rel, check)) or EXCEPTIONS.get((rel, "*"))
    return lst, reason or ""


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(CORPUS / "shell/testcases")) for p in paths]


@pytest.mark.corpus
@pytest.mark.kernel
@pytest.mark.parametrize("path", DUMPS, ids=_ids(DUMPS))
@pytest.mark.parametrize("check", ["text", "json"])
def test_dump(path: Path, check: str, oracle: None, corpus: None,
              listings: dict[Path, object]) -> None:
    lst, reason = _applicable(path, check, listings)
    model = None
    try:
        model = nftkit.from_json(lst.json)  # type: ignore[attr-defined]
        if check == "text":
            ok = nftkit.to_text(model) == lst.text  # type: ignore[attr-defined]
        else:
            ok = normalize_json(nftkit.to_json(model)) == normalize_json(lst.json)  # type: ignore[attr-defined]
    except nftkit.NftkitError:
        if not reason:
            raise
        ok = False
    record(f"corpus dumps, {check}", ok)
    if reason:
        assert not ok, f"listed as an exception ({reason}) but it passes now: remove it"
        pytest.xfail(reason)
    if check == "text":
        assert nftkit.to_text(model) == lst.text  # type: ignore[attr-defined,arg-type]
    else:
        assert normalize_json(nftkit.to_json(model)) == normalize_json(lst.json)  # type: ignore[attr-defined,arg-type]
