"""What ``Nftables.monitor()`` and ``FakeNftables.monitor()`` report: one typed ``Event`` per
change of the ruleset, as model objects (``nft monitor``).

::

    with nft.monitor() as events:
        for ev in events:                      # blocks; events.poll(timeout=1.0) does not
            if ev.kind is EventKind.GENERATION:
                cache.valid_for = ev.genid     # a commit ended (by any process)
            elif ev.obj is not None:
                print(ev.action, ev.kind, ev.obj)
            else:
                print("changed, not decoded:", ev.kind, ev.table, ev.name, ev.reason)

Each event says what changed (``kind``, ``action``, ``family``, ``table``, ``name``,
``chain``, ``handle``) and in which ruleset generation (``genid``). ``obj`` is the model
object exactly as ``list_ruleset()`` gives it (containers without their contents: a table
without chains, a chain without rules, a set without elements; those come as their own
events), or None with ``reason`` saying why it could not be given exactly. An event is never
a guess.

Importing this module needs neither libnftables nor cffi.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from ..model.enums import Family

__all__ = ["Action", "Event", "EventKind"]


class EventKind(enum.StrEnum):
    """What an event is about."""

    TABLE = "table"
    CHAIN = "chain"
    RULE = "rule"
    #: a named set or map (``obj`` is a ``Set`` or ``Map``)
    SET = "set"
    #: one element of a named set or map (``obj``: the value, or a ``(key, data)`` pair,
    #: as in ``Set.elements``)
    ELEMENT = "element"
    #: a named stateful object: counter, quota, limit, ct helper ...
    OBJECT = "object"
    FLOWTABLE = "flowtable"
    #: a commit ended: every event before it (since the previous one) belongs to ``genid``
    GENERATION = "generation"
    #: the kernel dropped events (the socket's buffer overflowed): whatever was cached
    #: from earlier events must be read again
    LOST = "lost"


class Action(enum.StrEnum):
    """``add`` (``new*`` in netlink: created, or replaced in place) or ``delete``."""

    ADD = "add"
    DELETE = "delete"


def _family(value: Family | str | None) -> Family | None:
    return None if value is None else Family(value)


@attrs.frozen(kw_only=True)
class Event:
    """One change of the ruleset.

    Text (what ``nft monitor`` prints for it)::

        add rule inet t c handle 4 tcp dport 22 accept     # kind=rule, action=add, obj=Rule
        delete element inet t ports { 80 }                 # kind=element, obj=80
        # new generation 7 by process 1234 (nft)          # kind=generation, genid=7

    Attributes:
        kind: what changed.
        action: ``add`` or ``delete``; None for ``generation`` and ``lost``.
        family, table: where (None for ``generation``/``lost``).
        name: the table's, chain's, set's or object's name; the set's name for an element.
        chain: the rule's chain.
        handle: the kernel's handle of the table, chain, rule, set or object.
        obj: the model object, exactly as a listing gives it; None when it could not be
            decoded exactly (``reason`` says why).
        genid: the ruleset generation the change was committed in.
        reason: why ``obj`` is None.
        pid, process: who committed (``generation`` events).
    """

    kind: EventKind = attrs.field(converter=EventKind)
    action: Action | None = attrs.field(default=None,
                                        converter=attrs.converters.optional(Action))
    family: Family | None = attrs.field(default=None, converter=_family)
    table: str | None = None
    name: str | None = None
    chain: str | None = None
    handle: int | None = None
    obj: Any = None
    genid: int | None = None
    reason: str | None = None
    pid: int | None = None
    process: str | None = None

    @property
    def exact(self) -> bool:
        """Whether ``obj`` holds the object (events without one, such as ``generation``,
        count as exact when nothing was left out)."""
        return self.reason is None

    def __str__(self) -> str:
        if self.kind is EventKind.GENERATION:
            who = f" by process {self.pid} ({self.process})" if self.pid is not None else ""
            return f"# new generation {self.genid}{who}"
        if self.kind is EventKind.LOST:
            return "# events lost"
        where = " ".join(str(p) for p in (self.family, self.table, self.chain, self.name)
                         if p is not None)
        handle = f" handle {self.handle}" if self.handle is not None else ""
        what = repr(self.obj) if self.obj is not None else f"({self.reason})"
        return f"{self.action} {self.kind} {where}{handle}: {what}"
