"""The text parser on its own: grammar, scripts, defines, includes, errors, the fast path.

These tests stand alone (no ../shared, no kernel): the expected models are built with the
model classes or read with ``from_json`` from JSON written here.
"""

from __future__ import annotations

import re
import sys
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings

import nftkit
from nftkit import ParseError, testing
from nftkit.model import Chain, MatchStmt, PayloadExpr, Rule, Table
from nftkit.parse.nft import build_parser, parse_commands, parse_statements
from nftkit.transaction import Kind, Verb

NFT = sys.modules["nftkit.parse.nft"]


def _takes_fast(text: str) -> bool:
    """Whether the listing fast path takes ``text`` (``parse_listing``, left by NotFast)."""
    try:
        NFT.parse_listing(text)
    except NFT.NotFast:
        return False
    return True
FIXTURES = (Path(__file__).resolve().parents[1] / "fixtures")


def test_grammar_is_conflict_free() -> None:
    # lark's strict mode needs interegular to compare terminal regexes (lark[interegular])
    pytest.importorskip("interegular", reason="lark strict mode needs interegular installed")
    build_parser(strict=True)  # strict: any shift/reduce or regex collision raises


# --- block form --------------------------------------------------------------------------

LISTING = """\
table inet filter { # handle 3
	set allowed { # handle 2
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8, 192.168.1.1 }
	}

	chain input { # handle 1
		type filter hook input priority filter; policy drop;
		ct state established,related accept # handle 4
		iifname "lo" accept # handle 5
		ip saddr @allowed tcp dport { 22, 443 } counter packets 0 bytes 0 accept # handle 6
		meta mark & 0x0000ff00 == 0x00000100 drop # handle 7
	}
}
"""


def test_listing_with_handles() -> None:
    rs = nftkit.parse(LISTING)
    t = rs.table("inet", "filter")
    assert t.handle == 3
    chain = t.chain("input")
    assert chain.handle == 1 and [r.handle for r in chain.rules] == [4, 5, 6, 7]
    assert nftkit.to_text(rs, handles=True) == LISTING
    assert nftkit.to_text(rs) == LISTING.replace(" # handle 3", "").replace(
        " # handle 2", "").replace(" # handle 1", "").replace(" # handle 4", "").replace(
        " # handle 5", "").replace(" # handle 6", "").replace(" # handle 7", "")


def test_values_are_semantic() -> None:
    rule = nftkit.parse_rule("ip saddr 10.0.0.1 meta mark 0x00000010 accept", family="ip")
    m1, m2 = rule.stmts[0], rule.stmts[1]
    assert isinstance(m1, MatchStmt) and m1.right == IPv4Address("10.0.0.1")
    assert isinstance(m2, MatchStmt) and m2.right == 16


def test_parse_equals_from_json() -> None:
    doc = {"nftables": [
        {"table": {"family": "ip", "name": "t"}},
        {"chain": {"family": "ip", "table": "t", "name": "c"}},
        {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                       "right": {"set": [22, {"range": [1024, 65535]}]}}},
            {"match": {"op": "in", "left": {"ct": {"key": "state"}},
                       "right": ["established", "related"]}},
            {"counter": {"packets": 0, "bytes": 0}},
            {"jump": {"target": "d"}}]}},
        {"chain": {"family": "ip", "table": "t", "name": "d"}},
    ]}
    text = ("table ip t {\n\tchain c {\n\t\ttcp dport { 22, 1024-65535 } ct state "
            "established,related counter packets 0 bytes 0 jump d\n\t}\n\n"
            "\tchain d {\n\t}\n}\n")
    assert nftkit.parse(text) == nftkit.from_json(doc)


# --- scripts -----------------------------------------------------------------------------

SCRIPT = r"""#!/usr/sbin/nft -f
# a firewall with defines, commands and blocks mixed
flush ruleset
define wan = "eth0"
define ssh_ports = { 22, 2222 }
define web = { 80, 443 }

table inet fw {
	chain input {
		type filter hook input priority 0; policy drop;
		iifname $wan tcp dport $ssh_ports accept
	}
}
add set inet fw blocked { type ipv4_addr; flags interval; }
add element inet fw blocked { 192.0.2.0/24, 198.51.100.7 }
add rule inet fw input ip saddr @blocked drop
insert rule inet fw input ct state established,related accept
add rule inet fw input tcp dport { $web, 8080 } \
	counter accept; add rule inet fw input log prefix "dropped: " drop
"""


def test_script_semantics() -> None:
    rs = nftkit.parse(SCRIPT)
    chain = rs.table("inet", "fw").chain("input")
    texts = [nftkit.to_text(r, family="inet") for r in chain.rules]
    assert texts == [
        "ct state established,related accept",
        'iifname "eth0" tcp dport { 22, 2222 } accept',
        "ip saddr @blocked drop",
        "tcp dport { 80, 443, 8080 } counter packets 0 bytes 0 accept",
        'log prefix "dropped: " drop',
    ]
    assert rs.table("inet", "fw").set("blocked").elements[1] == IPv4Address("198.51.100.7")


