"""Named sets and maps (verdict maps are maps whose data type is ``verdict``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs

from .._node import EXPR, Node, invalid, to_flags
from ..nft import objects
from . import _validate
from .enums import SetFlag, SetPolicy
from .expressions import ElemExpr, Expr, verdict_key

__all__ = ["OBJECT_TYPES", "Map", "Set"]


#: Datatype names are printed bare: short lower-case identifiers only (nft's longest is 16).
_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
#: Data types of object maps (their data are object names).
OBJECT_TYPES = objects.OBJECT_TYPES


#: The netlink attribute widths: NFTA_SET_TIMEOUT is 64 bits, NFTA_SET_GC_INTERVAL and
#: NFTA_SET_DESC_SIZE 32.
_COUNT_MAX = {"timeout": 2**64 - 1, "gc_interval": 2**32 - 1, "size": 2**32 - 1}


def _optional_count(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(inst, attribute.name, f"must be a non-negative integer, got {value!r}")
    if value > _COUNT_MAX.get(attribute.name, value):
        raise invalid(inst, attribute.name, f"{value} does not fit the kernel's "
                      f"{_COUNT_MAX[attribute.name].bit_length()}-bit field")


def _types(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """A datatype name or names; nft 1.0.6 writes a concatenated map data type in JSON as one
    string, ``"ipv4_addr . inet_service"``."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(" . "))
    return tuple(value)


def _set_flags(value: Iterable[SetFlag | str] | str | None) -> frozenset[SetFlag]:
    return to_flags(SetFlag, value)


def _set_policy(value: SetPolicy | str | None) -> SetPolicy | None:
    return None if value is None else _validate.to_enum(SetPolicy, value, "Set", "policy")


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
    flags: frozenset[SetFlag] = attrs.field(factory=frozenset, converter=_set_flags)
    timeout: int | None = attrs.field(default=None, validator=_optional_count)  # milliseconds
    gc_interval: int | None = attrs.field(default=None, validator=_optional_count)  # ms
    size: int | None = attrs.field(default=None, validator=_optional_count)
    policy: SetPolicy | None = attrs.field(
        default=None, converter=_set_policy
    )
    auto_merge: bool = _validate.flag()
    comment: str | None = attrs.field(default=None, validator=_validate.comment)
    stmts: tuple[Any, ...] = attrs.field(default=(), converter=_validate.as_tuple,
                                         validator=_validate.stateful_stmts)
    elements: tuple[Any, ...] = attrs.field(default=(), converter=_validate.as_tuple)
    handle: int | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not self.type and self.typeof is None:
            raise invalid(self, "type", "a set needs a key type or typeof")
        for t in self.type:
            if not isinstance(t, str) or not _TYPE_NAME.match(t):
                raise invalid(self, "type", f"{t!r} is not an nft datatype name")
        if SetFlag.CONSTANT in self.flags and self.flags & {SetFlag.TIMEOUT, SetFlag.DYNAMIC}:
            raise invalid(self, "flags", "a constant set cannot have timeout or dynamic flags")
        if SetFlag.CONSTANT in self.flags and self.timeout:
            raise invalid(self, "timeout", "a constant set cannot have a timeout")
        for el in self.elements:
            if isinstance(el, tuple) and not self.is_map:
                raise invalid(self, "elements", f"set elements are not pairs, got {el!r}")
            if verdict_key(el):  # libnftables aborts on it
                raise invalid(self, "elements", f"a verdict cannot be a key, got {el!r:.60}")
            key = el[0] if isinstance(el, tuple) and el else el
            if isinstance(key, ElemExpr) and key.comment is not None:
                _validate.comment(self, _ELEMENTS_FIELD, key.comment)

    @property
    def is_map(self) -> bool:
        return False


_ELEMENTS_FIELD = attrs.fields(Set).elements


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
    #: ``type ipv4_addr : interval ipv4_addr``: the data are ranges or prefixes (nft >= 1.0.3).
    #: nft's JSON does not carry it; the reader infers it from the elements.
    data_interval: bool = _validate.flag()

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if not self.data_type and self.data_typeof is None:
            raise invalid(self, "data_type", "a map needs a data type or typeof")
        for t in self.data_type:
            if not isinstance(t, str) or (not _TYPE_NAME.match(t) and t not in OBJECT_TYPES):
                raise invalid(self, "data_type", f"{t!r} is not an nft datatype name")
        for el in self.elements:
            if not (isinstance(el, tuple) and len(el) == 2):
                raise invalid(self, "elements", f"map elements are (key, data) pairs, got {el!r}")

    @property
    def is_map(self) -> bool:
        return True

    @property
    def is_vmap(self) -> bool:
        return self.data_type == ("verdict",)

    @property
    def is_objmap(self) -> bool:
        """Whether the data are named objects (``type ipv4_addr : counter``)."""
        return len(self.data_type) == 1 and self.data_type[0] in OBJECT_TYPES
