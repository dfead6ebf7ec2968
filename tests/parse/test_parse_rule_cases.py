"""Rule cases from data files (``tests/parse/cases/``), checked against the installed nft.

Each case is a rule that a plausible parser or model mistake reads with another meaning, or
refuses; the files' format is in ``tests/parse/cases/README.md``. Two sets of checks, one per
directory:

``roundtrip/``
    Every rule is loaded with ``nft -f`` in a throwaway network namespace; then
    ``to_json(parse_rule(rule))`` must be the rule as ``nft -j list ruleset`` has it,
    ``parse_rule`` of nft's listed line must give the same, and ``to_text`` of the parsed rule
    must be nft's listed line. Where nft's own listing does not read back to the same rule (nft
    lists the ``==`` compare ``ct state == established | related`` without its ``==``), the
    text is checked by meaning instead: nft must read nftkit's text into the same JSON as the
    original rule. nftkit keeps ``ct state == a,b`` a flag list, where nft's JSON has the OR
    chain ``{"|": [a, b]}``: such JSON is compared through nft (nft must read nftkit's JSON
    into its own).
``readers/``
    The text reader (of the rule as written and of nft's listed line) and the JSON reader (of
    nft's JSON) give one model, whose JSON is nft's and whose text is nft's listed line.

Besides the cases: a model's text and its JSON must mean the same to nft for flag matches
with every relational operator (``ct state a,b`` is a flag test, ``in``; ``ct state == a |
b`` compares the whole value), except where nftkit prints exactly nft's own listing and that
listing is ambiguous; the family-neutral ``ct original saddr`` stays apart from ``ct original
ip saddr``; glued words and symbolic range ends have one form.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

import nftkit
from nftkit.errors import ValidationError
from nftkit.model.expressions import (
    BinopExpr,
    BinopOp,
    CtExpr,
    ListExpr,
    PayloadExpr,
    RangeExpr,
)
from nftkit.model.ruleset import Rule
from nftkit.model.statements import MatchOp, MatchStmt
from nftkit.parse.json import JsonDecoder, decode_rule
from nftkit.render.json import to_json
from tests._oracle import NFT, cases_ruleset, have_netns, load_and_list, normalize_json

kernel = pytest.mark.skipif(not have_netns(), reason="needs root, nft and unshare -n")

CASE_DIR = Path(__file__).resolve().parent / "cases"


def read_cases(directory: Path) -> list[tuple[str, str, str, str]]:
    """``(topic, family, chain, rule)`` of every ``*.txt`` file in ``directory``, files in
    name order (the format is in ``tests/parse/cases/README.md``)."""
    out: list[tuple[str, str, str, str]] = []
    for path in sorted(directory.glob("*.txt")):
        for line in path.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            family, chain, rule = line.split(None, 2)
            out.append((path.stem, family, chain, rule))
    return out


# --- roundtrip/ ---------------------------------------------------------------------------

_ROUNDTRIP = read_cases(CASE_DIR / "roundtrip")
# (family, chain, rule): chain "plain" is a regular chain, "pre"/"post" nat base chains
ROUNDTRIP_CASES: list[tuple[str, str, str]] = [(f, c, r) for _, f, c, r in _ROUNDTRIP]

_CHAINS = {"plain": "", "pre": "type nat hook prerouting priority dstnat;",
           "post": "type nat hook postrouting priority srcnat;"}


def _try(data: str, *, json_input: bool = False) -> dict[str, Any] | str:
    """Load ``data`` (nft text, or JSON with ``json_input``) in a fresh namespace; the listing
    as ``{"text": ..., "json": ...}``, or nft's error."""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "in").write_text(data)
        load = f"{NFT} -j -f {t / 'in'}" if json_input else f"{NFT} -f {t / 'in'}"
        cmd = f"{load} && {NFT} list ruleset > {t / 'out.nft'} && {NFT} -j list ruleset"
        r = subprocess.run(["unshare", "-n", "sh", "-c", cmd], capture_output=True, text=True,
                           env={**os.environ, "LC_ALL": "C"})
        if r.returncode != 0:
            return r.stderr.strip()
        return {"text": (t / "out.nft").read_text(), "json": json.loads(r.stdout)}


def _run(script: str, data: str, *, json_input: bool = False) -> dict[str, Any]:
    """``_try``, failing the test with nft's error if nft refuses ``data``."""
    out = _try(data, json_input=json_input)
    if isinstance(out, str):
        pytest.fail(f"nft refused {script}: {out}")
    return out


