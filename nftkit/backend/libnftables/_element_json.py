"""The JSON command text of an element-only batch, written directly (the backend's fast path).

A per-element update (``add element ip kube-proxy svc-k2 { 10.0.0.1 . tcp . 80 }``) costs
libnftables about 0.1 ms in a table with few chains and sets; going through ``Op.to_json`` (a
``RenderContext`` and an encoder per element) and then ``json.dumps`` of the dicts cost nftkit
about as much again. For batches that hold only element ops, ``element_command`` writes the
text that ``json.dumps(txn.to_json(version=v))`` would give, byte for byte, without the dicts::

    {"nftables": [{"add": {"element": {"family": "ip", "table": "kube-proxy", "name": "svc-k2",
                                       "elem": [{"concat": ["10.0.0.1", "tcp", 80]}]}}}]}

- the constant head of each command (verb, family, table, set name, up to ``"elem": [``) is
  produced by ``json.dumps`` itself, once per (verb, family, table, name), and cached;
- elements of the common shapes (ints, strings, addresses, concatenations of those, verdicts,
  ``(key, data)`` pairs) are written by small per-type functions: ``json.dumps`` spellings
  (``", "`` and ``": "`` separators, ASCII escapes by the C ``encode_basestring_ascii``);
- any other element (``ElemExpr``, prefixes, ranges, enums, ...) goes through the general path
  and ``json.dumps``, inserted as it is: ``json.dumps`` writes a nested value the same way
  alone or inside a document, so the result stays identical.

``tests/test_backend_fastpath.py`` compares this with the general path over hypothesis-generated
elements of every datatype.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address
from json.encoder import encode_basestring_ascii
from socket import inet_ntoa
from typing import Any

import attrs

from ...model.datatypes import format_addr
from ...model.expressions import ConcatExpr, VerdictExpr
from ...transaction import Kind, Op, Verb, element_json

__all__ = ["FAST_VERBS", "element_command", "element_only"]

#: Element ops the fast path sends (``destroy`` may need emulation: the general path).
FAST_VERBS = frozenset({Verb.ADD, Verb.CREATE, Verb.DELETE})

_Encoder = Callable[[Any], "str | None"]
_ELEMENT = Kind.ELEMENT  # (an enum member looked up once: ``Kind.ELEMENT`` costs ~0.2 us)
_HEADS: dict[tuple[Verb, object, object, object], str] = {}
_HEADS_MAX = 4096
_ESCAPED: dict[str, str] = {}  # set names, protocol names, words: escaped once
_ESCAPED_MAX = 4096
_TAIL = '"elem": []}}}'


def element_only(ops: Sequence[Op]) -> bool:
    """Whether every op is an ``add``/``create``/``delete`` of elements: such a batch needs no
    reordering, no destroy emulation, no resets and no echo, and this module can write it."""
    for op in ops:
        if op.kind is not _ELEMENT or op.verb not in FAST_VERBS:
            return False
    return bool(ops)


def _head(op: Op) -> str | None:
    """``{"add": {"element": {"family": "ip", "table": "t", "name": "s", "elem": [``: the
    general path's own text for the op without elements, cut before its ``]}}}`` (None if
    that text does not end with the element list)."""
    text = json.dumps(attrs.evolve(op, elements=()).to_json())
    if not text.endswith(_TAIL):
        return None
    head = text[:-len("]}}}")]
    if len(_HEADS) >= _HEADS_MAX:
        _HEADS.clear()
    _HEADS[(op.verb, op.family, op.table, op.name)] = head
    return head


def _str(v: str) -> str:
    s = _ESCAPED.get(v)
    if s is None:
        s = encode_basestring_ascii(v)
        if len(_ESCAPED) >= _ESCAPED_MAX:
            _ESCAPED.clear()
        _ESCAPED[v] = s
    return s


def _ipv4(v: IPv4Address) -> str:
    return '"' + inet_ntoa(v.packed) + '"'  # the spelling of str(v), three times faster


def _ipv6(v: IPv6Address) -> str:
    return '"' + format_addr(v) + '"'  # ASCII only: nothing to escape


def _verdict(v: VerdictExpr) -> str:
    kind = encode_basestring_ascii(v.kind._value_)
    if v.target is None:
        return "{" + kind + ": null}"
    return "{" + kind + ': {"target": ' + _str(v.target) + "}}"


#: A concatenation's part types -> its encoder, written out for those types (None: not a
#: common shape). A set's elements all have one shape, so this is one encoder per set.
_CONCATS: dict[tuple[type, ...], Callable[[tuple[Any, ...]], str] | None] = {}
#: How a part of each type is written: a Python expression of the part, ``{x}``.
_PART_CODE: dict[type, str] = {
    int: "int_repr({x})",
    bool: '("true" if {x} else "false")',
    str: "(escaped({x}) or esc({x}))",
    # ``_ip`` is the address as an int (``int(a)`` without a Python-level call)
    IPv4Address: """'"' + inet_ntoa({x}._ip.to_bytes(4, "big")) + '"'""",
    IPv6Address: """'"' + format_addr({x}) + '"'""",
    VerdictExpr: "verdict({x})",
}
_CONCATS_MAX = 256


def _compile_concat(types: tuple[type, ...]) -> Callable[[tuple[Any, ...]], str] | None:
    """``{"concat": [part, ...]}`` of parts of exactly these types, as one function."""
    if not all(t in _PART_CODE for t in types):
        return None
    names = [f"x{i}" for i in range(len(types))]
    parts = " + ', ' + ".join(f"({_PART_CODE[t].format(x=n)})"
                              for t, n in zip(types, names, strict=True))
    source = (f"def encode(exprs):\n    {', '.join(names)}, = exprs\n"
              f"    return '{{\"concat\": [' + {parts} + ']}}'\n")
    scope: dict[str, Any] = {"int_repr": int.__repr__, "esc": _str, "escaped": _ESCAPED.get,
                             "inet_ntoa": inet_ntoa,
                             "format_addr": format_addr, "verdict": _verdict}
    exec(source, scope)  # built above from this module's own snippets only
    fn: Callable[[tuple[Any, ...]], str] = scope["encode"]
    return fn


def _concat(v: ConcatExpr) -> str | None:
    exprs = v.exprs
    types = tuple(map(type, exprs))
    try:
        fn = _CONCATS[types]
    except KeyError:
        if len(_CONCATS) >= _CONCATS_MAX:
            _CONCATS.clear()
        fn = _CONCATS[types] = _compile_concat(types)
    return fn(exprs) if fn is not None else None


def _pair(v: tuple[Any, ...]) -> str | None:
    if len(v) == 2:  # a map element (key, data): the common case, without a loop
        key, data = v
        fk, fd = _TOP.get(key.__class__), _TOP.get(data.__class__)
        if fk is None or fd is None:
            return None
        sk, sd = fk(key), fd(data)
        if sk is None or sd is None:
            return None
        return "[" + sk + ", " + sd + "]"
    parts = []
    for x in v:
        fn = _TOP.get(type(x))
        s = fn(x) if fn is not None else None
        if s is None:
            return None
        parts.append(s)
    return "[" + ", ".join(parts) + "]"


def _true(v: bool) -> str:
    return "true" if v else "false"


#: Exact type -> text, for values inside a concatenation (the renderer's ``value``).
_NESTED: dict[type, _Encoder] = {
    int: int.__repr__, bool: _true, str: _str, IPv4Address: _ipv4, IPv6Address: _ipv6,
    VerdictExpr: _verdict, ConcatExpr: _concat,
}
#: Exact type -> text, for an element or a part of a ``(key, data)`` pair.
_TOP: dict[type, _Encoder] = {**_NESTED, tuple: _pair}


def element_command(ops: Sequence[Op], version: str | tuple[int, ...] | None) -> str:
    """``json.dumps({"nftables": [op.to_json(version=version) for op in ops]})`` for element
    ops (``element_only(ops)``), written directly."""
    commands = []
    for op in ops:
        head = _HEADS.get((op.verb, op.family, op.table, op.name)) or _head(op)
        if head is None:
            commands.append(json.dumps(op.to_json(version=version)))
            continue
        elems = []
        for e in op.elements:
            fn = _TOP.get(e.__class__)
            s = fn(e) if fn is not None else None
            if s is None:  # not a common shape: the general path, then json.dumps
                family = op.family._value_ if op.family is not None else "inet"
                s = json.dumps(element_json(e, family, version))
            elems.append(s)
        commands.append(head + ", ".join(elems) + "]}}}")
    return '{"nftables": [' + ", ".join(commands) + "]}"
