"""``python -m nftkit``: format, convert and check nftables rulesets.

    python -m nftkit fmt FILE          nft text -> canonical text (as `nft list ruleset` prints)
    python -m nftkit json FILE         nft text -> libnftables JSON (as `nft -j list ruleset`)
    python -m nftkit text FILE.json    libnftables JSON -> nft text
    python -m nftkit check FILE        parse and validate; exit 1 with a located error
    python -m nftkit lint FILE         warnings about scale and unreachable rules

FILE may be ``-`` for standard input. Exit status: 0 success, 1 invalid input (the message
names the file, line and column), 2 usage errors and unreadable files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .errors import NftkitError, ParseError

__all__ = ["main"]


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


def _common(p: argparse.ArgumentParser, *, json_input: bool = False) -> None:
    p.add_argument("file", help="input file; - reads standard input")
    if not json_input:
        p.add_argument("-I", "--includepath", action="append", default=[], metavar="DIR",
                       help="where to look for relative include files (like nft -I); "
                            "may be repeated")
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
    p = sub.add_parser("check", help="parse and validate; exit 1 on the first error",
                       description="Parse nft text or JSON and run nftkit's checks (jump "
                                   "targets, set references, hooks). Prints 'ok' or the "
                                   "located error.")
    _common(p)
    p = sub.add_parser("lint", help="warn about scale problems and unreachable rules")
    from .lint import add_arguments

    add_arguments(p)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "lint":
        from .lint import run

        return run(args)
    from .render.json import to_json
    from .render.text import to_text

    try:
        text, name = _read(args.file)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"nftkit {args.command}: {exc}", file=sys.stderr)
        return 2
    includes = getattr(args, "includepath", [])
    try:
        if args.command == "text":
            ruleset = _load(text, name, (), True)
            sys.stdout.write(to_text(ruleset, version=args.target))  # type: ignore[arg-type]
        elif args.command == "fmt":
            ruleset = _load(text, name, includes, False)
            sys.stdout.write(to_text(ruleset, version=args.target,  # type: ignore[arg-type]
                                     handles=args.handles, stateless=args.stateless))
        elif args.command == "json":
            ruleset = _load(text, name, includes, False)
            doc = to_json(ruleset, version=args.target)  # type: ignore[arg-type]
            sys.stdout.write(json.dumps(doc, indent=args.indent) + "\n")
        else:  # check
            from .check import check

            ruleset = _load(text, name, includes, None)
            warnings = check(ruleset)  # type: ignore[arg-type]
            for w in warnings:
                print(f"{name}: warning: {w}", file=sys.stderr)
            print(f"{name}: ok")
    except NftkitError as exc:
        print(str(exc) if str(exc).startswith(name) else f"{name}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
