"""Model -> libnftables JSON (schema version 1), as ``nft -j list ruleset`` prints it.

Encoding is generic over attrs fields: ``{json_key: {field: value, ...}}`` with the node's
``json_shape``; the few irregular nodes register an encoder in ``SPECIAL``.
"""

from __future__ import annotations

from typing import Any

from .._node import Node
from ..model import objects
from ..model.datatypes import expr_datatype
from ..model.enums import ChainPolicy, SetFlag, SetPolicy, SynproxyFlag
from ..model.expressions import (
    BinopExpr,
    ConcatExpr,
    CtExpr,
    ElemExpr,
    Expr,
    ListExpr,
    SetRefExpr,
    VerdictExpr,
)
from ..model.objects import NamedObject
from ..model.ruleset import Chain, Flowtable, Rule, Ruleset, Table
from ..model.sets import Map, Set
from ..model.statements import CounterStmt
from ..nft.units import byte_unit
from . import _json_statements  # noqa: F401  (registers the statement encoders)
from ._json_encoder import _VALUE_ENCODERS, JSON, SPECIAL, JsonEncoder, _value_encoder, special
from .context import RenderContext

__all__ = ["SPECIAL", "JsonEncoder", "to_json"]


@special(SetRefExpr)
def _set_ref(enc: JsonEncoder, node: SetRefExpr) -> JSON:
    return "@" + node.name


@special(ListExpr)
def _list(enc: JsonEncoder, node: ListExpr) -> JSON:
    return [enc.value(v) for v in node.values]


@special(BinopExpr)
def _binop(enc: JsonEncoder, node: BinopExpr) -> JSON:
    if enc.ctx.release.json_flat_binop:
        # nft 1.1 flattens chains of one operator: {"|": [a, b, c]}
        return {node.op.value: _binop_operands(enc, node, node.op)}
    return {node.op.value: [enc.value(node.left), enc.value(node.right)]}


def _binop_operands(enc: JsonEncoder, e: Any, op: Any) -> list[JSON]:
    if isinstance(e, BinopExpr) and e.op is op:
        return _binop_operands(enc, e.left, op) + _binop_operands(enc, e.right, op)
    return [enc.value(e)]


@special(VerdictExpr)
def _verdict(enc: JsonEncoder, node: VerdictExpr) -> JSON:
    kind = node.kind._value_  # node.kind.value without the enum property's cost
    if node.target is not None:
        return {kind: {"target": node.target}}
    return {kind: None}


@special(CtExpr)
def _ct(enc: JsonEncoder, node: CtExpr) -> JSON:
    # nft's JSON names an address of a stated family by one key, "ip saddr" (1.0.6 and 1.1
    # write it so; its reader ignores a "family" member and, in inet, rejects a bare "saddr")
    body: dict[str, JSON] = {"key": node.key}
    if node.family is not None:
        if node.key in ("saddr", "daddr"):
            body["key"] = f"{node.family} {node.key}"
        else:  # (no such key in nft: kept as a member, so that it reads back)
            body["family"] = node.family
    if node.dir is not None:
        body["dir"] = node.dir
    return {"ct": body}


# --- containers: they carry family/table/chain from their parents ---------------------------


@special(Rule)
def _rule(enc: JsonEncoder, node: Rule) -> JSON:
    return _rule_in(enc, node, enc.ctx.chain)


def _rule_in(enc: JsonEncoder, node: Rule, chain: str) -> JSON:
    """A rule of ``chain``: table_items passes the chain instead of scoping a context to it."""
    ctx = enc.ctx
    body: dict[str, JSON] = {"family": ctx.family, "table": ctx.table, "chain": chain}
    if ctx.handles and node.handle is not None:
        body["handle"] = node.handle
    encoders = _VALUE_ENCODERS  # enc.value(s), inlined: a statement is never a plain value
    body["expr"] = [(encoders.get(type(s)) or _value_encoder(type(s)))(enc, s)
                    for s in node.stmts]
    if node.comment is not None:
        body["comment"] = node.comment
    return {"rule": body}


