"""libnftables JSON -> model. Reads what nft 1.0.6 and 1.1.x print, tolerant of known drift:
single flags as a string or a list, binary operations with more than two operands, objects
referenced by name strings, ``null``/``{}`` statements.

This module reads the containers (tables, chains, rules, sets and maps, flowtables, named
objects: ``from_json``); their expressions and statements are decoded by ``JsonDecoder``
(``_json_decoder``, generic over attrs fields, with the irregular statements in
``_json_statements``) and, for the shapes that make up most of a large ruleset, by
``_json_fast``.
"""

from __future__ import annotations

import json as _json
from typing import Any

from .._node import Node
from ..errors import NftkitError, ParseError, ValidationError
from ..model.enums import SetFlag, TableFlag
from ..model.expressions import ConcatExpr, Expr, PrefixExpr, RangeExpr
from ..model.objects import CtTimeout, Limit, NamedObject
from ..model.priority import Priority
from ..model.ruleset import Flowtable, Rule, Ruleset, Table
from ..model.sets import Map, Set
from ..model.statements import Stmt
from ..nft.json_members import MEMBERS
from ..nft.units import BYTE_UNITS
from . import _json_statements  # noqa: F401  (registers the irregular statements' decoders)
from ._json_decoder import (
    JSON,
    SPECIAL_EXPR,
    SPECIAL_STMT,
    JsonDecoder,
    flat_class,
    gc_paused,
    immediate_string,
    ms_from_seconds,
)
from ._json_fast import ENABLED, FAST_STMTS, MISS, fast_expr, new_chain, new_rule

__all__ = ["SPECIAL_EXPR", "SPECIAL_STMT", "JsonDecoder", "decode_object", "decode_rule",
           "decode_set", "flat_class", "from_json", "gc_paused", "immediate_string"]


#: The members each top-level object may have (anything else is an error, with its path).
_MEMBERS = MEMBERS


def _flags(value: JSON) -> list[str]:
    """A flag set: nft 1.1 writes a single flag as a string, 1.0.6 always a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _devices(value: JSON) -> tuple[str, ...]:
    """``dev``: a string for one device, a list for several."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class _Builder:
    """Collects top-level JSON objects into tables, in the order they appear."""

    def __init__(self, dec: JsonDecoder) -> None:
        self.dec = dec
        self.tables: dict[tuple[str, str], dict[str, Any]] = {}
        self.chains: dict[tuple[str, str, str], dict[str, Any]] = {}
        #: Sets that rules add to or update from the packet path: (family, table, name).
        self.dynamic: set[tuple[str, str, str]] = set()

    def table(self, family: str, name: str) -> dict[str, Any]:
        try:
            return self.tables[(family, name)]
        except KeyError:
            raise self.dec.error(f"no table {family} {name} before its contents") from None

    def check_members(self, key: str, body: JSON) -> None:
        if not isinstance(body, dict):
            raise self.dec.error(f"{key}: expected an object, got {body!r}")
        allowed = _MEMBERS.get(key)
        if allowed is not None and not body.keys() <= allowed:
            for member in body:
                if member not in allowed:
                    raise self.dec.error(f"{key}: unknown member {member!r}")

    def add(self, key: str, body: dict[str, Any]) -> None:
        if key == "metainfo":
            return
        self.check_members(key, body)
        if key == "table":
            self.add_table(body)
        elif key == "chain":
            self.add_chain(body)
        elif key == "rule":
            self.add_rule(body)
        elif key in ("set", "map"):
            self.table(body["family"], body["table"])["sets"].append(
                decode_set(self.dec, key, body))
        elif key == "flowtable":
            self.table(body["family"], body["table"])["flowtables"].append(Flowtable(
                name=body["name"], hook=body.get("hook", "ingress"),
                priority=Priority(value=int(body.get("prio", 0))),
                devices=_devices(body.get("dev")), flags=_flags(body.get("flags")),
                counter=bool(body.get("counter", False)), handle=body.get("handle")))
        elif key in NamedObject.registry:
            self.table(body["family"], body["table"])["objects"].append(
                decode_object(self.dec, key, body))
        else:
            raise self.dec.error(f"unknown object {key!r}")

    def add_rule(self, body: dict[str, Any]) -> None:
        """A rule object (its members checked already)."""
        chain = self.chains.get((body["family"], body["table"], body["chain"]))
        if chain is None:
            raise self.dec.error(
                f"rule for chain {body['family']} {body['table']} {body['chain']}, "
                "which is not listed before it")
        written: set[str] = set()
        chain["rules"].append(decode_rule(self.dec, body, written))
        if written:
            self.dynamic |= {(body["family"], body["table"], n) for n in written}

    def add_table(self, body: dict[str, Any]) -> None:
        ident = (body["family"], body["name"])
        if ident in self.tables:
            raise self.dec.error(f"table {ident[0]} {ident[1]} is listed twice")
        flags = _flags(body.get("flags"))
        # nft 1.0.6 prints the table's name instead of a single flag ("flags": "t");
        # dormant is the only flag such a listed table can have.
        if flags == [body["name"]] and body["name"] not in {f.value for f in TableFlag}:
            flags = [TableFlag.DORMANT.value]
        self.tables[ident] = {
            "family": body["family"], "name": body["name"], "handle": body.get("handle"),
            "flags": flags, "comment": body.get("comment"),
            "chains": [], "sets": [], "flowtables": [], "objects": [],
        }

    def add_chain(self, body: dict[str, Any]) -> None:
        t = self.table(body["family"], body["table"])
        ident = (body["family"], body["table"], body["name"])
        if ident in self.chains:
            raise self.dec.error(f"chain {' '.join(ident)} is listed twice")
        spec: dict[str, Any] = {"name": body["name"], "handle": body.get("handle"),
                                "comment": body.get("comment"), "rules": []}
        if "hook" in body:
            spec.update(type=body.get("type", "filter"), hook=body["hook"],
                        priority=Priority(value=int(body.get("prio", 0))),
                        policy=body.get("policy"), devices=_devices(body.get("dev")))
        t["chains"].append(spec)
        self.chains[ident] = spec

    def ruleset(self) -> Ruleset:
        tables = []
        for t in self.tables.values():
            chains = [new_chain(c) for c in t["chains"]]  # Chain(**c), cheaper when it can
            # nft makes every set that a rule adds to, updates or meters "dynamic", but 1.0.6
            # leaves the flag out of its JSON: restore it.
            sets = [s if (t["family"], t["name"], s.name) not in self.dynamic
                    or SetFlag.DYNAMIC in s.flags or SetFlag.CONSTANT in s.flags
                    else s.replace(flags=s.flags | {SetFlag.DYNAMIC}) for s in t["sets"]]
            tables.append(Table(**{**t, "chains": chains, "sets": sets}))
        return Ruleset(tables=tables)


