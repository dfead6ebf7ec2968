"""Statements: what a rule does (match, count, log, NAT, mangle, ...).

A rule is a tuple of statements; a verdict (``VerdictExpr``) may stand as the last one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

import attrs

from .._node import EXPR, Node
from .expressions import Expr, VerdictExpr

__all__ = ["CounterStmt", "MatchOp", "MatchStmt", "Statement", "Stmt"]


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


class MatchOp(StrEnum):
    """Relational operators. ``==`` and ``in`` print implicitly (``tcp dport 22``)."""

    EQ = "=="
    NE = "!="
    LT = "<"
    GT = ">"
    LE = "<="
    GE = ">="
    IN = "in"


@attrs.frozen(kw_only=True)
class MatchStmt(Statement):
    """A relational match. Text: ``tcp dport 22``, ``meta mark != 0x00000001``.
    JSON: ``{"match": {"op": "==", "left": ..., "right": ...}}``."""

    json_key = "match"
    left: Expr = attrs.field(metadata=EXPR)
    op: MatchOp = attrs.field(default=MatchOp.EQ, converter=MatchOp)
    right: Expr = attrs.field(metadata=EXPR)


@attrs.frozen(kw_only=True)
class CounterStmt(Statement):
    """An anonymous counter. Text: ``counter packets 0 bytes 0``.
    JSON: ``{"counter": {"packets": 0, "bytes": 0}}``."""

    json_key = "counter"
    packets: int = 0
    bytes: int = 0
