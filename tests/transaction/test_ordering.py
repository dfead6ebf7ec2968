"""Batch ordering (nftkit.transaction.ordering): phases, what never moves, and that the kernel
ends in the same state (the installed nft as the oracle, in throwaway network namespaces)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from nftkit import Chain, Map, Rule, Set, Table, Transaction
from nftkit.model.enums import SetFlag
from nftkit.model.expressions import PayloadExpr, SetRefExpr, VerdictExpr
from nftkit.model.statements import MatchStmt
from nftkit.transaction import Kind, Verb
from nftkit.transaction.ordering import order_ops, ordered
from tests._oracle import NFT

DPORT = PayloadExpr(protocol="tcp", field="dport")


def sample_table(n: int = 3) -> Table:
    """A set bound by a rule, and a verdict map whose elements go to chains."""
    chains = [Chain(name=f"svc{i}", rules=[Rule(stmts=[VerdictExpr(kind="accept")])])
              for i in range(n)]
    vmap = Map(name="ports", type=("inet_service",), data_type=("verdict",),
               elements=[(1000 + i, VerdictExpr(kind="goto", target=f"svc{i}"))
                         for i in range(n)])
    allowed = Set(name="allowed", type=("inet_service",), elements=[22, 80])
    entry = Chain(name="entry", rules=[
        Rule(stmts=[MatchStmt(left=DPORT, right=SetRefExpr(name="allowed")),
                    VerdictExpr(kind="accept")]),
    ])
    return Table(family="inet", name="t", chains=[entry, *chains], sets=[vmap, allowed])


def phases(ops: list[object]) -> list[str]:
    return [op.kind.value for op in ops]  # type: ignore[attr-defined]


def test_phases_and_split_elements() -> None:
    txn = Transaction().add(sample_table())
    out = order_ops(txn.ops)
    kinds = phases(out)
    first = {k: kinds.index(k) for k in ("table", "map", "set", "chain", "rule", "element")}
    assert first["table"] < first["map"] < first["chain"] < first["rule"] < first["element"]
    assert max(i for i, k in enumerate(kinds) if k == "rule") < first["element"]
    # the sets lost their elements to element ops, which carry the set op's index
    sets = [op for op in out if op.kind in (Kind.SET, Kind.MAP)]
    assert all(not op.obj.elements for op in sets)  # type: ignore[union-attr]
    elems = [(i, op) for i, op in ordered(txn.ops) if op.kind is Kind.ELEMENT]
    assert {op.name for _i, op in elems} == {"ports", "allowed"}
    for i, op in elems:
        assert txn.ops[i].name == op.name and txn.ops[i].kind in (Kind.SET, Kind.MAP)
    # nothing lost: same number of rules, same rule order per chain
    rules = [(op.chain, op.obj) for op in out if op.kind is Kind.RULE]
    assert rules == [(op.chain, op.obj) for op in txn.ops if op.kind is Kind.RULE]


def test_deletes_and_flushes_are_barriers() -> None:
    t = sample_table(1)
    txn = Transaction().add_elements("ports", [(2000, VerdictExpr(kind="accept"))],
                                     table=("inet", "t"))
    txn.delete("chain", table=("inet", "t"), name="svc0")
    txn.add(Chain(name="late"), table=("inet", "t"))
    txn.flush("table", table=t)
    txn.add(Rule(stmts=[VerdictExpr(kind="drop")]), table=("inet", "t"), chain="late")
    out = order_ops(txn.ops)
    assert [(op.verb, op.kind) for op in out] == [(op.verb, op.kind) for op in txn.ops]


def test_constant_sets_keep_their_elements() -> None:
    s = Set(name="c", type=("inet_service",), flags=[SetFlag.CONSTANT], elements=[1, 2])
    txn = Transaction().add(Table(family="inet", name="t", sets=[s]))
    out = order_ops(txn.ops)
    assert [op.kind for op in out] == [Kind.TABLE, Kind.SET]
    assert out[1].obj == s


def test_insert_is_not_moved() -> None:
    txn = Transaction().add(Table(family="inet", name="t", chains=[Chain(name="c")]))
    txn.insert(Rule(stmts=[VerdictExpr(kind="accept")]), table=("inet", "t"), chain="c")
    txn.add(Set(name="s", type=("inet_service",)), table=("inet", "t"))
    out = order_ops(txn.ops)
    assert [op.verb for op in out] == [Verb.ADD, Verb.ADD, Verb.INSERT, Verb.ADD]


def _load(doc: dict[str, object]) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.json"
        path.write_text(json.dumps(doc))
        r = subprocess.run(["unshare", "-n", "sh", "-c",
                            f'{NFT} -j -f "$1" && {NFT} list ruleset', "sh", str(path)],
                           capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout if r.returncode == 0 else r.stderr


@pytest.mark.kernel
@pytest.mark.usefixtures("oracle")
def test_kernel_state_is_the_same() -> None:
    t = sample_table(4)
    txn = Transaction().add(t)
    before = txn.to_json(ordered=False)
    after = Transaction(order_ops(txn.ops)).to_json(ordered=False)
    assert before != after
    assert txn.to_json() == after  # ordered is the default
    rc_b, listed_b = _load(before)
    rc_a, listed_a = _load(after)
    assert rc_a == 0, listed_a
    assert rc_b == 0, listed_b
    assert listed_a == listed_b
    assert "goto svc3" in listed_a and "@allowed" in listed_a


@pytest.mark.kernel
@pytest.mark.usefixtures("oracle")
def test_ordering_repairs_elements_sent_before_their_chains() -> None:
    # Elements that jump to chains added later in the batch: ENOENT as written, fine ordered.
    t = sample_table(2)
    txn = Transaction().add(t.replace(chains=()))
    for c in t.chains:
        txn.add(c, table=t)
    rc_b, _ = _load(txn.to_json(ordered=False))
    rc_a, listed = _load(txn.to_json())
    assert rc_b != 0
    assert rc_a == 0 and "goto svc1" in listed
