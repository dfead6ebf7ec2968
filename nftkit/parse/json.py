"""libnftables JSON -> model. Reads what nft 1.0.6 and 1.1.x print, tolerant of known drift:
single flags as a string or a list, binary operations with more than two operands, objects
referenced by name strings, ``null``/``{}`` statements.

Decoding is generic over attrs fields; irregular nodes register a decoder in ``SPECIAL_EXPR`` /
``SPECIAL_STMT`` (keyed by JSON member name).
"""

from __future__ import annotations

import gc
import ipaddress
import json as _json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from .._node import Node, field_json_name
from ..errors import NftkitError, ParseError, ValidationError
from ..model.datatypes import Datatype, expr_datatype
from ..model.enums import SetFlag, TableFlag
from ..model.expressions import (
    BinopExpr,
    ConcatExpr,
    ElemExpr,
    Expr,
    Expression,
    ListExpr,
    PrefixExpr,
    RangeExpr,
    SetExpr,
    SetRefExpr,
    VerdictExpr,
    VerdictKind,
)
from ..model.objects import CtTimeout, Limit, NamedObject
from ..model.priority import Priority
from ..model.ruleset import Flowtable, Rule, Ruleset, Table
from ..model.sets import Map, Set
from ..model.statements import Statement, Stmt
from ..nft.symbols import BINOP_WORDS
from ..nft.units import BYTE_UNITS
from ._json_fast import ENABLED, FAST_STMTS, MISS, fast_expr, immediate_string, new_chain, new_rule

__all__ = ["SPECIAL_EXPR", "SPECIAL_STMT", "JsonDecoder", "flat_class", "from_json", "gc_paused",
           "immediate_string"]

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


