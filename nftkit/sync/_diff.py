"""``diff(current, desired)``: the operations that turn one ruleset into the other.

Per owned table, in this order (so that every reference resolves and nothing still in use is
deleted; ``Transaction.batch`` keeps it: it moves ``add`` s only within runs between other
verbs)::

    a  add new named objects, flowtables, sets and maps (bare), chain headers; table flags
       and base chain policies changed in place (``add table``/``add chain`` of what exists)
    b  delete elements: removed ones, those whose data or options changed, and those that
       name a chain or object that is recreated
    c  flush the chains that are deleted or recreated, and those whose rules name something
       that is recreated (their rules are added again in g)
    d  in every other chain: rules deleted, replaced and inserted by handle (an alignment of
       the current rules with the desired ones, ``difflib``: equal rules stay untouched)
    e  delete removed and recreated sets and maps, then objects and flowtables, then chains
    f  add recreated objects, flowtables, sets and maps, and chain headers
    g  add the rules of new, recreated and flushed chains
    h  add elements: new and changed ones, the elements of new sets and maps

What cannot change in place is recreated (deleted and added again in the same batch): a
set or map whose type, flags, timeout, size, policy, comment or statements differ; a chain
whose type, hook, priority, devices or comment differ (a base chain's policy changes in
place); a named object or flowtable that differs; a table whose comment differs or that
loses a flag (the whole table; a flag is added in place). Recreating loses what the kernel
keeps in the object (elements added by the datapath, counter and quota values, timeouts
already running), and rules that use it are added again (so their counters start at zero
too).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .._node import Node
from ..errors import ValidationError
from ..model.enums import Family, SetFlag
from ..model.expressions import SetRefExpr, VerdictExpr
from ..model.objects import NamedObject
from ..model.ruleset import Chain, Flowtable, Rule, Ruleset, Table
from ..model.sets import Map, Set
from ..model.statements import FlowOffloadStmt, ObjrefStmt
from ..semantics.elements import element_key
from ..transaction import Kind, Op, Transaction, Verb
from ._canonical import (
    canonical_chain,
    canonical_element,
    canonical_object,
    canonical_rule,
    canonical_set,
)

__all__ = ["Handles", "Plan", "TableKey", "diff", "owned_keys", "plan"]

#: A table: ``(Family.INET, "t")``.
TableKey = tuple[Family, str]
#: Per chain name, the kernel handle of each rule (None where unknown).
Handles = Mapping[str, Sequence[int | None]]
#: Where a desired rule's handle comes from: a kernel handle, or the index of the op
#: (in ``Plan.txn.ops``) that makes it.
Placement = tuple[str, int]


@attrs.frozen(kw_only=True)
class Plan:
    """What ``plan`` found: the transaction, and for each chain of each owned table the
    source of each desired rule's handle (``("handle", h)`` or ``("op", i)``; None for a
    chain, or a table, whose rules keep the handles they had), so that a caller can know
    the kernel's handles after the batch without listing anything."""

    txn: Transaction
    rules: Mapping[TableKey, Mapping[str, Sequence[Placement] | None] | None]
    #: per table, what the current rules' handles are read from: the table, the handles
    current: Mapping[TableKey, tuple[Table | None, Handles | None]]

    def handles(self, op_handles: Sequence[int | None]
                ) -> dict[TableKey, dict[str, Sequence[int | None]]]:
        """The handles of every desired rule, given those the batch returned per op."""
        out: dict[TableKey, dict[str, Sequence[int | None]]] = {}
        for key, chains in self.rules.items():
            t, hs = self.current.get(key, (None, None))
            before = _handles_of(t, hs)
            if chains is None:
                out[key] = dict(before)
                continue
            out[key] = {name: before.get(name, ()) if places is None else
                        tuple(v if src == "handle" else op_handles[v] for src, v in places)
                        for name, places in chains.items()}
        return out


def owned_keys(tables: Iterable[Table | tuple[Family | str, str] | str]) -> list[TableKey]:
    """``[Table, ("inet", "t"), "ip kube-proxy"]`` -> ``[(Family.INET, "t"), ...]``."""
    out: list[TableKey] = []
    for t in tables:
        if isinstance(t, Table):
            key = (t.family, t.name)
        elif isinstance(t, str):
            fam, _, name = t.partition(" ")
            key = (Family(fam), name.strip())
        else:
            key = (Family(t[0]), t[1])
        if not key[1]:
            raise ValidationError("diff", "tables", f"not a table: {t!r}")
        if key not in out:
            out.append(key)
    return out


