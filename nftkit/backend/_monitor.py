"""``Monitor``: the kernel's nftables notifications as typed ``Event`` s with exact model
objects (``Nftables.monitor()``).

How each event gets its object, exactly or not at all:

- **added** tables, chains, rules, sets and objects are read back through the handle's
  listing (``list_table``: the very reader of ``list_ruleset``) and found by handle. The
  ruleset generation is the same before and after the read, so the read is one state; when
  it is the generation of the event's commit, nothing changed since. When later commits came
  already, their notifications are waited for and looked at: an object none of them touched
  is as it was. One that changed again (in a later commit, or later in the same one) comes
  without ``obj``, and ``reason`` says so.
- **deleted** ones are given as this monitor last read them (every object of a table read
  back is remembered, and forgotten on each change); not when they hold values the kernel
  changes on its own (counters, quotas, ``last``), which a delete would report stale.
- **elements** are decoded from the message by the set's datatypes (``decode_element``),
  checked by encoding them back; the set's type comes from a read-back or one GETSET.
  An interval is matched by its first value: an added one with the listed elements, a
  deleted one with those this monitor knew (``_intervals``).
- anonymous sets (``tcp dport { 22, 80 }``) are part of their rule: no events of their own.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from ..errors import BackendError, NftkitError, NotFoundError, UnsupportedError
from ..model.enums import Family, SetFlag
from ..model.expressions import ElemExpr
from ..model.objects import Counter, Quota
from ..model.ruleset import Table
from ..model.sets import Map, Set
from ..model.statements import CounterStmt, LastStmt, QuotaStmt
from ..nft.datatypes import BIG
from .events import Action, Event, EventKind
from .netlink._anon import _bounds
from .netlink._facts import SetFacts, read_set
from .netlink._monitor import Batch, MonitorSocket, RawEvent, decode_element, element_nests
from .netlink._socket import NetlinkSocket, parse_attrs
from .netlink._types import DATATYPES, data_spec, key_spec

__all__ = ["Monitor"]

_FAMILY = {1: Family.INET, 2: Family.IP, 3: Family.ARP, 5: Family.NETDEV, 7: Family.BRIDGE,
           10: Family.IP6}
_STATEFUL = (CounterStmt, QuotaStmt, LastStmt, Counter, Quota)
_ANON_NAME = re.compile(r"__(set|map)\d+")
_Key = tuple[str, str, str, object]
_Where = tuple[str, str, str]
#: key datatypes, data datatypes (None: a set), whether an interval set
_Types = tuple[tuple[str, ...], tuple[str, ...] | None, bool]
#: how long to wait for the notifications of a commit whose generation is already current
_WAIT = 2.0


_Touched = tuple[set[_Key], set[_Where], set[_Where]]


@attrs.frozen
class _Read:
    """A table read back (or why not), the generation it was read at, and what commits
    after the event's and up to that one changed (None: nothing, or ``everything``)."""

    table: Table | str
    at: int | None = None
    touched: _Touched | None = None
    everything: bool = False

    def changed(self, *, key: _Key | None = None, set_: _Where | None = None,
                elements: _Where | None = None) -> bool:
        """Whether a later commit changed ``key``, the set ``set_``, or the set or
        elements of ``elements``."""
        if self.everything:
            return True
        if self.touched is None:
            return False
        keys, sets, with_elements = self.touched
        return ((key is not None and key in keys) or (set_ is not None and set_ in sets)
                or (elements is not None and (elements in sets or elements in with_elements)))


_Reads = dict[tuple[str, str], _Read]


def _stateful(obj: Any) -> bool:
    """Whether ``obj`` holds values the kernel changes on its own (counters, quotas, an
    element's expiry)."""
    if isinstance(obj, tuple):
        return any(_stateful(o) for o in obj)
    walk = getattr(obj, "walk", None)
    return walk is not None and any(
        isinstance(n, _STATEFUL) or (isinstance(n, ElemExpr) and n.expires is not None)
        for n in walk())


