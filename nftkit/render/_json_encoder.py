"""The generic JSON encoder: ``{json_key: {field: value, ...}}`` from a node's attrs fields and
``json_shape``, with a registry (``SPECIAL``) for the irregular nodes' own encoders.

``render.json`` (expressions, containers, objects, ``to_json``) and ``render._json_statements``
(statements) register into it; it imports neither.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from socket import inet_ntoa
from typing import Any

import attrs

from .._node import Node, field_json_name
from ..model.datatypes import format_addr
from .context import RenderContext

__all__ = ["JSON", "SPECIAL", "Encoder", "JsonEncoder", "special"]

JSON = Any
Encoder = Callable[["JsonEncoder", Any], JSON]

#: Per-class encoders for irregular nodes: ``SPECIAL[VerdictExpr] = fn(encoder, node)``.
SPECIAL: dict[type[Node], Encoder] = {}


def special(*classes: type[Node]) -> Callable[[Encoder], Encoder]:
    def register(fn: Encoder) -> Encoder:
        for cls in classes:
            SPECIAL[cls] = fn
            _NODE_ENCODERS.pop(cls, None)
            _VALUE_ENCODERS.pop(cls, None)
        return fn

    return register


class JsonEncoder:
    """Encodes model nodes in a ``RenderContext``."""

    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx

    def value(self, value: Any) -> JSON:
        """Any field value: a node, tuple, enum, flag set, address or primitive."""
        if type(value) in _PLAIN:  # the common case, exact types only (a StrEnum is a str)
            return value
        fn = _VALUE_ENCODERS.get(type(value)) or _value_encoder(type(value))
        return fn(self, value)

    def flags(self, value: frozenset[Any], *, bare_single: bool = False) -> JSON:
        """A flag set in declaration order: a list, or a bare string for a single flag
        where the caller says the target release writes it so (``bare_single``)."""
        members = sorted(value, key=_enum_order)
        out = [m.value if isinstance(m, StrEnum) else m for m in members]
        if bare_single and len(out) == 1:
            return out[0]
        return out

    def fields(self, node: Node, skip: tuple[str, ...] = ()) -> dict[str, JSON]:
        """The node's fields as JSON members; None, empty and False values are left out."""
        out: dict[str, JSON] = {}
        handles = self.ctx.handles
        for name, json_name, is_expr in _field_plan(type(node)):
            if skip and name in skip:
                continue
            v = getattr(node, name)
            # an expression may be the value false (``rt ipsec missing``): keep it
            if v is None or (v is False and not is_expr) or (
                    name == "handle" and not handles):
                continue
            if type(v) in _PLAIN:  # most members: encode in place, without a call
                out[json_name] = v
            elif not (isinstance(v, (tuple, frozenset)) and not v):
                out[json_name] = self.value(v)
        return out

    def node(self, node: Node) -> JSON:
        cls = type(node)
        fn = _NODE_ENCODERS.get(cls) or _node_encoder(cls)
        return fn(self, node)


