"""Validation of container nodes: invalid values raise ValidationError naming class and field,
and no user string can change the meaning of generated text.

The injection property runs against the installed nft in throwaway network namespaces: every
string either is rejected when the node is built, or nft loads the text nftkit renders and
lists it back byte for byte.
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nftkit
from nftkit import (
    Chain,
    Counter,
    ElemExpr,
    Map,
    Priority,
    Rule,
    Ruleset,
    Set,
    Table,
    ValidationError,
    VerdictExpr,
)
from nftkit.model import objects as _objects
from nftkit.nft.keywords import CONTEXT_KEYWORDS, KEYWORDS, NEWER_KEYWORDS
from tests._oracle import load_and_list

IP = ipaddress.ip_address("10.0.0.1")


def _raises(node: str, field: str | None, build: Callable[[], object]) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        build()
    assert err.value.node == node
    assert err.value.field == field
    return err.value


# --- chains -----------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["type", "hook", "priority"])
def test_base_chain_needs_type_hook_and_priority(missing: str) -> None:
    spec = {"type": "filter", "hook": "input", "priority": 0}
    del spec[missing]
    _raises("Chain", missing, lambda: Chain(name="c", **spec))  # type: ignore[arg-type]


def test_policy_and_devices_only_on_base_chains() -> None:
    _raises("Chain", "policy", lambda: Chain(name="c", policy="drop"))
    _raises("Chain", "devices", lambda: Chain(name="c", devices=["eth0"]))


@pytest.mark.parametrize(("family", "hook"), [
    ("ip", "ingress"), ("ip6", "egress"), ("arp", "forward"), ("arp", "prerouting"),
    ("netdev", "input"), ("bridge", "ingress"), ("inet", "egress"),
])
def test_hook_must_suit_the_family(family: str, hook: str) -> None:
    chain = Chain.base("c", hook=hook, priority=0)
    _raises("Chain", "hook", lambda: Table(family=family, name="t", chains=[chain]))


@pytest.mark.parametrize(("family", "type_", "hook"), [
    ("ip", "nat", "forward"), ("inet", "nat", "ingress"), ("bridge", "nat", "prerouting"),
    ("netdev", "nat", "ingress"), ("arp", "nat", "input"), ("ip", "route", "input"),
    ("ip6", "route", "prerouting"), ("bridge", "route", "output"), ("netdev", "route", "egress"),
])
def test_chain_type_must_suit_family_and_hook(family: str, type_: str, hook: str) -> None:
    chain = Chain.base("c", type=type_, hook=hook, priority=0)
    _raises("Chain", "type", lambda: Table(family=family, name="t", chains=[chain]))


@pytest.mark.parametrize(("family", "type_", "hook"), [
    ("ip", "nat", "prerouting"), ("ip6", "nat", "postrouting"), ("inet", "nat", "input"),
    ("inet", "nat", "output"), ("ip", "route", "output"), ("inet", "route", "output"),
    ("bridge", "filter", "forward"), ("arp", "filter", "output"), ("netdev", "filter", "egress"),
    ("inet", "filter", "ingress"),
])
def test_valid_chain_types_are_accepted(family: str, type_: str, hook: str) -> None:
    devices = ["eth0"] if hook in ("ingress", "egress") else []
    Table(family=family, name="t",
          chains=[Chain.base("c", type=type_, hook=hook, priority=0, devices=devices)])


@pytest.mark.parametrize(("family", "hook"), [("ip", "input"), ("inet", "input"),
                                              ("bridge", "forward")])
def test_devices_only_on_ingress_and_netdev(family: str, hook: str) -> None:
    chain = Chain.base("c", hook=hook, priority=0, devices=["eth0"])
    _raises("Chain", "devices", lambda: Table(family=family, name="t", chains=[chain]))


def test_enum_fields_name_class_and_field() -> None:
    _raises("Chain", "hook", lambda: Chain.base("c", hook="sideways"))
    _raises("Chain", "type", lambda: Chain.base("c", type="mangle", hook="input"))
    _raises("Chain", "policy", lambda: Chain.base("c", hook="input", policy="reject"))
    _raises("Table", "family", lambda: Table(family="ipx", name="t"))
    _raises("Set", "policy", lambda: Set(name="s", type="ipv4_addr", policy="fast"))


def test_priority_names_per_family() -> None:
    assert Priority.parse("dstnat - 10").resolve("ip") == -110
    assert Priority.parse("dstnat").resolve("bridge") == -300
    _raises("Chain", "priority", lambda: Table(family="ip", name="t", chains=[
        Chain.base("c", hook="output", priority="out")]))
    _raises("Priority", "name", lambda: Priority.parse("bogus + 1"))


@pytest.mark.parametrize(("family", "hook", "prio", "text"), [
    ("ip", "prerouting", -110, "dstnat - 10"), ("ip", "input", -100, "-100"),
    ("ip", "postrouting", 105, "srcnat + 5"), ("ip", "input", 105, "105"),
    ("inet", "forward", -300, "raw"), ("ip6", "output", -140, "mangle + 10"),
    ("ip", "input", 50, "security"), ("netdev", "ingress", -150, "-150"),
    ("netdev", "ingress", 10, "filter + 10"), ("arp", "input", 11, "11"),
    ("bridge", "prerouting", -300, "dstnat"), ("bridge", "input", -300, "-300"),
    ("bridge", "output", 100, "out"), ("bridge", "postrouting", 300, "srcnat"),
    ("bridge", "forward", -195, "filter + 5"),
])
def test_priority_spelling_follows_prio2str(family: str, hook: str, prio: int, text: str) -> None:
    assert Priority(value=prio).spelling(family, hook) == text


# --- names, comments, devices -------------------------------------------------------------


def test_name_length_limit() -> None:
    Table(family="ip", name="a" * 255)
    _raises("Table", "name", lambda: Table(family="ip", name="a" * 256))
    _raises("Chain", "name", lambda: Chain(name="é" * 128))  # 256 bytes in UTF-8


@pytest.mark.parametrize("bad", ["", "1abc", "a b", "a;b", "a{b", "a}b", "a#b", 'a"b', "a\nb",
                                 "a$b", "a@b", "-ab", "a\x00b", "ä"])
def test_names_that_nft_would_misread(bad: str) -> None:
    _raises("Chain", "name", lambda: Chain(name=bad))
    _raises("Set", "name", lambda: Set(name=bad, type="ipv4_addr"))
    _raises("Counter", "name", lambda: Counter(name=bad))


def test_comment_length_limit() -> None:
    Table(family="ip", name="t", comment="x" * 128)
    _raises("Table", "comment", lambda: Table(family="ip", name="t", comment="x" * 129))
    _raises("Rule", "comment", lambda: Rule(stmts=[], comment="é" * 65))


@pytest.mark.parametrize("bad", ['a"b', "a\nb", "a\tb", "\x7f"])
def test_comments_nft_cannot_quote(bad: str) -> None:
    _raises("Chain", "comment", lambda: Chain(name="c", comment=bad))
    _raises("Set", "comment", lambda: Set(name="s", type="ipv4_addr", comment=bad))
    # an element checks its own comment, wherever it is (a named set, an anonymous set)
    _raises("ElemExpr", "comment", lambda: Set(name="s", type="ipv4_addr",
                                               elements=[ElemExpr(val=IP, comment=bad)]))


@pytest.mark.parametrize("bad", ["", "a" * 16, "a b", "a/b", 'a"b', ".", "..", "a:b", "0eth"])
def test_device_names(bad: str) -> None:
    _raises("Chain", "devices", lambda: Chain.base("c", hook="ingress", devices=[bad]))


def test_duplicate_names_in_a_table() -> None:
    _raises("Table", "chains", lambda: Table(family="ip", name="t",
                                             chains=[Chain(name="c"), Chain(name="c")]))
    _raises("Table", "sets", lambda: Table(family="ip", name="t", sets=[
        Set(name="s", type="ipv4_addr"), Map(name="s", type="ipv4_addr", data_type="mark")]))
    _raises("Table", "objects", lambda: Table(family="ip", name="t",
                                              objects=[Counter(name="c"), Counter(name="c")]))


# --- sets and maps --------------------------------------------------------------------------


def test_set_flag_combinations() -> None:
    _raises("Set", "flags", lambda: Set(name="s", type="ipv4_addr", flags=["constant", "timeout"]))
    _raises("Set", "flags", lambda: Set(name="s", type="ipv4_addr", flags=["constant", "dynamic"]))
    _raises("Set", "timeout", lambda: Set(name="s", type="ipv4_addr", flags=["constant"],
                                          timeout=1000))
    _raises("SetFlag", None, lambda: Set(name="s", type="ipv4_addr", flags=["sticky"]))


def test_set_types_and_map_elements() -> None:
    _raises("Set", "type", lambda: Set(name="s"))
    _raises("Set", "type", lambda: Set(name="s", type="ipv4_addr; drop"))
    _raises("Map", "data_type", lambda: Map(name="m", type="ipv4_addr"))
    _raises("Map", "elements", lambda: Map(name="m", type="ipv4_addr", data_type="mark",
                                           elements=[IP]))
    _raises("Set", "elements", lambda: Set(name="s", type="ipv4_addr", elements=[(IP, 1)]))
    _raises("Set", "size", lambda: Set(name="s", type="ipv4_addr", size=-1))
    assert Map(name="m", type="ipv4_addr", data_type="counter").is_objmap


# --- injection: every string is rejected, or nft reads back exactly what we wrote -------------

#: Every ASCII character and a few multi-byte ones, so each character class is exercised.
ALPHABET = [chr(i) for i in range(128)] + ["é", "ß", "中", "\u2028", "\x85", "😀"]


def _tables(s: str, i: int) -> list[tuple[Callable[[], Table], list[str]]]:
    """Tables that put ``s`` into a name, comment or device; each with the devices it needs."""
    name = f"n{s}x"  # a letter first and last: no accidental nft keyword
    dev = f"d{s}"
    accept = VerdictExpr(kind="accept")
    return [
        (lambda: Table(family="ip", name=name), []),
        (lambda: Table(family="ip", name=f"c{i}", chains=[Chain(name=name)]), []),
        (lambda: Table(family="ip", name=f"s{i}", sets=[Set(name=name, type="ipv4_addr")]), []),
        (lambda: Table(family="ip", name=f"o{i}", objects=[Counter(name=name)]), []),
        (lambda: Table(family="ip", name=f"tc{i}", comment=s), []),
        (lambda: Table(family="ip", name=f"cc{i}", chains=[Chain(name="c", comment=s)]), []),
        (lambda: Table(family="ip", name=f"rc{i}", chains=[
            Chain(name="c", rules=[Rule(stmts=[accept], comment=s)])]), []),
        (lambda: Table(family="ip", name=f"sc{i}", sets=[
            Set(name="s", type="ipv4_addr", comment=s)]), []),
        (lambda: Table(family="ip", name=f"ec{i}", sets=[
            Set(name="s", type="ipv4_addr", elements=[ElemExpr(val=IP, comment=s)])]), []),
        (lambda: Table(family="netdev", name=f"d{i}", chains=[
            Chain.base("c", hook="ingress", priority=0, devices=[dev])]), [dev]),
    ]


@pytest.mark.kernel
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=6),
                min_size=1, max_size=4))
def test_user_strings_cannot_change_the_text(oracle: None, strings: list[str]) -> None:
    tables: list[Table] = []
    devices: list[str] = []
    for j, s in enumerate(strings):
        for build, devs in _tables(s, j):
            try:
                table = build()
            except ValidationError:
                continue
            if all((t.family, t.name) != (table.family, table.name) for t in tables):
                tables.append(table)
                devices += [d for d in devs if d not in devices]
    if not tables:
        return
    text = nftkit.to_text(Ruleset(tables=tables))
    lst = load_and_list(text, devices=devices)
    assert lst.ok, f"nft rejected what nftkit accepted:\n{lst.error}\n{text}"
    assert lst.text == text


def test_printable_ascii_classes_without_the_kernel() -> None:
    """Which characters a name may contain (the kernel test checks nft agrees)."""
    allowed = set(string.ascii_letters + string.digits + "_./-")
    for c in map(chr, range(128)):
        ok = True
        try:
            Chain(name=f"n{c}x")
        except ValidationError:
            ok = False
        assert ok == (c in allowed), repr(c)


# --- names nft reads as keywords --------------------------------------------------------------

_PROBE = "kwprobe"


def _probe_tables(node: str) -> str:
    """nftkit's own text for a ``node`` named ``kwprobe`` (the name is swapped in later)."""
    rules: list[Rule] = []
    if node in ("Set", "Map"):
        from nftkit.model.expressions import PayloadExpr, SetRefExpr
        from nftkit.model.statements import MatchStmt
        rules = [Rule(stmts=[MatchStmt(left=PayloadExpr(protocol="ip", field="saddr"),
                                       right=SetRefExpr(name=_PROBE))])]
    built: dict[str, Callable[[], Table]] = {
        "Table": lambda: Table(family="inet", name=_PROBE),
        "Chain": lambda: Table(family="inet", name="t", chains=[Chain(name=_PROBE)]),
        "Set": lambda: Table(family="inet", name="t", sets=[Set(name=_PROBE, type="ipv4_addr")],
                             chains=[Chain(name="c", rules=rules)]),
        "Map": lambda: Table(family="inet", name="t", sets=[
            Map(name=_PROBE, type="ipv4_addr", data_type="mark")],
            chains=[Chain(name="c", rules=rules)]),
        "Counter": lambda: Table(family="inet", name="t", objects=[Counter(name=_PROBE)]),
        "Quota": lambda: Table(family="inet", name="t", objects=[
            _objects.Quota(name=_PROBE, bytes=1000)]),
        "Limit": lambda: Table(family="inet", name="t", objects=[
            _objects.Limit(name=_PROBE, rate=10)]),
        "Synproxy": lambda: Table(family="inet", name="t", objects=[
            _objects.Synproxy(name=_PROBE, mss=1460, wscale=7)]),
        "CtHelper": lambda: Table(family="ip", name="t", objects=[
            _objects.CtHelper(name=_PROBE, type="ftp")]),
        "CtTimeout": lambda: Table(family="ip", name="t", objects=[
            _objects.CtTimeout(name=_PROBE, policy=[("established", 100)])]),
        "CtExpectation": lambda: Table(family="ip", name="t", objects=[
            _objects.CtExpectation(name=_PROBE, dport=21, timeout=5000, size=12)]),
    }
    return nftkit.to_text(Ruleset(tables=[built[node]()]))