def _key(ev: RawEvent, family: str) -> _Key:
    if ev.kind == "table":
        return ("table", family, ev.table or "", None)
    return (ev.kind, family, ev.table or "", ev.handle)


class Monitor:
    """The changes of one network namespace's ruleset, as they are committed.

    ::

        with nft.monitor() as events:
            for ev in events:                 # blocks until the next change
                ...
            ev = events.poll(timeout=0.5)     # the next event, or None after 0.5 s
            events.genid                      # the generation of the last commit seen

    Events come a commit at a time, each commit's changes then its ``generation`` event.
    ``objects=False`` skips the read-backs: events then say only what changed (kind, names,
    handle, generation), which is all a cache needs to know what to read again.

    Holds two netlink sockets (the notifications; requests such as the generation) and no
    thread; ``close()`` (or the ``with`` block, or the garbage collector) releases them.
    Iterate from one thread; ``close()`` may come from another.
    """

    def __init__(self, netns: int | None, list_table: Callable[[str, str], Table] | None,
                 *, objects: bool = True) -> None:
        self._closed = True  # (until both sockets are open)
        self._events = MonitorSocket(netns)
        try:
            self._req = NetlinkSocket(netns)
            #: the generation of the last commit seen (at first: the ruleset's now)
            self.genid: int = self._req.genid()
        except BaseException:
            self._events.close()
            raise
        self._list_table = list_table if objects else None
        self._queue: deque[Event] = deque()
        self._memory: dict[_Key, Any] = {}
        #: the datatypes of each set's key and data (or why its elements are not decoded)
        self._sets: dict[_Where, _Types | str] = {}
        self._batch_sets: dict[_Where, _Types | str] = {}
        #: the elements of interval sets by their first value, as last known
        self._known_intervals: dict[_Where, dict[int, Any]] = {}
        self._fresh_intervals: set[_Where] = set()
        self._batch_listed: dict[_Where, dict[int, Any] | str] = {}
        self._batch_events: list[RawEvent] = []
        self._batch_last: dict[_Where, dict[int, int]] = {}
        self._anon: set[tuple[str, str, str]] = set()
        self._closed = False

    # --- the handle ---------------------------------------------------------------------

    def close(self) -> None:
        """Leave the notification group and close the sockets (idempotent)."""
        if not self._closed:
            self._closed = True
            self._events.close()
            self._req.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def fileno(self) -> int:
        """The socket to wait on (``select``/``selectors``) before ``poll(0)``."""
        return self._events.fileno()

    # --- events -------------------------------------------------------------------------

    def poll(self, timeout: float | None = None) -> Event | None:
        """The next event; None when none came within ``timeout`` seconds (0: only what has
        arrived; None: wait for it)."""
        while not self._queue:
            if self._closed:
                return None
            batch = self._events.read(timeout)
            if batch is None:
                return None
            try:
                self._process(batch)
            except (OSError, BackendError):
                if self._closed:  # closed by another thread meanwhile
                    return None
                raise
        return self._queue.popleft()

    def __iter__(self) -> Iterator[Event]:
        """Every event, as it comes; ends when the monitor is closed."""
        while True:
            ev = self.poll()
            if ev is None:
                return
            yield ev

    def events(self, timeout: float) -> Iterator[Event]:
        """The events that come until none has come for ``timeout`` seconds."""
        while (ev := self.poll(timeout)) is not None:
            yield ev

    # --- one commit ---------------------------------------------------------------------

    def _process(self, batch: Batch) -> None:
        if batch.lost:
            self._memory.clear()
            self._sets.clear()
            self._known_intervals.clear()
            self._anon.clear()
            self._queue.append(Event(kind=EventKind.LOST, reason="the kernel dropped "
                                     "notifications: read the ruleset again"))
            return
        genid = batch.genid
        self._batch_sets = {}
        self._batch_listed = {}
        self._batch_last = {}
        self._fresh_intervals = set()
        events = [ev for ev in batch.events if not self._internal(ev)]
        self._batch_events = events
        last: dict[_Key, int] = {}
        set_changed: dict[tuple[str, str, str], int] = {}
        for i, ev in enumerate(events):
            fam = _FAMILY.get(ev.family)
            if fam is not None and ev.kind != "element":
                last[_key(ev, fam.value)] = i
            if fam is not None and ev.kind == "set" and ev.action == "delete":
                # (a set's type changes only by deleting it: an ``add`` of an existing set,
                # such as the guard nftkit sends after elements, updates its timeouts)
                set_changed[(fam.value, ev.table or "", ev.name or "")] = i
        reads: _Reads = {}
        for i, ev in enumerate(events):
            fam = _FAMILY.get(ev.family)
            if fam is None:
                self._queue.append(self._event(ev, None, genid, None,
                                               f"unknown family {ev.family}"))
                continue
            if ev.kind == "element":
                where = (fam.value, ev.table or "", ev.name or "")
                stale = set_changed.get(where, -1) > i
                self._elements(ev, fam, genid, stale, i, reads)
                continue
            key = _key(ev, fam.value)
            obj: Any = None
            reason: str | None = None
            if ev.action == "delete":
                obj = self._forget(key, fam.value, ev)
                if obj is None:
                    reason = "deleted before this monitor read it"
                elif _stateful(obj):
                    obj, reason = None, ("it holds counters or quotas: their values at "
                                         "deletion are not known")
            elif self._list_table is None:
                reason = "objects=False"
            elif last[key] != i:
                self._forget(key, fam.value, ev)
                reason = "changed again in the same commit"
            else:
                self._forget(key, fam.value, ev)
                read = self._read(fam.value, ev.table or "", genid, reads)
                if isinstance(read.table, str):
                    reason = read.table
                elif read.changed(key=key):
                    reason = f"changed again by a later commit (by generation {read.at})"
                else:
                    obj = self._find(read.table, ev)
                    if obj is None:
                        reason = "not found in the table read back"
            self._queue.append(self._event(ev, fam, genid, obj, reason))
        if genid is not None:
            self.genid = genid
        self._queue.append(Event(kind=EventKind.GENERATION, genid=genid, pid=batch.pid,
                                 process=batch.process))

    def _internal(self, ev: RawEvent) -> bool:
        """Events of anonymous sets (part of their rule's event). A delete names the set
        only: nft names anonymous sets ``__set<N>``/``__map<N>``."""
        fam = _FAMILY.get(ev.family)
        where = (fam.value if fam is not None else str(ev.family), ev.table or "",
                 ev.name or "")
        if ev.kind == "set" and ev.anonymous:
            self._anon.add(where)
            return True
        if ev.kind not in ("set", "element"):
            return False
        if where in self._anon:
            if ev.kind == "set":
                self._anon.discard(where)
            return True
        return _ANON_NAME.fullmatch(ev.name or "") is not None and where not in self._sets

    @staticmethod
    def _event(ev: RawEvent, fam: Family | None, genid: int | None, obj: Any,
               reason: str | None) -> Event:
        return Event(kind=EventKind(ev.kind), action=Action(ev.action), family=fam,
                     table=ev.table, name=ev.name if ev.kind != "table" else ev.table,
                     chain=ev.chain, handle=ev.handle, obj=obj, genid=genid, reason=reason)

    def _forget(self, key: _Key, family: str, ev: RawEvent) -> Any:
        if ev.kind == "set" and ev.action == "delete":
            self._sets.pop((family, ev.table or "", ev.name or ""), None)
            self._known_intervals.pop((family, ev.table or "", ev.name or ""), None)
        return self._memory.pop(key, None)

    # --- read-backs ---------------------------------------------------------------------

    def _read(self, family: str, table: str, genid: int | None, reads: _Reads) -> _Read:
        """The table, read once per commit, with what later commits changed; or why it could
        not be read. When later commits came already, it is read as they left it, once
        their notifications are here: what they touched is then not taken from it (their
        own events tell)."""
        got = reads.get((family, table))
        if got is not None:
            return got
        assert self._list_table is not None
        try:
            now = self._req.genid()
            if now != genid and not self._events.wait_for(now, _WAIT):
                got = _Read(f"the notifications of generation {now} did not come")
            else:
                t = self._list_table(family, table)
                if self._req.genid() != now:
                    got = _Read("the ruleset changed again while it was read")
                else:
                    touched = None if now == genid else self._touched(now)
                    got = _Read(t, now, touched, everything=now != genid and touched is None)
        except NotFoundError:
            got = _Read("the table was gone when it was read")
        except NftkitError as exc:  # (a listing nftkit cannot read: refused, not raised)
            got = _Read(f"reading the table failed: {exc}")
        if isinstance(got.table, Table):
            self._remember(got.table, got)
        reads[(family, table)] = got
        return got

    def _touched(self, at: int) -> _Touched | None:
        """The objects, sets, and sets with element changes, of the commits received and
        not yet read, up to generation ``at`` (None: unknown, as if everything was)."""
        keys: set[_Key] = set()
        sets: set[_Where] = set()
        with_elements: set[_Where] = set()
        for batch in self._events.ready():
            if batch.lost:
                return None
            for ev in batch.events:
                fam = _FAMILY.get(ev.family)
                if fam is None:
                    continue
                where = (fam.value, ev.table or "", ev.name or "")
                if ev.kind == "element":
                    with_elements.add(where)
                    continue
                keys.add(_key(ev, fam.value))
                if ev.kind == "set" and ev.action == "delete":
                    sets.add(where)
            if batch.genid == at:
                return keys, sets, with_elements
        return None

    def _remember(self, t: Table, read: _Read) -> None:
        fam, name = t.family.value, t.name
        items: list[tuple[_Key, Any]] = [
            (("table", fam, name, None),
             attrs.evolve(t, chains=(), sets=(), flowtables=(), objects=()))]
        for c in t.chains:
            items.append((("chain", fam, name, c.handle), attrs.evolve(c, rules=())))
            items.extend((("rule", fam, name, r.handle), r) for r in c.rules)
        for st in t.sets:
            where = (fam, name, st.name)
            if not read.changed(set_=where):
                types = self._sets[where] = _types(st)
                if not isinstance(types, str) and types[2] and not read.changed(
                        elements=where):
                    self._known_intervals[where] = _by_start(st, types)
                    self._fresh_intervals.add(where)
            items.append((("set", fam, name, st.handle), attrs.evolve(st, elements=())))
        items.extend((("object", fam, name, o.handle), o) for o in t.objects)
        items.extend((("flowtable", fam, name, f.handle), f) for f in t.flowtables)
        for key, obj in items:
            if not read.changed(key=key):
                self._memory[key] = obj

    def _find(self, t: Table, ev: RawEvent) -> Any:
        """The object of ``ev`` in ``t`` (as ``_remember`` keeps it), remembered again."""
        fam, h = t.family.value, ev.handle
        found: Any = None
        if ev.kind == "table":
            found = attrs.evolve(t, chains=(), sets=(), flowtables=(), objects=())
        elif ev.kind == "chain":
            found = next((attrs.evolve(c, rules=()) for c in t.chains if c.handle == h), None)
        elif ev.kind == "rule":
            # (by handle in any chain: a later commit may have renamed the chain)
            found = next((r for c in t.chains for r in c.rules if r.handle == h), None)
        elif ev.kind == "set":
            s = next((s for s in t.sets if s.handle == h), None)
            if s is not None:
                self._sets[(fam, t.name, s.name)] = _types(s)
                found = attrs.evolve(s, elements=())
        elif ev.kind == "object":
            found = next((o for o in t.objects if o.handle == h), None)
        elif ev.kind == "flowtable":
            found = next((f for f in t.flowtables if f.handle == h), None)
        if found is not None:
            self._memory[_key(ev, fam)] = found
        return found

    # --- elements -----------------------------------------------------------------------

    def _elements(self, ev: RawEvent, fam: Family, genid: int | None, stale: bool,
                  index: int, reads: _Reads) -> None:
        nests = element_nests(ev)
        where = (fam.value, ev.table or "", ev.name or "")
        types: _Types | str
        if self._list_table is None:
            types = "objects=False"
        elif stale:
            types = "its set changed again in the same commit"
        else:
            found = self._sets.get(where) or self._batch_sets.get(where)
            if found is None:
                found = self._batch_sets[where] = self._read_set(ev, where, genid)
                if not isinstance(found, str):
                    self._sets[where] = found
            types = found
        if not isinstance(types, str) and types[2]:
            self._intervals(ev, fam, genid, where, types, index, reads)
            return
        for nest in nests:
            if _interval_end(nest):
                continue  # the end of an interval: part of its element
            obj: Any = None
            why = types if isinstance(types, str) else None
            if not isinstance(types, str):
                obj, why = decode_element(nest, types[0], types[1])
            self._queue.append(self._event(ev, fam, genid, obj, why))

    def _intervals(self, ev: RawEvent, fam: Family, genid: int | None, where: _Where,
                   types: _Types, index: int, reads: _Reads) -> None:
        """Elements of an interval set: the kernel has each interval as its first value and,
        flagged, the value after its last; nft leaves out ends it can infer. So an added
        interval is the listed element that starts at the first value (the set read back
        at the commit's generation, or a later one that did not change the set's elements),
        and a deleted one the element this monitor last knew to start there; ends are no
        events of their own."""
        listed: dict[int, Any] | str = {}
        if ev.action == "add":
            got = self._batch_listed.get(where)
            if got is None:
                got = self._batch_listed[where] = self._listed(fam, where, genid, types, reads)
            listed = got
        known = self._known_intervals.setdefault(where, {})
        # read back in this commit: what is known is how the commit left the set
        fresh = where in self._fresh_intervals
        last = self._last_starts(ev, where)
        for lo, end in _starts(ev):
            if end:
                continue  # an interval's end: part of its element
            obj: Any = None
            why: str | None = None
            if ev.action == "delete":
                obj = known.pop(lo, None)
                if fresh and last.get(lo, index) > index:
                    obj, why = None, "changed again in the same commit"
                elif obj is None:
                    why = "deleted before this monitor read it"
                elif _stateful(obj):
                    obj, why = None, ("it holds counters or an expiry: their values at "
                                      "deletion are not known")
            elif isinstance(listed, str):
                why = listed
            elif last.get(lo, index) > index:
                why = "changed again in the same commit"
            else:
                obj = listed.get(lo)
                if obj is None:
                    why = "not found in the set read back"
            if ev.action == "add":
                if obj is None:
                    known.pop(lo, None)
                else:
                    known[lo] = obj
            self._queue.append(self._event(ev, fam, genid, obj, why))

    def _last_starts(self, ev: RawEvent, where: _Where) -> dict[int, int]:
        """For the elements of the set of ``ev`` in this commit: the index of the last
        event that has each first value (computed once per set and commit)."""
        got = self._batch_last.get(where)
        if got is None:
            got = self._batch_last[where] = {}
            for i, other in enumerate(self._batch_events):
                if other.kind == "element" and other.family == ev.family and (
                        other.table, other.name) == (where[1], where[2]):
                    got.update((lo, i) for lo, _end in _starts(other))
        return got

    def _listed(self, fam: Family, where: _Where, genid: int | None, types: _Types,
                reads: _Reads) -> dict[int, Any] | str:
        """The elements of an interval set as listed, by their first value."""
        read = self._read(fam.value, where[1], genid, reads)
        if isinstance(read.table, str):
            return read.table
        if read.changed(elements=where):
            return "its set changed again by a later commit"
        s = next((s for s in read.table.sets if s.name == where[2]), None)
        if s is None or _types(s) != types:
            return "its set changed again by a later commit"
        return _by_start(s, types)

    def _read_set(self, ev: RawEvent, where: _Where, genid: int | None) -> _Types | str:
        """The datatypes of a set this monitor has not read, from the kernel (one GETSET),
        where its set is the one the elements were committed to."""
        try:
            now = self._req.genid()
            if now != genid and not self._events.wait_for(now, _WAIT):
                return f"the notifications of generation {now} did not come"
            facts = read_set(self._req, ev.family, where[1], where[2])
            if self._req.genid() != now:
                return "the ruleset changed again while its set was read"
        except NftkitError as exc:
            return f"reading its set failed: {exc}"
        if now != genid:
            touched = self._touched(now)
            if touched is None or where in touched[1]:
                return "its set changed again by a later commit"
        if facts is None:
            return "its set was gone when it was read"
        return _facts_types(facts)


