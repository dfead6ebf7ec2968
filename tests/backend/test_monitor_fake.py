"""``FakeNftables.monitor()``: the events of changes made through a fake (no kernel needed);
tests/backend/test_monitor.py compares them with the kernel's."""

from __future__ import annotations

import threading
import time

import pytest

import nftkit
from nftkit import Chain, FakeNftables, Rule, Set, Table, Transaction
from nftkit.backend.events import Action, Event, EventKind
from nftkit.model.objects import Counter

T = ("inet", "t")
PORTS = Set(name="ports", type="inet_service")


def commit(mon: object) -> list[Event]:
    out: list[Event] = []
    while True:
        ev = mon.poll(1.0)  # type: ignore[attr-defined]
        assert ev is not None, out
        out.append(ev)
        if ev.kind is EventKind.GENERATION:
            return out


def test_events_of_a_commit() -> None:
    fake = FakeNftables()
    with fake.monitor() as mon:
        start = mon.genid
        fake.run(Transaction().add(Table(family="inet", name="t"))
                 .add(Chain(name="c"), table=T).add(PORTS, table=T)
                 .add(Chain.base(name="in", type="filter", hook="input", priority=0,
                                 policy="accept"), table=T)
                 .add(Counter(name="n"), table=T)
                 .add(nftkit.parse_rule("tcp dport @ports accept"), table=T, chain="c")
                 .add_elements(PORTS, [22, 80], table=T))
        events = commit(mon)
        assert [(ev.kind, ev.action, ev.name) for ev in events] == [
            (EventKind.TABLE, Action.ADD, "t"), (EventKind.CHAIN, Action.ADD, "c"),
            (EventKind.CHAIN, Action.ADD, "in"), (EventKind.OBJECT, Action.ADD, "n"),
            (EventKind.SET, Action.ADD, "ports"),
            (EventKind.ELEMENT, Action.ADD, "ports"), (EventKind.ELEMENT, Action.ADD, "ports"),
            (EventKind.RULE, Action.ADD, None), (EventKind.GENERATION, None, None)]
        assert events[-1].genid == start + 1 == mon.genid
        rs = fake.list_ruleset()
        assert events[0].obj == Table(family="inet", name="t")
        assert events[7].obj == rs.tables[0].chains[0].rules[0]
        assert events[7].chain == "c" and events[7].handle == events[7].obj.handle

        fake.run(Transaction().delete_elements(PORTS, [80], table=T))
        assert [(ev.kind, ev.action, ev.obj) for ev in commit(mon)[:-1]] == [
            (EventKind.ELEMENT, Action.DELETE, 80)]
        fake.run(Transaction().add(Chain.base(name="in", type="filter", hook="input",
                                              priority=0, policy="drop"), table=T))
        (changed, _gen) = commit(mon)
        assert changed.action is Action.ADD and changed.obj.policy == "drop"
        fake.run(Transaction().delete(Table(family="inet", name="t")))
        deleted = commit(mon)[:-1]
        assert [ev.kind for ev in deleted] == [EventKind.RULE, EventKind.SET, EventKind.OBJECT,
                                               EventKind.CHAIN, EventKind.CHAIN,
                                               EventKind.TABLE]
        assert all(ev.obj is not None for ev in deleted)


def test_failed_commits_and_closed_monitors_see_nothing() -> None:
    fake = FakeNftables()
    mon = fake.monitor()
    with pytest.raises(nftkit.NotFoundError):
        fake.run(Transaction().add(Rule(stmts=()), table=T, chain="c"))
    assert mon.poll(0) is None
    mon.close()
    fake.run(Transaction().add(Table(family="ip", name="x")))
    assert mon.poll(0) is None
    with fake.monitor() as again:
        fake.run(Transaction().add(Table(family="ip", name="y")))
        assert [ev.name for ev in commit(again)] == ["y", None]


def test_timeouts_and_blocking_iteration() -> None:
    fake = FakeNftables()
    with fake.monitor() as mon:
        t0 = time.monotonic()
        assert mon.poll(0) is None and mon.poll(0.1) is None
        assert time.monotonic() - t0 >= 0.09
        seen: list[Event] = []
        worker = threading.Thread(target=lambda: seen.extend(mon))
        worker.start()
        fake.run(Transaction().add(Table(family="ip", name="a")))
        time.sleep(0.1)
        mon.close()
        worker.join(5)
        assert not worker.is_alive() and [ev.name for ev in seen] == ["a", None]
