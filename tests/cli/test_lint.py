"""nftkit.lint: scaling warnings and unreachable/shadowed rules."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from nftkit import Chain, Map, Rule, Set, Table
from nftkit.diagnostics import Diagnostic, Severity
from nftkit.lint import LintCode, LintLimits, lint
from nftkit.model.expressions import (
    ConcatExpr,
    MetaExpr,
    PayloadExpr,
    PrefixExpr,
    RangeExpr,
    SetExpr,
    SetRefExpr,
    VerdictExpr,
)
from nftkit.model.statements import CounterStmt, MatchOp, MatchStmt

DPORT = PayloadExpr(protocol="tcp", field="dport")
SADDR = PayloadExpr(protocol="ip", field="saddr")
ACCEPT = VerdictExpr(kind="accept")
DROP = VerdictExpr(kind="drop")


def match(left: object, right: object, op: str = "==") -> MatchStmt:
    return MatchStmt(left=left, op=op, right=right)  # type: ignore[arg-type]


def table(*chains: Chain, sets: tuple[Set, ...] = ()) -> Table:
    return Table(family="ip", name="t", chains=chains, sets=sets)


def codes(warnings: list[Diagnostic]) -> list[LintCode]:
    assert all(w.severity is Severity.WARNING for w in warnings)
    return [LintCode(w.code) for w in warnings]


def chain(*rules: tuple[object, ...]) -> Chain:
    return Chain(name="c", rules=[Rule(stmts=stmts) for stmts in rules])  # type: ignore[arg-type]


# --- reachability ----------------------------------------------------------------------------


def test_clean_chain_has_no_warnings() -> None:
    c = chain((match(DPORT, 22), ACCEPT), (match(DPORT, 80), ACCEPT), (DROP,))
    assert lint(table(c)) == []


@pytest.mark.parametrize("ender", [(DROP,), (CounterStmt(), ACCEPT),
                                   (VerdictExpr(kind="goto", target="x"),),
                                   (VerdictExpr(kind="return"),)])
def test_rules_after_an_unconditional_verdict_are_unreachable(ender: tuple[object, ...]) -> None:
    c = chain((match(DPORT, 22), ACCEPT), ender, (match(DPORT, 80), ACCEPT), (DROP,))
    found = lint(table(c))
    assert codes(found) == [LintCode.UNREACHABLE]
    assert found[0].where == "ip t chain c rule 3"
    assert "rules 3..4" in found[0].message and found[0].reason and found[0].suggestion


def test_jump_does_not_end_the_chain() -> None:
    c = chain((VerdictExpr(kind="jump", target="x"),), (DROP,))
    assert lint(table(c)) == []


@pytest.mark.parametrize(("first", "later"), [
    ((match(DPORT, 22), ACCEPT), (match(SADDR, IPv4Address("10.0.0.1")), match(DPORT, 22), DROP)),
    ((match(DPORT, SetExpr(elements=(22, 80))), ACCEPT), (match(DPORT, 80), DROP)),
    ((match(DPORT, RangeExpr(low=1, high=1024)), ACCEPT),
     (match(DPORT, SetExpr(elements=(22, RangeExpr(low=80, high=90)))), ACCEPT)),
    ((match(SADDR, PrefixExpr(addr=IPv4Address("10.0.0.0"), len=8)), CounterStmt(), DROP),
     (match(SADDR, IPv4Address("10.1.2.3")), ACCEPT)),
])
def test_shadowed(first: tuple[object, ...], later: tuple[object, ...]) -> None:
    found = lint(table(chain(first, later)))
    assert codes(found) == [LintCode.SHADOWED]
    assert found[0].where == "ip t chain c rule 2"


@pytest.mark.parametrize(("first", "later"), [
    # the later rule matches packets the first does not
    ((match(DPORT, 22), ACCEPT), (match(DPORT, SetExpr(elements=(22, 80))), DROP)),
    ((match(SADDR, PrefixExpr(addr=IPv4Address("10.0.0.0"), len=16)), DROP),
     (match(SADDR, PrefixExpr(addr=IPv4Address("10.0.0.0"), len=8)), ACCEPT)),
    # != is not decided
    ((match(DPORT, 22, "!="), ACCEPT), (match(DPORT, 80), DROP)),
    # the first rule does not end the chain (jump returns)
    ((match(DPORT, 22), VerdictExpr(kind="jump", target="x")), (match(DPORT, 22), DROP)),
    # a named set's contents are not known to the lint
    ((match(DPORT, SetRefExpr(name="ports")), ACCEPT), (match(DPORT, 22), DROP)),
    # different expressions
    ((match(DPORT, 22), ACCEPT), (match(PayloadExpr(protocol="udp", field="dport"), 22), DROP)),
])
def test_not_shadowed(first: tuple[object, ...], later: tuple[object, ...]) -> None:
    assert lint(table(chain(first, later))) == []


# --- scaling ---------------------------------------------------------------------------------


def test_many_anonymous_sets() -> None:
    rules = [(match(DPORT, SetExpr(elements=(2 * i + 1, 2 * i + 2))), ACCEPT) for i in range(40)]
    t = table(chain(*rules))
    assert lint(t) == []
    found = lint(t, limits=LintLimits(anonymous_sets=39))
    assert codes(found) == [LintCode.ANONYMOUS_SETS]
    assert "40 anonymous sets" in found[0].message
    assert "grouped" in found[0].suggestion or "one named map per group" in found[0].suggestion


def test_one_element_anonymous_set_is_a_comparison() -> None:
    rules = [(match(DPORT, SetExpr(elements=(i,))), ACCEPT) for i in range(1, 41)]
    assert lint(table(chain(*rules)), limits=LintLimits(anonymous_sets=0)) == []


def test_map_bound_by_many_rules() -> None:
    key = ConcatExpr(exprs=(SADDR, MetaExpr(key="l4proto")))
    m = Set(name="allowed", type=("ipv4_addr", "inet_proto"))
    rules = [(match(DPORT, i), match(key, SetRefExpr(name="allowed")), ACCEPT)
             for i in range(1, 11)]
    t = table(chain(*rules), sets=(m,))
    assert lint(t, limits=LintLimits(map_bindings=10)) == []
    found = lint(t, limits=LintLimits(map_bindings=9))
    assert codes(found) == [LintCode.MAP_BINDINGS]
    assert found[0].where == "ip t set allowed" and "10 rules" in found[0].message


def test_dense_jump_graph_counts_rules_and_vmap_elements() -> None:
    targets = [Chain(name=f"x{i}") for i in range(6)]
    vmap = Map(name="vm", type=("inet_service",), data_type=("verdict",),
               elements=[(i, VerdictExpr(kind="goto", target=f"x{i}")) for i in range(3)])
    jumps = chain(*[(match(DPORT, 100 + i), VerdictExpr(kind="jump", target=f"x{i}"))
                    for i in range(3)])
    t = table(jumps, *targets, sets=(vmap,))
    assert lint(t, limits=LintLimits(jump_edges=6)) == []
    found = lint(t, limits=LintLimits(jump_edges=5))
    assert codes(found) == [LintCode.JUMP_GRAPH] and "6 jump/goto edges" in found[0].message


def test_str_and_notes_show_reason_and_suggestion() -> None:
    found = lint(table(chain((DROP,), (ACCEPT,))))
    text = str(found[0])
    assert text.startswith("ip t chain c rule 2: warning: rule 2 is unreachable:")
    assert text.endswith(" [W-unreachable]")
    why, instead = found[0].notes()
    assert why.startswith("ip t chain c rule 2: note: why: ")
    assert instead.startswith("ip t chain c rule 2: note: instead: ")


def test_codes_are_stable_ids() -> None:
    assert all(c.value.startswith("W-") and c.value[2:].replace("-", "").isalpha()
               for c in LintCode)


def test_match_op_in_is_like_eq() -> None:
    c = chain((match(DPORT, SetExpr(elements=(22, 80)), MatchOp.IN.value), ACCEPT),
              (match(DPORT, 22), DROP))
    assert codes(lint(table(c))) == [LintCode.SHADOWED]


# --- command line ----------------------------------------------------------------------------

SCRIPT = """table ip t {
	chain c {
		tcp dport { 22, 80 } accept
		tcp dport 22 drop
		counter drop
		ip saddr 10.0.0.1 accept
	}
}
"""


def test_cli_text_and_json(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    import nftkit
    from nftkit.cli import main

    path = Path(str(tmp_path)) / "rules.nft"
    path.write_text(SCRIPT)
    assert main(["lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:4:3: warning: rule 2 can never match" in out
    assert f"{path}:6:3: warning: rule 4 is unreachable" in out
    assert f"{path}:6:3: note: why:" in out
    # JSON has no line numbers: the object path says where
    as_json = Path(str(tmp_path)) / "rules.json"
    import json

    as_json.write_text(json.dumps(nftkit.to_json(nftkit.parse(SCRIPT))))
    assert main(["lint", str(as_json)]) == 1
    out = capsys.readouterr().out
    assert f"{as_json}: ip t chain c rule 2: warning: rule 2 can never match" in out
    assert f"{as_json}: ip t chain c rule 4: warning: rule 4 is unreachable" in out
    clean = Path(str(tmp_path)) / "clean.nft"
    clean.write_text("table ip t {\n\tchain c {\n\t\ttcp dport 22 accept\n\t}\n}\n")
    assert main(["lint", str(clean)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["lint", str(Path(str(tmp_path)) / "missing.nft")]) == 2
    assert "nftkit lint:" in capsys.readouterr().err


# --- the measured cost model -----------------------------------------------------------------


def _classic_like(n: int) -> Table:
    """n service chains, each `numgen random mod 2 vmap { 0 : goto a, 1 : goto b }`, a
    verdict map element per service: kube-proxy's classic shape."""
    from nftkit.model.expressions import NumgenExpr
    from nftkit.model.statements import VerdictMapStmt

    chains = [Chain(name=f"svc{i}", rules=[Rule(stmts=[VerdictMapStmt(
        key=NumgenExpr(mode="random", mod=2),
        data=SetExpr(elements=((0, VerdictExpr(kind="goto", target=f"ep{i}a")),
                               (1, VerdictExpr(kind="goto", target=f"ep{i}b")))))])])
              for i in range(n)]
    chains += [Chain(name=f"ep{i}{x}") for i in range(n) for x in "ab"]
    vmap = Map(name="service-ips", type=("ipv4_addr",), data_type=("verdict",),
               elements=[(IPv4Address(0x0A600000 + i), VerdictExpr(kind="goto", target=f"svc{i}"))
                         for i in range(n)])
    return Table(family="ip", name="kube-proxy", chains=chains, sets=(vmap,))


