"""Model -> libnftables JSON (schema version 1), as ``nft -j list ruleset`` prints it.

Encoding is generic over attrs fields: ``{json_key: {field: value, ...}}`` with the node's
``json_shape``; the few irregular nodes register an encoder in ``SPECIAL``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import attrs

from .._node import Node, field_json_name
from ..model.expressions import BinopExpr, ListExpr, SetRefExpr, VerdictExpr
from ..model.objects import NamedObject
from ..model.ruleset import Chain, Flowtable, Rule, Ruleset, Table
from ..model.sets import Map, Set
from .context import RenderContext

__all__ = ["SPECIAL", "JsonEncoder", "to_json"]

JSON = Any
Encoder = Callable[["JsonEncoder", Any], JSON]

#: Per-class encoders for irregular nodes: ``SPECIAL[VerdictExpr] = fn(encoder, node)``.
SPECIAL: dict[type[Node], Encoder] = {}


def special(*classes: type[Node]) -> Callable[[Encoder], Encoder]:
    def register(fn: Encoder) -> Encoder:
        for cls in classes:
            SPECIAL[cls] = fn
        return fn

    return register


class JsonEncoder:
    """Encodes model nodes in a ``RenderContext``."""

    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx

    def value(self, value: Any) -> JSON:
        """Any field value: a node, tuple, enum, flag set, address or primitive."""
        if isinstance(value, Node):
            return self.node(value)
        if isinstance(value, StrEnum):
            return value.value
        if isinstance(value, tuple):
            return [self.value(v) for v in value]
        if isinstance(value, frozenset):
            return self.flags(value)
        if isinstance(value, (IPv4Address, IPv6Address)):
            return str(value)
        return value

    def flags(self, value: frozenset[Any]) -> JSON:
        """A flag set: in declaration order; nft >= 1.1 writes a single flag as a string."""
        members = sorted(value, key=_enum_order)
        out = [m.value if isinstance(m, StrEnum) else m for m in members]
        if len(out) == 1 and self.ctx.at_least(1, 1):
            return out[0]
        return out

    def fields(self, node: Node, skip: tuple[str, ...] = ()) -> dict[str, JSON]:
        """The node's fields as JSON members; None, empty and False values are left out."""
        out: dict[str, JSON] = {}
        for f in attrs.fields(type(node)):  # type: ignore[misc]
            if f.name in skip or f.metadata.get("json") is False:
                continue
            v = getattr(node, f.name)
            if v is None or v is False or (isinstance(v, (tuple, frozenset)) and not v):
                continue
            if f.name == "handle" and not self.ctx.handles:
                continue
            out[field_json_name(f)] = self.value(v)
        return out

    def node(self, node: Node) -> JSON:
        fn = SPECIAL.get(type(node))
        if fn is not None:
            return fn(self, node)
        cls = type(node)
        if cls.json_shape == "null":
            return {cls.json_key: None}
        if cls.json_shape == "list":
            values = [getattr(node, f.name) for f in attrs.fields(cls)]  # type: ignore[misc]
            if len(values) == 1:
                return {cls.json_key: self.value(values[0])}
            return {cls.json_key: [self.value(v) for v in values]}
        if cls.json_shape == "value":
            (f,) = attrs.fields(cls)  # type: ignore[misc]
            return {cls.json_key: self.value(getattr(node, f.name))}
        return {cls.json_key: self.fields(node)}


def _enum_order(member: Any) -> int:
    if isinstance(member, StrEnum):
        return list(type(member)).index(member)
    return 0


@special(SetRefExpr)
def _set_ref(enc: JsonEncoder, node: SetRefExpr) -> JSON:
    return "@" + node.name


@special(ListExpr)
def _list(enc: JsonEncoder, node: ListExpr) -> JSON:
    return [enc.value(v) for v in node.values]


@special(BinopExpr)
def _binop(enc: JsonEncoder, node: BinopExpr) -> JSON:
    return {node.op.value: [enc.value(node.left), enc.value(node.right)]}


@special(VerdictExpr)
def _verdict(enc: JsonEncoder, node: VerdictExpr) -> JSON:
    if node.target is not None:
        return {node.kind.value: {"target": node.target}}
    return {node.kind.value: None}


# --- containers: they carry family/table/chain from their parents ---------------------------


def _where(enc: JsonEncoder, **extra: Any) -> dict[str, JSON]:
    return {"family": enc.ctx.family, "table": enc.ctx.table, **extra}


@special(Rule)
def _rule(enc: JsonEncoder, node: Rule) -> JSON:
    body = _where(enc, chain=enc.ctx.chain)
    if enc.ctx.handles and node.handle is not None:
        body["handle"] = node.handle
    body["expr"] = [enc.value(s) for s in node.stmts]
    if node.comment is not None:
        body["comment"] = node.comment
    return {"rule": body}


