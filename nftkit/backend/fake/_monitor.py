"""``FakeNftables.monitor()``: the events ``Nftables.monitor()`` gives, for the changes made
through a fake, worked out from the ruleset before and after each commit.

Objects are found by handle (tables too); a changed one (a chain's new policy) is an ``add``
event, as the kernel announces it. Within a commit the deletes come first (elements, rules,
sets, objects, flowtables, chains, tables), then the adds (tables, chains, objects,
flowtables, sets, elements, rules); the kernel announces a commit's changes in batch order,
so only the order within one commit can differ. Nothing passes traffic through a fake, so
deleted objects are always given.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from typing import Any

import attrs

from ...model.ruleset import Ruleset, Table
from ..events import Action, Event, EventKind

__all__ = ["FakeMonitor", "Monitors", "ruleset_events"]

_Objects = dict[tuple[EventKind, int], tuple[Table, str | None, Any]]


def _objects(rs: Ruleset) -> tuple[_Objects, dict[tuple[int, int], tuple[Table, Any]]]:
    """Every object by (kind, handle) with its table, the rule's chain and the object as an
    event carries it; and the elements of every set, by (table handle, set handle)."""
    objs: _Objects = {}
    elements: dict[tuple[int, int], tuple[Table, Any]] = {}
    for t in rs.tables:
        th = t.handle or 0
        bare = attrs.evolve(t, chains=(), sets=(), flowtables=(), objects=())
        objs[(EventKind.TABLE, -th)] = (t, None, bare)
        for c in t.chains:
            objs[(EventKind.CHAIN, th << 32 | (c.handle or 0))] = (
                t, None, attrs.evolve(c, rules=()))
            for r in c.rules:
                objs[(EventKind.RULE, th << 32 | (r.handle or 0))] = (t, c.name, r)
        for s in t.sets:
            objs[(EventKind.SET, th << 32 | (s.handle or 0))] = (
                t, None, attrs.evolve(s, elements=()))
            elements[(th, s.handle or 0)] = (t, s)
        for o in t.objects:
            objs[(EventKind.OBJECT, th << 32 | (o.handle or 0))] = (t, None, o)
        for f in t.flowtables:
            objs[(EventKind.FLOWTABLE, th << 32 | (f.handle or 0))] = (t, None, f)
    return objs, elements


_DELETE_ORDER = (EventKind.RULE, EventKind.SET, EventKind.OBJECT, EventKind.FLOWTABLE,
                 EventKind.CHAIN, EventKind.TABLE)
_ADD_ORDER = (EventKind.TABLE, EventKind.CHAIN, EventKind.OBJECT, EventKind.FLOWTABLE,
              EventKind.SET, EventKind.RULE)


def _event(kind: EventKind, action: Action, t: Table, chain: str | None, obj: Any,
           genid: int) -> Event:
    name = t.name if kind is EventKind.TABLE else getattr(obj, "name", None)
    return Event(kind=kind, action=action, family=t.family, table=t.name, name=name,
                 chain=chain, handle=obj.handle, obj=obj, genid=genid)


def ruleset_events(before: Ruleset, after: Ruleset, genid: int) -> list[Event]:
    """The events of a commit that turned ``before`` into ``after``, its generation last."""
    old, old_elems = _objects(before)
    new, new_elems = _objects(after)
    out: list[Event] = []
    for key, (t, s) in old_elems.items():
        kept = new_elems.get(key)
        if kept is not None:
            there = kept[1].elements
            out.extend(Event(kind=EventKind.ELEMENT, action=Action.DELETE, family=t.family,
                             table=t.name, name=s.name, obj=e, genid=genid)
                       for e in s.elements if e not in there)
    for kind in _DELETE_ORDER:
        out.extend(_event(kind, Action.DELETE, t, chain, obj, genid)
                   for (k, _h), (t, chain, obj) in old.items()
                   if k is kind and (k, _h) not in new)
    for kind in _ADD_ORDER:
        if kind is EventKind.RULE:
            for key, (t, s) in new_elems.items():
                had = old_elems.get(key)
                there = had[1].elements if had is not None else ()
                out.extend(Event(kind=EventKind.ELEMENT, action=Action.ADD, family=t.family,
                                 table=t.name, name=s.name, obj=e, genid=genid)
                           for e in s.elements if e not in there)
        for (k, h), (t, chain, obj) in new.items():
            if k is kind:
                was = old.get((k, h))
                if was is None or was[2] != obj:
                    out.append(_event(kind, Action.ADD, t, chain, obj, genid))
    out.append(Event(kind=EventKind.GENERATION, genid=genid))
    return out


class FakeMonitor:
    """What ``FakeNftables.monitor()`` returns: ``Monitor``'s interface, fed by the fake."""

    def __init__(self, genid: int, owner: Monitors) -> None:
        self.genid = genid
        self._queue: deque[Event] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._owner = owner

    def _feed(self, events: list[Event]) -> None:
        with self._cond:
            self._queue.extend(events)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._owner.discard(self)

    def __enter__(self) -> FakeMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def poll(self, timeout: float | None = None) -> Event | None:
        """The next event; None when none came within ``timeout`` seconds (0: only what has
        arrived; None: wait for it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            ev = self._queue.popleft()
            if ev.kind is EventKind.GENERATION and ev.genid is not None:
                self.genid = ev.genid
            return ev

    def __iter__(self) -> Iterator[Event]:
        """Every event, as it comes; ends when the monitor is closed."""
        while (ev := self.poll()) is not None:
            yield ev

    def events(self, timeout: float) -> Iterator[Event]:
        """The events that come until none has come for ``timeout`` seconds."""
        while (ev := self.poll(timeout)) is not None:
            yield ev


class Monitors:
    """The open monitors of one fake, and its generation count."""

    def __init__(self) -> None:
        self.genid = 1
        self._open: weakref.WeakSet[FakeMonitor] = weakref.WeakSet()
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(len(self._open))

    def open(self) -> FakeMonitor:
        with self._lock:
            mon = FakeMonitor(self.genid, self)
            self._open.add(mon)
            return mon

    def discard(self, mon: FakeMonitor) -> None:
        with self._lock:
            self._open.discard(mon)

    def committed(self, before: Ruleset | None, after: Ruleset | None) -> None:
        """A commit happened: the events go to every open monitor (``before``/``after``
        are None when no monitor was open when it started)."""
        with self._lock:
            self.genid += 1
            targets = list(self._open)
        if before is None or after is None or not targets:
            return
        events = ruleset_events(before, after, self.genid)
        for mon in targets:
            mon._feed(events)