def test_update_cost_is_estimated_from_the_cost_model() -> None:
    from nftkit.lint import CostModel

    t = _classic_like(100)  # 300 edges: under jump_edges, the estimate decides
    assert lint(t, limits=LintLimits(anonymous_sets=1000)) == []  # 400 objects x 1.5 us
    slow = CostModel(validate_us=50.0)  # 400 x 50 us = 20 ms per update
    (found,) = lint(t, limits=LintLimits(anonymous_sets=1000), costs=slow)
    assert found.code == LintCode.JUMP_GRAPH
    assert "400 rules and verdict elements" in found.message
    assert "about 20.0 ms per update" in found.message
    assert "shard" in found.suggestion and "10 tables of 1k" in found.suggestion
    # few edges: never, whatever the estimate (a small table with data maps)
    assert lint(_classic_like(20), costs=CostModel(validate_us=1e6)) == []


def test_quadratic_load_is_estimated_from_the_cost_model() -> None:
    from nftkit.lint import CostModel

    (found,) = [w for w in lint(_classic_like(300), costs=CostModel(anon_load_ns=1000.0))
                if w.code == LintCode.ANONYMOUS_SETS]
    assert "about 90.0 ms in the kernel" in found.message  # 300^2 x 1 us
    assert "batches of a few hundred" in found.suggestion
    assert CostModel().load_s(10_000) > 10  # the classic layout at 10k: tens of seconds
