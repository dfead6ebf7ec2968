"""Statements: what a rule does (match, count, log, NAT, mangle, ...).

A rule is a tuple of statements; a verdict (``VerdictExpr``) may stand as the last one.

One class per statement rule of nft's grammar (``log_stmt`` = ``LogStmt``); the JSON member
name is ``json_key`` (nft's text and JSON spell several statements differently: the text
``meta mark set 1`` is the JSON ``mangle`` statement). Every statement of the libnftables JSON
schema is modelled, including the undocumented ones nft's JSON parser accepts (``last``,
``flow``, ``map``, ``tproxy``, ``synproxy``, ``reset``, ``secmark``, NAT ``type_flags``), the
opaque ``xt`` statement iptables-nft writes, and the text-only bound chain (``jump { ... }``).

Units are semantic: byte amounts are in bytes (JSON and text scale them to ``kbytes``/
``mbytes``), times are in milliseconds.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, ClassVar

import attrs

from .._node import EXPR, STMT, Node, invalid, to_flags
from . import _validate
from .datatypes import expr_datatype
from .enums import NftEnum, SynproxyFlag
from .expressions import (
    Expr,
    SetExpr,
    VerdictExpr,
    check_literal,
    check_mappings,
    odd_literal,
    verdict_key,
)
from .objects import synproxy_flags

__all__ = [
    "ConnlimitStmt",
    "CounterStmt",
    "DupStmt",
    "FlowOffloadStmt",
    "FwdStmt",
    "LastStmt",
    "LimitStmt",
    "LimitUnit",
    "LogFlag",
    "LogLevel",
    "LogStmt",
    "MangleStmt",
    "MapStmt",
    "MatchOp",
    "MatchStmt",
    "MeterStmt",
    "NatFlag",
    "NatStmt",
    "NatType",
    "NatTypeFlag",
    "NotrackStmt",
    "ObjrefStmt",
    "ObjrefType",
    "OptstripStmt",
    "QueueFlag",
    "QueueStmt",
    "QuotaStmt",
    "RejectStmt",
    "RejectType",
    "SetOp",
    "SetStmt",
    "Statement",
    "Stmt",
    "SynproxyStmt",
    "TimeUnit",
    "TproxyStmt",
    "VerdictMapStmt",
    "XtStmt",
]


class Statement(Node):
    """Base class of statement nodes. ``registry`` maps JSON keys to classes."""

    __slots__ = ()
    registry: ClassVar[dict[str, type[Statement]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("json_key"):
            Statement.registry[cls.json_key] = cls


#: Anything that can stand in a rule's statement list.
Stmt = Statement | VerdictExpr

#: NF_LOG_PREFIXLEN - 1: the kernel keeps at most 127 bytes of a log prefix.
LOG_PREFIX_MAX = 127


def _opt_name(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _validate.name(inst, attribute, value)


def _non_negative(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(inst, attribute.name, f"must be a non-negative integer, got {value!r}")


def _count(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        raise invalid(inst, attribute.name, "must be a non-negative integer, got None")
    _non_negative(inst, attribute, value)


def _family(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and value not in ("ip", "ip6"):
        raise invalid(inst, attribute.name, f"must be 'ip' or 'ip6', got {value!r}")


# --- matching and counting ------------------------------------------------------------------


class MatchOp(NftEnum):
    """Relational operators. ``==`` and ``in`` print implicitly (``tcp dport 22``)."""

    EQ = "=="
    NE = "!="
    LT = "<"
    GT = ">"
    LE = "<="
    GE = ">="
    NEG = "!"  # flags none of which is set: ``tcp flags ! fin,rst``
    IN = "in"


@attrs.frozen(kw_only=True)
class MatchStmt(Statement):
    """A relational match. Text: ``tcp dport 22``, ``meta mark != 0x00000001``.
    JSON: ``{"match": {"op": "==", "left": ..., "right": ...}}``."""

    json_key = "match"
    left: Expr = attrs.field(metadata=EXPR)
    op: MatchOp = attrs.field(default=MatchOp.EQ, converter=MatchOp)
    right: Expr = attrs.field(metadata={**EXPR, "hint": "left"})

    def __attrs_post_init__(self) -> None:
        # A trailing ``*`` is a wildcard in nft's string values (``iifname "eth*"``); a lone
        # ``"*"`` would match every name, and nft refuses it in text and JSON alike
        # ("All-wildcard strings are not supported"). ``"\\*"`` is a literal star.
        values = self.right.elements if isinstance(self.right, SetExpr) else (self.right,)
        for v in values:  # only strings: comparing an address with a str costs an exception
            if not isinstance(v, str) or not (v == "*" or odd_literal(v)):
                continue
            if v != "*":
                check_literal(self, "right", v)
            dt = expr_datatype(self.left)
            if dt is not None and dt.kind == "string":
                raise invalid(self, "right", f"{dt.name} value '*' (an all-wildcard string) "
                              "is not supported by nft; match any value by leaving the match out")


@attrs.frozen(kw_only=True)
class CounterStmt(Statement):
    """An anonymous counter. Text: ``counter packets 0 bytes 0`` (``counter`` stateless, as in
    set declarations and ``add @s { ... counter }``).
    JSON: ``{"counter": {"packets": 0, "bytes": 0}}``, stateless ``{"counter": null}``.

    A named counter is an ``ObjrefStmt`` (``counter name "http"``).
    """

    json_key = "counter"
    packets: int = attrs.field(default=0, validator=_non_negative)
    bytes: int = attrs.field(default=0, validator=_non_negative)


@attrs.frozen(kw_only=True)
class LastStmt(Statement):
    """When the rule last matched (kernel >= 5.19; nft 1.0.6 does not know it yet).

    Text: ``last used never``, ``last used 1s500ms`` (``last`` stateless).
    JSON: ``{"last": null}`` (never used), ``{"last": {"used": 1500}}``.
    ``used`` is in milliseconds, None when never used.
    """

    json_key = "last"
    used: int | None = attrs.field(default=None, validator=_non_negative)


class SizeUnit(NftEnum):
    BYTES = "bytes"
    KBYTES = "kbytes"
    MBYTES = "mbytes"


@attrs.frozen(kw_only=True)
class QuotaStmt(Statement):
    """An anonymous quota. Text: ``quota over 25 mbytes used 1024 bytes``.
    JSON: ``{"quota": {"val": 25, "val_unit": "mbytes", "inv": true, "used": 1,
    "used_unit": "kbytes"}}``.

    ``bytes`` and ``used`` are in bytes; ``inv`` is ``over``. A named quota is an
    ``ObjrefStmt`` (``quota name "q"``).
    """

    json_key = "quota"
    bytes: int = attrs.field(validator=_count)
    used: int = attrs.field(default=0, validator=_non_negative)
    inv: bool = _validate.flag()


class TimeUnit(NftEnum):
    """The ``per`` unit of a limit rate."""

    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


class LimitUnit(NftEnum):
    """What a limit counts: packets, or bytes (``limit rate 10 mbytes/second``)."""

    PACKETS = "packets"
    BYTES = "bytes"


def _default_burst(self: LimitStmt) -> int:
    # nft's defaults: 5 packets for packet limits, 0 bytes for byte limits (nft >= 1.0.6).
    return 5 if self.unit == LimitUnit.PACKETS else 0


@attrs.frozen(kw_only=True)
class LimitStmt(Statement):
    """A token-bucket rate limit.

    Text: ``limit rate 10/second burst 5 packets``, ``limit rate over 1 mbytes/second``.
    nft < 1.0.9 omits the default ``burst 5 packets``; byte limits print ``burst`` only when it
    is not 0.
    JSON: ``{"limit": {"rate": 10, "burst": 5, "per": "second"}}``; byte limits add
    ``"rate_unit": "mbytes", "burst_unit": "bytes"``; ``"inv": true`` is ``over``.

    For byte limits ``rate`` and ``burst`` are in bytes. A named limit is an ``ObjrefStmt``.
    A packet ``burst`` of 0 is stored as nft's default, 5.
    """

    json_key = "limit"
    rate: int = attrs.field(validator=_non_negative)
    per: TimeUnit = attrs.field(default=TimeUnit.SECOND, converter=TimeUnit)
    unit: LimitUnit = attrs.field(default=LimitUnit.PACKETS, converter=LimitUnit)
    burst: int = attrs.field(
        default=attrs.Factory(_default_burst, takes_self=True), validator=_non_negative
    )
    inv: bool = _validate.flag()

    def __attrs_post_init__(self) -> None:
        # nft has no packet burst of 0: its JSON reader takes 0 as the default 5 (and lists 5
        # back), its text parser refuses it ("packet limit burst must be > 0").
        if self.unit == LimitUnit.PACKETS and self.burst == 0:
            object.__setattr__(self, "burst", 5)  # frozen: normalise once, at construction


@attrs.frozen(kw_only=True)
class ConnlimitStmt(Statement):
    """A conntrack connection count limit. Text: ``ct count over 20``.
    JSON: ``{"ct count": {"val": 20, "inv": true}}``."""

    json_key = "ct count"
    count: int = attrs.field(validator=_non_negative, metadata={"json": "val"})
    inv: bool = _validate.flag()


class ObjrefType(NftEnum):
    """The kind of stateful object an ``ObjrefStmt`` refers to (its JSON key), in nft's listing
    order (``nftkit.nft.objects.OBJECTS``)."""

    COUNTER = "counter"
    QUOTA = "quota"
    CT_HELPER = "ct helper"
    LIMIT = "limit"
    TUNNEL = "tunnel"
    CT_TIMEOUT = "ct timeout"
    SECMARK = "secmark"
    CT_EXPECTATION = "ct expectation"
    SYNPROXY = "synproxy"


@attrs.frozen(kw_only=True)
class ObjrefStmt(Statement):
    """A reference to a named stateful object, by name or by a map lookup.

    Text: ``counter name "http"``, ``quota name ip saddr map @quotas``,
    ``ct helper set "ftp"``, ``ct timeout set "dns"``, ``ct expectation set "e"``,
    ``meta secmark set "ssh"``, ``synproxy name "s"``, ``limit name tcp dport map { 80 : "l" }``.
    JSON: ``{"counter": "http"}``, ``{"quota": {"map": {"key": ..., "data": "@quotas"}}}``,
    ``{"ct helper": "ftp"}`` (the key is ``type``).

    ``obj`` is the object's name (``str``) or a ``MapExpr`` whose data are names.
    """

    type: ObjrefType = attrs.field(converter=ObjrefType)
    obj: Expr = attrs.field(metadata=EXPR)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.obj, str):
            _validate.name(self, attrs.fields(ObjrefStmt).obj, self.obj)


# --- logging -------------------------------------------------------------------------------


class LogLevel(NftEnum):
    """Syslog levels of ``log level`` (``audit`` logs to the audit subsystem)."""

    EMERG = "emerg"
    ALERT = "alert"
    CRIT = "crit"
    ERR = "err"
    WARN = "warn"
    NOTICE = "notice"
    INFO = "info"
    DEBUG = "debug"
    AUDIT = "audit"


class LogFlag(StrEnum):
    """``log flags``; all five together print as ``flags all``."""

    TCP_SEQUENCE = "tcp sequence"
    TCP_OPTIONS = "tcp options"
    IP_OPTIONS = "ip options"
    SKUID = "skuid"
    ETHER = "ether"


def _log_flags(value: object) -> frozenset[LogFlag]:
    if isinstance(value, str):
        value = [value]
    if value is not None and "all" in value:  # type: ignore[operator]
        return frozenset(LogFlag)
    return to_flags(LogFlag, value)


def _log_level(value: LogLevel | str | None) -> LogLevel | None:
    # nft never prints "level warn": the kernel's default level is the same thing.
    if value is None:
        return None
    level = LogLevel(value)
    return None if level == LogLevel.WARN else level


def _log_prefix(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise invalid(inst, attribute.name, "must be a string")
    if any("\ud800" <= c <= "\udfff" for c in value):
        raise invalid(inst, attribute.name, f"{value!r} is not UTF-8 (a lone surrogate)")
    if len(value.encode()) > LOG_PREFIX_MAX:
        raise invalid(inst, attribute.name,
                      f"is {len(value.encode())} bytes, the kernel keeps {LOG_PREFIX_MAX}")
    # nft's text has no escape for a double quote, and a control character would break the
    # line-oriented listing.
    if '"' in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise invalid(inst, attribute.name,
                      f"{value!r} contains a double quote or control character")


@attrs.frozen(kw_only=True)
class LogStmt(Statement):
    """Log the packet.

    Text: ``log prefix "drop: " level debug flags tcp sequence,options flags ip options``,
    ``log group 2 snaplen 64 queue-threshold 10``.
    JSON: ``{"log": {"prefix": "drop: ", "level": "debug", "flags": ["tcp sequence",
    "tcp options", "ip options"]}}``; a bare ``log`` is ``{"log": null}``.

    ``group`` selects nflog (then ``level`` does not apply). ``level`` ``warn`` is the kernel
    default and is stored as None, as nft lists it.
    """

    json_key = "log"
    prefix: str | None = attrs.field(default=None, validator=_log_prefix)
    group: int | None = attrs.field(default=None, validator=_non_negative)
    snaplen: int | None = attrs.field(default=None, validator=_non_negative)
    queue_threshold: int | None = attrs.field(default=None, validator=_non_negative)
    level: LogLevel | None = attrs.field(default=None, converter=_log_level)
    flags: frozenset[LogFlag] = attrs.field(factory=frozenset, converter=_log_flags)

    def __attrs_post_init__(self) -> None:
        if self.group is not None and self.level is not None:
            raise invalid(self, "level", "level and group are mutually exclusive")


# --- verdict-like and packet-steering statements ---------------------------------------------


class RejectType(NftEnum):
    """``reject with <type>``: the JSON ``type`` member."""

    TCP_RESET = "tcp reset"
    ICMPX = "icmpx"
    ICMP = "icmp"
    ICMPV6 = "icmpv6"


@attrs.frozen(kw_only=True)
class RejectStmt(Statement):
    """Reject the packet.

    Text: ``reject``, ``reject with tcp reset``, ``reject with icmpx host-unreachable``,
    ``reject with icmp port-unreachable`` (the family's default code prints as plain
    ``reject``: ``icmpx port-unreachable`` everywhere, ``icmp`` in ip and ``icmpv6`` in ip6
    tables).
    JSON: ``{"reject": null}``, ``{"reject": {"type": "icmpx", "expr": "port-unreachable"}}``.

    ``code`` is the ICMP code: a name (``"host-unreachable"``) or a number.
    """

    json_key = "reject"
    type: RejectType | None = attrs.field(
        default=None, converter=attrs.converters.optional(RejectType))
    code: Expr | None = attrs.field(default=None, metadata={"json": "expr", **EXPR})

    def __attrs_post_init__(self) -> None:
        if self.code is not None and self.type in (None, RejectType.TCP_RESET):
            raise invalid(self, "code", "an ICMP code needs type icmpx, icmp or icmpv6")


class QueueFlag(StrEnum):
    BYPASS = "bypass"
    FANOUT = "fanout"


def _to_queue_flags(value: object) -> frozenset[QueueFlag]:
    return to_flags(QueueFlag, value)


@attrs.frozen(kw_only=True)
class QueueStmt(Statement):
    """Pass the packet to userspace.

    Text: ``queue flags bypass,fanout to 1-3``, ``queue to symhash mod 2``, ``queue to 0``.
    JSON: ``{"queue": {"num": {"range": [1, 3]}, "flags": ["bypass", "fanout"]}}``;
    ``{"queue": null}`` is queue 0.

    ``num`` is a number, a range, or an expression (``numgen``, ``jhash``, a map).
    """

    json_key = "queue"
    num: Expr | None = attrs.field(default=None, metadata=EXPR)
    flags: frozenset[QueueFlag] = attrs.field(factory=frozenset, converter=_to_queue_flags)


def _device_value(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """A device name given as a string: one meaning on every path (libnftables' JSON reads
    ``"@x"`` as a set reference, text and netlink as the name)."""
    if type(value) is str:
        check_literal(inst, attribute.name, value)


@attrs.frozen(kw_only=True)
class DupStmt(Statement):
    """Duplicate the packet.

    Text: ``dup to 10.0.0.1 device "eth0"`` (ip/ip6), ``dup to "eth0"`` (netdev).
    JSON: ``{"dup": {"addr": "10.0.0.1", "dev": "eth0"}}``, netdev ``{"dup": {"addr": "eth0"}}``.
    """

    json_key = "dup"
    addr: Expr | None = attrs.field(default=None, metadata=EXPR, validator=_device_value)
    dev: Expr | None = attrs.field(default=None, metadata=EXPR, validator=_device_value)


@attrs.frozen(kw_only=True)
class FwdStmt(Statement):
    """Forward the packet (netdev). Text: ``fwd to "eth0"``,
    ``fwd ip to 192.168.1.1 device "eth0"``.
    JSON: ``{"fwd": {"dev": "eth0", "family": "ip", "addr": "192.168.1.1"}}``."""

    json_key = "fwd"
    dev: Expr = attrs.field(metadata=EXPR, validator=_device_value)
    family: str | None = attrs.field(default=None, validator=_family)
    addr: Expr | None = attrs.field(default=None, metadata=EXPR)

    def __attrs_post_init__(self) -> None:
        if (self.family is None) != (self.addr is None):
            raise invalid(self, "addr", "give both family and addr, or neither")


@attrs.frozen(kw_only=True)
class NotrackStmt(Statement):
    """Do not track the connection. Text: ``notrack``. JSON: ``{"notrack": null}``."""

    json_key = "notrack"
    json_shape = "null"


@attrs.frozen(kw_only=True)
class FlowOffloadStmt(Statement):
    """Offload the flow to a flowtable. Text: ``flow add @ft``.
    JSON: ``{"flow": {"op": "add", "flowtable": "@ft"}}``."""

    json_key = "flow"
    flowtable: str = attrs.field(validator=_validate.name)


# --- NAT -----------------------------------------------------------------------------------


class NatType(NftEnum):
    """The NAT statement kind; also its JSON key."""

    SNAT = "snat"
    DNAT = "dnat"
    MASQUERADE = "masquerade"
    REDIRECT = "redirect"


class NatFlag(StrEnum):
    """NAT range flags. ``netmap`` is implied by ``prefix`` maps and never printed in text."""

    RANDOM = "random"
    FULLY_RANDOM = "fully-random"
    PERSISTENT = "persistent"
    NETMAP = "netmap"


def _to_nat_flags(value: object) -> frozenset[NatFlag]:
    return to_flags(NatFlag, value)


class NatTypeFlag(StrEnum):
    """How a NAT map's data is read: ``snat ip prefix to ...``, ``dnat ip interval to ...``."""

    INTERVAL = "interval"
    PREFIX = "prefix"
    CONCAT = "concat"


