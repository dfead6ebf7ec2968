"""Field validators shared by the container nodes: names, comments, devices, quoted strings.

No user string may change the meaning of generated text. nft prints object names bare
(``chain my-chain {``), comments and single devices in double quotes with no escape mechanism
(``comment "x"``), and nft 1.0.6 prints device lists bare (``devices = { eth0, eth1 }``). So:

- names must be what nft's scanner reads as one identifier: a letter, ``_`` or ``.`` first,
  then letters, digits, ``_``, ``.``, ``-`` or ``/``; at most 255 bytes (NFT_NAME_MAXLEN is
  256 including the NUL); and not one of nft's scanner keywords (``accept``, ``counter``,
  ``ip``, ...: see ``nftkit.nft.keywords``), nor a lone ``.``;
- comments and other quoted strings must not contain ``"`` (nft has no escape for it) or
  control characters; comments are at most 128 bytes (NFT_USERDATA_MAXLEN);
- interface names are 1-15 bytes (IFNAMSIZ - 1) of letters, digits, ``_``, ``.`` and ``-``,
  starting with a letter, ``_`` or ``.``, and are not ``.`` or ``..``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, TypeVar

import attrs

from .._node import invalid
from ..errors import ValidationError
from ..nft.keywords import keyword_reason

E = TypeVar("E", bound=StrEnum)

__all__ = [
    "COMMENT_MAX",
    "IFNAME_MAX",
    "NAME_MAX",
    "as_tuple",
    "comment",
    "device_names",
    "name",
    "quoted_string",
    "to_enum",
]

#: NFT_NAME_MAXLEN (256) minus the terminating NUL.
NAME_MAX = 255
#: nft refuses comments longer than NFT_USERDATA_MAXLEN (128 bytes).
COMMENT_MAX = 128
#: IFNAMSIZ - 1
IFNAME_MAX = 15

#: nft's scanner: ``string ({letter}|[_.])({letter}|{digit}|[/\-_\.])*``.
_IDENTIFIER = re.compile(r"[A-Za-z_.][A-Za-z0-9_./\-]*\Z")
_IFNAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.\-]*\Z")


def _unquotable(value: str) -> bool:
    return '"' in value or any(ord(c) < 32 or ord(c) == 127 for c in value)


def name(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """A table, chain, set, map, flowtable or object name nft reads back as one identifier."""
    if not isinstance(value, str) or not value:
        raise invalid(inst, attribute.name, f"must be a non-empty string, got {value!r}")
    if len(value.encode()) > NAME_MAX:
        raise invalid(inst, attribute.name, f"{value[:20]!r}... is longer than {NAME_MAX} bytes")
    if not _IDENTIFIER.match(value):
        raise invalid(
            inst, attribute.name,
            f"{value!r} is not an nft identifier (a letter, '_' or '.' first, then letters, "
            "digits, '_', '.', '-' or '/')",
        )
    # nft prints names bare and nft 1.0.6 cannot quote them: a keyword would not read back.
    if (why := keyword_reason(type(inst).__name__, value)) is not None:
        raise invalid(inst, attribute.name, why)


def quoted_string(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """A string nft prints in double quotes: no ``"`` and no control characters."""
    if value is None:
        return
    if not isinstance(value, str):
        raise invalid(inst, attribute.name, f"must be a string, got {value!r}")
    if _unquotable(value):
        raise invalid(inst, attribute.name,
                      f"{value!r} contains a double quote or control character")


def comment(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """A comment: at most 128 bytes, no ``"`` (nft has no escape for it), no control character."""
    if value is None:
        return
    quoted_string(inst, attribute, value)
    assert isinstance(value, str)
    if len(value.encode()) > COMMENT_MAX:
        raise invalid(inst, attribute.name, f"is {len(value.encode())} bytes, max {COMMENT_MAX}")


def device_names(inst: Any, attribute: attrs.Attribute[Any], value: tuple[object, ...]) -> None:
    """Interface names: 1-15 bytes that nft prints and reads back the same, quoted or not."""
    seen: set[str] = set()
    for dev in value:
        if (not isinstance(dev, str) or not dev or len(dev.encode()) > IFNAME_MAX
                or not _IFNAME.match(dev) or dev in (".", "..")):
            raise invalid(inst, attribute.name, f"{dev!r} is not a valid interface name")
        if dev in seen:
            raise invalid(inst, attribute.name, f"device {dev!r} is listed twice")
        seen.add(dev)


def to_enum(cls: type[E], value: object, node: str, field: str) -> E:
    """``cls(value)``, raising ValidationError naming ``node.field`` for a bad value."""
    if isinstance(value, cls):
        return value
    try:
        return cls(str(value)) if isinstance(value, str) else cls(value)  # type: ignore[arg-type]
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise ValidationError(node, field, f"{value!r} is not one of: {choices}") from None


def as_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """An attrs converter: any iterable -> tuple."""
    return tuple(value)
