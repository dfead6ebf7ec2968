"""Text rendering of statements (mixed into ``TextRenderer``). Methods take the node only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model.datatypes import Datatype, expr_datatype
from ..model.statements import CounterStmt, MatchOp, MatchStmt

if TYPE_CHECKING:
    from .context import RenderContext

__all__ = ["StatementText"]


class StatementText:
    ctx: RenderContext

    if TYPE_CHECKING:

        def expr(self, e: Any, dt: Datatype | None = None) -> str: ...

    def stmt(self, s: Any) -> str:
        method = getattr(self, s.text_name)
        if s.text_name == "verdict_expr":
            result: str = method(s, None)
        else:
            result = method(s)
        return result

    def match_stmt(self, s: MatchStmt) -> str:
        dt = expr_datatype(s.left)
        left = self.expr(s.left, dt)
        right = self.expr(s.right, dt)
        if s.op in (MatchOp.EQ, MatchOp.IN):
            return f"{left} {right}"
        return f"{left} {s.op.value} {right}"

    def counter_stmt(self, s: CounterStmt) -> str:
        if self.ctx.stateless:
            return "counter"
        return f"counter packets {s.packets} bytes {s.bytes}"
