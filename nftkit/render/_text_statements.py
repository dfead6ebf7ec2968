"""Text rendering of statements (mixed into ``TextRenderer``). Methods take the node only.

Each method is named after the statement's ``text_name`` and reproduces what nft's
``src/statement.c`` prints for it, for the target nft version in ``self.ctx``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import UnsupportedError, ValidationError
from ..model.datatypes import Datatype, datatype, expr_datatype
from ..model.expressions import RangeExpr, SetRefExpr, VerdictExpr
from ..model.ruleset import ChainStmt
from ..model.statements import (
    ConnlimitStmt,
    CounterStmt,
    DupStmt,
    FlowOffloadStmt,
    FwdStmt,
    LastStmt,
    LimitStmt,
    LimitUnit,
    LogFlag,
    LogStmt,
    MangleStmt,
    MapStmt,
    MatchStmt,
    MeterStmt,
    NatFlag,
    NatStmt,
    NatTypeFlag,
    NotrackStmt,
    ObjrefStmt,
    ObjrefType,
    OptstripStmt,
    QueueFlag,
    QueueStmt,
    QuotaStmt,
    RejectStmt,
    RejectType,
    SetStmt,
    Statement,
    SynproxyStmt,
    TproxyStmt,
    VerdictMapStmt,
    XtStmt,
)
from ..nft.families import ADDRESS_TYPES
from ..nft.units import byte_unit
from ._text_expressions import time_text

if TYPE_CHECKING:
    from ..model.ruleset import Rule
    from .context import RenderContext

__all__ = ["StatementText", "byte_unit", "time_text"]


def _ordered(values: Iterable[Any], order: Iterable[Any]) -> list[str]:
    present = set(values)
    return [m.value for m in order if m in present]


def _quoted(name: str) -> str:
    # Names are validated by the model (no quote, no control character).
    return f'"{name}"'


_IFNAME = datatype("ifname")
_STRING = datatype("string")
_SERVICE = datatype("inet_service")
_ADDR = {family: datatype(name) for family, name in ADDRESS_TYPES.items()}

#: The reject code each family uses when none is given: printed as a bare ``reject``.
_DEFAULT_REJECT = {
    RejectType.ICMPX: ("port-unreachable", None),
    RejectType.ICMP: ("port-unreachable", "ip"),
    RejectType.ICMPV6: ("port-unreachable", "ip6"),
}

_OBJREF_PREFIX = {
    ObjrefType.CT_HELPER: "ct helper set",
    ObjrefType.CT_TIMEOUT: "ct timeout set",
    ObjrefType.CT_EXPECTATION: "ct expectation set",
    ObjrefType.SECMARK: "meta secmark set",
}


class StatementText:
    ctx: RenderContext
    #: statement class -> renderer function, per renderer class and filled on first use.
    _stmt_methods: ClassVar[dict[type, Callable[[Any, Any], str]]] = {}

    if TYPE_CHECKING:

        def expr(self, e: Any, dt: Datatype | None = None) -> str: ...
        def at(self, **changes: Any) -> StatementText: ...
        def rule(self, r: Rule) -> str: ...
        def relational(self, left: Any, op: str, right: Any) -> str: ...
        def lhs_datatype(self, e: Any) -> Datatype | None: ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._stmt_methods = {}

    def stmt(self, s: Any) -> str:
        method = self._stmt_methods.get(type(s))
        if method is None:
            method = self._stmt_method(type(s))
        result: str = method(self, s)
        return result

    def _stmt_method(self, t: type) -> Callable[[Any, Any], str]:
        """The renderer function of statement class ``t`` (a verdict takes no datatype)."""
        if not issubclass(t, (Statement, VerdictExpr)):  # (only on a type's first lookup)
            raise ValidationError(t.__name__, None, "not a statement")
        name: str = t.text_name
        method: Callable[..., str] = getattr(type(self), name)
        if name == "verdict_expr":
            verdict = method

            def method(self: Any, s: Any) -> str:
                return verdict(self, s, None)

        self._stmt_methods[t] = method
        return method

    def _stateless(self, stmts: Iterable[Any]) -> str:
        """Statements attached to a set element, printed stateless as nft does."""
        sub = self.at(stateless=True)
        return "".join(" " + sub.stmt(s) for s in stmts)

    # --- matching and counting ------------------------------------------------------------

    def match_stmt(self, s: MatchStmt) -> str:
        return self.relational(s.left, s.op._value_, s.right)

    def counter_stmt(self, s: CounterStmt) -> str:
        if self.ctx.stateless:
            return "counter"
        return f"counter packets {s.packets} bytes {s.bytes}"

    def last_stmt(self, s: LastStmt) -> str:
        if self.ctx.stateless:
            return "last"
        return "last used " + ("never" if s.used is None else time_text(s.used))

    def quota_stmt(self, s: QuotaStmt) -> str:
        amount, unit = byte_unit(s.bytes)
        out = f"quota {'over ' if s.inv else ''}{amount} {unit}"
        if s.used and not self.ctx.stateless:
            used, used_unit = byte_unit(s.used)
            out += f" used {used} {used_unit}"
        return out

    def limit_stmt(self, s: LimitStmt) -> str:
        over = "over " if s.inv else ""
        if s.unit == LimitUnit.PACKETS:
            out = f"limit rate {over}{s.rate}/{s.per.value}"
            # the default 5 is left out where the release does not print it
            if self.ctx.release.limit_default_burst or s.burst not in (0, 5):
                out += f" burst {s.burst} packets"
            return out
        rate, unit = byte_unit(s.rate)
        out = f"limit rate {over}{rate} {unit}/{s.per.value}"
        if s.burst:
            burst, burst_unit = byte_unit(s.burst)
            out += f" burst {burst} {burst_unit}"
        return out

    def connlimit_stmt(self, s: ConnlimitStmt) -> str:
        return f"ct count {'over ' if s.inv else ''}{s.count}"

    def objref_stmt(self, s: ObjrefStmt) -> str:
        prefix = _OBJREF_PREFIX.get(s.type, f"{s.type.value} name")
        return f"{prefix} {self._objref_target(s.obj)}"

    def _objref_target(self, obj: Any) -> str:
        if isinstance(obj, str):
            return _quoted(obj)
        # A map's data are object names: nft quotes them.
        return self._typed_map(obj, _STRING)

    def _typed_map(self, e: Any, data_dt: Datatype | None) -> str:
        """An expression whose value (or, for a map lookup, whose data) has the datatype
        ``data_dt``: object names and interface names print quoted."""
        return self.expr(e, data_dt)

    # --- logging -------------------------------------------------------------------------

    def log_stmt(self, s: LogStmt) -> str:
        out = "log"
        if s.prefix is not None:
            if "$" in s.prefix:
                # nft expands "$name" inside a log prefix: it would not read this back.
                raise UnsupportedError(
                    f"LogStmt.prefix: {s.prefix!r} contains '$', which nft's text parser "
                    "expands as a variable; use JSON for this prefix")
            out += f' prefix "{s.prefix}"'
        if s.group is not None:
            out += f" group {s.group}"
        if s.snaplen is not None:
            out += f" snaplen {s.snaplen}"
        if s.queue_threshold is not None:
            out += f" queue-threshold {s.queue_threshold}"
        if s.level is not None:
            out += f" level {s.level.value}"
        if s.flags == frozenset(LogFlag):
            return out + " flags all"
        tcp = [w for f, w in ((LogFlag.TCP_SEQUENCE, "sequence"), (LogFlag.TCP_OPTIONS, "options"))
               if f in s.flags]
        if tcp:
            out += " flags tcp " + ",".join(tcp)
        for flag in (LogFlag.IP_OPTIONS, LogFlag.SKUID, LogFlag.ETHER):
            if flag in s.flags:
                out += f" flags {flag.value}"
        return out

    # --- verdict-like and packet-steering statements ---------------------------------------

    def reject_stmt(self, s: RejectStmt) -> str:
        if s.type is None:
            return "reject"
        if s.type == RejectType.TCP_RESET:
            return "reject with tcp reset"
        default = _DEFAULT_REJECT[s.type]
        if s.code == default[0] and default[1] in (None, self.ctx.family):
            return "reject"
        return f"reject with {s.type.value} {self.expr(s.code)}"

    def queue_stmt(self, s: QueueStmt) -> str:
        out = "queue"
        if s.flags:
            out += " flags " + ",".join(_ordered(s.flags, QueueFlag))
        return out + " to " + ("0" if s.num is None else self.expr(s.num, None))

    def _device(self, e: Any) -> str:
        return self._typed_map(e, _IFNAME)

    def dup_stmt(self, s: DupStmt) -> str:
        if s.addr is None:
            return "dup"
        if s.dev is None and self.ctx.family == "netdev":
            return f"dup to {self._device(s.addr)}"  # netdev: the address is the device
        out = f"dup to {self.expr(s.addr, expr_datatype(s.addr))}"
        if s.dev is not None:
            out += f" device {self._device(s.dev)}"
        return out

    def fwd_stmt(self, s: FwdStmt) -> str:
        if s.addr is not None:
            addr = self.expr(s.addr, _ADDR.get(s.family or ""))
            return f"fwd {s.family} to {addr} device {self._device(s.dev)}"
        return f"fwd to {self._device(s.dev)}"

    def notrack_stmt(self, s: NotrackStmt) -> str:
        return "notrack"

    def flow_offload_stmt(self, s: FlowOffloadStmt) -> str:
        return f"flow add @{s.flowtable}"

    # --- NAT -----------------------------------------------------------------------------

    def _nat_addr(self, addr: Any, family: str | None, with_port: bool) -> str:
        # An IPv6 address followed by a port is bracketed: [c0::1a]:4242.
        dt = _ADDR.get(family or "")
        if with_port:
            if isinstance(addr, IPv6Address):
                return f"[{addr}]"
            if isinstance(addr, RangeExpr) and isinstance(addr.low, IPv6Address):
                return f"[{addr.low}]-[{self.expr(addr.high, dt)}]"
        return self.expr(addr, dt)

    def nat_stmt(self, s: NatStmt) -> str:
        out: str = s.type._value_
        if s.addr is not None or s.port is not None:
            if s.family is not None:
                out += f" {s.family}"
            if s.type_flags and NatTypeFlag.PREFIX in s.type_flags:
                out += " prefix"
            out += " to"
        if s.addr is not None:
            out += " " + self._nat_addr(s.addr, s.family, s.port is not None)
        if s.port is not None:
            out += ("" if s.addr is not None else " ") + ":" + self.expr(s.port, _SERVICE)
        # netmap is implied by "prefix" and not printed.
        if s.flags:
            shown = _ordered(s.flags, (NatFlag.RANDOM, NatFlag.FULLY_RANDOM, NatFlag.PERSISTENT))
            if shown:
                out += " " + ",".join(shown)
        return out

    def tproxy_stmt(self, s: TproxyStmt) -> str:
        out = "tproxy"
        if s.family is not None:
            out += f" {s.family}"
        out += " to"
        if s.addr is not None:
            if isinstance(s.addr, IPv6Address):
                out += f" [{s.addr}]"
            else:
                out += " " + self.expr(s.addr, _ADDR.get(s.family or ""))
        if s.port is not None and (isinstance(s.port, int)
                                   or self.ctx.release.tproxy_port_expressions):
            out += ("" if s.addr is not None else " ") + ":" + self.expr(s.port, _SERVICE)
        return out

    def synproxy_stmt(self, s: SynproxyStmt) -> str:
        opts = "".join(" " + f for f in ("timestamp", "sack-perm") if f in s.flags)
        # nft prints both mss and wscale as soon as either is set.
        if s.mss is not None or s.wscale is not None:
            return f"synproxy mss {s.mss or 0} wscale {s.wscale or 0}{opts}"
        return "synproxy" + opts

    # --- changing packets and metadata -----------------------------------------------------

    def mangle_stmt(self, s: MangleStmt) -> str:
        dt = self.lhs_datatype(s.key)
        return f"{self.expr(s.key, dt)} set {self.expr(s.value, dt)}"

    def optstrip_stmt(self, s: OptstripStmt) -> str:
        return f"reset {self.expr(s.expr)}"

    # --- sets and maps from rules ----------------------------------------------------------

    def set_stmt(self, s: SetStmt) -> str:
        elem = self.expr(s.elem, expr_datatype(s.elem))
        return f"{s.op.value} @{s.set} {{ {elem}{self._stateless(s.stmts)} }}"

    def _map_data_datatype(self, name: str) -> Datatype | None:
        """The data datatype of the named map, when the context knows the table's maps
        (``ctx.sets``: name -> Set/Map); a constant's spelling depends on it (a mark prints
        as ``0x00000002``)."""
        sets = getattr(self.ctx, "sets", None) or {}
        m = sets.get(name)
        if m is None or not getattr(m, "is_map", False):
            return None
        if m.data_typeof is not None:
            return expr_datatype(m.data_typeof)
        return datatype(m.data_type[0]) if len(m.data_type) == 1 else None

    def map_stmt(self, s: MapStmt) -> str:
        elem = self.expr(s.elem, expr_datatype(s.elem))
        data = self.expr(s.data, expr_datatype(s.data) or self._map_data_datatype(s.map))
        return f"{s.op.value} @{s.map} {{ {elem}{self._stateless(s.stmts)} : {data} }}"

    def meter_stmt(self, s: MeterStmt) -> str:
        key = self.expr(s.key, expr_datatype(s.key))
        return f"meter {s.name} size {s.size} {{ {key}{self._stateless((s.stmt,))} }}"

    def verdict_map_stmt(self, s: VerdictMapStmt) -> str:
        dt = self.lhs_datatype(s.key)
        data = s.data
        if isinstance(data, SetRefExpr):
            return f"{self.expr(s.key, dt)} vmap @{data.name}"
        return f"{self.expr(s.key, dt)} vmap {self.expr(data, dt)}"

    # --- text-only and opaque statements ----------------------------------------------------

    def chain_stmt(self, s: ChainStmt) -> str:
        body = "".join(f"\t\t\t{self.rule(r)}\n" for r in s.rules)
        return f"{s.kind} {{\n{body}\t\t}}"

    def xt_stmt(self, s: XtStmt) -> str:
        raise UnsupportedError(
            f"xt {s.type or ''} {s.name or ''}: an iptables-nft (xtables) statement has no "
            "nft text form; manage this rule with iptables-nft")