def _to_nat_type_flags(value: object) -> frozenset[NatTypeFlag]:
    return to_flags(NatTypeFlag, value)


@attrs.frozen(kw_only=True)
class NatStmt(Statement):
    """snat, dnat, masquerade or redirect.

    Text: ``snat ip to 10.0.0.1:1024-2048 random,persistent``, ``dnat to [c0::1a]:4242``,
    ``masquerade``, ``redirect to :8080``, ``dnat ip to ip saddr . tcp dport map @m``,
    ``snat ip prefix to ip saddr map { 10.0.0.0/24 : 10.1.0.0/24 }``.
    JSON: ``{"snat": {"family": "ip", "addr": "10.0.0.1", "port": {"range": [1024, 2048]},
    "flags": ["random", "persistent"]}}``, ``{"masquerade": null}``, ``"type_flags": "prefix"``.

    ``family`` is printed in inet tables (``dnat ip to``); ``addr`` and ``port`` are values,
    ranges or expressions (maps, ``numgen``).
    """

    type: NatType = attrs.field(converter=NatType)
    family: str | None = attrs.field(default=None, validator=_family)
    addr: Expr | None = attrs.field(default=None, metadata=EXPR)
    port: Expr | None = attrs.field(default=None, metadata=EXPR)
    flags: frozenset[NatFlag] = attrs.field(factory=frozenset, converter=_to_nat_flags)
    type_flags: frozenset[NatTypeFlag] = attrs.field(
        factory=frozenset, converter=_to_nat_type_flags, metadata={"json": "type_flags"}
    )

    def __attrs_post_init__(self) -> None:
        if self.addr is not None and self.type in (NatType.MASQUERADE, NatType.REDIRECT):
            raise invalid(self, "addr", f"{self.type} takes a port only")
        if self.type in (NatType.SNAT, NatType.DNAT) and self.addr is None and self.port is None:
            raise invalid(self, "addr", f"{self.type} needs an address or a port")