@special(Chain)
def _chain(enc: JsonEncoder, node: Chain) -> JSON:
    body: dict[str, JSON] = {"family": enc.ctx.family, "table": enc.ctx.table, "name": node.name}
    if enc.ctx.handles and node.handle is not None:
        body["handle"] = node.handle
    # nft 1.0.6 leaves chain comments and devices out of its listing, but a model that has
    # them keeps them: to_json is lossless, and a model read from 1.0.6 JSON has neither.
    if node.comment is not None:
        body["comment"] = node.comment
    if node.hook is not None and node.priority is not None and node.type is not None:
        if node.devices:
            body["dev"] = node.devices[0] if len(node.devices) == 1 else list(node.devices)
        body["type"] = node.type.value
        body["hook"] = node.hook.value
        body["prio"] = node.priority.resolve(enc.ctx.family)
        body["policy"] = (node.policy or ChainPolicy.ACCEPT).value
    return {"chain": body}


@special(Set, Map)
def _set(enc: JsonEncoder, node: Set) -> JSON:
    """Members in nft's order: family, name, table, type, handle, comment, map, policy, size,
    flags, timeout, gc-interval, auto-merge, elem, stmt (json.c set_print_json)."""
    release = enc.ctx.release
    body: dict[str, JSON] = {"family": enc.ctx.family, "name": node.name, "table": enc.ctx.table}
    body["type"] = _key_type(enc, node.type, node.typeof)
    if enc.ctx.handles and node.handle is not None:
        body["handle"] = node.handle
    if node.comment is not None:
        body["comment"] = node.comment
    if isinstance(node, Map):
        data = _key_type(enc, node.data_type, node.data_typeof)
        if isinstance(data, list) and not release.json_concat_map_list:
            # 1.0.6: "ipv4_addr . inet_service"
            data = " . ".join(data)
        body["map"] = data
    if node.policy is not None and node.policy is not SetPolicy.PERFORMANCE:
        body["policy"] = node.policy.value
    if node.size:
        body["size"] = node.size
        if release.set_size_count and node.elements:  # what the text's "# count N" says
            body["count"] = len(node.elements)
    # nft 1.0.6 does not report the dynamic flag in JSON.
    shown = node.flags if release.json_dynamic_flag else node.flags - {SetFlag.DYNAMIC}
    if shown:
        # Always a list: libnftables 1.1.3 reads ``"flags": "interval"`` as no flags at all,
        # and every release reads ``["interval"]``.
        body["flags"] = enc.flags(frozenset(shown))
    if node.timeout:
        body["timeout"] = node.timeout // 1000
    if node.gc_interval:
        body["gc-interval"] = node.gc_interval // 1000
    if node.auto_merge:
        body["auto-merge"] = True
    if node.elements:
        body["elem"] = [enc.value(e) for e in node.elements]
    if node.stmts:
        # Set declarations list their per-element statements stateless: {"counter": null}.
        stateless = JsonEncoder(enc.ctx.scoped(stateless=True))
        body["stmt"] = [_stateless_stmt(stateless, s) for s in node.stmts]
    return {node.json_key: body}


def _stateless_stmt(enc: JsonEncoder, stmt: Node) -> JSON:
    if isinstance(stmt, CounterStmt):
        return {"counter": None}
    return enc.value(stmt)


@special(ElemExpr)
def _elem(enc: JsonEncoder, node: ElemExpr) -> JSON:
    """``{"elem": {"val": ..., "timeout": 30, "expires": 10, "comment": "x", "counter":
    {...}}}``: times in seconds, each element statement as a member of its own."""
    body: dict[str, JSON] = {"val": enc.value(node.val)}
    if node.timeout:
        body["timeout"] = node.timeout // 1000
    if node.expires:
        body["expires"] = node.expires // 1000
    if node.comment is not None:
        body["comment"] = node.comment
    for stmt in node.stmts:
        encoded = enc.value(stmt)
        if isinstance(encoded, dict):
            body.update(encoded)
    return {"elem": body}


def _types(types: tuple[str, ...]) -> JSON:
    return types[0] if len(types) == 1 else list(types)


def _key_type(enc: JsonEncoder, types: tuple[str, ...], typeof: Expr | None) -> JSON:
    """``"ipv4_addr"``, ``["ipv4_addr", "inet_service"]`` or ``{"typeof": expr}``. nft 1.0.6
    writes a typeof key by its datatype names."""
    if typeof is None:
        return _types(types)
    if enc.ctx.release.json_typeof:
        return {"typeof": enc.value(typeof)}
    parts: tuple[Expr, ...] = typeof.exprs if isinstance(typeof, ConcatExpr) else (typeof,)
    names = []
    for part in parts:
        dt = expr_datatype(part)
        names.append(dt.name if dt is not None else "integer")
    return _types(tuple(names))


