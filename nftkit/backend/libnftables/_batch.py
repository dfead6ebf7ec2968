"""Backend-independent pieces of running a batch: nft's error text -> nftkit errors, and the
kernel handles in nft's echo output -> the ops that created them.

nft reports kernel errors as ``Error: Could not process rule: No such file or directory`` (the
word "rule" is nft's, whatever the object was), JSON syntax errors as ``Error: Parsing command
array at index 3 failed.``, and missing privilege as ``Error: cache initialization failed:
Operation not permitted``.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import (
    BackendError,
    BusyError,
    ExistsError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
)
from ..transaction import Kind, Op, Verb

__all__ = ["PERMISSION_HINT", "classify", "clean_message", "handles_from_echo", "json_index"]

PERMISSION_HINT = (
    "permission denied: changing or reading nftables needs CAP_NET_ADMIN in the target "
    "network namespace (run as root, or in a user namespace that owns the network namespace)"
)

_CLASSES: tuple[tuple[str, type[BackendError]], ...] = (
    ("Operation not permitted", PermissionDeniedError),
    ("Permission denied", PermissionDeniedError),
    ("No such file or directory", NotFoundError),
    # nft 1.0.6 reports a missing interval-set element without an errno
    ("element does not exist", NotFoundError),
    ("File exists", ExistsError),
    ("Device or resource busy", BusyError),
)
_INDEX = re.compile(r"Parsing command array at index (\d+) failed")
_PREFIX = re.compile(r"^(?:internal|netlink|<cmdline>|\S+):[\d:-]*\s*(?:Error:\s*)?", re.M)


def classify(message: str) -> type[BackendError]:
    """The nftkit error class for nft's error output."""
    for needle, cls in _CLASSES:
        if needle in message:
            return cls
    return InvalidError


def clean_message(message: str) -> str:
    """nft's error output without the ``internal:0:0-0:`` location noise, one line per error."""
    lines = [_PREFIX.sub("", line).strip() for line in message.splitlines()]
    return "\n".join(line for line in lines if line)


def json_index(message: str) -> int | None:
    """The command index of a JSON syntax error, when nft gives it."""
    m = _INDEX.search(message)
    return int(m.group(1)) if m else None


def _key(kind: str, body: dict[str, Any]) -> tuple[str, ...]:
    if kind == "table":
        return (kind, str(body.get("family")), str(body.get("name")))
    if kind == "rule":
        return (kind, str(body.get("family")), str(body.get("table")), str(body.get("chain")))
    return (kind, str(body.get("family")), str(body.get("table")), str(body.get("name")))


def _op_key(op: Op) -> tuple[str, ...]:
    fam = op.family.value if op.family is not None else "None"
    if op.kind is Kind.TABLE:
        return (op.kind.value, fam, str(op.table))
    if op.kind is Kind.RULE:
        return (op.kind.value, fam, str(op.table), str(op.chain))
    return (op.kind.value, fam, str(op.table), str(op.name))


def handles_from_echo(ops: list[Op], echo: Any) -> list[int | None]:
    """Match nft's echo output (``{"nftables": [{"add": {"rule": {..., "handle": 7}}}]}``)
    to the ops that were sent, in order; ops without an echoed handle get None.

    nft echoes most commands in order but not all of them (and ``add table`` of an existing
    table comes back without a handle), so entries are matched by kind and name, moving
    forward only.
    """
    handles: list[int | None] = [None] * len(ops)
    items = echo.get("nftables", []) if isinstance(echo, dict) else []
    pos = 0
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        ((verb, inner),) = item.items()
        if verb not in ("add", "create", "insert", "replace") or not isinstance(inner, dict):
            continue
        ((kind, body),) = inner.items() if len(inner) == 1 else ((None, None),)
        if not isinstance(body, dict) or "handle" not in body:
            continue
        key = _key(str(kind), body)
        for j in range(pos, len(ops)):
            if ops[j].creates and ops[j].verb is not Verb.DELETE and _op_key(ops[j]) == key:
                handles[j] = int(body["handle"])
                pos = j + 1
                break
    return handles
