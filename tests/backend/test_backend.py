"""The libnftables backend against the real kernel, in throwaway network namespaces.

Every test gets a fresh ``nftkit-test-*`` namespace holding our table ``inet t`` (built by
``base_table()``) and a foreign table ``ip foreign`` loaded from text; after each test the
foreign table must list byte-identical (handles included), whatever we did to ours.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import nftkit
from nftkit import (
    BusyError,
    Chain,
    Counter,
    CounterStmt,
    ExistsError,
    InvalidError,
    Map,
    MatchStmt,
    MetaExpr,
    NotFoundError,
    PayloadExpr,
    Quota,
    Rule,
    Set,
    Table,
    Transaction,
    VerdictExpr,
)
from tests._backend_netns import backend_skip_reason, netns
from tests._releases import installed_profile

pytestmark = pytest.mark.kernel

T = ("inet", "t")
FOREIGN = """
table ip foreign {
    set peers { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.168.1.1 } }
    chain input {
        type filter hook input priority 10; policy accept;
        ip saddr @peers counter accept
        meta l4proto udp th dport 53 counter drop comment "foreign rule"
    }
}
"""


def dport(port: int) -> MatchStmt:
    return MatchStmt(left=PayloadExpr(protocol="tcp", field="dport"), right=port)


def rule(port: int, verdict: str = "accept") -> Rule:
    return Rule(stmts=[dport(port), CounterStmt(), VerdictExpr(kind=verdict)])


def jump(target: str) -> VerdictExpr:
    return VerdictExpr(kind="jump", target=target)


def base_table() -> Table:
    return Table(
        family="inet", name="t",
        objects=[Counter(name="hits", packets=7, bytes=700), Quota(name="q", bytes=1000, used=10)],
        chains=[
            Chain.base("input", hook="input", priority=0, policy="accept",
                       rules=[Rule(stmts=[jump_map()])]),
            Chain(name="svc-a", rules=[rule(80), rule(81, "drop")]),
            Chain(name="svc-b", rules=[rule(443)]),
            Chain(name="spare"),
        ],
        sets=[
            Map(name="ports", type="inet_service", data_type="verdict",
                elements=[(80, jump("svc-a")), (443, jump("svc-b"))]),
            Set(name="addrs", type="ipv4_addr", elements=[ip("10.1.1.1")]),
        ],
    )


def ip(text: str) -> Any:
    import ipaddress

    return ipaddress.ip_address(text)


def jump_map() -> Any:
    """``tcp dport vmap @ports``."""
    from nftkit import SetRefExpr, VerdictMapStmt

    return VerdictMapStmt(key=PayloadExpr(protocol="tcp", field="dport"),
                          data=SetRefExpr(name="ports"))


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel() -> None:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def nft(kernel: None) -> Iterator[nftkit.Nftables]:
    with netns() as name:
        ctx = nftkit.Nftables(netns=name)
        ctx.run_text(FOREIGN)
        foreign = ctx.run_text("list table ip foreign", handles=True)
        ctx.run(Transaction().add(base_table()))
        yield ctx
        # Ownership: whatever the test did to inet t, ip foreign is untouched (unless the test
        # flushed the whole ruleset on purpose and said so).
        if not getattr(ctx, "_flushed_ruleset", False):
            assert ctx.run_text("list table ip foreign", handles=True) == foreign
        ctx.close()


def listing(nft: nftkit.Nftables) -> str:
    """The full ruleset as nft prints it, handles included: the byte-identical witness."""
    return nft.run_text("list ruleset", handles=True) + nft.run_text(
        "list ruleset", json_output=True, handles=True)


def canon(table: Table) -> Any:
    """A table's JSON without handles: equal iff the kernel holds the same objects."""
    return nftkit.to_json(table)


def ours(nft: nftkit.Nftables) -> Table:
    return nft.list_table("inet", "t")


def handle_of(nft: nftkit.Nftables, chain: str, index: int) -> int:
    h = ours(nft).chain(chain).rules[index].handle
    assert h is not None
    return h


# --- every verb, listed back -----------------------------------------------------------------


def test_add_table_lists_back_equal(nft: nftkit.Nftables) -> None:
    assert canon(ours(nft)) == canon(base_table())


