"""``Nftables.monitor()`` against the kernel, in throwaway namespaces: every kind of event,
changes by other processes, objects exactly as ``list_ruleset()`` gives them (or none, saying
why), namespace isolation, timeouts, generation ids, and no leaked fds or threads."""

from __future__ import annotations

import contextlib
import gc
import io
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

import nftkit
from nftkit import Chain, Rule, Set, Table, Transaction
from nftkit.backend.events import Action, Event, EventKind
from nftkit.errors import ValidationError
from nftkit.model.expressions import ConcatExpr, PayloadExpr, PrefixExpr, RangeExpr, VerdictExpr
from nftkit.model.objects import Counter, Limit, Quota
from nftkit.model.sets import Map
from nftkit.model.statements import CounterStmt, MatchStmt
from tests._backend_netns import backend_skip_reason, netns
from tests.backend import test_differential as differential
from tests.conftest import record

pytestmark = pytest.mark.kernel
T = ("inet", "t")


@pytest.fixture
def name() -> Iterator[str]:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    with netns() as ns:
        yield ns


def nft_cli(ns: str, *args: str, stdin: str | None = None) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "nft", *args], input=stdin, text=True,
                   check=True, capture_output=True)


def commit(mon: nftkit.backend._monitor.Monitor, timeout: float = 5.0) -> list[Event]:
    """The events of the next commit, its generation event last."""
    out: list[Event] = []
    while True:
        ev = mon.poll(timeout)
        assert ev is not None, f"no generation event after {out}"
        out.append(ev)
        if ev.kind is EventKind.GENERATION:
            return out


def stripped(obj: Any) -> Any:
    """A listed object as an event carries it: without its contents."""
    if isinstance(obj, Table):
        return attrs.evolve(obj, chains=(), sets=(), flowtables=(), objects=())
    if isinstance(obj, Chain):
        return attrs.evolve(obj, rules=())
    if isinstance(obj, Set):
        return attrs.evolve(obj, elements=())
    return obj


def listed(rs: nftkit.Ruleset, ev: Event) -> Any:
    """What ``list_ruleset`` has for the object of ``ev``."""
    t = next(t for t in rs.tables if (t.family, t.name) == (ev.family, ev.table))
    if ev.kind is EventKind.TABLE:
        return stripped(t), t.handle
    if ev.kind is EventKind.CHAIN:
        c = next(c for c in t.chains if c.name == ev.name)
        return stripped(c), c.handle
    if ev.kind is EventKind.RULE:
        r = next(r for c in t.chains if c.name == ev.chain for r in c.rules
                 if r.handle == ev.handle)
        return r, r.handle
    if ev.kind is EventKind.SET:
        s = next(s for s in t.sets if s.name == ev.name)
        return stripped(s), s.handle
    if ev.kind is EventKind.OBJECT:
        o = next(o for o in t.objects if o.handle == ev.handle)
        return o, o.handle
    raise AssertionError(ev)


def assert_exact(events: list[Event], rs: nftkit.Ruleset) -> None:
    """Every event's object is the listed one (sets' elements: among the listed)."""
    for ev in events:
        if ev.kind is EventKind.GENERATION:
            continue
        assert ev.obj is not None and ev.reason is None, str(ev)
        if ev.kind is EventKind.ELEMENT:
            t = next(t for t in rs.tables if (t.family, t.name) == (ev.family, ev.table))
            s = next(s for s in t.sets if s.name == ev.name)
            assert ev.obj in s.elements, (ev.obj, s.elements)
            continue
        obj, handle = listed(rs, ev)
        assert ev.obj == obj and type(ev.obj) is type(obj)
        assert ev.handle == handle == getattr(ev.obj, "handle", handle)


PORTS = Set(name="ports", type="inet_service")
PAIRS = Set(name="pairs", type=("ipv4_addr", "inet_service"), comment="pairs")
VMAP = Map(name="vm", type="inet_service", data_type="verdict")
NAT = Map(name="nat", type="ipv4_addr", data_type="ipv4_addr")
RULE = Rule(stmts=(MatchStmt(left=PayloadExpr(protocol="th", field="dport"), right=22),
                   CounterStmt()), comment="ssh")


