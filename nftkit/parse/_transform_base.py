"""The base of the lark transformer: what its callbacks share (``transformer`` docstring).

Value words as nft's JSON spells them (``word_value``), durations, the script's items
(``Cmd``, ``TableBlock``, ``Define``) and ``TransformerBase``: ``define`` values, includes,
names, numbers, typed values (``_values``) and element options.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lark import Token, Transformer

from ..errors import ParseError
from . import _values

__all__ = ["DIGITS", "Cmd", "Define", "J", "TableBlock", "TransformerBase", "handle_of",
           "maybe_list", "milliseconds", "plain", "seconds", "unquote", "word_value"]

J = Any  # a JSON-shaped value

#: A decimal number word.
DIGITS = re.compile(r"\d+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_TIME = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?\Z")
_MAX_INT = 1 << 128


def _valueish(s: str) -> bool:
    """Whether ``s`` can be one end of a range: a number or an address."""
    return bool(s) and (s[0].isdigit() or ":" in s or s.startswith("0x"))


def word_value(s: str) -> J:
    """One unquoted value word as nft's JSON spells it."""
    if DIGITS.match(s):
        n = int(s)
        if n >= _MAX_INT:
            raise ValueError(f"number {s[:40]} is too large")
        return n
    if _HEX.match(s):
        if len(s) > 18:
            return s  # wider than 64 bits: nft's JSON keeps it as a hex string
        return int(s, 16)
    if "-" in s:
        low, sep, high = s.partition("-")
        if sep and "-" not in high and _valueish(low) and _valueish(high):
            return {"range": [word_value(low), word_value(high)]}
    if "/" in s:
        addr, _, plen = s.rpartition("/")
        if DIGITS.match(plen) and _valueish(addr):
            return {"prefix": {"addr": word_value(addr), "len": int(plen)}}
    return str(s)


def seconds(s: str) -> int:
    """A duration word (``1h30m``, ``45s``, ``500ms``) in whole seconds (ms truncated)."""
    return milliseconds(s) // 1000


def milliseconds(s: str) -> int:
    if DIGITS.match(s):
        return int(s) * 1000
    m = _TIME.match(s)
    if not m or not s:
        if isinstance(s, Token):  # located, and without the token's repr
            raise ParseError(f"not a time: {str(s)[:40]!r}", line=s.line, column=s.column)
        raise ValueError(f"not a time: {str(s)[:40]!r}")
    d, h, mi, sec, ms = (int(g) if g else 0 for g in m.groups())
    return (((d * 24 + h) * 60 + mi) * 60 + sec) * 1000 + ms


class Define:
    """The value of a ``define``: a JSON-shaped expression (or a verdict)."""

    __slots__ = ("value",)

    def __init__(self, value: J) -> None:
        self.value = value


class Cmd:
    """One script command: ``verb`` (add, create, insert, ...) and JSON-shaped ``obj``."""

    __slots__ = ("extra", "kind", "line", "obj", "verb")

    def __init__(self, verb: str, kind: str, obj: dict[str, J], extra: Any = None,
                 line: int | None = None) -> None:
        self.verb = verb
        self.kind = kind
        self.obj = obj
        self.extra = extra
        self.line = line

    def __repr__(self) -> str:
        return f"Cmd({self.verb} {self.kind} {self.obj!r})"


class TableBlock:
    """``table FAMILY NAME { ... }``: the table and the objects its block declares."""

    __slots__ = ("items", "table")

    def __init__(self, table: dict[str, J], items: list[tuple[str, dict[str, J]]]) -> None:
        self.table = table
        self.items = items


#: JSON values all the way down (tokens become str, tuples lists); one definition, in _values
plain = _values.plain


def unquote(tok: Token | str) -> str:
    """A name or string token's text (quotes removed)."""
    if isinstance(tok, Token) and tok.type == "STRING":
        return tok[1:-1]
    return str(tok)


def handle_of(tok: Any) -> int | None:
    """The number of a ``# handle N`` token (None for any other item)."""
    if isinstance(tok, Token) and tok.type == "HANDLE":
        return int(tok.rsplit(" ", 1)[1])
    return None


def maybe_list(items: list[J]) -> J:
    """One item as itself, several as a list (as nft's JSON writes flags)."""
    return items[0] if len(items) == 1 else items


class TransformerBase(Transformer[Token, Any]):
    """What the grammar's callbacks share: ``define`` values in scope, includes, names,
    numbers, typed values and element options (the callbacks are its subclasses').

    ``defines`` holds ``define`` values in scope; ``include`` is called for ``include``
    commands and returns the commands of the included file.
    """

    def __init__(self, defines: dict[str, Define] | None = None,
                 include: Callable[[str, Token], list[Any]] | None = None,
                 family: str = "inet") -> None:
        super().__init__(visit_tokens=False)
        self._defines: dict[str, Define] = defines if defines is not None else {}
        self._include = include
        self.default_family = family


    def word(self, c: list[Token]) -> str:
        """A keyword rule whose value is its word (``verdict_kw``, ``family``, ...)."""
        return str(c[0])
    def defines(self) -> dict[str, Define]:
        """The ``define`` values in scope (overridden per parse by nftkit.parse.nft)."""
        return self._defines

    def include_file(self, path: str, tok: Token, block: str = "") -> list[Any]:
        """The items of the included file(s): commands, or a ``table``/``chain`` block's."""
        if self._include is None or block:
            raise ParseError("include is not allowed here", line=tok.line, column=tok.column)
        return self._include(path, tok)

    # --- helpers ---------------------------------------------------------------------------

    def _var(self, tok: Token) -> J:
        name = tok[1:]
        d = self.defines().get(name)
        if d is None:
            raise ParseError(f"unknown variable ${name}", line=tok.line, column=tok.column)
        return d.value

    def _name(self, children: list[Any]) -> str:
        (tok,) = children
        if isinstance(tok, Token) and tok.type == "VARIABLE":
            v = self._var(tok)
            if not isinstance(v, str | int):
                raise ParseError(f"${tok[1:]} is not a name", line=tok.line, column=tok.column)
            return Token.new_borrow_pos("WORD", str(v), tok)
        if tok.type == "STRING":  # keep the position for error messages
            return Token.new_borrow_pos("STRING_VALUE", tok[1:-1], tok)
        return str(tok) if not isinstance(tok, Token) else tok

    def _int(self, tok: Token) -> int:
        v = word_value(str(tok))
        if not isinstance(v, int):
            raise ParseError(f"expected a number, got {str(tok)[:40]!r}", line=tok.line,
                             column=tok.column)
        return v

    @staticmethod
    def _typed(left: J, value: J) -> J:
        """``value`` checked against the datatype of ``left`` and normalised as nft stores it
        (``ssh`` -> ``22``; ``nft -n``'s numbers -> symbols): see ``nftkit.parse._values``."""
        dt = _values.lhs_datatype(left)
        return value if dt is None else _values.apply(value, dt)

    @staticmethod
    def _elem(val: J, opts: list[Any]) -> dict[str, J]:
        """``{"val": ..., "timeout": 30, "counter": {...}}``: options and statements."""
        elem: dict[str, J] = {"val": val}
        for opt in opts:
            if isinstance(opt, tuple):
                elem[opt[0]] = opt[1]
            else:  # a statement: {"counter": {...}}
                elem.update(opt)
        return elem