def test_run_returns_kernel_handles(nft: nftkit.Nftables) -> None:
    txn = (Transaction().add(Chain(name="new", rules=[rule(1), rule(2)]), table=T)
           .add(Counter(name="c2"), table=T)
           .add_elements("addrs", [ip("10.2.2.2")], table=T))
    result = nft.run(txn)
    listed = ours(nft)
    new = listed.chain("new")
    assert result.handles[0] == new.handle
    assert result.handles[1:3] == tuple(r.handle for r in new.rules)
    assert result.handles[3] == next(o.handle for o in listed.objects if o.name == "c2")
    assert result.handles[4] is None  # elements have no handles
    assert all(isinstance(h, int) for h in result.handles[:4])
    quick = Transaction().add(Chain(name="new2"), table=T)
    assert nft.run(quick, handles=False).handles == (None,)
    assert ours(nft).chain("new2").handle is not None


def test_handles_are_complete_after_failed_transactions(nft: nftkit.Nftables) -> None:
    """libnftables 1.0.6 can echo the first objects of the next batch without handles after
    some failures (process-wide); the handles must still all be there, and right."""
    for _label, build, _index, _cls in _shapes()[1:4]:
        with pytest.raises(nftkit.BackendError):
            nft.run(build())
        with netns() as name:
            other = nftkit.Nftables(netns=name)
            txn = Transaction().add(Table(family="ip", name="x", chains=[
                Chain(name=f"c{i}", rules=[rule(i + 1)]) for i in range(3)]))
            result = other.run(txn)
            listed = other.list_table("ip", "x")
            assert result.handles == (listed.handle, *(c.handle for c in listed.chains),
                                      *(c.rules[0].handle for c in listed.chains))


def test_create_and_add_semantics(nft: nftkit.Nftables) -> None:
    nft.run(Transaction().add(Chain(name="spare"), table=T))  # add of an existing chain: ok
    with pytest.raises(ExistsError):
        nft.run(Transaction().create(Chain(name="spare"), table=T))
    nft.run(Transaction().create(Set(name="s2", type="ipv4_addr"), table=T)
            .create_elements("s2", [ip("1.2.3.4")], table=T))
    assert nft.list_set("inet", "t", "s2").elements == (ip("1.2.3.4"),)
    with pytest.raises(ExistsError):
        nft.run(Transaction().create_elements("s2", [ip("1.2.3.4")], table=T))


def test_insert_add_positions(nft: nftkit.Nftables) -> None:
    first, second = handle_of(nft, "svc-a", 0), handle_of(nft, "svc-a", 1)
    nft.run(Transaction()
            .insert(rule(1), table=T, chain="svc-a")                 # top
            .insert(rule(2), table=T, chain="svc-a", before=second)  # before 81
            .add(rule(4), table=T, chain="svc-a"))                   # bottom
    # add after a handle (sent as an index, computed at that point of the batch)
    nft.run(Transaction().add(rule(3), table=T, chain="svc-a", after=first))
    ports = [r.stmts[0].right for r in ours(nft).chain("svc-a").rules]  # type: ignore[union-attr]
    assert ports == [1, 80, 3, 2, 81, 4]
    nft.run(Transaction().insert(rule(5), table=T, chain="svc-a", index=1))
    ports = [r.stmts[0].right for r in ours(nft).chain("svc-a").rules]  # type: ignore[union-attr]
    assert ports == [1, 5, 80, 3, 2, 81, 4]
    nft.run(Transaction().add(rule(6), table=T, chain="svc-a", index=0))
    ports = [r.stmts[0].right for r in ours(nft).chain("svc-a").rules]  # type: ignore[union-attr]
    assert ports == [1, 6, 5, 80, 3, 2, 81, 4]
    with pytest.raises(NotFoundError) as err:
        nft.run(Transaction().add(rule(7), table=T, chain="svc-a", after=99999))
    assert err.value.index == 0