def ruleset_txn() -> Transaction:
    return (Transaction()
            .add(Table(family="inet", name="t", comment="mine"))
            .add(Counter(name="hits", comment="c"), table=T)
            .add(Quota(name="q", bytes=1 << 20, inv=True), table=T)
            .add(Limit(name="lim", rate=10, per="second"), table=T)
            .add(PORTS, table=T).add(PAIRS, table=T).add(VMAP, table=T).add(NAT, table=T)
            .add(Chain(name="other"), table=T)
            .add(Chain.base(name="input", type="filter", hook="input", priority=10,
                            policy="drop"), table=T)
            .add(RULE, table=T, chain="input")
            .add(nftkit.parse_rule("tcp dport @ports accept"), table=T, chain="input")
            .add(nftkit.parse_rule("tcp dport vmap @vm"), table=T, chain="input")
            .add(nftkit.parse_rule("ip saddr . tcp dport @pairs drop"), table=T, chain="input")
            .add_elements(PORTS, [22, 80, 443], table=T)
            .add_elements(PAIRS, [ConcatExpr(exprs=(IPv4Address("10.0.0.1"), 80))],
                          table=T)
            .add_elements(VMAP, [(22, VerdictExpr(kind="accept")),
                                 (23, VerdictExpr(kind="jump", target="other"))], table=T)
            .add_elements(NAT, [(IPv4Address("1.2.3.4"), IPv4Address("10.0.0.9"))],
                          table=T))


def test_every_kind_of_event_is_the_listed_object(name: str) -> None:
    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon:
        start = mon.genid
        nft.run(ruleset_txn())
        events = commit(mon)
        rs = nft.list_ruleset()
        assert_exact(events, rs)
        kinds = {ev.kind for ev in events}
        assert kinds == {EventKind.TABLE, EventKind.CHAIN, EventKind.RULE, EventKind.SET,
                         EventKind.OBJECT, EventKind.ELEMENT, EventKind.GENERATION}
        assert all(ev.action is Action.ADD for ev in events[:-1])
        gen = events[-1]
        assert gen.genid == start + 1 == mon.genid and gen.pid == os.getpid()
        assert all(ev.genid == gen.genid for ev in events)
        elements = [ev.obj for ev in events if ev.kind is EventKind.ELEMENT]
        assert len(elements) == 3 + 1 + 2 + 1
        by_type = {type(ev.obj) for ev in events if ev.kind is EventKind.OBJECT}
        assert by_type == {Counter, Quota, Limit}

        # deletes: the objects as they were listed; stateful ones without (and saying why)
        before = {(ev.kind, ev.handle if ev.kind is not EventKind.TABLE else ev.name): ev
                  for ev in events if ev.kind is not EventKind.ELEMENT}
        nft.run(Transaction().delete_elements(PORTS, [80], table=T))
        (el, gen) = commit(mon)
        assert (el.kind, el.action, el.name, el.obj) == (EventKind.ELEMENT, Action.DELETE,
                                                         "ports", 80)
        nft.run(Transaction().delete(Table(family="inet", name="t")))
        deleted = commit(mon)[:-1]
        assert {ev.action for ev in deleted} == {Action.DELETE}
        assert {ev.kind for ev in deleted} == {EventKind.TABLE, EventKind.CHAIN,
                                               EventKind.RULE, EventKind.SET,
                                               EventKind.OBJECT}
        for ev in deleted:
            added = before[(ev.kind, ev.handle if ev.kind is not EventKind.TABLE
                            else ev.name)]
            if isinstance(added.obj, Counter | Quota) or (
                    isinstance(added.obj, Rule) and any(
                        isinstance(s, CounterStmt) for s in added.obj.stmts)):
                assert ev.obj is None and "counters" in (ev.reason or "")
            else:
                assert ev.obj == added.obj and ev.reason is None, str(ev)
        assert deleted[-1].kind is EventKind.TABLE


def signature(ev: Event) -> tuple[object, ...]:
    return (ev.kind, ev.action, ev.family, ev.table, ev.name, ev.chain, ev.handle, repr(ev.obj))


