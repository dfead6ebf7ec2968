"""Transaction building: ops, their JSON commands, validation. No kernel needed."""

from __future__ import annotations

import json

import pytest

import nftkit
from nftkit import (
    Chain,
    Counter,
    Map,
    MatchStmt,
    PayloadExpr,
    Quota,
    Rule,
    Ruleset,
    Set,
    Table,
    Transaction,
    ValidationError,
    VerdictExpr,
)
from nftkit.transaction import ALLOWED, Op, Verb

T = ("inet", "t")
RULE = Rule(stmts=[MatchStmt(left=PayloadExpr(protocol="tcp", field="dport"), right=22),
                   VerdictExpr(kind="accept")])


def table() -> Table:
    return Table(
        family="inet", name="t",
        objects=[Counter(name="cnt")],
        chains=[Chain.base("input", hook="input", priority=0, rules=[RULE]),
                Chain(name="svc", rules=[RULE, RULE])],
        sets=[Map(name="vm", type="inet_service", data_type="verdict",
                  elements=[(80, VerdictExpr(kind="jump", target="svc"))]),
              Set(name="s", type="ipv4_addr")],
    )


def commands(txn: Transaction) -> list[tuple[str, str]]:
    out = []
    for cmd in txn.to_json(ordered=False)["nftables"]:
        ((verb, inner),) = cmd.items()
        ((kind, _body),) = inner.items()
        out.append((verb, kind))
    return out


def test_add_table_expands_in_reference_order() -> None:
    txn = Transaction().add(table())
    assert commands(txn) == [("add", "table"), ("add", "counter"), ("add", "chain"),
                             ("add", "chain"), ("add", "map"), ("add", "set"),
                             ("add", "rule"), ("add", "rule"), ("add", "rule")]
    # one op per JSON command, each carrying only its own object
    assert len(txn.ops) == len(txn.to_json(ordered=False)["nftables"])
    first = txn.ops[0].obj
    assert isinstance(first, Table) and first.chains == () and first.sets == ()
    chain_op = txn.ops[2]
    assert isinstance(chain_op.obj, Chain) and chain_op.obj.rules == ()
    assert [op.chain for op in txn.ops[6:]] == ["input", "svc", "svc"]


def test_add_ruleset_adds_every_table() -> None:
    rs = Ruleset(tables=[Table(family="ip", name="a"), Table(family="ip6", name="b")])
    txn = Transaction().add(rs)
    assert [(op.family, op.table) for op in txn.ops] == [("ip", "a"), ("ip6", "b")]


def test_create_uses_create_for_objects_and_add_for_rules() -> None:
    verbs = [op.verb for op in Transaction().create(table()).ops]
    assert verbs[:6] == [Verb.CREATE] * 6 and verbs[6:] == [Verb.ADD] * 3


def test_json_commands_of_every_verb() -> None:
    txn = (Transaction()
           .insert(RULE, table=T, chain="svc", before=7)
           .insert(RULE, table=T, chain="svc", index=0)
           .add(RULE, table=T, chain="svc", after=3)
           .replace(RULE, table=T, chain="svc", handle=4)
           .delete("rule", table=T, chain="svc", handle=5)
           .delete("chain", table=T, name="old")
           .delete("set", table=T, handle=9)
           .destroy(Table(family="ip", name="x"))
           .flush()
           .flush("chain", table=T, name="svc")
           .reset("counters", table=T)
           .reset(Quota(name="q", bytes=10), table=T)
           .rename("svc", "svc2", table=T)
           .add_elements("vm", [(443, VerdictExpr(kind="jump", target="svc"))], table=T)
           .delete_elements("vm", [443], table=T))
    doc = txn.to_json(ordered=False)["nftables"]
    assert doc[0]["insert"]["rule"]["handle"] == 7
    assert doc[1]["insert"]["rule"]["index"] == 0
    assert doc[2]["add"]["rule"]["handle"] == 3
    assert doc[3]["replace"]["rule"]["handle"] == 4
    assert doc[4] == {"delete": {"rule": {"family": "inet", "table": "t", "chain": "svc",
                                          "handle": 5}}}
    assert doc[5] == {"delete": {"chain": {"family": "inet", "table": "t", "name": "old"}}}
    assert doc[6] == {"delete": {"set": {"family": "inet", "table": "t", "handle": 9}}}
    assert doc[7] == {"destroy": {"table": {"family": "ip", "name": "x"}}}
    assert doc[8] == {"flush": {"ruleset": None}}
    assert doc[9] == {"flush": {"chain": {"family": "inet", "table": "t", "name": "svc"}}}
    assert doc[10] == {"reset": {"counters": {"family": "inet", "table": "t"}}}
    assert doc[11] == {"reset": {"quota": {"family": "inet", "table": "t", "name": "q"}}}
    assert doc[12] == {"rename": {"chain": {"family": "inet", "table": "t", "name": "svc",
                                            "newname": "svc2"}}}
    assert doc[13] == {"add": {"element": {"family": "inet", "table": "t", "name": "vm",
                                           "elem": [[443, {"jump": {"target": "svc"}}]]}}}
    assert doc[14] == {"delete": {"element": {"family": "inet", "table": "t", "name": "vm",
                                              "elem": [443]}}}
    json.dumps(doc)  # plain JSON all the way down


