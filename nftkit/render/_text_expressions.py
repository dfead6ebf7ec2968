"""Text rendering of expressions (mixed into ``TextRenderer``).

Every method is named after the node's ``text_name`` and takes the node and the datatype the
surrounding context expects (``None`` when unknown), which drives how immediates print.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from socket import inet_ntoa
from typing import TYPE_CHECKING, Any, ClassVar

from .._node import Node
from ..errors import UnsupportedError, ValidationError
from ..model.datatypes import (
    Datatype,
    datatype,
    expr_datatype,
    format_addr,
    symbol,
)
from ..model.expressions import (
    BinopExpr,
    BinopOp,
    ConcatExpr,
    CtExpr,
    DccpoptExpr,
    ElemExpr,
    Expr,
    Expression,
    ExthdrExpr,
    FibExpr,
    FibFlag,
    IpoptExpr,
    IpsecExpr,
    JhashExpr,
    ListExpr,
    MapExpr,
    MetaExpr,
    NumgenExpr,
    OsfExpr,
    PayloadExpr,
    PrefixExpr,
    RangeExpr,
    RtExpr,
    SctpChunkExpr,
    SetExpr,
    SetRefExpr,
    SocketExpr,
    SymhashExpr,
    TcpoptExpr,
    VerdictExpr,
)
from ..nft.datatypes import BITMASKS, NOT_BARE_KINDS, NUMERIC_RANGES
from ..nft.releases import ReleaseProfile
from ..nft.selectors import META_BARE
from ..nft.symbols import SYMBOLS, SYSTEM_TABLES
from ..nft.units import DURATION_UNITS

if TYPE_CHECKING:
    from .context import RenderContext

__all__ = ["UNQUALIFIED_META", "ExpressionText", "element_texts", "seconds", "time_text"]

#: Meta keys nft prints without the ``meta`` keyword (nft's ``meta_key_is_unqualified``).
UNQUALIFIED_META = META_BARE

# nft's binop precedence: shifts bind tighter than &, then ^, then |.
_PRECEDENCE = {BinopOp.LSHIFT: 3, BinopOp.RSHIFT: 3, BinopOp.AND: 2, BinopOp.XOR: 1,
               BinopOp.OR: 0}


def time_text(ms: int) -> str:
    """Milliseconds as nft's ``time_print()`` writes them: ``90500`` -> ``1m30s500ms``
    (nft >= 1.1 writes 0 as ``0s``)."""
    if ms == 0:
        return "0s"
    out = []
    for unit, size in DURATION_UNITS:
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


def seconds(value: int) -> str:
    """Seconds as nft prints a relative time: ``90`` -> ``1m30s``, ``0`` -> ``0s``."""
    return time_text(value * 1000)


def element_texts(elements: tuple[Any, ...], key_text: Callable[[Any], str],
                  data_text: Callable[[Any], str], element: Callable[[Any], str]) -> list[str]:
    """The text of each element of a set body: keys and ``key : data`` pairs through the
    per-column formatters (their datatype checks done once), elements with options through
    ``element``."""
    texts = []
    for x in elements:
        if type(x) is tuple and not isinstance(x[0], (tuple, ElemExpr)):
            texts.append(key_text(x[0]) + " : " + data_text(x[1]))
        elif isinstance(x, (tuple, ElemExpr)):
            texts.append(element(x))
        else:
            texts.append(key_text(x))
    return texts


class ExpressionText:
    ctx: RenderContext
    #: node class -> renderer function (``value`` for immediates), per renderer class and
    #: filled on first use: one dict lookup per node instead of ``getattr`` by name.
    _expr_methods: ClassVar[dict[type, Callable[..., str]]] = {}

    if TYPE_CHECKING:

        def stmt(self, s: Any) -> str: ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._expr_methods = {}

    def expr(self, e: Any, dt: Datatype | None = None) -> str:
        """Any expression: a node via its method, an immediate formatted by ``dt``."""
        method = self._expr_methods.get(type(e))
        if method is None:
            method = self._expr_method(type(e))
        result: str = method(self, e, dt)
        return result

    def _expr_method(self, t: type) -> Callable[..., str]:
        if issubclass(t, Node) and not issubclass(t, Expression):  # (first lookup of a type)
            raise ValidationError(t.__name__, None, "not an expression, where one belongs")
        name = getattr(t, "text_name", None)
        method = getattr(type(self), name, None) if name else None
        if method is None:
            method = type(self).value
        self._expr_methods[t] = method
        return method

    def lhs_datatype(self, e: Any) -> Datatype | None:
        """``expr_datatype(e)``, cached for the selectors that print most (a payload's type
        depends only on its protocol and field, a meta's on its key, numgen's on nothing): a
        large ruleset asks for the type of ``ip daddr`` tens of thousands of times."""
        t = type(e)
        if t is PayloadExpr:
            key: Any = (e.protocol, e.field)
            release_types = _release_payload_types(self.ctx.release)
            if release_types and key in release_types:
                return release_types[key]
        elif t is MetaExpr:
            key = e.key
        elif t is NumgenExpr:
            key = None
        else:
            if t is BinopExpr and type(e.left) is PayloadExpr:  # ``ip frag-off & 0x1fff``
                release_types = _release_payload_types(self.ctx.release)
                key = (e.left.protocol, e.left.field)
                if release_types and key in release_types:
                    return release_types[key]
            return expr_datatype(e)
        cache = _LHS_DATATYPES[t]
        try:
            return cache[key]
        except KeyError:
            dt = cache[key] = expr_datatype(e)
            return dt

    def formatter(self, dt: Datatype | None) -> Callable[[Any], str]:
        """``lambda v: self.expr(v, dt)``, with the checks that depend only on ``dt`` done
        once: for the columns of a large set's elements (addresses, ports, protocols)."""
        expr = self.expr
        plain_int = _plain_int(dt)
        bare_ok = _bare_ok(dt)

        def fmt(v: Any) -> str:
            t = type(v)
            if t is IPv4Address:
                return inet_ntoa(v.packed)
            if t is int and plain_int:
                return str(v)
            if t is str and bare_ok and v in _BARE_SEEN:
                text: str = v
                return text
            return expr(v, dt)

        return fmt

    def value(self, v: Any, dt: Datatype | None, symbolic: bool = True) -> str:
        """An immediate, as nft prints a value of datatype ``dt`` (integers by their symbol
        unless ``symbolic`` is false)."""
        t = type(v)
        if t is IPv4Address:
            return inet_ntoa(v.packed)  # format_addr's (and str's) spelling, three times faster
        if t is int and _plain_int(dt):
            return str(v)  # no symbol: what the general case below comes to (``_symbol``)
        if t is str and v in _BARE_SEEN and _bare_ok(dt):
            word: str = v  # a word checked before, in a type that does not quote it
            return word
        kind = dt.kind if dt is not None else "dec"
        if isinstance(v, bool):
            return "exists" if v else "missing"
        if isinstance(v, int):
            name = _symbol(dt, v) if symbolic and kind != "number" else None
            if name is not None:
                return f'"{name}"' if kind == "qsymbol" else name
            if kind in ("hex", "symhex"):
                assert dt is not None
                return f"0x{v:0{dt.width}x}"
            if kind == "time":
                return seconds(v)
            return str(v)
        if isinstance(v, (IPv4Address, IPv6Address)):
            return format_addr(v)
        if isinstance(v, str):
            if kind == "number" and dt is not None and v in SYMBOLS.get(dt.name, {}):
                return str(SYMBOLS[dt.name][v])
            if kind == "string" or (kind in ("ifindex", "qsymbol") and not v.isdigit()):
                assert dt is not None
                return _quoted(v, dt)
            if v not in _BARE_SEEN:
                if not _BARE.fullmatch(v):
                    # a bare word is all nft's scanner may see: anything else (``;``, a
                    # space, ``$``, a quote) could change the meaning of the rule
                    raise UnsupportedError(f"{v!r} is not a symbol nft can read here")
                if len(_BARE_SEEN) < 4096:
                    _BARE_SEEN.add(v)
            return v
        raise UnsupportedError(f"cannot render {v!r} as an nft value")

    # --- selectors -----------------------------------------------------------------------

    def payload_expr(self, e: PayloadExpr, dt: Datatype | None) -> str:
        raw = e.base is not None
        text = f"@{e.base},{e.offset},{e.len}" if raw else f"{e.protocol} {e.field}"
        if e.tunnel is not None:
            # the tunnel's own header (``vxlan vni``) is not repeated
            text = f"{e.tunnel} {e.field}" if e.protocol == e.tunnel else f"{e.tunnel} {text}"
        return text

    def exthdr_expr(self, e: ExthdrExpr, dt: Datatype | None) -> str:
        if e.field is None:
            return f"exthdr {e.name}"
        if e.offset is not None:
            return f"{e.name} {e.field}[{e.offset}]"
        return f"{e.name} {e.field}"

    def tcpopt_expr(self, e: TcpoptExpr, dt: Datatype | None) -> str:
        if e.base is not None:
            if e.offset == 0 and e.len in (0, 8):  # the whole option kind: ``tcp option 6``
                return f"tcp option {e.base}"
            return f"tcp option @{e.base},{e.offset},{e.len}"
        return f"tcp option {e.name}" + (f" {e.field}" if e.field else "")

    def ipopt_expr(self, e: IpoptExpr, dt: Datatype | None) -> str:
        return f"ip option {e.name}" + (f" {e.field}" if e.field else "")

    def sctp_chunk_expr(self, e: SctpChunkExpr, dt: Datatype | None) -> str:
        return f"sctp chunk {e.name}" + (f" {e.field}" if e.field else "")

    def dccpopt_expr(self, e: DccpoptExpr, dt: Datatype | None) -> str:
        return f"dccp option {e.type}"

    def meta_expr(self, e: MetaExpr, dt: Datatype | None) -> str:
        return e.key if e.key in UNQUALIFIED_META else f"meta {e.key}"

    def ct_expr(self, e: CtExpr, dt: Datatype | None) -> str:
        parts = ["ct"]
        if e.dir:
            parts.append(e.dir)
        family = e.family
        if family is None and e.key in ("saddr", "daddr") and self.ctx.family in ("ip", "ip6"):
            family = self.ctx.family  # nft 1.0.6 JSON leaves out the family the table implies
        if family:
            parts.append(family)
        parts.append(e.key)
        return " ".join(parts)

    def rt_expr(self, e: RtExpr, dt: Datatype | None) -> str:
        return f"rt {e.family} {e.key}" if e.family else f"rt {e.key}"

    def socket_expr(self, e: SocketExpr, dt: Datatype | None) -> str:
        return f"socket {e.key}" + (f" level {e.level}" if e.level is not None else "")

    def osf_expr(self, e: OsfExpr, dt: Datatype | None) -> str:
        return "osf " + (f"ttl {e.ttl} " if e.ttl else "") + e.key

    def ipsec_expr(self, e: IpsecExpr, dt: Datatype | None) -> str:
        parts = ["ipsec", e.dir]
        if e.spnum:
            parts.append(f"spnum {e.spnum}")
        if e.family:
            parts.append(e.family)
        parts.append(e.key)
        return " ".join(parts)

    def numgen_expr(self, e: NumgenExpr, dt: Datatype | None) -> str:
        return f"numgen {e.mode} mod {e.mod}" + (f" offset {e.offset}" if e.offset else "")

    def jhash_expr(self, e: JhashExpr, dt: Datatype | None) -> str:
        text = f"jhash {self.expr(e.expr, expr_datatype(e.expr))} mod {e.mod}"
        if e.seed is not None:
            text += f" seed 0x{e.seed:x}"
        if e.offset:
            text += f" offset {e.offset}"
        return text

    def symhash_expr(self, e: SymhashExpr, dt: Datatype | None) -> str:
        return f"symhash mod {e.mod}" + (f" offset {e.offset}" if e.offset else "")

    def fib_expr(self, e: FibExpr, dt: Datatype | None) -> str:
        keys = " . ".join(f.value for f in FibFlag if f in e.flags)
        return f"fib {keys} {e.result}"

    # --- values and containers -----------------------------------------------------------

    def prefix_expr(self, e: PrefixExpr, dt: Datatype | None) -> str:
        return f"{self.expr(e.addr, dt)}/{e.len}"

    def range_expr(self, e: RangeExpr, dt: Datatype | None) -> str:
        if dt is not None and dt.kind == "time" and isinstance(e.low, int):
            # nft prints relative-time ranges in plain seconds: ``60s-3600s``
            return f"{e.low}s-{e.high}s"
        return f"{self.range_bound(e.low, dt)}-{self.range_bound(e.high, dt)}"

    def range_bound(self, v: Any, dt: Datatype | None) -> str:
        """nft prints the bounds of a range of a symbolic type by number:
        ``arp operation 1-2``, ``meta l4proto 33-45``, ``ether type 0x0800-0x0806`` (nft's
        JSON names them: ``["ip", "arp"]``)."""
        if isinstance(v, str) and dt is not None and (dt.name in NUMERIC_RANGES
                                                      or dt.name in SYMBOLS):
            v = SYMBOLS.get(dt.name, {}).get(v, v)
        if isinstance(v, int) and not isinstance(v, bool):
            return self.value(v, dt, symbolic=False)
        return self.expr(v, dt)

    def concat_expr(self, e: ConcatExpr, dt: Datatype | None) -> str:
        parts: tuple[Datatype | None, ...] = ()
        if dt is not None and dt.kind == "concat" and len(dt.parts) == len(e.exprs):
            parts = dt.parts
        else:
            parts = tuple(self.lhs_datatype(x) for x in e.exprs)
        if any(isinstance(x, Expression) for x in e.exprs):
            # a constant next to selectors (``ip saddr . "lo" @s``) takes its type from the
            # set, which is not known here; the one nft lets you write is an interface name
            parts = tuple(datatype("string") if p is None and isinstance(x, str) else p
                          for x, p in zip(e.exprs, parts, strict=True))
        return " . ".join(self.expr(x, p) for x, p in zip(e.exprs, parts, strict=True))

    def set_expr(self, e: SetExpr, dt: Datatype | None) -> str:
        return self.set_body(e.elements, dt, None)

    def set_body(self, elements: tuple[Any, ...], dt: Datatype | None,
                 data_dt: Datatype | None) -> str:
        """``{ a, b }`` / ``{ k : v, ... }`` (nft prints ``{ }`` around every anonymous set)."""
        texts = element_texts(elements, self.formatter(dt), self.formatter(data_dt),
                              lambda x: self.element(x, dt, data_dt))
        return "{ " + ", ".join(texts) + " }"

    def element(self, x: Any, dt: Datatype | None, data_dt: Datatype | None = None) -> str:
        if isinstance(x, tuple):
            return f"{self.expr(x[0], dt)} : {self.expr(x[1], data_dt)}"
        return self.expr(x, dt)

    def set_ref_expr(self, e: SetRefExpr, dt: Datatype | None) -> str:
        return "@" + e.name

    def list_expr(self, e: ListExpr, dt: Datatype | None) -> str:
        return ",".join(self.expr(v, dt) for v in e.values)

    def relational(self, left: Expr, op: str, right: Expr) -> str:
        """A match, ``left op right``, as nft prints it.

        ``==`` and ``in`` are implicit, except that nft spells out ``==`` when the left side
        is a bitwise operation or the right side a single value of a bitmask type
        (``tcp flags == syn``, ``ct mark & 0x0000000f == 0x00000001``).
        """
        t = type(left)
        if (isinstance(left, FibExpr) and left.result == "oif" and type(right) is bool
                and self.ctx.release.fib_check_text):
            left = left.replace(result="check")  # ``fib daddr check exists``
        if t is PayloadExpr or t is MetaExpr:  # the common case: none of the tests below apply
            dt = self.lhs_datatype(left)
            rt = inet_ntoa(right.packed) if type(right) is IPv4Address else self.expr(right, dt)
            lt = self.expr(left, dt)
            if op == "==" and type(right) is not ListExpr:
                # (nft folds ``tcp flags == syn | ack`` into one value: ``==`` is kept for it)
                if dt is not None and dt.name in BITMASKS and not isinstance(
                        right, (SetExpr, SetRefExpr, RangeExpr, PrefixExpr)):
                    return f"{lt} == {rt}"
                return f"{lt} {rt}"
            return self._spelled(lt, op, rt, right, dt)
        if isinstance(left, CtExpr) and left.family is None and left.key in ("saddr", "daddr"):
            # nft 1.0.6 JSON leaves the family out; the address on the right tells it
            family = _address_family(right)
            if family is not None:
                left = CtExpr(key=left.key, dir=left.dir, family=family)
        dt = self.lhs_datatype(left)
        rt = self.expr(right, dt)
        binop = isinstance(left, BinopExpr)
        if (isinstance(left, BinopExpr) and left.op is BinopOp.AND
                and isinstance(left.right, ListExpr) and not isinstance(left.left, BinopExpr)
                and not isinstance(right, (SetExpr, SetRefExpr))):
            # a flag test under a flag-list mask: ``tcp flags != syn / fin,syn``
            sel = self.expr(left.left, dt)
            mask = self.expr(left.right, dt)
            neg = "" if op in ("==", "in") else f"{op} "
            return f"{sel} {neg}{rt} / {mask}"
        lt = self.expr(left, dt)
        if op == "==" and type(right) is not ListExpr:
            # nft spells ``==`` out for a single value only: it lists the compare with an OR
            # chain as ``ct state established | related`` (which it reads back as ``in``;
            # a payload's OR chain, ``tcp flags``, nft folds into one value instead)
            if binop or (dt is not None and dt.name in BITMASKS and not isinstance(
                    right, (SetExpr, SetRefExpr, RangeExpr, PrefixExpr, BinopExpr))):
                return f"{lt} == {rt}"
            return f"{lt} {rt}"
        return self._spelled(lt, op, rt, right, dt)

    def _spelled(self, lt: str, op: str, rt: str, right: Expr, dt: Datatype | None) -> str:
        """``lt op rt`` for any other match: ``in`` is implicit; a flag list compared with
        ``==``/``!=`` is spelled out (nft reads an implicit one as the flag test ``in``)."""
        if op == "in":
            return f"{lt} {rt}"
        if op in ("==", "!=") and type(right) is ListExpr:
            return f"{lt} {op} {self._or_list(right, dt)}"
        return f"{lt} {op} {rt}"

    def _or_list(self, right: ListExpr, dt: Datatype | None) -> str:
        """A flag list compared with ``==``/``!=``: ``established | related``, one value, as
        nft lists it (``ct state a,b`` without ``==`` would be the flag test ``in``)."""
        return " | ".join(self.expr(v, dt) for v in right.values)

    def binop_expr(self, e: BinopExpr, dt: Datatype | None) -> str:
        ldt = self.lhs_datatype(e.left) or dt  # constants take the type of their context
        shifted = isinstance(e.left, BinopExpr) and e.left.op in (BinopOp.LSHIFT, BinopOp.RSHIFT)
        if shifted and ldt is not None and (
                ldt.kind in ("symbol", "symhex", "qsymbol")
                or (ldt.kind == "hex" and self.ctx.release.shifted_hex_integer)):
            # a shifted value is a plain hex integer (``ip dscp << 2 | 0x10``); nft 1.0.6
            # still types a shifted mark as a mark (``meta mark >> 8 & 0x0000000f``)
            ldt = datatype("hex_integer")
        rdt = ldt
        if e.op in (BinopOp.LSHIFT, BinopOp.RSHIFT):
            rdt = datatype("integer")  # the shift amount is a plain number
        return (f"{self.binop_arg(e, e.left, ldt)} {e.op.value} "
                f"{self.binop_arg(e, e.right, rdt, right=True)}")

    def binop_arg(self, parent: BinopExpr, arg: Expr, dt: Datatype | None,
                  right: bool = False) -> str:
        """An operand, parenthesized where nft's precedence would otherwise regroup it."""
        text = self.expr(arg, dt)
        if isinstance(arg, BinopExpr):
            p, q = _PRECEDENCE[parent.op], _PRECEDENCE[arg.op]
            if q < p or (right and q == p):
                return f"({text})"
        return text

    def map_expr(self, e: MapExpr, dt: Datatype | None) -> str:
        kdt = self.lhs_datatype(e.key)
        key = self.expr(e.key, kdt)
        if isinstance(e.data, SetExpr):
            return f"{key} map {self.set_body(e.data.elements, kdt, dt)}"
        return f"{key} map {self.expr(e.data, kdt)}"

    def elem_expr(self, e: ElemExpr, dt: Datatype | None) -> str:
        """``10.0.0.1 counter packets 0 bytes 0 timeout 30s expires 9s comment "x"``."""
        text = self.expr(e.val, dt)
        for stmt in e.stmts:
            text += " " + self.stmt(stmt)
        if e.timeout:
            text += f" timeout {_ms(e.timeout)}"
        if e.expires and not self.ctx.stateless:
            text += f" expires {_ms(e.expires)}"
        if e.comment is not None:
            text += f' comment "{e.comment}"'
        return text

    def verdict_expr(self, e: VerdictExpr, dt: Datatype | None = None) -> str:
        kind: str = e.kind._value_  # the member's value without the enum property's cost
        return kind if e.target is None else f"{kind} {e.target}"