def test_the_fake_gives_the_same_events(name: str) -> None:
    """FakeNftables.monitor(): the kernel's events for the same commits (order within a
    commit aside)."""
    fake = nftkit.FakeNftables()
    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon, fake.monitor() as fmon:
        def both(txn: Transaction) -> list[Event]:
            nft.run(txn)
            fake.run(txn)
            kernel = commit(mon)[:-1]
            ours = commit(fmon)[:-1]
            assert sorted(map(signature, ours), key=repr) == sorted(map(signature, kernel),
                                                                   key=repr)
            return kernel

        vm_rule = next(ev for ev in both(ruleset_txn())
                       if ev.kind is EventKind.RULE and "vm" in repr(ev.obj))
        both(Transaction().delete(vm_rule.obj, table=T, chain="input", handle=vm_rule.handle))
        both(Transaction().delete_elements(PORTS, [80], table=T)
             .add(nftkit.parse_rule("udp dport 53 accept"), table=T, chain="other")
             .delete(VMAP, table=T))


def test_changes_by_another_process(name: str) -> None:
    """Changes made by the nft command line (another process) are decoded the same."""
    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon:
        nft_cli(name, "-f", "-", stdin="""
            table ip filter {
                set allow { type ipv4_addr; elements = { 192.0.2.1, 192.0.2.2 }; }
                map ports { type inet_service : verdict; elements = { 80 : accept }; }
                chain input { type filter hook input priority 0; policy accept;
                    ip saddr @allow accept
                    tcp dport vmap @ports
                    iifname "lo" tcp dport { 22, 2222 } accept comment "anon"
                    ct state established,related accept
                }
            }
        """)
        events = commit(mon)
        assert events[-1].process == "nft" and events[-1].pid != os.getpid()
        assert_exact(events, nft.list_ruleset())
        assert [ev.name for ev in events if ev.kind is EventKind.SET] == ["allow", "ports"]
        nft_cli(name, "add", "element", "ip", "filter", "allow", "{ 198.51.100.7 }")
        (el, _gen) = commit(mon)
        assert el.obj == IPv4Address("198.51.100.7")
        nft_cli(name, "delete", "rule", "ip", "filter", "input", "handle",
                str(events[-2].handle))
        (rule, _gen) = commit(mon)
        assert rule.action is Action.DELETE and rule.obj == events[-2].obj


def test_namespace_isolation(name: str) -> None:
    with netns() as other, nftkit.Nftables(netns=name) as nft, \
            nftkit.Nftables(netns=other) as elsewhere, nft.monitor() as mon:
        elsewhere.run(Transaction().add(Table(family="ip", name="x")))
        nft_cli(other, "add", "table", "ip", "y")
        assert mon.poll(0.3) is None
        nft.run(Transaction().add(Table(family="ip", name="here")))
        assert [ev.name for ev in commit(mon)] == ["here", None]

    # a namespace given as an open file descriptor (the handle keeps its own copy)
    with netns() as third:
        fd = os.open(f"/run/netns/{third}", os.O_RDONLY)
        try:
            with nftkit.Nftables(netns=fd) as nft, nft.monitor() as mon:
                nft_cli(third, "add", "table", "ip", "z")
                (table, _gen) = commit(mon)
                assert table.obj == Table(family="ip", name="z")
        finally:
            os.close(fd)


def test_timeouts_and_non_blocking(name: str) -> None:
    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon:
        t0 = time.monotonic()
        assert mon.poll(0) is None
        assert mon.poll(0.2) is None
        waited = time.monotonic() - t0
        assert 0.15 <= waited < 5
        assert list(mon.events(0.1)) == []
        nft.run(Transaction().add(Table(family="ip", name="a")))
        nft.run(Transaction().add(Table(family="ip", name="b")))
        got = list(mon.events(0.5))
        assert [(ev.kind, ev.name) for ev in got] == [
            (EventKind.TABLE, "a"), (EventKind.GENERATION, None),
            (EventKind.TABLE, "b"), (EventKind.GENERATION, None)]
        assert got[1].genid is not None and got[3].genid == got[1].genid + 1

        # a blocking iteration in one thread ends when another closes the monitor
        seen: list[Event] = []
        worker = threading.Thread(target=lambda: seen.extend(mon))
        worker.start()
        nft.run(Transaction().add(Table(family="ip", name="c")))
        time.sleep(0.5)
        mon.close()
        worker.join(5)
        assert not worker.is_alive()
        assert [ev.name for ev in seen[:1]] == ["c"]
        assert mon.poll(0) is None


def test_objects_false_says_only_what_changed(name: str) -> None:
    with nftkit.Nftables(netns=name) as nft, nft.monitor(objects=False) as mon:
        nft.run(ruleset_txn())
        events = commit(mon)
        assert all(ev.obj is None and ev.reason == "objects=False" for ev in events[:-1])
        rules = [ev for ev in events if ev.kind is EventKind.RULE]
        assert all(ev.table == "t" and ev.chain == "input" and ev.handle for ev in rules)


