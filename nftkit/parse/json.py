"""libnftables JSON -> model. Reads what nft 1.0.6 and 1.1.x print, tolerant of known drift:
single flags as a string or a list, binary operations with more than two operands, objects
referenced by name strings, ``null``/``{}`` statements.

Decoding is generic over attrs fields; irregular nodes register a decoder in ``SPECIAL_EXPR`` /
``SPECIAL_STMT`` (keyed by JSON member name).
"""

from __future__ import annotations

import ipaddress
import json as _json
from collections.abc import Callable
from typing import Any

import attrs

from .._node import Node, field_json_name
from ..errors import NftkitError, ParseError, ValidationError
from ..model.expressions import (
    BinopExpr,
    Expr,
    Expression,
    ListExpr,
    SetRefExpr,
    VerdictExpr,
    VerdictKind,
)
from ..model.objects import NamedObject
from ..model.priority import Priority
from ..model.ruleset import Chain, Flowtable, Rule, Ruleset, Table
from ..model.sets import Map, Set
from ..model.statements import Statement, Stmt

__all__ = ["SPECIAL_EXPR", "SPECIAL_STMT", "JsonDecoder", "from_json"]

JSON = Any
ExprDecoder = Callable[["JsonDecoder", JSON], Expr]
StmtDecoder = Callable[["JsonDecoder", JSON], Stmt]

#: Decoders for irregular expressions, by JSON key: ``fn(decoder, body) -> Expr``.
SPECIAL_EXPR: dict[str, ExprDecoder] = {}
#: Decoders for irregular statements, by JSON key: ``fn(decoder, body) -> Stmt``.
SPECIAL_STMT: dict[str, StmtDecoder] = {}

_VERDICTS = {v.value for v in VerdictKind}


def special_expr(*keys: str) -> Callable[[ExprDecoder], ExprDecoder]:
    def register(fn: ExprDecoder) -> ExprDecoder:
        for k in keys:
            SPECIAL_EXPR[k] = fn
        return fn

    return register


def special_stmt(*keys: str) -> Callable[[StmtDecoder], StmtDecoder]:
    def register(fn: StmtDecoder) -> StmtDecoder:
        for k in keys:
            SPECIAL_STMT[k] = fn
        return fn

    return register


class JsonDecoder:
    """Decodes JSON into model nodes. ``path`` tracks where we are, for error messages."""

    def __init__(self) -> None:
        self.path: list[str] = []

    def error(self, message: str) -> ParseError:
        where = "/".join(self.path) or "<document>"
        return ParseError(f"{where}: {message}", filename="<json>")

    # --- expressions ---------------------------------------------------------------------

    def expr(self, j: JSON) -> Expr:
        """One expression: an object ``{key: body}``, a list (flag list) or an immediate."""
        if isinstance(j, bool | int):
            return j
        if isinstance(j, str):
            return self.string(j)
        if isinstance(j, list):
            return ListExpr(values=tuple(self.expr(v) for v in j))
        if isinstance(j, dict) and len(j) == 1:
            ((key, body),) = j.items()
            fn = SPECIAL_EXPR.get(key)
            if fn is not None:
                return fn(self, body)
            cls = Expression.registry.get(key)
            if cls is not None:
                return self.build(cls, body)
            raise self.error(f"unknown expression {key!r}")
        raise self.error(f"not an expression: {j!r}")

    def string(self, s: str) -> Expr:
        """A string immediate: ``@name`` is a set reference, addresses become ipaddress."""
        if s.startswith("@"):
            return SetRefExpr(name=s[1:])
        if s and (s[0].isdigit() or ":" in s) and not s.startswith("0x"):
            try:
                return ipaddress.ip_address(s)
            except ValueError:
                pass
        return s

    def build(self, cls: type[Node], body: JSON) -> Any:
        """Generic decode of ``cls`` from its JSON body, by its shape and field metadata."""
        fields = attrs.fields(cls)  # type: ignore[misc]
        kwargs: dict[str, Any] = {}
        if cls.json_shape == "null":
            pass
        elif cls.json_shape == "list":
            if len(fields) == 1:
                kwargs[fields[0].name] = self.field(fields[0], body)
            else:
                if not isinstance(body, list) or len(body) != len(fields):
                    raise self.error(f"{cls.json_key}: expected a list of {len(fields)}")
                for f, v in zip(fields, body, strict=True):
                    kwargs[f.name] = self.field(f, v)
        elif cls.json_shape == "value":
            kwargs[fields[0].name] = self.field(fields[0], body)
        else:
            if body is None:
                body = {}
            if not isinstance(body, dict):
                raise self.error(f"{cls.json_key}: expected an object, got {body!r}")
            names = {field_json_name(f): f for f in fields}
            for k, v in body.items():
                f = names.get(k)
                if f is None:
                    raise self.error(f"{cls.json_key}: unknown member {k!r}")
                kwargs[f.name] = self.field(f, v)
        try:
            return cls(**kwargs)
        except (ValidationError, TypeError, ValueError) as exc:
            raise self.error(f"{cls.json_key}: {exc}") from None

    def field(self, f: attrs.Attribute[Any], v: JSON) -> Any:
        codec = f.metadata.get("codec")
        if codec == "expr":
            return self.expr(v)
        if codec == "exprs":
            return tuple(self.expr(x) for x in (v if isinstance(v, list) else [v]))
        if codec == "stmt":
            return self.stmt(v)
        if codec == "stmts":
            return tuple(self.stmt(x) for x in (v if isinstance(v, list) else [v]))
        return v

    # --- statements ----------------------------------------------------------------------

    def stmt(self, j: JSON) -> Stmt:
        if not isinstance(j, dict) or len(j) != 1:
            raise self.error(f"not a statement: {j!r}")
        ((key, body),) = j.items()
        fn = SPECIAL_STMT.get(key)
        if fn is not None:
            return fn(self, body)
        if key in _VERDICTS:
            return _verdict(self, key, body)
        cls = Statement.registry.get(key)
        if cls is None:
            raise self.error(f"unknown statement {key!r}")
        result: Stmt = self.build(cls, body)
        return result


