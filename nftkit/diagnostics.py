"""One finding type for ``nftkit.check`` and ``nftkit.lint``, and source positions for it.

A ``Diagnostic`` says what is wrong, how bad it is and where, the way a compiler does::

    rules.nft:4:3: error: jump to chain 'nope', which does not exist [E-undefined-chain]

Checks and lints work on model nodes, which do not know where they came from: they name the
node (``node``) and the object path (``where``: ``inet t chain a rule 2``). A ``SourceMap``
(made by ``nftkit.parse.positions.parse_with_positions``) knows the line and column of each
table, chain, set, object and rule of a parsed file and fills them in (``SourceMap.locate``).
Positions live in that side table rather than on the frozen nodes, so that two nodes equal
in content stay equal wherever they were written.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import attrs

__all__ = ["Diagnostic", "Severity", "SourceMap"]


class Severity(StrEnum):
    """How bad a finding is."""

    ERROR = "error"  # the kernel or nft refuses it
    WARNING = "warning"  # accepted, but likely a mistake, slow, or refused later
    INFO = "info"  # worth knowing, nothing to fix


@attrs.frozen(kw_only=True)
class Diagnostic:
    """One finding of a check or a lint.

    ``code`` is a short stable id, its first letter the usual severity (``E-undefined-set``,
    ``W-anonymous-sets``); ``message`` says what was found. ``where`` names the object
    (``inet t chain a rule 2``) and ``node`` is the node at fault (the rule, chain, set or
    table), for ``SourceMap.locate`` and for callers that want to fix it. ``reason`` says why
    it matters and ``suggestion`` what to do instead, when the finding has them. ``file``,
    ``line`` and ``column`` (1-based) are set when the ruleset was parsed from a file.
    """

    severity: Severity
    code: str
    message: str
    where: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None
    reason: str = ""
    suggestion: str = ""
    node: object = attrs.field(default=None, eq=False, repr=False)

    @property
    def location(self) -> str:
        """``file:line:col`` when the position is known, else the file and/or object path."""
        if self.line is not None:
            text = f"{self.file or '<input>'}:{self.line}"
            return text if self.column is None else f"{text}:{self.column}"
        if self.file and self.where:
            return f"{self.file}: {self.where}"
        return self.file or self.where or "<input>"

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message} [{self.code}]"

    def notes(self) -> list[str]:
        """The reason and suggestion as ``file:line:col: note: ...`` lines (gcc's shape)."""
        out = []
        if self.reason:
            out.append(f"{self.location}: note: why: {self.reason}")
        if self.suggestion:
            out.append(f"{self.location}: note: instead: {self.suggestion}")
        return out


class SourceMap:
    """Where each node of one parsed ruleset was written: node identity -> (line, column).

    Keyed by ``id()``; the map holds a reference to every node it knows, so an id is never
    reused while the map lives.
    """

    def __init__(self, file: str | None = None) -> None:
        self.file = file
        self._pos: dict[int, tuple[int, int]] = {}
        self._nodes: list[object] = []

    def add(self, node: object, line: int, column: int) -> None:
        """Record ``node`` at ``line``:``column`` (the first record of a node wins)."""
        if id(node) not in self._pos:
            self._pos[id(node)] = (line, column)
            self._nodes.append(node)

    def position(self, node: object) -> tuple[int, int] | None:
        """``(line, column)`` of ``node``, or None when it was not written in this file."""
        return self._pos.get(id(node))

    def __len__(self) -> int:
        return len(self._pos)

    def locate(self, diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
        """The diagnostics with this file and, where their node is known, line and column."""
        out = []
        for d in diagnostics:
            pos = self.position(d.node) if d.node is not None else None
            if pos is None:
                out.append(attrs.evolve(d, file=self.file))
            else:
                out.append(attrs.evolve(d, file=self.file, line=pos[0], column=pos[1]))
        return out