def test_add_after_handle_within_one_batch(nft: nftkit.Nftables) -> None:
    """add(after=H) where earlier ops of the same transaction move or remove rules."""
    h80, h81 = handle_of(nft, "svc-a", 0), handle_of(nft, "svc-a", 1)

    def ports() -> list[object]:
        return [r.stmts[0].right for r in ours(nft).chain("svc-a").rules]  # type: ignore[union-attr]

    nft.run(Transaction()
            .insert(rule(1), table=T, chain="svc-a")                  # 1 80 81
            .add(rule(2), table=T, chain="svc-a", index=0)            # 1 2 80 81
            .add(rule(3), table=T, chain="svc-a", after=h80)          # 1 2 80 3 81
            .insert(rule(4), table=T, chain="svc-a", before=h81)      # 1 2 80 3 4 81
            .add(rule(5), table=T, chain="svc-a", after=h81)          # ... 81 5
            .add(rule(6), table=T, chain="svc-a", after=h81))         # ... 81 6 5
    assert ports() == [1, 2, 80, 3, 4, 81, 6, 5]
    with pytest.raises(nftkit.UnsupportedError):   # index arithmetic after a delete: refused
        nft.run(Transaction().delete("rule", table=T, chain="svc-a", handle=h80)
                .add(rule(7), table=T, chain="svc-a", after=h81))
    with pytest.raises(NotFoundError) as err:      # the chain was flushed: h81 is gone
        nft.run(Transaction().flush("chain", table=T, name="svc-a")
                .add(rule(7), table=T, chain="svc-a", after=h81))
    assert err.value.index == 1
    nft.run(Transaction().flush("chain", table=T, name="svc-b")
            .add(Chain(name="fresh"), table=T).add(rule(8), table=T, chain="fresh"))
    h8 = ours(nft).chain("fresh").rules[0].handle
    assert h8 is not None
    nft.run(Transaction().add(rule(9), table=T, chain="fresh")
            .add(rule(10), table=T, chain="fresh", after=h8))
    assert [r.stmts[0].right for r in ours(nft).chain("fresh").rules] == [8, 10, 9]  # type: ignore[union-attr]


def test_replace_rule(nft: nftkit.Nftables) -> None:
    h = handle_of(nft, "svc-a", 1)
    nft.run(Transaction().replace(rule(8080), table=T, chain="svc-a", handle=h))
    rules = ours(nft).chain("svc-a").rules
    assert rules[1] == rule(8080) and rules[1].handle == h


def test_delete_by_name_and_handle(nft: nftkit.Nftables) -> None:
    listed = ours(nft)
    spare = listed.chain("spare").handle
    addrs = listed.set("addrs").handle
    assert spare is not None and addrs is not None
    rh = handle_of(nft, "svc-a", 0)
    nft.run(Transaction()
            .delete("chain", table=T, handle=spare)
            .delete("set", table=T, handle=addrs)
            .delete("rule", table=T, chain="svc-a", handle=rh)
            .delete(Counter(name="hits"), table=T)
            .delete("quota", table=T, name="q")
            .delete_elements("ports", [(443, jump("svc-b"))], table=T)
            .delete("rule", table=T, chain="svc-b", handle=handle_of(nft, "svc-b", 0))
            .delete("chain", table=T, name="svc-b"))
    expected = base_table()
    expected = expected.replace(
        objects=(),
        chains=[expected.chains[0], expected.chains[1].replace(rules=expected.chains[1].rules[1:])],
        sets=[expected.sets[0].replace(elements=expected.sets[0].elements[:1])])
    assert canon(ours(nft)) == canon(expected)
    nft.run(Transaction().delete(Table(family="inet", name="t")))
    with pytest.raises(NotFoundError):
        nft.list_table("inet", "t")


def test_destroy_existing_and_missing(nft: nftkit.Nftables) -> None:
    before = canon(ours(nft))
    nft.run(Transaction().destroy("chain", table=T, name="nope")
            .destroy("set", table=T, name="nope")
            .destroy_elements("addrs", [ip("9.9.9.9")], table=T)
            .destroy("table", table=("ip", "nope")))
    assert canon(ours(nft)) == before
    nft.run(Transaction().destroy("chain", table=T, name="spare")
            .destroy_elements("addrs", [ip("9.9.9.9"), ip("10.1.1.1")], table=T)
            .add(Chain(name="tmp"), table=T).destroy("chain", table=T, name="tmp"))
    listed = ours(nft)
    assert [c.name for c in listed.chains] == ["input", "svc-a", "svc-b"]
    assert listed.set("addrs").elements == ()


