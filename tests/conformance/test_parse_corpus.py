"""The text parser over upstream's shell-test dumps, with the installed nft as the oracle.

For every dump the installed nft loads (in a throwaway namespace), with T = ``nft list
ruleset`` and J = ``nft -j list ruleset``:

- ``model``: ``parse(T) == from_json(J)``;
- ``text``: ``to_text(parse(T)) == T`` byte for byte;
- ``json``: ``to_json(parse(T)) == J`` ignoring metainfo and handles;
- ``nft_file``: ``parse`` of the upstream ``.nft`` file itself (written for a newer nft)
  succeeds and equals ``parse(T)``;
- ``twin`` (no kernel needed): ``parse`` of the upstream ``.nft`` file equals ``from_json`` of
  its ``.json-nft`` twin, which nft 1.1.x wrote: the newer nft's semantics without running it.

Checks that cannot pass with some nft version are listed in ``tests/parse_exceptions.txt`` with
the reason; a listed check must still fail (so the list cannot go stale).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nftkit
from tests._oracle import CORPUS, Listing, corpus_dumps, load_and_list, normalize_json
from tests._releases import applies
from tests.conftest import record

EXCEPTIONS_FILE = (Path(__file__).resolve().parents[1] / "parse_exceptions.txt")
DUMPS = corpus_dumps()


def _exceptions() -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for line in EXCEPTIONS_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            path, check, versions, reason = line.split("\t", 3)
            if applies(versions):
                out[(path, check)] = reason
    return out


EXCEPTIONS = _exceptions()


@pytest.fixture(scope="module")
def listings() -> dict[Path, Listing]:
    return {}


def _listing(path: Path, cache: dict[Path, Listing]) -> Listing:
    if path not in cache:
        cache[path] = load_and_list(path.read_text())
    return cache[path]


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(CORPUS / "shell/testcases")) for p in paths]


def _check(check: str, path: Path, lst: Listing) -> bool:
    assert lst.json is not None
    if check == "nft_file":
        return nftkit.parse(path.read_text(), filename=str(path)) == nftkit.parse(lst.text)
    model = nftkit.parse(lst.text)
    if check == "model":
        return model == nftkit.from_json(lst.json)
    if check == "text":
        return nftkit.to_text(model) == lst.text
    return normalize_json(nftkit.to_json(model)) == normalize_json(lst.json)


@pytest.mark.corpus
@pytest.mark.kernel
@pytest.mark.parametrize("path", DUMPS, ids=_ids(DUMPS))
@pytest.mark.parametrize("check", ["model", "text", "json", "nft_file"])
def test_parse_dump(path: Path, check: str, oracle: None, corpus: None,
                    listings: dict[Path, Listing]) -> None:
    lst = _listing(path, listings)
    if not lst.ok:
        pytest.skip(f"installed nft does not load it: {lst.error.splitlines()[0][:200]}")
    rel = str(path.relative_to(CORPUS))
    reason = EXCEPTIONS.get((rel, check)) or EXCEPTIONS.get((rel, "*"))
    try:
        ok = _check(check, path, lst)
    except nftkit.NftkitError:
        if not reason:
            raise
        ok = False
    record(f"parser corpus dumps, {check}", ok)
    if reason:
        assert not ok, f"listed as an exception ({reason}) but it passes now: remove it"
    else:
        assert ok, f"{check} check failed (python -m tests.parse_report -v {path.name})"


TWINS = [p for p in DUMPS if p.with_suffix(".json-nft").exists()]


@pytest.mark.corpus
@pytest.mark.parametrize("path", TWINS, ids=_ids(TWINS))
def test_parse_matches_newer_json(path: Path, corpus: None) -> None:
    rel = str(path.relative_to(CORPUS))
    reason = EXCEPTIONS.get((rel, "twin"))
    try:
        want = nftkit.from_json(path.with_suffix(".json-nft").read_text())
        ok = nftkit.parse(path.read_text(), filename=str(path)) == want
    except nftkit.NftkitError:
        if not reason:
            raise
        ok = False
    record("parser corpus dumps, twin (nft 1.1 JSON)", ok)
    if reason:
        assert not ok, f"listed as an exception ({reason}) but it passes now: remove it"
    else:
        assert ok, "parse(.nft) differs from from_json(.json-nft)"
