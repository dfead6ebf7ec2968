"""Fast paths of the JSON reader for the shapes that make up most of a large ruleset.

A kube-proxy-style ruleset is tens of thousands of rules made of a handful of shapes::

    ip daddr 10.96.0.1 ip saddr != 10.128.0.0/10 jump mark-for-masquerade
    [{"match": {"left": {"payload": {"protocol": "ip", "field": "daddr"}}, "op": "==",
                "right": "10.96.0.1"}},
     {"match": {"left": {"payload": {"protocol": "ip", "field": "saddr"}}, "op": "!=",
                "right": {"prefix": {"addr": "10.128.0.0", "len": 10}}}},
     {"jump": {"target": "mark-for-masquerade"}}]

    numgen random mod 2 vmap { 0 : goto ep-0-0, 1 : goto ep-0-1 }
    [{"vmap": {"key": {"numgen": {"mode": "random", "mod": 2, "offset": 0}},
               "data": {"set": [[0, {"goto": {"target": "ep-0-0"}}], ...]}}}]

    meta l4proto tcp dnat to 10.128.0.1:8080
    [..., {"dnat": {"addr": "10.128.0.1", "port": 8080}}]

and map elements such as ``[{"concat": ["10.96.0.1", "tcp", 80]}, {"goto": {"target":
"svc-0"}}]``. ``fast_expr`` and ``fast_stmt`` recognise exactly these shapes (exact JSON types,
exact member sets) and build the same nodes as the generic decoder in ``nftkit.parse.json``
with fewer steps: flat selectors (``payload``, ``meta``, ``ct``, ``numgen``, ...) and verdicts
are decoded once and shared (nodes are frozen), and the hottest nodes are constructed without
re-running validators that cannot fail for the values the shape proves.

They never raise and never half-decode: for anything they do not recognise, or that could fail
or need a datatype decision they do not make, they return ``MISS`` and the caller runs the
generic decoder on the same JSON, so every error (message and path) is the generic one. The
shapes they accept hold no set statement or meter, so a rule's statements that they decode need
no walk for sets written from the packet path (see ``nftkit.parse.json._dynset_targets``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Final, TypeVar

import attrs

from ..errors import NftkitError, ValidationError
from ..model._validate import IDENTIFIER
from ..model.datatypes import Datatype, expr_datatype
from ..model.expressions import (
    ConcatExpr,
    Expr,
    PrefixExpr,
    RangeExpr,
    SetExpr,
    SetRefExpr,
    VerdictExpr,
    VerdictKind,
    verdict_key,
)
from ..model.ruleset import Chain, Rule
from ..model.statements import (
    CounterStmt,
    MatchOp,
    MatchStmt,
    NatStmt,
    NatType,
    Stmt,
    VerdictMapStmt,
    check_vmap_data,
)
from ..nft.families import ADDRESS_FAMILIES
from ._json_decoder import JsonDecoder, flat_class, immediate_string

__all__ = ["ENABLED", "FAST_STMTS", "MISS", "fast_expr", "fast_stmt", "immediate_string",
           "new_chain", "new_rule"]

JSON = Any


class _Miss:
    """The fast path does not take this JSON: run the generic decoder."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISS"


MISS: Final = _Miss()

_new = object.__new__
_set = object.__setattr__


def _layout(cls: type, names: tuple[str, ...], *, plain: tuple[str, ...] = ()) -> bool:
    """Whether ``cls`` still has exactly the fields the constructors below set (and the
    ``plain`` ones have no converter or validator), so building it field by field gives the
    node its ``__init__`` would. A model change turns the fast path off instead of building
    wrong nodes (tests/test_json_fast.py checks that it is on)."""
    fields = attrs.fields(cls)
    if tuple(f.name for f in fields) != names:
        return False
    by_name = {f.name: f for f in fields}
    return all(by_name[n].converter is None and by_name[n].validator is None for n in plain)