_UNDECODED = "elements of this set are not decoded: "


def _by_start(s: Set, types: _Types) -> dict[int, Any]:
    """The elements of interval set ``s`` by their first value (network order)."""
    key = types[0]
    bits = sum(DATATYPES[name][1] for name in key) * 8
    out: dict[int, Any] = {}
    for el in s.elements:
        k = el[0] if isinstance(el, tuple) else el
        try:
            out[_bounds(k.val if isinstance(k, ElemExpr) else k, key, bits)[0]] = el
        except UnsupportedError:
            continue
    return out


def _interval_end(nest: list[tuple[int, bytes]]) -> bool:
    flags = dict(nest).get(3)
    return flags is not None and bool(int.from_bytes(flags, "big") & 1)


def _starts(ev: RawEvent) -> list[tuple[int, bool]]:
    """Each element's key as an integer (network order; -1 for a catch-all element or a
    key that is not a value), and whether it is an interval's end."""
    out: list[tuple[int, bool]] = []
    for nest in element_nests(ev):
        d = dict(nest)
        key = dict(parse_attrs(d.get(1, b""))).get(1)
        flags = int.from_bytes(d.get(3, b"\0\0\0\0"), "big")
        lo = -1 if key is None or flags & 2 else int.from_bytes(key, "big")
        out.append((lo, bool(flags & 1) and lo >= 0))
    return out


