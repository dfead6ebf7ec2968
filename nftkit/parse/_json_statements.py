"""Statement decoders for the irregular statements (registered in ``_json_decoder.SPECIAL_STMT``).

They follow nft's ``src/parser_json.c``: ``counter``, ``quota``, ``limit`` and ``synproxy``
are an anonymous statement when their body has the statement's members and an object
reference (a name or a map) otherwise; a ``mangle`` of ``ct helper`` is an object reference;
NAT statements are keyed by their type. The other statements (``ct count``, ``log``,
``reject``, ``queue``, ``dup``, ``fwd``, ``notrack``, ``tproxy``, ``reset``, ``vmap``) decode
generically from their attrs fields.
"""

from __future__ import annotations

from typing import Any

from ..errors import ValidationError
from ..model.expressions import CtExpr, Expr
from ..model.statements import (
    CounterStmt,
    FlowOffloadStmt,
    LastStmt,
    LimitStmt,
    LimitUnit,
    MangleStmt,
    MapStmt,
    MeterStmt,
    NatStmt,
    NatType,
    ObjrefStmt,
    ObjrefType,
    QuotaStmt,
    SetStmt,
    Statement,
    Stmt,
    SynproxyStmt,
    XtStmt,
)
from ..nft.units import RATE_BYTE_UNITS
from ._json_decoder import JSON, JsonDecoder, special_stmt

__all__ = ["scale_bytes"]

_SCALE = RATE_BYTE_UNITS


def scale_bytes(dec: JsonDecoder, value: JSON, unit: JSON) -> int:
    """``(2, "kbytes")`` -> ``2048`` (nft's ``rate_to_bytes()``)."""
    if unit not in _SCALE:
        raise dec.error(f"unknown byte unit {unit!r} (bytes, kbytes or mbytes)")
    if not isinstance(value, int) or isinstance(value, bool):
        raise dec.error(f"expected an integer, got {value!r}")
    return value * _SCALE[str(unit)]


def _build(dec: JsonDecoder, cls: type[Any], what: str, **kwargs: Any) -> Any:
    try:
        return cls(**kwargs)
    except (ValidationError, TypeError, ValueError) as exc:
        raise dec.error(f"{what}: {exc}") from None


def _objref(dec: JsonDecoder, kind: ObjrefType, body: JSON) -> ObjrefStmt:
    obj: Expr = dec.expr(body)
    result: ObjrefStmt = _build(dec, ObjrefStmt, kind.value, type=kind, obj=obj)
    return result