#: What may stand unquoted as a value: symbols (``established``, ``ipv6-icmp``, ``8021q``),
#: ``major:minor`` handles, MAC addresses, and the catch-all element ``*``.
_BARE = re.compile(r"\*|[A-Za-z0-9_][A-Za-z0-9_.:/\-]*")
#: Bare words already checked against ``_BARE`` (``tcp``, ``established``): bounded.
_BARE_SEEN: set[str] = set()
#: ``lhs_datatype``'s caches: selector class -> the fields its datatype depends on -> datatype.
_LHS_DATATYPES: dict[type, dict[Any, Datatype | None]] = {
    PayloadExpr: {}, MetaExpr: {}, NumgenExpr: {}}


def _plain_int(dt: Datatype | None) -> bool:
    """Whether an integer of datatype ``dt`` prints as ``str(int)``: no symbol table, decimal."""
    return dt is None or (dt.kind == "dec" and dt.name not in SYMBOLS
                          and dt.name not in _SYSTEM_TABLES and dt.name != "tc_handle")


def _bare_ok(dt: Datatype | None) -> bool:
    """Whether a word valid as a bare symbol prints as itself in datatype ``dt``."""
    return dt is None or dt.kind not in NOT_BARE_KINDS


@functools.cache
def _release_payload_types(release: ReleaseProfile) -> dict[tuple[str, str], Datatype]:
    """Payload fields whose values ``release`` prints unlike their datatype: icmp codes as
    numbers (``icmp_code_names``), ``ip frag-off`` in hex (``frag_off_hex``)."""
    out: dict[tuple[str, str], Datatype] = {}
    if not release.icmp_code_names:
        for proto in ("icmp", "icmpv6"):
            out[(proto, "code")] = Datatype(name=f"{proto}_code", kind="number", bits=8)
    if release.frag_off_hex:
        out[("ip", "frag-off")] = Datatype(name="hex_integer", kind="hex", bits=16)
    return out


