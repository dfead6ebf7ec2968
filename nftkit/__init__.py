"""nftkit: a typed nftables model that round-trips with the real nft.

Build rulesets in Python, compile them to libnftables JSON or nft text, read them back::

    import nftkit
    rs = nftkit.from_json(json_text)
    print(nftkit.to_text(rs))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .backend.events import Event, EventKind
from .backend.fake import FakeNftables
from .check import CheckError, check, problems
from .diagnostics import Diagnostic, Severity
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .lint import lint
from .model import *  # noqa: F403
from .model import __all__ as _model_all
from .parse.json import from_json, gc_paused
from .parse.nft import parse_rule
from .render.json import to_json
from .render.text import to_script, to_text
from .semantics.script import parse, parse_script
from .sync import SyncResult, canonical, diff
from .transaction import Transaction, TransactionResult

if TYPE_CHECKING:
    from .backend.router import Nftables

__version__ = "0.1.0"

__all__ = [
    *_errors_all,
    "from_json",
    "gc_paused",
    "parse",
    "parse_rule",
    "parse_script",
    "to_json",
    "to_script",
    "to_text",
    "lint",
    "Diagnostic",
    "Severity",
    "Transaction",
    "TransactionResult",
    "Nftables",
    "FakeNftables",
    "Event",
    "EventKind",
    "CheckError",
    "check",
    "problems",
    "canonical",
    "diff",
    "SyncResult",
    *_model_all,
]

# Loaded on first use: the libnftables backend needs libnftables.so.1, `import nftkit` does not.
# (Hidden from type checkers, which see the TYPE_CHECKING import above instead: a module
# __getattr__ would make every unknown attribute of nftkit look valid to them.)
_LAZY = {"Nftables": ".backend.router"}

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        if name in _LAZY:
            import importlib

            return getattr(importlib.import_module(_LAZY[name], __name__), name)
        raise AttributeError(f"module 'nftkit' has no attribute {name!r}")
