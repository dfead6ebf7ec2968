"""The applied ruleset with the listing fast path's chains built directly as model nodes.

``_decode.Decoder.ruleset`` hands the decoded tables to ``from_json`` as libnftables JSON. The rules
that the listing fast path (``_fast``) made are model statements already, and a large listing
is mostly such rules in plain chains (``chain svc-1 { ... }``: no hook, no comment). For
those chains, ``from_json`` would do for each rule what this module does more cheaply:
``Rule(stmts=..., comment=..., handle=...)`` and ``Chain(name=..., rules=..., handle=...)``
(the same nodes, made by compiled constructors that run the same converters, validators and
post-init checks: ``_ctor``). Everything else (tables, sets, maps, objects, base chains,
chains with any rule from lark) still goes through ``from_json``, and the directly built
chains are put back in their places in the tables (the ``Table`` is made again with all its
chains, so its own checks see them all).

``from_json`` takes such rules' statements as they are and finds no set written by them
(their statements are nodes, not JSON), so nothing it would derive from them is lost here;
tests/test_parse.py checks that ``parse`` gives the same result with this off.

A failure (an ``NftkitError``: a node's validator or ``from_json``) returns None, and the
caller runs ``from_json`` on the whole document, so errors are exactly the ones ``from_json``
reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from ..errors import NftkitError
from ..model.ruleset import Chain, Rule, Ruleset
from ._ctor import constructor
from .json import from_json

__all__ = ["DIRECT", "direct_ruleset"]

#: Build the fast path's plain chains directly (tests switch it off to compare).
DIRECT = True
#: the members of a plain chain's body in the applier (a regular chain, no comment)
_PLAIN = frozenset({"family", "table", "name", "handle"})

_new_rule = constructor(Rule, {}, ("stmts", "comment", "handle"))
_new_chain = constructor(
    Chain, {"type": None, "hook": None, "priority": None, "policy": None, "devices": (),
            "comment": None}, ("name", "rules", "handle"))


class _Table(Protocol):
    """A table of ``_decode.Decoder``: its chains' and rules' JSON bodies, by chain name."""

    @property
    def chains(self) -> Mapping[str, Mapping[str, Any]]: ...
    @property
    def rules(self) -> Mapping[str, list[dict[str, Any]]]: ...


T = TypeVar("T", bound=_Table)


def direct_ruleset(tables: Iterable[T], refs: Mapping[int, Any],
                   document: Callable[[T], list[dict[str, Any]]]) -> Ruleset | None:
    """The decoder's ruleset, or None (the caller then uses ``from_json`` on everything).

    ``tables``: the decoder's tables; ``refs``: its rule bodies made by the fast path, by
    id(); ``document(t)``: table ``t``'s objects without its chains and rules as JSON.
    """
    if not DIRECT or not refs or _new_rule is None or _new_chain is None:
        return None
    new_rule, new_chain = _new_rule, _new_chain
    fast = refs
    decoded = list(tables)
    try:
        doc: list[dict[str, Any]] = []
        built: list[dict[str, Chain]] = []
        for t in decoded:
            doc.extend(document(t))
            chains: dict[str, Chain] = {}
            for name, body in t.chains.items():
                rules = t.rules[name]
                if rules and body.keys() <= _PLAIN and all(id(r) in fast for r in rules):
                    chains[name] = new_chain(body["name"], tuple(
                        [new_rule(r["expr"], r.get("comment"), r["handle"]) for r in rules]),
                        body["handle"])
                else:
                    doc.append({"chain": body})
            for name, rules in t.rules.items():
                if name not in chains:
                    doc.extend({"rule": r} for r in rules)
            built.append(chains)
        rs = from_json({"nftables": doc})
        if len(rs.tables) != len(built):
            return None
        out: list[Any] = []
        for table, t, chains in zip(rs.tables, decoded, built, strict=True):
            if not chains:
                out.append(table)
                continue
            rest = iter(table.chains)
            merged = [c if (c := chains.get(name)) is not None else next(rest)
                      for name in t.chains]
            if [c.name for c in merged] != list(t.chains) or next(rest, None) is not None:
                return None
            out.append(table.replace(chains=merged))
        return rs.replace(tables=out)
    except NftkitError:  # from_json's error, or a node's: from_json reports it
        return None