#: Immediate types that encode as themselves (checked by exact type, before anything else).
_PLAIN: frozenset[type] = frozenset({int, str, bool, float, type(None)})
#: Per class: (attribute, JSON member, is an expression) for the fields JSON carries. Built
#: once per class: reading attrs metadata for every node was most of to_json's time.
_FIELD_PLANS: dict[type, tuple[tuple[str, str, bool], ...]] = {}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """All attrs field names of ``cls``, in order (cached)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in attrs.fields(cls))
    return names


def _field_plan(cls: type) -> tuple[tuple[str, str, bool], ...]:
    plan = _FIELD_PLANS.get(cls)
    if plan is None:
        plan = tuple((f.name, field_json_name(f), f.metadata.get("codec") == "expr")
                     for f in attrs.fields(cls)
                     if f.metadata.get("json") is not False)
        _FIELD_PLANS[cls] = plan
    return plan


# --- per-class encoders, built once ----------------------------------------------------------
#
# ``value`` and ``node`` dispatch on the exact type through these tables instead of a chain of
# isinstance tests, and each generic node class gets an encoder of its own: for the "object"
# shape a function generated from the class's field plan, so that encoding a node is one call
# with the members written out, not a walk over the fields. The output is what ``fields``
# gives: None, False (unless an expression), empty tuples and flag sets, and ``handle``
# (unless ``ctx.handles``) are left out.

#: Node class -> encoder (SPECIAL or generated); filled on first use of each class.
_NODE_ENCODERS: dict[type, Encoder] = {}
#: Value type -> encoder, for what is not a plain immediate; filled on first use.
_VALUE_ENCODERS: dict[type, Encoder] = {}


def _node_encoder(cls: type[Node]) -> Encoder:
    fn = SPECIAL.get(cls)
    if fn is None:
        fn = _generic_encoder(cls)
    _NODE_ENCODERS[cls] = fn
    return fn


def _generic_encoder(cls: type[Node]) -> Encoder:
    key = cls.json_key
    if cls.json_shape == "null":
        return lambda enc, node: {key: None}
    if cls.json_shape in ("list", "value"):
        names = _field_names(cls)
        if cls.json_shape == "value" or len(names) == 1:
            (name,) = names
            return lambda enc, node: {key: enc.value(getattr(node, name))}
        return lambda enc, node: {key: [enc.value(getattr(node, n)) for n in names]}
    lines = ["def encode(enc, node):", "    out = {}"]
    for i, (name, _, is_expr) in enumerate(_field_plan(cls)):
        indent = "    "
        if name == "handle":
            lines.append("    if enc.ctx.handles:")
            indent += "    "
        skip = "v is not None" if is_expr else "v is not None and v is not False"
        lines += [f"{indent}v = node.{name}",
                  f"{indent}if {skip}:",
                  f"{indent}    if type(v) in _PLAIN:",
                  f"{indent}        out[_M{i}] = v",
                  f"{indent}    elif not (isinstance(v, (tuple, frozenset)) and not v):",
                  # enc.value(v), its dispatch inlined
                  f"{indent}        out[_M{i}] = (_VALUE_ENCODERS.get(type(v))",
                  f"{indent}                      or _value_encoder(type(v)))(enc, v)"]
    lines.append("    return {_KEY: out}")
    scope: dict[str, Any] = {"_PLAIN": _PLAIN, "_KEY": key, "_VALUE_ENCODERS": _VALUE_ENCODERS,
                             "_value_encoder": _value_encoder}
    scope.update({f"_M{i}": json_name for i, (_, json_name, _) in enumerate(_field_plan(cls))})
    exec("\n".join(lines), scope)  # the source is built above from attrs field names only
    fn: Encoder = scope["encode"]
    return fn


def _value_encoder(t: type) -> Encoder:
    """The encoder for values of exact type ``t`` (the order of the tests is the old
    isinstance chain's: node, enum, tuple, flag set, address, anything else as itself)."""
    fn: Encoder
    if issubclass(t, Node):
        fn = _NODE_ENCODERS.get(t) or _node_encoder(t)
    elif issubclass(t, StrEnum):
        fn = _enum_value
    elif issubclass(t, tuple):
        fn = _tuple_value
    elif issubclass(t, frozenset):
        fn = JsonEncoder.flags
    elif t is IPv4Address:
        fn = _ipv4_value
    elif issubclass(t, (IPv4Address, IPv6Address)):
        fn = _addr_value
    else:
        fn = _self_value
    _VALUE_ENCODERS[t] = fn
    return fn


def _enum_value(enc: JsonEncoder, v: Any) -> JSON:
    return v._value_  # v.value without the enum property's cost


def _tuple_value(enc: JsonEncoder, v: tuple[Any, ...]) -> JSON:
    value = enc.value
    return [value(x) for x in v]


def _ipv4_value(enc: JsonEncoder, v: IPv4Address) -> JSON:
    return inet_ntoa(v.packed)  # str(v), three times faster


def _addr_value(enc: JsonEncoder, v: IPv4Address | IPv6Address) -> JSON:
    return format_addr(v)  # nft's inet_ntop spelling, e.g. ``::18.52.18.52``


def _self_value(enc: JsonEncoder, v: Any) -> JSON:
    return v


def _enum_order(member: Any) -> int:
    if isinstance(member, StrEnum):
        return list(type(member)).index(member)
    return 0
