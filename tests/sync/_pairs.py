"""(current, desired) pairs of one table for the diff and sync property tests.

``desired`` is a mutation of ``current`` most of the time (rules dropped, moved or taken from
another generated table, elements dropped or added, chains and sets added or removed, a
policy, a priority spelling, a comment or a flag changed: the in-place and the recreating
paths), sometimes an unrelated table of the same name, sometimes ``current`` itself.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from nftkit import Priority, Ruleset, Table
from nftkit import testing as nt
from nftkit.backend.fake import FakeNftables
from nftkit.errors import NftkitError
from nftkit.model.enums import ChainPolicy, Family, SetFlag, TableFlag
from nftkit.model.objects import Counter
from nftkit.sync._diff import _element_names, _names

__all__ = ["loads", "pairs", "referenced"]

def referenced(t: Table) -> set[str]:
    """Every name some rule or element of ``t`` uses."""
    out: set[str] = set()
    for c in t.chains:
        for r in c.rules:
            out |= _names(r)
    for s in t.sets:
        for e in s.elements:
            out |= _element_names(e)
    return out


def loads(t: Table) -> bool:
    """Whether the fake (the kernel's semantics) accepts ``t`` as one batch."""
    try:
        FakeNftables(Ruleset(tables=[t]))
    except NftkitError:
        return False
    return True


def _sub(draw: st.DrawFn, items: tuple[Any, ...]) -> tuple[Any, ...]:
    keep = draw(st.lists(st.booleans(), min_size=len(items), max_size=len(items)))
    return tuple(x for x, k in zip(items, keep, strict=True) if k)


@st.composite
def _mutate(draw: st.DrawFn, a: Table, b: Table) -> Table:
    t = a
    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.sampled_from([
            "drop_rules", "move_rule", "foreign_rules", "drop_elements", "add_elements",
            "drop_chain", "drop_set", "add_chain", "add_set", "policy", "priority",
            "chain_comment", "set_comment", "table_flag", "object"]))
        t = _apply(draw, what, t, b)
    return t


def _apply(draw: st.DrawFn, what: str, t: Table, b: Table) -> Table:
    chains = list(t.chains)
    sets = list(t.sets)
    if what in ("drop_rules", "move_rule", "foreign_rules", "policy", "priority",
                "chain_comment", "drop_chain") and not chains:
        return t
    if what in ("drop_elements", "add_elements", "set_comment", "drop_set") and not sets:
        return t
    if what == "drop_rules":
        i = draw(st.integers(0, len(chains) - 1))
        chains[i] = chains[i].replace(rules=_sub(draw, chains[i].rules))
    elif what == "move_rule":
        i = draw(st.integers(0, len(chains) - 1))
        rules = list(chains[i].rules)
        if len(rules) > 1:
            r = rules.pop(draw(st.integers(0, len(rules) - 1)))
            rules.insert(draw(st.integers(0, len(rules))), r)
            chains[i] = chains[i].replace(rules=tuple(rules))
    elif what == "foreign_rules":
        # rules of the other table that name nothing (no sets, chains or objects)
        pool = [r for c in b.chains for r in c.rules if not _names(r)]
        if pool:
            i = draw(st.integers(0, len(chains) - 1))
            rules = list(chains[i].rules)
            for r in draw(st.lists(st.sampled_from(pool), max_size=3)):
                rules.insert(draw(st.integers(0, len(rules))), r)
            chains[i] = chains[i].replace(rules=tuple(rules))
    elif what == "drop_elements":
        i = draw(st.integers(0, len(sets) - 1))
        if SetFlag.CONSTANT not in sets[i].flags:
            sets[i] = sets[i].replace(elements=_sub(draw, sets[i].elements))
    elif what == "add_elements":
        i = draw(st.integers(0, len(sets) - 1))
        other = next((s for s in b.sets if s.type == sets[i].type and s.is_map
                      == sets[i].is_map and s.flags == sets[i].flags
                      and getattr(s, "data_type", None) == getattr(sets[i], "data_type", None)
                      and not any(_element_names(e) for e in s.elements)), None)
        if other is not None and SetFlag.CONSTANT not in sets[i].flags:
            sets[i] = sets[i].replace(elements=(*sets[i].elements, *_sub(draw, other.elements)))
    elif what == "drop_chain":
        used = referenced(t)
        free = [c for c in chains if c.name not in used]
        if free:
            gone = draw(st.sampled_from(free))
            chains = [c for c in chains if c is not gone]
    elif what == "drop_set":
        used = referenced(t)
        free = [s for s in sets if s.name not in used]
        if free:
            gone_set = draw(st.sampled_from(free))
            sets = [s for s in sets if s is not gone_set]
    elif what == "add_chain":
        names = {c.name for c in chains}
        extra = [c.replace(rules=tuple(r for r in c.rules if not _names(r)))
                 for c in b.chains if c.name not in names]
        if extra:
            chains.append(draw(st.sampled_from(extra)))
    elif what == "add_set":
        names = {s.name for s in sets}
        extra = [s for s in b.sets if s.name not in names
                 and not any(_element_names(e) for e in s.elements)]
        if extra:
            sets.append(draw(st.sampled_from(extra)))
    elif what == "policy":
        base = [i for i, c in enumerate(chains) if c.is_base]
        if base:
            i = draw(st.sampled_from(base))
            chains[i] = chains[i].replace(policy=draw(st.sampled_from(
                [None, ChainPolicy.ACCEPT, ChainPolicy.DROP])))
    elif what == "priority":
        base = [i for i, c in enumerate(chains) if c.is_base]
        if base:
            i = draw(st.sampled_from(base))
            c = chains[i]
            assert c.priority is not None
            numeric = Priority(value=c.priority.resolve(t.family))
            new = draw(st.sampled_from([numeric, Priority(value=numeric.value + 1)]))
            chains[i] = c.replace(priority=new)
    elif what == "chain_comment":
        i = draw(st.integers(0, len(chains) - 1))
        chains[i] = chains[i].replace(comment=draw(st.sampled_from([None, "a", "b c"])))
    elif what == "set_comment":
        i = draw(st.integers(0, len(sets) - 1))
        sets[i] = sets[i].replace(comment=draw(st.sampled_from([None, "x", "y z"])))
    elif what == "table_flag":
        return t.replace(flags=frozenset() if t.flags else frozenset({TableFlag.DORMANT}))
    elif what == "object":
        objs = list(t.objects)
        counters = [i for i, o in enumerate(objs) if isinstance(o, Counter)]
        if counters:
            i = draw(st.sampled_from(counters))
            objs[i] = objs[i].replace(comment=draw(st.sampled_from([None, "n", "m"])))
        else:
            objs.append(Counter(name="sync_counter"))
        return t.replace(objects=tuple(objs))
    return t.replace(chains=tuple(chains), sets=tuple(sets))


@st.composite
def pairs(draw: st.DrawFn, *, kernel: bool = False) -> tuple[Table, Table]:
    """A valid (current, desired) pair of tables ``<family> t``."""
    fam = draw(st.sampled_from([Family.INET, Family.IP, Family.IP6] if kernel
                               else list(Family)))
    a = draw(nt.tables(fam, name="t", kernel=kernel))
    b = draw(nt.tables(fam, name="t", kernel=kernel))
    mode = draw(st.sampled_from(["mutate"] * 6 + ["other", "same"]))
    if mode == "same":
        return a, a
    if mode == "other":
        return a, b
    return a, draw(_mutate(a, b))
