"""Netlink attributes (type-length-value), the bottom of the netlink encoders.

Every other module of ``nftkit.backend.netlink`` builds its messages from these two helpers;
this one imports none of them, so the encoders form no import cycle::

    _tlv  <-  _types, _elements, _exprs  <-  _rules, _objects  <-  _txn  <-  _apply
    _socket (the socket and its replies) stands beside them

An attribute is ``struct nlattr {u16 len; u16 type}`` followed by its payload, padded to 4
bytes; a nest is an attribute whose payload is attributes (``NLA_F_NESTED`` set in the type).
``_attr`` and ``_nest`` are private to the package: its modules import them, nothing else.
"""

from __future__ import annotations

import struct

__all__ = ["NLA_F_NESTED"]

NLA_F_NESTED = 0x8000
_HEAD = struct.Struct("=HH")


def _attr(kind: int, payload: bytes) -> bytes:
    """One attribute: header, payload, padding to 4 bytes."""
    return _HEAD.pack(4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)


def _nest(kind: int, *items: bytes) -> bytes:
    """A nested attribute holding ``items`` (already encoded attributes)."""
    return _attr(kind | NLA_F_NESTED, b"".join(items))