#: False when the model no longer has the layout the fast constructors assume.
ENABLED: Final = (
    _layout(MatchStmt, ("left", "op", "right"), plain=("left", "right"))
    and _layout(VerdictMapStmt, ("key", "data"), plain=("key", "data"))
    and VerdictMapStmt.__dict__.get("__attrs_post_init__") is check_vmap_data  # see _vmap
    and _layout(VerdictExpr, ("kind", "target"), plain=("target",))
    and _layout(ConcatExpr, ("exprs",))
    and _layout(SetExpr, ("elements",))
    and "__attrs_post_init__" not in SetExpr.__dict__
    and _layout(RangeExpr, ("low", "high"), plain=("low", "high"))
    and "__attrs_post_init__" not in RangeExpr.__dict__
    and _layout(NatStmt, ("type", "family", "addr", "port", "flags", "type_flags"),
                plain=("addr", "port"))
    and _layout(CounterStmt, ("packets", "bytes"))
    and "__attrs_post_init__" not in CounterStmt.__dict__
    and _layout(Rule, ("stmts", "comment", "handle"), plain=("handle",))
    and "__attrs_post_init__" not in Rule.__dict__
    and _layout(Chain, ("name", "type", "hook", "priority", "policy", "devices", "comment",
                        "rules", "handle"), plain=("handle",))
)


# --- immediates ----------------------------------------------------------------------------

def _keeps_strings(hint: Datatype | None) -> bool:
    """Whether a string of this datatype stays a string (see ``JsonDecoder._string``)."""
    return hint is not None and hint.kind != "addr" and hint.name != "integer"


#: ``"@name"`` -> its SetRefExpr (validated once; failures are never cached)
_SETREFS: dict[str, SetRefExpr] = {}


_K = TypeVar("_K")
_V = TypeVar("_V")


def _remember(cache: dict[_K, _V], key: _K, build: Callable[[], _V]) -> _V | _Miss:
    """``build()`` kept in ``cache`` (bounded); MISS when the model refuses it (the generic
    decoder then raises its own error for it)."""
    try:
        found = build()
    except ValidationError:
        return MISS
    if len(cache) >= 4096:
        cache.clear()
    cache[key] = found
    return found


def _setref(s: str) -> Expr | _Miss:
    found = _SETREFS.get(s)
    if found is not None:
        return found
    return _remember(_SETREFS, s, lambda: SetRefExpr(name=s[1:]))


# --- expressions ---------------------------------------------------------------------------

#: (JSON key, members) of a flat selector -> (node, its datatype, whether strings matched
#: against it stay strings); see ``_leaf``
_LEAVES: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[Expr, Datatype | None, bool]] = {}
#: (kind, target) -> VerdictExpr
_VERDICTS: dict[tuple[str, str | None], VerdictExpr] = {}
#: (address string, length, whether strings stay strings) -> PrefixExpr
_PREFIXES: dict[tuple[str, int, bool], PrefixExpr] = {}

_VERDICT_KINDS: Final = {k.value: k for k in VerdictKind}
_TARGETED: Final = frozenset({VerdictKind.JUMP, VerdictKind.GOTO})


def _leaf(key: str, body: JSON) -> tuple[Expr, Datatype | None, bool] | _Miss:
    """A flat selector (``{"payload": {"protocol": "ip", "field": "daddr"}}``) and its datatype.

    Only the classes the generic decoder itself shares (``_Plan.flat``: every member taken
    as it is) with exact str/int members; decoded by ``JsonDecoder.build`` the first time."""
    if type(body) is not dict:
        return MISS
    items = tuple(body.items())
    # exact str/int only, checked before the lookup: 1.0 and True are equal to 1 as keys
    for _, v in items:
        if type(v) is not str and type(v) is not int:
            return MISS
    found = _LEAVES.get((key, items))
    if found is not None:
        return found
    cls = flat_class(key)
    if cls is None:
        return MISS
    try:
        node: Expr = JsonDecoder().build(cls, body)
    except NftkitError:  # the generic decoder raises its own error for it
        return MISS
    hint = expr_datatype(node)
    found = (node, hint, _keeps_strings(hint))
    if len(_LEAVES) >= 4096:
        _LEAVES.clear()
    _LEAVES[(key, items)] = found
    return found


