"""Model -> nft text: the block form ``nft list ruleset`` prints, and ``nft -f`` commands.

``TextRenderer`` combines the expression and statement mixins with the containers defined
here. Output targets the installed nft's version (see ``RenderContext``).
"""

from __future__ import annotations

from typing import Any

import attrs

from .._node import Node
from ..errors import UnsupportedError
from ..model.datatypes import datatype
from ..model.objects import NamedObject
from ..model.ruleset import Chain, Flowtable, Rule, Ruleset, Table
from ..model.sets import Map, Set
from ._text_expressions import ExpressionText
from ._text_statements import StatementText
from .context import RenderContext

__all__ = ["TextRenderer", "duration", "to_text"]


def duration(ms: int) -> str:
    """Milliseconds as nft prints a time: ``90000`` -> ``1m30s``, ``500`` -> ``500ms``."""
    if ms == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000),
                       ("ms", 1)):
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


class TextRenderer(ExpressionText, StatementText):
    """Renders nodes as nft text in a ``RenderContext``."""

    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx

    def at(self, **changes: Any) -> TextRenderer:
        """A renderer for a nested scope (another family, table or chain)."""
        return TextRenderer(attrs.evolve(self.ctx, **changes))

    # --- block form ----------------------------------------------------------------------

    def ruleset(self, rs: Ruleset) -> str:
        return "".join(self.table(t) for t in rs.tables)

    def table(self, t: Table) -> str:
        sub = self.at(family=t.family.value, table=t.name)
        head = f"table {t.family.value} {t.name} {{"
        if self.ctx.handles and t.handle is not None:
            head += f" # handle {t.handle}"
        lines = [head]
        props = []
        if t.flags:
            props.append("\tflags " + ",".join(sorted(f.value for f in t.flags)))
        if t.comment is not None:
            props.append(f'\tcomment "{t.comment}"')
        blocks = [sub.object(o) for o in t.objects]
        blocks += [sub.set(s) for s in t.sets]
        blocks += [sub.flowtable(f) for f in t.flowtables]
        blocks += [sub.chain(c) for c in t.chains]
        lines += props
        if props and blocks:
            lines.append("")
        lines.append("\n\n".join(blocks)) if blocks else None
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _handle(self, node: Any) -> str:
        if self.ctx.handles and node.handle is not None:
            return f" # handle {node.handle}"
        return ""

    def chain(self, c: Chain) -> str:
        sub = self.at(chain=c.name)
        lines = [f"\tchain {c.name} {{{self._handle(c)}"]
        if c.comment is not None:
            lines.append(f'\t\tcomment "{c.comment}"')
        if c.is_base:
            assert c.type is not None and c.hook is not None and c.priority is not None
            spec = f"\t\ttype {c.type.value} hook {c.hook.value}"
            if c.devices:
                spec += " " + self.devices(c.devices)
            spec += f" priority {c.priority.spelling(self.ctx.family, c.hook)};"
            if c.policy is not None:
                spec += f" policy {c.policy.value};"
            lines.append(spec)
        lines += ["\t\t" + sub.rule(r) for r in c.rules]
        lines.append("\t}")
        return "\n".join(lines)

    def devices(self, devices: tuple[str, ...]) -> str:
        if len(devices) == 1:
            return f'device "{devices[0]}"'
        return "devices = { " + ", ".join(devices) + " }"

    def rule(self, r: Rule) -> str:
        parts = [self.stmt(s) for s in r.stmts]
        if r.comment is not None:
            parts.append(f'comment "{r.comment}"')
        return " ".join(parts) + self._handle(r)

    def set(self, s: Set) -> str:
        kw = "map" if isinstance(s, Map) else "set"
        lines = [f"\t{kw} {s.name} {{{self._handle(s)}"]
        key = " . ".join(s.type) if s.typeof is None else "typeof " + self.expr(s.typeof)
        if isinstance(s, Map):
            data = (" . ".join(s.data_type) if s.data_typeof is None
                    else "typeof " + self.expr(s.data_typeof))
            lines.append(f"\t\ttype {key} : {data}")
        else:
            lines.append(f"\t\ttype {key}")
        if s.flags:
            lines.append("\t\tflags " + ",".join(f.value for f in sorted(s.flags, key=list(type(next(iter(s.flags)))).index)))
        if s.elements:
            dt = datatype(s.type[0]) if len(s.type) == 1 else None
            data_dt = datatype(s.data_type[0]) if isinstance(s, Map) and len(s.data_type) == 1 else None
            body = ",\n\t\t\t     ".join(self.element(e, dt, data_dt) for e in s.elements)
            lines.append("\t\telements = { " + body + " }")
        lines.append("\t}")
        return "\n".join(lines)

    def flowtable(self, f: Flowtable) -> str:
        lines = [f"\tflowtable {f.name} {{{self._handle(f)}",
                 f"\t\thook {f.hook.value} priority {f.priority.spelling(self.ctx.family, f.hook)}"]
        if f.devices:
            lines.append("\t\tdevices = { " + ", ".join(f.devices) + " }")
        lines.append("\t}")
        return "\n".join(lines)

    def object(self, o: NamedObject) -> str:
        method = getattr(self, "object_" + o.text_name, None)
        if method is None:
            raise UnsupportedError(f"no text form for {type(o).__name__} yet")
        body: str = method(o)
        return f"\t{o.keyword} {o.name} {{{self._handle(o)}\n{body}\n\t}}"

    def block(self, node: Node) -> str:
        """The block-form text of a container node."""
        for kind in (Ruleset, Table, Chain, Set, Flowtable, Rule, NamedObject):
            if isinstance(node, kind):
                name = {Set: "set", NamedObject: "object"}.get(kind, kind.__name__.lower())
                result: str = getattr(self, name)(node)
                return result
        from ..model.statements import Statement

        if isinstance(node, Statement) or node.text_name == "verdict_expr":
            return self.stmt(node)
        return self.expr(node)


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