@attrs.frozen(kw_only=True)
class TproxyStmt(Statement):
    """Transparent proxy. Text: ``tproxy ip to 10.0.0.1:8080``, ``tproxy to :8080``.
    JSON: ``{"tproxy": {"family": "ip", "addr": "10.0.0.1", "port": 8080}}``."""

    json_key = "tproxy"
    family: str | None = attrs.field(default=None, validator=_family)
    addr: Expr | None = attrs.field(default=None, metadata=EXPR)
    port: Expr | None = attrs.field(default=None, metadata=EXPR)

    def __attrs_post_init__(self) -> None:
        if self.addr is None and self.port is None:
            raise invalid(self, "addr", "tproxy needs an address or a port")


@attrs.frozen(kw_only=True)
class SynproxyStmt(Statement):
    """An anonymous SYN proxy. Text: ``synproxy mss 1460 wscale 7 timestamp sack-perm``
    (nft prints both mss and wscale when either is set).
    JSON: ``{"synproxy": {"mss": 1460, "wscale": 7, "flags": ["timestamp", "sack-perm"]}}``,
    ``{"synproxy": null}``. A named one is an ``ObjrefStmt``."""

    json_key = "synproxy"
    mss: int | None = attrs.field(default=None, validator=_non_negative)
    wscale: int | None = attrs.field(default=None, validator=_non_negative)
    flags: frozenset[SynproxyFlag] = attrs.field(factory=frozenset, converter=synproxy_flags)