def _object(dec: JsonDecoder, key: str, body: JSON, needs: tuple[str, ...] = ()
            ) -> dict[str, Any]:
    """``body`` as a JSON object holding the members ``needs`` names (``{}`` for null)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise dec.error(f"{key}: expected an object, got {body!r}")
    for member in needs:
        if member not in body:
            raise dec.error(f"{key}: needs {member!r}")
    return body


@special_stmt("counter")
def _counter(dec: JsonDecoder, body: JSON) -> Stmt:
    if body is None:
        return CounterStmt()
    if isinstance(body, dict) and "packets" in body and "bytes" in body:
        result: CounterStmt = _build(dec, CounterStmt, "counter", packets=body["packets"],
                                     bytes=body["bytes"])
        return result
    return _objref(dec, ObjrefType.COUNTER, body)


@special_stmt("last")
def _last(dec: JsonDecoder, body: JSON) -> Stmt:
    body = _object(dec, "last", body)
    used = body.get("used")
    result: LastStmt = _build(dec, LastStmt, "last", used=None if used == -1 else used)
    return result


@special_stmt("quota")
def _quota(dec: JsonDecoder, body: JSON) -> Stmt:
    if not (isinstance(body, dict) and "val" in body):
        return _objref(dec, ObjrefType.QUOTA, body)
    used = body.get("used", 0)
    result: QuotaStmt = _build(
        dec, QuotaStmt, "quota",
        bytes=scale_bytes(dec, body["val"], body.get("val_unit", "bytes")),
        used=scale_bytes(dec, used, body.get("used_unit", "bytes")) if used else 0,
        inv=bool(body.get("inv", False)))
    return result


@special_stmt("limit")
def _limit(dec: JsonDecoder, body: JSON) -> Stmt:
    if not (isinstance(body, dict) and "rate" in body and "per" in body):
        return _objref(dec, ObjrefType.LIMIT, body)
    rate_unit = body.get("rate_unit", "packets")
    burst = body.get("burst", 0)
    kwargs: dict[str, Any] = {"per": body["per"], "inv": bool(body.get("inv", False))}
    if rate_unit == "packets":
        # nft reads a missing or zero packet burst as its default, 5.
        kwargs.update(unit=LimitUnit.PACKETS, rate=body["rate"], burst=burst or 5)
    else:
        kwargs.update(unit=LimitUnit.BYTES, rate=scale_bytes(dec, body["rate"], rate_unit),
                      burst=scale_bytes(dec, burst, body.get("burst_unit", "bytes")))
    result: LimitStmt = _build(dec, LimitStmt, "limit", **kwargs)
    return result


@special_stmt("synproxy")
def _synproxy(dec: JsonDecoder, body: JSON) -> Stmt:
    if body is None:
        return SynproxyStmt()
    if isinstance(body, dict) and ({"mss", "wscale", "flags"} & body.keys()):
        unknown = body.keys() - {"mss", "wscale", "flags"}
        if unknown:
            raise dec.error(f"synproxy: unknown member {sorted(unknown)[0]!r}")
        result: SynproxyStmt = _build(dec, SynproxyStmt, "synproxy", **body)
        return result
    return _objref(dec, ObjrefType.SYNPROXY, body)


def _register_objref(kind: ObjrefType) -> None:
    special_stmt(kind.value)(lambda dec, body: _objref(dec, kind, body))


for _kind in (ObjrefType.CT_HELPER, ObjrefType.CT_TIMEOUT, ObjrefType.CT_EXPECTATION,
              ObjrefType.SECMARK, ObjrefType.TUNNEL):
    _register_objref(_kind)


@special_stmt("mangle")
def _mangle(dec: JsonDecoder, body: JSON) -> Stmt:
    body = _object(dec, "mangle", body)
    if "key" not in body or "value" not in body:
        raise dec.error("mangle: needs key and value")
    key = dec.expr(body["key"])
    value = dec.expr(body["value"])
    if isinstance(key, CtExpr) and key.key == "helper":
        # nft reads "ct helper set" given as a mangle as the object reference it is.
        return _objref_value(dec, value)
    result: MangleStmt = _build(dec, MangleStmt, "mangle", key=key, value=value)
    return result


def _objref_value(dec: JsonDecoder, value: Expr) -> ObjrefStmt:
    result: ObjrefStmt = _build(dec, ObjrefStmt, "ct helper", type=ObjrefType.CT_HELPER,
                                obj=value)
    return result


def _nat(kind: NatType) -> None:
    def decode(dec: JsonDecoder, body: JSON) -> Stmt:
        body = _object(dec, kind.value, body)
        kwargs: dict[str, Any] = {"type": kind}
        for member, name in (("family", "family"), ("flags", "flags"),
                             ("type_flags", "type_flags")):
            if member in body:
                kwargs[name] = body[member]
        for member in ("addr", "port"):
            if member in body:
                kwargs[member] = dec.expr(body[member])
        unknown = body.keys() - {"family", "flags", "type_flags", "addr", "port"}
        if unknown:
            raise dec.error(f"{kind.value}: unknown member {sorted(unknown)[0]!r}")
        result: NatStmt = _build(dec, NatStmt, kind.value, **kwargs)
        return result

    special_stmt(kind.value)(decode)


for _nat_kind in NatType:
    _nat(_nat_kind)


def _at_name(dec: JsonDecoder, what: str, value: JSON) -> str:
    if not isinstance(value, str) or not value.startswith("@"):
        raise dec.error(f"{what}: expected a reference \"@name\", got {value!r}")
    return value[1:]


def _elem_stmts(dec: JsonDecoder, body: dict[str, Any]) -> tuple[Statement, ...]:
    stmts = body.get("stmt", [])
    if not isinstance(stmts, list):
        raise dec.error("stmt: expected a list of statements")
    out: list[Statement] = []
    for s in stmts:
        stmt = dec.stmt(s)
        if not isinstance(stmt, Statement):
            raise dec.error(f"stmt: {s!r} is not a stateful statement")
        out.append(stmt)
    return tuple(out)


@special_stmt("set")
def _set_stmt(dec: JsonDecoder, body: JSON) -> Stmt:
    body = _object(dec, "set", body, needs=("op", "elem", "set"))
    result: SetStmt = _build(dec, SetStmt, "set", op=body["op"], elem=dec.expr(body["elem"]),
                             set=_at_name(dec, "set", body["set"]),
                             stmts=_elem_stmts(dec, body))
    return result


@special_stmt("map")
def _map_stmt(dec: JsonDecoder, body: JSON) -> Stmt:
    body = _object(dec, "map", body, needs=("op", "elem", "data", "map"))
    result: MapStmt = _build(dec, MapStmt, "map", op=body["op"], elem=dec.expr(body["elem"]),
                             data=dec.expr(body["data"]), map=_at_name(dec, "map", body["map"]),
                             stmts=_elem_stmts(dec, body))
    return result


@special_stmt("meter")
def _meter(dec: JsonDecoder, body: JSON) -> Stmt:
    body = _object(dec, "meter", body, needs=("name", "key", "stmt"))
    result: MeterStmt = _build(dec, MeterStmt, "meter", name=body["name"],
                               key=dec.expr(body["key"]), stmt=dec.stmt(body["stmt"]),
                               size=body.get("size", 0))
    return result


@special_stmt("flow")
def _flow(dec: JsonDecoder, body: JSON) -> Stmt:
    body = _object(dec, "flow", body)
    if body.get("op", "add") != "add":
        raise dec.error(f"flow: unknown op {body.get('op')!r} (only \"add\")")
    result: FlowOffloadStmt = _build(dec, FlowOffloadStmt, "flow",
                                     flowtable=_at_name(dec, "flow", body.get("flowtable")))
    return result


@special_stmt("xt")
def _xt(dec: JsonDecoder, body: JSON) -> Stmt:
    # nft 1.1 prints {"type": ..., "name": ...}; its parser takes [type, name, blob];
    # older nft printed null.
    if isinstance(body, dict):
        return XtStmt(type=body.get("type"), name=body.get("name"))
    if isinstance(body, list) and len(body) >= 2:
        return XtStmt(type=str(body[0]), name=str(body[1]))
    return XtStmt()