def _quoted(v: str, dt: Datatype) -> str:
    """A string value in double quotes; nft's quoted strings have no escapes, so one it would
    misread (a quote, a control character), or refuse (empty, longer than the datatype), is
    rejected rather than emitted."""
    if not v:
        raise UnsupportedError(f"an empty {dt.name} string cannot be written as nft text")
    if '"' in v or any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in v):
        raise UnsupportedError(f"{dt.name} value {v!r} has a quote, a control character or a "
                               "lone surrogate (not UTF-8), which nft text cannot carry")
    if dt.kind == "string" and dt.bits and len(v.encode()) >= dt.bits // 8:
        raise UnsupportedError(f"{dt.name} value {v!r} is longer than "
                               f"{dt.bits // 8 - 1} bytes")
    return f'"{v}"'


def _symbol(dt: Datatype | None, value: int) -> str | None:
    """The symbol nft prints for an integer of datatype ``dt``, if any: nft's own tables, then
    the system's (``/etc/protocols``, ``/etc/iproute2``), which nft reads the same way."""
    if dt is None:
        return None
    if dt.name == "tc_handle":
        if value == 0xFFFFFFFF:
            return "root"
        return "none" if value == 0 else f"{value >> 16:x}:{value & 0xFFFF:x}"
    table = _SYSTEM_TABLES.get(dt.name)
    if table is not None:
        return _system_table(*table).get(value)
    return symbol(dt, value)


