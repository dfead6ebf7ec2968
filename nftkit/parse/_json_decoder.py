"""The generic JSON decoder: libnftables JSON values -> model expressions and statements.

``JsonDecoder`` decodes a node generically over its attrs fields (``json_shape``, field
metadata); irregular nodes register a decoder in ``SPECIAL_EXPR`` / ``SPECIAL_STMT`` (keyed by
JSON member name): the expressions below (verdicts, binary operations, ``set``, ``concat``,
``elem``), the statements in ``_json_statements``. The containers (tables, chains, rules,
sets, objects) and ``from_json`` are ``nftkit.parse.json``.

nft prints some statements as their nft text inside its JSON (1.0.6: map statements; every
release: bound chains ``jump { ... }``). This module sits below the text parser, so the text
parser registers its reader here when it is imported (``set_text_reader``, called by
``nftkit.parse.nft``; ``nftkit.parse`` imports it).
"""

from __future__ import annotations

import gc
import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from .._node import Node, field_json_name
from ..errors import ParseError, ValidationError
from ..model.datatypes import Datatype, expr_datatype
from ..model.expressions import (
    BinopExpr,
    ConcatExpr,
    ElemExpr,
    Expr,
    Expression,
    ListExpr,
    SetExpr,
    SetRefExpr,
    VerdictExpr,
    VerdictKind,
)
from ..model.statements import Statement, Stmt
from ..nft.symbols import BINOP_WORDS

__all__ = ["JSON", "SPECIAL_EXPR", "SPECIAL_STMT", "JsonDecoder", "decode_elem", "flat_class",
           "gc_paused", "immediate_string", "ms_from_seconds", "plain_message", "set_text_reader",
           "special_expr", "special_stmt"]

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


#: Strings already tried as addresses (the same addresses recur all over a ruleset; the
#: objects are immutable, so sharing them is safe). Cleared when it grows too large.
_ADDRESSES: dict[str, Expr] = {}


def immediate_string(s: str, keep: bool) -> Expr:
    """A string immediate that is not a set reference: an ipaddress object when it is shaped
    like an address and ``keep`` is false (its datatype, when known, is an address or integer
    type), else the string itself."""
    if keep or not s or not (s[0].isdigit() or ":" in s) or s.startswith("0x"):
        return s
    found = _ADDRESSES.get(s)
    if found is None:
        try:
            found = ipaddress.ip_address(s)
        except ValueError:
            found = s
        if len(_ADDRESSES) >= 65536:
            _ADDRESSES.clear()
        _ADDRESSES[s] = found
    return found


#: Reads one rule's statements from nft text (``nftkit.parse.nft.parse_statements``, which
#: registers itself at import: see the module docstring).
_text_reader: list[Callable[[str], Sequence[Stmt]]] = []


def set_text_reader(read: Callable[[str], Sequence[Stmt]]) -> None:
    """Register the reader of statements nft printed as text inside its JSON."""
    _text_reader[:] = [read]


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
            if not _text_reader:
                raise self.error(f"statement printed as nft text, and no text parser: {j!r}")
            try:
                stmts = _text_reader[0](j)
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


def ms_from_seconds(value: JSON) -> int:
    """A JSON time in seconds as milliseconds."""
    return int(value) * 1000


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
            kwargs[k] = ms_from_seconds(v)
        elif k == "comment":
            kwargs[k] = v
        elif k != "val":
            stmts.append(dec.stmt({k: v}))
    kwargs["stmts"] = tuple(stmts)
    try:
        return ElemExpr(**kwargs)
    except (ValidationError, TypeError, ValueError) as exc:
        raise dec.error(f"elem: {exc}") from None