def _verdict(dec: JsonDecoder, key: str, body: JSON) -> VerdictExpr:
    target = body.get("target") if isinstance(body, dict) else None
    return VerdictExpr(kind=VerdictKind(key), target=target)


for _kind in VerdictKind:
    SPECIAL_EXPR[_kind.value] = lambda dec, body, _k=_kind.value: _verdict(dec, _k, body)


def _binop(op: str) -> ExprDecoder:
    def decode(dec: JsonDecoder, body: JSON) -> Expr:
        if not isinstance(body, list) or len(body) < 2:
            raise dec.error(f"{op}: expected a list of at least two operands")
        result: Expr = dec.expr(body[0])
        for operand in body[1:]:  # nft 1.1 flattens chains: {"|": [a, b, c]}
            result = BinopExpr(op=op, left=result, right=dec.expr(operand))
        return result

    return decode


for _op in ("&", "|", "^", "<<", ">>"):
    SPECIAL_EXPR[_op] = _binop(_op)


# --- containers ----------------------------------------------------------------------------


def _flags(value: JSON) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _devices(value: JSON) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class _Builder:
    """Collects top-level JSON objects into tables, in the order they appear."""

    def __init__(self, dec: JsonDecoder) -> None:
        self.dec = dec
        self.tables: dict[tuple[str, str], dict[str, Any]] = {}
        self.chains: dict[tuple[str, str, str], dict[str, Any]] = {}

    def table(self, family: str, name: str) -> dict[str, Any]:
        try:
            return self.tables[(family, name)]
        except KeyError:
            raise self.dec.error(f"no table {family} {name} before its contents") from None

    def add(self, key: str, body: dict[str, Any]) -> None:
        dec = self.dec
        if key == "metainfo":
            return
        if key == "table":
            self.tables[(body["family"], body["name"])] = {
                "family": body["family"], "name": body["name"], "handle": body.get("handle"),
                "flags": _flags(body.get("flags")), "comment": body.get("comment"),
                "chains": [], "sets": [], "flowtables": [], "objects": [],
            }
        elif key == "chain":
            t = self.table(body["family"], body["table"])
            spec: dict[str, Any] = {"name": body["name"], "handle": body.get("handle"),
                                    "comment": body.get("comment"), "rules": []}
            if "hook" in body:
                spec.update(type=body.get("type"), hook=body["hook"],
                            priority=Priority(value=int(body.get("prio", 0))),
                            policy=body.get("policy"), devices=_devices(body.get("dev")))
            t["chains"].append(spec)
            self.chains[(body["family"], body["table"], body["name"])] = spec
        elif key == "rule":
            chain = self.chains.get((body["family"], body["table"], body["chain"]))
            if chain is None:
                raise dec.error(f"rule for unknown chain {body['chain']!r}")
            chain["rules"].append(decode_rule(dec, body))
        elif key in ("set", "map"):
            self.table(body["family"], body["table"])["sets"].append(decode_set(dec, key, body))
        elif key == "flowtable":
            self.table(body["family"], body["table"])["flowtables"].append(Flowtable(
                name=body["name"], hook=body.get("hook", "ingress"),
                priority=Priority(value=int(body.get("prio", 0))),
                devices=_devices(body.get("dev")), flags=_flags(body.get("flags")),
                handle=body.get("handle")))
        elif key in NamedObject.registry:
            self.table(body["family"], body["table"])["objects"].append(
                decode_object(dec, key, body))
        else:
            raise dec.error(f"unknown object {key!r}")

    def ruleset(self) -> Ruleset:
        tables = []
        for t in self.tables.values():
            chains = [Chain(**{**c, "rules": tuple(c["rules"])}) for c in t["chains"]]
            tables.append(Table(**{**t, "chains": chains}))
        return Ruleset(tables=tables)