def _nft_accepts(texts: list[str]) -> list[bool]:
    """Whether the installed nft loads each text, each in a fresh throwaway namespace's
    ruleset (one ``unshare -n`` for all: flushed between texts)."""
    import subprocess
    import tempfile
    from pathlib import Path

    from tests._oracle import NFT

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, text in enumerate(texts):
            p = Path(tmp) / f"{i}.nft"
            p.write_text(text)
            paths.append(str(p))
        script = f'for f in "$@"; do {NFT} flush ruleset; {NFT} -f "$f" 2>/dev/null ' \
                 '&& echo 1 || echo 0; done'
        r = subprocess.run(["unshare", "-n", "sh", "-c", script, "sh", *paths],
                           capture_output=True, text=True, check=True)
    return [line == "1" for line in r.stdout.split()]


def test_keywords_are_rejected_as_names() -> None:
    for word in ("accept", "counter", "ip", "rt", "tcp", "."):
        for node, build in [("Table", lambda w: Table(family="inet", name=w)),
                            ("Chain", lambda w: Chain(name=w)),
                            ("Set", lambda w: Set(name=w, type="ipv4_addr")),
                            ("Counter", lambda w: Counter(name=w))]:
            err = _raises(node, "name", lambda b=build, w=word: b(w))  # type: ignore[misc]
            assert "keyword" in str(err) or "operator" in str(err)


