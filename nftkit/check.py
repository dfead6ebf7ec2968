"""Cross-object checks on a ``Ruleset`` or ``Table``: what a node cannot see about itself.

A single node validates its own fields when it is built (a bad name, a base chain without a
priority). What only shows once nodes are put together is checked here, with the kernel's and
nft's own rules:

- ``jump``/``goto`` targets exist in the same table and are not base chains (the kernel answers
  EOPNOTSUPP), including the verdicts stored in verdict-map elements;
- no jump loop and no chain 16 or more jumps away is reachable from a base chain (the kernel
  answers EMLINK, "Too many links"); a loop among chains no base chain reaches is only a warning,
  since the kernel accepts it until a base chain jumps in;
- ``@name`` references name an existing set or map of the right kind (``ip saddr @s`` may use a
  set or a map, ``... map @m`` needs a data map, ``vmap @m`` a verdict map) and, where both
  datatypes are known, a matching key type (``tcp dport @addrs`` is "datatype mismatch");
- named stateful objects used by rules (``counter name "http"``, ``quota name "q"``) exist;
- base chains: ``type``/``hook``/``family`` combinations the kernel supports, ``device`` only on
  netdev and inet ingress chains, and a device on those.

``problems(obj)`` returns every finding as a ``nftkit.diagnostics.Diagnostic`` (codes in
``ProblemCode``); ``check(obj)`` raises ``CheckError`` (a ``ValidationError`` with the list in
``problems``) for the errors. For example::

    >>> t = Table(family="inet", name="t", chains=[Chain(name="a", rules=[
    ...     Rule(stmts=[VerdictExpr(kind="jump", target="b")])])])
    >>> check(t)
    Traceback (most recent call last):
    nftkit.check.CheckError: Table: inet t chain a rule 1: error: jump to chain 'b', which \
does not exist [E-undefined-chain]
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from ._node import Node
from .diagnostics import Diagnostic, Severity
from .errors import ValidationError
from .model.datatypes import expr_datatype
from .model.enums import VALID_HOOKS, ChainType, Family, Hook
from .model.expressions import MapExpr, SetRefExpr, VerdictExpr, VerdictKind
from .model.objects import NamedObject
from .model.ruleset import Chain, Rule, Ruleset, Table
from .model.sets import Map, Set
from .model.statements import MatchStmt
from .nft.datatypes import DISTINCT

__all__ = [
    "JUMP_STACK_SIZE",
    "CheckError",
    "ProblemCode",
    "SetUse",
    "Severity",
    "chain_problems",
    "check",
    "jump_targets",
    "object_refs",
    "problems",
    "set_refs",
    "set_use_problem",
]

#: NFT_JUMP_STACK_SIZE: a chain this many jumps/gotos away from a base chain is refused (the
#: deepest allowed is one less).
JUMP_STACK_SIZE = 16


class ProblemCode(StrEnum):
    """The ``code`` of a check's ``Diagnostic``: the first letter is its severity."""

    MISSING_CHAIN = "E-undefined-chain"
    JUMP_TO_BASE_CHAIN = "E-jump-to-base-chain"
    JUMP_LOOP = "E-jump-loop"  # reachable from a base chain: the kernel refuses it
    JUMP_LOOP_UNREACHED = "W-jump-loop"  # accepted until a base chain jumps in
    JUMP_TOO_DEEP = "E-jump-too-deep"
    MISSING_SET = "E-undefined-set"
    SET_KIND = "E-set-kind"
    SET_KEY_TYPE = "E-set-key-type"
    MISSING_OBJECT = "E-undefined-object"
    CHAIN_TYPE = "E-chain-type"
    CHAIN_HOOK = "E-chain-hook"
    CHAIN_DEVICE = "E-chain-device"


# --- what a node refers to -------------------------------------------------------------------


def jump_targets(node: object) -> Iterator[str]:
    """Chain names ``node`` jumps or goes to (also in anonymous verdict maps and map elements).

    ``node`` may also be a map element's data or a ``(key, data)`` pair.
    """
    if isinstance(node, tuple):
        for item in node:
            yield from jump_targets(item)
        return
    if not isinstance(node, Node):
        return
    for n in node.walk():
        if isinstance(n, VerdictExpr) and n.kind in (VerdictKind.JUMP, VerdictKind.GOTO):
            assert n.target is not None
            yield n.target


class SetUse(StrEnum):
    """How a rule uses a named set: as a set (lookup), a data map, or a verdict map."""

    LOOKUP = "lookup"  # ip saddr @s  (a set, or a map used as a set)
    MAP = "map"  # ip saddr map @m / snat to ip saddr map @m
    VMAP = "vmap"  # ip saddr vmap @vm