def test_flush_variants(nft: nftkit.Nftables) -> None:
    nft.run(Transaction().flush("chain", table=T, name="svc-a").flush("set", table=T,
                                                                      name="addrs"))
    listed = ours(nft)
    assert listed.chain("svc-a").rules == () and listed.set("addrs").elements == ()
    nft.run(Transaction().flush("map", table=T, name="ports"))
    assert nft.list_map("inet", "t", "ports").elements == ()
    nft.run(Transaction().flush(Table(family="inet", name="t")))
    assert all(c.rules == () for c in ours(nft).chains)


def test_flush_ruleset(nft: nftkit.Nftables) -> None:
    nft.run(Transaction().flush())
    nft._flushed_ruleset = True  # type: ignore[attr-defined]
    assert nft.list_ruleset().tables == ()


def test_reset_counters_and_quotas(nft: nftkit.Nftables) -> None:
    assert [(c.name, c.packets, c.bytes) for c in nft.list_counters("inet", "t")] == [
        ("hits", 7, 700)]
    nft.run(Transaction().reset("counters", table=T).reset("quota", table=T, name="q"))
    assert [(c.packets, c.bytes) for c in nft.list_counters("inet", "t")] == [(0, 0)]
    assert [(q.name, q.used) for q in nft.list_quotas("inet", "t")] == [("q", 0)]
    nft.run(Transaction().add(Counter(name="c2", packets=5, bytes=50), table=T))
    nft.check(Transaction().reset("counters"))                 # a dry run resets nothing
    assert sorted(c.packets for c in nft.list_counters()) == [0, 5]
    nft.run(Transaction().reset("counters"))                   # every table's
    assert sorted(c.packets for c in nft.list_counters()) == [0, 0]
    assert [c.name for c in nft.list_counters()] == ["hits", "c2"]  # foreign has none
    assert [t.name for t in nft.list_tables()] == ["foreign", "t"]


def test_rename_chain(nft: nftkit.Nftables) -> None:
    nft.run(Transaction().rename("spare", "spare2", table=T))
    assert [c.name for c in ours(nft).chains] == ["input", "svc-a", "svc-b", "spare2"]


def test_rename_then_delete_in_one_batch(nft: nftkit.Nftables) -> None:
    """nft crashes the process on rename + delete of that chain or its table in one batch
    (1.0.6, 1.1.3 and 1.1.7 measured): refused before anything is sent."""
    before = listing(nft)
    for delete in (Transaction().delete("table", table=T),
                   Transaction().delete("chain", table=T, name="spare")):
        txn = Transaction().rename("spare", "spare2", table=T)
        txn._ops.extend(delete.ops)
        with pytest.raises(nftkit.UnsupportedError, match="renames a chain"):
            nft.run(txn)
        assert listing(nft) == before


def test_elements_add_delete_and_list(nft: nftkit.Nftables) -> None:
    nft.run(Transaction().add(Chain(name="svc-c"), table=T)
            .add_elements("ports", [(8080, jump("svc-c"))], table=T)
            .add_elements("addrs", [ip("10.3.3.3"), ip("10.4.4.4")], table=T))
    assert (8080, jump("svc-c")) in nft.list_map("inet", "t", "ports").elements
    assert set(nft.list_set("inet", "t", "addrs").elements) == {
        ip("10.1.1.1"), ip("10.3.3.3"), ip("10.4.4.4")}
    nft.run(Transaction().delete_elements("addrs", [ip("10.3.3.3")], table=T))
    assert ip("10.3.3.3") not in nft.list_set("inet", "t", "addrs").elements
    with pytest.raises(NotFoundError):
        nft.list_map("inet", "t", "addrs")
    with pytest.raises(NotFoundError):
        nft.list_set("inet", "t", "ports")
    with pytest.raises(NotFoundError):
        nft.list_set("inet", "t", "nope")


def test_check_is_a_dry_run(nft: nftkit.Nftables) -> None:
    before = listing(nft)
    nft.check(Transaction().add(Chain(name="x"), table=T).delete("chain", table=T,
                                                                 name="spare")
              .reset("counters", table=T))
    assert listing(nft) == before
    with pytest.raises(NotFoundError) as err:
        nft.check(Transaction().add(Chain(name="x"), table=T).delete("chain", table=T,
                                                                     name="nope"))
    assert err.value.index == 1
    assert listing(nft) == before


# --- atomicity: a later failure leaves everything byte-identical, for every verb -----------

