"""Field validators shared by the container nodes (names, comments, devices)."""

from __future__ import annotations

from typing import Any

import attrs

from .._node import invalid

__all__ = ["comment", "device_names", "name"]

#: NFT_NAME_MAXLEN: table, chain, set, object and flowtable names are at most 255 bytes.
NAME_MAX = 255
#: nft refuses comments longer than NFT_USERDATA_MAXLEN (128 bytes) since 1.0.
COMMENT_MAX = 128
#: IFNAMSIZ - 1
IFNAME_MAX = 15


def name(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """A kernel object name: non-empty, <= 255 bytes, no control characters or quotes."""
    if not isinstance(value, str) or not value:
        raise invalid(inst, attribute.name, "must be a non-empty string")
    if len(value.encode()) > NAME_MAX:
        raise invalid(inst, attribute.name, f"{value[:20]!r}... is longer than {NAME_MAX} bytes")
    if any(c in value for c in '"\n\r\t\0') or any(ord(c) < 32 for c in value):
        raise invalid(inst, attribute.name, f"{value!r} contains a quote or control character")


def comment(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """A comment: <= 128 bytes, no double quote (nft has no escape for it) or newline."""
    if value is None:
        return
    if not isinstance(value, str):
        raise invalid(inst, attribute.name, "must be a string")
    if len(value.encode()) > COMMENT_MAX:
        raise invalid(inst, attribute.name, f"is {len(value.encode())} bytes, max {COMMENT_MAX}")
    if '"' in value or any(ord(c) < 32 for c in value):
        raise invalid(inst, attribute.name, f"{value!r} contains a double quote or control character")


def device_names(inst: Any, attribute: attrs.Attribute[Any], value: tuple[object, ...]) -> None:
    """Interface names: 1-15 bytes, no quote, slash, whitespace or control character."""
    for dev in value:
        if not isinstance(dev, str) or not dev or len(dev.encode()) > IFNAME_MAX:
            raise invalid(inst, attribute.name, f"{dev!r} is not a valid interface name")
        if any(c in dev for c in '"/ ') or any(ord(c) < 33 for c in dev):
            raise invalid(inst, attribute.name, f"{dev!r} is not a valid interface name")