def _interval_types(key: tuple[str, ...], data: tuple[str, ...] | None) -> _Types | str:
    # (matched by the bytes the element encoder writes, which are the kernel's for
    # network-order datatypes only: nft turns host-order keys such as marks around)
    if len(key) != 1 or key[0] not in DATATYPES or DATATYPES[key[0]][2] != BIG:
        return _UNDECODED + f"intervals of {' . '.join(key)} are not matched"
    return key, data, True


def _types(s: Set) -> _Types | str:
    """What ``decode_element`` needs of ``s``: its key's and data's datatypes."""
    if s.stmts:
        return _UNDECODED + "a set with element statements"
    try:
        key = key_spec(s).names
        data: tuple[str, ...] | None = None
        if isinstance(s, Map):
            if s.data_interval:
                return _UNDECODED + "a map with interval data"
            spec = data_spec(s)
            data = ("verdict",) if spec.verdict else spec.names
    except UnsupportedError as exc:
        return _UNDECODED + str(exc)
    if SetFlag.INTERVAL in s.flags:
        return _interval_types(key, data)
    return key, data, False


def _facts_types(facts: SetFacts) -> _Types | str:
    """``_types`` of a set read with ``read_set`` (the kernel's type ids and nft's
    userdata)."""
    if facts.exprs:
        return _UNDECODED + "a set with element statements"
    if facts.object_map:
        return _UNDECODED + "an object map"
    if facts.key is None:
        return _UNDECODED + "its datatype is not known to the netlink path"
    data = None
    if facts.data is not None:
        data = ("verdict",) if facts.data.verdict else facts.data.names
    if facts.interval:
        return _interval_types(facts.key.names, data)
    return facts.key.names, data, False
