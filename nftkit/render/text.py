"""Model -> nft text: the block form ``nft list ruleset`` prints, and ``nft -f`` commands.

``TextRenderer`` combines the expression and statement mixins with the containers defined
here. Output targets the installed nft's version (see ``RenderContext``); where releases
differ the renderer reads the release profile ``ctx.release`` (``nftkit.nft.releases``):

- ``quoted_devices``: 1.1 quotes names in ``devices = { "eth0", "eth1" }``; 1.0.6 does not;
- ``element_per_line``, ``set_size_count``: 1.1 prints elements one per line for maps, sets
  with timeouts, statements, concatenated keys or element comments, and appends ``# count N``
  to ``size``; otherwise both wrap by the key's datatype (5 integers, 2 IPv4 addresses or 1 of
  anything else per line);
- ``ct_timeout_durations``: 1.1 prints ct timeout policies as ``15s``, 1.0.6 as ``15``.

Block form (``to_text``)::

    table inet t {
            set s {
                    type ipv4_addr
                    flags interval
                    elements = { 10.0.0.0/8, 192.168.0.0/16 }
            }

            chain input {
                    type filter hook input priority filter; policy drop;
                    ip saddr @s accept
            }
    }

Command form (``to_script``)::

    add table inet t
    add chain inet t input { type filter hook input priority filter; policy drop; }
    add set inet t s { type ipv4_addr; flags interval; }
    add element inet t s { 10.0.0.0/8, 192.168.0.0/16 }
    add rule inet t input ip saddr @s accept
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from ipaddress import IPv4Address
from socket import inet_ntoa
from typing import Any

from .._node import Node
from ..errors import NftkitError, UnsupportedError
from ..model.datatypes import Datatype, datatype, expr_datatype
from ..model.enums import (
    ChainPolicy,
    Family,
    FlowtableFlag,
    SetFlag,
    SetPolicy,
    SynproxyFlag,
    TableFlag,
)
from ..model.expressions import ConcatExpr, ElemExpr
from ..model.objects import (
    Counter,
    CtExpectation,
    CtHelper,
    CtTimeout,
    Limit,
    NamedObject,
    Quota,
    Secmark,
    Synproxy,
)
from ..model.ruleset import Chain, Flowtable, Rule, Ruleset, Table
from ..model.sets import Map, Set
from ..nft.datatypes import FIVE_PER_LINE, TWO_PER_LINE
from ._text_expressions import ExpressionText, _plain_int, element_texts
from ._text_statements import StatementText, byte_unit, time_text
from .context import RenderContext

__all__ = ["TextRenderer", "to_script", "to_text"]


class TextRenderer(ExpressionText, StatementText):
    """Renders nodes as nft text in a ``RenderContext``."""

    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx

    def at(self, **changes: Any) -> TextRenderer:
        """A renderer for a nested scope (another family, table or chain)."""
        return TextRenderer(self.ctx.scoped(**changes))

    # --- block form: what `nft list ruleset` prints ------------------------------------

    def ruleset(self, rs: Ruleset) -> str:
        return "".join(self.table(t) for t in rs.tables)

    def _handle(self, node: Any) -> str:
        if self.ctx.handles and node.handle is not None:
            return f" # handle {node.handle}"
        return ""

    def table(self, t: Table) -> str:
        """``table inet t {``, flags, comment, then objects, sets, flowtables and chains, each
        block preceded by a blank line except the first when there are no flags (rule.c
        table_print)."""
        sub = self.at(family=t.family.value, table=t.name, sets={s.name: s for s in t.sets})
        out = [f"table {t.family.value} {t.name} {{{self._handle(t)}\n"]
        delim = ""
        if t.flags:
            out.append("\tflags " + ",".join(f.value for f in TableFlag if f in t.flags) + "\n")
            delim = "\n"
        if t.comment is not None:
            out.append(f'\tcomment "{t.comment}"\n')
        blocks = [sub.object(o) for o in t.objects]
        blocks += [sub.set(s) for s in t.sets]
        blocks += [sub.flowtable(f) for f in t.flowtables]
        blocks += [sub.chain(c) for c in t.chains]
        for block in blocks:
            out.append(delim + block)
            delim = "\n"
        out.append("}\n")
        return "".join(out)

    def chain(self, c: Chain) -> str:
        """A chain block, ending in a newline."""
        # Rules render in this renderer's context, not in one scoped to the chain: no text form
        # depends on ``ctx.chain`` (JSON rules name their chain), and a context per chain was
        # a tenth of the time of a large ruleset.
        head = f"\tchain {c.name} {{{self._handle(c)}"
        if c.comment is not None:
            head += f'\n\t\tcomment "{c.comment}"'
        if c.hook is not None:  # c.is_base
            head += "\n\t\t" + self.chain_spec(c)
        if not c.rules:
            return head + "\n\t}\n"
        rule = self.rule
        return head + "\n\t\t" + "\n\t\t".join([rule(r) for r in c.rules]) + "\n\t}\n"

    def chain_spec(self, c: Chain, *, policy_default: bool = True) -> str:
        """``type filter hook input priority filter; policy accept;``"""
        assert c.type is not None and c.hook is not None and c.priority is not None
        spec = f"type {c.type.value} hook {c.hook.value}"
        if len(c.devices) == 1:
            spec += f' device "{c.devices[0]}"'
        elif c.devices:
            spec += " devices = { " + self.device_list(c.devices) + " }"
        prio = c.priority.spelling(self.ctx.family, c.hook,
                                   dstnat_output=self.ctx.release.dstnat_on_output)
        spec += f" priority {prio};"
        # The kernel always reports a base chain's policy; accept is its default.
        if c.policy is not None or policy_default:
            spec += f" policy {(c.policy or ChainPolicy.ACCEPT).value};"
        return spec

    def device_list(self, devices: tuple[str, ...]) -> str:
        """nft >= 1.1 quotes the names in ``devices = { ... }``; 1.0.6 prints them bare."""
        if self.ctx.release.quoted_devices:
            return ", ".join(f'"{d}"' for d in devices)
        return ", ".join(devices)

    def rule(self, r: Rule) -> str:
        methods = self._stmt_methods  # StatementText.stmt, inlined: rules are most of a ruleset
        parts = []
        for s in r.stmts:
            method = methods.get(type(s)) or self._stmt_method(type(s))
            parts.append(method(self, s))
        if r.comment is not None:
            parts.append(f'comment "{r.comment}"')
        if self.ctx.handles:
            return " ".join(parts) + self._handle(r)
        return " ".join(parts)

    # --- sets and maps -----------------------------------------------------------------

    def set(self, s: Set) -> str:
        """A set or map block in nft's property order (rule.c set_print_declaration)."""
        kw = "map" if isinstance(s, Map) else "set"
        lines = [f"\t{kw} {s.name} {{{self._handle(s)}", "\t\t" + self.set_key(s)]
        for prop in self.set_properties(s):
            lines.append("\t\t" + prop)
        if s.elements:
            lines.append("\t\telements = " + self.set_elements(s))
        lines.append("\t}")
        return "\n".join(lines) + "\n"

    def set_key(self, s: Set) -> str:
        """``type ipv4_addr . inet_service : verdict`` or ``typeof ip saddr : meta mark``."""
        if s.typeof is not None:
            text = "typeof " + self.expr(s.typeof)
        else:
            text = "type " + " . ".join(s.type)
        if isinstance(s, Map):
            text += " : interval " if s.data_interval else " : "
            if s.data_typeof is not None:
                text += self.expr(s.data_typeof)
            else:
                text += " . ".join(s.data_type)
        return text

    def set_properties(self, s: Set, *, count: bool = True) -> list[str]:
        """The lines between the key and the elements: policy, size, flags, statements,
        auto-merge, timeout, gc-interval, comment."""
        props = []
        if SetFlag.CONSTANT not in s.flags:
            if s.policy is not None and s.policy is not SetPolicy.PERFORMANCE:
                props.append(f"policy {s.policy.value}")
            if s.size:
                size = f"size {s.size}"
                # nft 1.1 appends the kernel's element count; ours is the elements we hold.
                if count and self.ctx.release.set_size_count and s.elements:
                    size += f"\t# count {len(s.elements)}"
                props.append(size)
        # A lone "timeout" flag is implied by a default timeout, and nft leaves the line out
        # then; with other flags the line shows them all (rule.c set_print_declaration).
        if s.flags - ({SetFlag.TIMEOUT} if s.timeout else set()):
            props.append("flags " + ",".join(f.value for f in _SET_FLAG_TEXT_ORDER
                                             if f in s.flags))
        if s.stmts:
            stateless = self.at(stateless=True)  # set declarations print stateless
            props.append(" ".join(stateless.stmt(st) for st in s.stmts))
        if s.auto_merge:
            props.append("auto-merge")
        if s.timeout:
            props.append("timeout " + time_text(s.timeout))
        if s.gc_interval:
            props.append("gc-interval " + time_text(s.gc_interval))
        if s.comment is not None:
            props.append(f'comment "{s.comment}"')
        return props

    def key_datatypes(self, s: Set) -> tuple[Datatype | None, ...]:
        """The datatype of each component of the key (one unless it is a concatenation)."""
        return _component_types(s.type, s.typeof)

    def data_datatypes(self, s: Map) -> tuple[Datatype | None, ...]:
        if s.is_objmap:  # object maps hold object names, printed as strings
            return (datatype("string"),)
        return _component_types(s.data_type, s.data_typeof)

    def set_elements(self, s: Set) -> str:
        """``{ a, b }`` wrapped the way expression.c set_expr_print/calculate_delim does."""
        keys = self.key_datatypes(s)
        data = self.data_datatypes(s) if isinstance(s, Map) else ()
        if self.ctx.release.element_per_line and _force_newline(s):
            per_line = 1
        else:
            per_line = _per_line(keys[0].name if len(keys) == 1 and keys[0] else None)
        # set_element for each element, with its per-column checks done once per set (a
        # full sync renders hundreds of thousands of elements)
        els = s.elements
        kinds = set(map(type, els))
        texts: list[str]
        try:
            if kinds == {tuple} and not any(isinstance(el[0], (tuple, ElemExpr)) for el in els):
                # key : data pairs, rendered a column at a time
                texts = [k + " : " + d for k, d in zip(
                    self._typed_texts([el[0] for el in els], keys),
                    self._typed_texts([el[1] for el in els], data), strict=True)]
            elif not any(issubclass(t, (tuple, ElemExpr)) for t in kinds):
                texts = self._typed_texts(els, keys)
            else:
                texts = self._element_texts(els, keys, data)
        except NftkitError:
            # one at a time again, so that the error is the first element's
            texts = self._element_texts(els, keys, data)
        sep = ",\n\t\t\t     "
        if per_line == 1:
            return "{ " + sep.join(texts) + " }"
        lines = [", ".join(texts[i:i + per_line]) for i in range(0, len(texts), per_line)]
        return "{ " + sep.join(lines) + " }"

    def _element_texts(self, els: tuple[Any, ...], keys: tuple[Datatype | None, ...],
                       data: tuple[Datatype | None, ...]) -> list[str]:
        """``set_element`` for each element, with the per-column checks done once."""
        return element_texts(els, self._typed_formatter(keys), self._typed_formatter(data),
                             lambda el: self.set_element(el, keys, data))

    def set_element(self, el: Any, keys: tuple[Datatype | None, ...],
                    data: tuple[Datatype | None, ...] = ()) -> str:
        """One element: key, element statements, timeout, expires, comment, then ``: data``."""
        if isinstance(el, tuple):
            k = el[0]
            key = (self.set_element(k, keys) if isinstance(k, (tuple, ElemExpr))
                   else self.typed_value(k, keys))
            return key + " : " + self.typed_value(el[1], data)
        if isinstance(el, ElemExpr):
            text = self.typed_value(el.val, keys)
            for st in el.stmts:
                text += " " + self.stmt(st)
            if el.timeout:
                text += " timeout " + time_text(el.timeout)
            if el.expires and not self.ctx.stateless:
                text += " expires " + time_text(el.expires)
            if el.comment is not None:
                text += f' comment "{el.comment}"'
            return text
        return self.typed_value(el, keys)

    def typed_value(self, v: Any, dts: tuple[Datatype | None, ...]) -> str:
        """A value whose datatype is known per concatenation component."""
        if len(dts) > 1 and isinstance(v, ConcatExpr) and len(v.exprs) == len(dts):
            expr = self.expr
            return " . ".join([expr(x, dt) for x, dt in zip(v.exprs, dts, strict=True)])
        return self.expr(v, dts[0] if len(dts) == 1 else None)

    def _typed_texts(self, values: Any, dts: tuple[Datatype | None, ...]) -> list[str]:
        """``[self.typed_value(v, dts) for v in values]``, a column at a time: a column of
        plain integers or IPv4 addresses is formatted without a Python call per value."""
        n = len(dts)
        if n > 1:
            parts = list(map(_EXPRS, values)) if set(map(type, values)) == {ConcatExpr} else None
            if parts is None or set(map(len, parts)) != {n}:
                typed = self._typed_formatter(dts)
                return [typed(v) for v in values]
            columns = zip(*parts, strict=True)
            texts = [self._column_texts(col, dt) for col, dt in zip(columns, dts, strict=True)]
            return [" . ".join(row) for row in zip(*texts, strict=True)]
        return self._column_texts(values, dts[0] if dts else None)

    def _column_texts(self, col: Any, dt: Datatype | None) -> list[str]:
        """``[self.expr(v, dt) for v in col]``."""
        kinds = set(map(type, col))
        if kinds == {int} and _plain_int(dt):
            return list(map(str, col))
        if kinds == {IPv4Address}:
            # inet_ntoa(a.packed) for each, without a Python-level call per address (the
            # packed property): the address's integer, to bytes, to text
            return list(map(inet_ntoa, map(_TO_4_BYTES, map(_IPV4_INT, col))))
        return list(map(self.formatter(dt), col))

    def _typed_formatter(self, dts: tuple[Datatype | None, ...]) -> Callable[[Any], str]:
        """``lambda v: self.typed_value(v, dts)``, its per-column checks done once."""
        if len(dts) <= 1:
            return self.formatter(dts[0] if dts else None)
        fmts = [self.formatter(dt) for dt in dts]
        n = len(dts)

        def typed(v: Any) -> str:
            if type(v) is ConcatExpr and len(v.exprs) == n:
                return " . ".join([f(x) for f, x in zip(fmts, v.exprs, strict=True)])
            return self.typed_value(v, dts)

        return typed

    def element(self, x: Any, dt: Datatype | None, data_dt: Datatype | None = None) -> str:
        """An anonymous set element (``set_expr``): a value, ``ElemExpr`` or ``(key, data)``."""
        return self.set_element(x, (dt,), (data_dt,))

    # --- flowtables and objects -------------------------------------------------------

    def flowtable(self, f: Flowtable) -> str:
        # nft prints a flowtable priority as a netdev one, whatever the table's family.
        prio = f.priority.spelling(Family.NETDEV, f.hook)
        lines = [f"\tflowtable {f.name} {{{self._handle(f)}",
                 f"\t\thook {f.hook.value} priority {prio}"]
        if f.devices:
            lines.append("\t\tdevices = { " + self.device_list(f.devices) + " }")
        if FlowtableFlag.OFFLOAD in f.flags:
            lines.append("\t\tflags offload")
        if f.counter:
            lines.append("\t\tcounter")
        lines.append("\t}")
        return "\n".join(lines) + "\n"

    def object(self, o: NamedObject) -> str:
        """A named object block: ``counter c {``, its comment, its body lines, ``}``."""
        lines = [f"\t{o.keyword} {o.name} {{{self._handle(o)}"]
        if o.comment is not None:
            lines.append(f'\t\tcomment "{o.comment}"')
        lines += ["\t\t" + line for line in self.object_body(o)]
        lines.append("\t}")
        return "\n".join(lines) + "\n"

    def object_body(self, o: NamedObject) -> list[str]:
        """The body lines of a named object (rule.c obj_print_data)."""
        if isinstance(o, Counter):
            return [] if self.ctx.stateless else [f"packets {o.packets} bytes {o.bytes}"]
        if isinstance(o, Quota):
            text = ("over " if o.inv else "") + _bytes(o.bytes)
            if o.used and not self.ctx.stateless:
                text += " used " + _bytes(o.used)
            return [text]
        if isinstance(o, Limit):
            return [_limit_text(o)]
        if isinstance(o, CtHelper):
            return [f'type "{o.type}" protocol {o.protocol}', f"l3proto {o.l3proto or 'ip'}"]
        if isinstance(o, CtTimeout):
            # nft 1.1 prints durations (15s); 1.0.6 prints and reads plain seconds (15).
            plain = not self.ctx.release.ct_timeout_durations
            policy = ", ".join(f"{k} : {v if plain else time_text(v * 1000)}" for k, v in o.policy)
            return [f"protocol {o.protocol}", f"l3proto {o.l3proto or 'ip'}",
                    f"policy = {{ {policy} }}"]
        if isinstance(o, CtExpectation):
            return [f"protocol {o.protocol}", f"dport {o.dport}",
                    f"timeout {time_text(o.timeout)}", f"size {o.size}",
                    f"l3proto {o.l3proto or 'ip'}"]
        if isinstance(o, Synproxy):
            lines = []
            if o.mss:
                lines.append(f"mss {o.mss}")
            if o.wscale:
                lines.append(f"wscale {o.wscale}")
            if o.flags:
                ts = "timestamp" if SynproxyFlag.TIMESTAMP in o.flags else ""
                sack = "sack-perm" if SynproxyFlag.SACK_PERM in o.flags else ""
                lines.append(f"{ts} {sack}")
            return lines
        if isinstance(o, Secmark):
            return [f'"{o.context}"']
        raise UnsupportedError(f"no text form for {type(o).__name__}")

    def block(self, node: Node) -> str:
        """The block-form text of any node (a lone chain or set prints as in a table)."""
        for cls, method in _BLOCKS:
            if isinstance(node, cls):
                text: str = getattr(self, method)(node)
                return text
        from ..model.statements import Statement

        if isinstance(node, Statement) or node.text_name == "verdict_expr":
            return self.stmt(node)
        return self.expr(node)


    # --- command form: an `nft -f` script ------------------------------------------------

    def script(self, node: Node) -> str:
        """``add ...`` commands that create ``node`` (a Ruleset or Table) when run by nft -f."""
        tables = node.tables if isinstance(node, Ruleset) else (node,)
        lines: list[str] = []
        for t in tables:
            if not isinstance(t, Table):
                raise UnsupportedError(f"no script form for {type(node).__name__}")
            lines += self.at(family=t.family.value, table=t.name,
                             sets={s.name: s for s in t.sets}).table_commands(t)
        return "".join(line + "\n" for line in lines)

    def table_commands(self, t: Table) -> list[str]:
        """Objects, flowtables and chains first (map elements and rules refer to them), then
        sets and their elements, then rules."""
        where = f"{t.family.value} {t.name}"
        props = []
        if t.flags:
            props.append("flags " + ",".join(f.value for f in TableFlag if f in t.flags))
        if t.comment is not None:
            props.append(f'comment "{t.comment}"')
        lines = [f"add table {where}" + _braces(props)]
        for o in t.objects:
            body = ([f'comment "{o.comment}"'] if o.comment is not None else [])
            lines.append(f"add {o.keyword} {where} {o.name}" + _braces(body + self.object_body(o)))
        for f in t.flowtables:
            props = [f"hook {f.hook.value} priority {f.priority.spelling(Family.NETDEV, f.hook)}"]
            if f.devices:
                props.append("devices = { " + ", ".join(f'"{d}"' for d in f.devices) + " }")
            if FlowtableFlag.OFFLOAD in f.flags:
                props.append("flags offload")
            if f.counter:
                props.append("counter")
            lines.append(f"add flowtable {where} {f.name}" + _braces(props))
        for c in t.chains:
            props = []
            if c.is_base:
                props.append(self.chain_spec(c, policy_default=False).rstrip(";"))
            if c.comment is not None:
                props.append(f'comment "{c.comment}"')
            lines.append(f"add chain {where} {c.name}" + _braces(props))
        for st in t.sets:
            kw = "map" if isinstance(st, Map) else "set"
            props = [self.set_key(st), *self.set_properties(st, count=False)]
            lines.append(f"add {kw} {where} {st.name}" + _braces(props))
            if st.elements:
                lines.append(f"add element {where} {st.name} " + self.set_elements(st))
        for c in t.chains:
            sub = self.at(chain=c.name)
            for r in c.rules:
                parts = [sub.stmt(x) for x in r.stmts]
                if r.comment is not None:
                    parts.append(f'comment "{r.comment}"')
                lines.append(f"add rule {where} {c.name} " + " ".join(parts))
        return lines


#: Getters for the column-wise rendering of set elements.
_EXPRS = operator.attrgetter("exprs")
_IPV4_INT = operator.attrgetter("_ip")  # IPv4Address's integer (int(a) calls Python code)
_TO_4_BYTES = operator.methodcaller("to_bytes", 4, "big")


#: Nodes with a block form of their own, and the method that writes it.
_BLOCKS: tuple[tuple[type[Node], str], ...] = (
    (Ruleset, "ruleset"), (Table, "table"), (Chain, "chain"), (Set, "set"),
    (Flowtable, "flowtable"), (NamedObject, "object"), (Rule, "rule"))


def _braces(props: list[str]) -> str:
    return " { " + "; ".join(props) + "; }" if props else ""


#: nft prints set flags in this order (JSON uses SetFlag's declaration order).
_SET_FLAG_TEXT_ORDER = (SetFlag.CONSTANT, SetFlag.DYNAMIC, SetFlag.INTERVAL, SetFlag.TIMEOUT)
_FIVE_PER_LINE = FIVE_PER_LINE
_TWO_PER_LINE = TWO_PER_LINE


def _per_line(type_name: str | None) -> int:
    if type_name in _FIVE_PER_LINE:
        return 5
    if type_name in _TWO_PER_LINE:
        return 2
    return 1


def _force_newline(s: Set) -> bool:
    """nft >= 1.1 prints one element per line for maps, sets with timeouts, statements or
    element comments, and concatenations (rule.c do_set_print)."""
    return bool(
        isinstance(s, Map) or s.timeout or SetFlag.TIMEOUT in s.flags or s.stmts
        or len(s.type) > 1 or isinstance(s.typeof, ConcatExpr)
        or any(isinstance(e, ElemExpr) and e.comment is not None for e in s.elements)
    )


def _component_types(types: tuple[str, ...], typeof: Any) -> tuple[Datatype | None, ...]:
    if typeof is not None:
        if isinstance(typeof, ConcatExpr):
            return tuple(expr_datatype(x) for x in typeof.exprs)
        return (expr_datatype(typeof),)
    return tuple(datatype(t) for t in types)


def _limit_text(o: Limit) -> str:
    over = "over " if o.inv else ""
    if o.unit == "packets":
        text = f"rate {over}{o.rate}/{o.per}"
        if o.burst and o.burst != 5:  # 5 packets is the default burst
            text += f" burst {o.burst} packets"
        return text
    text = f"rate {over}{_bytes(o.rate)}/{o.per}"
    if o.burst:
        text += " burst " + _bytes(o.burst)
    return text


def to_script(obj: Node, *, version: str | tuple[int, ...] | None = None) -> str:
    """The command form of a ``Ruleset`` or ``Table``: ``add table``, ``add chain``, ``add set``,
    ``add element``, ``add rule`` ... lines that ``nft -f`` loads to the same ruleset::

        add table inet t
        add chain inet t input { type filter hook input priority filter; policy drop; }
        add set inet t allowed { type ipv4_addr; flags interval; }
        add element inet t allowed { 10.0.0.0/8 }
        add rule inet t input ip saddr @allowed accept
    """
    return TextRenderer(RenderContext(version=version)).script(obj)


def to_text(
    obj: Node,
    *,
    version: str | tuple[int, ...] | None = None,
    handles: bool = False,
    stateless: bool = False,
    family: str = "inet",
) -> str:
    """The nft text of ``obj``: for a ``Ruleset``, byte-for-byte what ``nft list ruleset``
    prints for it (``handles=True`` is ``nft -a``, ``stateless=True`` is ``nft -s``)."""
    ctx = RenderContext(version=version, handles=handles, stateless=stateless, family=family)
    return TextRenderer(ctx).block(obj)


def _bytes(n: int) -> str:
    """A byte amount in the largest exact unit: ``26214400`` -> ``25 mbytes``."""
    amount, unit = byte_unit(n)
    return f"{amount} {unit}"