def _by_key(rs: Ruleset | Iterable[Table]) -> dict[TableKey, Table]:
    tables = rs.tables if isinstance(rs, Ruleset) else rs
    return {(t.family, t.name): t for t in tables}


def diff(current: Ruleset | Iterable[Table], desired: Ruleset | Iterable[Table], *,
         tables: Iterable[Table | tuple[Family | str, str] | str] | None = None
         ) -> Transaction:
    """The operations that turn ``current`` into ``desired``, for the owned tables only.

    ``tables``: the tables the caller owns (``[("inet", "filter"), "ip kube-proxy"]``);
    by default those of ``desired``. An owned table missing from ``desired`` is deleted;
    tables not owned are never touched. ``current`` is what the kernel has, with handles
    (``nft.list_ruleset()``): rules are deleted and replaced by handle. Objects that are
    equal in both (canonically, see ``nftkit.canonical``) get no operation::

        txn = nftkit.diff(nft.list_ruleset(), desired)
        print(txn.to_json())   # {"nftables": [{"delete": {"element": ...}}, ...]}

    See the module docs for the order of the operations and what is recreated.
    """
    cur, des = _by_key(current), _by_key(desired)
    owned = owned_keys(tables) if tables is not None else list(des)
    return plan({k: cur.get(k) for k in owned}, {k: des.get(k) for k in owned}).txn


def plan(current: Mapping[TableKey, Table | None], desired: Mapping[TableKey, Table | None],
         handles: Mapping[TableKey, Handles] | None = None,
         aliases: Mapping[Rule, Rule] | None = None) -> Plan:
    """``diff`` for the tables in ``desired`` (keys), with the rule handles of ``current``
    given apart (``handles``: per table and chain; by default each rule's ``handle``).
    ``aliases``: canonical rules as the kernel lists them -> the canonical rule that was
    sent (nft rewrites some rules: ``meta l4proto tcp tcp dport 22`` lists as ``tcp dport
    22``), so that a listed rule equals the rule it came from."""
    txn = Transaction()
    rules: dict[TableKey, dict[str, list[Placement] | None] | None] = {}
    sources: dict[TableKey, tuple[Table | None, Handles | None]] = {}
    for key, des in desired.items():
        cur = current.get(key)
        hs = (handles or {}).get(key)
        rules[key] = _TableDiff(txn, key, cur, des, hs, aliases or {}).run()
        sources[key] = (cur, hs)
    return Plan(txn=txn, rules=rules, current=sources)


def _rule_handles(c: Chain, handles: Handles | None) -> list[int | None]:
    """The handles of ``c``'s rules: given apart, else each rule's own."""
    if handles is not None and c.name in handles:
        hs = list(handles[c.name])
        if len(hs) == len(c.rules):
            return hs
    return [r.handle for r in c.rules]


def _handles_of(t: Table | None, handles: Handles | None) -> dict[str, Sequence[int | None]]:
    return {} if t is None else {c.name: _rule_handles(c, handles) for c in t.chains}


# --- references -------------------------------------------------------------------------------


def _names(node: Node) -> set[str]:
    """The names of chains, sets, maps, objects and flowtables a rule or element refers to."""
    out: set[str] = set()
    for n in node.walk():
        if isinstance(n, SetRefExpr):
            out.add(n.name)
        elif isinstance(n, VerdictExpr) and n.target is not None:
            out.add(n.target)
        elif isinstance(n, FlowOffloadStmt):
            out.add(n.flowtable)
        elif isinstance(n, ObjrefStmt) and isinstance(n.obj, str):
            out.add(n.obj)
    return out


def _element_names(element: Any) -> set[str]:
    if isinstance(element, tuple) and len(element) == 2:
        data = element[1]
        if isinstance(data, str):
            return {data}
        if isinstance(data, Node):
            return _names(data)
    return set()


def _obj_key(o: NamedObject | Flowtable) -> tuple[str, str]:
    return ("flowtable" if isinstance(o, Flowtable) else o.keyword, o.name)


def _objects(t: Table) -> dict[tuple[str, str], NamedObject | Flowtable]:
    out: dict[tuple[str, str], NamedObject | Flowtable] = {}
    for o in t.objects:
        out[_obj_key(o)] = o
    for f in t.flowtables:
        out[_obj_key(f)] = f
    return out