@special(Chain)
def _chain(enc: JsonEncoder, node: Chain) -> JSON:
    body = _where(enc, name=node.name)
    if enc.ctx.handles and node.handle is not None:
        body["handle"] = node.handle
    if node.comment is not None:
        body["comment"] = node.comment
    if node.hook is not None and node.priority is not None and node.type is not None:
        body["type"] = node.type.value
        body["hook"] = node.hook.value
        if node.devices:
            body["dev"] = node.devices[0] if len(node.devices) == 1 else list(node.devices)
        body["prio"] = node.priority.resolve(enc.ctx.family)
        if node.policy is not None:
            body["policy"] = node.policy.value
    return {"chain": body}


@special(Set, Map)
def _set(enc: JsonEncoder, node: Set) -> JSON:
    body = _where(enc, name=node.name)
    body["type"] = _types(node.type)
    if node.typeof is not None:
        body["type"] = {"typeof": enc.value(node.typeof)}
    if isinstance(node, Map):
        body["map"] = _types(node.data_type)
        if node.data_typeof is not None:
            body["map"] = {"typeof": enc.value(node.data_typeof)}
    if enc.ctx.handles and node.handle is not None:
        body["handle"] = node.handle
    body.update(enc.fields(node, skip=("name", "type", "typeof", "handle", "elements",
                                       "data_type", "data_typeof", "timeout", "gc_interval",
                                       "stmts", "auto_merge")))
    if node.timeout is not None:
        body["timeout"] = node.timeout // 1000
    if node.gc_interval is not None:
        body["gc-interval"] = node.gc_interval // 1000
    if node.elements:
        body["elem"] = [enc.value(e) for e in node.elements]
    if node.stmts:
        body["stmt"] = [enc.value(s) for s in node.stmts]
    return {node.json_key: body}


def _types(types: tuple[str, ...]) -> JSON:
    return types[0] if len(types) == 1 else list(types)


@special(Flowtable)
def _flowtable(enc: JsonEncoder, node: Flowtable) -> JSON:
    body = _where(enc, name=node.name)
    if enc.ctx.handles and node.handle is not None:
        body["handle"] = node.handle
    body["hook"] = node.hook.value
    body["prio"] = node.priority.resolve(enc.ctx.family)
    if node.devices:
        body["dev"] = node.devices[0] if len(node.devices) == 1 else list(node.devices)
    if node.flags:
        body["flags"] = enc.flags(node.flags)
    return {"flowtable": body}


def _object(enc: JsonEncoder, node: NamedObject) -> JSON:
    body = _where(enc, name=node.name)
    body.update(enc.fields(node, skip=("name",)))
    return {node.json_key: body}


@special(Table)
def _table(enc: JsonEncoder, node: Table) -> JSON:
    body: dict[str, JSON] = {"family": node.family.value, "name": node.name}
    if enc.ctx.handles and node.handle is not None:
        body["handle"] = node.handle
    if node.flags:
        body["flags"] = enc.flags(node.flags)
    if node.comment is not None:
        body["comment"] = node.comment
    return {"table": body}


def table_items(enc: JsonEncoder, table: Table) -> list[JSON]:
    """The table and everything in it, in the order ``nft -j list ruleset`` prints them."""
    sub = JsonEncoder(attrs.evolve(enc.ctx, family=table.family.value, table=table.name))
    items = [sub.node(table)]
    items += [_object(sub, o) for o in table.objects]
    items += [sub.node(s) for s in table.sets]
    items += [sub.node(f) for f in table.flowtables]
    items += [sub.node(c) for c in table.chains]
    for chain in table.chains:
        rsub = JsonEncoder(attrs.evolve(sub.ctx, chain=chain.name))
        items += [rsub.node(r) for r in chain.rules]
    return items


def to_json(
    obj: Node,
    *,
    version: str | tuple[int, ...] | None = None,
    handles: bool = False,
    family: str = "inet",
    table: str = "",
    chain: str = "",
) -> dict[str, Any]:
    """The libnftables JSON of ``obj``.

    A ``Ruleset`` gives ``{"nftables": [{"metainfo": ...}, {"table": ...}, ...]}`` as
    ``nft -j list ruleset`` prints it; a ``Table`` gives the same list form for that table; any
    other node gives its bare object (``{"counter": {...}}``). ``family``/``table``/``chain`` say
    where a lone chain, set or rule lives.
    """
    ctx = RenderContext(version=version, handles=handles, family=family, table=table, chain=chain)
    enc = JsonEncoder(ctx)
    if isinstance(obj, (Ruleset, Table)):
        major, minor, patch = ctx.version
        items: list[JSON] = [{"metainfo": {"version": f"{major}.{minor}.{patch}",
                                           "release_name": "nftkit",
                                           "json_schema_version": 1}}]
        for t in obj.tables if isinstance(obj, Ruleset) else (obj,):
            items += table_items(enc, t)
        return {"nftables": items}
    if isinstance(obj, NamedObject):
        result: dict[str, Any] = _object(enc, obj)
        return result
    out: dict[str, Any] = enc.node(obj)
    return out
