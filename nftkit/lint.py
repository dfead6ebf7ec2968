"""A scaling and reachability lint for rulesets: shapes the kernel handles in quadratic time, and
rules that can never match.

``nftkit.lint(ruleset)`` returns warnings as ``nftkit.diagnostics.Diagnostic`` s, each with the
reason and what to do instead. It finds (codes in ``LintCode``):

``W-anonymous-sets``
    many anonymous sets in one table, e.g. one ``numgen random mod 2 vmap { 0 : goto a, 1 :
    goto b }`` per service chain. The kernel names each anonymous set ``__set%d`` by scanning
    every set of the table for a free number, so loading N of them costs O(N^2): 10k such
    services took 63-75 s to load here, against 0.56 s for the equivalent iptables rules.
``W-map-bindings``
    a named set or map referenced by many rules (``... dnat ip to ip daddr map @m`` in every
    service chain). Each new binding, and each element added to the map, walks the map's
    bindings: 10k rules binding one map took 10 s, 30k took 118 s.
``W-jump-graph``
    a table that pays the validation of its whole jump graph on every update: it has many
    ``jump``/``goto`` edges (rules and verdict-map elements), so its updates add some, and any
    batch that adds a jump, goto, dnat or verdict element makes the kernel's commit walk
    every rule and verdict element the table's base chains reach. The message estimates that
    cost per update from ``CostModel`` (measured with ``bench/bench_classic.py``); no
    ordering of the batch avoids it, only a smaller table does.
``W-unreachable``
    rules after a rule that always ends the chain: ``counter accept`` (no match, so every
    packet takes the verdict), ``drop``, ``goto x``, ``return``, an unconditional NAT or
    ``reject``.
``W-shadowed``
    a rule every packet of which an earlier rule already decided: ``tcp dport { 22, 80 }
    accept`` before ``ip saddr 10.0.0.1 tcp dport 22 drop``. Decided only where it is exact:
    the earlier rule has nothing but ``==``/``in`` matches on values, prefixes and ranges (plus
    ``counter``/``log``) and a terminal verdict, and each of its matches covers one of the
    later rule's matches on the same expression.

The suggested layout for the scaling warnings is the *grouped* one (see
``examples/service_proxy.py``): group objects by shape, keep one named set of keys and one
named map per group, each bound by a single rule, and put the per-object data into elements,
e.g.::

    ip daddr . meta l4proto . th dport @svc-k2 \\
        dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @ep-k2

The thresholds are ``LintLimits``, the measured costs ``CostModel``; the command line is
``python -m nftkit lint FILE``.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterator
from enum import StrEnum

import attrs

from ._node import Node
from .diagnostics import Diagnostic, Severity
from .model.expressions import (
    MapExpr,
    PrefixExpr,
    RangeExpr,
    SetExpr,
    SetRefExpr,
    VerdictExpr,
)
from .model.ruleset import Chain, Rule, Ruleset, Table
from .model.statements import MatchOp, MatchStmt
from .nft.symbols import VERDICTS

__all__ = ["CostModel", "LintCode", "LintLimits", "lint"]


class LintCode(StrEnum):
    """The ``code`` of a lint's ``Diagnostic`` (all warnings)."""

    ANONYMOUS_SETS = "W-anonymous-sets"
    MAP_BINDINGS = "W-map-bindings"
    JUMP_GRAPH = "W-jump-graph"
    UNREACHABLE = "W-unreachable"
    SHADOWED = "W-shadowed"


@attrs.frozen(kw_only=True)
class LintLimits:
    """Counts above which the scaling warnings fire (per table).

    The defaults sit well below where load times turned superlinear on a 6.x kernel (thousands),
    so that a ruleset that will grow is flagged while it is still small.
    """

    anonymous_sets: int = 256
    map_bindings: int = 64
    jump_edges: int = 1024
    #: ``W-jump-graph`` also fires below ``jump_edges`` edges (but above 64) when the
    #: estimated validation per update passes this many milliseconds
    update_ms: float = 5.0