FAIL = ("delete", "chain", "never-existed")


def _verb_txns(nft: nftkit.Nftables) -> dict[str, Callable[[], Transaction]]:
    h0 = handle_of(nft, "svc-a", 0)
    return {
        "add": lambda: Transaction().add(Chain(name="x", rules=[rule(1)]), table=T),
        "add-table": lambda: Transaction().add(Table(family="ip", name="other")),
        "create": lambda: Transaction().create(Set(name="s9", type="ipv4_addr"), table=T),
        "insert": lambda: Transaction().insert(rule(2), table=T, chain="svc-a", before=h0),
        "replace": lambda: Transaction().replace(rule(3), table=T, chain="svc-a", handle=h0),
        "delete": lambda: Transaction().delete("chain", table=T, name="spare"),
        "delete-rule": lambda: Transaction().delete("rule", table=T, chain="svc-a", handle=h0),
        "delete-table": lambda: Transaction().delete("table", table=T),
        "destroy": lambda: Transaction().destroy("chain", table=T, name="spare"),
        "flush-chain": lambda: Transaction().flush("chain", table=T, name="svc-a"),
        "flush-set": lambda: Transaction().flush("set", table=T, name="addrs"),
        "flush-table": lambda: Transaction().flush("table", table=T),
        "flush-ruleset": lambda: Transaction().flush(),
        "reset": lambda: Transaction().reset("counters", table=T).reset("quotas", table=T),
        "rename": lambda: Transaction().rename("spare", "renamed", table=T),
        "add-elements": lambda: Transaction().add_elements("addrs", [ip("10.9.9.9")], table=T),
        "delete-elements": lambda: Transaction().delete_elements("ports", [80], table=T),
    }


def test_atomicity_for_every_verb(nft: nftkit.Nftables) -> None:
    before = listing(nft)
    for name, build in _verb_txns(nft).items():
        txn = build()
        n = len(txn)
        txn.delete("chain", table=T, name="never-existed")
        with pytest.raises(NotFoundError) as err:
            nft.run(txn)
        assert err.value.index == n, name
        assert err.value.operation is txn.ops[n], name
        assert listing(nft) == before, f"{name}: the ruleset changed although the batch failed"


def test_each_verb_alone_succeeds(nft: nftkit.Nftables) -> None:
    """The same ops without the failing tail do apply (so the atomicity test is not vacuous)."""
    for name, build in _verb_txns(nft).items():
        if name in ("flush-ruleset", "delete-table"):
            continue
        before = listing(nft)
        nft.run(build())
        if name not in ("reset",) and not name.startswith("destroy"):
            assert listing(nft) != before, name
        # put everything back for the next verb
        nft.run(Transaction().delete("table", table=T).destroy("table", table=("ip", "other"))
                .add(base_table()))


# --- error attribution ----------------------------------------------------------------------


def _reset_missing() -> Transaction:
    return Transaction().add(Chain(name="a"), table=T).reset("counter", table=T, name="nope")


def test_reset_of_a_missing_counter_follows_the_release(nft: nftkit.Nftables) -> None:
    """nft 1.0.6 fails a reset of a missing named counter (ENOENT, see the failing-op shapes
    above); 1.1 resets nothing and succeeds (release profile ``reset_missing_object_fails``)."""
    if installed_profile().reset_missing_object_fails:
        with pytest.raises(NotFoundError):
            nft.run(_reset_missing())
    else:
        nft.run(_reset_missing())
        assert "chain a" in nft.run_text("list ruleset")


