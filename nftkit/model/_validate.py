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
  starting with a letter, ``_`` or ``.``, and are not ``.`` or ``..``;
- keywords (a ct timeout's ``protocol``, an exthdr ``field``, ...) are one of a closed set of
  spellings nft reads (``one_of``, ``selector_field``).

Every string field of a node has one of these validators, and so does every name a
``Transaction`` takes and every value read back from the kernel or from JSON (the readers build
nodes): docs/security.md.
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
    "IDENTIFIER",
    "IFNAME_MAX",
    "NAME_MAX",
    "STATEFUL",
    "as_tuple",
    "boolean",
    "check_name",
    "comment",
    "device_names",
    "flag",
    "name",
    "one_of",
    "quoted_string",
    "selector_field",
    "stateful_stmts",
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
#: A whole name in one match: an identifier of at most NAME_MAX bytes (ASCII: chars = bytes).
IDENTIFIER = re.compile(rf"[A-Za-z_.][A-Za-z0-9_./\-]{{0,{NAME_MAX - 1}}}\Z")
_IFNAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.\-]*\Z")


#: a double quote, a control character, or a lone surrogate (not UTF-8: ``os.fsdecode``'s
#: escape of an undecodable byte)
_UNQUOTABLE = re.compile(r'["\x00-\x1f\x7f\ud800-\udfff]')


def _unquotable(value: str) -> bool:
    return _UNQUOTABLE.search(value) is not None


def check_name(node: str, field: str, value: object, *, keywords: bool = True) -> None:
    """Raise ValidationError(node, field) unless ``value`` is a name nft reads back as one
    identifier (``chain my-chain``, ``jump my-chain``, ``@my_set``).

    ``keywords=False`` lets a keyword through (``delete chain ... missing`` of a chain another
    program created through JSON): it cannot change the structure of the text either."""
    if not isinstance(value, str) or not value:
        raise ValidationError(node, field, f"must be a non-empty string, got {value!r}")
    if not _IDENTIFIER.match(value):
        raise ValidationError(
            node, field,
            f"{value[:64]!r} is not an nft identifier (a letter, '_' or '.' first, then "
            "letters, digits, '_', '.', '-' or '/')",
        )
    if len(value) > NAME_MAX:  # (ASCII only by now: characters are bytes)
        raise ValidationError(node, field, f"{value[:20]!r}... is longer than {NAME_MAX} bytes")
    # nft prints names bare and nft 1.0.6 cannot quote them: a keyword would not read back.
    if keywords and (why := keyword_reason(node, value)) is not None:
        raise ValidationError(node, field, why)


def name(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """A table, chain, set, map, flowtable or object name nft reads back as one identifier."""
    check_name(type(inst).__name__, attribute.name, value)


def one_of(choices: frozenset[str], *, optional: bool = False) -> Any:
    """An attrs validator: the value is one of ``choices`` (the keywords nft reads there)."""

    def check(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        if value not in choices:
            raise invalid(inst, attribute.name,
                          f"{value!r} is not one of: {', '.join(sorted(choices))}")

    return check


_INDEX = re.compile(r"([a-z][a-z0-9\-]*)(?:\[[0-9]{1,3}\])?\Z")


def selector_field(choices: frozenset[str]) -> Any:
    """An attrs validator of an optional header field name: one of ``choices``, optionally
    indexed (``addr[1]``, ``sid[2]``, as nft spells them in text and JSON)."""

    def check(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None:
            return
        m = _INDEX.match(value) if isinstance(value, str) else None
        if m is None or m.group(1) not in choices:
            raise invalid(inst, attribute.name,
                          f"{value!r} is not one of: {', '.join(sorted(choices))}")

    return check


def boolean(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """A flag (``over``, ``counter``, ``auto-merge``): True or False, not a truthy value."""
    if type(value) is not bool:
        raise invalid(inst, attribute.name, f"must be True or False, got {value!r}")


def flag(default: bool = False) -> Any:
    """A ``bool`` field checked by ``boolean``."""
    return attrs.field(default=default, validator=boolean)


def quoted_string(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """A string nft prints in double quotes: no ``"`` and no control characters."""
    if value is None:
        return
    if not isinstance(value, str):
        raise invalid(inst, attribute.name, f"must be a string, got {value!r}")
    if _unquotable(value):
        raise invalid(inst, attribute.name,
                      f"{value!r} contains a double quote, a control character or a lone "
                      "surrogate (not UTF-8)")


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
        if (not isinstance(dev, str) or not _IFNAME.match(dev) or len(dev) > IFNAME_MAX
                or dev in (".", "..")):
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


#: The statements a set declaration or an element may carry (nft's stateful statements);
#: libnftables aborts on any other (``BUG: unknown stateful statement type``).
STATEFUL = frozenset({"counter", "quota", "limit", "ct count", "last"})


def stateful_stmts(inst: Any, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    """Only stateful statements (``counter``, ``quota``, ``limit``, ``ct count``, ``last``)."""
    for stmt in value:
        if getattr(type(stmt), "json_key", None) not in STATEFUL or isinstance(stmt, str):
            raise invalid(inst, attribute.name,
                          f"{stmt!r:.60} is not a stateful statement (one of: "
                          f"{', '.join(sorted(STATEFUL))})")


def as_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """An attrs converter: any iterable -> tuple."""
    return tuple(value)
