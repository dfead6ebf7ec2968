"""Named stateful objects: counter, quota, limit, ct helper/timeout/expectation, synproxy, secmark.

Each lives in a table and is referenced from rules by name (``counter name "http"``) or from
object maps (``map m { type ipv4_addr : counter; ... }``). ``nft list ruleset`` prints them
first in a table, as blocks::

    counter http {
        comment "web"
        packets 0 bytes 0
    }

Their JSON is ``{"<kind>": {"family": ..., "name": ..., "table": ..., "handle": ...,
"comment": ..., <kind-specific members>}}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import attrs

from .._node import Node, invalid, to_flags
from ..errors import ValidationError
from ..nft import objects as objfacts
from ..nft.units import TIME_UNITS
from . import _validate
from .enums import SynproxyFlag

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


@attrs.frozen(kw_only=True)
class NamedObject(Node):
    """Base of named stateful objects: the ``name``, ``comment`` and ``handle`` fields every
    kind has first, then its own. ``registry`` maps JSON keys to classes."""

    registry: ClassVar[dict[str, type[NamedObject]]] = {}
    #: The keyword nft uses in text and JSON: ``counter``, ``ct helper``, ...
    keyword: ClassVar[str] = ""

    name: str = attrs.field(validator=_validate.name)
    comment: str | None = attrs.field(default=None, validator=_validate.comment)
    handle: int | None = attrs.field(default=None, eq=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("json_key"):
            NamedObject.registry[cls.json_key] = cls
            cls.keyword = cls.json_key


def _non_negative(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(inst, attribute.name, f"must be a non-negative integer, got {value!r}")


def _count() -> Any:
    return attrs.field(default=0, validator=_non_negative)


L3PROTOS = objfacts.L3PROTOS
CT_L4PROTOS = objfacts.CT_L4PROTOS
CT_TIMEOUT_STATES = objfacts.CT_TIMEOUT_STATES


_HELPER = re.compile(r"[A-Za-z0-9_.\-]{1,15}\Z")


def _helper_type(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not _HELPER.match(value):
        raise invalid(inst, attribute.name, f"{value!r} is not a conntrack helper name "
                      "(1-15 letters, digits, '_', '.' or '-')")


def _l3proto() -> Any:
    return attrs.field(default=None, validator=_validate.one_of(L3PROTOS, optional=True))


def _policy(value: Mapping[str, int] | Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """``{"established": 120}`` or ``[("established", 120)]`` -> pairs, in the given order."""
    try:
        pairs = tuple((k, int(v)) for k, v in (
            value.items() if isinstance(value, Mapping) else value))
        if all(isinstance(k, str) and v >= 0 for k, v in pairs):
            return pairs
    except (TypeError, ValueError):
        pass
    raise ValidationError("CtTimeout", "policy",
                          f"expected (state, seconds) pairs, got {value!r}") from None


def synproxy_flags(value: Iterable[SynproxyFlag | str] | str | None) -> frozenset[SynproxyFlag]:
    """The converter of ``flags`` in ``Synproxy`` and ``SynproxyStmt``."""
    return to_flags(SynproxyFlag, value)


#: The time units of a limit (``rate 10/minute``).
LIMIT_PER = tuple(TIME_UNITS)


@attrs.frozen(kw_only=True)
class Counter(NamedObject):
    """A named counter.

    Text: ``counter http { packets 0 bytes 0 }``. JSON: ``{"counter": {"name": "http", ...,
    "packets": 0, "bytes": 0}}``.
    """

    json_key = "counter"
    packets: int = _count()
    bytes: int = _count()


@attrs.frozen(kw_only=True)
class Quota(NamedObject):
    """A named quota. ``bytes`` and ``used`` are in bytes; ``inv`` is ``over``.

    Text: ``quota q { over 25 mbytes used 1 kbytes }``. JSON: ``{"quota": {..., "bytes":
    26214400, "used": 1024, "inv": true}}``.
    """

    json_key = "quota"
    bytes: int = _count()
    used: int = _count()
    inv: bool = _validate.flag()


@attrs.frozen(kw_only=True)
class Limit(NamedObject):
    """A named rate limit. ``unit`` is ``packets`` or ``bytes``; for ``bytes`` the ``rate`` and
    ``burst`` are in bytes (nft shows them in the largest exact unit).

    Text: ``limit l { rate 400/minute }``, ``limit b { rate over 1 mbytes/second burst 2 kbytes }``.
    JSON: ``{"limit": {..., "rate": 400, "per": "minute", "burst": 5}}``, for bytes
    ``{"rate": 1, "per": "second", "rate_unit": "mbytes", ...}``.
    """

    json_key = "limit"
    rate: int = attrs.field(validator=_non_negative)
    per: str = attrs.field(default="second", validator=_validate.one_of(frozenset(LIMIT_PER)))
    unit: str = attrs.field(default="packets",
                            validator=_validate.one_of(frozenset({"packets", "bytes"})))
    #: nft's default burst is 5 packets, and 0 for byte limits. A packet burst of 0 is stored
    #: as 5: nft reads it as its default (``"burst": 0`` in JSON and ``burst 0 packets`` in a
    #: limit object load as 5) and lists 5 back.
    burst: int = attrs.field(
        default=attrs.Factory(lambda self: 5 if self.unit == "packets" else 0, takes_self=True),
        validator=_non_negative)
    inv: bool = _validate.flag()

    def __attrs_post_init__(self) -> None:
        if self.unit == "packets" and self.burst == 0:
            object.__setattr__(self, "burst", 5)  # frozen: normalise once, at construction


@attrs.frozen(kw_only=True)
class CtHelper(NamedObject):
    """A conntrack helper.

    Text: ``ct helper ftp { type "ftp" protocol tcp; l3proto ip; }``. JSON: ``{"ct helper":
    {..., "type": "ftp", "protocol": "tcp", "l3proto": "ip"}}``.
    """

    json_key = "ct helper"
    #: A kernel helper name (NF_CT_HELPER_NAME_LEN is 16 with the NUL): ``ftp``, ``Q.931``.
    type: str = attrs.field(validator=_helper_type)
    protocol: str = attrs.field(default="tcp", validator=_validate.one_of(CT_L4PROTOS))
    l3proto: str | None = _l3proto()


@attrs.frozen(kw_only=True)
class CtTimeout(NamedObject):
    """A conntrack timeout policy; ``policy`` is ``(state, seconds)`` pairs in nft's order.

    Text: ``ct timeout t { protocol udp; l3proto ip; policy = { unreplied : 15s } }``.
    JSON: ``{"ct timeout": {..., "protocol": "udp", "l3proto": "ip", "policy": {"unreplied":
    15}}}``.
    """

    json_key = "ct timeout"
    protocol: str = attrs.field(default="tcp", validator=_validate.one_of(CT_L4PROTOS))
    l3proto: str | None = _l3proto()
    policy: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=_policy)

    def __attrs_post_init__(self) -> None:
        states = CT_TIMEOUT_STATES[self.protocol]
        for state, _ in self.policy:
            if state not in states:
                raise invalid(self, "policy", f"{state!r} is not a {self.protocol} state (one "
                              f"of: {', '.join(sorted(states))})")


@attrs.frozen(kw_only=True)
class CtExpectation(NamedObject):
    """A conntrack expectation; ``timeout`` in milliseconds.

    Text: ``ct expectation e { protocol tcp; dport 21; timeout 5s; size 12; l3proto ip; }``.
    JSON: ``{"ct expectation": {..., "protocol": "tcp", "dport": 21, "timeout": 5000, "size":
    12, "l3proto": "ip"}}``.
    """

    json_key = "ct expectation"
    protocol: str = attrs.field(default="tcp", validator=_validate.one_of(CT_L4PROTOS))
    dport: int = _count()
    timeout: int = _count()
    size: int = _count()
    l3proto: str | None = _l3proto()


@attrs.frozen(kw_only=True)
class Synproxy(NamedObject):
    """A synproxy configuration.

    Text: ``synproxy s { mss 1460 wscale 7 timestamp sack-perm }`` (one per line). JSON:
    ``{"synproxy": {..., "mss": 1460, "wscale": 7, "flags": ["timestamp", "sack-perm"]}}``.
    """

    json_key = "synproxy"
    mss: int = _count()
    wscale: int = _count()
    flags: frozenset[SynproxyFlag] = attrs.field(factory=frozenset, converter=synproxy_flags)


@attrs.frozen(kw_only=True)
class Secmark(NamedObject):
    """A security mark context.

    Text: ``secmark s { "system_u:object_r:ssh_server_packet_t:s0" }``. JSON: ``{"secmark":
    {..., "context": "system_u:..."}}``.
    """

    json_key = "secmark"
    context: str = attrs.field(default="", validator=_validate.quoted_string)