def decode_rule(dec: JsonDecoder, body: dict[str, Any]) -> Rule:
    stmts = []
    for i, s in enumerate(body.get("expr", ())):
        dec.path.append(f"expr[{i}]")
        stmts.append(dec.stmt(s))
        dec.path.pop()
    return Rule(stmts=stmts, comment=body.get("comment"), handle=body.get("handle"))


def _type(value: JSON, dec: JsonDecoder) -> dict[str, Any]:
    if isinstance(value, dict) and "typeof" in value:
        return {"typeof": dec.expr(value["typeof"])}
    return {"type": value}


def decode_set(dec: JsonDecoder, key: str, body: dict[str, Any]) -> Set:
    kwargs: dict[str, Any] = {"name": body["name"], "handle": body.get("handle"),
                              **_type(body.get("type"), dec)}
    if key == "map":
        data = _type(body.get("map"), dec)
        kwargs.update({"data_" + k: v for k, v in data.items()})
    for member, name in (("flags", "flags"), ("policy", "policy"), ("size", "size"),
                         ("comment", "comment")):
        if member in body:
            kwargs[name] = _flags(body[member]) if name == "flags" else body[member]
    if "timeout" in body:
        kwargs["timeout"] = int(body["timeout"]) * 1000
    if "gc-interval" in body:
        kwargs["gc_interval"] = int(body["gc-interval"]) * 1000
    if body.get("auto-merge"):
        kwargs["auto_merge"] = True
    if "stmt" in body:
        kwargs["stmts"] = tuple(dec.stmt(s) for s in body["stmt"])
    elems = body.get("elem", ())
    if key == "map":
        kwargs["elements"] = tuple((dec.expr(k), dec.expr(v)) for k, v in elems)
        cls: type[Set] = Map
    else:
        kwargs["elements"] = tuple(dec.expr(e) for e in elems)
        cls = Set
    try:
        return cls(**kwargs)
    except (ValidationError, TypeError, ValueError) as exc:
        raise dec.error(f"{key} {body.get('name')!r}: {exc}") from None


def decode_object(dec: JsonDecoder, key: str, body: dict[str, Any]) -> NamedObject:
    cls = NamedObject.registry[key]
    rest = {k: v for k, v in body.items() if k not in ("family", "table")}
    result: NamedObject = dec.build(cls, rest)
    return result


def from_json(doc: str | bytes | dict[str, Any] | list[Any]) -> Ruleset:
    """Read ``nft -j list ruleset`` output (a string or already-loaded JSON) into a Ruleset."""
    dec = JsonDecoder()
    if isinstance(doc, (str, bytes)):
        try:
            doc = _json.loads(doc)
        except ValueError as exc:
            raise ParseError(f"invalid JSON: {exc}", filename="<json>") from None
    items = doc.get("nftables") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ParseError('expected {"nftables": [...]}', filename="<json>")
    builder = _Builder(dec)
    for i, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            raise ParseError(f"nftables[{i}]: expected an object with one member",
                             filename="<json>")
        ((key, body),) = item.items()
        dec.path = [f"nftables[{i}]", key]
        try:
            builder.add(key, body)
        except NftkitError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise dec.error(f"malformed {key}: {exc!r}") from None
    dec.path = []
    try:
        return builder.ruleset()
    except ValidationError as exc:
        raise ParseError(str(exc), filename="<json>") from None
