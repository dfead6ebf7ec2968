"""Rules whose parse once changed their meaning, checked against the installed nft.

Every rule below is loaded with ``nft -f`` in a throwaway network namespace; then
``to_json(parse_rule(rule))`` must be the rule as ``nft -j list ruleset`` has it, ``parse_rule``
of nft's listed line must give the same, and ``to_text`` of the parsed rule must be nft's
listed line. Where nft's own listing does not read back to the same rule (nft lists the ``==``
compare ``ct state == established | related`` without its ``==``), the text is checked by
meaning instead: nft must read nftkit's text into the same JSON as the original rule. nftkit
keeps ``ct state == a,b`` a flag list, where nft's JSON has the OR chain ``{"|": [a, b]}``:
such JSON is compared through nft (nft must read nftkit's JSON into its own).

The flag-list test checks the other direction for every relational operator: a model's text
and its JSON must mean the same to nft (``ct state a,b`` is a flag test, ``in``; ``ct state
== a | b`` compares the whole value), except where nftkit prints exactly nft's own listing and
that listing is ambiguous.
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
from nftkit.model.expressions import BinopExpr, BinopOp, CtExpr, ListExpr, PayloadExpr
from nftkit.model.statements import MatchOp, MatchStmt
from nftkit.render.json import to_json
from tests._oracle import NFT, cases_ruleset, have_netns, normalize_json

pytestmark = pytest.mark.skipif(not have_netns(), reason="needs root, nft and unshare -n")

# (family, chain, rule): chain "plain" is a regular chain, "pre"/"post" nat base chains
CASES: list[tuple[str, str, str]] = [
    # `!` is nft's negated flag test (JSON op "!"), not `!=`
    ("inet", "plain", "ct status ! dnat"),
    ("inet", "plain", "tcp flags ! fin,rst"),
    ("inet", "plain", "tcp flags ! syn"),
    ("inet", "plain", "ct state ! established,related"),
    ("inet", "plain", "ct state ! established | related"),
    # flag lists and OR chains with each operator
    ("inet", "plain", "ct state established,related"),
    ("inet", "plain", "ct state established | related"),
    ("inet", "plain", "ct state == established,related"),
    ("inet", "plain", "ct state == established | related | new"),
    ("inet", "plain", "ct state != established,related"),
    ("inet", "plain", "ct state != established | related"),
    ("inet", "plain", "ct state == established"),
    ("inet", "plain", "ct label 127"),
    # log level warn is the kernel's default level
    ("inet", "plain", "log level warn"),
    ("inet", "plain", "log level info"),
    ("inet", "plain", 'log prefix "x" level warn'),
    # NAT: address ranges and port ranges, both families
    ("ip6", "pre", "tcp dport 1 dnat to [::1]-[::5]:80-100"),
    ("ip6", "pre", "tcp dport 1 dnat to [::1]:80-100"),
    ("ip6", "pre", "tcp dport 1 dnat to [::1]:80"),
    ("ip6", "pre", "dnat to [::1]-[::5]"),
    ("ip6", "pre", "dnat to ::1"),
    ("ip6", "pre", "tcp dport 1 redirect to :80-100"),
    ("ip6", "post", "tcp dport 1 snat to [::1]-[::5]:80-100"),
    ("ip6", "post", "tcp dport 1 masquerade to :80-100"),
    ("ip", "pre", "tcp dport 1 dnat to 10.0.0.1-10.0.0.5:80-100"),
    ("ip", "pre", "tcp dport 1 dnat to 10.0.0.1:80-100"),
    ("ip", "pre", "tcp dport 1 dnat to 10.0.0.1:80"),
    ("ip", "pre", "dnat to 10.0.0.1-10.0.0.5"),
    ("ip", "pre", "tcp dport 1 redirect to :80-100"),
    ("ip", "post", "tcp dport 1 snat to 10.0.0.1-10.0.0.5:80-100"),
    ("ip", "post", "tcp dport 1 snat to 10.0.0.1:80-100"),
    ("ip", "post", "tcp dport 1 masquerade to :80-100"),
    ("inet", "pre", "tcp dport 1 dnat ip to 10.0.0.1-10.0.0.5:80-100"),
    ("inet", "pre", "tcp dport 1 dnat ip6 to [::1]-[::5]:80-100"),
    # found by the corpus sweep (tests/parse_rules_report.py)
    ("inet", "plain", "ct mark set jhash ip saddr . ip daddr mod 2 offset 100"),
    ("inet", "plain", "ct mark set jhash ip saddr mod 2 seed 0xdeadbeef offset 100"),
    ("inet", "plain", "tcp option 6 exists"),
    ("inet", "plain", "tcp option 255 missing"),
    ("inet", "plain", "tcp option 2 exists"),
    ("inet", "plain", "reset tcp option 123"),
    ("inet", "plain", "reset tcp option 2"),
    # nft lists these as `ip protocol set icmp`, ..., which nft itself cannot read back
    ("ip", "plain", 'iif "lo" ip protocol set 1'),
    ("ip", "plain", "ip protocol set 6 accept"),
    ("ip6", "plain", "ip6 nexthdr set 17"),
    ("arp", "plain", "arp saddr ip 192.168.1.1 arp daddr ether fe:ed:00:c0:ff:ee"),
    ("arp", "plain", "arp daddr ether set 11:22:33:44:55:66"),
    ("ip6", "plain", "exthdr hbh 1"),
    ("ip6", "plain", "exthdr hbh 0"),
]

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
    """A ruleset with rule ``i`` of ``CASES`` replaced by ``rules[i]``, chain by chain."""
    return cases_ruleset([(f, c, r) for (f, c, _), r in zip(CASES, rules, strict=True)],
                         _CHAINS)


def _split(listing: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """The listed line and the JSON expr of each case, in ``CASES`` order."""
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
    for family, chain, _ in CASES:
        i = seen[family, chain] = seen.get((family, chain), -1) + 1
        out.append((lines[family, chain][i], exprs[family, chain][i]))
    return out


@functools.cache
def _original() -> list[tuple[str, list[Any]]]:
    """nft's listed line and JSON of every case as written."""
    return _split(_run("the cases", _ruleset([r for _, _, r in CASES])))