def test_parse_script_ops() -> None:
    txn = nftkit.parse_script(SCRIPT)
    kinds = [(op.verb, op.kind) for op in txn.ops]
    assert kinds[0] == (Verb.FLUSH, Kind.RULESET)
    assert (Verb.ADD, Kind.TABLE) in kinds and (Verb.INSERT, Kind.RULE) in kinds
    assert kinds.count((Verb.ADD, Kind.ELEMENT)) == 1
    elem_op = next(op for op in txn.ops if op.kind is Kind.ELEMENT)
    assert elem_op.name == "blocked" and len(elem_op.elements) == 2
    assert txn.to_json()["nftables"][0] == {"flush": {"ruleset": None}}


@pytest.mark.parametrize(("script", "message"), [
    ("add rule inet t c accept", "No such file or directory: table inet t"),
    ("table inet t {}\ncreate table inet t", "File exists: table inet t"),
    ("table inet t {}\ndelete chain inet t c", "No such file or directory: chain"),
    ("table inet t { chain c { jump nowhere } }", "chain nowhere"),
    ("table inet t { chain c { ip saddr @nope } }", "set @nope"),
    ("list ruleset", "list commands cannot be part of a ruleset file"),
    ("table inet t { chain c { tcp dport $undefined } }", "unknown variable $undefined"),
])
def test_script_errors(script: str, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        nftkit.parse(script)


def test_delete_destroy_flush_rename() -> None:
    rs = nftkit.parse("""
table ip t {
	chain a { accept }
	chain b { drop }
	set s { type ipv4_addr; elements = { 10.0.0.1, 10.0.0.2 } }
}
delete chain ip t b
destroy chain ip t b
destroy table ip nothere
delete element ip t s { 10.0.0.1 }
flush chain ip t a
""")
    t = rs.table("ip", "t")
    assert [c.name for c in t.chains] == ["a"] and t.chains[0].rules == ()
    assert t.set("s").elements == (IPv4Address("10.0.0.2"),)


def test_rename_of_a_chain_from_the_same_script_fails() -> None:
    """nft looks the chain's handle up in the ruleset as it was before the script: a chain
    the script itself adds has none yet (nft 1.0.6 -f: "Could not process rule: No such file
    or directory"), as FakeNftables and the kernel agree (tests/backend/test_differential.py)."""
    with pytest.raises(ParseError, match="No such file or directory: chain a") as info:
        nftkit.parse("table ip t {\n\tchain a { accept }\n}\nrename chain ip t a z\n")
    assert info.value.line == 4


def test_rule_positions_by_handle() -> None:
    rs = nftkit.parse("""
table ip t { chain c { } }
add rule ip t c counter
add rule ip t c accept
add rule ip t c position 2 drop
insert rule ip t c position 2 return
replace rule ip t c handle 3 continue
delete rule ip t c handle 2
""")
    rules = rs.table("ip", "t").chain("c").rules
    assert [nftkit.to_text(r, family="ip") for r in rules] == ["return", "drop", "continue"]


def test_comments_semicolons_and_continuations() -> None:
    text = ("table ip t { # comment after a brace\n"
            "  chain c { type filter hook input priority 0 ; policy accept ; }\n"
            "}  # trailing comment\n"
            "add rule ip t c tcp dport \\\n 22 accept  # the end\n")
    rs = nftkit.parse(text)
    assert nftkit.to_text(rs.table("ip", "t").chain("c").rules[0], family="ip") == \
        "tcp dport 22 accept"


# --- includes ----------------------------------------------------------------------------


def test_include_paths_and_globs(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "10-table.nft").write_text("table ip t { chain c { } }\n")
    (tmp_path / "conf.d" / "20-rules.nft").write_text("add rule ip t c $verdict\n")
    (tmp_path / "defs.nft").write_text("define verdict = accept\n")
    main = tmp_path / "main.nft"
    main.write_text('include "defs.nft"\ninclude "conf.d/*.nft"\ninclude "nomatch/*.nft"\n')
    rs = nftkit.parse(main.read_text(), filename=str(main), include_paths=[tmp_path])
    assert nftkit.to_text(rs.table("ip", "t").chain("c").rules[0], family="ip") == "accept"
    with pytest.raises(ParseError, match=r"include file not found: missing\.nft"):
        nftkit.parse('include "missing.nft"', include_paths=[tmp_path])


def test_include_errors_name_the_included_file(tmp_path: Path) -> None:
    (tmp_path / "bad.nft").write_text("table ip t {\n\tchain c { tcp dport accept }\n}\n")
    with pytest.raises(ParseError) as err:
        nftkit.parse(f'include "{tmp_path}/bad.nft"')
    assert err.value.filename == f"{tmp_path}/bad.nft" and err.value.line == 2


def test_include_recursion_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "loop.nft").write_text('include "loop.nft"\n')
    with pytest.raises(ParseError, match="nested too deeply"):
        nftkit.parse('include "loop.nft"', include_paths=[tmp_path])


# --- errors ------------------------------------------------------------------------------