@special(Flowtable)
def _flowtable(enc: JsonEncoder, node: Flowtable) -> JSON:
    body: dict[str, JSON] = {"family": enc.ctx.family, "name": node.name, "table": enc.ctx.table}
    if enc.ctx.handles and node.handle is not None:
        body["handle"] = node.handle
    body["hook"] = node.hook.value
    body["prio"] = node.priority.resolve(enc.ctx.family)
    if node.devices:
        body["dev"] = node.devices[0] if len(node.devices) == 1 else list(node.devices)
    if node.flags:
        body["flags"] = enc.flags(node.flags)
    # nft lists a flowtable's counter flag in text only, not in JSON.
    return {"flowtable": body}


def _object(enc: JsonEncoder, node: NamedObject) -> JSON:
    """``{"<kind>": {"family", "name", "table", "handle", "comment", <kind members>}}``."""
    body: dict[str, JSON] = {"family": enc.ctx.family, "name": node.name, "table": enc.ctx.table}
    if enc.ctx.handles and node.handle is not None:
        body["handle"] = node.handle
    if node.comment is not None:
        body["comment"] = node.comment
    body.update(_object_members(enc, node))
    return {node.json_key: body}


def _object_members(enc: JsonEncoder, node: NamedObject) -> dict[str, JSON]:
    if isinstance(node, objects.Quota):
        return {"bytes": node.bytes, "used": node.used, "inv": node.inv}
    if isinstance(node, objects.Limit):
        out: dict[str, JSON] = {}
        if node.unit == "bytes":
            rate, rate_unit = byte_unit(node.rate)
            out = {"rate": rate, "per": node.per}
            if node.inv:
                out["inv"] = True
            out["rate_unit"] = rate_unit
            if node.burst:
                burst, burst_unit = byte_unit(node.burst)
                out["burst"] = burst
                out["burst_unit"] = burst_unit
            return out
        out = {"rate": node.rate, "per": node.per}
        if node.inv:
            out["inv"] = True
        if node.burst:
            out["burst"] = node.burst
        return out
    if isinstance(node, objects.CtTimeout):
        return {"protocol": node.protocol, "l3proto": node.l3proto or "ip",
                "policy": dict(node.policy)}
    if isinstance(node, objects.Synproxy):
        out = {"mss": node.mss, "wscale": node.wscale}
        if node.flags:
            out["flags"] = [f.value for f in SynproxyFlag if f in node.flags]
        return out
    if isinstance(node, (objects.CtHelper, objects.CtExpectation)) and node.l3proto is None:
        return {**enc.fields(node, skip=("name", "comment", "handle")), "l3proto": "ip"}
    return enc.fields(node, skip=("name", "comment", "handle"))


@special(Table)
def _table(enc: JsonEncoder, node: Table) -> JSON:
    body: dict[str, JSON] = {"family": node.family.value, "name": node.name}
    if enc.ctx.handles and node.handle is not None:
        body["handle"] = node.handle
    if node.flags:
        body["flags"] = enc.flags(node.flags, bare_single=enc.ctx.release.json_bare_table_flag)
    if node.comment is not None:
        body["comment"] = node.comment
    return {"table": body}


def table_items(enc: JsonEncoder, table: Table) -> list[JSON]:
    """The table and everything in it, in the order ``nft -j list ruleset`` prints them."""
    sub = JsonEncoder(enc.ctx.scoped(family=table.family.value, table=table.name,
                                     sets={s.name: s for s in table.sets}))
    items = [sub.node(table)]
    chains = [sub.node(c) for c in table.chains]
    if enc.ctx.release.json_chains_first:  # maps and rules refer to the chains
        items += chains
    items += [_object(sub, o) for o in table.objects]
    items += [sub.node(s) for s in table.sets]
    items += [sub.node(f) for f in table.flowtables]
    if not enc.ctx.release.json_chains_first:
        items += chains
    for chain in table.chains:
        name = chain.name
        items += [_rule_in(sub, r, name) for r in chain.rules]
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