# --- changing packets and metadata -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class MangleStmt(Statement):
    """Set a header field, packet meta data or conntrack data (nft's payload_stmt, exthdr_stmt,
    meta_stmt and ct_stmt).

    Text: ``ip ttl set 64``, ``meta mark set 0x00000001``, ``ct mark set meta mark``,
    ``tcp option maxseg size set rt mtu``.
    JSON: ``{"mangle": {"key": {"meta": {"key": "mark"}}, "value": 1}}``.

    ``ct helper set "ftp"`` is an ``ObjrefStmt`` (nft reads a ``mangle`` of ``ct helper`` as one).
    """

    json_key = "mangle"
    key: Expr = attrs.field(metadata=EXPR)
    value: Expr = attrs.field(metadata=EXPR)


@attrs.frozen(kw_only=True)
class OptstripStmt(Statement):
    """Remove a TCP option (nft >= 1.0.1). Text: ``reset tcp option sack``.
    JSON: ``{"reset": {"tcp option": {"name": "sack"}}}``."""

    json_key = "reset"
    json_shape = "value"
    expr: Expr = attrs.field(metadata=EXPR)


# --- sets and maps from rules ----------------------------------------------------------------


class SetOp(NftEnum):
    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"


def _stateful(inst: Any, attribute: attrs.Attribute[Any], value: tuple[object, ...]) -> None:
    allowed = (CounterStmt, QuotaStmt, LimitStmt, ConnlimitStmt, LastStmt)
    for s in value:
        if not isinstance(s, allowed):
            raise invalid(inst, attribute.name,
                          f"{type(s).__name__} is not a stateful statement "
                          "(counter, quota, limit, ct count or last)")


