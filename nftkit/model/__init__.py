"""The typed nftables model: pure data, no knowledge of text, JSON, lark or cffi."""

from __future__ import annotations

from .enums import (
    ChainPolicy,
    ChainType,
    Family,
    FlowtableFlag,
    Hook,
    SetFlag,
    SetPolicy,
    SynproxyFlag,
    TableFlag,
)
from .expressions import *  # noqa: F403
from .expressions import __all__ as _expressions_all
from .objects import *  # noqa: F403
from .objects import __all__ as _objects_all
from .priority import Priority
from .ruleset import Chain, ChainStmt, Flowtable, Rule, Ruleset, Table
from .sets import Map, Set
from .statements import *  # noqa: F403
from .statements import __all__ as _statements_all

__all__ = [
    "Chain",
    "ChainStmt",
    "ChainPolicy",
    "ChainType",
    "Family",
    "Flowtable",
    "FlowtableFlag",
    "Hook",
    "Map",
    "Priority",
    "Rule",
    "Ruleset",
    "Set",
    "SetFlag",
    "SetPolicy",
    "SynproxyFlag",
    "Table",
    "TableFlag",
    *_expressions_all,
    *_objects_all,
    *_statements_all,
]