def test_interval_elements(name: str) -> None:
    """An added interval is the listed element that starts at its first value (prefixes,
    ranges, single values, open ends, auto-merged ones); its end is no event of its own.
    A deleted one is the one the monitor knew."""
    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon:
        nft_cli(name, "-f", "-", stdin="""
            table inet t {
                set s { type ipv4_addr; flags interval;
                        elements = { 10.0.0.0/8, 1.2.3.4, 5.0.0.1-5.0.0.9,
                                     192.168.0.0-255.255.255.255 }; }
                set m { type ipv4_addr; flags interval; auto-merge; elements = { 20.0.0.0/9 }; }
                set p { type inet_service; flags interval; elements = { 80-90, 100, 0-10 }; }
                set six { type ipv6_addr; flags interval; elements = { 2001:db8::/32, ::1 }; }
                map vm { type ipv4_addr : verdict; flags interval;
                         elements = { 10.0.0.0/8 : accept, 1.1.1.1-1.1.1.9 : drop }; }
            }
        """)
        events = commit(mon)
        assert_exact(events, nft.list_ruleset())
        counts = {n: sum(1 for ev in events if ev.kind is EventKind.ELEMENT and ev.name == n)
                  for n in ("s", "m", "p", "six", "vm")}
        assert counts == {"s": 4, "m": 1, "p": 3, "six": 2, "vm": 2}

        nft_cli(name, "add", "element", "inet", "t", "m", "{ 20.128.0.0/9 }")  # merged
        merge = commit(mon)[:-1]
        assert [(ev.action, ev.obj) for ev in merge] == [
            (Action.DELETE, PrefixExpr(addr=IPv4Address("20.0.0.0"), len=9)),
            *((Action.ADD, e) for e in nft.list_set("inet", "t", "m").elements)]
        nft_cli(name, "delete", "element", "inet", "t", "s", "{ 1.2.3.4, 10.0.0.0/8 }")
        deleted = commit(mon)[:-1]
        assert [ev.obj for ev in deleted] == [
            IPv4Address("1.2.3.4"), PrefixExpr(addr=IPv4Address("10.0.0.0"), len=8)]
        nft_cli(name, "delete", "element", "inet", "t", "vm", "{ 1.1.1.1-1.1.1.9 }")
        (gone, _gen) = commit(mon)
        assert gone.obj == (RangeExpr(low=IPv4Address("1.1.1.1"), high=IPv4Address("1.1.1.9")),
                            VerdictExpr(kind="drop"))

    # an interval deleted before the monitor knew it: refused
    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon:
        nft_cli(name, "delete", "element", "inet", "t", "p", "{ 80-90 }")
        (unknown, _gen) = commit(mon)
        assert unknown.obj is None and "before this monitor" in (unknown.reason or "")


def test_what_cannot_be_decoded_is_refused(name: str) -> None:
    """Element options vary with time, some datatypes have several spellings, host-order
    intervals are not matched: no object, a reason, never a wrong one."""
    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon:
        nft_cli(name, "-f", "-", stdin="""
            table inet t {
                set tmo { type ipv4_addr; flags timeout; elements = { 1.2.3.4 timeout 1h }; }
                set protos { type inet_proto; elements = { tcp }; }
                set marks { type mark; flags interval; elements = { 1-5, 0x01000000 }; }
                set cmt { type inet_service; elements = { 22 comment "ssh" }; }
            }
        """)
        events = commit(mon)
        elements = [ev for ev in events if ev.kind is EventKind.ELEMENT]
        assert {ev.name for ev in elements} == {"tmo", "protos", "marks", "cmt"}
        assert all(ev.obj is None and ev.reason for ev in elements)
        assert all(ev.obj is not None for ev in events
                   if ev.kind in (EventKind.TABLE, EventKind.SET))


