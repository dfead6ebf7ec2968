"""The containers: Ruleset, Table, Chain, Rule and Flowtable."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from .._node import Node, invalid, to_flags
from ..errors import ValidationError
from . import _validate
from .enums import (
    VALID_CHAIN_TYPES,
    VALID_HOOKS,
    ChainPolicy,
    ChainType,
    Family,
    FlowtableFlag,
    Hook,
    TableFlag,
)
from .expressions import VerdictExpr
from .objects import NamedObject
from .priority import Priority
from .sets import Map, Set
from .statements import Statement, Stmt

__all__ = ["Chain", "ChainStmt", "Flowtable", "Rule", "Ruleset", "Table"]


def _priority(value: Priority | int | str | None) -> Priority | None:
    if value is None or isinstance(value, Priority):
        return value
    return Priority.parse(value)


def _chain_type(value: ChainType | str | None) -> ChainType | None:
    return None if value is None else _validate.to_enum(ChainType, value, "Chain", "type")


def _chain_hook(value: Hook | str | None) -> Hook | None:
    return None if value is None else _validate.to_enum(Hook, value, "Chain", "hook")


def _chain_policy(value: ChainPolicy | str | None) -> ChainPolicy | None:
    return None if value is None else _validate.to_enum(ChainPolicy, value, "Chain", "policy")


def _flowtable_hook(value: Hook | str) -> Hook:
    return _validate.to_enum(Hook, value, "Flowtable", "hook")


def _family(value: Family | str) -> Family:
    return _validate.to_enum(Family, value, "Table", "family")


def _table_flags(value: Iterable[TableFlag | str] | str | None) -> frozenset[TableFlag]:
    return to_flags(TableFlag, value)


def _flowtable_flags(value: Iterable[FlowtableFlag | str] | str | None) -> frozenset[FlowtableFlag]:
    return to_flags(FlowtableFlag, value)


def _stmts(value: Iterable[Any]) -> tuple[Stmt, ...]:
    """An attrs converter: the statements as a tuple; ValidationError for anything else (a
    string would be iterated into characters and fail only when rendered)."""
    if isinstance(value, str):
        raise ValidationError("Rule", "stmts", f"expected statements, got the string {value!r}")
    stmts = tuple(value)
    for s in stmts:
        if not isinstance(s, (Statement, VerdictExpr)):
            raise ValidationError("Rule", "stmts", f"{s!r} is not a statement")
    return stmts


@attrs.frozen(kw_only=True)
class Rule(Node):
    """A rule: statements run in order.

    Text: ``tcp dport 22 counter packets 0 bytes 0 accept comment "ssh"``.
    JSON: ``{"rule": {"family": ..., "table": ..., "chain": ..., "expr": [...], "comment": ...}}``.
    """

    json_key = "rule"
    stmts: tuple[Stmt, ...] = attrs.field(converter=_stmts)
    comment: str | None = attrs.field(default=None, validator=_validate.comment)
    handle: int | None = attrs.field(default=None, eq=False)


def _rules(value: Iterable[Any], node: str) -> tuple[Rule, ...]:
    """An attrs converter: the rules as a tuple; ValidationError for anything but rules (a
    string would be iterated into characters and fail only when rendered)."""
    rules = tuple(value)
    for r in rules:
        if not isinstance(r, Rule):
            raise ValidationError(node, "rules", f"{r!r:.60} is not a Rule")
    return rules


def _chain_rules(value: Iterable[Any]) -> tuple[Rule, ...]:
    return _rules(value, "Chain")


def _items(value: Iterable[Any], kind: type | tuple[type, ...], node: str,
           field: str) -> tuple[Any, ...]:
    """The items as a tuple; ValidationError for one that is not a ``kind``."""
    items = tuple(value)
    for item in items:
        if not isinstance(item, kind):
            raise ValidationError(node, field, f"{item!r:.60} does not belong here")
    return items


def _table_chains(value: Iterable[Any]) -> tuple[Chain, ...]:
    return _items(value, Chain, "Table", "chains")


def _table_sets(value: Iterable[Any]) -> tuple[Set | Map, ...]:
    return _items(value, Set, "Table", "sets")


def _table_flowtables(value: Iterable[Any]) -> tuple[Flowtable, ...]:
    return _items(value, Flowtable, "Table", "flowtables")


def _table_objects(value: Iterable[Any]) -> tuple[NamedObject, ...]:
    return _items(value, NamedObject, "Table", "objects")


def _tables(value: Iterable[Any]) -> tuple[Table, ...]:
    return _items(value, Table, "Ruleset", "tables")


@attrs.frozen(kw_only=True)
class ChainStmt(Statement):
    """An anonymous (bound) chain: ``jump { ... }`` / ``goto { ... }`` (nft >= 1.0.0).

    A statement made of rules, so it lives beside ``Rule`` (rules are made of statements):
    one module for the two, no import circle.

    Text::

        tcp dport 53 jump {
                ip saddr 10.0.0.0/8 accept
                drop
            }

    nft has no JSON form for it: ``nft -j`` prints the statement's text as a JSON string,
    which nft cannot read back; ``to_json`` writes the same string.
    """

    kind: str = "jump"
    rules: tuple[Rule, ...] = attrs.field(converter=tuple)

    def __attrs_post_init__(self) -> None:
        if self.kind not in ("jump", "goto"):
            raise invalid(self, "kind", f"must be 'jump' or 'goto', got {self.kind!r}")


@attrs.frozen(kw_only=True)
class Chain(Node):
    """A chain. A base chain has ``type``, ``hook`` and ``priority`` (and ``devices`` for the
    netdev ingress/egress hooks); a regular chain has none of them.

    Text::

        chain input {
            type filter hook input priority filter; policy drop;
            ...
        }

    JSON: ``{"chain": {"family": "inet", "table": "t", "name": "input", "type": "filter",
    "hook": "input", "prio": 0, "policy": "drop"}}``.
    """

    json_key = "chain"
    name: str = attrs.field(validator=_validate.name)
    type: ChainType | None = attrs.field(
        default=None, converter=_chain_type)
    hook: Hook | None = attrs.field(
        default=None, converter=_chain_hook)
    priority: Priority | None = attrs.field(default=None, converter=_priority)
    policy: ChainPolicy | None = attrs.field(
        default=None, converter=_chain_policy)
    devices: tuple[str, ...] = attrs.field(
        default=(), converter=_validate.as_tuple, validator=_validate.device_names
    )
    comment: str | None = attrs.field(default=None, validator=_validate.comment)
    rules: tuple[Rule, ...] = attrs.field(default=(), converter=_chain_rules)
    handle: int | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        spec = (self.type, self.hook, self.priority)
        if any(v is not None for v in spec) and any(v is None for v in spec):
            missing = [n for n, v in zip(("type", "hook", "priority"), spec, strict=True)
                       if v is None]
            raise invalid(self, missing[0], "a base chain needs type, hook and priority")
        if not self.is_base and (self.policy is not None or self.devices):
            raise invalid(self, "policy" if self.policy else "devices", "only base chains have it")

    @property
    def is_base(self) -> bool:
        return self.hook is not None

    @classmethod
    def base(
        cls,
        name: str,
        *,
        type: ChainType | str = ChainType.FILTER,
        hook: Hook | str,
        priority: Priority | int | str = 0,
        policy: ChainPolicy | str | None = None,
        devices: Iterable[str] = (),
        comment: str | None = None,
        rules: Iterable[Rule] = (),
    ) -> Chain:
        """A base chain: ``Chain.base("pre", type="nat", hook="prerouting", priority="dstnat")``."""
        return cls(
            name=name,
            type=type,
            hook=hook,
            priority=_priority(priority),
            policy=policy,
            devices=devices,
            comment=comment,
            rules=rules,
        )


@attrs.frozen(kw_only=True)
class Flowtable(Node):
    """A flowtable for the fast path (needs kernel CONFIG_NF_FLOW_TABLE).

    Text: ``flowtable ft { hook ingress priority filter; devices = { eth0, eth1 }; }``.
    JSON: ``{"flowtable": {"name": "ft", "hook": "ingress", "prio": 0, "dev": ["eth0"]}}``.
    """

    json_key = "flowtable"
    name: str = attrs.field(validator=_validate.name)
    hook: Hook = attrs.field(default=Hook.INGRESS,
                             converter=_flowtable_hook)
    priority: Priority = attrs.field(factory=Priority, converter=_priority)
    devices: tuple[str, ...] = attrs.field(
        default=(), converter=_validate.as_tuple, validator=_validate.device_names
    )
    flags: frozenset[FlowtableFlag] = attrs.field(
        factory=frozenset, converter=_flowtable_flags
    )
    counter: bool = _validate.flag()
    handle: int | None = attrs.field(default=None, eq=False)


@attrs.frozen(kw_only=True)
class Table(Node):
    """A table: the unit of ownership in nftables.

    Text: ``table inet filter { flags dormant; comment "x" ... }``.
    JSON: ``{"table": {"family": "inet", "name": "filter", "flags": ["dormant"]}}``.
    ``sets`` holds sets and maps in listing order.
    """

    json_key = "table"
    family: Family = attrs.field(converter=_family)
    name: str = attrs.field(validator=_validate.name)
    flags: frozenset[TableFlag] = attrs.field(factory=frozenset, converter=_table_flags)
    comment: str | None = attrs.field(default=None, validator=_validate.comment)
    chains: tuple[Chain, ...] = attrs.field(default=(), converter=_table_chains)
    sets: tuple[Set | Map, ...] = attrs.field(default=(), converter=_table_sets)
    flowtables: tuple[Flowtable, ...] = attrs.field(default=(), converter=_table_flowtables)
    objects: tuple[NamedObject, ...] = attrs.field(default=(), converter=_table_objects)
    handle: int | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        for chain in self.chains:
            _check_base_chain(self.family, chain)
        for ft in self.flowtables:
            if ft.hook is not Hook.INGRESS:
                raise invalid(ft, "hook", "a flowtable hooks only ingress")
            _check_priority(self.family, ft, ft.priority)
        for kind, items in (("chains", self.chains), ("sets", self.sets),
                            ("flowtables", self.flowtables)):
            seen: set[str] = set()
            for item in items:
                if item.name in seen:
                    raise invalid(self, kind, f"duplicate name {item.name!r}")
                seen.add(item.name)
        objs: set[tuple[str, str]] = set()
        for obj in self.objects:
            if (obj.keyword, obj.name) in objs:
                raise invalid(self, "objects", f"duplicate {obj.keyword} {obj.name!r}")
            objs.add((obj.keyword, obj.name))

    def chain(self, name: str) -> Chain:
        """The chain called ``name`` (KeyError if absent)."""
        for c in self.chains:
            if c.name == name:
                return c
        raise KeyError(name)

    def set(self, name: str) -> Set | Map:
        """The set or map called ``name`` (KeyError if absent)."""
        for s in self.sets:
            if s.name == name:
                return s
        raise KeyError(name)


def _check_priority(family: Family, node: Node, prio: Priority | None) -> None:
    if prio is not None and prio.name is not None:
        try:
            prio.resolve(family)
        except ValidationError as exc:
            raise invalid(node, "priority", str(exc)) from None


def _check_base_chain(family: Family, chain: Chain) -> None:
    """The family-dependent rules of nft(8) "CHAINS": hooks, types and devices."""
    if chain.hook is None or chain.type is None:
        return
    if chain.hook not in VALID_HOOKS[family]:
        raise invalid(chain, "hook", f"hook {chain.hook} is not valid in a {family} table")
    hooks = VALID_CHAIN_TYPES[family].get(chain.type)
    if hooks is None:
        raise invalid(chain, "type", f"type {chain.type} is not valid in a {family} table")
    if chain.hook not in hooks:
        raise invalid(chain, "type", f"type {chain.type} cannot hook {chain.hook} in {family}")
    takes_devices = family is Family.NETDEV or (
        family is Family.INET and chain.hook is Hook.INGRESS)
    if chain.devices and not takes_devices:
        raise invalid(chain, "devices", "only netdev chains and inet ingress chains have devices")
    _check_priority(family, chain, chain.priority)


@attrs.frozen(kw_only=True)
class Ruleset(Node):
    """Everything ``nft list ruleset`` shows: a tuple of tables."""

    tables: tuple[Table, ...] = attrs.field(default=(), converter=_tables)

    def table(self, family: Family | str, name: str) -> Table:
        """The table ``family name`` (KeyError if absent)."""
        for t in self.tables:
            if t.family == family and t.name == name:
                return t
        raise KeyError(f"{family} {name}")

    def __iter__(self) -> Any:
        return iter(self.tables)