#: Datatypes whose symbols come from a system file: (paths, name column first?).
_SYSTEM_TABLES = SYSTEM_TABLES


@functools.cache
def _system_table(paths: tuple[str, ...], name_first: bool) -> dict[int, str]:
    """number -> name from the first readable file (first name of a number wins, as with
    ``getprotobynumber``); empty when there is none, and nft then prints numbers too."""
    for path in paths:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        out: dict[int, str] = {}
        for line in lines:
            words = line.split("#", 1)[0].split()
            if len(words) < 2:
                continue
            name, number = (words[0], words[1]) if name_first else (words[1], words[0])
            try:
                out.setdefault(int(number, 0), name)
            except ValueError:
                continue
        return out
    return {}


def _address_family(e: Any) -> str | None:
    """``ip``/``ip6`` for the first address found in a value expression, else None."""
    if isinstance(e, IPv4Address):
        return "ip"
    if isinstance(e, IPv6Address):
        return "ip6"
    if isinstance(e, (PrefixExpr, RangeExpr, SetExpr, ElemExpr)):
        for child in e.children():
            found = _address_family(child)
            if found:
                return found
        if isinstance(e, (RangeExpr, SetExpr)):
            values = (e.low, e.high) if isinstance(e, RangeExpr) else e.elements
            for v in values:
                found = _address_family(v)
                if found:
                    return found
    return None


def _ms(ms: int) -> str:
    """Milliseconds as nft prints a timeout: ``90000`` -> ``1m30s``, ``500`` -> ``500ms``."""
    return time_text(ms) if ms else "0ms"