def test_later_commits_before_reading(name: str) -> None:
    """Commits that come before the monitor is read: objects they did not touch are still
    given (read at the later generation), the ones they changed are refused."""
    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon:
        nft.run(Transaction().add(Table(family="inet", name="t"))
                .add(Chain(name="c"), table=T).add(PORTS, table=T))
        first = commit(mon)
        r1 = nft.run(Transaction().add(RULE, table=T, chain="c")).handles[0]
        nft.run(Transaction().add(nftkit.parse_rule("udp dport 53 accept"), table=T,
                                  chain="c"))
        nft.run(Transaction().delete(RULE, table=T, chain="c", handle=r1))
        nft.run(Transaction().add(Table(family="ip", name="other")))
        nft.run(Transaction().add_elements(PORTS, [1], table=T))
        nft.run(Transaction().delete(PORTS, table=T).add(
            Set(name="ports", type="ipv4_addr"), table=T))
        nft.run(Transaction().add_elements(Set(name="ports", type="ipv4_addr"),
                                           [IPv4Address("1.1.1.1")], table=T))
        got = [ev for ev in mon.events(0.5) if ev.kind is not EventKind.GENERATION]
        rs = nft.list_ruleset()
        added, udp, deleted, other, one, delset, newset, addr = got
        assert added.obj is None and "later commit" in (added.reason or "")
        assert deleted.obj is None  # (never read while it existed)
        assert_exact([udp, other, newset, addr], rs)
        # the element came before the set was replaced by one of another type: decoded by
        # the type the set had then (known since the first commit's read-back)
        assert one.obj == 1
        assert delset.obj == stripped(attrs.evolve(PORTS, handle=None))
        assert first[0].obj is not None


def test_an_unknown_set_replaced_later_is_refused(name: str) -> None:
    """Elements of a set this monitor never read, whose set a later commit replaced with one
    of another type before the monitor was read: refused, not decoded by the new type."""
    with nftkit.Nftables(netns=name) as nft:
        nft.run(Transaction().add(Table(family="inet", name="t")).add(PORTS, table=T))
        with nft.monitor() as mon:
            nft.run(Transaction().add_elements(PORTS, [0x0a00], table=T))
            nft.run(Transaction().delete(PORTS, table=T).add(
                Set(name="ports", type="mark"), table=T))
            got = [ev for ev in mon.events(0.5) if ev.kind is not EventKind.GENERATION]
            assert got[0].kind is EventKind.ELEMENT and got[0].obj is None
            assert "later commit" in (got[0].reason or "")


