"""Named stateful objects: counter, quota, limit, ct helper/timeout/expectation, synproxy, secmark.

Each lives in a table and is referenced from rules by name (``counter name "http"``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from .._node import Node
from . import _validate

__all__ = [
    "Counter",
    "CtExpectation",
    "CtHelper",
    "CtTimeout",
    "Limit",
    "NamedObject",
    "Quota",
    "Secmark",
    "Synproxy",
]


class NamedObject(Node):
    """Base of named stateful objects. ``registry`` maps JSON keys to classes.

    Subclasses have ``name``, ``comment`` and ``handle`` fields first, then their own.
    """

    __slots__ = ()
    registry: ClassVar[dict[str, type[NamedObject]]] = {}
    #: The keyword nft uses in text: ``counter``, ``ct helper``, ...
    keyword: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("json_key"):
            NamedObject.registry[cls.json_key] = cls
            cls.keyword = cls.json_key


def _name() -> Any:
    return attrs.field(validator=_validate.name)


def _comment() -> Any:
    return attrs.field(default=None, validator=_validate.comment)


def _handle() -> Any:
    return attrs.field(default=None, eq=False)


@attrs.frozen(kw_only=True)
class Counter(NamedObject):
    """``counter http { packets 0 bytes 0 }``; JSON ``{"counter": {"name": "http", ...}}``."""

    json_key = "counter"
    name: str = _name()
    comment: str | None = _comment()
    handle: int | None = _handle()
    packets: int = 0
    bytes: int = 0


@attrs.frozen(kw_only=True)
class Quota(NamedObject):
    """``quota q { over 25 mbytes used 0 bytes }``; JSON bytes/used in bytes, ``inv`` for over."""

    json_key = "quota"
    name: str = _name()
    comment: str | None = _comment()
    handle: int | None = _handle()
    bytes: int
    used: int = 0
    inv: bool = False


@attrs.frozen(kw_only=True)
class Limit(NamedObject):
    """``limit l { rate 400/minute burst 5 packets }``; ``rate_unit`` is ``packets`` or bytes."""

    json_key = "limit"
    name: str = _name()
    comment: str | None = _comment()
    handle: int | None = _handle()
    rate: int
    per: str = "second"
    burst: int = 0
    unit: str = "packets"  # "packets" or "bytes"
    inv: bool = False


@attrs.frozen(kw_only=True)
class CtHelper(NamedObject):
    """``ct helper ftp { type "ftp" protocol tcp; l3proto ip; }``."""

    json_key = "ct helper"
    name: str = _name()
    comment: str | None = _comment()
    handle: int | None = _handle()
    type: str
    protocol: str = "tcp"
    l3proto: str | None = None


@attrs.frozen(kw_only=True)
class CtTimeout(NamedObject):
    """``ct timeout t { protocol tcp; l3proto ip; policy = { established: 120 } }``.

    ``policy`` maps conntrack state names to timeouts in seconds.
    """

    json_key = "ct timeout"
    name: str = _name()
    comment: str | None = _comment()
    handle: int | None = _handle()
    protocol: str = "tcp"
    l3proto: str | None = None
    policy: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen(kw_only=True)
class CtExpectation(NamedObject):
    """``ct expectation e { protocol tcp; dport 21; timeout 5s; size 12; l3proto ip; }``."""

    json_key = "ct expectation"
    name: str = _name()
    comment: str | None = _comment()
    handle: int | None = _handle()
    protocol: str = "tcp"
    dport: int = 0
    timeout: int = 0  # milliseconds
    size: int = 0
    l3proto: str | None = None


@attrs.frozen(kw_only=True)
class Synproxy(NamedObject):
    """``synproxy s { mss 1460 wscale 7 timestamp sack-perm }``."""

    json_key = "synproxy"
    name: str = _name()
    comment: str | None = _comment()
    handle: int | None = _handle()
    mss: int = 0
    wscale: int = 0
    flags: frozenset[str] = attrs.field(factory=frozenset, converter=frozenset)


@attrs.frozen(kw_only=True)
class Secmark(NamedObject):
    """``secmark s { "system_u:object_r:ssh_server_packet_t:s0" }``."""

    json_key = "secmark"
    name: str = _name()
    comment: str | None = _comment()
    handle: int | None = _handle()
    context: str = ""
