"""nft text -> a script's items (``parse_commands``), ``parse_rule`` and ``parse_statements``.

The grammar (``nft.lark``) is compiled once per process into an LALR parser whose callbacks
(``transformer.NftTransformer``) build the script's items: table blocks (``TableBlock``) and
commands (``Cmd``), their rules as ``Rule`` nodes. ``_decode`` turns declarations into model
nodes; ``nftkit.semantics`` applies the commands (``nftkit.parse``, ``nftkit.parse_script``).

Errors are ``nftkit.ParseError`` with the file, line, column, the offending line and a caret::

    nftables.conf:3:17: unexpected "drop"
      expected one of: a value, "{", "@set"
      tcp dport accept drop
                       ^
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import NftkitError, ParseError
from ..model.ruleset import Rule
from ..model.statements import Stmt
from ._fast import FastListing, NotFast
from ._json_decoder import set_text_reader
from ._rules import RuleItem, reject_defaults
from ._values import PARSES
from .transformer import Cmd, Define, NftTransformer

__all__ = [
    "DEFAULT_INCLUDE_PATH",
    "MAX_INCLUDE_DEPTH",
    "NotFast",
    "build_parser",
    "parse_commands",
    "parse_listing",
    "parse_rule",
    "parse_statements",
]

#: Where nft looks for relative ``include`` files after the ``-I`` paths (its sysconfdir).
DEFAULT_INCLUDE_PATH = "/etc"
#: nft refuses deeper include nesting (``MAX_INCLUDE_DEPTH`` in nft's scanner).
MAX_INCLUDE_DEPTH = 16

_lock = threading.Lock()
_parsers: dict[bool, tuple[Lark, NftTransformer]] = {}
_local = PARSES  # the per-thread stack of parses in progress (their ``_Context``)


class _Context:
    """Per-parse state the transformer reads: defines in scope, include resolution."""

    def __init__(self, filename: str | None, include_paths: Sequence[str | os.PathLike[str]],
                 defines: dict[str, Define], depth: int = 0, *, template: bool = False
                 ) -> None:
        self.filename = filename
        self.include_paths = [str(p) for p in include_paths]
        self.defines = defines
        self.depth = depth
        #: a fast-path template line (``_values.in_template``)
        self.template = template


class _ContextTransformer(NftTransformer):
    """The process-wide transformer; its per-parse state lives in a thread-local stack."""

    def defines(self) -> dict[str, Define]:
        return _ctx().defines

    def include_file(self, path: str, tok: Token, block: str = "") -> list[Any]:
        return _include(path, tok, block)


def _ctx() -> _Context:
    stack: list[_Context] = getattr(_local, "stack", [])
    if not stack:
        raise NftkitError("nftkit.parse: no parse in progress")
    return stack[-1]


def build_parser(*, strict: bool = False) -> Lark:
    """A new LALR parser for ``nft.lark`` (tests pass ``strict=True``: conflicts fail)."""
    parser, _ = _make(strict)
    return parser


def _make(strict: bool) -> tuple[Lark, NftTransformer]:
    grammar = resources.files("nftkit.parse").joinpath("nft.lark").read_text()
    transformer = _ContextTransformer()
    # strict (the tests' conflict check) always analyses the grammar: a cache would skip that
    cache = False if strict else _cache_file()
    parser = Lark(grammar, parser="lalr", lexer="contextual", transformer=transformer,
                  strict=strict, maybe_placeholders=False, propagate_positions=False,
                  cache=cache)
    if isinstance(cache, str):
        # lark writes the file with the umask's mode: make it pass _cache_file's check
        with contextlib.suppress(OSError):
            if os.lstat(cache).st_uid == os.geteuid():
                os.chmod(cache, 0o600)
    return parser, transformer


def _cache_file(name: str = "grammar.lark-cache") -> str | bool:
    """Where lark may keep the analysed grammar (about 1.2 s of CPU to rebuild, 0.2 s to load).

    ``$NFTKIT_CACHE_DIR`` or ``$XDG_CACHE_HOME/nftkit`` (``~/.cache/nftkit``); the directory
    and the file must be this user's own (the effective uid) and writable by nobody else, and
    the file a regular file (not a link), since lark reads it back with ``pickle`` before it
    checks anything. lark names the grammar, its options and its own version in the file and
    rebuilds when they differ. ``NFTKIT_CACHE_DIR=""`` turns the cache off; so does any
    problem with the directory or the file (a file this user did not write is not read).
    """
    where = os.environ.get("NFTKIT_CACHE_DIR")
    if where is None:
        home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache")
        where = os.path.join(home, "nftkit")
    if not where:
        return False
    try:
        os.makedirs(where, mode=0o700, exist_ok=True)
        st = os.stat(where)
    except OSError:
        return False
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return False
    path = os.path.join(where, name)
    try:
        fst = os.lstat(path)
    except FileNotFoundError:
        return path  # lark writes it; _make makes it 0600
    except OSError:
        return False
    if not stat.S_ISREG(fst.st_mode) or fst.st_uid != os.geteuid() or fst.st_mode & 0o022:
        return False
    return path


def _parser() -> Lark:
    """The process-wide parser, built on first use (its analysis cached on disk, see
    ``_cache_file``)."""
    entry = _parsers.get(False)
    if entry is None:
        with _lock:
            entry = _parsers.get(False)
            if entry is None:
                entry = _parsers[False] = _make(False)
    return entry[0]


# --- errors ------------------------------------------------------------------------------

_NAMES = {
    "WORD": "a name or value", "STRING": 'a quoted string', "VARIABLE": "a $variable",
    "SETREF": "@set", "_NL": "end of line", "HANDLE": "# handle", "$END": "end of input",
    "RAW_PAYLOAD": "@base,offset,length", "SIGNED": "a number",
}


def _describe(parser: Lark, names: Iterable[str]) -> tuple[str, ...]:
    names = set(names)
    out = set()
    word = parser.get_terminal("WORD").pattern.to_regexp() if "WORD" in names else None
    for name in names:
        if word is not None and name not in _NAMES:
            try:
                pattern = parser.get_terminal(name).pattern
            except KeyError:
                pattern = None
            if pattern is not None and pattern.type == "str" and \
                    re.fullmatch(word, pattern.value):
                continue  # a keyword where any word fits: "a name or value" says it
        if name in _NAMES:
            out.add(_NAMES[name])
            continue
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            out.add(name.lower())
            continue
        out.add(f'"{pattern.value}"' if pattern.type == "str" else name.lower())
    keywords = sorted(x for x in out if x.startswith('"') and x[1:-1].isalpha())
    if len(keywords) > 12:  # the start of any statement: name a few, not all hundred
        out -= set(keywords)
        sample = [k for k in ('"accept"', '"counter"', '"ip"', '"meta"', '"tcp"')
                  if k in keywords] or keywords[:5]
        out.add("a keyword such as " + ", ".join(sample))
    return tuple(sorted(out))


def _error(text: str, filename: str | None, message: str, line: int | None,
           column: int | None, expected: tuple[str, ...] = ()) -> ParseError:
    source = None
    if line is not None:
        lines = text.split("\n")
        if 0 < line <= len(lines):
            source = lines[line - 1].expandtabs(1)[:400]
    if column is not None and source is not None:
        column = min(column, len(source) + 1)
    return ParseError(message, filename=filename or "<input>", line=line, column=column,
                      source_line=source, expected=expected[:40])


def _from_lark(parser: Lark, text: str, filename: str | None, exc: UnexpectedInput) -> ParseError:
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    if isinstance(line, int) and line < 0:
        line = column = None
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            what = "unexpected end of input"
            lines = text.rstrip("\n").split("\n")
            line, column = len(lines), len(lines[-1]) + 1
        elif tok.type == "_NL":
            what = "unexpected end of line"
        else:
            what = f'unexpected "{str(tok)[:60]}"'
        expected = _describe(parser, exc.accepts or exc.expected)
        return _error(text, filename, what, line, column, expected)
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream if isinstance(exc.pos_in_stream, int) else -1
        ch = text[pos] if 0 <= pos < len(text) else "?"
        expected = _describe(parser, exc.allowed or ())
        return _error(text, filename, f"unexpected character {ch!r}", line, column, expected)
    if isinstance(exc, UnexpectedEOF):
        lines = text.rstrip("\n").split("\n")
        return _error(text, filename, "unexpected end of input", len(lines),
                      len(lines[-1]) + 1, _describe(parser, exc.expected))
    return _error(text, filename, str(exc).splitlines()[0], line, column)


def _run(text: str, ctx: _Context,
         run: Callable[[str], list[Any]] | None = None) -> list[Any]:
    """Parse ``text`` in ``ctx``; every failure becomes a located ParseError.

    ``run`` replaces the process-wide parser's ``parse`` (``parse_with_positions`` parses to a
    tree first, to learn where each rule starts).
    """
    parser = _parser()
    stack: list[_Context] = getattr(_local, "stack", None) or []
    _local.stack = stack
    stack.append(ctx)
    try:
        if run is not None:
            return run(text)
        result: list[Any] = parser.parse(text)  # type: ignore[assignment]
        return result
    except UnexpectedInput as exc:
        raise _from_lark(parser, text, ctx.filename, exc) from None
    except ParseError as exc:
        if exc.filename is None or (exc.filename == "<input>" and ctx.filename):
            raise _error(text, ctx.filename, exc.message, exc.line, exc.column,
                         exc.expected) from None
        raise
    except NftkitError as exc:
        raise _error(text, ctx.filename, str(exc), None, None) from None
    except RecursionError:
        raise _error(text, ctx.filename, "input nested too deeply", None, None) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError,
            OverflowError) as exc:
        if os.environ.get("NFTKIT_PARSE_DEBUG"):
            raise
        raise _error(text, ctx.filename, f"cannot read this: {exc}", None, None) from None
    finally:
        stack.pop()


#: What an ``include`` in a table or chain block is parsed inside (one line: lines keep
#: their numbers), and how the block's items are taken out of the result.
_INCLUDE_WRAP = {"table": ("table inet _ { ", "\n}"),
                 "chain": ("table inet _ { chain _ { ", "\n} }")}


def _block_items(items: list[Any], block: str) -> list[Any]:
    (table,) = items
    out: list[Any] = table.items
    if block == "chain":
        ((_, (_, (_, out))),) = out
    return out


def _include(path: str, tok: Token, block: str = "") -> list[Any]:
    """Resolve and parse an ``include``, the way nft's scanner does.

    An absolute path or one starting with ``./``/``../`` is used as is; any other path is
    looked up in the include paths (``-I``, then ``/etc``) and, failing that, relative to the
    current directory. A path with glob characters includes every match in sorted order and may
    match nothing; a plain path must exist.
    """
    ctx = _ctx()
    if ctx.depth + 1 > MAX_INCLUDE_DEPTH:
        raise ParseError(f"include nested too deeply ({MAX_INCLUDE_DEPTH} levels)",
                         line=tok.line, column=tok.column)
    is_glob = any(ch in path for ch in "*?[")
    if os.path.isabs(path) or path.startswith(("./", "../")):
        candidates = [path]
    else:
        candidates = [os.path.join(p, path) for p in (*ctx.include_paths, DEFAULT_INCLUDE_PATH)]
        candidates.append(path)
    files: list[str] = []
    for cand in candidates:
        if is_glob:
            matches = sorted(m for m in glob.glob(cand) if os.path.isfile(m))
            if matches:
                files = matches
                break
        elif os.path.isfile(cand):
            files = [cand]
            break
        elif os.path.isdir(cand):
            files = sorted(os.path.join(cand, f) for f in os.listdir(cand)
                           if os.path.isfile(os.path.join(cand, f)))
            break
    if not files and not is_glob:
        raise ParseError(f"include file not found: {path}", line=tok.line, column=tok.column)
    out: list[Any] = []
    for f in files:
        try:
            text = Path(f).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ParseError(f"cannot read include file {f}: {exc}", line=tok.line,
                             column=tok.column) from None
        sub = _Context(f, ctx.include_paths, ctx.defines, ctx.depth + 1)
        if block:
            head, tail = _INCLUDE_WRAP[block]
            out.extend(_block_items(_run(head + text + tail, sub), block))
        else:
            out.extend(_run(text, sub))
    return out


#: Use the template fast path for listing-shaped text (tests switch it off to compare).
FAST_PATH = True


def _keywords() -> frozenset[str]:
    kw: frozenset[str] | None = getattr(_keywords, "cache", None)
    if kw is None:
        kw = frozenset(t.pattern.value for t in _parser().terminals if t.pattern.type == "str")
        _keywords.cache = kw  # type: ignore[attr-defined]
    return kw


def _template_items(sub: str) -> list[Any]:
    """A fast-path template line through lark (``_values.in_template`` is true)."""
    return _run(sub, _Context("<fast>", (), {}, template=True))


def parse_listing(text: str) -> list[Any]:
    """The items of ``nft list ruleset`` output through the fast path (rule and element
    templates, lark only for the first line of each shape); ``NotFast`` when the text is not
    plain listing output (then ``parse_commands`` reads it with lark)."""
    if not (FAST_PATH and text.startswith("table ") and len(text) > 20_000):
        raise NotFast("not a large listing")
    return FastListing(_template_items, _keywords()).parse(text)


def parse_commands(text: str, *, filename: str | None = None,
                   include_paths: Sequence[str | os.PathLike[str]] = ()) -> list[Any]:
    """The script's top-level items (``TableBlock`` and ``Cmd``), includes expanded."""
    if not isinstance(text, str):
        raise ParseError("expected text (str)", filename=filename)
    try:
        return parse_listing(text)
    except NotFast:
        pass
    ctx = _Context(filename, include_paths, {})
    items = _run(text, ctx)
    return _flatten(items)