def _verdict(key: str, body: JSON) -> Expr | _Miss:
    """``{"accept": null}``, ``{"jump": {"target": "x"}}``."""
    if body is None:
        target = None
    elif type(body) is dict and len(body) <= 1:
        target = body.get("target")
        if len(body) == 1 and type(target) is not str:
            return MISS
    else:
        return MISS
    found = _VERDICTS.get((key, target))
    if found is None:
        kind = _VERDICT_KINDS[key]
        if (kind in _TARGETED) != (target is not None):
            return MISS  # the generic decoder raises the ValidationError
        # what VerdictExpr.__attrs_post_init__ checks: the line above, and the target's name
        if target is not None and not IDENTIFIER.match(target):
            return MISS  # the generic decoder raises the ValidationError
        found = _new(VerdictExpr)
        _set(found, "kind", kind)
        _set(found, "target", target)
        if len(_VERDICTS) >= 4096:
            _VERDICTS.clear()
        _VERDICTS[(key, target)] = found
    return found


def _prefix(body: JSON, hint: Datatype | None) -> Expr | _Miss:
    """``{"prefix": {"addr": "10.0.0.0", "len": 8}}``: the address by the hint."""
    if type(body) is not dict or len(body) != 2:
        return MISS
    addr = body.get("addr")
    length = body.get("len")
    if type(addr) is not str or type(length) is not int or length < 0 or addr[:1] == "@":
        return MISS
    keep = _keeps_strings(hint)
    key = (addr, length, keep)
    found = _PREFIXES.get(key)
    if found is not None:
        return found
    # (a length longer than the address is the model's to refuse)
    return _remember(_PREFIXES, key,
                     lambda: PrefixExpr(addr=immediate_string(addr, keep), len=length))


def _concat(body: JSON, hint: Datatype | None) -> Expr | _Miss:
    """``{"concat": [a, b, ...]}``: each part with its part of a concatenated hint."""
    if type(body) is not list or len(body) < 2:
        return MISS
    if hint is not None and hint.kind == "concat" and len(hint.parts) == len(body):
        parts: tuple[Datatype | None, ...] = hint.parts
    else:
        parts = (None,) * len(body)
    exprs = []
    for x, h in zip(body, parts, strict=True):
        e = fast_expr(x, h)
        if e is MISS:
            return MISS
        exprs.append(e)
    node = _new(ConcatExpr)
    _set(node, "exprs", tuple(exprs))  # at least two: what its __attrs_post_init__ checks
    return node


def _set_expr(body: JSON, hint: Datatype | None) -> Expr | _Miss:
    """``{"set": [1, 2]}``, ``{"set": [[0, {"goto": ...}], ...]}`` (map pairs)."""
    if type(body) is not list:
        return MISS
    elements: list[Any] = []
    for item in body:
        if type(item) is list:
            if len(item) != 2:
                return MISS
            pair = _pair(item, hint, None)
            if pair is MISS:
                return MISS
            elements.append(pair)
        else:
            e = fast_expr(item, hint)
            if e is MISS:
                return MISS
            elements.append(e)
    node = _new(SetExpr)
    _set(node, "elements", tuple(elements))
    return node


def _range(body: JSON, hint: Datatype | None) -> Expr | _Miss:
    """``{"range": [1024, 65535]}``."""
    if type(body) is not list or len(body) != 2:
        return MISS
    pair = _pair(body, hint, hint)
    if isinstance(pair, _Miss):
        return MISS
    node = _new(RangeExpr)
    _set(node, "low", pair[0])
    _set(node, "high", pair[1])
    return node


def _pair(items: list[JSON], first: Datatype | None, second: Datatype | None
          ) -> tuple[Expr, Expr] | _Miss:
    """Two JSON values (a map element's key and data, a range's ends), by their hints."""
    a = fast_expr(items[0], first)
    if isinstance(a, _Miss):
        return MISS
    b = fast_expr(items[1], second)
    if isinstance(b, _Miss):
        return MISS
    return (a, b)


_SHAPED: Final = {"prefix": _prefix, "concat": _concat, "set": _set_expr, "range": _range}


