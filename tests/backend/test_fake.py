"""Unit tests of ``FakeNftables``: semantics, errors, handles (no root, no kernel needed).

tests/backend/test_differential.py checks the same behaviour against the kernel on random sequences;
these tests pin the documented cases one by one.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from nftkit import (
    BusyError,
    Chain,
    Counter,
    ExistsError,
    FakeNftables,
    InvalidError,
    Map,
    MatchStmt,
    NotFoundError,
    ObjrefStmt,
    PayloadExpr,
    PrefixExpr,
    RangeExpr,
    Rule,
    Set,
    SetExpr,
    SetRefExpr,
    Table,
    Transaction,
    UnsupportedError,
    VerdictExpr,
    VerdictMapStmt,
    to_text,
)
from nftkit.backend import Backend
from nftkit.nft.releases import profile

T = ("inet", "t")
SADDR = PayloadExpr(protocol="ip", field="saddr")
DPORT = PayloadExpr(protocol="tcp", field="dport")


def jump(target: str) -> Rule:
    return Rule(stmts=[VerdictExpr(kind="jump", target=target)])


def accept() -> Rule:
    return Rule(stmts=[VerdictExpr(kind="accept")])


@pytest.fixture
def fake() -> FakeNftables:
    """A table with a base chain, two regular chains, a set, a verdict map and a counter."""
    return FakeNftables(Table(
        family="inet", name="t",
        chains=[Chain.base("input", hook="input"), Chain(name="a"), Chain(name="b")],
        sets=[Set(name="s4", type="ipv4_addr"),
              Map(name="vm", type="inet_service", data_type="verdict"),
              Set(name="si", type="ipv4_addr", flags=["interval"])],
        objects=[Counter(name="cn")]))


def error(fake: FakeNftables, txn: Transaction) -> NotFoundError | ExistsError | BusyError:
    with pytest.raises((NotFoundError, ExistsError, BusyError, InvalidError)) as info:
        fake.run(txn)
    return info.value  # type: ignore[return-value]


# --- interface and handles ---------------------------------------------------------------------


def test_follows_the_backend_protocol(fake: FakeNftables) -> None:
    assert isinstance(fake, Backend)


def test_handles_are_numbered_like_the_kernel() -> None:
    fake = FakeNftables()
    result = fake.run(Transaction()
                      .add(Table(family="inet", name="t", chains=[Chain(name="a", rules=[
                          accept(), Rule(stmts=[MatchStmt(left=DPORT, right=SetExpr(
                              elements=(22, 80))), VerdictExpr(kind="accept")])])]))
                      .add(Table(family="ip", name="u", chains=[Chain(name="x")])))
    # tables: one counter per namespace; the rest: one counter per table, from 1; the anonymous
    # set of the second rule takes handle 3, before its rule
    assert result.handles == (1, 1, 2, 4, 2, 1)
    assert [op.kind.value for op, _h in result.created()] == [
        "table", "chain", "rule", "rule", "table", "chain"]
    listed = fake.list_table("inet", "t")
    assert listed.handle == 1
    assert [r.handle for r in listed.chain("a").rules] == [2, 4]


def test_failed_batch_uses_up_handles_like_the_kernel(fake: FakeNftables) -> None:
    (before,) = fake.run(Transaction().add(Chain(name="x"), table=T)).handles
    error(fake, Transaction().add(Chain(name="c"), table=T)
          .delete("chain", table=T, name="missing").add(Chain(name="d"), table=T))
    result = fake.run(Transaction().add(Chain(name="e"), table=T))
    assert before is not None
    # c and d took handles in the aborted batch (the kernel processes all of it)
    assert result.handles == (before + 3,)


def test_list_and_dump(fake: FakeNftables) -> None:
    fake.run(Transaction().add_elements("s4", [IPv4Address("10.0.0.2"), "10.0.0.1"], table=T))
    assert fake.list_set("inet", "t", "s4").elements == (IPv4Address("10.0.0.1"),
                                                         IPv4Address("10.0.0.2"))
    assert fake.list_map("inet", "t", "vm").name == "vm"
    assert fake.list_chain("inet", "t", "a").rules == ()
    assert [c.name for c in fake.list_counters("inet", "t")] == ["cn"]
    assert [t.name for t in fake.list_tables()] == ["t"]
    with pytest.raises(NotFoundError):
        fake.list_set("inet", "t", "vm")
    with pytest.raises(NotFoundError):
        fake.list_table("inet", "nope")
    text = fake.dump()
    assert text == to_text(fake.list_ruleset())
    assert "chain input {" in text and "policy accept;" in text
    assert "# handle" in fake.dump(handles=True)


# --- atomicity and error attribution ----------------------------------------------------------


def test_a_failing_op_undoes_the_whole_transaction(fake: FakeNftables) -> None:
    before = fake.list_ruleset()
    txn = (Transaction().add(Chain(name="c"), table=T).add(accept(), table=T, chain="a")
           .add_elements("s4", [IPv4Address("10.0.0.9")], table=T)
           .delete("chain", table=T, name="missing"))
    exc = error(fake, txn)
    assert isinstance(exc, NotFoundError)
    assert exc.index == 3 and exc.operation is txn.ops[3]
    assert "missing" in str(exc)
    assert fake.list_ruleset() == before


def test_check_is_a_dry_run(fake: FakeNftables) -> None:
    before = fake.list_ruleset()
    fake.check(Transaction().add(Chain(name="c"), table=T))
    assert fake.list_ruleset() == before
    with pytest.raises(NotFoundError) as info:
        fake.check(Transaction().add(Chain(name="c"), table=T).add(jump("zz"), table=T,
                                                                   chain="c"))
    assert info.value.index == 1


# --- add, create, delete, destroy -------------------------------------------------------------


def test_add_create_delete_destroy(fake: FakeNftables) -> None:
    fake.run(Transaction().add(Table(family="inet", name="t")).add(Chain(name="a"), table=T)
             .add(Set(name="s4", type="ipv4_addr"), table=T).add(Counter(name="cn"), table=T))
    for obj in (Table(family="inet", name="t"), Chain(name="a"),
                Set(name="s4", type="ipv4_addr"), Counter(name="cn")):
        txn = Transaction()
        if isinstance(obj, Table):
            txn.create(obj)
        else:
            txn.create(obj, table=T)
        assert isinstance(error(fake, txn), ExistsError)
    for kind in ("chain", "set", "map", "counter", "quota"):
        assert isinstance(error(fake, Transaction().delete(kind, table=T, name="nope")),
                          NotFoundError)
        fake.run(Transaction().destroy(kind, table=T, name="nope"))
    assert isinstance(error(fake, Transaction().delete("table", table=("ip", "x"))),
                      NotFoundError)
    fake.run(Transaction().destroy("table", table=("ip", "x")))
    fake.run(Transaction().delete("table", table=T))
    assert fake.list_ruleset().tables == ()


def test_add_with_another_definition(fake: FakeNftables) -> None:
    assert isinstance(error(fake, Transaction().add(Set(name="s4", type="inet_service"),
                                                    table=T)), ExistsError)
    assert isinstance(error(fake, Transaction().add(Chain.base("a", hook="input"), table=T)),
                      ExistsError)
    assert isinstance(error(fake, Transaction().add(
        Chain.base("input", hook="output"), table=T)), InvalidError)
    # a base chain may change its policy
    fake.run(Transaction().add(Chain.base("input", hook="input", policy="drop"), table=T))
    assert fake.list_table(*T).chain("input").policy == "drop"


def test_rules_by_position(fake: FakeNftables) -> None:
    rules = [Rule(stmts=[VerdictExpr(kind="accept")], comment=str(i)) for i in range(3)]
    result = fake.run(Transaction().add(rules[0], table=T, chain="a")
                      .add(rules[1], table=T, chain="a"))
    first, second = result.handles
    assert first is not None
    fake.run(Transaction().insert(rules[2], table=T, chain="a", before=second))
    fake.run(Transaction().add(Rule(stmts=[VerdictExpr(kind="drop")]), table=T, chain="a",
                               after=first))
    listed = fake.list_chain("inet", "t", "a").rules
    assert [r.comment for r in listed] == ["0", None, "2", "1"]
    fake.run(Transaction().replace(accept(), table=T, chain="a", handle=first))
    assert fake.list_chain("inet", "t", "a").rules[0].comment is None
    assert fake.list_chain("inet", "t", "a").rules[0].handle == first
    fake.run(Transaction().delete("rule", table=T, chain="a", handle=first))
    assert isinstance(error(fake, Transaction().delete("rule", table=T, chain="a",
                                                       handle=first)), NotFoundError)
    assert isinstance(error(fake, Transaction().add(accept(), table=T, chain="a",
                                                    after=999)), NotFoundError)


def test_add_after_a_handle_following_other_changes_is_refused(fake: FakeNftables) -> None:
    (handle,) = fake.run(Transaction().add(accept(), table=T, chain="a")).handles
    assert handle is not None
    with pytest.raises(UnsupportedError):
        fake.run(Transaction().rename("a", "z", table=T)
                 .add(accept(), table=T, chain="a", after=handle))


# --- references -------------------------------------------------------------------------------


def test_dangling_references(fake: FakeNftables) -> None:
    cases = [
        jump("zz"),
        Rule(stmts=[MatchStmt(left=SADDR, right=SetRefExpr(name="nope"))]),
        Rule(stmts=[ObjrefStmt(type="counter", obj="nope")]),
        Rule(stmts=[VerdictMapStmt(key=DPORT, data=SetRefExpr(name="nope"))]),
    ]
    for rule in cases:
        assert isinstance(error(fake, Transaction().add(rule, table=T, chain="a")),
                          NotFoundError), rule
    assert isinstance(error(fake, Transaction().add_elements(
        "vm", [(22, VerdictExpr(kind="goto", target="zz"))], table=T)), NotFoundError)


def test_invalid_references(fake: FakeNftables) -> None:
    cases = [
        jump("input"),  # a base chain
        Rule(stmts=[MatchStmt(left=DPORT, right=SetRefExpr(name="s4"))]),  # key type
        Rule(stmts=[VerdictMapStmt(key=DPORT, data=SetRefExpr(name="s4"))]),  # not a vmap
    ]
    for rule in cases:
        assert isinstance(error(fake, Transaction().add(rule, table=T, chain="a")),
                          InvalidError), rule


def test_deleting_what_is_referenced_is_busy(fake: FakeNftables) -> None:
    fake.run(Transaction()
             .add(jump("b"), table=T, chain="a")
             .add(Rule(stmts=[MatchStmt(left=SADDR, right=SetRefExpr(name="s4"))]),
                  table=T, chain="input")
             .add(Rule(stmts=[ObjrefStmt(type="counter", obj="cn")]), table=T, chain="input")
             .add_elements("vm", [(22, VerdictExpr(kind="jump", target="a"))], table=T))
    for kind, name in (("chain", "b"), ("chain", "a"), ("set", "s4"), ("counter", "cn")):
        exc = error(fake, Transaction().delete(kind, table=T, name=name))
        assert isinstance(exc, BusyError), (kind, name)
        assert name in str(exc)
    # deleting the referring rules first frees them; a chain goes with its rules
    fake.run(Transaction().flush("chain", table=T, name="input")
             .flush("map", table=T, name="vm").delete("chain", table=T, name="a")
             .delete("chain", table=T, name="b")
             .delete("set", table=T, name="s4").delete("counter", table=T, name="cn"))


def test_jump_loops_reachable_from_a_base_chain(fake: FakeNftables) -> None:
    fake.run(Transaction().add(jump("b"), table=T, chain="a").add(jump("a"), table=T,
                                                                   chain="b"))
    exc = error(fake, Transaction().add(jump("a"), table=T, chain="input"))
    assert isinstance(exc, InvalidError) and "loop" in str(exc)


def test_jumps_nest_at_most_15_deep() -> None:
    names = [f"c{i}" for i in range(18)]
    table = Table(family="ip", name="d", chains=[
        Chain.base("base", hook="input"), *(Chain(name=n) for n in names)])
    fake = FakeNftables(table)
    txn = Transaction().add(jump("c0"), table=("ip", "d"), chain="base")
    for i in range(14):  # base -> c0 -> ... -> c14: c14 is 15 jumps deep
        txn.add(jump(names[i + 1]), table=("ip", "d"), chain=names[i])
    fake.run(txn)
    exc = error(fake, Transaction().add(jump("c15"), table=("ip", "d"), chain="c14"))
    assert isinstance(exc, InvalidError)


def test_invalid_base_chains(fake: FakeNftables) -> None:
    fake.run(Transaction().add(Table(family="bridge", name="br"))
             .add(Table(family="netdev", name="nd")))
    cases = [
        (Chain.base("n", type="nat", hook="prerouting"), ("bridge", "br"), NotFoundError),
        (Chain.base("r", type="route", hook="input"), T, InvalidError),
        (Chain.base("n", type="nat", hook="forward"), T, InvalidError),
        (Chain.base("i", hook="ingress"), ("netdev", "nd"), InvalidError),  # no device
        (Chain.base("d", hook="input", devices=["lo"]), T, InvalidError),
    ]
    for chain, table, cls in cases:
        assert isinstance(error(fake, Transaction().add(chain, table=table)), cls), chain
    fake.run(Transaction().add(Chain.base("i", hook="ingress", devices=["lo"]),
                               table=("netdev", "nd")))


# --- elements ---------------------------------------------------------------------------------


def test_element_semantics(fake: FakeNftables) -> None:
    one = IPv4Address("10.0.0.1")
    fake.run(Transaction().add_elements("s4", [one], table=T))
    fake.run(Transaction().add_elements("s4", [one], table=T))  # add of an existing one: fine
    assert isinstance(error(fake, Transaction().create_elements("s4", [one], table=T)),
                      ExistsError)
    fake.run(Transaction().delete_elements("s4", [one], table=T))
    assert isinstance(error(fake, Transaction().delete_elements("s4", [one], table=T)),
                      NotFoundError)
    fake.run(Transaction().destroy_elements("s4", [one], table=T))
    assert isinstance(error(fake, Transaction().add_elements("s4", [80, "x"], table=T)),
                      InvalidError)  # "x" is no address (80 is: 0.0.0.80, as nft reads it)


def test_map_elements(fake: FakeNftables) -> None:
    fake.run(Transaction().add_elements("vm", [(22, VerdictExpr(kind="accept"))], table=T))
    fake.run(Transaction().add_elements("vm", [(22, VerdictExpr(kind="accept"))], table=T))
    assert isinstance(error(fake, Transaction().add_elements(
        "vm", [(22, VerdictExpr(kind="drop"))], table=T)), ExistsError)
    fake.run(Transaction().delete_elements("vm", [22], table=T))
    assert fake.list_map("inet", "t", "vm").elements == ()


def test_interval_elements(fake: FakeNftables) -> None:
    net8 = PrefixExpr(addr=IPv4Address("10.0.0.0"), len=8)
    fake.run(Transaction().add_elements("si", [
        net8, RangeExpr(low=IPv4Address("172.16.0.0"), high=IPv4Address("172.16.0.255")),
        RangeExpr(low=IPv4Address("192.168.0.1"), high=IPv4Address("192.168.0.1"))], table=T))
    # listed as nft lists them: a range that is a prefix as the prefix, one value as itself
    assert fake.list_set("inet", "t", "si").elements == (
        net8, PrefixExpr(addr=IPv4Address("172.16.0.0"), len=24), IPv4Address("192.168.0.1"))
    fake.run(Transaction().add_elements("si", [net8], table=T))
    assert isinstance(error(fake, Transaction().create_elements("si", [net8], table=T)),
                      ExistsError)
    assert isinstance(error(fake, Transaction().add_elements(
        "si", [PrefixExpr(addr=IPv4Address("10.1.0.0"), len=16)], table=T)), InvalidError)
    assert isinstance(error(fake, Transaction().delete_elements(
        "si", [PrefixExpr(addr=IPv4Address("10.1.0.0"), len=16)], table=T)), NotFoundError)
    assert isinstance(error(fake, Transaction().add_elements("s4", [net8], table=T)),
                      InvalidError)  # no interval flag


# --- flush, reset, rename ---------------------------------------------------------------------


def test_flush(fake: FakeNftables) -> None:
    fake.run(Transaction().add(accept(), table=T, chain="a")
             .add_elements("s4", [IPv4Address("10.0.0.1")], table=T))
    fake.run(Transaction().flush("table", table=T))  # rules only
    listed = fake.list_table(*T)
    assert listed.chain("a").rules == () and listed.set("s4").elements
    fake.run(Transaction().flush("set", table=T, name="s4"))
    assert fake.list_set("inet", "t", "s4").elements == ()
    assert isinstance(error(fake, Transaction().flush("set", table=T, name="vm")),
                      NotFoundError)  # nft looks sets and maps up by kind
    fake.run(Transaction().flush())
    assert fake.list_ruleset().tables == ()


def test_flush_ruleset_skips_nfts_cache(fake: FakeNftables) -> None:
    exc = error(fake, Transaction().add(Chain(name="c"), table=T).flush())
    assert isinstance(exc, NotFoundError) and exc.index == 1
    fake.run(Transaction().flush().add(Table(family="inet", name="t", chains=[
        Chain(name="c")])))


def test_reset(fake: FakeNftables) -> None:
    fake.run(Transaction().reset("counter", table=T, name="cn").reset("counters", table=T))
    missing = Transaction().reset("quota", table=T, name="cn")
    # a missing named object: nft 1.0.6 fails (ENOENT), 1.1 resets nothing
    for version in ("1.0.6", "1.1.3"):
        other = FakeNftables(fake.list_ruleset(), version=version)
        if profile(version).reset_missing_object_fails:
            assert isinstance(error(other, missing), NotFoundError)
        else:
            other.run(missing)


def test_rename_takes_the_jumps_along(fake: FakeNftables) -> None:
    fake.run(Transaction().add(jump("b"), table=T, chain="a")
             .add_elements("vm", [(22, VerdictExpr(kind="goto", target="b"))], table=T))
    # the kernel renames at commit: in the same transaction the chain keeps its old name
    fake.run(Transaction().rename("b", "web", table=T).add(accept(), table=T, chain="b"))
    listed = fake.list_table(*T)
    assert [c.name for c in listed.chains] == ["input", "a", "web"]
    assert listed.chain("a").rules[0].stmts == (VerdictExpr(kind="jump", target="web"),)
    assert listed.set("vm").elements == ((22, VerdictExpr(kind="goto", target="web")),)
    assert isinstance(error(fake, Transaction().rename("a", "web", table=T)), ExistsError)
    assert isinstance(error(fake, Transaction().rename("zz", "x", table=T)), NotFoundError)


def test_version_dependent_commands() -> None:
    table = Table(family="inet", name="t", chains=[Chain(name="a")])
    old, new = FakeNftables(table, version="1.0.6"), FakeNftables(table, version="1.1.3")
    txn = Transaction().reset("rules", table=T, chain="a")
    assert isinstance(error(old, txn), InvalidError)  # nft 1.0.6 has no "reset rules"
    new.run(txn)
    assert isinstance(error(new, Transaction().reset("rules", table=T, chain="zz")),
                      NotFoundError)


@pytest.mark.parametrize("version", ["1.0.6", "1.1.3", "1.1.7"])
@pytest.mark.parametrize("then", ["chain", "new name", "table"])
def test_rename_then_delete_is_refused_like_nftables(then: str, version: str) -> None:
    """nft crashes on such a batch (1.0.6, 1.1.3 and 1.1.7 measured), so ``Nftables`` refuses
    it before sending; the fake refuses it the same way, whatever release it mimics."""
    table = Table(family="inet", name="t", chains=[Chain(name="a"), Chain(name="c")])
    txn = Transaction().rename("a", "b", table=T)
    if then == "table":
        txn.delete(Table(family="inet", name="t"))
    else:
        txn.delete(Chain(name="a" if then == "chain" else "b"), table=T)
    fake = FakeNftables(table, version=version)
    before = fake.dump()
    with pytest.raises(UnsupportedError, match=r"operation 1 .*renames a chain"):
        fake.run(txn)
    assert fake.dump() == before  # nothing applied
