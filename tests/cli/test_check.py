"""Tests of nftkit.check: cross-object problems as Diagnostics, named and located, and
CheckError.

Where a check claims the kernel or nft refuses something, tests/backend/test_differential.py and the
kernel test below hold it to the installed nft.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nftkit
from nftkit import (
    Chain,
    CheckError,
    Counter,
    Map,
    MatchStmt,
    ObjrefStmt,
    PayloadExpr,
    Rule,
    Ruleset,
    Set,
    SetRefExpr,
    Table,
    ValidationError,
    VerdictExpr,
    VerdictMapStmt,
    check,
    problems,
    to_text,
)
from nftkit.check import JUMP_STACK_SIZE, ProblemCode, Severity, chain_problems
from nftkit.semantics.positions import parse_with_positions
from tests._oracle import have_netns, load_and_list

SADDR = PayloadExpr(protocol="ip", field="saddr")
DPORT = PayloadExpr(protocol="tcp", field="dport")


def jump(target: str, kind: str = "jump") -> Rule:
    return Rule(stmts=[VerdictExpr(kind=kind, target=target)])


def table(*chains: Chain, sets: tuple[Set, ...] = (), objects: tuple[Counter, ...] = (),
          family: str = "inet") -> Table:
    return Table(family=family, name="t", chains=chains, sets=sets, objects=objects)


def codes(obj: Table | Ruleset) -> list[ProblemCode]:
    return [p.code for p in problems(obj)]


def test_a_consistent_table_has_no_problems() -> None:
    t = table(Chain.base("input", hook="input", rules=[
        jump("a"),
        Rule(stmts=[MatchStmt(left=SADDR, right=SetRefExpr(name="s4")),
                    VerdictExpr(kind="accept")]),
        Rule(stmts=[VerdictMapStmt(key=DPORT, data=SetRefExpr(name="vm"))]),
        Rule(stmts=[ObjrefStmt(type="counter", obj="cn")]),
    ]), Chain(name="a", rules=[jump("b", "goto")]), Chain(name="b"),
        sets=(Set(name="s4", type="ipv4_addr"),
              Map(name="vm", type="inet_service", data_type="verdict",
                  elements=[(22, VerdictExpr(kind="jump", target="b"))])),
        objects=(Counter(name="cn"),))
    assert problems(t) == []
    assert check(t) == []
    assert problems(Ruleset(tables=[t])) == []


def test_missing_jump_target_names_the_rule() -> None:
    t = table(Chain(name="a", rules=[Rule(stmts=[VerdictExpr(kind="accept")]), jump("nope")]))
    (p,) = problems(t)
    assert p.code is ProblemCode.MISSING_CHAIN and p.severity is Severity.ERROR
    assert p.where == "inet t chain a rule 2"
    assert "'nope'" in p.message
    with pytest.raises(CheckError) as info:
        check(t)
    assert isinstance(info.value, ValidationError)
    assert info.value.problems == [p]
    assert "inet t chain a rule 2: error: jump to chain 'nope'" in str(info.value)
    assert str(info.value).endswith("[E-undefined-chain]")


def test_jump_to_base_chain_and_from_map_elements() -> None:
    t = table(Chain.base("input", hook="input"), Chain(name="a", rules=[jump("input")]),
              sets=(Map(name="vm", type="inet_service", data_type="verdict",
                        elements=[(80, VerdictExpr(kind="goto", target="gone"))]),))
    found = {(p.code, p.where) for p in problems(t)}
    assert found == {(ProblemCode.JUMP_TO_BASE_CHAIN, "inet t chain a rule 1"),
                     (ProblemCode.MISSING_CHAIN, "inet t map vm")}


def test_loops_reachable_from_a_base_chain_are_errors() -> None:
    loop = (Chain(name="a", rules=[jump("b")]), Chain(name="b", rules=[jump("a")]))
    # no base chain reaches it: the kernel accepts it, a warning
    (p,) = problems(table(*loop))
    assert p.code is ProblemCode.JUMP_LOOP_UNREACHED and p.severity is Severity.WARNING
    assert check(table(*loop)) == [p]
    with pytest.raises(CheckError):
        check(table(*loop), warnings=True)
    # reached from a base chain: an error
    found = problems(table(Chain.base("input", hook="input", rules=[jump("a")]), *loop))
    assert [(q.code, q.severity) for q in found] == [(ProblemCode.JUMP_LOOP, Severity.ERROR)]
    assert "a -> b -> a" in found[0].message or "b -> a -> b" in found[0].message


def test_loop_through_a_verdict_map() -> None:
    t = table(Chain.base("input", hook="input", rules=[
        Rule(stmts=[VerdictMapStmt(key=DPORT, data=SetRefExpr(name="vm"))])]),
        Chain(name="a", rules=[Rule(stmts=[VerdictMapStmt(key=DPORT,
                                                          data=SetRefExpr(name="vm"))])]),
        sets=(Map(name="vm", type="inet_service", data_type="verdict",
                  elements=[(22, VerdictExpr(kind="jump", target="a"))]),))
    assert codes(t) == [ProblemCode.JUMP_LOOP]


def chained(n: int) -> Table:
    """A base chain and n regular chains, each jumping to the next: the last is n deep."""
    names = [f"c{i}" for i in range(n)]
    return table(Chain.base("base", hook="input", rules=[jump(names[0])]),
                 *(Chain(name=name, rules=[jump(names[i + 1])] if i + 1 < n else [])
                   for i, name in enumerate(names)))


def test_jump_depth_limit() -> None:
    assert codes(chained(JUMP_STACK_SIZE - 1)) == []
    assert codes(chained(JUMP_STACK_SIZE)) == [ProblemCode.JUMP_TOO_DEEP]


def test_set_references() -> None:
    t = table(Chain(name="a", rules=[
        Rule(stmts=[MatchStmt(left=SADDR, right=SetRefExpr(name="nope"))]),
        Rule(stmts=[MatchStmt(left=DPORT, right=SetRefExpr(name="s4"))]),
        Rule(stmts=[VerdictMapStmt(key=DPORT, data=SetRefExpr(name="ports"))]),
        Rule(stmts=[MatchStmt(left=SADDR, right=SetRefExpr(name="m"))]),  # a map as a set: ok
    ]), sets=(Set(name="s4", type="ipv4_addr"), Set(name="ports", type="inet_service"),
              Map(name="m", type="ipv4_addr", data_type="mark")))
    assert [(p.code, p.where[-6:]) for p in problems(t)] == [
        (ProblemCode.MISSING_SET, "rule 1"),
        (ProblemCode.SET_KEY_TYPE, "rule 2"),
        (ProblemCode.SET_KIND, "rule 3"),
    ]


def test_named_object_references() -> None:
    t = table(Chain(name="a", rules=[Rule(stmts=[ObjrefStmt(type="counter", obj="cn")]),
                                     Rule(stmts=[ObjrefStmt(type="quota", obj="cn")])]),
              objects=(Counter(name="cn"),))
    (p,) = problems(t)
    assert p.code is ProblemCode.MISSING_OBJECT and "quota 'cn'" in p.message


@pytest.mark.parametrize(("family", "chain", "code"), [
    ("inet", Chain.base("c", type="nat", hook="forward"), ProblemCode.CHAIN_TYPE),
    ("inet", Chain.base("c", type="route", hook="input"), ProblemCode.CHAIN_TYPE),
    ("bridge", Chain.base("c", type="nat", hook="prerouting"), ProblemCode.CHAIN_TYPE),
    ("arp", Chain.base("c", type="route", hook="output"), ProblemCode.CHAIN_TYPE),
    ("netdev", Chain.base("c", hook="ingress"), ProblemCode.CHAIN_DEVICE),
    ("inet", Chain.base("c", hook="ingress"), ProblemCode.CHAIN_DEVICE),
    ("ip", Chain.base("c", hook="input", devices=["lo"]), ProblemCode.CHAIN_DEVICE),
    ("ip", Chain.base("c", hook="ingress"), ProblemCode.CHAIN_HOOK),
])
def test_base_chain_rules(family: str, chain: Chain, code: ProblemCode) -> None:
    assert [p.code for p in chain_problems(family, chain)] == [code]


@pytest.mark.parametrize(("family", "chain"), [
    ("inet", Chain.base("c", type="nat", hook="prerouting", priority="dstnat")),
    ("ip6", Chain.base("c", type="route", hook="output")),
    ("netdev", Chain.base("c", hook="ingress", devices=["lo"])),
    ("inet", Chain.base("c", hook="ingress", devices=["lo"])),
    ("arp", Chain.base("c", hook="output")),
    ("bridge", Chain.base("c", hook="forward")),
])
def test_valid_base_chains(family: str, chain: Chain) -> None:
    assert chain_problems(family, chain) == []


def test_codes_are_stable_ids_led_by_their_severity() -> None:
    for code in ProblemCode:
        assert code.value[:2] in ("E-", "W-") and code.value[2:].replace("-", "").isalpha()
    loop = (Chain(name="a", rules=[jump("b")]), Chain(name="b", rules=[jump("a")]))
    for p in problems(table(Chain(name="c", rules=[jump("x")]), *loop)):
        assert p.code[0] == p.severity.value[0].upper()


LOCATED = """\
table inet t {
	set s4 { type ipv4_addr; }
	chain input {
		type filter hook input priority 0;
		jump a
		ip saddr @nope accept
	}
	chain a { jump b }
	chain b { jump a }
}
add rule inet t a tcp dport @s4 accept
"""


def test_every_problem_of_a_parsed_file_has_its_line_and_column() -> None:
    rs, where = parse_with_positions(LOCATED, filename="fw.nft")
    found = where.locate(problems(rs))
    assert [str(p) for p in found] == [
        "fw.nft:6:3: error: @nope does not exist [E-undefined-set]",
        "fw.nft:11:19: error: datatype mismatch: @s4 has keys of type ipv4_addr, the "
        "expression has type inet_service [E-set-key-type]",
        "fw.nft:9:8: error: jump loop reachable from a base chain: a -> b -> a [E-jump-loop]",
    ]
    assert [(p.code, p.where) for p in found] == [(p.code, p.where) for p in problems(rs)]


def test_positions_of_rules_tables_chains_and_sets() -> None:
    text = ("define ports = { 22, 80 }\n"
            "table ip t {\n"
            "\tset s { type ipv4_addr; }\n"
            "\tchain c {\n"
            "\t\ttcp dport $ports accept; drop\n"
            "\t}\n"
            "}\n"
            "insert rule ip t c counter\n")
    rs, where = parse_with_positions(text, filename="p.nft")
    # a side table: the nodes are the ones parse() builds
    assert rs == nftkit.parse(text)
    (t,) = rs.tables
    (c,) = t.chains
    assert where.position(t) == (2, 10)
    assert where.position(c) == (4, 8)
    assert where.position(t.sets[0]) == (3, 6)
    assert [where.position(r) for r in c.rules] == [(8, 20), (5, 3), (5, 28)]
    assert where.position(Rule(stmts=[VerdictExpr(kind="drop")])) is None
    assert where.file == "p.nft"


def test_objects_of_included_files_have_no_position(tmp_path: Path) -> None:
    (tmp_path / "chains.nft").write_text("table inet t {\n\tchain b {\n\t\tjump gone\n"
                                         "\t}\n}\n")
    main = "include \"chains.nft\"\ntable inet t {\n\tchain a {\n\t\tjump nope\n\t}\n}\n"
    rs, where = parse_with_positions(main, filename="main.nft", include_paths=[tmp_path])
    found = where.locate(problems(rs))
    # the included chain's lines are another file's: named by the object path instead
    assert [str(p) for p in found] == [
        "main.nft: inet t chain b rule 1: error: jump to chain 'gone', which does not exist "
        "[E-undefined-chain]",
        "main.nft:4:3: error: jump to chain 'nope', which does not exist [E-undefined-chain]",
    ]


# --- the kernel agrees --------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.parametrize("name", ["missing-jump", "loop", "base-jump", "key-type", "fine",
                                  "deep-ok", "too-deep"])
def test_the_kernel_refuses_what_check_reports(name: str) -> None:
    """Each table loads with ``nft -f`` exactly when ``problems`` finds no error in it."""
    if not have_netns():
        pytest.skip("needs root, nft and network namespaces")
    base = Chain.base("input", hook="input", rules=[jump("a")])
    tables = {
        "missing-jump": table(Chain(name="a", rules=[jump("b")])),
        "loop": table(base, Chain(name="a", rules=[jump("b")]), Chain(name="b",
                                                                       rules=[jump("a")])),
        "base-jump": table(base, Chain(name="a", rules=[jump("input")])),
        "key-type": table(Chain(name="a", rules=[
            Rule(stmts=[MatchStmt(left=DPORT, right=SetRefExpr(name="s"))])]),
            sets=(Set(name="s", type="ipv4_addr"),)),
        "fine": table(base, Chain(name="a", rules=[jump("b")]), Chain(name="b")),
        "deep-ok": chained(JUMP_STACK_SIZE - 1),
        "too-deep": chained(JUMP_STACK_SIZE),
    }
    t = tables[name]
    errors = [p for p in problems(t) if p.severity is Severity.ERROR]
    listing = load_and_list(to_text(t), devices=[])
    assert listing.ok == (not errors), (errors, listing.error)
