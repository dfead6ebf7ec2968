"""The members libnftables JSON gives each container object (schema version 1).

``{"chain": {"family": "inet", "table": "t", "name": "input", "handle": 1, "type": "filter",
"hook": "input", "prio": 0, "policy": "accept"}}``: a reader refuses any other member (with
its path), so a misspelt one is an error instead of being ignored.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MEMBERS"]

_COMMON = frozenset({"family", "table", "name", "handle", "comment"})
#: ``count``: the number of elements, after ``size`` (nft 1.1.7 lists it; read and dropped,
#: since the elements say it).
_SET = _COMMON | {"type", "policy", "flags", "elem", "timeout", "gc-interval", "size", "stmt",
                  "auto-merge", "count"}

#: Container kind -> the members its JSON object may have.
MEMBERS: Final[dict[str, frozenset[str]]] = {
    "table": frozenset({"family", "name", "handle", "flags", "comment"}),
    "chain": _COMMON | {"type", "hook", "prio", "policy", "dev", "flags"},
    "rule": frozenset({"family", "table", "chain", "handle", "index", "position", "expr",
                       "comment"}),
    "set": _SET,
    "map": _SET | {"map"},
    "flowtable": _COMMON | {"hook", "prio", "dev", "flags", "counter"},
}