def _shapes() -> list[tuple[str, Callable[[], Transaction], int, type[nftkit.BackendError]]]:
    many = Transaction()
    for i in range(40):
        many.add(Chain(name=f"c{i}"), table=T)
        if i == 27:
            many.add_elements("ports", [(443, jump("svc-a"))], table=("inet", "missing"))
    return [
        ("first op", lambda: Transaction().delete("chain", table=T, name="nope"), 0,
         NotFoundError),
        ("create existing in the middle",
         lambda: Transaction().add(Chain(name="a"), table=T).add(Chain(name="b"), table=T)
         .create(Chain(name="svc-a"), table=T).add(Chain(name="d"), table=T), 2, ExistsError),
        ("rule into a missing chain",
         lambda: Transaction().add(Chain(name="a"), table=T).add(rule(1), table=T, chain="a")
         .add(rule(2), table=T, chain="nope").add(rule(3), table=T, chain="a"), 2,
         NotFoundError),
        ("jump to a missing chain",
         lambda: Transaction().add(Chain(name="a", rules=[
             Rule(stmts=[VerdictExpr(kind="accept")]),
             Rule(stmts=[jump("nowhere")])]), table=T), 2, NotFoundError),
        ("element to a missing set",
         lambda: Transaction().add_elements("addrs", [ip("10.5.5.5")], table=T)
         .add_elements("nope", [ip("10.5.5.5")], table=T), 1, NotFoundError),
        ("verdict map element to a missing chain",
         lambda: Transaction().add_elements("ports", [(22, jump("svc-a"))], table=T)
         .add_elements("ports", [(23, jump("nowhere"))], table=T), 1, NotFoundError),
        ("existing element with create",
         lambda: Transaction().add(Chain(name="a"), table=T)
         .create_elements("addrs", [ip("10.1.1.1")], table=T), 1, ExistsError),
        ("delete a missing element",
         lambda: Transaction().add_elements("addrs", [ip("10.6.6.6")], table=T)
         .delete_elements("addrs", [ip("10.6.6.6")], table=T)
         .delete_elements("addrs", [ip("10.7.7.7")], table=T), 2, NotFoundError),
        ("delete a chain still jumped to",
         lambda: Transaction().add(Chain(name="a"), table=T)
         .delete("chain", table=T, name="svc-a"), 1, BusyError),
        ("delete a set still used",
         lambda: Transaction().add(Chain(name="a"), table=T)
         .delete("map", table=T, name="ports"), 1, BusyError),
        ("delete a missing rule handle",
         lambda: Transaction().add(Chain(name="a"), table=T)
         .delete("rule", table=T, chain="svc-a", handle=99999), 1, NotFoundError),
        ("replace a missing rule handle",
         lambda: Transaction().replace(rule(1), table=T, chain="svc-a", handle=99999), 0,
         NotFoundError),
        ("rename a missing chain",
         lambda: Transaction().add(Chain(name="a"), table=T).rename("nope", "x", table=T), 1,
         NotFoundError),
        ("delete a missing table",
         lambda: Transaction().add(Chain(name="a"), table=T)
         .delete("table", table=("ip6", "nope")), 1, NotFoundError),
        ("wrong element type",
         lambda: Transaction().add(Chain(name="a"), table=T)
         .add_elements("addrs", ["not-an-address"], table=T), 1, InvalidError),
        ("invalid hook for the family",
         lambda: Transaction().add(Table(family="netdev", name="nd"))
         .add(Chain.base("in", hook="input", priority=0), table=("netdev", "nd")), 1,
         nftkit.BackendError),
        ("destroy before a failure",
         lambda: Transaction().destroy("chain", table=T, name="spare")
         .destroy("chain", table=T, name="nope").delete("set", table=T, name="nope"), 2,
         NotFoundError),
        *([("reset of a missing counter after a good batch", _reset_missing, 1, NotFoundError)]
          if installed_profile().reset_missing_object_fails else []),
        ("a jump loop from a base chain",
         lambda: Transaction().add(Chain(name="a"), table=T)
         .add(Rule(stmts=[jump("input")]), table=T, chain="svc-b")
         .add(Chain(name="b"), table=T), 1, InvalidError),
        ("a rule using a missing set",
         lambda: Transaction().add(Chain(name="a"), table=T)
         .add(Rule(stmts=[MatchStmt(left=PayloadExpr(protocol="ip", field="saddr"),
                                    right=nftkit.SetRefExpr(name="nope"))]), table=T,
              chain="a"), 1, NotFoundError),
        ("op 28 of 41", lambda: many, 28, NotFoundError),
    ]


@pytest.mark.parametrize("shape", _shapes(), ids=lambda s: s[0])
def test_error_names_the_failing_op(nft: nftkit.Nftables, shape: Any) -> None:
    _name, build, index, cls = shape
    txn = build()
    before = listing(nft)
    for apply in (nft.check, nft.run):
        with pytest.raises(cls) as err:
            apply(txn)
        assert err.value.index == index
        assert err.value.operation is txn.ops[index]
        assert err.value.nft_message
        assert txn.ops[index].describe() in str(err.value)
        if cls is not nftkit.BackendError:
            assert type(err.value) is cls
    # a reset after a good batch is the one documented exception to atomicity
    if not any(op.verb == "reset" for op in txn.ops):
        assert listing(nft) == before