@attrs.frozen(kw_only=True)
class CostModel:
    """What the kernel's work costs, per object, as measured by ``bench/bench_classic.py``
    (kube-proxy's classic layout: per service 3 chains, 5 rules, a ``service-ips`` element and
    a 2-element anonymous verdict map; kernel 6.18, nft 1.0.6, 2 shared cores under load;
    docs/performance.md, "Classic layout: one-service add and delete").

    ``validate_us``: microseconds per rule or verdict-map element of a table that a commit
    re-validates: the floor (nft's own batch replayed) of a one-service add, median, was
    2.9 ms at 1k services, 131-169 ms at 10k and 340 ms at 30k, over 9 such objects per
    service (6 rules, the ``service-ips`` element, 2 elements of the anonymous vmap): 1.3-1.9
    us each at 10k-30k on a loaded machine (0.4 us on a quiet one: 32 ms at 10k).
    ``anon_load_ns``: the quadratic term of a one-batch load with N anonymous sets,
    nanoseconds per N²: ``nft -f`` of the classic layout took 1.0 s at 1k and 42-49 s at 10k.
    Machines differ; the ratios between sizes, not the absolute times, are the point.
    """

    validate_us: float = 1.5
    anon_load_ns: float = 450.0

    def update_ms(self, objects: int) -> float:
        """Estimated validation per update of a table with ``objects`` rules and verdict
        elements."""
        return objects * self.validate_us / 1e3

    def load_s(self, anonymous_sets: int) -> float:
        """Estimated quadratic part of loading ``anonymous_sets`` anonymous sets in one
        batch."""
        return anonymous_sets * anonymous_sets * self.anon_load_ns / 1e9


def _duration(ms: float) -> str:
    return f"{ms / 1e3:.1f} s" if ms >= 1000 else f"{ms:.1f} ms" if ms >= 1 else f"{ms:.2f} ms"


_GROUPED = ("group the objects by shape and use one named set of keys and one named map per "
            "group, each bound by a single rule (e.g. `ip daddr . meta l4proto . th dport "
            "@svc-k2 dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map "
            "@ep-k2`), so that adding an object only adds elements")


def lint(obj: Ruleset | Table, *, limits: LintLimits | None = None,
         costs: CostModel | None = None) -> list[Diagnostic]:
    """Every lint warning for a ruleset or a table, tables in order (without positions: see
    ``nftkit.diagnostics.SourceMap.locate``). ``costs``: the measured cost model the
    scaling warnings' estimates use."""
    lim = limits or LintLimits()
    model = costs or CostModel()
    tables = obj.tables if isinstance(obj, Ruleset) else (obj,)
    out: list[Diagnostic] = []
    for t in tables:
        out += _scale(t, lim, model)
        for chain in t.chains:
            out += _reachability(t, chain)
    return out


def _warning(*, code: LintCode, where: str, node: object, message: str, reason: str,
             suggestion: str) -> Diagnostic:
    return Diagnostic(severity=Severity.WARNING, code=code, where=where, node=node,
                      message=message, reason=reason, suggestion=suggestion)


# --- scaling -------------------------------------------------------------------------------


def _where(t: Table, chain: Chain | None = None, rule: int | None = None) -> str:
    text = f"{t.family} {t.name}"
    if chain is not None:
        text += f" chain {chain.name}"
    if rule is not None:
        text += f" rule {rule}"
    return text


def _rule_shape(rule: Rule) -> tuple[int, set[str], int, int]:
    """One walk over a rule: (anonymous sets the kernel creates for it, names of the sets and
    maps it binds, jump/goto edges, elements of its anonymous sets). nft turns a one-element
    set in a plain match into a comparison (``tcp dport { 22 }`` is ``tcp dport 22``); maps
    and vmaps stay sets."""
    anon = jumps = elements = 0
    bound: set[str] = set()
    in_map: set[int] = set()
    for n in rule.walk():
        if isinstance(n, SetRefExpr):
            bound.add(n.name)
        elif isinstance(n, VerdictExpr):
            jumps += n.target is not None  # jump or goto
        elif isinstance(n, SetExpr):
            if len(n.elements) > 1 or id(n) in in_map:
                anon += 1
                elements += len(n.elements)
        elif isinstance(n, MapExpr) or (hasattr(n, "data") and hasattr(n, "key")):
            data = getattr(n, "data", None)
            if isinstance(data, SetExpr):
                in_map.add(id(data))
        else:
            # other places a set is named: ``update @s { ... }``, ``add @m { ... }``
            for attr in ("set", "map"):
                name = getattr(n, attr, None)
                if isinstance(name, str) and type(n).__name__ in ("SetStmt", "MapStmt"):
                    bound.add(name.lstrip("@"))
    return anon, bound, jumps, elements


