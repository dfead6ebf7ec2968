"""libnftables' error output -> nftkit errors.

nft reports kernel errors as ``Error: Could not process rule: No such file or directory`` (the
word "rule" is nft's, whatever the object was), JSON syntax errors as ``Error: Parsing command
array at index 3 failed.``, and missing privilege as ``Error: cache initialization failed:
Operation not permitted``.
"""

from __future__ import annotations

import re

from ...errors import (
    BackendError,
    BusyError,
    ExistsError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
)
from .._netns import PERMISSION_HINT

__all__ = ["classify", "clean_message", "json_index", "raise_for"]

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


def raise_for(err: str, what: str) -> None:
    """Raise the nftkit error for a failed text command (``what``: how to name it)."""
    cls = classify(err)
    msg = clean_message(err)
    if cls is PermissionDeniedError:
        raise cls(PERMISSION_HINT, nft_message=msg)
    raise cls(f"{what}: {msg.splitlines()[0] if msg else 'failed'}", nft_message=err)