@attrs.frozen(kw_only=True)
class SetStmt(Statement):
    """Add, update or delete an element of a named set from the packet path.

    Text: ``add @blocklist { ip saddr timeout 10s limit rate 10/second burst 5 packets }``.
    JSON: ``{"set": {"op": "add", "elem": ..., "set": "@blocklist", "stmt": [...]}}``.

    ``stmts`` are stateful statements attached to the element (printed stateless).
    """

    json_key = "set"
    op: SetOp = attrs.field(converter=SetOp)
    elem: Expr = attrs.field(metadata=EXPR)
    set: str = attrs.field(validator=_validate.name)
    stmts: tuple[Statement, ...] = attrs.field(default=(), converter=tuple, validator=_stateful)


@attrs.frozen(kw_only=True)
class MapStmt(Statement):
    """Add, update or delete an element of a named map from the packet path (the JSON ``map``
    statement, nft >= 1.0.9; older nft prints the statement's text as a JSON string).

    Text: ``update @m { ip saddr counter : 0x00000001 }``.
    JSON: ``{"map": {"op": "update", "elem": ..., "data": 1, "map": "@m", "stmt": [...]}}``.
    """

    json_key = "map"
    op: SetOp = attrs.field(converter=SetOp)
    elem: Expr = attrs.field(metadata=EXPR)
    data: Expr = attrs.field(metadata=EXPR)
    map: str = attrs.field(validator=_validate.name)
    stmts: tuple[Statement, ...] = attrs.field(default=(), converter=tuple, validator=_stateful)