def set_refs(node: Node) -> Iterator[tuple[str, SetUse, Node | None]]:
    """``(name, use, key expression)`` for every named set or map used under ``node``.

    The key is the expression looked up (``ip saddr`` in ``ip saddr @s``), when known. Covers
    ``@name`` expressions (matches, ``map``/``vmap`` lookups) and the statements that name a
    set as a string (``add @s { ip saddr }``: a ``set`` field; ``update @m { ... }``: a
    ``map`` field).
    """
    seen: set[int] = set()
    for n in node.walk():
        key: object = None
        ref: object = None
        use = SetUse.LOOKUP
        if isinstance(n, MatchStmt) and isinstance(n.right, SetRefExpr):
            key, ref = n.left, n.right
        elif isinstance(n, MapExpr) and isinstance(n.data, SetRefExpr):
            key, ref, use = n.key, n.data, SetUse.MAP
        elif isinstance(getattr(n, "data", None), SetRefExpr) and hasattr(n, "key"):
            # a verdict map statement (``{"vmap": {"key": ..., "data": "@m"}}``) or another
            # key/data node: ``vmap`` in its name says which
            key, ref = getattr(n, "key", None), getattr(n, "data", None)
            is_vmap = "vmap" in type(n).__name__.lower() or n.json_key == "vmap"
            use = SetUse.VMAP if is_vmap else SetUse.MAP
        elif hasattr(n, "elem") and any(isinstance(getattr(n, f, None), str)
                                        for f in ("set", "map")):
            # the set/map statements of the packet path: ``{"set": {"op": "add", "elem": ...,
            # "set": "@s"}}`` (the model keeps the name without the ``@``)
            is_map = isinstance(getattr(n, "map", None), str)
            name = str(getattr(n, "map" if is_map else "set")).lstrip("@")
            elem = getattr(n, "elem", None)
            yield name, SetUse.MAP if is_map else SetUse.LOOKUP, elem if isinstance(
                elem, Node) else None
            continue
        if isinstance(ref, SetRefExpr):
            seen.add(id(ref))
            yield ref.name, use, key if isinstance(key, Node) else None
        elif isinstance(n, SetRefExpr) and id(n) not in seen:
            # any other place a set is named
            yield n.name, SetUse.LOOKUP, None


def object_refs(node: Node) -> Iterator[tuple[str, str]]:
    """``(kind, name)`` of the named stateful objects ``node`` uses (``counter name "http"``).

    A statement refers to an object when it has a ``type`` (or ``kind``) naming an object kind
    (``counter``, ``quota``, ``ct helper``, ...) and an ``obj`` (or ``name``) string: the
    ``ObjrefStmt`` of ``{"counter": "http"}``. Objects chosen by a map lookup (``counter name
    ip saddr map @m``) are not known until a packet arrives and are not listed.
    """
    kinds = NamedObject.registry
    for n in node.walk():
        if isinstance(n, (NamedObject, Set)):
            continue
        kind = next((str(k) for k in (getattr(n, "type", None), getattr(n, "kind", None))
                     if isinstance(k, str) and str(k) in kinds), None)
        if kind is None:
            continue
        name = getattr(n, "obj", getattr(n, "name", None))
        if isinstance(name, str):
            yield kind, name


# --- base chains -----------------------------------------------------------------------------

_NAT_HOOKS = frozenset({Hook.PREROUTING, Hook.INPUT, Hook.OUTPUT, Hook.POSTROUTING})
_TYPE_FAMILIES: dict[ChainType, frozenset[Family]] = {
    ChainType.FILTER: frozenset(Family),
    ChainType.NAT: frozenset({Family.IP, Family.IP6, Family.INET}),
    ChainType.ROUTE: frozenset({Family.IP, Family.IP6, Family.INET}),
}
_TYPE_HOOKS: dict[ChainType, frozenset[Hook]] = {
    ChainType.FILTER: frozenset(Hook),
    ChainType.NAT: _NAT_HOOKS,
    ChainType.ROUTE: frozenset({Hook.OUTPUT}),
}


def _needs_device(family: Family, hook: Hook) -> bool:
    return family is Family.NETDEV or (family is Family.INET and hook is Hook.INGRESS)