def _load_lines(rules: list[str]) -> list[list[Any] | None]:
    """nft's JSON of each of ``rules`` (one per case); None for a rule nft refuses to read,
    which is loaded as the case's own rule instead, so that the others still load."""
    refused: set[int] = set()
    for _ in range(len(CASES)):
        text = _ruleset([c[2] if i in refused else r
                         for i, (c, r) in enumerate(zip(CASES, rules, strict=True))])
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
                        for f, _, r in CASES])


@functools.cache
def _ours_json() -> list[list[Any]]:
    """nft's JSON of ``to_json(parse_rule(case))``, loaded with ``nft -j -f``."""
    hooks = {"pre": ("prerouting", -100), "post": ("postrouting", 100)}
    objs: list[Any] = []
    for family in dict.fromkeys(f for f, _, _ in CASES):
        objs.append({"table": {"family": family, "name": "t"}})
        for chain in _CHAINS:
            if not any(f == family and c == chain for f, c, _ in CASES):
                continue
            body: dict[str, Any] = {"family": family, "table": "t", "name": chain}
            if chain in hooks:
                body |= {"type": "nat", "hook": hooks[chain][0], "prio": hooks[chain][1],
                         "policy": "accept"}
            objs.append({"chain": body})
            objs += [{"rule": {"family": family, "table": "t", "chain": chain,
                               "expr": _expr(r, family)}}
                     for f, c, r in CASES if f == family and c == chain]
    listing = _run("nftkit's JSON", json.dumps({"nftables": objs}), json_input=True)
    return [e for _, e in _split(listing)]


def _expr(text: str, family: str) -> list[Any]:
    doc = to_json(nftkit.parse_rule(text, family=family))
    result: list[Any] = json.loads(json.dumps(doc["rule"]["expr"]))
    return result


_IDS = [f"{f}-{r}" for f, _, r in CASES]


@pytest.mark.parametrize("i", range(len(CASES)), ids=_IDS)
def test_parse_gives_nft_json(i: int) -> None:
    family, _, rule = CASES[i]
    want = _original()[i][1]
    got = _expr(rule, family)
    # or the same to nft: nftkit keeps `ct state == a,b` a flag list, which nft's JSON writes
    # as the OR chain {"|": ["a", "b"]}
    assert got == want or _ours_json()[i] == want, got


@pytest.mark.parametrize("i", range(len(CASES)), ids=_IDS)
def test_listing_reads_back(i: int) -> None:
    family, _, _ = CASES[i]
    line, want = _original()[i]
    relisted = _relisted()[i]
    if relisted is not None and relisted != want:
        pytest.skip(f"nft's own listing {line!r} reads back as another rule")
    got = _expr(line, family)
    assert got == want or (_expr(CASES[i][2], family) == got and _ours_json()[i] == want), got


@pytest.mark.parametrize("i", range(len(CASES)), ids=_IDS)
def test_text_is_nft_listing(i: int) -> None:
    family, _, rule = CASES[i]
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


@pytest.mark.parametrize("rule", ["meta mark ! 5", "tcp dport ! 22"])
def test_negation_needs_a_bitmask(rule: str) -> None:
    # nft: "negation can only be used with singleton bitmask values"; nftkit refuses it too
    # (it used to read `!` as `!=`)
    assert isinstance(_try(f"table inet t {{\n  chain c {{\n    {rule}\n  }}\n}}\n"), str)
    with pytest.raises(nftkit.ParseError, match="bitmask"):
        nftkit.parse_rule(rule)