class _TableDiff:
    """The diff of one table (see the module docstring for the phases)."""

    def __init__(self, txn: Transaction, key: TableKey, cur: Table | None, des: Table | None,
                 handles: Handles | None, aliases: Mapping[Rule, Rule]) -> None:
        self.txn = txn
        self.aliases = aliases
        self.key = key
        self.cur = cur
        self.des = des
        self.handles = handles
        self.family, self.name = key
        self.places: dict[str, list[Placement] | None] = {}

    # --- ops ----------------------------------------------------------------------------------

    def op(self, **fields: Any) -> int:
        self.txn.append(Op(family=self.family, table=self.name, **fields))
        return len(self.txn.ops) - 1

    def add_rule(self, chain: str, rule: Rule) -> int:
        return self.op(verb=Verb.ADD, kind=Kind.RULE, chain=chain, obj=rule)

    def add_named(self, obj: Set | NamedObject | Flowtable | Chain, *,
                  elements: bool = True) -> None:
        if isinstance(obj, Chain):
            self.op(verb=Verb.ADD, kind=Kind.CHAIN, name=obj.name,
                    obj=obj.replace(rules=()) if obj.rules else obj)
        elif isinstance(obj, Set):
            kind = Kind.MAP if isinstance(obj, Map) else Kind.SET
            keep = elements or SetFlag.CONSTANT in obj.flags
            self.op(verb=Verb.ADD, kind=kind, name=obj.name,
                    obj=obj if keep or not obj.elements else obj.replace(elements=()))
        else:
            kind = Kind.FLOWTABLE if isinstance(obj, Flowtable) else Kind(obj.keyword)
            self.op(verb=Verb.ADD, kind=kind, name=obj.name, obj=obj)

    def delete_named(self, obj: Set | NamedObject | Flowtable | Chain) -> None:
        if isinstance(obj, Chain):
            kind = Kind.CHAIN
        elif isinstance(obj, Set):
            kind = Kind.MAP if isinstance(obj, Map) else Kind.SET
        else:
            kind = Kind.FLOWTABLE if isinstance(obj, Flowtable) else Kind(obj.keyword)
        self.op(verb=Verb.DELETE, kind=kind, name=obj.name)

    def chain_rules(self, chain: Chain) -> None:
        """Each rule of ``chain`` added (g), recording where its handle comes from."""
        self.places[chain.name] = [("op", self.add_rule(chain.name, r)) for r in chain.rules]

    # --- whole tables -------------------------------------------------------------------------

    def whole(self, t: Table) -> None:
        start = len(self.txn.ops)
        self.txn.add(t)
        places: dict[str, list[Placement]] = {c.name: [] for c in t.chains}
        for i, op in enumerate(self.txn.ops[start:], start):
            if op.kind is Kind.RULE and op.chain is not None:
                places.setdefault(op.chain, []).append(("op", i))
        self.places.update(places)

    def run(self) -> dict[str, list[Placement] | None] | None:
        cur, des = self.cur, self.des
        if des is None:
            if cur is not None:
                self.op(verb=Verb.DELETE, kind=Kind.TABLE)
            return self.places
        if cur is None:
            self.whole(des)
            return self.places
        if cur.comment != des.comment or cur.flags - des.flags:
            # (``add table`` sets flags, nothing clears one short of a new table)
            self.op(verb=Verb.DELETE, kind=Kind.TABLE)
            self.whole(des)
            return self.places
        if cur is des and self.handles is not None:
            hs = self.handles
            if all(len(hs.get(c.name, ())) == len(c.rules) and None not in hs.get(c.name, ())
                   for c in des.chains):
                return None  # the same table: every rule keeps its handle
        self.tables(cur, des)
        return self.places

    # --- inside a table -----------------------------------------------------------------------

    def rule_handles(self, c: Chain) -> list[int | None]:
        return _rule_handles(c, self.handles)

    def tables(self, cur: Table, des: Table) -> None:
        fam = self.family
        # what is recreated, removed, added
        cur_sets = {s.name: s for s in cur.sets}
        des_sets = {s.name: s for s in des.sets}
        cur_objs = _objects(cur)
        des_objs = _objects(des)
        cur_chains = {c.name: c for c in cur.chains}
        des_chains = {c.name: c for c in des.chains}

        new_objs = [o for k, o in des_objs.items() if k not in cur_objs]
        gone_objs = [o for k, o in cur_objs.items() if k not in des_objs]
        re_objs = [o for k, o in des_objs.items() if k in cur_objs and cur_objs[k] is not o
                   and canonical_object(cur_objs[k]) != canonical_object(o)]
        new_sets = [s for n, s in des_sets.items() if n not in cur_sets]
        gone_sets = [s for n, s in cur_sets.items() if n not in des_sets]
        re_sets: list[Set] = []
        kept_sets: list[tuple[Set, Set]] = []
        for n, s in des_sets.items():
            old = cur_sets.get(n)
            if old is None:
                continue
            if old is s or _same_header(old, s):
                kept_sets.append((old, s))
            else:
                re_sets.append(s)
        new_chains = [c for n, c in des_chains.items() if n not in cur_chains]
        gone_chains = [c for n, c in cur_chains.items() if n not in des_chains]
        re_chains: list[Chain] = []
        policy: list[Chain] = []
        kept_chains: list[tuple[Chain, Chain]] = []
        for n, c in des_chains.items():
            old_c = cur_chains.get(n)
            if old_c is None:
                continue
            if old_c is c:
                kept_chains.append((old_c, c))
                continue
            a, b = canonical_chain(old_c, fam), canonical_chain(c, fam)
            if a == b:
                kept_chains.append((old_c, c))
            elif attrs.evolve(a, policy=b.policy) == b:
                # the policy spelled out: an ``add chain`` without one keeps the old policy
                policy.append(attrs.evolve(c, policy=b.policy))
                kept_chains.append((old_c, c))
            else:
                re_chains.append(c)

        recreated = ({o.name for o in re_objs} | {s.name for s in re_sets}
                     | {c.name for c in re_chains})
        rebuilt: list[tuple[Chain, Chain]] = []
        edited: list[tuple[Chain, Chain]] = []
        for old_c, c in kept_chains:
            if recreated and any(recreated & _names(r) for r in (*old_c.rules, *c.rules)):
                rebuilt.append((old_c, c))
            else:
                edited.append((old_c, c))

        # a: new things and in-place changes
        if cur.flags != des.flags:
            # (flags only: the comment is the same, and not every path can send one)
            self.op(verb=Verb.ADD, kind=Kind.TABLE,
                    obj=Table(family=des.family, name=des.name, flags=des.flags))
        for o in new_objs:
            self.add_named(o)
        for s in new_sets:
            self.add_named(s, elements=False)
        for c in new_chains:
            self.add_named(c)
        for c in policy:
            self.add_named(c)

        # b: elements out of kept sets
        element_adds: list[tuple[Set, list[Any]]] = []
        for old, s in kept_sets:
            if old.elements is s.elements:
                continue
            gone, added = _element_diff(old, s, recreated)
            if gone:
                self.op(verb=Verb.DELETE, kind=Kind.ELEMENT, name=s.name,
                        elements=tuple(element_key(e, s.is_map) for e in gone))
            if added:
                element_adds.append((s, added))

        # c: flush chains whose rules go away wholesale
        for c in (*gone_chains, *re_chains, *(c for _o, c in rebuilt)):
            if cur_chains[c.name].rules:
                self.op(verb=Verb.FLUSH, kind=Kind.CHAIN, name=c.name)

        # d: rule edits by handle
        for old_c, c in edited:
            self.edit_rules(old_c, c)

        # e: deletes
        for s in (*gone_sets, *(cur_sets[s.name] for s in re_sets)):
            self.delete_named(s)
        for o in (*gone_objs, *(cur_objs[_obj_key(o)] for o in re_objs)):
            self.delete_named(o)
        for c in (*gone_chains, *re_chains):
            self.delete_named(c)

        # f: recreated objects, sets, chains
        for o in re_objs:
            self.add_named(o)
        for s in re_sets:
            self.add_named(s)
        for c in re_chains:
            self.add_named(c)

        # g: rules of new, recreated and rebuilt chains
        for c in (*new_chains, *re_chains, *(c for _o, c in rebuilt)):
            self.chain_rules(c)

        # h: elements in
        for s in new_sets:
            if s.elements and SetFlag.CONSTANT not in s.flags:
                self.op(verb=Verb.ADD, kind=Kind.ELEMENT, name=s.name, elements=s.elements)
        for s, added in element_adds:
            self.op(verb=Verb.ADD, kind=Kind.ELEMENT, name=s.name, elements=tuple(added))

    def edit_rules(self, old_c: Chain, c: Chain) -> None:
        """The rules of a kept chain edited in place: deleted, replaced and inserted by
        handle; equal rules keep theirs."""
        handles = self.rule_handles(old_c)
        a, b = old_c.rules, c.rules
        if (a is b or a == b) and None not in handles:
            self.places[c.name] = None  # (every rule keeps its handle)
            return
        ka = [canonical_rule(r) for r in a]
        if self.aliases:
            ka = [self.aliases.get(k, k) for k in ka]
        kb = [canonical_rule(r) for r in b]
        places: list[Placement] = []
        name = c.name
        matcher = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                for i in range(i1, i2):
                    h = handles[i]
                    if h is None:
                        raise ValidationError("diff", "current",
                                              f"rule {i} of chain {name} has no handle")
                    places.append(("handle", h))
                continue
            paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
            for k in range(paired):
                # (the kernel keeps a replaced rule's handle)
                h = _handle(handles, i1 + k, name)
                self.op(verb=Verb.REPLACE, kind=Kind.RULE, chain=name, obj=b[j1 + k], handle=h)
                places.append(("handle", h))
            for i in range(i1 + paired, i2):
                self.op(verb=Verb.DELETE, kind=Kind.RULE, chain=name,
                        handle=_handle(handles, i, name))
            extra = range(j1 + paired, j2)
            if not extra:
                continue
            if i2 >= len(a):
                places += [("op", self.add_rule(name, b[j])) for j in extra]
            elif i2 == 0 and paired == 0:
                # at the top: ``insert`` without a position, last first
                idx = {j: self.op(verb=Verb.INSERT, kind=Kind.RULE, chain=name, obj=b[j])
                       for j in reversed(extra)}
                places += [("op", idx[j]) for j in extra]
            else:
                before = _handle(handles, i2, name)
                places += [("op", self.op(verb=Verb.INSERT, kind=Kind.RULE, chain=name,
                                          obj=b[j], position=before)) for j in extra]
        self.places[name] = places