def _ruleset(rules: list[str]) -> str:
    """A ruleset with rule ``i`` of ``ROUNDTRIP_CASES`` replaced by ``rules[i]``, chain by chain."""
    return cases_ruleset([(f, c, r) for (f, c, _), r in zip(ROUNDTRIP_CASES, rules, strict=True)],
                         _CHAINS)


def _split(listing: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """The listed line and the JSON expr of each case, in ``ROUNDTRIP_CASES`` order."""
    lines: dict[tuple[str, str], list[str]] = {}
    family = chain = ""
    for line in listing["text"].splitlines():
        words = line.split()
        if line.startswith("table "):
            family = words[1]
        elif line.startswith("\tchain "):
            chain = words[1]
        elif line.startswith("\t\t") and not line.startswith("\t\ttype "):
            lines.setdefault((family, chain), []).append(line.strip())
    exprs: dict[tuple[str, str], list[Any]] = {}
    for obj in normalize_json(listing["json"]):
        if "rule" in obj:
            r = obj["rule"]
            exprs.setdefault((r["family"], r["chain"]), []).append(r["expr"])
    out: list[tuple[str, list[Any]]] = []
    seen: dict[tuple[str, str], int] = {}
    for family, chain, _ in ROUNDTRIP_CASES:
        i = seen[family, chain] = seen.get((family, chain), -1) + 1
        out.append((lines[family, chain][i], exprs[family, chain][i]))
    return out


@functools.cache
def _original() -> list[tuple[str, list[Any]]]:
    """nft's listed line and JSON of every case as written."""
    return _split(_run("the cases", _ruleset([r for _, _, r in ROUNDTRIP_CASES])))


def _load_lines(rules: list[str]) -> list[list[Any] | None]:
    """nft's JSON of each of ``rules`` (one per case); None for a rule nft refuses to read,
    which is loaded as the case's own rule instead, so that the others still load."""
    refused: set[int] = set()
    for _ in range(len(ROUNDTRIP_CASES)):
        text = _ruleset([c[2] if i in refused else r
                         for i, (c, r) in enumerate(zip(ROUNDTRIP_CASES, rules, strict=True))])
        listing = _try(text)
        if not isinstance(listing, str):
            return [None if i in refused else e for i, (_, e) in enumerate(_split(listing))]
        # `.../in:LINE:COL: Error: ...`: take the refused lines' cases out and try again
        text_lines = text.splitlines()
        bad = {i for i, r in enumerate(rules) for n in map(int, re.findall(r"/in:(\d+):", listing))
               if 0 < n <= len(text_lines) and text_lines[n - 1].strip() == r}
        if not bad - refused:
            pytest.fail(f"nft refused a case: {listing}")
        refused |= bad
    pytest.fail("nft refused the cases")


@functools.cache
def _relisted() -> list[list[Any] | None]:
    """nft's JSON of its own listed lines: differs where nft's listing is ambiguous, None where
    nft cannot read its own listing (``ip protocol set icmp``)."""
    return _load_lines([line for line, _ in _original()])


@functools.cache
def _ours() -> list[list[Any] | None]:
    """nft's JSON of ``to_text(parse_rule(case))`` (None where nft cannot read it)."""
    return _load_lines([nftkit.to_text(nftkit.parse_rule(r, family=f), family=f)
                        for f, _, r in ROUNDTRIP_CASES])


@functools.cache
def _ours_json() -> list[list[Any]]:
    """nft's JSON of ``to_json(parse_rule(case))``, loaded with ``nft -j -f``."""
    hooks = {"pre": ("prerouting", -100), "post": ("postrouting", 100)}
    objs: list[Any] = []
    for family in dict.fromkeys(f for f, _, _ in ROUNDTRIP_CASES):
        objs.append({"table": {"family": family, "name": "t"}})
        for chain in _CHAINS:
            if not any(f == family and c == chain for f, c, _ in ROUNDTRIP_CASES):
                continue
            body: dict[str, Any] = {"family": family, "table": "t", "name": chain}
            if chain in hooks:
                body |= {"type": "nat", "hook": hooks[chain][0], "prio": hooks[chain][1],
                         "policy": "accept"}
            objs.append({"chain": body})
            objs += [{"rule": {"family": family, "table": "t", "chain": chain,
                               "expr": _expr(r, family)}}
                     for f, c, r in ROUNDTRIP_CASES if f == family and c == chain]
    listing = _run("nftkit's JSON", json.dumps({"nftables": objs}), json_input=True)
    return [e for _, e in _split(listing)]


def _expr(text: str, family: str) -> list[Any]:
    doc = to_json(nftkit.parse_rule(text, family=family))
    result: list[Any] = json.loads(json.dumps(doc["rule"]["expr"]))
    return result


_IDS = [f"{t}:{f}-{r}" for t, f, _, r in _ROUNDTRIP]


@kernel
@pytest.mark.parametrize("i", range(len(ROUNDTRIP_CASES)), ids=_IDS)
def test_parse_gives_nft_json(i: int) -> None:
    family, _, rule = ROUNDTRIP_CASES[i]
    want = _original()[i][1]
    got = _expr(rule, family)
    # or the same to nft: nftkit keeps `ct state == a,b` a flag list, which nft's JSON writes
    # as the OR chain {"|": ["a", "b"]}
    assert got == want or _ours_json()[i] == want, got


@kernel
@pytest.mark.parametrize("i", range(len(ROUNDTRIP_CASES)), ids=_IDS)
def test_listing_reads_back(i: int) -> None:
    family, _, _ = ROUNDTRIP_CASES[i]
    line, want = _original()[i]
    relisted = _relisted()[i]
    if relisted is not None and relisted != want:
        pytest.skip(f"nft's own listing {line!r} reads back as another rule")
    got = _expr(line, family)
    assert got == want or (_expr(ROUNDTRIP_CASES[i][2], family) == got
                           and _ours_json()[i] == want), got


@kernel
@pytest.mark.parametrize("i", range(len(ROUNDTRIP_CASES)), ids=_IDS)
def test_text_is_nft_listing(i: int) -> None:
    family, _, rule = ROUNDTRIP_CASES[i]
    line, want = _original()[i]
    ours, relisted = _ours()[i], _relisted()[i]
    text = nftkit.to_text(nftkit.parse_rule(rule, family=family), family=family)
    if relisted is not None and relisted != want:
        # nft's listing is ambiguous (`ct state == a | b` listed as `ct state a | b`, a flag
        # test): nftkit keeps the `==`, and nft reads its text as the original rule
        assert ours == want, text
        return
    # nft reads nftkit's text as the rule it was parsed from (where it can read it at all),
    # and the text is nft's listing byte for byte
    assert ours == want or (ours is None and relisted is None)
    assert text == line


def test_log_level_warn_is_the_default_level() -> None:
    # the model stores warn, the kernel's default, as no level: nft lists `log level warn` as
    # `log` and its JSON has no level
    rule = nftkit.parse_rule("log level warn")
    assert rule == nftkit.parse_rule("log")


# --- text and JSON of flag matches mean the same to nft, for every operator ---------------

_STATE = CtExpr(key="state")
_FLAGS = PayloadExpr(protocol="tcp", field="flags")
_RIGHTS: dict[Any, list[Any]] = {
    _STATE: [ListExpr(values=("established", "related")), "new",
             BinopExpr(op=BinopOp.OR, left=BinopExpr(op=BinopOp.OR, left="established",
                                                     right="related"), right="new")],
    _FLAGS: [ListExpr(values=("syn", "ack")), "syn",
             BinopExpr(op=BinopOp.OR, left="fin", right="rst")],
}
_MATCHES = [MatchStmt(left=left, op=op, right=right)
            for left, rights in _RIGHTS.items() for right in rights
            for op in (MatchOp.EQ, MatchOp.NE, MatchOp.IN, MatchOp.NEG)]


@kernel
def test_flag_match_text_and_json_agree() -> None:
    def doc(expr_of: list[Any]) -> dict[str, Any]:
        objs: list[Any] = [{"table": {"family": "inet", "name": "t"}},
                           {"chain": {"family": "inet", "table": "t", "name": "c"}}]
        objs += [{"rule": {"family": "inet", "table": "t", "chain": "c", "expr": e}}
                 for e in expr_of]
        return {"nftables": objs}

    def rules(listing: dict[str, Any]) -> list[Any]:
        return [o["rule"]["expr"] for o in normalize_json(listing["json"]) if "rule" in o]

    exprs = [to_json(nftkit.Rule(stmts=(m,)))["rule"]["expr"] for m in _MATCHES]
    texts = [nftkit.to_text(m) for m in _MATCHES]
    listing = _run("the models' JSON", json.dumps(doc(exprs)), json_input=True)
    from_json = rules(listing)
    listed = [line.strip() for line in listing["text"].splitlines() if line.startswith("\t\t")]
    body = "\n".join(f"    {t}" for t in texts)
    ruleset = f"table inet t {{\n  chain c {{\n{body}\n  }}\n}}\n"
    from_text = rules(_run("the models' text", ruleset))
    # nftkit's reading of its own text, as JSON, means to nft what the model's JSON does
    # (compared through nft: nft 1.0.6 folds `tcp flags == syn | ack` into 18)
    reread = rules(_run("nftkit's reading", json.dumps(doc([_expr(t, "inet") for t in texts])),
                        json_input=True))
    for m, text, a, b, c, line in zip(_MATCHES, texts, from_json, from_text, reread, listed,
                                      strict=True):
        # except where nftkit prints what nft itself lists, and nft reads its own listing as
        # another rule (nft lists `ct state == a | b` as `ct state a | b`, a flag test)
        assert b == a or text == line, \
            f"{m!r} as {text!r}: nft reads the text and the JSON differently"
        assert c == b, f"{text!r}: nftkit reads it differently from nft"


@kernel
@pytest.mark.parametrize("rule", ["meta mark ! 5", "tcp dport ! 22"])
def test_negation_needs_a_bitmask(rule: str) -> None:
    # nft: "negation can only be used with singleton bitmask values"; nftkit refuses it too
    # (reading `!` as `!=` would silently match something else)
    assert isinstance(_try(f"table inet t {{\n  chain c {{\n    {rule}\n  }}\n}}\n"), str)
    with pytest.raises(nftkit.ParseError, match="bitmask"):
        nftkit.parse_rule(rule)


# --- readers/ -----------------------------------------------------------------------------

_READERS = read_cases(CASE_DIR / "readers")
# (family, chain, rule as written). Chain "pre" is a prerouting filter chain (tproxy).
READER_CASES: list[tuple[str, str, str]] = [(f, c, r) for _, f, c, r in _READERS]

#: nft's family-neutral conntrack address: listed as ``ct original ip saddr``, which reads
#: back as the ``ip saddr`` key; the model keeps the two apart (so this case has no
#: text round trip)
NEUTRAL = ("inet", "plain", "meta nfproto ipv4 ct original saddr 1.2.3.4")

_READER_CHAINS = {"plain": "", "pre": "type filter hook prerouting priority 0;"}


@functools.cache
def _listed() -> list[tuple[str, dict[str, Any]]]:
    """nft's listed line and JSON rule body of each of ``READER_CASES + [NEUTRAL]``, in
    order."""
    cases = [*READER_CASES, NEUTRAL]
    listing = load_and_list(cases_ruleset(cases, _READER_CHAINS))
    if not listing.ok:
        pytest.fail(f"nft refused the cases: {listing.error}")
    lines: dict[tuple[str, str], list[str]] = {}
    family = chain = ""
    for line in listing.text.splitlines():
        words = line.split()
        if line.startswith("table "):
            family = words[1]
        elif line.startswith("\tchain "):
            chain = words[1]
        elif line.startswith("\t\t") and not line.startswith("\t\ttype "):
            lines.setdefault((family, chain), []).append(line.strip())
    bodies: dict[tuple[str, str], list[dict[str, Any]]] = {}
    assert listing.json is not None
    for obj in normalize_json(listing.json):
        if "rule" in obj:
            r = obj["rule"]
            bodies.setdefault((r["family"], r["chain"]), []).append(r)
    out: list[tuple[str, dict[str, Any]]] = []
    seen: dict[tuple[str, str], int] = {}
    for f, c, _ in cases:
        i = seen[f, c] = seen.get((f, c), -1) + 1
        out.append((lines[f, c][i], bodies[f, c][i]))
    return out


def _match(rule: Rule, i: int) -> MatchStmt:
    s = rule.stmts[i]
    assert isinstance(s, MatchStmt)
    return s


def _from_json(body: dict[str, Any]) -> Rule:
    return decode_rule(JsonDecoder(), body)


def _stmts_json(rule: Rule, family: str, chain: str) -> list[Any]:
    out = nftkit.to_json(rule, family=family, table="t", chain=chain)
    return out["rule"]["expr"]  # type: ignore[no-any-return]


def _canon(j: Any) -> Any:
    """JSON with the members of every ``"set"`` list sorted."""
    if isinstance(j, dict):
        return {k: sorted((_canon(x) for x in v), key=json.dumps)
                if k == "set" and isinstance(v, list) else _canon(v) for k, v in j.items()}
    if isinstance(j, list):
        return [_canon(x) for x in j]
    return j


@kernel
@pytest.mark.parametrize("i", range(len(READER_CASES)),
                         ids=[f"{t}:{r}" for t, _, _, r in _READERS])
def test_source_and_listing_agree_with_nft(i: int) -> None:
    family, chain, source = READER_CASES[i]
    line, body = _listed()[i]
    want = _from_json(body)
    got = nftkit.parse_rule(source, family=family)
    # (nft lists a set's elements in its own order: compare them as sets)
    assert _canon(_stmts_json(got, family, chain)) == _canon(body["expr"])
    assert _canon(_stmts_json(want, family, chain)) == _canon(body["expr"])
    assert nftkit.to_text(want, family=family) == line
    if "tproxy" in source and " map " not in line:
        # nft < 1.0.10 lists a tproxy port expression without the port (its listing bug):
        # that line does not say the rule; check the text a newer nft prints instead
        text = nftkit.to_text(want, family=family, version=(1, 1, 0))
        assert nftkit.parse_rule(text, family=family) == want
        return
    assert nftkit.parse_rule(line, family=family) == want


@kernel
def test_family_neutral_ct_address_stays_apart() -> None:
    family, chain, source = NEUTRAL
    line, body = _listed()[-1]
    want = _from_json(body)
    ct = _match(want, -1).left
    assert ct == CtExpr(key="saddr", dir="original")  # nft's JSON: "key": "saddr"
    assert _stmts_json(want, family, chain) == body["expr"]
    assert nftkit.to_text(want, family=family) == line
    # as written (``ct original saddr``) it is the same neutral key
    assert nftkit.parse_rule(source, family=family).stmts[-1] == want.stmts[-1]
    # nft's listed line names the family: it reads back as the ``ip saddr`` key
    assert _match(nftkit.parse_rule(line, family=family), -1).left == CtExpr(
        key="saddr", family="ip", dir="original")


def test_ct_key_with_family_is_one_form() -> None:
    assert CtExpr(key="ip6 daddr", dir="reply") == CtExpr(key="daddr", family="ip6",
                                                           dir="reply")
    assert CtExpr(key="ip saddr", family="ip") == CtExpr(key="saddr", family="ip")
    with pytest.raises(ValidationError):
        CtExpr(key="ip saddr", family="ip6")
    rule = nftkit.parse_rule("ct original ip saddr 1.2.3.4", family="inet")
    expr = _stmts_json(rule, "inet", "c")
    for version in ((1, 0, 6), (1, 1, 0)):
        j = nftkit.to_json(rule, family="inet", table="t", chain="c", version=version)
        assert j["rule"]["expr"][0]["match"]["left"] == {
            "ct": {"key": "ip saddr", "dir": "original"}}
    assert _from_json({"expr": expr}) == rule
    # JSON with the family in a key of its own reads as the same node (readers accept both
    # spellings, so JSON that other tools saved keeps loading)
    old = [{"match": {"op": "==", "left": {"ct": {"key": "saddr", "family": "ip",
                                                  "dir": "original"}},
                      "right": "1.2.3.4"}}]
    assert _from_json({"expr": old}) == rule


def test_glued_words() -> None:
    spaced = nftkit.parse_rule("ip6 saddr vmap { fe80:: : accept, ::dddd : drop }",
                               family="ip6")
    assert nftkit.parse_rule("ip6 saddr vmap {fe80:::accept,::dddd: drop}",
                             family="ip6") == spaced
    # a word may still end in "::"
    assert nftkit.parse_rule("ip6 daddr { fe80::, ::1 }", family="ip6") == nftkit.parse_rule(
        "ip6 daddr { fe80:: , ::1 }", family="ip6")
    with pytest.raises(nftkit.ParseError):
        nftkit.parse_rule("ip6 saddr vmap {fe80:::bogus}", family="ip6")


def test_symbolic_range_ends_one_form() -> None:
    r = nftkit.parse_rule("arp operation 1-2", family="arp")
    assert _match(r, 0).right == RangeExpr(low="request", high="reply")
    assert nftkit.to_text(r, family="arp") == "arp operation 1-2"
    # protocols and flags keep numbers, as nft's JSON does
    r = nftkit.parse_rule("meta l4proto 6-17", family="inet")
    assert _match(r, 0).right == RangeExpr(low=6, high=17)