def fast_expr(j: JSON, hint: Datatype | None) -> Expr | _Miss:
    """``j`` decoded as ``JsonDecoder().expr(j, hint)`` would, or MISS."""
    t = type(j)
    if t is str:
        if j[:1] == "@":
            return _setref(j)
        return immediate_string(j, hint is not None and hint.kind != "addr"
                                and hint.name != "integer")
    if t is int or t is bool:
        return j  # type: ignore[no-any-return]
    if t is not dict or len(j) != 1:
        return MISS
    ((key, body),) = j.items()
    shaped = _SHAPED.get(key)
    if shaped is not None:
        return shaped(body, hint)
    if key in _VERDICT_KINDS:
        return _verdict(key, body)
    leaf = _leaf(key, body)
    return MISS if leaf is MISS else leaf[0]  # type: ignore[index]


# --- statements ----------------------------------------------------------------------------

_MATCH_OPS: Final = {op.value: op for op in MatchOp}
_MATCH_KEYS: Final = frozenset({"left", "op", "right"})


def _match(body: JSON) -> Stmt | _Miss:
    """``{"match": {"left": ..., "op": "==", "right": ...}}``: the right side by the left's
    datatype."""
    if type(body) is not dict or body.keys() != _MATCH_KEYS:
        return MISS
    op = body["op"]
    if type(op) is not str:
        return MISS
    match_op = _MATCH_OPS.get(op)
    if match_op is None:
        return MISS
    left_json = body["left"]
    left: Expr | _Miss
    hint: Datatype | None
    if type(left_json) is dict and len(left_json) == 1:
        ((key, lbody),) = left_json.items()
        if key in _SHAPED or key in _VERDICT_KINDS:
            left = fast_expr(left_json, None)
            if left is MISS:
                return MISS
            hint = expr_datatype(left)  # type: ignore[arg-type]
            keep = _keeps_strings(hint)
        else:
            leaf = _leaf(key, lbody)  # the common case: a cached selector and its datatype
            if leaf is MISS:
                return MISS
            left, hint, keep = leaf  # type: ignore[misc]
    else:
        left = fast_expr(left_json, None)
        if left is MISS:
            return MISS
        hint = expr_datatype(left)  # type: ignore[arg-type]
        keep = _keeps_strings(hint)
    right = body["right"]
    t = type(right)
    if t is str and right[:1] != "@":  # (the common immediates inline)
        right = immediate_string(right, keep)
    elif t is not int:
        right = fast_expr(right, hint)
        if right is MISS:
            return MISS
    # MatchStmt.__attrs_post_init__ refuses a lone "*" for string datatypes and a NUL byte:
    # left to it. (Only a str equals "*": the other values fast_expr gives never do, and
    # comparing an ipaddress object with a str costs it an exception.)
    if (right == "*" or "\x00" in right if type(right) is str
            else type(right) is SetExpr and ("*" in right.elements or any(
                type(e) is str and "\x00" in e for e in right.elements))):
        return MISS
    node = _new(MatchStmt)
    _set(node, "left", left)
    _set(node, "op", match_op)
    _set(node, "right", right)
    return node


_VMAP_KEYS: Final = frozenset({"key", "data"})


def _vmap(body: JSON) -> Stmt | _Miss:
    """``{"vmap": {"key": ..., "data": "@map" | {"set": [...]}}}`` (no hint for the data, as
    in the generic decoder)."""
    if type(body) is not dict or body.keys() != _VMAP_KEYS:
        return MISS
    key = fast_expr(body["key"], None)
    if key is MISS:
        return MISS
    data = fast_expr(body["data"], None)
    if not isinstance(data, (SetExpr, SetRefExpr)) or (  # check_vmap_data: the decoder
            isinstance(data, SetExpr) and any(verdict_key(e) for e in data.elements)):  # refuses
        return MISS
    node = _new(VerdictMapStmt)
    _set(node, "key", key)
    _set(node, "data", data)
    return node


_NAT_MEMBERS: Final = frozenset({"addr", "port", "family"})
_NAT_FAMILIES: Final = ADDRESS_FAMILIES


