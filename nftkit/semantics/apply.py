"""How the engine applies one operation, with the kernel's and nft's checks in their order,
and the batch-level rule that nft adds on top (its cache when a transaction flushes the
ruleset, ``FlushCache``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .. import check as _check
from ..errors import (
    BackendError,
    BusyError,
    ExistsError,
    InvalidError,
    NotFoundError,
)
from ..model.enums import ChainPolicy, SetFlag
from ..model.expressions import SetExpr
from ..model.objects import Counter, NamedObject, Quota
from ..model.priority import Priority
from ..model.ruleset import Chain, Flowtable, Rule, Table
from ..model.sets import Map, Set
from ..nft.releases import profile
from ..transaction import OBJECT_KINDS, Kind, Op, Verb
from . import elements as elems
from .state import ChainState, SetState, State, TableState

__all__ = ["Applier", "Fail", "FlushCache"]


class Fail(Exception):
    """Raised inside an operation; becomes a BackendError carrying the op and its index."""

    def __init__(self, cls: type[BackendError], message: str) -> None:
        super().__init__(message)
        self.cls = cls
        self.message = message


def _not_found(what: str) -> Fail:
    return Fail(NotFoundError, f"{what} does not exist")



class Applier:
    """Applies one op to a working state; raises Fail. ``base`` is the state before the
    transaction (what nft's cache knows)."""

    def __init__(self, state: State, base: State, op: Op,
                 version: tuple[int, int, int] = (1, 1, 0)) -> None:
        self.state = state
        self.base = base
        self.op = op
        self.version = version

    # --- lookups --------------------------------------------------------------------------------

    def table(self, missing_ok: bool = False) -> TableState | None:
        op = self.op
        assert op.family is not None and op.table is not None
        if op.kind is Kind.TABLE and op.handle is not None:
            found = next((t for t in self.state.tables.values()
                          if t.family is op.family and t.table.handle == op.handle), None)
        else:
            found = self.state.tables.get((op.family, op.table))
        if found is not None:
            return found
        if missing_ok:
            return None
        raise _not_found(f"table {op.family} {op.table}")

    def need_table(self) -> TableState:
        t = self.table()
        assert t is not None
        return t

    def chain(self, t: TableState, name: str | None, handle: int | None = None,
              missing_ok: bool = False) -> ChainState | None:
        if handle is not None and name is None:
            found = next((c for c in t.chains.values() if c.chain.handle == handle), None)
            what = f"chain with handle {handle}"
        else:
            found = t.chains.get(name or "")
            what = f"chain {name}"
        if found is None and not missing_ok:
            raise _not_found(f"{what} in {t.describe()}")
        return found

    def _given(self, handle: int | None) -> int | None:
        """The handle an object brings along, where the state keeps them."""
        return handle if self.state.keep_handles else None

    # --- dispatch -------------------------------------------------------------------------------

    def apply(self) -> int | None:
        op = self.op
        method = getattr(self, f"{op.verb.value}_{op.kind.name.lower()}", None)
        if method is None and op.kind in OBJECT_KINDS:
            method = getattr(self, f"{op.verb.value}_object", None)
        if method is None:
            raise Fail(InvalidError, f"{op.verb} {op.kind} is not supported")
        result: int | None = method()
        return result

    # --- tables ---------------------------------------------------------------------------------

    def add_table(self) -> int | None:
        return self._add_table(create=False)

    def create_table(self) -> int | None:
        return self._add_table(create=True)

    def _add_table(self, create: bool) -> int:
        op = self.op
        obj = op.obj
        assert isinstance(obj, Table) and op.family is not None and op.table is not None
        existing = self.state.tables.get((op.family, op.table))
        if existing is not None:
            if create:
                raise Fail(ExistsError, f"{existing.describe()} exists")
            if obj.flags:
                existing.table = existing.table.replace(flags=obj.flags)
            assert existing.table.handle is not None
            return existing.table.handle
        if self.state.keep_handles and obj.handle is not None:
            handle = obj.handle
            self.state.table_handle = max(self.state.table_handle, handle)
        else:
            self.state.table_handle += 1
            handle = self.state.table_handle
        bare = obj.replace(chains=(), sets=(), flowtables=(), objects=(), handle=handle)
        self.state.tables[(op.family, op.table)] = TableState(bare)
        return handle

    def delete_table(self) -> None:
        t = self.need_table()
        del self.state.tables[(t.family, t.table.name)]

    def destroy_table(self) -> None:
        if self.table(missing_ok=True) is not None:
            self.delete_table()

    def flush_table(self) -> None:
        for c in self.need_table().chains.values():
            c.kill(c.live)

    def flush_ruleset(self) -> None:
        self.state.tables.clear()

    # --- chains ---------------------------------------------------------------------------------

    def add_chain(self) -> int:
        return self._add_chain(create=False)

    def create_chain(self) -> int:
        return self._add_chain(create=True)

    def _add_chain(self, create: bool) -> int:
        t = self.need_table()
        chain = self.op.obj
        assert isinstance(chain, Chain)
        # nft and the kernel check the chain's type and hook before looking for the chain
        problems = _check.chain_problems(t.family, chain, f"{t.describe()} chain {chain.name}")
        if problems:
            # the kernel has no nat or route chain type outside ip/ip6/inet: ENOENT
            missing_type = problems[0].code is _check.ProblemCode.CHAIN_TYPE and \
                "does not exist" in problems[0].message
            raise Fail(NotFoundError if missing_type else InvalidError, problems[0].message)
        existing = t.chains.get(chain.name)
        if existing is not None:
            return self._update_chain(t, existing, chain, create)
        if chain.is_base:
            assert chain.priority is not None
            chain = chain.replace(priority=Priority(value=chain.priority.resolve(t.family)),
                                  policy=chain.policy or ChainPolicy.ACCEPT)
        chain = chain.replace(rules=(), handle=t.next_handle(self._given(chain.handle)))
        t.chains[chain.name] = ChainState(chain)
        assert chain.handle is not None
        return chain.handle

    def _update_chain(self, t: TableState, state: ChainState, new: Chain, create: bool) -> int:
        old = state.chain
        assert old.handle is not None
        if create:
            raise Fail(ExistsError, f"chain {old.name} exists in {t.describe()}")
        if not new.is_base:
            return old.handle
        if not old.is_base:
            raise Fail(ExistsError, f"chain {old.name} exists as a regular chain")
        assert new.priority is not None and old.priority is not None
        if (new.type, new.hook, new.priority.resolve(t.family), new.devices) != (
                old.type, old.hook, old.priority.resolve(t.family), old.devices):
            raise Fail(InvalidError, f"base chain {old.name} exists with another type, hook, "
                                      "priority or device (only the policy can change)")
        if new.policy is not None:
            state.chain = old.replace(policy=new.policy)
        return old.handle

    def delete_chain(self, missing_ok: bool = False) -> None:
        t = self.table(missing_ok=missing_ok)
        if t is None:
            return
        state = self.chain(t, self.op.name, self.op.handle, missing_ok=missing_ok)
        if state is None:
            return
        name = state.chain.name
        users = [where for where, target in _jumps(t) if target == name
                 and not where.startswith(f"chain {name} ")]
        if users:
            raise Fail(BusyError, f"chain {name} is in use ({users[0]} jumps to it)")
        del t.chains[name]

    def destroy_chain(self) -> None:
        self.delete_chain(missing_ok=True)

    def flush_chain(self) -> None:
        state = self.chain(self.need_table(), self.op.name)
        assert state is not None
        state.kill(state.live)

    def rename_chain(self) -> None:
        """nft finds the chain's handle in its cache (the ruleset before the transaction), and
        the kernel renames at commit."""
        t = self.need_table()
        op = self.op
        assert op.family is not None and op.table is not None and op.new_name is not None
        before = self.base.tables.get((op.family, op.table))
        known = before.chains.get(op.name or "") if before is not None else None
        handle = known.chain.handle if known is not None else None
        if handle is None or not any(c.chain.handle == handle for c in t.chains.values()):
            raise _not_found(f"chain {op.name} in {t.describe()}")
        pending = {new for key, _h, new in self.state.renames if key == (op.family, op.table)}
        if op.new_name in t.chains or op.new_name in pending:
            raise Fail(ExistsError, f"chain {op.new_name} exists in {t.describe()}")
        self.state.renames.append(((op.family, op.table), handle, op.new_name))

    # --- rules ----------------------------------------------------------------------------------

    def add_rule(self) -> int:
        return self._place_rule(after=True)

    def insert_rule(self) -> int:
        return self._place_rule(after=False)

    def _rule_target(self) -> tuple[TableState, ChainState, Rule]:
        """The table, chain and rule of a rule op, checked in nft's order: nft evaluates the
        rule's set and object references before it looks the chain up."""
        t = self.need_table()
        rule = self.op.obj
        assert isinstance(rule, Rule)
        self._check_refs(t, rule)
        state = self.chain(t, self.op.chain)
        assert state is not None
        return t, state, rule

    def _place_rule(self, after: bool) -> int:
        t, state, rule = self._rule_target()
        op = self.op
        if op.position is not None:
            at = next((i for i, r in enumerate(state.rules) if r.handle == op.position
                       and r.handle not in state.dead), None)
            if at is None:
                raise _not_found(f"rule with handle {op.position} in chain {state.chain.name}")
            pos = at + 1 if after else at
        elif op.index is not None:
            # nft turns the index into a position with its cache, which still has the rules
            # that this transaction deleted
            if op.index >= len(state.rules):
                raise _not_found(f"rule at index {op.index} in chain {state.chain.name}")
            pos = op.index + 1 if after else op.index
        else:
            pos = len(state.rules) if after else 0
        self._check_jumps(t, rule)
        for _anon in _anonymous_sets(rule):
            t.next_handle()
        rule = rule.replace(handle=t.next_handle(self._given(rule.handle)))
        state.rules.insert(pos, rule)
        self._check_loops(t, rule)
        assert rule.handle is not None
        return rule.handle

    def replace_rule(self) -> int:
        t, state, rule = self._rule_target()
        at = next((i for i, r in enumerate(state.rules) if r.handle == self.op.handle
                   and r.handle not in state.dead), None)
        if at is None:
            raise _not_found(f"rule with handle {self.op.handle} in chain {state.chain.name}")
        self._check_jumps(t, rule)
        for _anon in _anonymous_sets(rule):
            t.next_handle()
        state.rules[at] = rule.replace(handle=self.op.handle)
        self._check_loops(t, rule)
        assert self.op.handle is not None
        return self.op.handle

    def delete_rule(self, missing_ok: bool = False) -> None:
        t = self.table(missing_ok=missing_ok)
        state = self.chain(t, self.op.chain, missing_ok=missing_ok) if t is not None else None
        if state is None:
            return
        doomed = [r for r in state.live if r.handle == self.op.handle]
        state.kill(doomed)
        if not doomed and not missing_ok:
            raise _not_found(f"rule with handle {self.op.handle} in chain {state.chain.name}")

    def destroy_rule(self) -> None:
        self.delete_rule(missing_ok=True)

    def _check_refs(self, t: TableState, rule: Rule) -> None:
        """A new rule's sets and objects, which nft resolves in userspace."""
        for name, use, key in _check.set_refs(rule):
            s = t.sets.get(name)
            if s is None:
                raise _not_found(f"set @{name} in {t.describe()}")
            problem = _check.set_use_problem(s.set, use, key)
            if problem is not None:
                raise Fail(InvalidError, problem[1])
        for kind, name in _check.object_refs(rule):
            if (kind, name) not in t.objects:
                raise _not_found(f"{kind} {name} in {t.describe()}")

    def _check_jumps(self, t: TableState, rule: Rule) -> None:
        """A new rule's jump targets, which the kernel resolves (after the position)."""
        for target in _check.jump_targets(rule):
            tc = t.chains.get(target)
            if tc is None:
                raise _not_found(f"chain {target} (jump target) in {t.describe()}")
            if tc.chain.is_base:
                raise Fail(InvalidError, f"jump to base chain {target}")

    def _check_loops(self, t: TableState, new: Any = None) -> None:
        """A jump loop, or a chain too far from its base chain; ``new``: what was just added
        (nothing that does not jump can make either)."""
        if new is not None and not _check.jump_targets(new):
            return
        for p in _check.problems(t.model()):
            if p.severity is _check.Severity.ERROR and p.code in (
                    _check.ProblemCode.JUMP_LOOP, _check.ProblemCode.JUMP_TOO_DEEP):
                raise Fail(InvalidError, f"{p.message} (Too many links)")

    # --- sets and maps --------------------------------------------------------------------------

    # sets and maps share one namespace in the kernel, and one implementation here
    def add_set(self) -> int:
        return self._add_set(create=False)

    def create_set(self) -> int:
        return self._add_set(create=True)

    add_map = add_set
    create_map = create_set

    def _add_set(self, create: bool) -> int:
        t = self.need_table()
        new = self.op.obj
        assert isinstance(new, Set)
        state = t.sets.get(new.name)
        if state is not None:
            if create:
                raise Fail(ExistsError, f"set {new.name} exists in {t.describe()}")
            if _definition(state.set) != _definition(new):
                raise Fail(ExistsError,
                            f"set {new.name} exists in {t.describe()} with another definition")
        else:
            state = SetState(new.replace(elements=(),
                                         handle=t.next_handle(self._given(new.handle))))
            t.sets[new.name] = state
        self._add_elements(t, state, new.elements, create=False)
        assert state.set.handle is not None
        return state.set.handle

    def delete_set(self, missing_ok: bool = False) -> None:
        t = self.table(missing_ok=missing_ok)
        if t is None:
            return
        name = self.op.name
        if name is None:
            name = next((n for n, s in t.sets.items() if s.set.handle == self.op.handle), None)
        if name is None or name not in t.sets:
            if missing_ok:
                return
            raise _not_found(f"set {name or f'with handle {self.op.handle}'} in {t.describe()}")
        users = [c.chain.name for c in t.chains.values() for r in c.live
                 if any(n == name for n, _u, _k in _check.set_refs(r))]
        if users:
            raise Fail(BusyError, f"set {name} is in use by a rule in chain {users[0]}")
        del t.sets[name]

    def destroy_set(self) -> None:
        self.delete_set(missing_ok=True)

    delete_map = delete_set
    destroy_map = destroy_set

    def flush_set(self) -> None:
        t = self.need_table()
        state = t.sets.get(self.op.name or "")
        # nft looks a set or a map up in its cache by kind: ``flush set`` does not find a map
        if state is None or isinstance(state.set, Map) != (self.op.kind is Kind.MAP):
            raise _not_found(f"{self.op.kind} {self.op.name} in {t.describe()}")
        state.elements.clear()

    flush_map = flush_set

    # --- elements -------------------------------------------------------------------------------

    def _element_set(self) -> tuple[TableState, SetState]:
        t = self.need_table()
        state = t.sets.get(self.op.name or "")
        if state is None:
            raise _not_found(f"set {self.op.name} in {t.describe()}")
        return t, state

    def add_element(self) -> None:
        t, state = self._element_set()
        self._add_elements(t, state, self.op.elements, create=False)

    def create_element(self) -> None:
        t, state = self._element_set()
        self._add_elements(t, state, self.op.elements, create=True)

    def delete_element(self, missing_ok: bool = False) -> None:
        t = self.table(missing_ok=missing_ok)
        state = t.sets.get(self.op.name or "") if t is not None else None
        if state is None:
            if missing_ok:
                return
            raise _not_found(f"set {self.op.name} in {self.need_table().describe()}")
        is_map = isinstance(state.set, Map)
        for given in elems.normalize_value(self.op.elements):
            element = elems.coerce(state.set, given)
            problem = elems.element_problem(state.set, element, deleting=True)
            if problem:
                raise Fail(InvalidError, problem)
            key = self._key(state, element, is_map)
            if key not in state.elements:
                if missing_ok:
                    continue
                raise _not_found(f"element {key!r} in set {state.set.name}")
            del state.elements[key]

    def destroy_element(self) -> None:
        self.delete_element(missing_ok=True)

    def _key(self, state: SetState, element: Any, is_map: bool) -> Any:
        key = elems.element_key(element, is_map)
        if SetFlag.INTERVAL in state.set.flags:
            iv = elems.interval_of(key)
            if iv is not None:
                return iv
        return key

    def _add_elements(self, t: TableState, state: SetState, elements: tuple[Any, ...],
                      create: bool) -> None:
        s = state.set
        is_map = isinstance(s, Map)
        interval = SetFlag.INTERVAL in s.flags
        added: dict[Any, Any] = {}
        for given in elems.normalize_value(tuple(elements)):
            element = elems.coerce(s, given)
            problem = elems.element_problem(s, element)
            if problem:
                raise Fail(InvalidError, problem)
            if is_map and isinstance(element, tuple):
                for target in _check.jump_targets(element[1]):
                    tc = t.chains.get(target)
                    if tc is None:
                        raise _not_found(f"chain {target} (jump target) in {t.describe()}")
                    if tc.chain.is_base:
                        raise Fail(InvalidError, f"jump to base chain {target}")
            key = self._key(state, element, is_map)
            if interval and isinstance(key, tuple):
                clash = elems.overlaps([*state.elements, *added], key)
                if clash is not None:
                    raise Fail(InvalidError, "interval overlaps with an existing one")
            old = state.elements.get(key, added.get(key))
            if old is not None or key in state.elements:
                if create:
                    raise Fail(ExistsError, f"element {key!r} exists in {s.name}")
                if is_map and isinstance(old, tuple) and old[1] != element[1]:
                    raise Fail(ExistsError, f"element {key!r} exists in {s.name} "
                                             "with other data")
                continue
            added[key] = element
        state.elements.update(added)
        if is_map and added:
            self._check_loops(t)

    # --- named objects and flowtables -----------------------------------------------------------

    def add_object(self, create: bool = False) -> int:
        t = self.need_table()
        obj = self.op.obj
        assert isinstance(obj, NamedObject)
        key = (obj.json_key, self.op.name or "")
        existing = t.objects.get(key)
        if existing is not None:
            if create:
                raise Fail(ExistsError, f"{obj.json_key} {key[1]} exists in {t.describe()}")
            # the kernel updates objects that support it (a quota's limit); a fake can
            # keep the new definition for all
            handle = _handle(existing)
            t.objects[key] = obj.replace(handle=handle)
            return handle
        handle = t.next_handle(self._given(getattr(obj, "handle", None)))
        t.objects[key] = obj.replace(handle=handle)
        return handle

    def create_object(self) -> int:
        return self.add_object(create=True)

    def delete_object(self, missing_ok: bool = False) -> None:
        t = self.table(missing_ok=missing_ok)
        if t is None:
            return
        kind = self.op.kind.value
        name = self.op.name
        if name is None:
            name = next((n for (k, n), o in t.objects.items()
                         if k == kind and _handle(o) == self.op.handle), None)
        if name is None or (kind, name) not in t.objects:
            if missing_ok:
                return
            raise _not_found(f"{kind} {name or f'with handle {self.op.handle}'} in "
                             f"{t.describe()}")
        users = [c.chain.name for c in t.chains.values() for r in c.live
                 if (kind, name) in set(_check.object_refs(r))]
        if users:
            raise Fail(BusyError, f"{kind} {name} is in use by a rule in chain {users[0]}")
        del t.objects[(kind, name)]

    def destroy_object(self) -> None:
        self.delete_object(missing_ok=True)

    def reset_object(self) -> None:
        t = self.need_table()
        key = (self.op.kind.value, self.op.name or "")
        obj = t.objects.get(key)
        if obj is None:
            if not profile(self.version).reset_missing_object_fails:
                return  # nft >= 1.1 resets nothing, without an error
            raise _not_found(f"{key[0]} {key[1]} in {t.describe()}")
        t.objects[key] = _zeroed(obj)

    def _reset_all(self) -> None:
        if self.op.kind is Kind.RULES and not profile(self.version).reset_rules:
            # libnftables 1.0.6 reads no "reset rules" command: "Unknown object passed to
            # reset command"
            raise Fail(InvalidError, "reset rules needs nft >= 1.0.7")
        tables = [t for t in self.state.tables.values()
                  if self.op.family in (None, t.family)]
        if self.op.kind is Kind.QUOTAS and not profile(self.version).json_reset_quotas_table:
            # nft 1.0.6's JSON reader drops the table of "reset quotas": all of them
            tables = list(self.state.tables.values())
        elif self.op.table is not None:
            t = self.need_table()
            if self.op.chain is not None:
                self.chain(t, self.op.chain)
            tables = [t]
        kind = {Kind.COUNTERS: Kind.COUNTER, Kind.QUOTAS: Kind.QUOTA}.get(self.op.kind)
        for t in tables:
            for key, obj in t.objects.items():
                if key[0] == kind:
                    t.objects[key] = _zeroed(obj)

    reset_counters = reset_quotas = reset_rules = _reset_all

    def add_flowtable(self, create: bool = False) -> int:
        t = self.need_table()
        ft = self.op.obj
        assert isinstance(ft, Flowtable)
        existing = t.flowtables.get(ft.name)
        if existing is not None:
            if create:
                raise Fail(ExistsError, f"flowtable {ft.name} exists in {t.describe()}")
            assert existing.handle is not None
            return existing.handle
        handle = t.next_handle(self._given(ft.handle))
        t.flowtables[ft.name] = ft.replace(
            handle=handle, priority=Priority(value=ft.priority.resolve(t.family)))
        return handle

    def create_flowtable(self) -> int:
        return self.add_flowtable(create=True)

    def delete_flowtable(self, missing_ok: bool = False) -> None:
        t = self.table(missing_ok=missing_ok)
        if t is None:
            return
        name = self.op.name or next((n for n, f in t.flowtables.items()
                                     if f.handle == self.op.handle), None)
        if name is None or name not in t.flowtables:
            if missing_ok:
                return
            raise _not_found(f"flowtable {name} in {t.describe()}")
        del t.flowtables[name]

    def destroy_flowtable(self) -> None:
        self.delete_flowtable(missing_ok=True)



# --- helpers --------------------------------------------------------------------------------


#: Ops that nft checks against its cache of the ruleset in userspace.
_CACHED = {
    (Verb.ADD, Kind.CHAIN), (Verb.CREATE, Kind.CHAIN), (Verb.ADD, Kind.SET),
    (Verb.CREATE, Kind.SET), (Verb.ADD, Kind.MAP), (Verb.CREATE, Kind.MAP),
    (Verb.ADD, Kind.FLOWTABLE), (Verb.CREATE, Kind.FLOWTABLE), (Verb.RENAME, Kind.CHAIN),
    (Verb.FLUSH, Kind.SET), (Verb.FLUSH, Kind.MAP),
    *((verb, Kind.ELEMENT) for verb in (Verb.ADD, Verb.CREATE, Verb.DELETE, Verb.DESTROY)),
    *((verb, kind) for verb in (Verb.ADD, Verb.CREATE) for kind in OBJECT_KINDS),
}


class FlushCache:
    """nft does not read the ruleset into its cache when a batch flushes it: an op before the
    ``flush ruleset`` that nft checks against the cache fails (ENOENT) unless the batch itself
    added what it needs (the table; the set, for elements). The batch fails at the flush (the
    first prefix of the batch that fails)."""

    def __init__(self, ops: tuple[Op, ...]) -> None:
        self.flush = next((i for i, op in enumerate(ops)
                           if op.verb is Verb.FLUSH and op.kind is Kind.RULESET), None)
        self.added: set[tuple[Any, ...]] = set()
        self.problem: str | None = None

    def check(self, index: int, op: Op, work: State) -> str | None:
        """Note ``op`` (applied next); the error to raise at the flush, when it is the flush."""
        if self.flush is None:
            return None
        if index == self.flush:
            return self.problem
        if index > self.flush or self.problem is not None:
            return None
        if op.verb in (Verb.ADD, Verb.CREATE):
            if op.kind is Kind.TABLE:
                self.added.add((op.family, op.table))
            elif op.kind in (Kind.SET, Kind.MAP):
                self.added.add((op.family, op.table, op.name))
        if op.kind is Kind.RULE and isinstance(op.obj, Rule):
            # nft looks up the sets a rule names in its cache (``ip saddr @s``)
            missing = next((n for n, _use, _key in _check.set_refs(op.obj)
                            if (op.family, op.table, n) not in self.added), None)
            if missing is not None:
                self.problem = (f"operation {index} ({op.describe()}) needs nft's cache of "
                                f"the ruleset (set @{missing}), which nft does not load when "
                                "the transaction flushes the ruleset: No such file or "
                                "directory")
            return None
        if (op.verb, op.kind) not in _CACHED:
            return None
        if op.verb is Verb.RENAME:
            need: tuple[Any, ...] = (op.family, op.table, op.name, "chain")  # never added
        elif op.kind is Kind.ELEMENT or op.verb is Verb.FLUSH:
            need = (op.family, op.table, op.name)
            if op.verb is Verb.DESTROY and not _any_element_exists(work, op):
                return None  # an emulated destroy of what is not there sends nothing
        else:
            need = (op.family, op.table)
        if need not in self.added:
            self.problem = (f"operation {index} ({op.describe()}) needs nft's cache of the "
                            "ruleset, which nft does not load when the transaction flushes "
                            "the ruleset: No such file or directory")
        return None


def _any_element_exists(work: State, op: Op) -> bool:
    assert op.family is not None and op.table is not None
    t = work.tables.get((op.family, op.table))
    state = t.sets.get(op.name or "") if t is not None else None
    if state is None:
        return False
    is_map = isinstance(state.set, Map)
    for given in elems.normalize_value(op.elements):
        element = elems.coerce(state.set, given)
        key = elems.element_key(element, is_map)
        if SetFlag.INTERVAL in state.set.flags:
            key = elems.interval_of(key) or key
        if key in state.elements:
            return True
    return False


def _zeroed(obj: NamedObject) -> NamedObject:
    """A counter or quota as ``reset`` leaves it; other objects have nothing to reset."""
    if isinstance(obj, Counter):
        return obj.replace(packets=0, bytes=0)
    if isinstance(obj, Quota):
        return obj.replace(used=0)
    return obj


def _handle(obj: NamedObject) -> int:
    handle = getattr(obj, "handle", None)
    assert isinstance(handle, int)
    return handle


def _definition(s: Set) -> tuple[Any, ...]:
    """What must match for ``add set`` of an existing set to be a no-op."""
    data = (s.data_type, s.data_typeof) if isinstance(s, Map) else None
    return (type(s) is Map, s.type, s.typeof, data, s.flags, s.timeout)


def _anonymous_sets(rule: Rule) -> Iterator[SetExpr]:
    """Anonymous sets/maps of a rule: the kernel gives each a handle before the rule's own."""
    for n in rule.walk():
        if isinstance(n, SetExpr):
            yield n


def _jumps(t: TableState) -> Iterator[tuple[str, str]]:
    """``(where, target)`` for every jump/goto in rules and verdict-map elements."""
    for c in t.chains.values():
        for i, r in enumerate(c.live):
            for target in _check.jump_targets(r):
                yield f"chain {c.chain.name} rule {i + 1}", target
    for s in t.sets.values():
        if isinstance(s.set, Map):
            for e in s.elements.values():
                if isinstance(e, tuple):
                    for target in _check.jump_targets(e[1]):
                        yield f"map {s.set.name}", target