def _dynset_targets(expr: JSON) -> set[str]:
    """Names of the sets that set statements (add/update/delete) or meters in ``expr`` (a
    rule's statement list, or one statement) write."""
    found: set[str] = set()
    # an explicit stack of containers only (leaves are never pushed): this walk runs over
    # every rule, and a recursive call per JSON value was a large share of from_json
    # (only dicts and lists are ever pushed, so a non-list is a dict; a tuple of types is
    # cheaper for isinstance than a `dict | list` union)
    stack: list[JSON] = [expr] if isinstance(expr, _CONTAINERS) else []
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if isinstance(node, list):
            for item in node:
                if isinstance(item, _CONTAINERS):
                    push(item)
        else:
            for key, body in node.items():
                if isinstance(body, dict):
                    # (maps written by a "map" statement do not become dynamic)
                    if key == "set":
                        ref = body.get("set")
                        if "op" in body and isinstance(ref, str):
                            found.add(ref.removeprefix("@"))
                    elif key == "meter":
                        name = body.get("name")
                        if isinstance(name, str):
                            found.add(name)
                    push(body)
                elif isinstance(body, list):
                    push(body)
    return found


_CONTAINERS = (dict, list)


_EXPR_PATHS = [f"expr[{i}]" for i in range(64)]


def decode_rule(dec: JsonDecoder, body: dict[str, Any], written: set[str] | None = None) -> Rule:
    """A rule object's body. ``written`` (when given) receives the names of the sets that
    the rule's set statements and meters write (``_dynset_targets``)."""
    exprs = body.get("expr", ())
    if type(exprs) is not list:  # (nothing the fast path is for: the generic reading)
        if written is not None:
            written |= _dynset_targets(exprs)
        return _decode_rule(dec, body, exprs)
    stmts: list[Stmt] = []
    base = path = None
    fast = FAST_STMTS
    for i, s in enumerate(exprs):
        if type(s) is dict:
            if len(s) == 1:
                # the hot shapes (match, vmap, verdicts, NAT, counter: _json_fast), which
                # never need the walk for written sets; MISS for anything else
                ((key, sbody),) = s.items()
                fn = fast.get(key)
                if fn is not None:
                    stmt = fn(sbody)
                    if stmt is not MISS:
                        stmts.append(stmt)
                        continue
        elif isinstance(s, Node):  # already a statement (the text parser's templates)
            stmts.append(s)  # type: ignore[arg-type]
            continue
        if s is None or s == {}:
            continue  # null/{} statements carry nothing (and nft cannot read them back)
        if path is None:
            base = list(dec.path)
            path = [*base, ""]
        path[-1] = _EXPR_PATHS[i] if i < 64 else f"expr[{i}]"
        dec.path = path  # (decoders below only ever replace dec.path, never mutate it)
        if written is not None:
            written |= _dynset_targets(s)
        stmts.append(dec.stmt(s))
    if base is not None:
        dec.path = base
    return new_rule(stmts, body.get("comment"), body.get("handle"))