def test_context_keywords_only_where_nft_reads_them() -> None:
    # ``packets`` is a keyword after ``counter`` only: a chain may be called so.
    assert Chain(name="packets").name == "packets"
    _raises("Counter", "name", lambda: Counter(name="packets"))
    assert Set(name="ll2", type="ipv4_addr").name == "ll2"
    _raises("Set", "name", lambda: Set(name="ll", type="ipv4_addr"))


@pytest.mark.kernel
def test_keyword_lists_agree_with_the_installed_nft(oracle: None) -> None:
    """A sample of the keyword lists, tried by the installed nft as names in nftkit's text:
    every global keyword is refused (but for the newer releases' ones, which nft 1.0.6 still
    reads as names), every context keyword is refused in its context and read as a chain
    name, and a plain name loads everywhere (so a refusal is about the word)."""
    global_sample = [*sorted(KEYWORDS - NEWER_KEYWORDS)[::5],
                     "accept", "counter", "ip", "rt", "tcp", "."]
    cases: list[tuple[str, str, bool]] = []  # (text, what, whether nft must accept it)
    for node in ("Table", "Chain", "Set"):
        template = _probe_tables(node)
        cases.append((template.replace(_PROBE, "plain_name"), f"{node} plain_name", True))
        cases += [(template.replace(_PROBE, w), f"{node} {w}", False) for w in global_sample]
    chain = _probe_tables("Chain")
    for node, words in CONTEXT_KEYWORDS.items():
        if node in ("Flowtable", "SetRefExpr", "SetStmt", "MapStmt", "FlowOffloadStmt"):
            continue  # no flowtables in this kernel; the statements are covered by Set
        template = _probe_tables(node)
        cases.append((template.replace(_PROBE, "plain_name"), f"{node} plain_name", True))
        for w in sorted(words)[::2]:
            cases.append((template.replace(_PROBE, w), f"{node} {w}", False))
            cases.append((chain.replace(_PROBE, w), f"Chain {w}", True))
    got = _nft_accepts([text for text, _, _ in cases])
    assert len(got) == len(cases)
    wrong = [what for (_, what, want), ok in zip(cases, got, strict=True) if ok != want]
    assert not wrong, f"nft disagrees with nftkit's keyword lists on: {wrong}"