# --- reads are scoped; namespaces; threads --------------------------------------------------


def test_reads_parse_only_what_was_asked(nft: nftkit.Nftables,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import nftkit.backend.libnftables._reads as backend

    seen: list[tuple[str, str]] = []
    real = backend.from_json

    def spy(doc: Any) -> Any:
        seen.extend((i["table"]["family"], i["table"]["name"])
                    for i in doc["nftables"] if "table" in i)
        return real(doc)

    monkeypatch.setattr(backend, "from_json", spy)
    nft.list_table("inet", "t")
    nft.list_set("inet", "t", "addrs")
    nft.list_map("inet", "t", "ports")
    nft.list_chain("inet", "t", "svc-a")
    nft.list_counters("inet", "t")
    nft.list_quotas("inet", "t")
    assert set(seen) == {("inet", "t")}


def test_namespaces_are_separate(kernel: None) -> None:
    with netns() as a, netns() as b:
        na, nb = nftkit.Nftables(netns=a), nftkit.Nftables(netns=f"/run/netns/{b}")
        na.run(Transaction().add(Table(family="inet", name="only-in-a")))
        assert [t.name for t in na.list_ruleset().tables] == ["only-in-a"]
        assert nb.list_ruleset().tables == ()
    with pytest.raises(NotFoundError):
        nftkit.Nftables(netns="nftkit-test-does-not-exist")


def test_netns_by_file_descriptor(kernel: None) -> None:
    import os

    with netns() as name:
        fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            ctx = nftkit.Nftables(netns=fd)
        finally:
            os.close(fd)
        ctx.run(Transaction().add(Table(family="ip", name="by-fd")))
        assert nftkit.Nftables(netns=name).list_table("ip", "by-fd").name == "by-fd"


def test_threads_share_one_context(nft: nftkit.Nftables) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(20):
                nft.run(Transaction().add_elements(
                    "addrs", [ip(f"10.{100 + k}.0.{i + 1}")], table=T))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(nft.list_set("inet", "t", "addrs").elements) == 1 + 80


def test_text_commands_and_variables(kernel: None, tmp_path: Any) -> None:
    script = tmp_path / "v.nft"
    script.write_text("table inet v {\n  chain c {\n    tcp dport $ports accept\n  }\n}\n")
    with netns() as name:
        ctx = nftkit.Nftables(netns=name, variables={"ports": "{ 22, 80 }"})
        ctx.run_file(script)
        assert "tcp dport { 22, 80 } accept" in ctx.run_text("list table inet v")
        with pytest.raises(InvalidError):
            ctx.run_text("this is not nft")
        with pytest.raises(NotFoundError):
            ctx.run_text("list table inet nope")


def test_closed_context(kernel: None) -> None:
    with netns() as name, nftkit.Nftables(netns=name) as ctx:
        ctx.list_ruleset()
    with pytest.raises(nftkit.BackendError):
        ctx.list_ruleset()


def test_meta_rule_lists_back(nft: nftkit.Nftables) -> None:
    r = Rule(stmts=[MatchStmt(left=MetaExpr(key="iifname"), right="lo"),
                    VerdictExpr(kind="accept")], comment="loopback")
    nft.run(Transaction().insert(r, table=T, chain="input"))
    assert ours(nft).chain("input").rules[0] == r


def test_interface_names_resolve_in_the_namespace(nft: nftkit.Nftables) -> None:
    """``meta iif "nftkit-if0"`` needs the interface: it exists only in the namespace."""
    import subprocess

    name = nft.netns
    assert isinstance(name, str)
    subprocess.run(["ip", "-n", name, "link", "add", "nftkit-if0", "type", "ifb"], check=True)
    r = Rule(stmts=[MatchStmt(left=MetaExpr(key="iif"), right="nftkit-if0"),
                    VerdictExpr(kind="accept")])
    nft.run(Transaction().add(r, table=T, chain="spare"))
    assert 'iif "nftkit-if0" accept' in nft.run_text("list chain inet t spare")


# --- batch ordering ---------------------------------------------------------------------------

OT = ("inet", "o")


def _saddr_in(name: str) -> Rule:
    return Rule(stmts=[MatchStmt(left=PayloadExpr(protocol="ip", field="saddr"),
                                 right=nftkit.SetRefExpr(name=name)), VerdictExpr(kind="accept")])


def _reordered_failures() -> list[tuple[str, Callable[[], Transaction], int]]:
    """Batches that fail at an op that ordering moves: ``(name, build, index of the op)``."""
    return [
        # ordered: table, set, chains c and d, then the rule (sent 5th, written 3rd)
        ("a rule naming a missing set, moved after later chains and sets",
         lambda: Transaction().add(Table(family="inet", name="o"))
         .add(Chain(name="c"), table=OT)
         .add(_saddr_in("nope"), table=OT, chain="c")
         .add(Set(name="s", type="ipv4_addr", elements=[ip("10.0.0.1")]), table=OT)
         .add(Chain(name="d"), table=OT), 2),
        # ordered: table, bare map, chain, then the map's elements (which jump nowhere)
        ("an element split off its map",
         lambda: Transaction().add(Table(family="inet", name="o"))
         .add(Map(name="m", type="inet_service", data_type="verdict",
                  elements=[(80, VerdictExpr(kind="goto", target="missing"))]), table=OT)
         .add(Chain(name="c"), table=OT), 1),
    ]


@pytest.mark.parametrize("shape", _reordered_failures(), ids=lambda s: s[0])
@pytest.mark.parametrize("ordered", [True, False], ids=["ordered", "as-written"])
def test_error_index_maps_back_through_ordering(nft: nftkit.Nftables, shape: Any,
                                                ordered: bool) -> None:
    _name, build, index = shape
    txn = build()
    if ordered:  # the op really is sent somewhere else than where it was written
        assert any(pos != index for pos, (i, _op) in enumerate(txn.batch()) if i == index)
    before = listing(nft)
    for apply in (nft.check, nft.run):
        with pytest.raises(NotFoundError) as err:
            apply(txn, ordered=ordered)
        assert err.value.index == index
        assert err.value.operation is txn.ops[index]
        assert txn.ops[index].describe() in str(err.value)
    assert listing(nft) == before


def _ordering_table() -> Table:
    """Chains reached from a verdict map, a set bound by a rule, a named counter."""
    svcs = [Chain(name=f"svc{i}", rules=[Rule(stmts=[CounterStmt(), VerdictExpr(kind="accept")])])
            for i in range(3)]
    return Table(family="inet", name="o", objects=[Counter(name="n")], chains=[
        Chain.base("entry", hook="input", priority=0, rules=[
            _saddr_in("allowed"), Rule(stmts=[jump_map()])]), *svcs],
        sets=[Map(name="ports", type="inet_service", data_type="verdict",
                  elements=[(1000 + i, VerdictExpr(kind="goto", target=f"svc{i}"))
                            for i in range(3)]),
              Set(name="allowed", type="ipv4_addr", elements=[ip("10.0.0.1"), ip("10.0.0.2")])])


def test_ordered_and_as_written_batches_end_the_same(kernel: None) -> None:
    table = _ordering_table()
    txn = Transaction().add(table)
    assert len(txn.batch()) == len(txn.ops) + 2  # both sets split into set + elements
    listed: dict[bool, str] = {}
    for ordered in (True, False):
        with netns() as name, nftkit.Nftables(netns=name) as ctx:
            result = ctx.run(txn, ordered=ordered)
            listed[ordered] = ctx.run_text("list ruleset")
            # every op that creates something has its handle, the sets' too (their element
            # commands carry the set's index but no handle)
            assert all(h is not None for op, h in zip(txn.ops, result.handles, strict=True)
                       if op.creates)
            doc = json.loads(ctx.run_text("list table inet o", json_output=True, handles=True))
            kinds = ("set", "map", "chain", "counter")
            got = {(k, b["name"]): b["handle"] for item in doc["nftables"]
                   for k, b in item.items() if k in kinds}
            for op, h in zip(txn.ops, result.handles, strict=True):
                if op.kind.value in kinds:
                    assert got[(op.kind.value, op.name)] == h, op
    assert listed[True] == listed[False]
