"""Named sets and maps (verdict maps are maps whose data type is ``verdict``)."""

from __future__ import annotations

from typing import Any

import attrs

from .._node import EXPR, Node, flags, invalid
from . import _validate
from .enums import SetFlag, SetPolicy
from .expressions import Expr

__all__ = ["Map", "Set"]


def _types(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen(kw_only=True)
class Set(Node):
    """A named set.

    Text::

        set blocklist {
            type ipv4_addr
            flags interval
            elements = { 10.0.0.0/8 }
        }

    JSON: ``{"set": {"family": "ip", "table": "t", "name": "blocklist", "type": "ipv4_addr",
    "flags": ["interval"], "elem": [{"prefix": {"addr": "10.0.0.0", "len": 8}}]}}``.

    ``type`` is a tuple of datatype names (more than one for a concatenation); with ``typeof``
    the key is given as an expression instead. ``timeout`` and ``gc_interval`` are in seconds
    in JSON and printed as durations in text. ``elements`` are expressions, ``ElemExpr`` where an
    element has a timeout, comment or counter. ``stmts`` holds statements every element gets
    (e.g. ``counter``), nft >= 1.0.
    """

    json_key = "set"
    name: str = attrs.field(validator=_validate.name)
    type: tuple[str, ...] = attrs.field(default=(), converter=_types)
    typeof: Expr | None = attrs.field(default=None, metadata=EXPR)
    flags: frozenset[SetFlag] = attrs.field(factory=frozenset, converter=flags(SetFlag))
    timeout: int | None = None  # milliseconds
    gc_interval: int | None = None  # milliseconds
    size: int | None = None
    policy: SetPolicy | None = attrs.field(
        default=None, converter=attrs.converters.optional(SetPolicy)
    )
    auto_merge: bool = False
    comment: str | None = attrs.field(default=None, validator=_validate.comment)
    stmts: tuple[Any, ...] = attrs.field(default=(), converter=tuple)
    elements: tuple[Any, ...] = attrs.field(default=(), converter=tuple)
    handle: int | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not self.type and self.typeof is None:
            raise invalid(self, "type", "a set needs a key type or typeof")

    @property
    def is_map(self) -> bool:
        return False


@attrs.frozen(kw_only=True)
class Map(Set):
    """A named map; ``data_type`` ``("verdict",)`` makes a verdict map.

    Text: ``map m { type ipv4_addr : verdict; elements = { 10.0.0.1 : accept } }``.
    JSON: as a set, plus ``"map": "verdict"``; elements are ``[key, data]`` pairs.
    ``elements`` is a tuple of ``(key, data)`` pairs.
    """

    json_key = "map"
    data_type: tuple[str, ...] = attrs.field(default=(), converter=_types)
    data_typeof: Expr | None = attrs.field(default=None, metadata=EXPR)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if not self.data_type and self.data_typeof is None:
            raise invalid(self, "data_type", "a map needs a data type or typeof")
        for el in self.elements:
            if not (isinstance(el, tuple) and len(el) == 2):
                raise invalid(self, "elements", f"map elements are (key, data) pairs, got {el!r}")

    @property
    def is_map(self) -> bool:
        return True

    @property
    def is_vmap(self) -> bool:
        return self.data_type == ("verdict",)