def test_all_wildcard_string_is_rejected() -> None:
    """nft refuses ``iifname "*"`` ("All-wildcard strings are not supported"), alone or in an
    anonymous set; ``"eth*"`` and the escaped literal ``"\\*"`` are fine."""
    from nftkit.model.expressions import MetaExpr, SetExpr
    from nftkit.model.statements import MatchStmt

    iifname = MetaExpr(key="iifname")
    _raises("MatchStmt", "right", lambda: MatchStmt(left=iifname, right="*"))
    _raises("MatchStmt", "right",
            lambda: MatchStmt(left=iifname, right=SetExpr(elements=["eth0", "*"])))
    for ok in ("eth*", "\\*", "**"):
        assert MatchStmt(left=iifname, right=ok).right == ok


def test_packet_limit_burst_zero_is_nfts_default() -> None:
    """nft has no packet burst of 0 (its JSON reader and a limit object take it as 5 and list
    5 back; its text parser refuses it in a statement), so the model stores 5 and the JSON
    round trip holds. A byte limit's burst 0 is a real value."""
    from nftkit import from_json, to_json
    from nftkit.model.statements import LimitStmt

    assert _objects.Limit(name="l", rate=10, burst=0).burst == 5
    assert LimitStmt(rate=10, burst=0).burst == 5
    assert LimitStmt(rate=1024, unit="bytes", burst=0).burst == 0
    rs = Ruleset(tables=[Table(family="inet", name="t",
                               objects=[_objects.Limit(name="l", rate=10, burst=0)],
                               chains=[Chain(name="c", rules=[
                                   Rule(stmts=[LimitStmt(rate=10, burst=0)])])])])
    for version in ("1.0.6", "1.1.3"):
        assert from_json(to_json(rs, version=version)) == rs


@pytest.mark.kernel
def test_packet_limit_burst_zero_loads_as_five(oracle: None) -> None:
    """What the model assumes: nft lists a packet limit object loaded with burst 0 as 5."""
    lst = load_and_list("table inet t {\n\tlimit l {\n\t\trate 10/second burst 0 packets\n"
                        "\t}\n}\n")
    assert lst.ok, lst.error
    assert lst.json is not None
    limits = [i["limit"] for i in lst.json["nftables"] if "limit" in i]
    assert [lim["burst"] for lim in limits] == [5]
    assert nftkit.from_json(lst.json).tables[0].objects[0] == _objects.Limit(
        name="l", rate=10, burst=0)
