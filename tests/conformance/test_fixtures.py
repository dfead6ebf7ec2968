"""Conformance over the project's own fixtures (tests/fixtures/*.nft), with nft as the oracle.

Each fixture is a realistic ruleset written for nftkit (a kube-proxy node, a firewalld host, a
Calico node, a home router). It is loaded with the installed nft in a throwaway network
namespace; with J = ``nft -j list ruleset`` and T = ``nft list ruleset`` we check
``to_text(from_json(J)) == T`` byte for byte and ``to_json(from_json(J)) == J`` ignoring
metainfo and handles, exactly like tests/conformance/test_corpus_json.py, but without
needing ../shared.

Fixture/check pairs that cannot pass yet are listed with the reason in
``tests/fixtures/known_gaps.txt``; they must still fail (strict), so the list cannot go stale.
When a check fails, the message names every rule, set and object whose JSON does not
round-trip on its own, so the missing construct is easy to find.
"""

from __future__ import annotations

import difflib
import functools
import json
from pathlib import Path
from typing import Any

import pytest

import nftkit
from nftkit.render.context import installed_nft_version, parse_version
from tests._oracle import Listing, load_and_list, normalize_json
from tests.conftest import record

FIXTURES = (Path(__file__).resolve().parents[1] / "fixtures")
GAPS_FILE = FIXTURES / "known_gaps.txt"
PATHS = sorted(FIXTURES.glob("*.nft"))
#: Fixtures that need kernel features this machine may lack: file stem -> (probe, what).
NEEDS: dict[str, tuple[str, str]] = {
    "home-router-flowtable": (
        "table inet probe { flowtable f { hook ingress priority 0; devices = { nftkitprobe0 }; } }",
        "kernel flowtable support (CONFIG_NF_FLOW_TABLE)",
    ),
}


def _applies(versions: str) -> bool:
    """Whether a known_gaps.txt version column (``*``, ``<1.1``, ``>=1.1``) fits the nft here."""
    if versions == "*":
        return True
    installed = installed_nft_version()
    if installed is None:
        return False
    op, _, ver = versions.partition("1")
    bound = parse_version("1" + ver)
    return installed < bound if op == "<" else installed >= bound


def _gaps() -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    if GAPS_FILE.exists():
        for line in GAPS_FILE.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, check, versions, reason = line.split("\t", 3)
                if _applies(versions):
                    out[(name, check)] = f"{reason} (nft {versions})"
    return out


GAPS = _gaps()


@functools.cache
def _kernel_has(probe: str) -> bool:
    return load_and_list(probe).ok


@functools.cache
def _listing(path: Path) -> Listing:
    return load_and_list(path.read_text())


def _item_problem(doc: list[dict[str, Any]], want: dict[str, Any]) -> str | None:
    """Why ``want`` (the last item of ``doc``) does not round-trip through JSON, or None."""
    try:
        got = normalize_json(nftkit.to_json(nftkit.from_json({"nftables": doc})))
    except nftkit.NftkitError as exc:
        return f"{type(exc).__name__}: {exc}"
    if want not in got:
        return f"re-encoded as {json.dumps(got[-1])[:300]}"
    return None


def diagnose(j: dict[str, Any]) -> list[str]:
    """Every rule, set, map and object of listing ``j`` whose JSON does not round-trip alone."""
    items = normalize_json(j)
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    chains: dict[tuple[str, str, str], dict[str, Any]] = {}
    problems: list[str] = []
    for item in items:
        ((key, body),) = item.items()
        if key == "table":
            tables[(body["family"], body["name"])] = item
            continue
        table = tables.get((body.get("family"), body.get("table")))
        if table is None:
            continue
        if key == "chain":
            chains[(body["family"], body["table"], body["name"])] = item
            doc = [table, item]
            what = f"chain {body['name']}"
        elif key == "rule":
            chain = chains[(body["family"], body["table"], body["chain"])]
            doc = [table, chain, item]
            what = f"rule in {body['chain']}: {json.dumps(body['expr'])[:200]}"
        else:
            doc = [table, item]
            what = f"{key} {body.get('name')}"
        problem = _item_problem(doc, item)
        if problem:
            problems.append(f"{what}\n    -> {problem}")
    return problems


def _explain(lst: Listing, text_problem: str | None) -> str:
    assert lst.json is not None
    lines = diagnose(lst.json)
    out = [f"{len(lines)} item(s) do not round-trip through JSON on their own:", *lines]
    if text_problem:
        out += ["text diff (nft -> nftkit):", text_problem]
    return "\n".join(out)


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.mark.kernel
@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
@pytest.mark.parametrize("check", ["text", "json"])
def test_fixture(path: Path, check: str, oracle: None) -> None:
    need = NEEDS.get(path.stem)
    if need is not None and not _kernel_has(need[0]):
        pytest.skip(f"this machine lacks {need[1]}")
    lst = _listing(path)
    assert lst.ok, f"the installed nft does not load {path.name}: {lst.error}"
    assert lst.json is not None
    reason = GAPS.get((path.stem, check)) or GAPS.get((path.stem, "*"))
    problem: str | None = None
    try:
        model = nftkit.from_json(lst.json)
        if check == "text":
            got = nftkit.to_text(model)
            if got != lst.text:
                problem = "".join(difflib.unified_diff(
                    lst.text.splitlines(True), got.splitlines(True), "nft", "nftkit", n=1))
        else:
            got_j = normalize_json(nftkit.to_json(model))
            if got_j != normalize_json(lst.json):
                problem = "to_json(from_json(J)) != J"
    except nftkit.NftkitError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    record(f"fixtures, {check}", problem is None)
    if reason:
        assert problem is not None, f"listed in known_gaps.txt ({reason}) but passes: remove it"
        pytest.xfail(reason)
    if problem is not None:
        pytest.fail(_explain(lst, problem if check == "text" else None)[:20000])


def test_fixtures_exist() -> None:
    """The four shapes the project promises are all there."""
    stems = {p.stem for p in PATHS}
    assert {"kube-proxy", "firewalld", "calico", "home-router"} <= stems


def test_known_gaps_file_is_well_formed() -> None:
    stems = {p.stem for p in PATHS}
    for line in GAPS_FILE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, check, versions, reason = line.split("\t", 3)
        assert name in stems, f"known_gaps.txt names a missing fixture {name!r}"
        assert check in ("text", "json", "*"), f"bad check {check!r} in known_gaps.txt"
        assert versions == "*" or versions[:2] in ("<1", ">="), f"bad versions {versions!r}"
        assert reason.strip(), f"no reason for {name} {check}"

