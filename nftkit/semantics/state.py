"""The ruleset the engine works on: tables, chains, sets, objects, and how they list.

Model objects are immutable; the containers here are not, and ``clone`` copies the containers
(not the objects) so that a transaction can work on a copy and be dropped when it fails.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._node import Node
from ..model.enums import Family, SetFlag
from ..model.expressions import VerdictExpr, VerdictKind
from ..model.objects import NamedObject
from ..model.ruleset import Chain, Flowtable, Rule, Ruleset, Table
from ..model.sets import Map, Set
from . import elements as elems

__all__ = ["ChainState", "SetState", "State", "TableState", "retarget", "set_model"]


@attrs.define
class ChainState:
    """A chain and its rules. As in the kernel, a rule deleted (or flushed) by the running
    transaction stays in ``rules``, inactive (its handle in ``dead``), until the commit: nft
    still counts it when it turns ``index=N`` into a position, and a rule placed relative to
    it takes its place."""

    chain: Chain  # without rules, with its handle
    rules: list[Rule] = attrs.Factory(list)
    dead: set[int | None] = attrs.Factory(set)

    def clone(self) -> ChainState:
        return ChainState(self.chain, list(self.rules), set(self.dead))

    @property
    def live(self) -> list[Rule]:
        """The rules that are active (what a listing shows)."""
        return [r for r in self.rules if r.handle not in self.dead] if self.dead else self.rules

    def kill(self, rules: list[Rule]) -> None:
        self.dead.update(r.handle for r in rules)

    def commit(self) -> None:
        self.rules = self.live
        self.dead = set()


@attrs.define
class SetState:
    set: Set  # without elements, with its handle
    elements: dict[Any, Any] = attrs.Factory(dict)  # key -> element as given (normalized)

    def clone(self) -> SetState:
        return SetState(self.set, dict(self.elements))


@attrs.define
class TableState:
    table: Table  # without contents, with its handle
    hgen: int = 0
    chains: dict[str, ChainState] = attrs.Factory(dict)
    sets: dict[str, SetState] = attrs.Factory(dict)
    objects: dict[tuple[str, str], NamedObject] = attrs.Factory(dict)
    flowtables: dict[str, Flowtable] = attrs.Factory(dict)

    def clone(self) -> TableState:
        return TableState(self.table, self.hgen,
                           {k: c.clone() for k, c in self.chains.items()},
                           {k: s.clone() for k, s in self.sets.items()},
                           dict(self.objects), dict(self.flowtables))

    def next_handle(self, given: int | None = None) -> int:
        """The next handle of the table's one counter; ``given`` (a handle read from a
        listing, ``State.keep_handles``) is kept, and the counter moves past it."""
        if given is not None:
            self.hgen = max(self.hgen, given)
            return given
        self.hgen += 1
        return self.hgen

    @property
    def family(self) -> Family:
        return self.table.family

    def describe(self) -> str:
        return f"table {self.table.family} {self.table.name}"

    def model(self) -> Table:
        """The table as ``nft list table`` shows it (elements sorted, see ``elements``)."""
        return self.table.replace(
            objects=tuple(self.objects.values()),
            sets=tuple(set_model(s) for s in self.sets.values()),
            flowtables=tuple(self.flowtables.values()),
            chains=tuple(c.chain.replace(rules=tuple(c.live)) for c in self.chains.values()),
        )


def set_model(state: SetState) -> Set:
    s = state.set
    items = sorted(state.elements.values(), key=elems.sort_key)
    if SetFlag.INTERVAL in s.flags:
        items = [_listed_interval(e, isinstance(s, Map)) for e in items]
    return s.replace(elements=tuple(items))


def _listed_interval(element: Any, is_map: bool) -> Any:
    key = elems.element_key(element, is_map)
    iv = elems.interval_of(key)
    if iv is None:
        return element
    shown = elems.render_interval(iv)
    return (shown, element[1]) if is_map and isinstance(element, tuple) else shown


@attrs.define
class State:
    table_handle: int = 0
    tables: dict[tuple[Family, str], TableState] = attrs.Factory(dict)
    #: chain renames of the running transaction: (table key, chain handle, new name). The
    #: kernel applies them at commit; until then the chain keeps its old name.
    renames: list[tuple[tuple[Family, str], int, str]] = attrs.Factory(list)
    #: keep the handles that the objects carry (a parsed ``nft -a`` listing) instead of
    #: numbering everything, as the kernel does
    keep_handles: bool = False

    def clone(self) -> State:
        return State(self.table_handle, {k: t.clone() for k, t in self.tables.items()},
                     keep_handles=self.keep_handles)

    def commit(self) -> None:
        """Drop the deleted rules; apply the pending renames: the chain, and every jump to it,
        get the new name."""
        for table in self.tables.values():
            for chain in table.chains.values():
                chain.commit()
        for key, handle, new in self.renames:
            t = self.tables.get(key)
            state = next((c for c in t.chains.values() if c.chain.handle == handle),
                         None) if t is not None else None
            if t is None or state is None:
                continue  # deleted later in the same transaction
            old = state.chain.name
            state.chain = state.chain.replace(name=new)
            t.chains = {(new if k == old else k): v for k, v in t.chains.items()}
            # the kernel's verdicts point at the chain itself: they follow it to its new name
            for c in t.chains.values():
                c.rules = [retarget(r, old, new) for r in c.rules]
            for s in t.sets.values():
                if isinstance(s.set, Map):
                    s.elements = {k: retarget(e, old, new) for k, e in s.elements.items()}
        self.renames.clear()

    def model(self) -> Ruleset:
        tables: tuple[Table, ...] = tuple(t.model() for t in self.tables.values())
        return Ruleset(tables=tables)



def retarget(value: Any, old: str, new: str) -> Any:
    """``value`` with jumps/gotos to ``old`` pointing at ``new``."""
    if isinstance(value, VerdictExpr):
        if value.target == old and value.kind in (VerdictKind.JUMP, VerdictKind.GOTO):
            return value.replace(target=new)
        return value
    if isinstance(value, tuple):
        return tuple(retarget(v, old, new) for v in value)
    if isinstance(value, Node) and attrs.has(type(value)):
        changes = {}
        for f in attrs.fields(type(value)):  # type: ignore[arg-type]
            v = getattr(value, f.name)
            if isinstance(v, (Node, tuple)):
                nv = retarget(v, old, new)
                if nv is not v and nv != v:
                    changes[f.name] = nv
        return value.replace(**changes) if changes else value
    return value