def _decode_rule(dec: JsonDecoder, body: dict[str, Any], exprs: JSON) -> Rule:
    """``decode_rule`` the generic way, statement by statement."""
    stmts = []
    base = list(dec.path)
    path = [*base, ""]
    for i, s in enumerate(exprs):
        path[-1] = _EXPR_PATHS[i] if i < 64 else f"expr[{i}]"
        dec.path = path  # (decoders below only ever replace dec.path, never mutate it)
        if isinstance(s, Node):  # already a statement (the text parser's templates)
            stmts.append(s)
            continue
        if s is None or s == {}:
            continue  # null/{} statements carry nothing (and nft cannot read them back)
        stmts.append(dec.stmt(s))
    dec.path = base
    return Rule(stmts=stmts, comment=body.get("comment"), handle=body.get("handle"))


def _type(value: JSON, dec: JsonDecoder) -> dict[str, Any]:
    """``"ipv4_addr"``, ``["ipv4_addr", "inet_service"]`` or ``{"typeof": expr}``."""
    if isinstance(value, dict) and "typeof" in value:
        return {"typeof": dec.expr(value["typeof"])}
    if value is None:
        return {}
    return {"type": value}


def decode_set(dec: JsonDecoder, key: str, body: dict[str, Any]) -> Set:
    """A ``set`` or ``map`` object (tolerant: flags as a string or a list)."""
    kwargs: dict[str, Any] = {"name": body["name"], "handle": body.get("handle"),
                              **_type(body.get("type"), dec)}
    if key == "map":
        data = _type(body.get("map"), dec)
        kwargs.update({"data_" + k: v for k, v in data.items()})
    for member in ("policy", "size", "comment"):
        if member in body:
            kwargs[member] = body[member]
    kwargs["flags"] = _flags(body.get("flags"))
    if "timeout" in body:
        kwargs["timeout"] = ms_from_seconds(body["timeout"])
    if "gc-interval" in body:
        kwargs["gc_interval"] = ms_from_seconds(body["gc-interval"])
    if body.get("auto-merge"):
        kwargs["auto_merge"] = True
    base = list(dec.path)
    stmts: list[Stmt] = []
    for i, st in enumerate(body.get("stmt", ())):
        dec.path = [*base, f"stmt[{i}]"]
        stmts.append(dec.stmt(st))
    kwargs["stmts"] = tuple(stmts)
    elems: list[Any] = []
    for i, e in enumerate(body.get("elem", ())):
        # the plain elements (``[{"concat": [...]}, {"goto": ...}]``, addresses, ports) by
        # the fast path; anything else, and every error, the generic way
        if not ENABLED:
            pass
        elif key == "map":
            if type(e) is list and len(e) == 2:
                k = fast_expr(e[0], None)
                d = MISS if k is MISS else fast_expr(e[1], None)
                if d is not MISS:
                    elems.append((k, d))
                    continue
        else:
            v = fast_expr(e, None)
            if v is not MISS:
                elems.append(v)
                continue
        dec.path = [*base, f"elem[{i}]"]
        if key == "map":
            if not (isinstance(e, list) and len(e) == 2):
                raise dec.error(f"map element is not a [key, data] pair: {e!r}")
            elems.append((dec.expr(e[0]), dec.expr(e[1])))
        else:
            elems.append(dec.expr(e))
    dec.path = base
    kwargs["elements"] = tuple(elems)
    if key == "map" and any(_is_interval(data) for _, data in elems):
        kwargs["data_interval"] = True
    cls: type[Set] = Map if key == "map" else Set
    try:
        return cls(**kwargs)
    except (ValidationError, TypeError, ValueError) as exc:
        raise dec.error(f"{key} {body.get('name')!r}: {exc}") from None


