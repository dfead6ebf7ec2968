"""Rule-level conformance over upstream's ``py/*/*.t`` files, with the installed nft as oracle.

Every ``;ok`` rule the installed nft accepts is loaded (one throwaway namespace per file) and
listed; for each listed rule R (read with ``from_json``), ``to_text(R)`` must equal nft's text
line and ``to_json(R)`` nft's JSON. One test per ``.t`` file and check; it fails listing the
rules that differ. Pass counts are printed at the end of the run (``tests.conftest.record``).
See ``python -m tests.rules_report -v`` for diffs.

The same checks also run over the rules of upstream's shell-test dumps, which nft 1.1.x wrote
(rendering for that version): they guard the 1.1 output on machines with an older nft.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nftkit.render.context import installed_nft_version
from tests._oracle import CORPUS
from tests.conftest import record
from tests.rules_report import (
    Loaded,
    check_rule,
    load_tfile,
    tfiles,
    upstream_cases,
    upstream_dumps,
)

TFILES = tfiles()

#: (file, check) -> (reason, the first nft version where it should pass). Each must still fail
#: before that version, so the list cannot go stale.
T_EXCEPTIONS: dict[tuple[str, str], tuple[str, tuple[int, int, int]]] = {}
_loaded: dict[Path, Loaded] = {}


def _load(path: Path) -> Loaded:
    if path not in _loaded:
        _loaded[path] = load_tfile(path, cache=False)
    return _loaded[path]


@pytest.mark.corpus
@pytest.mark.kernel
@pytest.mark.parametrize("path", TFILES, ids=[str(p.relative_to(CORPUS / "py")) for p in TFILES])
@pytest.mark.parametrize("check", ["text", "json"])
def test_rules(path: Path, check: str, oracle: None, corpus: None) -> None:
    loaded = _load(path)
    assert not loaded.problems, loaded.problems
    if not loaded.cases:
        pytest.skip("the installed nft accepts none of this file's rules")
    failures = []
    for case in loaded.cases:
        result = check_rule(case)
        problem = result.text if check == "text" else result.json
        record(f"corpus rules, {check}", problem is None)
        if problem is not None:
            failures.append(f"[{case.family} {case.chain}] {case.source}\n{problem}")
    exception = T_EXCEPTIONS.get((str(path.relative_to(CORPUS / "py")), check))
    if exception is not None and (installed_nft_version() or (0, 0, 0)) < exception[1]:
        assert failures, f"listed as an exception ({exception[0]}) but it passes now"
        pytest.xfail(exception[0])
    assert not failures, f"{len(failures)}/{len(loaded.cases)} rules differ:\n" + \
        "\n".join(failures[:5])


# --- nft 1.1: the rules of upstream's shell-test dumps, no kernel needed --------------------

DUMPS = upstream_dumps()

#: Rules that cannot pass rule by rule, with the reason. Each must still fail (so the list
#: cannot go stale).
UPSTREAM_EXCEPTIONS: dict[str, str] = {}


@pytest.mark.corpus
@pytest.mark.parametrize("path", DUMPS,
                         ids=[str(p.relative_to(CORPUS / "shell/testcases")) for p in DUMPS])
def test_upstream_dump_rules(path: Path, corpus: None) -> None:
    cases, problems = upstream_cases(path)
    assert not problems, problems
    if not cases:
        pytest.skip("no rules in this dump")
    failures = []
    for case in cases:
        result = check_rule(case)
        record("upstream 1.1 dump rules, text", result.text is None)
        record("upstream 1.1 dump rules, json", result.json is None)
        for problem in (result.text, result.json):
            if problem is not None:
                failures.append(f"[{case.family} {case.chain}] {case.source}\n{problem}")
    reason = UPSTREAM_EXCEPTIONS.get(str(path.relative_to(CORPUS / "shell/testcases")))
    if reason:
        assert failures, f"listed as an exception ({reason}) but it passes now: remove it"
        pytest.xfail(reason)
    assert not failures, "\n".join(failures[:5])
