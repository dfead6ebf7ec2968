"""Statement encoders for the irregular statements (registered in ``SPECIAL``).

Each reproduces nft's ``src/json.c`` ``*_stmt_json()``: which members are left out when unset,
when a body is ``null``, and how flag lists are spelled. nft 1.0.6 to 1.1.3 write the flags
of ``log``, ``queue`` and NAT statements as a string when there is one, 1.1.7 as a list
(``json_bare_stmt_flag``); synproxy flags are a list in every release.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from ..errors import UnsupportedError
from ..model.ruleset import ChainStmt
from ..model.statements import (
    CounterStmt,
    DupStmt,
    FlowOffloadStmt,
    LastStmt,
    LimitStmt,
    LimitUnit,
    LogFlag,
    LogStmt,
    MapStmt,
    MeterStmt,
    NatFlag,
    NatStmt,
    NatTypeFlag,
    ObjrefStmt,
    QueueFlag,
    QueueStmt,
    QuotaStmt,
    RejectStmt,
    SetStmt,
    Statement,
    SynproxyStmt,
    XtStmt,
)
from ..nft.units import byte_unit
from ._json_encoder import JSON, JsonEncoder, special

__all__ = ["collapse"]


def collapse(values: Iterable[Any], order: Iterable[StrEnum], *, bare: bool = True) -> JSON:
    """Flags in nft's order: a list, one flag as a bare string when ``bare`` (the target
    release's ``json_bare_stmt_flag``); None when empty."""
    present = set(values)
    out = [m.value for m in order if m in present]
    if not out:
        return None
    return out[0] if len(out) == 1 and bare else out


def _stateless(enc: JsonEncoder, stmts: Iterable[Statement]) -> list[JSON]:
    # nft prints statements attached to set elements and set/map/meter statements stateless.
    sub = JsonEncoder(enc.ctx.scoped(stateless=True))
    return [sub.value(s) for s in stmts]


def _put(body: dict[str, JSON], key: str, value: JSON) -> None:
    if value is not None:
        body[key] = value


def _put_value(enc: JsonEncoder, body: dict[str, JSON], key: str, value: object) -> None:
    if value is not None:
        body[key] = enc.value(value)


@special(CounterStmt)
def _counter(enc: JsonEncoder, node: CounterStmt) -> JSON:
    if enc.ctx.stateless:
        return {"counter": None}
    return {"counter": {"packets": node.packets, "bytes": node.bytes}}


@special(LastStmt)
def _last(enc: JsonEncoder, node: LastStmt) -> JSON:
    if enc.ctx.stateless or node.used is None:
        return {"last": None}
    return {"last": {"used": node.used}}


@special(QuotaStmt)
def _quota(enc: JsonEncoder, node: QuotaStmt) -> JSON:
    val, unit = byte_unit(node.bytes)
    body: dict[str, JSON] = {"val": val, "val_unit": unit}
    if node.inv:
        body["inv"] = True
    if node.used and not enc.ctx.stateless:
        used, used_unit = byte_unit(node.used)
        body.update(used=used, used_unit=used_unit)
    return {"quota": body}


@special(LimitStmt)
def _limit(enc: JsonEncoder, node: LimitStmt) -> JSON:
    if node.unit == LimitUnit.PACKETS:
        body: dict[str, JSON] = {"rate": node.rate, "burst": node.burst, "per": node.per.value}
        if node.inv:
            body["inv"] = True
        return {"limit": body}
    rate, rate_unit = byte_unit(node.rate)
    burst, burst_unit = byte_unit(node.burst)
    body = {"rate": rate, "burst": burst, "per": node.per.value}
    if node.inv:
        body["inv"] = True
    body.update(rate_unit=rate_unit, burst_unit=burst_unit)
    return {"limit": body}


@special(ObjrefStmt)
def _objref(enc: JsonEncoder, node: ObjrefStmt) -> JSON:
    return {node.type.value: enc.value(node.obj)}


@special(LogStmt)
def _log(enc: JsonEncoder, node: LogStmt) -> JSON:
    body: dict[str, JSON] = {}
    _put(body, "prefix", node.prefix)
    _put(body, "group", node.group)
    _put(body, "snaplen", node.snaplen)
    _put(body, "queue-threshold", node.queue_threshold)
    _put(body, "level", None if node.level is None else node.level.value)
    bare = enc.ctx.release.json_bare_stmt_flag
    if node.flags == frozenset(LogFlag):
        body["flags"] = "all" if bare else ["all"]
    else:
        _put(body, "flags", collapse(node.flags, LogFlag, bare=bare))
    return {"log": body or None}