def chain_problems(family: Family | str, chain: Chain, where: str = "") -> list[Diagnostic]:
    """Problems of a base chain's type/hook/family/devices (none for a regular chain)."""
    fam = Family(family)
    where = where or f"{fam} chain {chain.name}"
    out: list[Diagnostic] = []
    if not chain.is_base:
        return out
    assert chain.type is not None and chain.hook is not None

    def bad(code: ProblemCode, message: str) -> None:
        out.append(Diagnostic(code=code, severity=Severity.ERROR, where=where, message=message,
                              node=chain))

    if chain.hook not in VALID_HOOKS[fam]:
        bad(ProblemCode.CHAIN_HOOK, f"hook {chain.hook} is not valid in the {fam} family")
    elif fam not in _TYPE_FAMILIES[chain.type]:
        bad(ProblemCode.CHAIN_TYPE, f"chain type {chain.type} does not exist in the {fam} family")
    elif chain.hook not in _TYPE_HOOKS[chain.type]:
        bad(ProblemCode.CHAIN_TYPE, f"chain type {chain.type} cannot use hook {chain.hook}")
    if _needs_device(fam, chain.hook) and not chain.devices:
        bad(ProblemCode.CHAIN_DEVICE, f"a {fam} {chain.hook} chain needs a device")
    elif chain.devices and not _needs_device(fam, chain.hook):
        bad(ProblemCode.CHAIN_DEVICE, f"a {fam} {chain.hook} chain cannot be bound to a device")
    return out


# --- the whole table ------------------------------------------------------------------------


def _rules(table: Table) -> Iterator[tuple[str, Chain, Rule]]:
    prefix = f"{table.family} {table.name}"
    for chain in table.chains:
        for i, rule in enumerate(chain.rules, 1):
            yield f"{prefix} chain {chain.name} rule {i}", chain, rule


def _table_problems(table: Table) -> list[Diagnostic]:
    prefix = f"{table.family} {table.name}"
    out: list[Diagnostic] = []
    chains = {c.name: c for c in table.chains}
    sets = {s.name: s for s in table.sets}
    objects = {(o.json_key, str(getattr(o, "name", ""))) for o in table.objects}

    def err(code: ProblemCode, where: str, message: str, node: object) -> None:
        out.append(Diagnostic(code=code, severity=Severity.ERROR, where=where, message=message,
                              node=node))

    for chain in table.chains:
        out += chain_problems(table.family, chain, f"{prefix} chain {chain.name}")

    def check_jumps(where: str, node: Node) -> None:
        for target in jump_targets(node):
            tc = chains.get(target)
            if tc is None:
                err(ProblemCode.MISSING_CHAIN, where,
                    f"jump to chain {target!r}, which does not exist", node)
            elif tc.is_base:
                err(ProblemCode.JUMP_TO_BASE_CHAIN, where,
                    f"jump to base chain {target!r} (only regular chains can be jumped to)", node)

    for s in table.sets:
        if isinstance(s, Map):
            check_jumps(f"{prefix} map {s.name}", s)
    for where, _chain, rule in _rules(table):
        check_jumps(where, rule)
        for name, use, key in set_refs(rule):
            target = sets.get(name)
            if target is None:
                err(ProblemCode.MISSING_SET, where, f"@{name} does not exist", rule)
                continue
            found = set_use_problem(target, use, key)
            if found is not None:
                err(found[0], where, found[1], rule)
        for kind_name, obj_name in object_refs(rule):
            if (kind_name, obj_name) not in objects:
                err(ProblemCode.MISSING_OBJECT, where,
                    f"{kind_name} {obj_name!r} does not exist", rule)
    out += _loop_problems(table)
    return out


def set_use_problem(target: Set, use: SetUse, key: Node | None
                    ) -> tuple[ProblemCode, str] | None:
    """Why ``target`` cannot be used as ``use`` with lookup key ``key`` (None when it can)."""
    kind = _kind(target)
    name = target.name
    if use is SetUse.MAP and kind != "map":
        return ProblemCode.SET_KIND, f"@{name} is a {kind}, a data map is needed"
    if use is SetUse.VMAP and kind != "verdict map":
        return ProblemCode.SET_KIND, f"@{name} is a {kind}, a verdict map is needed"
    mismatch = _key_mismatch(key, target)
    if mismatch:
        return (ProblemCode.SET_KEY_TYPE, f"datatype mismatch: @{name} has keys of type "
                f"{mismatch[1]}, the expression has type {mismatch[0]}")
    return None


def _kind(s: Set) -> str:
    if isinstance(s, Map):
        return "verdict map" if s.is_vmap else "map"
    return "set"


# Datatypes specific enough to compare (nftkit.nft.datatypes.DISTINCT); everything else
# (integer, typeof keys, concatenations) is left to nft.
_SPECIFIC = DISTINCT


def _key_mismatch(key: Node | None, target: Set) -> tuple[str, str] | None:
    if key is None or target.typeof is not None or len(target.type) != 1:
        return None
    dt = expr_datatype(key)  # type: ignore[arg-type]
    if dt is None or dt.name not in _SPECIFIC or target.type[0] not in _SPECIFIC:
        return None
    return (dt.name, target.type[0]) if dt.name != target.type[0] else None