def _is_interval(e: Expr) -> bool:
    """Whether map data is a range or prefix (``interval`` data, which JSON does not mark)."""
    if isinstance(e, (RangeExpr, PrefixExpr)):
        return True
    return isinstance(e, ConcatExpr) and any(_is_interval(x) for x in e.exprs)


def decode_object(dec: JsonDecoder, key: str, body: dict[str, Any]) -> NamedObject:
    """A named object; ``limit`` units and ``ct timeout`` policies are converted."""
    cls = NamedObject.registry[key]
    rest = {k: v for k, v in body.items() if k not in ("family", "table")}
    if cls is Limit:
        rest = _limit_members(dec, rest)
    elif cls is CtTimeout and isinstance(rest.get("policy"), dict):
        rest["policy"] = tuple(rest["policy"].items())
    result: NamedObject = dec.build(cls, rest)
    return result


_UNIT_FACTOR = BYTE_UNITS


def _limit_members(dec: JsonDecoder, body: dict[str, Any]) -> dict[str, Any]:
    """``rate_unit``/``burst_unit`` (byte limits) -> ``unit="bytes"`` and rates in bytes."""
    out = dict(body)
    rate_unit = out.pop("rate_unit", None)
    burst_unit = out.pop("burst_unit", None)
    if rate_unit is not None and rate_unit != "packets":
        if rate_unit not in _UNIT_FACTOR:
            raise dec.error(f"limit: unknown rate_unit {rate_unit!r}")
        out["unit"] = "bytes"
        out["rate"] = int(out.get("rate", 0)) * _UNIT_FACTOR[rate_unit]
        if "burst" in out:
            out["burst"] = int(out["burst"]) * _UNIT_FACTOR.get(burst_unit or "bytes", 1)
    return out


def from_json(doc: str | bytes | dict[str, Any] | list[Any]) -> Ruleset:
    """Read ``nft -j list ruleset`` output (a string or already-loaded JSON) into a Ruleset.

    Accepts what nft 1.0.6 and 1.1.x print. A document that lists a table twice, lists a rule
    before its chain, or has an unknown member raises ParseError naming the path
    (``nftables[3]/chain: unknown member 'foo'``).
    """
    with gc_paused(long_lived=True):  # no cycles, only many long-lived nodes
        return _from_json(doc)


def _from_json(doc: str | bytes | dict[str, Any] | list[Any]) -> Ruleset:
    dec = JsonDecoder()
    if isinstance(doc, (str, bytes)):
        try:
            doc = _json.loads(doc)
        except RecursionError:
            raise ParseError("invalid JSON: nested too deeply", filename="<json>") from None
        except ValueError as exc:
            raise ParseError(f"invalid JSON: {exc}", filename="<json>") from None
    items = doc.get("nftables") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ParseError('expected {"nftables": [...]}', filename="<json>")
    builder = _Builder(dec)
    rule_members, chain_members = _MEMBERS["rule"], _MEMBERS["chain"]
    for i, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            raise ParseError(f"nftables[{i}]: expected an object with one member",
                             filename="<json>")
        ((key, body),) = item.items()
        dec.path = [f"nftables[{i}]", key]
        try:
            if key == "rule" and type(body) is dict and body.keys() <= rule_members:
                builder.add_rule(body)  # the bulk of a large ruleset: add() without dispatch
            elif key == "chain" and type(body) is dict and body.keys() <= chain_members:
                builder.add_chain(body)
            else:
                builder.add(key, body)
        except ValidationError as exc:  # where in the document, and what is wrong there
            raise dec.error(str(exc)) from None
        except NftkitError:
            raise
        except KeyError as exc:
            raise dec.error(f"{key}: missing member {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise dec.error(f"malformed {key}: {exc}") from None
        except RecursionError:
            raise dec.error(f"{key}: nested too deeply") from None
    dec.path = []
    try:
        return builder.ruleset()
    except RecursionError:
        raise ParseError("nested too deeply", filename="<json>") from None
    except ValidationError as exc:
        raise ParseError(str(exc), filename="<json>") from None
