"""``python -m nftkit``: format, convert and check nftables rulesets.

    python -m nftkit fmt FILE          nft text -> canonical text (as `nft list ruleset` prints)
    python -m nftkit json FILE         nft text -> libnftables JSON (as `nft -j list ruleset`)
    python -m nftkit text FILE.json    libnftables JSON -> nft text
    python -m nftkit check FILE        every error and warning of nftkit.check
    python -m nftkit lint FILE         warnings about scale, unreachable and shadowed rules
    python -m nftkit diff OLD NEW      the change from OLD to NEW as an nft -f script
    python -m nftkit apply FILE        sync a namespace to FILE (--dry-run: only show it)

FILE may be ``-`` for standard input. ``diff``'s OLD and NEW may also be ``netns:NAME``, the
live ruleset of network namespace NAME (``netns:`` alone: the current one).

``check`` and ``lint`` print every finding on standard output, one per line, the way compilers
do (``file:line:col: severity: message [code]``, followed by ``note:`` lines with the reason
and the suggestion where there are any), and exit with 0 when there is nothing to report, 1
when something was reported, 2 on a usage error or when the input cannot be read or parsed
(the parse error is printed in the same format, code ``E-parse``).

``fmt``, ``json`` and ``text`` exit with 0 on success, 1 on invalid input (the message names
the file, line and column) and 2 on usage errors and unreadable files.

``diff`` prints the operations (``nftkit.diff``) as an ``nft -f`` script followed by a summary
in ``#`` comment lines, and exits like diff(1): 0 when there is no difference, 1 when there
is one, 2 on a usage error or an input that cannot be read or parsed. Rules are deleted and
replaced by handle: a file's handles are those nft would give it loaded alone. ``apply``
exits with 0 when the namespace has FILE's tables (after the sync, or already; with
``--dry-run``: 0 when nothing would be sent, 1 when something would), 2 as ``diff``, and 3
when the kernel refused the batch or another writer kept changing the ruleset.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .diagnostics import Diagnostic, Severity, SourceMap
from .errors import BackendError, NftkitError, ParseError
from .model.ruleset import Ruleset
from .transaction import Transaction

__all__ = ["EXIT_BACKEND", "EXIT_CLEAN", "EXIT_FINDINGS", "EXIT_USAGE", "main"]

#: ``check``/``lint`` exit status: nothing to report
EXIT_CLEAN = 0
#: ``check``/``lint`` exit status: at least one finding was printed
EXIT_FINDINGS = 1
#: usage error, unreadable file, or (``check``/``lint``) input that cannot be parsed
EXIT_USAGE = 2
#: ``apply``: the kernel refused the batch, or another writer kept changing the ruleset
EXIT_BACKEND = 3

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
    _sync_parsers(sub)
    return ap


_SYNC_EXIT = """\
exit status: 0 no difference, 1 differences were printed, 2 usage error or input that \
cannot be read or parsed"""
_APPLY_EXIT = """\
exit status: 0 the namespace has FILE's tables (--dry-run: nothing would be sent), 1 \
(--dry-run) something would be sent, 2 usage error or input that cannot be read or parsed, \
3 the kernel refused the batch or another writer kept changing the ruleset"""


def _sync_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def tables(p: argparse.ArgumentParser) -> None:
        p.add_argument("-t", "--table", action="append", default=[], metavar="FAMILY NAME",
                       help="a table to own, e.g. 'inet filter' (may be repeated; default: "
                            "the tables of the desired ruleset)")

    p = sub.add_parser("diff", help="the change from OLD to NEW as an nft -f script",
                       description="Print the operations that turn OLD into NEW (nftkit.diff)"
                                   " as an nft -f script, then a summary as # comments. OLD "
                                   "and NEW are files (nft text or JSON) or netns:NAME, the "
                                   "live ruleset of a network namespace.",
                       epilog=_SYNC_EXIT)
    p.add_argument("old")
    p.add_argument("new")
    tables(p)
    p.add_argument("--all", action="store_true",
                   help="own every table of OLD and NEW (tables only in OLD are deleted)")
    p = sub.add_parser("apply", help="sync a network namespace to FILE",
                       description="Make the tables of FILE (nft text or JSON) what the "
                                   "kernel has, with Nftables.sync: one atomic batch of the "
                                   "differences, retried if another writer comes between.",
                       epilog=_APPLY_EXIT)
    p.add_argument("file")
    tables(p)
    p.add_argument("--netns", default=None, metavar="NAME",
                   help="the network namespace (default: the current one)")
    p.add_argument("-n", "--dry-run", action="store_true",
                   help="print what would be sent (an nft -f script), change nothing")


def _ruleset_arg(arg: str, includes: Sequence[str]) -> Ruleset:
    """A file (``-``: standard input) or ``netns:NAME`` as a ruleset with handles."""
    from .backend.fake import FakeNftables

    if arg.startswith("netns:"):
        from .backend.router import Nftables

        with Nftables(netns=arg[len("netns:"):] or None) as nft:
            return nft.list_ruleset()
    text, name = _read(arg)
    rs = _load(text, name, includes, None)
    assert isinstance(rs, Ruleset)
    if any(r.handle is None for t in rs.tables for c in t.chains for r in c.rules):
        rs = FakeNftables(rs).list_ruleset()  # the handles nft gives it, loaded alone
    return rs


def _summary(txn: Transaction) -> str:
    from collections import Counter

    counts = Counter(f"{op.verb.value} {op.kind.value}" for op in txn.ops)
    if not counts:
        return "# no difference\n"
    parts = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    return f"# {len(txn.ops)} operation(s): {parts}\n"


def _sync_command(args: argparse.Namespace) -> int:
    """``diff`` or ``apply``."""
    from .sync import diff, script

    owned = [tuple(t.split(None, 1)) for t in args.table] or None
    try:
        if args.command == "diff":
            old = _ruleset_arg(args.old, ())
            new = _ruleset_arg(args.new, ())
            if args.all:
                owned = [(t.family, t.name) for t in (*old.tables, *new.tables)]
            txn = diff(old, new, tables=owned)
            sets = {(t.family.value, t.name, s.name): s
                    for rs in (old, new) for t in rs.tables for s in t.sets}
            sys.stdout.write(script(txn, sets) + _summary(txn))
            return 1 if txn.ops else 0
        from .backend.router import Nftables

        desired = _ruleset_arg(args.file, ())
        with Nftables(netns=args.netns) as nft:
            result = nft.sync(desired, tables=owned, dry_run=args.dry_run)
        sys.stdout.write(result.script + _summary(result.txn))
        if args.dry_run:
            return 1 if result.ops else 0
        print(f"# sent by {result.path}, {result.retries} retry(ies)")
        return 0
    except (OSError, UnicodeDecodeError) as exc:
        print(f"nftkit {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ParseError as exc:
        _print_parse_error(exc, exc.filename or "<input>")
        return EXIT_USAGE
    except BackendError as exc:
        print(f"nftkit {args.command}: {exc}", file=sys.stderr)
        return EXIT_BACKEND if args.command == "apply" else EXIT_USAGE
    except (NftkitError, ValueError) as exc:
        print(f"nftkit {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command in ("check", "lint"):
        return _diagnose(args)
    if args.command in ("diff", "apply"):
        return _sync_command(args)
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
