"""Every way a model reaches nftables, for the security tests and ``scripts/fuzz_backend.py``.

A *path* applies a ``Ruleset`` to an empty ruleset and reads it back:

- ``netlink``: ``Nftables.run(txn, netlink=True)`` (the router may still hand an op it cannot
  encode to libnftables: the result says which path ran);
- ``json``: ``Nftables.run(txn, netlink=False)``, libnftables' JSON input (or its text input,
  where this release's JSON would drop something);
- ``text``: ``Nftables.run_text(to_script(model))``, libnftables' text input, as ``nft -f``;
- ``fake``: ``FakeNftables.run(txn)``; ``fake-text``: ``FakeNftables.run_text(to_script(...))``.

Kernel paths run only inside a throwaway network namespace: ``enter_new_netns()`` moves the
calling process (a forked child) into a fresh one, which goes away with the process.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import Any

import attrs

import nftkit
from nftkit import Ruleset, Transaction
from nftkit._node import Node
from nftkit.backend.fake import FakeNftables

__all__ = [
    "FAKE_PATHS", "KERNEL_PATHS", "PAYLOADS", "enter_new_netns", "ops_in_order", "read_back",
    "run_path", "same", "unordered",
]

CLONE_NEWNET = 0x40000000

#: Hostile values for string fields: each would change the structure of nft text, or mean
#: something else on another path, if it were carried unchecked.
PAYLOADS: dict[str, str] = {
    "dquote": 'a"b',
    "squote": "a'b",
    "semicolon": "x; add table ip pwned",
    "braces": "x } add table ip pwned {",
    "newline": "x\nadd table ip pwned",
    "cr": "x\radd table ip pwned",
    "hash": "a #b",
    "nul": "a\x00b",
    "at": "@x",
    "dollar": "$x",
    "dash": "-x",
    "backslash": "a\\b",
    "rlo": "a\u202eb",
    "c1": "a\x85b",
    "surrogate": "a\udcffb",  # not UTF-8: os.fsdecode's escape of a byte 0xff
    "empty": "",
    "long": "a" * 256,
    "huge": "a" * 65536,
}

KERNEL_PATHS = ("netlink", "json", "text")
FAKE_PATHS = ("fake", "fake-text")


def enter_new_netns() -> None:
    """Move this process into a new, empty network namespace (in a forked child: the
    namespace ends with the child)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")


def ops_in_order(model: Ruleset) -> list[Any]:
    """The ops that add ``model``, in the order a backend sends them (sets split from their
    elements), each one a transaction of its own."""
    return [op for _i, op in Transaction().add(model).batch()]


def run_path(path: str, backend: Any, model: Ruleset,
             only: Callable[[int], bool] | None = None) -> str:
    """Apply ``model`` to ``backend`` (emptied first) by ``path``; the path that ran.

    ``only``: for ``netlink``/``json``, send the ops ``only(i)`` selects (by position in
    ``ops_in_order``) each alone by ``path``, and the runs of other ops between them as one
    batch by the default route; so a small op carrying a hostile value gets the path even
    where the whole ruleset could not take it. Returns the paths that carried the selected
    ops, joined by ``+``.
    """
    backend.run(Transaction().flush())
    if path in ("text", "fake-text"):
        backend.run_text(nftkit.to_script(model))
        return "libnftables-text" if path == "text" else "fake-text"
    if path == "fake":
        backend.run(Transaction().add(model))
        return "fake"
    netlink = path == "netlink"
    if only is None:
        return str(backend.run(Transaction().add(model), netlink=netlink).path)
    taken: list[str] = []
    pending: list[Any] = []

    def flush() -> None:
        if pending:
            backend.run(Transaction(pending), ordered=False)
            pending.clear()

    for i, op in enumerate(ops_in_order(model)):
        if only(i):
            flush()
            taken.append(str(backend.run(Transaction([op]), netlink=netlink).path))
        else:
            pending.append(op)
    flush()
    return "+".join(sorted(set(taken))) or "none"


def unordered(tree: Any) -> Any:
    """``tree`` with the elements of every set, map and anonymous set in one order (nft lists
    anonymous sets and hash sets in its own order)."""
    from nftkit.model.expressions import SetExpr
    from nftkit.model.sets import Set
    from nftkit.semantics.elements import sort_key

    if isinstance(tree, tuple):
        return tuple(unordered(i) for i in tree)
    if isinstance(tree, Node) and attrs.has(type(tree)):
        changes = {}
        for f in attrs.fields(type(tree)):  # type: ignore[arg-type]
            v = getattr(tree, f.name)
            if isinstance(v, (Node, tuple)):
                w = unordered(v)
                if isinstance(tree, (SetExpr, Set)) and f.name == "elements":
                    w = tuple(sorted(w, key=lambda e: repr(sort_key(e))))
                if w != v or w is not v:
                    changes[f.name] = w
        return tree.replace(**changes) if changes else tree
    return tree


def same(a: Ruleset, b: Ruleset) -> bool:
    """``a == b``, in any order of set elements."""
    return a == b or unordered(a) == unordered(b)


def read_back(backend: Any, *, text: bool = False) -> list[Ruleset]:
    """What ``backend`` holds: ``list_ruleset`` (libnftables' JSON listing, or its text
    listing where this release's JSON cannot be trusted; the fake's state) and, with
    ``text``, nft's text listing parsed too."""
    out = [backend.list_ruleset()]
    if text and not isinstance(backend, FakeNftables):
        out.append(nftkit.parse(backend.run_text("list ruleset")))
    return out