@attrs.frozen(kw_only=True)
class MeterStmt(Statement):
    """A meter (deprecated: nft lists meters as dynamic sets plus a ``SetStmt`` today).

    Text: ``meter m size 128 { ip saddr limit rate 10/second }``.
    JSON: ``{"meter": {"key": ..., "stmt": {...}, "size": 128, "name": "m"}}``.
    """

    json_key = "meter"
    name: str = attrs.field(validator=_validate.name)
    key: Expr = attrs.field(metadata=EXPR)
    stmt: Statement = attrs.field(metadata=STMT)
    size: int = attrs.field(default=0, validator=_non_negative)


def check_vmap_data(self: Any) -> None:
    """``VerdictMapStmt``'s check: its data is an anonymous or a named verdict map, and no
    key of an anonymous one is a verdict (``verdict_key``)."""
    check_mappings(self, self.data)
    if isinstance(self.data, SetExpr) and any(verdict_key(e) for e in self.data.elements):
        raise invalid(self, "data", "a verdict cannot be a key")


@attrs.frozen(kw_only=True)
class VerdictMapStmt(Statement):
    """A verdict map lookup. Text: ``tcp dport vmap { 22 : accept, 80 : jump web }``,
    ``iifname vmap @ifaces``.
    JSON: ``{"vmap": {"key": ..., "data": {"set": [[22, {"accept": null}], ...]}}}``."""

    json_key = "vmap"
    key: Expr = attrs.field(metadata=EXPR)
    data: Expr = attrs.field(metadata=EXPR)

    # (a named function: the JSON reader's fast path makes the same check, and checks that
    # this is still the only one)
    __attrs_post_init__ = check_vmap_data


# --- text-only and opaque statements ----------------------------------------------------------


def _xt_name(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not (isinstance(value, str) and _XT_NAME.match(value)):
        raise invalid(inst, attribute.name, f"{value!r} is not an xtables extension name")


_XT_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,28}\Z")


@attrs.frozen(kw_only=True)
class XtStmt(Statement):
    """An xtables (iptables-nft) match or target that nft cannot translate.

    nft prints ``{"xt": {"type": "target", "name": "MASQUERADE"}}`` (older nft:
    ``{"xt": null}``) and text that nft cannot read back, so nftkit reads it as an opaque node
    and refuses to write it (``UnsupportedError``).
    """

    json_key = "xt"
    type: str | None = attrs.field(default=None, validator=_validate.one_of(
        frozenset({"match", "target", "watcher"}), optional=True))
    #: An xtables extension name (XT_EXTENSION_MAXNAMELEN is 29 with the NUL).
    name: str | None = attrs.field(default=None, validator=_xt_name)
