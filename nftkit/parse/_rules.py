"""A parsed rule as the transformer hands it on: the ``Rule`` node and what the containers
need to know about it.

The ``rule`` callback builds the ``Rule`` when its statements are complete (``RuleItem``):
statements that a callback built as model nodes are taken as they are, the others go through
the statement decoder (``nftkit.parse.json.decode_rule``; an adapter while the statement
callbacks move to building nodes themselves, family by family). What a table needs from the
rule is noted at the same time: its jump targets and ``@sets`` (``references``) and the sets
its set statements and meters write (nft makes those dynamic).

A bare ``reject`` depends on the table's family, which the rule does not know:
``reject_defaults`` completes it when the rule joins its table, on the model nodes::

    table ip t { chain c { reject } }       -> reject with icmp port-unreachable
    table inet t { chain c { reject } }     -> reject with icmpx port-unreachable
    table inet t { chain c { ip6 saddr ::1 reject } }  -> reject with icmpv6 port-unreachable
"""

from __future__ import annotations

from typing import Any

from ..errors import ParseError
from ..model.expressions import ConcatExpr, MetaExpr, PayloadExpr
from ..model.ruleset import ChainStmt, Rule
from ..model.statements import MatchStmt, RejectStmt, Stmt
from ..nft.families import ADDRESS_FAMILIES, REJECT_ICMP
from ._json_decoder import JsonDecoder
from ._json_fast import new_rule
from ._values import plain
from .json import decode_rule

__all__ = ["RuleItem", "has_bound_chain", "references", "reject_defaults"]

J = Any


class RuleItem:
    """One parsed rule: ``rule`` (its ``handle`` is the container's to give), the ``# handle
    N`` written after it (``handle``), its ``refs`` (``("chain" | "set", name)``) and the
    sets it writes (``written``)."""

    __slots__ = ("handle", "refs", "rule", "written")

    def __init__(self, rule: Rule, handle: int | None, refs: list[tuple[str, str]],
                 written: set[str]) -> None:
        self.rule = rule
        self.handle = handle
        self.refs = refs
        self.written = written

    @classmethod
    def build(cls, stmts: list[J], comment: str | None, handle: int | None) -> RuleItem:
        """The rule of ``stmts`` (model nodes, or JSON-shaped statements for the adapter)."""
        expr = plain(stmts)
        written: set[str] = set()
        try:
            rule = decode_rule(JsonDecoder(), {"expr": expr, "comment": comment}, written)
        except ParseError as exc:
            # (the statement decoder names the statement: "expr[1]: ct: CtExpr.key: ...")
            raise ParseError(exc.message.replace("<json>: ", "", 1)) from None
        return cls(rule, handle, references(expr), written)


def has_bound_chain(rule: Rule) -> bool:
    """Whether ``rule`` holds an anonymous chain (``jump { ... }``)."""
    return any(type(s) is ChainStmt for s in rule.stmts)


_SETREF_KEYS = {("match", "right"), ("vmap", "data"), ("map", "data"), ("set", "set"),
                ("map", "map")}


def references(obj: Any, parent: str = "") -> list[tuple[str, str]]:
    """(``chain``, name) for jump/goto targets and (``set``, name) for ``@name`` uses in
    JSON-shaped statements."""
    out: list[tuple[str, str]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("jump", "goto") and isinstance(v, dict) and "target" in v:
                out.append(("chain", str(v["target"])))
            elif isinstance(v, str) and v.startswith("@") and (parent, k) in _SETREF_KEYS:
                out.append(("set", v[1:]))
            else:
                out.extend(references(v, k))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(references(v, parent))
    return out


def _l3(stmt: Stmt) -> str | None:
    """The network protocol a match implies (``ip saddr ...`` -> ``ip``, ``meta nfproto
    ipv6`` -> ``ip6``)."""
    if type(stmt) is not MatchStmt:
        return None
    left = stmt.left
    for part in left.exprs if type(left) is ConcatExpr else (left,):
        if type(part) is PayloadExpr and part.protocol in ("ip", "ip6"):
            return str(part.protocol)
        if type(part) is MetaExpr and part.key == "nfproto" \
                and stmt.right in ("ipv4", "ipv6"):
            return "ip" if stmt.right == "ipv4" else "ip6"
    return None


def reject_defaults(rule: Rule, family: str) -> Rule:
    """A bare ``reject`` is ``icmp``/``icmpv6``/``icmpx port-unreachable``, by the table's
    family and what the rule matched before it (as nft's evaluator decides)."""
    stmts = rule.stmts
    if not any(type(s) is RejectStmt and s.type is None for s in stmts):
        return rule
    l3 = family if family in ADDRESS_FAMILIES else None
    out: list[Stmt] = []
    for s in stmts:
        l3 = _l3(s) or l3
        if type(s) is RejectStmt and s.type is None:
            s = RejectStmt(type=REJECT_ICMP.get(l3 or "", "icmpx"), code="port-unreachable")
        out.append(s)
    return new_rule(out, rule.comment, rule.handle)
