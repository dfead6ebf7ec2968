"""One spelling per meaning: ``canonical(ruleset)``, and the per-object keys ``diff`` compares.

Two models that the kernel stores the same way have equal canonical forms:

- base chain priorities as numbers (``priority filter + 10`` and ``priority 10`` in an inet
  table), a base chain's policy given (``accept``, what the kernel fills in);
- set and map elements in one order, addresses as ``ipaddress`` objects, an interval as nft
  lists it (a one-value range as the value, a whole prefix as ``a/n``), an element without
  options as its bare value;
- flags are frozensets already, and flag lists in rules (``ct state established,new``,
  ``ct state new | established``) are one sorted list: their order never matters;
- tables, and the chains, sets, flowtables and named objects of each table, sorted by name
  (rules keep their order: it is what they mean);
- what traffic changes is zeroed: counter packets and bytes, quota ``used`` (in rules,
  named objects and set elements);
- handles dropped;
- with ``version``, what that nft release's JSON listing does not report (see
  ``nftkit.nft.releases``): table and chain comments, ``auto-merge`` and ``flags dynamic``
  before 1.1, set ``typeof`` before 1.1 (its datatype names are listed instead).

Rules are compared as written: a rule that nft rewrites when it lists it (``meta l4proto tcp
tcp dport 22`` lists as ``tcp dport 22``) is only equal to its listed form. Write desired
rules as nft lists them (``nftkit.parse_rule``) and ``sync`` will not replace them.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._node import Node
from ..model.enums import ChainPolicy, SetFlag
from ..model.expressions import BinopExpr, BinopOp, ElemExpr, ListExpr
from ..model.objects import Counter, NamedObject, Quota
from ..model.priority import Priority
from ..model.ruleset import Chain, Flowtable, Rule, Ruleset, Table
from ..model.sets import Map, Set
from ..model.statements import CounterStmt, MatchStmt, QuotaStmt
from ..nft.releases import ReleaseProfile, profile
from ..semantics.elements import interval_of, normalize_value, render_interval, sort_key

__all__ = [
    "canonical",
    "canonical_chain",
    "canonical_element",
    "canonical_object",
    "canonical_rule",
    "canonical_set",
    "canonical_table",
]


def _stateless(node: Any) -> Any:
    """``node`` with counter and quota values zeroed (traffic changes them) and flag lists
    sorted, recursively."""
    if isinstance(node, CounterStmt):
        return node if node.packets == 0 and node.bytes == 0 else CounterStmt()
    if isinstance(node, QuotaStmt):
        return node if node.used == 0 else attrs.evolve(node, used=0)
    if isinstance(node, ListExpr):  # ``ct state new,established``: flags, in any order
        values = tuple(sorted(node.values, key=repr))
        return node if values == node.values else node.replace(values=values)
    if isinstance(node, MatchStmt) and isinstance(node.right, BinopExpr):
        names = _or_names(node.right)
        if names is not None:  # ``ct state new | established`` is ``ct state new,established``
            return node.replace(right=ListExpr(values=tuple(sorted(names))))
    if isinstance(node, tuple):
        out = tuple(_stateless(n) for n in node)
        return node if all(a is b for a, b in zip(out, node, strict=True)) else out
    if isinstance(node, Node):
        changes = {}
        cls: Any = type(node)  # every concrete node is an attrs class
        for f in attrs.fields(cls):
            value = getattr(node, f.name)
            if isinstance(value, (Node, tuple)):
                new = _stateless(value)
                if new is not value:
                    changes[f.name] = new
        return attrs.evolve(node, **changes) if changes else node  # type: ignore[misc]
    return node


def _or_names(e: object) -> list[str] | None:
    """The symbols of an ``a | b | c`` chain of flag names (None if it is something else)."""
    if isinstance(e, str):
        return [e]
    if isinstance(e, BinopExpr) and e.op is BinopOp.OR:
        left, right = _or_names(e.left), _or_names(e.right)
        if left is not None and right is not None:
            return left + right
    return None


def canonical_rule(rule: Rule) -> Rule:
    """A rule without handle and traffic counts."""
    out: Rule = _stateless(rule)
    return out.replace(handle=None) if out.handle is not None else out


def canonical_chain(chain: Chain, family: Any, release: ReleaseProfile | None = None) -> Chain:
    """A chain's header (no rules): numeric priority, the default policy spelled out."""
    changes: dict[str, Any] = {"rules": (), "handle": None}
    if chain.is_base:
        assert chain.priority is not None
        changes["priority"] = Priority(value=chain.priority.resolve(family))
        changes["policy"] = chain.policy or ChainPolicy.ACCEPT
    if release is not None and not release.json_listing_exact:
        changes["comment"] = None
    return attrs.evolve(chain, **changes)