def test_ops_describe_and_repr() -> None:
    txn = Transaction().delete("chain", table=T, name="c")
    assert txn.ops[0].describe() == "delete chain inet t c"
    assert repr(txn.ops[0]) == "<Op delete chain inet t c>"
    assert len(txn) == 1 and list(txn) == list(txn.ops)


def test_allowed_is_closed_and_enforced() -> None:
    assert set(ALLOWED) == set(Verb)
    with pytest.raises(ValidationError):
        Op(verb="insert", kind="chain")
    with pytest.raises(ValidationError):
        Op(verb="rename", kind="set")


@pytest.mark.parametrize("build", [
    lambda t: t.add(RULE, table=T),                               # no chain
    lambda t: t.add(RULE, chain="c"),                             # no table
    lambda t: t.add(Chain(name="c")),                             # no table
    lambda t: t.add(Chain(name="c"), table=("nope", "t")),        # bad family
    lambda t: t.add(Chain(name="c"), table=("inet", "")),         # bad table name
    lambda t: t.add(Chain(name="c"), table="t"),                  # not a ref
    lambda t: t.add(Chain(name="c"), table=T, chain="x"),         # chain= for a chain
    lambda t: t.add(PayloadExpr(protocol="tcp", field="dport"), table=T),  # not an object
    lambda t: t.create(RULE, table=T),
    lambda t: t.insert(RULE, table=T, chain="c", before=3, index=1),
    lambda t: t.insert(RULE, table=T, chain="c", before=0),
    lambda t: t.insert(RULE, table=T, chain="c", index=-1),
    lambda t: t.insert(Chain(name="c"), table=T, chain="c"),
    lambda t: t.replace(RULE, table=T, chain="c", handle=True),
    lambda t: t.delete("rule", table=T, chain="c"),               # no handle
    lambda t: t.delete(RULE, table=T, chain="c"),                 # rule without handle
    lambda t: t.delete("chain", table=T),                         # no name or handle
    lambda t: t.delete("bogus", table=T, name="x"),
    lambda t: t.delete("element", table=T, name="s"),
    lambda t: t.delete(Ruleset()),
    lambda t: t.flush("rule", table=T),
    lambda t: t.flush("chain", table=T),                          # no name
    lambda t: t.reset("chain", table=T, name="c"),
    lambda t: t.reset("counters", table=T, chain="c"),
    lambda t: t.reset("rules", chain="c"),                        # chain without table
    lambda t: t.rename("c", 'bad"name', table=T),
    lambda t: t.add_elements("s", [], table=T),
    lambda t: t.add_elements("s", "10.0.0.1", table=T),
    lambda t: t.add_elements(Set(name="s", type="ipv4_addr"), [(1, 2)], table=T),
    lambda t: t.add_elements(Map(name="m", type="ipv4_addr", data_type="mark"), [1], table=T),
    lambda t: t.add_elements("s", [(1, 2, 3)], table=T),
    lambda t: t.append("not an op"),
])
def test_bad_calls_raise_validation_error_at_once(build: object) -> None:
    txn = Transaction()
    with pytest.raises(ValidationError):
        build(txn)  # type: ignore[operator]
    assert len(txn) == 0


def test_delete_map_elements_by_pair_keeps_keys_only() -> None:
    m = Map(name="m", type="inet_service", data_type="verdict")
    txn = Transaction().delete_elements(m, [(80, VerdictExpr(kind="accept"))], table=T)
    assert txn.ops[0].elements == (80,)


def test_result_created() -> None:
    txn = Transaction().add(Table(family="inet", name="t")).flush()
    result = nftkit.TransactionResult(ops=txn.ops, handles=(5, None))
    assert result.created() == [(txn.ops[0], 5)]