def test_a_concurrent_writer_never_gives_a_wrong_object(name: str) -> None:
    """Another writer replaces a set by one of another type of the same size (ipv4_addr,
    mark) every ten commits, adds elements and rules, while the monitor lags behind: every
    object an event gives is the one written, the rest are refused."""
    rounds = 120
    done = threading.Event()

    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with nftkit.Nftables(netns=name) as w:
                w.run(Transaction().add(Table(family="inet", name="t"))
                      .add(Chain(name="c"), table=T).add(Set(name="s", type="mark"), table=T))
                for i in range(rounds):
                    s = Set(name="s", type="ipv4_addr" if i // 10 % 2 else "mark")
                    value: object = IPv4Address(f"10.0.0.{i}") if i // 10 % 2 else i
                    txn = Transaction()
                    if i % 10 == 0:  # a set of the other type, every ten commits
                        txn = txn.delete(Set(name="s", type="mark"), table=T).add(s, table=T)
                    w.run(txn.add_elements(s, [value], table=T)
                          .add(nftkit.parse_rule(f"udp dport {i} accept comment \"r{i}\""),
                               table=T, chain="c"))
        except BaseException as exc:  # (re-raised below: the monitor loop must end)
            errors.append(exc)
        finally:
            done.set()

    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon:
        worker = threading.Thread(target=writer)
        worker.start()
        exact = refused = 0
        while True:
            finished = done.is_set()
            ev = mon.poll(0.5 if finished else 0.05)
            if ev is None:
                if finished:
                    break
                continue
            time.sleep(0.002)  # lag behind the writer
            if ev.kind is EventKind.ELEMENT and ev.action is Action.ADD:
                if ev.obj is None:
                    refused += 1
                    continue
                exact += 1
                assert (ev.obj in IPv4Network("10.0.0.0/24") if isinstance(ev.obj, IPv4Address)
                        else isinstance(ev.obj, int) and 0 <= ev.obj < rounds), str(ev)
            if ev.kind is EventKind.RULE and ev.obj is not None:
                i = int((ev.obj.comment or "r-1")[1:])
                assert ev.obj == nftkit.parse_rule(f"udp dport {i} accept comment \"r{i}\"")
        worker.join()
        if errors:
            raise errors[0]
        print(f"elements: {exact} decoded, {refused} refused")
        assert exact > 0
        assert exact + refused <= rounds


def test_intervals_with_a_lagging_monitor_are_never_wrong(name: str) -> None:
    """One start, many ends: the writer adds and deletes ``1000-(1001+k)`` in turn while the
    monitor lags; every interval an event gives is the one of its commit."""
    rounds = 60
    ports = Set(name="p", type="inet_service", flags={"interval"})

    def writer() -> None:
        with nftkit.Nftables(netns=name) as w:
            for k in range(rounds):
                iv = RangeExpr(low=1000, high=1001 + k)
                txn = Transaction()
                w.run(txn.add_elements(ports, [iv], table=T) if k % 2 == 0
                      else txn.delete_elements(ports, [RangeExpr(low=1000, high=1000 + k)],
                                               table=T))

    with nftkit.Nftables(netns=name) as nft:
        nft.run(Transaction().add(Table(family="inet", name="t")).add(ports, table=T))
        with nft.monitor() as mon:
            worker = threading.Thread(target=writer)
            worker.start()
            time.sleep(0.3)  # behind from the start
            worker.join()
            got = [ev for ev in mon.events(0.5) if ev.kind is EventKind.ELEMENT]
    adds = [ev for ev in got if ev.action is Action.ADD]
    deletes = [ev for ev in got if ev.action is Action.DELETE]
    assert len(adds) == len(deletes) == rounds // 2
    for i, (add, delete) in enumerate(zip(adds, deletes, strict=True)):
        want = RangeExpr(low=1000, high=1001 + 2 * i)
        assert add.obj in (None, want) and delete.obj in (None, want)

    # in step with the writer: every one is given
    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon:
        for k in range(6):
            iv = RangeExpr(low=2000, high=2001 + k // 2 * 2)
            txn = Transaction()
            nft.run(txn.add_elements(ports, [iv], table=T) if k % 2 == 0
                    else txn.delete_elements(ports, [iv], table=T))
            (ev, _gen) = [e for e in commit(mon) if e.kind is not EventKind.SET]
            assert (ev.action, ev.obj) == (Action.ADD if k % 2 == 0 else Action.DELETE, iv)


def test_dropped_notifications_are_reported(name: str) -> None:
    """A reader too slow for the kernel: a ``lost`` event, what was known is forgotten, and
    the events after it are whole again."""
    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon:
        nft.run(Transaction().add(Table(family="inet", name="t")).add(PORTS, table=T))
        commit(mon)
        mon._events._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        for i in range(20):
            nft.run(Transaction().add_elements(PORTS, list(range(i * 50, i * 50 + 50)),
                                               table=T))
        got = list(mon.events(0.5))
        assert [ev.kind for ev in got].count(EventKind.LOST) >= 1
        lost = next(ev for ev in got if ev.kind is EventKind.LOST)
        assert lost.obj is None and lost.reason
        mon._events._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        nft.run(Transaction().add_elements(PORTS, [5000], table=T))
        (el, gen) = commit(mon)
        assert el.obj == 5000 and gen.genid == mon.genid


def test_no_leaks(name: str) -> None:
    # one round first: what libraries open once per process is not a leak
    with nftkit.Nftables(netns=name) as nft, nft.monitor() as mon:
        nft.run(Transaction().add(Table(family="ip", name="warm")))
        commit(mon)
    gc.collect()  # (nor what earlier tests left to the collector)
    fds = len(os.listdir("/proc/self/fd"))
    threads = threading.active_count()
    with nftkit.Nftables(netns=name) as nft:
        for i in range(200):
            with nft.monitor() as mon:
                if i % 50 == 0:
                    nft.run(Transaction().add(Table(family="ip", name=f"t{i}")))
                    assert commit(mon)[0].obj == Table(family="ip", name=f"t{i}")
        for _ in range(50):
            nft.monitor()  # dropped without close: the garbage collector closes it
        gc.collect()
    assert len(os.listdir("/proc/self/fd")) == fds
    assert threading.active_count() == threads


def test_a_closed_handle_cannot_monitor(name: str) -> None:
    nft = nftkit.Nftables(netns=name)
    nft.close()
    with pytest.raises(nftkit.BackendError):
        nft.monitor()


DOC = Path(__file__).resolve().parents[2] / "docs" / "monitor.md"


def test_doc_examples_run() -> None:
    """docs/monitor.md runs as written; what it shows as printed is printed."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 3
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    scope: dict[str, object] = {"__name__": "docs_monitor"}
    printed = io.StringIO()
    with netns() as ns:
        for code in blocks:
            with contextlib.redirect_stdout(printed):
                exec(compile(code.replace("nftkit-doc", ns), str(DOC), "exec"), scope)
            lines = code.splitlines()
            for i, line in enumerate(lines):
                if "print(" not in line:
                    continue
                want = []
                for nxt in lines[i + 1:]:
                    if not nxt.lstrip().startswith("# "):
                        break
                    want.append(nxt.lstrip()[2:])
                if want:
                    assert " ".join(" ".join(want).split()) in " ".join(
                        printed.getvalue().split()), want


# --- random transactions: whatever an event gives is exact ---------------------------------


def _object_in(rs: nftkit.Ruleset, ev: Event) -> Any:
    """The object of ``ev`` in a listing, found by handle (a table by name); None if absent."""
    t = next((t for t in rs.tables if (t.family, t.name) == (ev.family, ev.table)), None)
    if t is None:
        return None
    if ev.kind is EventKind.TABLE:
        return stripped(t)
    found: list[Any] = {
        EventKind.CHAIN: [stripped(c) for c in t.chains],
        EventKind.RULE: [r for c in t.chains for r in c.rules],
        EventKind.SET: [stripped(s) for s in t.sets],
        EventKind.OBJECT: list(t.objects),
    }.get(ev.kind, [])
    return next((o for o in found if o.handle == ev.handle), None)


def _elements_of(rs: nftkit.Ruleset, ev: Event) -> tuple[Any, ...]:
    t = next((t for t in rs.tables if (t.family, t.name) == (ev.family, ev.table)), None)
    s = None if t is None else next((s for s in t.sets if s.name == ev.name), None)
    return () if s is None else s.elements


def check_events(events: list[Event], before: nftkit.Ruleset, after: nftkit.Ruleset) -> int:
    """Every object an event gives is the listed one: an added one as listed after the
    commit, a deleted one as listed before it. Returns how many were given."""
    given = 0
    for i, ev in enumerate(events):
        if ev.obj is None or ev.kind is EventKind.GENERATION:
            continue
        given += 1
        rest, done = events[i + 1:], events[:i]
        if ev.kind is EventKind.ELEMENT:
            if ev.action is Action.ADD:
                if not any(e.kind is EventKind.ELEMENT and e.action is Action.DELETE
                           and e.name == ev.name for e in rest):
                    assert ev.obj in _elements_of(after, ev), str(ev)
            elif not any(e.kind is EventKind.ELEMENT and e.obj == ev.obj for e in done):
                assert ev.obj in _elements_of(before, ev), str(ev)
            continue
        listing = after if ev.action is Action.ADD else before
        want = _object_in(listing, ev)
        assert ev.obj == want and type(ev.obj) is type(want), f"{ev}\nlisted: {want!r}"
    return given


@pytest.fixture(scope="module")
def shared() -> Iterator[str]:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    with netns() as ns:
        yield ns


@settings(max_examples=int(os.environ.get("NFTKIT_MONITOR_EXAMPLES", "40")), deadline=None,
          database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(sequence=differential.TRANSACTIONS)
def test_events_of_random_transactions_are_exact(shared: str,
                                                 sequence: list[list[tuple[Any, ...]]]) -> None:
    """The differential test's transaction sequences (adds of what exists, deletes of what
    is referenced, elements of every kind, failures): every event's object is the listed
    one, before or after its commit."""
    with nftkit.Nftables(netns=shared) as nft:
        nft.run(Transaction().flush())
        with nft.monitor() as mon:
            for ops in sequence:
                before = nft.list_ruleset()
                try:
                    txn = differential.build(ops, before)
                except ValidationError:
                    continue
                try:
                    nft.run(txn)
                except (nftkit.BackendError, nftkit.UnsupportedError):
                    assert mon.poll(0.05) is None  # nothing was committed
                    continue
                first = mon.poll(0.2)
                if first is None:
                    continue  # nothing to change: the kernel commits nothing
                events = [first] if first.kind is EventKind.GENERATION else [first,
                                                                              *commit(mon)]
                given = check_events(events, before, nft.list_ruleset())
                for i in range(len(events) - 1):
                    record("monitor: events of random transactions with their object",
                           i < given)