@contextmanager
def gc_paused(*, long_lived: bool = False) -> Iterator[None]:
    """Run the block with the cyclic garbage collector off (restored afterwards).

    Decoding a large ruleset allocates hundreds of thousands of long-lived nodes and no
    cycles; every collection the allocations trigger walks all of them, which made the
    collector alone about 40 % of ``from_json`` on a 10,000-service ruleset. Reference
    counting still frees everything that is not cyclic; the collector runs as usual after.

    ``long_lived``: on success, what the block allocated joins the collector's oldest
    generation (``gc.freeze`` then ``gc.unfreeze``: two list splices) instead of staying in
    the youngest, whose first collection would walk all of it (about 0.1 s for the 420,000
    objects of 10,000 services); full collections still visit them. Skipped when the
    application uses ``gc.freeze`` itself, and after an error (whose traceback cycles should
    be collected young). The same as ``parse`` does (``nftkit.parse.nft``).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    except BaseException:
        if enabled:
            gc.enable()
        raise
    if not enabled:
        return
    if long_lived and gc.get_freeze_count() == 0:
        gc.freeze()
        gc.enable()
        gc.unfreeze()
    else:
        gc.enable()


#: A field as the decoder needs it: (attrs name, codec, name of the field whose datatype
#: hints this one or None, whether it takes the current hint (``value`` metadata)).
_Spec = tuple[str, Any, str | None, bool]


class _Plan:
    """What ``JsonDecoder.build`` needs of a node class, computed once per class (walking
    ``attrs.fields`` and their metadata for every decoded node was most of its time)."""

    __slots__ = ("flat", "names", "shape", "specs")

    def __init__(self, cls: type[Node]) -> None:
        fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(cls)  # type: ignore[arg-type]
        self.shape = cls.json_shape
        self.specs: tuple[_Spec, ...] = tuple(
            (f.name, f.metadata.get("codec"), f.metadata.get("hint"),
             bool(f.metadata.get("value"))) for f in fields)
        #: JSON member name -> spec, for object-shaped nodes
        self.names: dict[str, _Spec] = {
            field_json_name(f): spec for f, spec in zip(fields, self.specs, strict=True)}
        #: an object-shaped node whose members are all taken as they are (no codec): its
        #: result depends on nothing but its JSON members (not on the hint or the path)
        self.flat = self.shape == "object" and all(spec[1] is None for spec in self.specs)


_PLANS: dict[type[Node], _Plan] = {}
#: decoded flat expression nodes by (class, JSON members) (see JsonDecoder._expr)
_FLAT_NODES: dict[tuple[type[Node], tuple[tuple[str, Any], ...]], Any] = {}


def flat_class(key: str) -> type[Node] | None:
    """The expression class of JSON key ``key`` when it is flat (``_Plan.flat``: decoded
    from its members alone, so its nodes can be shared), else None."""
    if key in SPECIAL_EXPR:
        return None
    cls = Expression.registry.get(key)
    if cls is None:
        return None
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(cls)
    return cls if plan.flat else None


_MISSING = re.compile(r"(\w+)\.__init__\(\) missing \d+ required (?:keyword-only |positional )?"
                      r"arguments?: (.+)")
_UNEXPECTED = re.compile(r"(\w+)\.__init__\(\) got an unexpected keyword argument (.+)")
_SIGNATURE = re.compile(r"(\w+)\.__init__\(\)")


def plain_message(message: str) -> str:
    """``message`` without Python signatures: ``PrefixExpr.__init__() missing 1 required
    keyword-only argument: 'addr'`` -> ``PrefixExpr needs member 'addr'``."""
    if "__init__()" not in message:
        return message
    if m := _MISSING.search(message):
        names = m[2].replace("_", "-")
        return f"{message[:m.start()]}{m[1]} needs member {names}"
    if m := _UNEXPECTED.search(message):
        return f"{message[:m.start()]}{m[1]} has no member {m[2].replace('_', '-')}"
    return _SIGNATURE.sub(r"\1", message)


class JsonDecoder:
    """Decodes JSON into model nodes. ``path`` tracks where we are, for error messages."""

    def __init__(self) -> None:
        self.path: list[str] = []
        #: The datatype the expression being decoded should have (from the other side of a
        #: match, a map's key, ...): it decides whether a string is an address.
        self.hint: Datatype | None = None

    def error(self, message: str) -> ParseError:
        where = "/".join(self.path) or "<document>"
        return ParseError(f"{where}: {plain_message(message)}", filename="<json>")

    # --- expressions ---------------------------------------------------------------------

    def expr(self, j: JSON, hint: Datatype | None = None) -> Expr:
        """One expression: an object ``{key: body}``, a list (flag list) or an immediate.
        ``hint`` is the datatype it should have, when the context knows it."""
        t = type(j)
        if t is str:  # immediates need no hint bookkeeping (the hottest cases)
            return self._string(j, hint)
        if t is int or t is bool:
            return j  # type: ignore[no-any-return]
        outer, self.hint = self.hint, hint
        try:
            return self._expr(j)
        finally:
            self.hint = outer

    def _expr(self, j: JSON) -> Expr:
        # the common JSON shapes first (objects, then strings and numbers)
        if isinstance(j, dict):
            if len(j) == 1:
                ((key, body),) = j.items()
                fn = SPECIAL_EXPR.get(key)
                if fn is not None:
                    return fn(self, body)
                cls = Expression.registry.get(key)
                if cls is not None:
                    if type(body) is dict:
                        # ``{"payload": {"protocol": "ip", "field": "daddr"}}``, ``{"meta":
                        # {"key": "l4proto"}}``, ... recur all over a ruleset: a node of a
                        # flat class made of the same str/int members is decoded (and
                        # validated) once and shared (nodes are frozen)
                        # (exact str/int only, checked before the lookup: 1.0 and True
                        # are equal to 1 as keys, and lists are not hashable)
                        items = tuple(body.items())
                        for _, v in items:
                            if type(v) is not str and type(v) is not int:
                                break
                        else:
                            cached = _FLAT_NODES.get((cls, items))
                            if cached is not None:
                                return cached  # type: ignore[no-any-return]
                            node: Expr = self.build(cls, body)
                            if _PLANS[cls].flat:
                                if len(_FLAT_NODES) >= 4096:
                                    _FLAT_NODES.clear()
                                _FLAT_NODES[(cls, items)] = node
                            return node
                    node = self.build(cls, body)
                    return node
                raise self.error(f"unknown expression {key!r}")
            raise self.error(f"not an expression: {j!r}")
        if isinstance(j, str):
            return self.string(j)
        if isinstance(j, Node | ipaddress.IPv4Address | ipaddress.IPv6Address):
            return j  # type: ignore[return-value]  # already decoded (text parser templates)
        if isinstance(j, bool | int):
            return j
        if isinstance(j, list):
            hint = self.hint
            values: tuple[Expr, ...] = tuple(self.expr(v, hint) for v in j)
            return ListExpr(values=values)
        raise self.error(f"not an expression: {j!r}")

    def string(self, s: str) -> Expr:
        """A string immediate: ``@name`` is a set reference, addresses become ipaddress.

        With a datatype hint only address types are tried as addresses (an interface named
        ``"10.0.0.1"`` stays a string); without one, anything shaped like an address is.
        """
        return self._string(s, self.hint)

    def _string(self, s: str, hint: Datatype | None) -> Expr:
        if s.startswith("@"):
            return SetRefExpr(name=s[1:])
        return immediate_string(
            s, hint is not None and hint.kind != "addr" and hint.name != "integer")

    def build(self, cls: type[Node], body: JSON) -> Any:
        """Generic decode of ``cls`` from its JSON body, by its shape and field metadata."""
        plan = _PLANS.get(cls)
        if plan is None:
            plan = _PLANS[cls] = _Plan(cls)
        kwargs: dict[str, Any] = {}
        shape = plan.shape
        if shape == "object":
            if body is None:
                body = {}
            if not isinstance(body, dict):
                raise self.error(f"{cls.json_key}: expected an object, got {body!r}")
            names = plan.names
            if not names.keys() >= body.keys():
                unknown = [k for k in body if k not in names]
                raise self.error(f"{cls.json_key}: unknown member {unknown[0]!r}")
            # fields hinted by another field (``"hint": "left"``) are decoded after it
            hinted = None
            for k, v in body.items():
                spec = names[k]
                if spec[2] is not None:
                    hinted = (hinted or []) + [(spec, v)]
                    continue
                kwargs[spec[0]] = self._field(spec[1], v, self.hint if spec[3] else None)
            if hinted is not None:
                for spec, v in hinted:
                    source = spec[2]
                    hint = expr_datatype(kwargs[source]) if source in kwargs else None
                    kwargs[spec[0]] = self._field(spec[1], v, hint)
        elif shape == "null":
            pass
        elif shape == "list":
            specs = plan.specs
            if len(specs) == 1:
                kwargs[specs[0][0]] = self._field(specs[0][1], body, self.hint)
            else:
                if not isinstance(body, list) or len(body) != len(specs):
                    raise self.error(f"{cls.json_key}: expected a list of {len(specs)}")
                for spec, v in zip(specs, body, strict=True):
                    kwargs[spec[0]] = self._field(spec[1], v, self.hint)
        else:  # "value"
            kwargs[plan.specs[0][0]] = self._field(plan.specs[0][1], body, None)
        try:
            return cls(**kwargs)
        except (ValidationError, TypeError, ValueError) as exc:
            raise self.error(f"{cls.json_key}: {exc}") from None

    def _hint(self, f: attrs.Attribute[Any], kwargs: dict[str, Any]) -> Datatype | None:
        """The datatype hint for field ``f``: from its ``hint`` metadata (the name of the
        field whose datatype it shares), else the current hint for value-carrying fields."""
        source = f.metadata.get("hint")
        if source is not None:
            return expr_datatype(kwargs[source]) if source in kwargs else None
        return self.hint if f.metadata.get("value") else None

    def field(self, f: attrs.Attribute[Any], v: JSON, hint: Datatype | None = None) -> Any:
        return self._field(f.metadata.get("codec"), v, hint)

    def _field(self, codec: object, v: JSON, hint: Datatype | None) -> Any:
        if codec is None:
            return v
        if codec == "expr":
            return self.expr(v, hint)
        if codec == "exprs":
            return tuple(self.expr(x, hint) for x in (v if isinstance(v, list) else [v]))
        if codec == "stmt":
            return self.stmt(v)
        if codec == "stmts":
            return tuple(self.stmt(x) for x in (v if isinstance(v, list) else [v]))
        return v

    # --- statements ----------------------------------------------------------------------

    def stmt(self, j: JSON) -> Stmt:
        if type(j) is dict and len(j) == 1:  # the JSON form: checked first, it is the common one
            ((key, body),) = j.items()
            return self._stmt(key, body)
        if isinstance(j, Node):  # already a model node (the text parser's bound chains)
            return j  # type: ignore[return-value]
        if isinstance(j, str):
            # nft prints statements it has no JSON form for as their text (1.0.6: map
            # statements; every version: bound chains "jump { ... }"): read it as text.
            from .nft import parse_statements  # late: nftkit.parse.nft imports this module

            try:
                stmts = parse_statements(j)
            except ParseError as exc:
                raise self.error(f"statement printed as nft text: {exc}") from None
            if len(stmts) != 1:
                raise self.error(f"statement printed as nft text is not one statement: {j!r}")
            return stmts[0]
        if not isinstance(j, dict) or len(j) != 1:
            raise self.error(f"not a statement: {j!r}")
        ((key, body),) = j.items()
        return self._stmt(key, body)

    def _stmt(self, key: str, body: JSON) -> Stmt:
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


def _verdict_decoder(kind: VerdictKind) -> ExprDecoder:
    def decode(dec: JsonDecoder, body: JSON) -> Expr:
        target = body.get("target") if isinstance(body, dict) else None
        return VerdictExpr(kind=kind, target=target)

    return decode


for _kind in VerdictKind:
    SPECIAL_EXPR[_kind.value] = _verdict_decoder(_kind)


def _binop(op: str) -> ExprDecoder:
    def decode(dec: JsonDecoder, body: JSON) -> Expr:
        if not isinstance(body, list) or len(body) < 2:
            raise dec.error(f"{op}: expected a list of at least two operands")
        result: Expr = dec.expr(body[0])
        for operand in body[1:]:  # nft 1.1 flattens chains: {"|": [a, b, c]}
            result = BinopExpr(op=op, left=result, right=dec.expr(operand))
        return result

    return decode


for _op in BINOP_WORDS.values():
    SPECIAL_EXPR[_op] = _binop(_op)


@special_expr("set")
def _set_expr(dec: JsonDecoder, body: JSON) -> Expr:
    """``{"set": [...]}``: a two-item list element is a map pair ``[key, data]``."""
    items = body if isinstance(body, list) else [body]
    hint = dec.hint
    elements: list[Any] = []
    for item in items:
        if isinstance(item, list) and len(item) == 2:
            elements.append((dec.expr(item[0], hint), dec.expr(item[1])))
        else:
            elements.append(dec.expr(item, hint))
    return SetExpr(elements=tuple(elements))


@special_expr("concat")
def _concat_expr(dec: JsonDecoder, body: JSON) -> Expr:
    """``{"concat": [...]}``: each part gets its own part of a concatenated datatype hint."""
    if not isinstance(body, list) or len(body) < 2:
        raise dec.error(f"concat: expected a list of at least two, got {body!r}")
    hint = dec.hint
    parts: tuple[Datatype | None, ...] = (None,) * len(body)
    if hint is not None and hint.kind == "concat" and len(hint.parts) == len(body):
        parts = hint.parts
    exprs: tuple[Expr, ...] = tuple(dec.expr(x, h) for x, h in zip(body, parts, strict=True))
    return ConcatExpr(exprs=exprs)


# --- containers ----------------------------------------------------------------------------

#: The members each top-level object may have (anything else is an error, with its path).
_COMMON = frozenset({"family", "table", "name", "handle", "comment"})
_MEMBERS: dict[str, frozenset[str]] = {
    "table": frozenset({"family", "name", "handle", "flags", "comment"}),
    "chain": _COMMON | {"type", "hook", "prio", "policy", "dev", "flags"},
    "rule": frozenset({"family", "table", "chain", "handle", "index", "position", "expr",
                       "comment"}),
    "set": _COMMON | {"type", "policy", "flags", "elem", "timeout", "gc-interval", "size",
                      "stmt", "auto-merge"},
    "flowtable": _COMMON | {"hook", "prio", "dev", "flags", "counter"},
}
_MEMBERS["map"] = _MEMBERS["set"] | {"map"}


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


def _seconds(value: JSON) -> int:
    """A JSON time in seconds as milliseconds."""
    return int(value) * 1000


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


@special_expr("elem")
def decode_elem(dec: JsonDecoder, body: JSON) -> Expr:
    """``{"elem": {"val": ..., "timeout": s, "expires": s, "comment": ..., "counter": {...}}}``:
    every member besides the four known ones is an element statement."""
    if not isinstance(body, dict) or "val" not in body:
        raise dec.error(f"elem: expected an object with 'val', got {body!r}")
    kwargs: dict[str, Any] = {"val": dec.expr(body["val"], dec.hint)}
    stmts = []
    for k, v in body.items():
        if k in ("timeout", "expires"):
            kwargs[k] = _seconds(v)
        elif k == "comment":
            kwargs[k] = v
        elif k != "val":
            stmts.append(dec.stmt({k: v}))
    kwargs["stmts"] = tuple(stmts)
    try:
        return ElemExpr(**kwargs)
    except (ValidationError, TypeError, ValueError) as exc:
        raise dec.error(f"elem: {exc}") from None


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
        kwargs["timeout"] = _seconds(body["timeout"])
    if "gc-interval" in body:
        kwargs["gc_interval"] = _seconds(body["gc-interval"])
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


# Statement decoders live in their own module; importing it registers them in SPECIAL_STMT.
from . import _json_statements  # noqa: E402, F401