def canonical_element(element: Any, interval: bool) -> Any:
    """One element as nft lists it (see the module docstring)."""
    if isinstance(element, tuple) and len(element) == 2:
        return (canonical_element(element[0], interval), _stateless(normalize_value(element[1])))
    value = normalize_value(element)
    if isinstance(value, ElemExpr):
        value = _stateless(value)
        if value.timeout is None and value.comment is None and not value.stmts:
            value = value.val
        else:  # (``expires`` counts down: what is left of a timeout is not compared)
            return value.replace(val=_interval(value.val, interval), expires=None)
    return _interval(value, interval)


def _interval(value: Any, interval: bool) -> Any:
    if not interval:
        return value
    iv = interval_of(value)
    return value if iv is None else render_interval(iv)


def canonical_set(s: Set, release: ReleaseProfile | None = None, *,
                  elements: bool = True) -> Set:
    """A set or map with its elements in one order and form (``elements=False``: none)."""
    changes: dict[str, Any] = {"handle": None}
    interval = SetFlag.INTERVAL in s.flags
    if elements:
        changes["elements"] = tuple(sorted(  # (a set holds each element once)
            dict.fromkeys(canonical_element(e, interval) for e in s.elements), key=sort_key))
    else:
        changes["elements"] = ()
    stmts = _stateless(s.stmts)
    if stmts is not s.stmts:
        changes["stmts"] = stmts
    if release is not None:
        if not release.json_listing_exact:
            changes["auto_merge"] = False
            changes["flags"] = s.flags - {SetFlag.DYNAMIC}
        if not release.json_typeof and s.type and s.typeof is not None:
            changes["typeof"] = None
        if not release.json_typeof and isinstance(s, Map) and s.data_type \
                and s.data_typeof is not None:
            changes["data_typeof"] = None
    return attrs.evolve(s, **changes)


def canonical_object(obj: NamedObject | Flowtable) -> NamedObject | Flowtable:
    """A named object or flowtable without handle and traffic counts."""
    changes: dict[str, Any] = {"handle": None}
    if isinstance(obj, Counter):
        changes.update(packets=0, bytes=0)
    elif isinstance(obj, Quota):
        changes["used"] = 0
    return obj.replace(**changes)


def _object_key(obj: NamedObject) -> tuple[str, str]:
    return (obj.keyword, obj.name)


def canonical_table(t: Table, release: ReleaseProfile | None = None) -> Table:
    """A table with everything in it in canonical form and name order."""
    chains = tuple(
        attrs.evolve(canonical_chain(c, t.family, release),
                     rules=tuple(canonical_rule(r) for r in c.rules))
        for c in sorted(t.chains, key=lambda c: c.name))
    comment = None if release is not None and not release.json_listing_exact else t.comment
    return attrs.evolve(
        t, handle=None, comment=comment, chains=chains,
        sets=tuple(canonical_set(s, release) for s in sorted(t.sets, key=lambda s: s.name)),
        flowtables=tuple(canonical_object(f) for f in sorted(t.flowtables,
                                                             key=lambda f: f.name)),
        objects=tuple(canonical_object(o) for o in sorted(t.objects, key=_object_key)))


def canonical(ruleset: Ruleset | Table, *,
              version: str | tuple[int, ...] | None = None) -> Ruleset:
    """``ruleset`` in canonical form: equal for any two models the kernel stores alike.

    ``canonical(nft.list_ruleset()) == canonical(model)`` after ``nft.run(Transaction().add(
    model))``: ``priority filter + 10`` and ``priority 10``, elements in any order, counters
    with any values compare equal. ``version``: also drop what nft ``version``'s JSON listing
    leaves out (table and chain comments before 1.1, ...), for listings read without
    ``Nftables`` (which fills those in from the kernel). A ``Table`` gives a one-table ruleset.
    """
    release = profile(version) if version is not None else None
    tables = ruleset.tables if isinstance(ruleset, Ruleset) else (ruleset,)
    return Ruleset(tables=tuple(
        canonical_table(t, release)
        for t in sorted(tables, key=lambda t: (t.family.value, t.name))))
