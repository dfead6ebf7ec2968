"""The base of every model node, and the field metadata that drives the generic codecs.

Every node is a frozen, slotted, keyword-only attrs class. A node declares its libnftables JSON
spelling (``json_key``) and the JSON shape of its body; everything else (encoding, decoding,
walking) is derived from the attrs fields and their metadata, so the codecs only need per-node
code where nft's syntax is irregular.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Any, ClassVar, Final, TypeVar

import attrs

from .errors import ValidationError

__all__ = [
    "EXPR",
    "EXPRS",
    "STMT",
    "STMTS",
    "Node",
    "field_json_name",
    "flags",
    "invalid",
    "snake",
    "to_flags",
]

# Field metadata: how a field's value is encoded in JSON.
EXPR: Final = {"codec": "expr"}  #: one expression (node or immediate value)
EXPRS: Final = {"codec": "exprs"}  #: a tuple of expressions -> JSON list
STMT: Final = {"codec": "stmt"}  #: one statement
STMTS: Final = {"codec": "stmts"}  #: a tuple of statements -> JSON list

N = TypeVar("N", bound="Node")
E = TypeVar("E", bound=StrEnum)

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def snake(name: str) -> str:
    """``CounterStmt`` -> ``counter_stmt`` (the text renderer's method name)."""
    return _SNAKE.sub("_", name).lower()


def field_json_name(f: attrs.Attribute[Any]) -> str:
    """The JSON member name of an attrs field: metadata ``json`` or the name with dashes."""
    name = f.metadata.get("json")
    return str(name) if name else f.name.replace("_", "-")


def invalid(node: object | type, field: str | None, message: str) -> ValidationError:
    """Build the ValidationError for ``node.field`` (node may be an instance or a class)."""
    cls = node if isinstance(node, type) else type(node)
    return ValidationError(cls.__name__, field, message)


def to_flags(enum: type[E], value: object) -> frozenset[E]:
    """One spelling, an iterable of spellings or members, or None -> ``frozenset[enum]``.

    A field calls it from a named converter (mypy's attrs plugin cannot type a converter
    factory)."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    try:
        return frozenset(enum(v) for v in value)  # type: ignore[attr-defined]
    except ValueError as exc:
        choices = ", ".join(m.value for m in enum)
        raise ValidationError(enum.__name__, None, f"{exc} (one of: {choices})") from None


def flags(enum: type[E]) -> Any:
    """An attrs converter: an iterable of spellings or members -> ``frozenset[enum]``."""
    return functools.partial(to_flags, enum)


class Node:
    """Base class of all model nodes.

    Class attributes a node may set:
        json_key: the libnftables JSON member name of the node (``"counter"``).
        json_shape: ``"object"`` (``{key: {fields}}``, the default), ``"null"`` (``{key: null}``),
            ``"list"`` (``{key: [fields in order]}``, a single tuple field is the list itself) or
            ``"value"`` (``{key: <the single field>}``).
        text_name: the text renderer's method name, derived from the class name.
    """

    __slots__ = ()

    json_key: ClassVar[str] = ""
    json_shape: ClassVar[str] = "object"
    text_name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "text_name" not in cls.__dict__:
            cls.text_name = snake(cls.__name__)

    def children(self) -> Iterator[Node]:
        """The direct child nodes, in field order."""
        cls: Any = type(self)  # every concrete node is an attrs class
        for f in attrs.fields(cls):
            value = getattr(self, f.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Node):
                        yield item
                    elif isinstance(item, tuple):  # e.g. map elements (key, data)
                        yield from (i for i in item if isinstance(i, Node))

    def walk(self) -> Iterator[Node]:
        """This node and all nodes below it, depth first, parents before children."""
        yield self
        for child in self.children():
            yield from child.walk()

    def replace(self: N, **changes: Any) -> N:
        """A copy with some fields changed (``attrs.evolve``); validators run again."""
        node: Any = self  # an attrs instance: every concrete node is an attrs class
        result: N = attrs.evolve(node, **changes)
        return result