def _flatten(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, Cmd) and item.verb == "include":
            out.extend(_flatten(item.extra))
        elif isinstance(item, Cmd) and item.verb == "define":
            continue
        else:
            out.append(item)
    return out


def parse_statements(text: str, family: str = "inet") -> tuple[Stmt, ...]:
    """One rule's statements from nft text: ``update @s { ip saddr : tcp sport }``.

    For the JSON reader: nft 1.0.6 writes some statements into its JSON as raw text.
    """
    return parse_rule(text, family=family).stmts


set_text_reader(parse_statements)  # the JSON reader sits below this module: see _json_decoder


def parse_rule(text: str, *, family: str = "inet") -> Rule:
    """One rule in nft syntax: ``parse_rule("tcp dport 22 accept")``."""
    if not isinstance(text, str):
        raise ParseError("expected text (str)")
    script = f"add rule {family} _ _ {text}"
    ctx = _Context("<rule>", (), {})
    try:
        items = _run(script, ctx)
    except ParseError as exc:
        col = exc.column - (len(script) - len(text)) if exc.column and exc.line == 1 else \
            exc.column
        raise _error(text, None, exc.message, exc.line, col, exc.expected) from None
    cmds = [i for i in items if isinstance(i, Cmd)]
    if len(cmds) != 1 or cmds[0].kind != "rule":
        raise ParseError("expected exactly one rule", filename="<input>")
    item: RuleItem = cmds[0].obj["rule"]
    rule = item.rule
    try:
        return reject_defaults(Rule(stmts=rule.stmts, comment=rule.comment,
                                    handle=item.handle), family)
    except NftkitError as exc:
        raise ParseError(f"{exc}", filename="<input>") from None