def test_error_location_caret_and_expected() -> None:
    with pytest.raises(ParseError) as err:
        nftkit.parse("table inet t {\n\tchain c {\n\t\ttcp dport accept\n\t}\n}\n",
                     filename="fw.nft")
    e = err.value
    assert (e.filename, e.line, e.column) == ("fw.nft", 3, 13)
    assert e.source_line is not None and "tcp dport accept" in e.source_line
    assert "a name or value" in e.expected
    text = str(e)
    assert text.startswith("fw.nft:3:13: unexpected \"accept\"")
    assert text.splitlines()[-1].strip() == "^"


def test_parse_rule_and_statements() -> None:
    rule = nftkit.parse_rule("tcp dport 22 counter accept comment \"ssh\"")
    assert isinstance(rule, Rule) and rule.comment == "ssh" and len(rule.stmts) == 3
    (stmt,) = parse_statements("update @s { ip saddr : tcp sport }", "ip")
    assert stmt.text_name in ("map_stmt", "set_stmt")
    with pytest.raises(ParseError):
        nftkit.parse_rule("tcp dport")


def test_model_built_in_python_round_trips() -> None:
    table = Table(family="ip", name="t", chains=[Chain(name="c", rules=[
        Rule(stmts=[MatchStmt(left=PayloadExpr(protocol="tcp", field="dport"), right=22)])])])
    rs = nftkit.Ruleset(tables=[table])
    assert nftkit.parse(nftkit.to_text(rs)) == rs


# --- fixtures and the fast path ----------------------------------------------------------


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.nft")), ids=lambda p: p.name)
def test_fixtures_parse_and_round_trip(path: Path) -> None:
    rs = nftkit.parse(path.read_text(), filename=str(path))
    assert nftkit.parse(nftkit.to_text(rs)) == rs


def _listing(n: int) -> str:
    chains = []
    for i in range(n):
        chains.append(
            f"\tchain svc-{i} {{\n"
            f"\t\tip daddr 10.96.{i // 250}.{i % 250 + 1} tcp dport {1000 + i} "
            f"ip saddr != 10.244.0.0/16 jump masq\n"
            f"\t\tmeta l4proto tcp dnat to 10.244.{i // 250}.{i % 250 + 1}:{8000 + i}\n"
            f'\t\tct mark 0x{i:08x} counter packets {i} bytes {i * 60} comment "svc {i}"\n'
            f"\t}}")
    elems = ",\n\t\t\t     ".join(f"10.96.{i // 250}.{i % 250 + 1} . tcp . {1000 + i} : "
                                  f"goto svc-{i}" for i in range(n))
    return ("table ip kp {\n\tmap services {\n\t\ttype ipv4_addr . inet_proto . inet_service"
            f" : verdict\n\t\telements = {{ {elems} }}\n\t}}\n\n"
            "\tchain masq {\n\t\tmeta mark set meta mark | 0x00004000\n\t}\n\n"
            + "\n\n".join(chains) + "\n}\n")


def test_fast_path_equals_lark(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _listing(400)
    assert len(text) > 20_000  # big enough for the fast path
    assert _takes_fast(text)
    fast = nftkit.parse(text)
    monkeypatch.setattr(NFT, "FAST_PATH", False)
    slow = nftkit.parse(text)
    assert fast == slow
    assert nftkit.to_text(fast) == text


def test_fast_path_falls_back_for_errors() -> None:
    text = _listing(300).replace("tcp dport 1007 ", "tcp dport frob 1007 ")
    with pytest.raises(ParseError) as err:
        nftkit.parse(text)
    assert "frob" in str(err.value) and err.value.line is not None


def test_commands_are_items() -> None:
    items = parse_commands("add table ip t\nadd chain ip t c\n")
    assert [i.kind for i in items] == ["table", "chain"]


# --- property: text round trip ------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(testing.rulesets())
def test_parse_of_to_text_round_trips(rs: nftkit.Ruleset) -> None:
    """Text is a fixpoint after one parse: parse(text) renders to the text it came from.

    ``parse(to_text(m)) == m`` is not the property: a model may spell one thing two ways
    (a bare ``RejectStmt()`` and nft's default ``reject with icmpx port-unreachable``, an
    ``==`` where nft's own JSON has ``in``); the parser gives nft's form, as from_json of
    nft's JSON does.
    """
    try:
        parsed = nftkit.parse(nftkit.to_text(rs))
    except ParseError as exc:
        # the strategies may use a set no table declares; nft (and parse) refuse that
        assume("No such file or directory: set @" not in str(exc))
        raise
    text = nftkit.to_text(parsed)
    assert nftkit.parse(text) == parsed
    assert nftkit.to_text(nftkit.parse(text)) == text


def test_rule_positions_by_index() -> None:
    rs = nftkit.parse("table ip t { chain c { accept; drop } }\n"
                      "add rule ip t c index 0 counter\ninsert rule ip t c index 0 return\n")
    rules = rs.table("ip", "t").chain("c").rules
    assert [nftkit.to_text(r, family="ip") for r in rules] == [
        "return", "accept", "counter packets 0 bytes 0", "drop"]
    (op,) = nftkit.parse_script("add rule ip t c index 1 accept").ops
    assert op.index == 1 and op.position is None
