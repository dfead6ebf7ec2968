"""nftkit's exceptions. Nothing from lark, cffi or the standard library escapes the public API.

Hierarchy::

    NftkitError
      ParseError            text or JSON that cannot be read (file, line, column, caret)
      ValidationError       a node built with an invalid value (names the class and field)
      UnsupportedError      valid nftables that nftkit cannot express in the requested form
      BackendError          the kernel or libnftables refused a transaction
        NotFoundError, ExistsError, PermissionDeniedError, BusyError, InvalidError,
        ConflictError
"""

from __future__ import annotations

import re

__all__ = [
    "BackendError",
    "BusyError",
    "ConflictError",
    "ExistsError",
    "InvalidError",
    "NftkitError",
    "NotFoundError",
    "ParseError",
    "PermissionDeniedError",
    "UnsupportedError",
    "ValidationError",
]


class NftkitError(Exception):
    """Base class of every error nftkit raises."""


class ValidationError(NftkitError, ValueError):
    """A model node was given an invalid value.

    ``node`` is the class name and ``field`` the attribute, e.g. ``Chain.hook``.
    """

    def __init__(self, node: str, field: str | None, message: str) -> None:
        self.node = node
        self.field = field
        where = f"{node}.{field}" if field else node
        super().__init__(f"{where}: {message}")


class UnsupportedError(NftkitError):
    """Valid nftables that cannot be expressed in the requested form (e.g. ``xt`` to text)."""


#: A lark token's repr, ``Token('WORD', 'x')``: a message shows the token's text, ``'x'``.
_TOKEN_REPR = re.compile(r"""Token\('[A-Za-z0-9_$]+', ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\)""")


class ParseError(NftkitError, ValueError):
    """Input text or JSON that nftkit cannot read.

    For text, ``line`` and ``column`` are 1-based and ``context`` shows the line with a caret.
    """

    def __init__(
        self,
        message: str,
        *,
        filename: str | None = None,
        line: int | None = None,
        column: int | None = None,
        source_line: str | None = None,
        expected: tuple[str, ...] = (),
    ) -> None:
        self.message = _TOKEN_REPR.sub(r"\1", message)
        self.filename = filename
        self.line = line
        self.column = column
        self.source_line = source_line
        self.expected = expected
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.filename or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.message}"
        if self.expected:
            text += "\n  expected one of: " + ", ".join(self.expected)
        if self.source_line is not None and self.column is not None:
            text += f"\n  {self.source_line}\n  {' ' * (self.column - 1)}^"
        return text


class BackendError(NftkitError):
    """libnftables or the kernel rejected a transaction.

    ``nft_message`` is nft's own error text; ``index`` and ``operation`` identify the operation
    of the transaction that failed, when it could be determined.
    """

    def __init__(
        self,
        message: str,
        *,
        nft_message: str = "",
        index: int | None = None,
        operation: object | None = None,
    ) -> None:
        self.nft_message = nft_message
        self.index = index
        self.operation = operation
        text = message
        if index is not None:
            text += f" (operation {index}: {operation!r})"
        if nft_message and nft_message not in message:
            text += f"\n{nft_message}"
        super().__init__(text)


class NotFoundError(BackendError, LookupError):
    """A referenced table, chain, set, element or object does not exist (ENOENT)."""


class ExistsError(BackendError):
    """The object already exists and ``create`` was used (EEXIST)."""


class PermissionDeniedError(BackendError, PermissionError):
    """The caller lacks CAP_NET_ADMIN in the target network namespace (EPERM)."""


class BusyError(BackendError):
    """The object is still in use, e.g. a chain that is jumped to or a bound set (EBUSY)."""


class ConflictError(BackendError):
    """Another process changed the ruleset while a batch was built from what was read of it,
    every time it was tried (the kernel answered ERESTART); nothing was applied."""


class InvalidError(BackendError):
    """The kernel or libnftables rejected the operation as invalid (EINVAL, syntax, ...)."""
