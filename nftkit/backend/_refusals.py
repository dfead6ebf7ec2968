"""What a path of ``Nftables`` must refuse, before anything is sent: the "exact or refuse"
rules of the router (docs/transactions.md, "Exact or refuse").

- ``netlink_refusal``: what the netlink path must not carry even where it could encode it;
- ``json_inexact``: what a libnftables release would not apply exactly from JSON, beyond
  ``libnftables._text.json_drops`` (the router then takes the text path);
- ``refuse_crash``: what would crash libnftables (SIGSEGV kills the whole process).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import UnsupportedError
from ..model.enums import SetFlag
from ..model.expressions import ElemExpr
from ..model.objects import CtExpectation, Synproxy
from ..model.ruleset import Chain, ChainStmt, Rule, Table
from ..model.sets import Map, Set
from ..nft.releases import profile
from ..transaction import Kind, Op, TransactionPath, Verb
from .netlink._facts import SetFacts

__all__ = ["PATHS", "json_inexact", "netlink_refusal", "refuse_crash"]

_CREATING = frozenset({Verb.ADD, Verb.CREATE, Verb.INSERT, Verb.REPLACE})

PATHS: tuple[TransactionPath, ...] = ("netlink", "libnftables-json", "libnftables-text")


def netlink_refusal(ops: tuple[Op, ...], native_destroy: bool) -> str | None:
    """Why the netlink path must not carry ``ops`` even where it could encode them, or
    None."""
    if any(op.verb is Verb.RESET for op in ops):
        return "reset (the kernel resets on a read request, which libnftables sends)"
    if not native_destroy and any(op.verb is Verb.DESTROY for op in ops):
        return ("destroy without the kernel's DESTROY in libnftables (the kernel's fails "
                "in a missing table, libnftables' emulation does not)")
    return None


def _keys(elements: Iterable[Any]) -> Iterator[Any]:
    for e in elements:
        key = e[0] if isinstance(e, tuple) and e else e
        yield key.val if isinstance(key, ElemExpr) else key


def _catchall(elements: Iterable[Any]) -> bool:
    return any(isinstance(k, str) and k == "*" for k in _keys(elements))


def _wildcard(elements: Iterable[Any]) -> bool:
    return any(isinstance(k, str) and k.endswith("*") and k != "*" for k in _keys(elements))


def _broken(ops: Iterable[Op], version: tuple[int, int, int],
            interval: Iterable[tuple[str, str, str]] = (), *, text: bool
            ) -> tuple[str, str] | None:
    """``(what, how)`` of what in ``ops`` libnftables ``version`` cannot take, or None:

    - nft 1.0.6 crashes (SIGSEGV: the whole process) on an ``add element`` of the catch-all
      element ``*`` to an interval set, from JSON and text alike (``add element ip x s { *
      }``); it takes it inside the set's declaration: from JSON (``{"add": {"set": {...,
      "elem": ["*"]}}}``, which the batch order keeps whole), not from text (``ops_script``
      writes the elements apart);
    - nft 1.0.6 answers ENOENT to an interface name wildcard (``"eth*"``) with a verdict in
      an interval map, from JSON and text alike (``add element inet t m { "eth*" : jump c
      }``; ``nft -f`` of the map's block takes it).

    ``interval``: kernel sets known to have ``flags interval``."""
    if profile(version).json_input_exact:
        return None
    sets = set(interval)
    vmaps: set[tuple[str, str, str]] = set()
    for op in ops:
        obj = op.obj
        if op.family is None or op.table is None:
            continue
        where = (op.family.value, op.table, op.name or "")
        if isinstance(obj, Set) and SetFlag.INTERVAL in obj.flags:
            where = (op.family.value, op.table, obj.name)
            sets.add(where)
            if isinstance(obj, Map) and obj.is_vmap:
                vmaps.add(where)
            if op.verb not in _CREATING:
                continue
            if text and _catchall(obj.elements):
                return f"{op.describe()}: the catch-all element of an interval set", "crash"
            if where in vmaps and _wildcard(obj.elements):
                return (f"{op.describe()}: an interface name wildcard with a verdict",
                        "fail (ENOENT)")
        elif op.kind is Kind.ELEMENT and op.verb in _CREATING and where in sets:
            if _catchall(op.elements):
                return f"{op.describe()}: the catch-all element of an interval set", "crash"
            if where in vmaps and _wildcard(op.elements):
                return (f"{op.describe()}: an interface name wildcard with a verdict",
                        "fail (ENOENT)")
    return None


def json_inexact(ops: tuple[Op, ...], version: tuple[int, int, int]) -> str | None:
    """What of ``ops`` libnftables ``version`` would not apply exactly from JSON, beyond
    ``json_drops``, or None. Found by the three-path test (tests/backend/test_three_paths.py)
    on nft 1.0.6: its JSON parser stores a ``typeof`` set or map as its datatypes (``typeof
    ip saddr`` lists as ``type ipv4_addr``) and ignores table flags (``dormant``), both
    silently; it refuses a chain's list of devices (one, ``"dev": "lo"``, it takes), synproxy
    and ct expectation objects. No release reads an anonymous chain (``jump { ... }``), which
    nft's own JSON writes as a string."""
    exact = profile(version).json_input_exact
    for op in ops:
        obj, what = op.obj, op.describe()
        if op.verb not in _CREATING or obj is None:
            continue
        if isinstance(obj, Rule):
            if any(isinstance(s, ChainStmt) for s in obj.stmts):
                return f"{what}: an anonymous chain"
            continue
        if exact:
            continue
        if isinstance(obj, Table) and obj.flags:
            return f"{what}: table flags"
        if isinstance(obj, Chain) and len(obj.devices) > 1:
            return f"{what}: more than one chain device"
        if isinstance(obj, (Synproxy, CtExpectation)):
            return f"{what}: a {obj.json_key} object"
        if isinstance(obj, Set) and (obj.typeof is not None or (
                isinstance(obj, Map) and obj.data_typeof is not None)):
            return f"{what}: typeof"
    return None


def refuse_crash(ops: tuple[Op, ...], version: tuple[int, int, int],
                 checked: dict[tuple[str, str, str], tuple[int, SetFacts, int]], *,
                 text: bool) -> None:
    """UnsupportedError, before sending, for what libnftables would crash or fail on
    (``_broken``)."""
    broken = _broken(ops, version, (w for w, (_g, facts, _i) in checked.items()
                                    if facts.interval), text=text)
    if broken is not None:
        raise UnsupportedError(
            f"libnftables {'.'.join(map(str, version))} would {broken[1]} on {broken[0]} "
            f"(from {'text' if text else 'JSON'}); nothing was sent")
