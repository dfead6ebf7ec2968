"""Monitors without a kernel: ``FakeNftables.monitor()`` (tests/backend/test_monitor.py
compares its events with the kernel's) and the netlink element decoder."""

from __future__ import annotations

import threading
import time
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nftkit
from nftkit import Chain, FakeNftables, Rule, Set, Table, Transaction
from nftkit.backend.events import Action, Event, EventKind
from nftkit.backend.netlink._elements import element_nest
from nftkit.backend.netlink._monitor import decode_element
from nftkit.backend.netlink._socket import parse_attrs
from nftkit.backend.netlink._types import KeySpec, data_spec
from nftkit.model.expressions import ConcatExpr, VerdictExpr
from nftkit.model.objects import Counter
from nftkit.model.sets import Map

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


# --- the element decoder (no kernel): what the encoder writes decodes back, the rest is
# refused -----------------------------------------------------------------------------------

VALUES = {
    "ipv4_addr": st.ip_addresses(v=4),
    "ipv6_addr": st.ip_addresses(v=6),
    "inet_service": st.integers(0, 0xFFFF),
    "mark": st.integers(0, 0xFFFFFFFF),
    "ether_addr": st.binary(min_size=6, max_size=6).map(
        lambda b: ":".join(f"{x:02x}" for x in b)),
    "ifname": st.from_regex(r"[a-z][a-z0-9.\-]{0,14}", fullmatch=True),
}
TYPES = st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=3).map(tuple)


def _values(types: tuple[str, ...]) -> st.SearchStrategy[object]:
    parts = st.tuples(*(VALUES[t] for t in types))
    return parts.map(lambda p: p[0] if len(p) == 1 else ConcatExpr(exprs=p))


def _nest(el: object, key: tuple[str, ...], data: KeySpec | None) -> list[tuple[int, bytes]]:
    raw = element_nest(el, key, data, True)
    return parse_attrs(raw[4:])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_elements_decode_to_what_was_encoded(data: st.DataObject) -> None:
    key = data.draw(TYPES)
    value = data.draw(_values(key))
    assert decode_element(_nest(value, key, None), key, None) == (value, None)
    dtypes = data.draw(TYPES)
    mapped = data.draw(_values(dtypes))
    spec = data_spec(Map(name="m", type=key, data_type=dtypes))
    assert decode_element(_nest((value, mapped), key, spec), key, dtypes) == (
        (value, mapped), None)


@pytest.mark.parametrize("verdict", [VerdictExpr(kind="accept"), VerdictExpr(kind="drop"),
                                     VerdictExpr(kind="return"),
                                     VerdictExpr(kind="jump", target="a-chain"),
                                     VerdictExpr(kind="goto", target="x")])
def test_verdicts_decode(verdict: VerdictExpr) -> None:
    spec = data_spec(Map(name="m", type="inet_service", data_type="verdict"))
    nest = _nest((22, verdict), ("inet_service",), spec)
    assert decode_element(nest, ("inet_service",), ("verdict",)) == ((22, verdict), None)


def test_what_does_not_fit_is_refused() -> None:
    nest = _nest(IPv4Address("10.0.0.1"), ("ipv4_addr",), None)
    # the same four bytes read as another 4-byte type would be a wrong value: the decoder
    # only knows the set's type, so this is the read-back's job; a size mismatch is refused
    assert decode_element(nest, ("inet_service",), None)[0] is None
    assert decode_element(nest, ("inet_proto",), None)[0] is None  # several spellings
    with_flags = [*nest, (3, b"\x00\x00\x00\x01")]  # an interval end
    assert decode_element(with_flags, ("ipv4_addr",), None)[0] is None
    padded = _nest("eth0", ("ifname",), None)
    key = dict(padded)[1]
    garbage = [(1, key[:-1] + b"x")]  # bytes after the name's NUL: not what nft writes
    assert decode_element(garbage, ("ifname",), None)[0] is None