@special(RejectStmt)
def _reject(enc: JsonEncoder, node: RejectStmt) -> JSON:
    if node.type is None:
        return {"reject": None}
    body: dict[str, JSON] = {"type": node.type.value}
    _put_value(enc, body, "expr", node.code)
    return {"reject": body}


@special(QueueStmt)
def _queue(enc: JsonEncoder, node: QueueStmt) -> JSON:
    body: dict[str, JSON] = {}
    _put_value(enc, body, "num", node.num)
    _put(body, "flags", collapse(node.flags, QueueFlag, bare=enc.ctx.release.json_bare_stmt_flag))
    return {"queue": body or None}


@special(DupStmt)
def _dup(enc: JsonEncoder, node: DupStmt) -> JSON:
    if node.addr is None:
        return {"dup": None}
    body: dict[str, JSON] = {"addr": enc.value(node.addr)}
    _put_value(enc, body, "dev", node.dev)
    return {"dup": body}


@special(FlowOffloadStmt)
def _flow(enc: JsonEncoder, node: FlowOffloadStmt) -> JSON:
    return {"flow": {"op": "add", "flowtable": "@" + node.flowtable}}


@special(NatStmt)
def _nat(enc: JsonEncoder, node: NatStmt) -> JSON:
    body: dict[str, JSON] = {}
    _put(body, "family", node.family)
    _put_value(enc, body, "addr", node.addr)
    _put_value(enc, body, "port", node.port)
    bare = enc.ctx.release.json_bare_stmt_flag
    if node.flags:
        _put(body, "flags", collapse(node.flags, NatFlag, bare=bare))
    if node.type_flags:
        _put(body, "type_flags", collapse(node.type_flags, NatTypeFlag, bare=bare))
    return {node.type._value_: body or None}


@special(SynproxyStmt)
def _synproxy(enc: JsonEncoder, node: SynproxyStmt) -> JSON:
    body: dict[str, JSON] = {}
    _put(body, "mss", node.mss)
    _put(body, "wscale", node.wscale)
    if node.flags:
        body["flags"] = enc.flags(node.flags)
    return {"synproxy": body or None}


@special(SetStmt)
def _set_stmt(enc: JsonEncoder, node: SetStmt) -> JSON:
    body: dict[str, JSON] = {"op": node.op.value, "elem": enc.value(node.elem),
                             "set": "@" + node.set}
    if node.stmts:
        body["stmt"] = _stateless(enc, node.stmts)
    return {"set": body}


@special(MapStmt)
def _map_stmt(enc: JsonEncoder, node: MapStmt) -> JSON:
    if not enc.ctx.release.json_map_stmt:
        # nft < 1.0.9 has no JSON form for the map statement: it prints the text.
        from .text import TextRenderer

        return TextRenderer(enc.ctx).stmt(node)
    body: dict[str, JSON] = {"op": node.op.value, "elem": enc.value(node.elem),
                             "data": enc.value(node.data), "map": "@" + node.map}
    if node.stmts:
        body["stmt"] = _stateless(enc, node.stmts)
    return {"map": body}


@special(MeterStmt)
def _meter(enc: JsonEncoder, node: MeterStmt) -> JSON:
    (stmt,) = _stateless(enc, (node.stmt,))
    return {"meter": {"key": enc.value(node.key), "stmt": stmt, "size": node.size,
                      "name": node.name}}


@special(ChainStmt)
def _chain_stmt(enc: JsonEncoder, node: ChainStmt) -> JSON:
    # nft has no JSON form for a bound chain: it prints the statement's text as a string
    # (which it cannot read back). Reproduce that.
    from .text import TextRenderer

    return TextRenderer(enc.ctx).stmt(node)


@special(XtStmt)
def _xt(enc: JsonEncoder, node: XtStmt) -> JSON:
    raise UnsupportedError(
        f"xt {node.type or ''} {node.name or ''}: an iptables-nft (xtables) statement cannot be "
        "written back by nft; manage this rule with iptables-nft")