def _edges(table: Table) -> dict[str, list[str]]:
    """chain -> chains it can jump/goto to, through its rules and the verdict maps they use."""
    maps = {s.name: s for s in table.sets if isinstance(s, Map)}
    edges: dict[str, list[str]] = {}
    for chain in table.chains:
        targets: list[str] = []
        for rule in chain.rules:
            targets += jump_targets(rule)
            for name, _use, _key in set_refs(rule):
                if name in maps:
                    targets += jump_targets(maps[name])
        edges[chain.name] = list(dict.fromkeys(targets))
    return edges


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per back edge found by an iterative depth-first search."""
    color: dict[str, int] = {}  # 1 = on the stack, 2 = done
    cycles: list[list[str]] = []
    for root in edges:
        if root in color:
            continue
        path = [root]
        color[root] = 1
        stack = [iter(edges[root])]
        while stack:
            target = next(stack[-1], None)
            if target is None:
                color[path.pop()] = 2
                stack.pop()
            elif target not in edges or color.get(target) == 2:
                continue
            elif color.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            else:
                color[target] = 1
                path.append(target)
                stack.append(iter(edges[target]))
    return cycles


def _depths(edges: dict[str, list[str]], cyclic: set[str]) -> dict[str, list[str]]:
    """For each chain, the longest jump path below it (itself first), ignoring cycles."""
    longest: dict[str, list[str]] = {}
    for root in edges:
        stack = [root]
        while stack:
            name = stack[-1]
            todo = [t for t in edges[name] if t in edges and t not in longest
                    and t not in cyclic and t not in stack]
            if todo:
                stack += todo[:1]
                continue
            stack.pop()
            best = max((longest[t] for t in edges[name] if t in longest), key=len, default=[])
            longest[name] = [name, *best]
    return longest


def _loop_problems(table: Table) -> list[Diagnostic]:
    """Loops and too-deep jumps, as the kernel's validation walks them from each base chain."""
    prefix = f"{table.family} {table.name}"
    edges = _edges(table)
    bases = [c.name for c in table.chains if c.is_base]
    reached = set(bases)
    todo = list(bases)
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target in edges and target not in reached:
                reached.add(target)
                todo.append(target)
    chains = {c.name: c for c in table.chains}
    out: list[Diagnostic] = []
    cyclic: set[str] = set()
    for cycle in _cycles(edges):
        cyclic.update(cycle)
        text = " -> ".join(cycle)
        where, node = f"{prefix} chain {cycle[-2]}", chains[cycle[-2]]
        if cycle[0] in reached:
            out.append(Diagnostic(code=ProblemCode.JUMP_LOOP, severity=Severity.ERROR,
                                  where=where, node=node,
                                  message=f"jump loop reachable from a base chain: {text}"))
        else:
            out.append(Diagnostic(code=ProblemCode.JUMP_LOOP_UNREACHED,
                                  severity=Severity.WARNING, where=where, node=node,
                                  message="jump loop (no base chain reaches it yet; the kernel "
                                          f"refuses the jump that would): {text}"))
    longest = _depths(edges, cyclic)
    for base in bases:
        path = longest.get(base, [base])
        # the kernel refuses a chain 16 jumps away from a base chain (measured: 15 loads)
        if len(path) > JUMP_STACK_SIZE:
            out.append(Diagnostic(code=ProblemCode.JUMP_TOO_DEEP, severity=Severity.ERROR,
                                  where=f"{prefix} chain {base}", node=chains[base],
                                  message=f"jumps nest deeper than the kernel's limit of "
                                          f"{JUMP_STACK_SIZE}: " + " -> ".join(path)))
    return out


class CheckError(ValidationError):
    """``check`` found errors; ``problems`` lists them all."""

    def __init__(self, node: str, problems: list[Diagnostic]) -> None:
        self.problems = problems
        super().__init__(node, None, "\n".join(str(p) for p in problems))


def problems(obj: Ruleset | Table) -> list[Diagnostic]:
    """Every finding in ``obj``, errors and warnings, in table order (without positions: see
    ``nftkit.diagnostics.SourceMap.locate``)."""
    tables = obj.tables if isinstance(obj, Ruleset) else (obj,)
    out: list[Diagnostic] = []
    for table in tables:
        out += _table_problems(table)
    return out


def check(obj: Ruleset | Table, *, warnings: bool = False) -> list[Diagnostic]:
    """Raise ``ValidationError`` naming every error in ``obj`` (and every warning too when
    ``warnings`` is true); otherwise return the warnings."""
    found = problems(obj)
    fatal = [p for p in found if warnings or p.severity is Severity.ERROR]
    if fatal:
        raise CheckError(type(obj).__name__, fatal)
    return [p for p in found if p.severity is Severity.WARNING]