def _handle(handles: Sequence[int | None], i: int, chain: str) -> int:
    h = handles[i]
    if h is None:
        raise ValidationError("diff", "current", f"rule {i} of chain {chain} has no handle "
                              "(read the current ruleset from the kernel, with handles)")
    return h


def _same_header(a: Set, b: Set) -> bool:
    return canonical_set(a, elements=False) == canonical_set(b, elements=False)


def _common(a: tuple[Any, ...], b: tuple[Any, ...], n: int) -> int:
    """How many leading items of ``a`` and ``b`` (at most ``n``) are equal: a binary search
    on slices, which tuples compare in C, the same objects at once (an agent that keeps its
    model changes a few elements of many: about 1 ms for 60,000 elements)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_tail(a: tuple[Any, ...], b: tuple[Any, ...], n: int) -> int:
    """How many trailing items of ``a`` and ``b`` (at most ``n``) are equal."""
    lo, hi = 0, n
    la, lb = len(a), len(b)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[la - mid:la - lo] == b[lb - mid:lb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _element_diff(old: Set, new: Set, recreated: set[str]) -> tuple[list[Any], list[Any]]:
    """(elements to delete, elements to add) between two versions of one set: removed keys,
    added keys, and keys whose data or options changed (deleted and added), plus those that
    name something recreated. A common head and tail (same objects) are skipped."""
    a, b = old.elements, new.elements
    n = min(len(a), len(b))
    lo = _common(a, b, n)
    hi = _common_tail(a, b, n - lo) if lo < n else 0
    ma, mb = a[lo:len(a) - hi], b[lo:len(b) - hi]
    is_map = new.is_map
    interval = SetFlag.INTERVAL in new.flags
    gone: list[Any] = []
    added: list[Any] = []
    if recreated and is_map:
        # kept elements that name a recreated chain or object go out and in again
        for e in (*a[:lo], *a[len(a) - hi:]):
            if recreated & _element_names(e):
                gone.append(e)
                added.append(e)
    if not ma and not mb:
        return gone, added
    ca = {}
    for e in ma:
        ce = canonical_element(e, interval)
        ca[element_key(ce, is_map)] = (e, ce)
    for e in mb:
        ce = canonical_element(e, interval)
        k = element_key(ce, is_map)
        was = ca.pop(k, None)
        if was is None:
            added.append(e)
        elif was[1] != ce or (recreated and recreated & _element_names(e)):
            gone.append(was[0])
            added.append(e)
    gone += [e for e, _ce in ca.values()]
    return gone, added