_SHARD = ("shard the objects over several tables (each update re-validates only its own "
          "table: 10k services as 10 tables of 1k took 2.2 ms per add on raw netlink, against "
          "83 ms as one table), or use data maps as the grouped layout does: ")


def _scale(t: Table, lim: LintLimits, costs: CostModel) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    anon = 0
    first_anon: str | None = None
    bindings: Counter[str] = Counter()
    edges = 0
    objects = 0  # rules and verdict elements: what a commit's validation walks
    for chain in t.chains:
        objects += len(chain.rules)
        for i, rule in enumerate(chain.rules, 1):
            n, bound, jumps, elements = _rule_shape(rule)
            if n and first_anon is None:
                first_anon = _where(t, chain, i)
            anon += n
            bindings.update(bound)
            edges += jumps
            objects += elements
    for s in t.sets:
        for el in s.elements:
            for part in (el if isinstance(el, tuple) else (el,)):
                if isinstance(part, VerdictExpr):
                    edges += part.target is not None
                    objects += 1
    if anon > lim.anonymous_sets:
        load = costs.load_s(anon)
        out.append(_warning(
            code=LintCode.ANONYMOUS_SETS, where=_where(t), node=t,
            message=f"{anon} anonymous sets (maps, vmaps and `{{ ... }}` sets in rules; the "
                    f"first at {first_anon}): loading them in one batch will take about "
                    f"{_duration(load * 1e3)} in the kernel, growing with the square of "
                    "their number",
            reason="each anonymous set bound in a batch walks the batch's transaction list, "
                   "and the kernel names each one by scanning the table's sets, so a full "
                   "load of N of them is O(N^2) (measured, `nft -f` of kube-proxy's classic "
                   "layout with one `numgen ... vmap { ... }` per service: "
                   f"{costs.anon_load_ns:.0f} ns x N^2)",
            suggestion="load such a table in batches of a few hundred objects, shard the "
                       "objects over tables, use named sets and maps shared by many rules, or "
                       "better: " + _GROUPED))
    for name, count in bindings.most_common():
        if count <= lim.map_bindings:
            break
        target = next((s for s in t.sets if s.name == name), None)
        size = f" with {len(target.elements)} elements" if target is not None else ""
        out.append(_warning(
            code=LintCode.MAP_BINDINGS, where=f"{_where(t)} set {name}", node=target,
            message=f"@{name}{size} is bound by {count} rules",
            reason="each rule that binds a set or map, and each element added to it, walks "
                   "its bindings: loading N such rules takes O(N^2) time (30k rules binding "
                   "one DNAT map took about two minutes)",
            suggestion="bind the set or map in one rule and move what distinguishes the rules "
                       "into the key (a concatenation); " + _GROUPED))
    update = costs.update_ms(objects)
    if edges > lim.jump_edges or (edges > 64 and update > lim.update_ms):
        chains = sum(1 for c in t.chains if not c.is_base)
        out.append(_warning(
            code=LintCode.JUMP_GRAPH, where=_where(t), node=t,
            message=f"{edges} jump/goto edges between {chains} regular chains: every update "
                    "that adds a jump, goto, dnat or verdict element re-validates the whole "
                    f"table ({objects} rules and verdict elements), about {_duration(update)} "
                    "per update in the kernel at this size",
            reason="the kernel's commit validates the jump graph of the whole table whenever "
                   "a batch adds a jump, goto, dnat or verdict element, whatever the order of "
                   f"the batch (measured: {costs.validate_us:g} us per rule or verdict "
                   "element; kube-proxy's classic layout, one-service add: 2.9 ms at 1k "
                   "services, 131-169 ms at 10k, 340 ms at 30k); libnftables also re-reads "
                   "every chain first",
            suggestion=_SHARD + _GROUPED))
    return out


# --- reachability --------------------------------------------------------------------------

#: Statements that never stop a rule early (no match, no lookup that may miss).
_NEVER_BREAK = frozenset({"CounterStmt", "LogStmt", "NotrackStmt"})
#: Statements that end evaluation of the chain when they run: NAT (a NAT statement issues an
#: accept verdict once it has set up the mapping) and reject.
_TERMINAL_STMTS = frozenset({"RejectStmt", "NatStmt", "DnatStmt", "SnatStmt",
                             "MasqueradeStmt", "RedirectStmt"})
_TERMINAL_VERDICTS = frozenset(VERDICTS) - {"continue", "jump"}