def _nat(kind: NatType) -> Any:
    takes_addr = kind in (NatType.SNAT, NatType.DNAT)

    def decode(body: JSON) -> Stmt | _Miss:
        """``{"dnat": {"addr": "10.0.0.1", "port": 8080}}``, ``{"masquerade": null}``."""
        if body is None:
            body = {}
        elif type(body) is not dict or not body.keys() <= _NAT_MEMBERS:
            return MISS
        family = body.get("family")
        if family is not None and (type(family) is not str or family not in _NAT_FAMILIES):
            return MISS
        addr = port = None
        if "addr" in body:  # (present as null is an error: the generic decoder's)
            if not takes_addr:
                return MISS
            addr = fast_expr(body["addr"], None)
            if addr is MISS or addr is None:
                return MISS
        if "port" in body:
            port = fast_expr(body["port"], None)
            if port is MISS or port is None:
                return MISS
        if takes_addr and addr is None and port is None:
            return MISS
        node = _new(NatStmt)
        _set(node, "type", kind)
        _set(node, "family", family)
        _set(node, "addr", addr)
        _set(node, "port", port)
        _set(node, "flags", frozenset())
        _set(node, "type_flags", frozenset())
        return node

    return decode


_COUNTER_KEYS: Final = frozenset({"packets", "bytes"})


def _counter(body: JSON) -> Stmt | _Miss:
    """``{"counter": {"packets": 0, "bytes": 0}}``, ``{"counter": null}``."""
    if body is None:
        packets = nbytes = 0
    elif type(body) is dict and body.keys() == _COUNTER_KEYS:
        packets = body["packets"]
        nbytes = body["bytes"]
        if type(packets) is not int or type(nbytes) is not int or packets < 0 or nbytes < 0:
            return MISS
    else:
        return MISS
    node = _new(CounterStmt)
    _set(node, "packets", packets)
    _set(node, "bytes", nbytes)
    return node


#: Statement JSON key -> fast decoder of its body (``fn(body) -> Stmt | MISS``); empty when
#: the fast path is off
FAST_STMTS: dict[str, Any] = {}
if ENABLED:
    FAST_STMTS.update({"match": _match, "vmap": _vmap, "counter": _counter})
    FAST_STMTS.update({k.value: _nat(k) for k in NatType})
    FAST_STMTS.update({k: partial(_verdict, k) for k in _VERDICT_KINDS})


def fast_stmt(j: JSON) -> Stmt | _Miss:
    """The statement ``j`` as ``JsonDecoder().stmt(j)`` would decode it, or MISS."""
    if type(j) is not dict or len(j) != 1:
        return MISS
    ((key, body),) = j.items()
    fn = FAST_STMTS.get(key)
    if fn is None:
        return MISS
    result: Stmt | _Miss = fn(body)
    return result


# --- containers ----------------------------------------------------------------------------

def new_rule(stmts: list[Stmt], comment: JSON, handle: JSON) -> Rule:
    """``Rule(stmts=stmts, comment=comment, handle=handle)``; without a comment there is
    nothing to validate (``stmts`` only goes through ``tuple``)."""
    if comment is not None or not ENABLED:
        return Rule(stmts=stmts, comment=comment, handle=handle)
    node = _new(Rule)
    _set(node, "stmts", tuple(stmts))
    _set(node, "comment", None)
    _set(node, "handle", handle)
    return node


_CHAIN_NAME: Final = attrs.fields(Chain).name
_REGULAR_CHAIN_SPEC: Final = frozenset({"name", "handle", "comment", "rules"})


def new_chain(spec: dict[str, Any]) -> Chain:
    """``Chain(**spec)`` for a chain spec of ``_Builder.add_chain``. A regular chain without
    a comment has only its name to validate (no hook, type, priority, policy or devices)."""
    if not ENABLED or spec.keys() != _REGULAR_CHAIN_SPEC \
            or spec["comment"] is not None or attrs.validators.get_disabled():
        return Chain(**spec)
    node = _new(Chain)
    _CHAIN_NAME.validator(node, _CHAIN_NAME, spec["name"])  # type: ignore[misc]
    _set(node, "name", spec["name"])
    for field in ("type", "hook", "priority", "policy", "comment"):
        _set(node, field, None)
    _set(node, "devices", ())
    _set(node, "rules", tuple(spec["rules"]))
    _set(node, "handle", spec["handle"])
    return node
