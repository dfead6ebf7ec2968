"""``python -m nftkit``: format, convert and check nftables rulesets.

    python -m nftkit fmt FILE          nft text -> canonical text (as `nft list ruleset` prints)
    python -m nftkit json FILE         nft text -> libnftables JSON (as `nft -j list ruleset`)
    python -m nftkit text FILE.json    libnftables JSON -> nft text
    python -m nftkit check FILE        every error and warning of nftkit.check
    python -m nftkit lint FILE         warnings about scale, unreachable and shadowed rules

FILE may be ``-`` for standard input.

``check`` and ``lint`` print every finding on standard output, one per line, the way compilers
do (``file:line:col: severity: message [code]``, followed by ``note:`` lines with the reason
and the suggestion where there are any), and exit with 0 when there is nothing to report, 1
when something was reported, 2 on a usage error or when the input cannot be read or parsed
(the parse error is printed in the same format, code ``E-parse``).

``fmt``, ``json`` and ``text`` exit with 0 on success, 1 on invalid input (the message names
the file, line and column) and 2 on usage errors and unreadable files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .diagnostics import Diagnostic, Severity, SourceMap
from .errors import NftkitError, ParseError

__all__ = ["EXIT_CLEAN", "EXIT_FINDINGS", "EXIT_USAGE", "main"]

#: ``check``/``lint`` exit status: nothing to report
EXIT_CLEAN = 0
#: ``check``/``lint`` exit status: at least one finding was printed
EXIT_FINDINGS = 1
#: usage error, unreadable file, or (``check``/``lint``) input that cannot be parsed
EXIT_USAGE = 2

_EXIT_CODES = """\
exit status: 0 nothing to report, 1 findings were printed, 2 usage error or input that \
cannot be read or parsed (printed as file:line:col: error: message [E-parse])"""


def _read(path: str) -> tuple[str, str]:
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    with open(path, encoding="utf-8") as f:
        return f.read(), path


def _load(text: str, name: str, include_paths: Sequence[str], as_json: bool | None) -> object:
    """A Ruleset from nft text or, when it looks like JSON (or ``as_json``), libnftables JSON."""
    from .parse.json import from_json
    from .semantics.script import parse

    if as_json or (as_json is None and text.lstrip().startswith("{")):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ParseError(f"invalid JSON: {exc}", filename=name) from None
        return from_json(doc)
    return parse(text, filename=name, include_paths=include_paths)


def _common(p: argparse.ArgumentParser, *, json_input: bool = False,
            target: bool = True) -> None:
    p.add_argument("file", help="input file; - reads standard input")
    if not json_input:
        p.add_argument("-I", "--includepath", action="append", default=[], metavar="DIR",
                       help="where to look for relative include files (like nft -I); "
                            "may be repeated")
    if not target:  # (lint's findings do not depend on the nft release)
        return
    p.add_argument("--target", metavar="VERSION", default=None,
                   help="nft version whose output to reproduce, e.g. 1.0.6 (default: the "
                        "installed nft)")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m nftkit",
                                 description="Format, convert and check nftables rulesets.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("fmt", help="print nft text in canonical form",
                       description="Read nft text (a listing or an nft -f script) and print "
                                   "the ruleset as `nft list ruleset` would.")
    _common(p)
    p.add_argument("-a", "--handles", action="store_true", help="print # handle N (nft -a)")
    p.add_argument("-s", "--stateless", action="store_true",
                   help="omit counter and quota values (nft -s)")
    p = sub.add_parser("json", help="convert nft text to libnftables JSON",
                       description="Read nft text and print the ruleset as "
                                   "`nft -j list ruleset` would.")
    _common(p)
    p.add_argument("--indent", type=int, default=None, help="pretty-print with this indent")
    p = sub.add_parser("text", help="convert libnftables JSON to nft text",
                       description="Read `nft -j list ruleset` JSON and print it as nft text.")
    _common(p, json_input=True)
    p = sub.add_parser("check", help="report every error and warning of nftkit.check",
                       description="Parse nft text or JSON and run nftkit's checks (jump "
                                   "targets and loops, set and object references, base chain "
                                   "hooks). Prints every finding as "
                                   "file:line:col: severity: message [code].",
                       epilog=_EXIT_CODES)
    _common(p)
    p = sub.add_parser("lint", help="warn about scale problems and unreachable rules",
                       description="Parse nft text or JSON and print nftkit.lint's warnings "
                                   "(shapes the kernel loads in quadratic time, unreachable "
                                   "and shadowed rules) as file:line:col: warning: message "
                                   "[code], each followed by note: lines saying why and what "
                                   "to do instead.",
                       epilog=_EXIT_CODES)
    _common(p, target=False)
    from .lint import LintLimits

    defaults = LintLimits()
    p.add_argument("--max-anonymous-sets", type=int, default=defaults.anonymous_sets,
                   help="per table (default %(default)s)")
    p.add_argument("--max-map-bindings", type=int, default=defaults.map_bindings,
                   help="rules binding one set or map (default %(default)s)")
    p.add_argument("--max-jump-edges", type=int, default=defaults.jump_edges,
                   help="jump/goto edges per table (default %(default)s)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command in ("check", "lint"):
        return _diagnose(args)
    from .render.json import to_json
    from .render.text import to_text

    try:
        text, name = _read(args.file)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"nftkit {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    includes = getattr(args, "includepath", [])
    try:
        if args.command == "text":
            ruleset = _load(text, name, (), True)
            sys.stdout.write(to_text(ruleset, version=args.target))  # type: ignore[arg-type]
        elif args.command == "fmt":
            ruleset = _load(text, name, includes, False)
            sys.stdout.write(to_text(ruleset, version=args.target,  # type: ignore[arg-type]
                                     handles=args.handles, stateless=args.stateless))
        else:  # json
            ruleset = _load(text, name, includes, False)
            doc = to_json(ruleset, version=args.target)  # type: ignore[arg-type]
            sys.stdout.write(json.dumps(doc, indent=args.indent) + "\n")
    except NftkitError as exc:
        print(str(exc) if str(exc).startswith(name) else f"{name}: {exc}", file=sys.stderr)
        return 1
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    """``check`` or ``lint`` one file: print every finding, return the exit status."""
    from .check import problems
    from .lint import LintLimits, lint
    from .model.ruleset import Ruleset
    from .parse.json import from_json
    from .semantics.positions import parse_with_positions
    from .semantics.script import parse

    try:
        text, name = _read(args.file)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"nftkit {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    def findings(ruleset: Ruleset) -> list[Diagnostic]:
        if args.command == "check":
            return problems(ruleset)
        return lint(ruleset, limits=LintLimits(anonymous_sets=args.max_anonymous_sets,
                                               map_bindings=args.max_map_bindings,
                                               jump_edges=args.max_jump_edges))

    where = SourceMap(name)
    try:
        if text.lstrip().startswith("{"):  # JSON has no positions to report: the file only
            try:
                doc = json.loads(text)
            except ValueError as exc:
                raise ParseError(f"invalid JSON: {exc.args[0]}", filename=name,
                                 line=getattr(exc, "lineno", None),
                                 column=getattr(exc, "colno", None)) from None
            found = findings(from_json(doc))
        else:
            # the plain parse, with its fast paths, is many times quicker than one that keeps
            # positions: a clean file is done with it, a file with findings is read again
            quick: list[Diagnostic] | None
            try:
                quick = findings(parse(text, filename=name, include_paths=args.includepath))
            except ParseError:  # (it refuses a missing jump target or @set; check reports it)
                quick = None
            found = []
            if quick is None or quick:
                ruleset, where = parse_with_positions(text, filename=name,
                                                      include_paths=args.includepath)
                found = findings(ruleset)
    except ParseError as exc:
        _print_parse_error(exc, name)
        return EXIT_USAGE
    except NftkitError as exc:
        print(Diagnostic(severity=Severity.ERROR, code="E-parse", message=str(exc),
                         file=name))
        return EXIT_USAGE
    for d in where.locate(found):
        print(d)
        for note in d.notes():
            print(note)
    return EXIT_FINDINGS if found else EXIT_CLEAN


def _print_parse_error(exc: ParseError, name: str) -> None:
    """A parse error as a diagnostic line, then what was expected and the caret line."""
    print(Diagnostic(severity=Severity.ERROR, code="E-parse", message=exc.message,
                     file=exc.filename if exc.filename not in (None, "<input>") else name,
                     line=exc.line, column=exc.column))
    if exc.expected:
        print("  expected one of: " + ", ".join(exc.expected))
    if exc.source_line is not None and exc.column is not None:
        print(f"  {exc.source_line}\n  {' ' * (exc.column - 1)}^")


if __name__ == "__main__":
    sys.exit(main())