def _has_lookup(node: Node) -> bool:
    """Whether evaluating ``node`` may stop the rule (a set or map lookup can miss)."""
    return any(isinstance(n, MapExpr | SetRefExpr | SetExpr | MatchStmt) for n in node.walk())


def _terminal(stmt: object) -> bool:
    if isinstance(stmt, VerdictExpr):
        return stmt.kind in _TERMINAL_VERDICTS
    return type(stmt).__name__ in _TERMINAL_STMTS and isinstance(stmt, Node) and not _has_lookup(
        stmt)


def _always_ends(rule: Rule) -> bool:
    """The rule matches every packet and ends the chain (``counter drop``, ``goto x``)."""
    if not rule.stmts or not _terminal(rule.stmts[-1]):
        return False
    return all(type(s).__name__ in _NEVER_BREAK for s in rule.stmts[:-1])


def _values(right: object) -> list[object] | None:
    """The values a match's right side accepts, or None when not a plain value set."""
    items = right.elements if isinstance(right, SetExpr) else (right,)
    out: list[object] = []
    for v in items:
        if isinstance(v, tuple) or (isinstance(v, Node)
                                    and not isinstance(v, PrefixExpr | RangeExpr)):
            return None
        out.append(v)
    return out


def _network(v: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        if isinstance(v, PrefixExpr):
            return ipaddress.ip_network(f"{v.addr}/{v.len}", strict=False)
        if isinstance(v, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return ipaddress.ip_network(v)
    except (ValueError, TypeError):
        return None
    return None


def _covers(big: object, small: object) -> bool:
    """Whether every value ``small`` stands for is one ``big`` stands for."""
    if big == small:
        return True
    nb, ns = _network(big), _network(small)
    if nb is not None and ns is not None:
        return nb.version == ns.version and ns.subnet_of(nb)  # type: ignore[arg-type]
    if isinstance(big, RangeExpr):
        lo, hi = big.low, big.high
        small_lo, small_hi = ((small.low, small.high) if isinstance(small, RangeExpr)
                              else (small, small))
        try:
            return bool(lo <= small_lo and small_hi <= hi)  # type: ignore[operator]
        except TypeError:
            return False
    return False


def _conditions(rule: Rule) -> list[MatchStmt] | None:
    """The ``==``/``in`` matches of a rule that can shadow others, or None if it has anything
    else that could stop it early."""
    out = []
    for s in rule.stmts[:-1]:
        if isinstance(s, MatchStmt) and s.op in (MatchOp.EQ, MatchOp.IN):
            if isinstance(s.right, SetRefExpr) or _values(s.right) is None:
                return None
            out.append(s)
        elif type(s).__name__ not in _NEVER_BREAK:
            return None
    return out


def _implied(cond: MatchStmt, later: Rule) -> bool:
    """Some match of ``later`` only lets through packets that ``cond`` lets through too."""
    big = _values(cond.right)
    assert big is not None
    for s in later.stmts:
        if not (isinstance(s, MatchStmt) and s.op in (MatchOp.EQ, MatchOp.IN)
                and s.left == cond.left):
            continue
        small = _values(s.right)
        if small is not None and all(any(_covers(b, v) for b in big) for v in small):
            return True
    return False


def _reachability(t: Table, chain: Chain) -> Iterator[Diagnostic]:
    rules = chain.rules
    deciders: list[tuple[int, list[MatchStmt]]] = []
    for i, rule in enumerate(rules, 1):
        for j, conds in deciders:
            if all(_implied(c, rule) for c in conds):
                yield _warning(
                    code=LintCode.SHADOWED, where=_where(t, chain, i), node=rule,
                    message=f"rule {i} can never match: rule {j} matches every packet it "
                            "would and ends the chain first",
                    reason="rules run in order and the earlier rule's verdict is final",
                    suggestion="remove the rule, or move it above the earlier one if it is "
                               "an exception to it")
                break
        if _always_ends(rule):
            if i < len(rules):
                yield _warning(
                    code=LintCode.UNREACHABLE, where=_where(t, chain, i + 1), node=rules[i],
                    message=(f"rule {i + 1} is" if i + 1 == len(rules) else
                             f"rules {i + 1}..{len(rules)} are") + f" unreachable: rule {i} "
                            "ends the chain for every packet",
                    reason="a rule without matches applies its verdict to every packet",
                    suggestion="remove the rules after it, or add a match to it")
            return
        if rule.stmts and _terminal(rule.stmts[-1]):
            found = _conditions(rule)
            if found is not None:
                deciders.append((i, found))
