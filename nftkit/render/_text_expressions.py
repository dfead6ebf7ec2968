"""Text rendering of expressions (mixed into ``TextRenderer``).

Every method is named after the node's ``text_name`` and takes the node and the datatype the
surrounding context expects (``None`` when unknown), which drives how immediates print.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any

from ..model.datatypes import Datatype, expr_datatype
from ..model.expressions import (
    BinopExpr,
    ConcatExpr,
    ElemExpr,
    Expr,
    ListExpr,
    MapExpr,
    MetaExpr,
    PayloadExpr,
    PrefixExpr,
    RangeExpr,
    SetExpr,
    SetRefExpr,
    VerdictExpr,
)

if TYPE_CHECKING:
    from .context import RenderContext

__all__ = ["ExpressionText"]

#: Meta keys nft prints without the ``meta`` keyword.
UNQUALIFIED_META = frozenset(
    {"iif", "oif", "iifname", "oifname", "iifgroup", "oifgroup", "mark", "priority",
     "skuid", "skgid", "nftrace", "rtclassid", "cpu", "iiftype", "oiftype"}
)

class ExpressionText:
    ctx: RenderContext

    def expr(self, e: Any, dt: Datatype | None = None) -> str:
        """Any expression: a node via its method, an immediate formatted by ``dt``."""
        method = getattr(self, e.text_name, None) if hasattr(e, "text_name") else None
        if method is not None:
            result: str = method(e, dt)
            return result
        return self.value(e, dt)

    def value(self, v: Any, dt: Datatype | None) -> str:
        if isinstance(v, bool):
            return "exists" if v else "missing"
        if isinstance(v, int):
            if dt is not None and dt.kind == "hex":
                return f"0x{v:0{dt.width}x}"
            return str(v)
        if isinstance(v, (IPv4Address, IPv6Address)):
            return str(v)
        if isinstance(v, str):
            if dt is not None and dt.kind == "string":
                return f'"{v}"'
            return v
        raise TypeError(f"cannot render {v!r} as text")

    def payload_expr(self, e: PayloadExpr, dt: Datatype | None) -> str:
        if e.protocol is not None:
            return f"{e.protocol} {e.field}"
        return f"@{e.base},{e.offset},{e.len}"

    def meta_expr(self, e: MetaExpr, dt: Datatype | None) -> str:
        return e.key if e.key in UNQUALIFIED_META else f"meta {e.key}"

    def ct_expr(self, e: CtExpr, dt: Datatype | None) -> str:
        parts = ["ct"]
        if e.dir:
            parts.append(e.dir)
        if e.family:
            parts.append(e.family)
        parts.append(e.key)
        return " ".join(parts)

    def prefix_expr(self, e: PrefixExpr, dt: Datatype | None) -> str:
        return f"{self.expr(e.addr, dt)}/{e.len}"

    def range_expr(self, e: RangeExpr, dt: Datatype | None) -> str:
        return f"{self.expr(e.low, dt)}-{self.expr(e.high, dt)}"

    def concat_expr(self, e: ConcatExpr, dt: Datatype | None) -> str:
        return " . ".join(self.expr(x, expr_datatype(x)) for x in e.exprs)

    def set_expr(self, e: SetExpr, dt: Datatype | None) -> str:
        return "{ " + ", ".join(self.element(x, dt) for x in e.elements) + " }"

    def element(self, x: Any, dt: Datatype | None, data_dt: Datatype | None = None) -> str:
        if isinstance(x, tuple):
            return f"{self.expr(x[0], dt)} : {self.expr(x[1], data_dt)}"
        return self.expr(x, dt)

    def set_ref_expr(self, e: SetRefExpr, dt: Datatype | None) -> str:
        return "@" + e.name

    def list_expr(self, e: ListExpr, dt: Datatype | None) -> str:
        return ",".join(self.expr(v, dt) for v in e.values)

    def binop_expr(self, e: BinopExpr, dt: Datatype | None) -> str:
        ldt = expr_datatype(e.left)
        return f"{self.expr(e.left, ldt)} {e.op.value} {self.expr(e.right, ldt)}"

    def map_expr(self, e: MapExpr, dt: Datatype | None) -> str:
        return f"{self.expr(e.key)} map {self.expr(e.data, expr_datatype(e.key))}"

    def elem_expr(self, e: ElemExpr, dt: Datatype | None) -> str:
        return self.expr(e.val, dt)

    def verdict_expr(self, e: VerdictExpr, dt: Datatype | None = None) -> str:
        return e.kind.value if e.target is None else f"{e.kind.value} {e.target}"
