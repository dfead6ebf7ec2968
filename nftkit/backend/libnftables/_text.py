"""The text path: nft commands and scripts as text (``nft -f``), through libnftables.

It carries scripts: ``Nftables.run_text`` (``"list ruleset"``, a whole ``nft -f`` script as
a string) and ``Nftables.run_file`` (a script file: the only input where libnftables applies
``define`` variables and include paths). Errors are mapped like the JSON path's, without an
operation index. It also carries the transactions that this release's JSON parser would not
apply exactly (``json_drops``), written as commands by ``ops_script``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

import attrs

from ...errors import UnsupportedError
from ...model.enums import SetFlag, TableFlag
from ...model.expressions import ConcatExpr
from ...model.objects import CtExpectation, CtTimeout, NamedObject, Synproxy
from ...model.ruleset import Chain, ChainStmt, Flowtable, Rule, Table
from ...model.sets import Map, Set
from ...model.statements import MapStmt
from ...nft.releases import profile
from ...render.text import to_script
from ...transaction import Kind, Op, Verb
from ._context import Context, OutputFlag
from ._errors import raise_for

__all__ = ["json_drops", "ops_script", "run_file", "run_text"]


def run_text(ctx: Context, commands: str, *, handles: bool = False, json_output: bool = False,
             dry: bool = False) -> str:
    """Run nft text commands; their output."""
    flags = (OutputFlag.HANDLE if handles else 0) | (OutputFlag.JSON if json_output else 0)
    rc, out, err = ctx.exec(commands, flags=flags, dry=dry)
    if rc != 0:
        raise_for(err, "nft")
    return out


def run_file(ctx: Context, path: str | os.PathLike[str], *, dry: bool = False) -> str:
    """Run an nft script file; its output."""
    rc, out, err = ctx.exec_file(os.fspath(path), dry=dry)
    if rc != 0:
        raise_for(err, f"nft -f {path}")
    return out


#: What nft < 1.1's JSON parser silently drops (checked against nft 1.0.6: applied from
#: JSON, listed as text): table comments and the ``owner`` flag, chain comments, set and map
#: comments, ``auto-merge`` and the ``dynamic`` flag. A map with concatenated data it reads as
#: a plain set (``ReleaseProfile.json_input_exact``). Transactions with any of these go
#: through text instead (``ops_script``).


def json_drops(ops: Sequence[Op], version: tuple[int, ...]) -> str | None:
    """What libnftables ``version`` would not apply of ``ops`` from JSON, or None."""
    facts = profile(version)
    for op in ops:
        obj = op.obj
        if op.verb not in (Verb.ADD, Verb.CREATE) or obj is None:
            continue
        what = op.describe()
        if isinstance(obj, Set) and obj.comment is not None and not facts.json_set_comments:
            return f"{what}: its comment"
        if isinstance(obj, Rule) and any(isinstance(s, ChainStmt) for s in obj.stmts):
            return f"{what}: an anonymous chain (no JSON form)"
        if facts.json_input_exact:
            continue
        # measured with nft 1.0.6: the policy of a ct timeout is dropped silently; a ct
        # expectation ("missing options") and a synproxy object ("Unknown object") are refused
        if isinstance(obj, CtTimeout) and obj.policy:
            return f"{what}: its policy"
        if isinstance(obj, (CtExpectation, Synproxy)):
            return f"{what}: the object"
        if isinstance(obj, Rule) and any(isinstance(s, MapStmt) for s in obj.stmts):
            return f"{what}: a map statement"  # ("Unexpected expr array element")
        if isinstance(obj, Table):
            if obj.comment is not None:
                return f"{what}: its comment"
            if TableFlag.OWNER in obj.flags:
                return f"{what}: flags owner"
        elif isinstance(obj, Chain) and obj.comment is not None:
            return f"{what}: its comment"
        elif isinstance(obj, Set):
            if obj.comment is not None:
                return f"{what}: its comment"
            if obj.auto_merge:
                return f"{what}: auto-merge"
            if SetFlag.DYNAMIC in obj.flags:
                return f"{what}: flags dynamic"
            if isinstance(obj, Map) and (len(obj.data_type) > 1
                                         or isinstance(obj.data_typeof, ConcatExpr)):
                return f"{what}: concatenated data"
    return None


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_/\\.-]*\Z")


def _name(name: str | None) -> str:
    if name is None or not _IDENT.match(name):
        raise UnsupportedError(f"{name!r} cannot be written in an nft text command here")
    return name


def _lines(table: Table, skip: tuple[str, ...]) -> list[str]:
    # (split at "\n" only: splitlines() also splits at U+0085, U+2028, ... inside a quoted
    # comment, and nft would store the comment with a newline)
    return [line for line in to_script(table).split("\n")
            if line and not line.startswith(skip)]


def _unbraced(line: str, op: Op) -> str:
    """``create counter inet t c { packets 0 bytes 0; }`` as nft's grammar takes ``create``
    of an object: without the braces (``create counter inet t c packets 0 bytes 0``)."""
    head, brace, body = line.partition(" { ")
    body = body.removesuffix("; }").removesuffix(" }")
    if not brace or ";" in body or "{" in body:
        raise UnsupportedError(f"{op.describe()}: not as a text command")
    return f"{head} {body}"


def ops_script(ops: Sequence[Op], known: Mapping[tuple[str, str, str], Set] | None = None
               ) -> str:
    """``ops`` as nft commands (``add table``, ``add chain``, ``add set``, ``add rule``,
    ``delete ...``), for the text path; UnsupportedError (nothing sent) for an op this
    cannot write as text exactly. Elements are written by the type of their set: a set of
    ``ops``, else ``known[(family, table, name)]`` (the kernel's)."""
    out: list[str] = []
    sets: dict[tuple[str, str, str], Set] = dict(known or {})
    for op in ops:
        fam, obj, kind, verb = op.family, op.obj, op.kind, op.verb
        if fam is None:
            raise UnsupportedError(f"{op.describe()}: not as a text command")
        family = fam.value
        if isinstance(obj, Set) and op.table:
            sets[(family, op.table, obj.name)] = obj
        if verb in (Verb.ADD, Verb.CREATE) and isinstance(obj, Table):
            lines = _lines(obj, ())
        elif verb in (Verb.ADD, Verb.CREATE) and isinstance(obj, NamedObject) and op.table:
            lines = _lines(Table(family=fam, name=op.table, objects=(obj,)), ("add table ",))
        elif verb in (Verb.ADD, Verb.CREATE) and isinstance(obj, Flowtable) and op.table:
            lines = _lines(Table(family=fam, name=op.table, flowtables=(obj,)),
                           ("add table ",))
        elif kind is Kind.ELEMENT and verb in (Verb.ADD, Verb.CREATE, Verb.DELETE) \
                and op.table and (family, op.table, op.name or "") in sets:
            # elements of a set of this transaction: its model says how to write them
            model = attrs.evolve(sets[(family, op.table, op.name or "")], elements=op.elements)
            text = to_script(Table(family=fam, name=op.table, sets=(model,)))
            start = text.find("\nadd element ")  # (the last command, over several lines)
            lines = [text[start + 1:].rstrip("\n")] if start >= 0 else []
            if verb is Verb.DELETE:
                lines = ["delete " + line[len("add "):] for line in lines]
        elif verb in (Verb.ADD, Verb.CREATE) and isinstance(obj, Chain) and op.table:
            lines = _lines(Table(family=fam, name=op.table, chains=(obj,)), ("add table ",))
        elif verb in (Verb.ADD, Verb.CREATE) and isinstance(obj, Set) and op.table:
            lines = _lines(Table(family=fam, name=op.table, sets=(obj,)), ("add table ",))
        elif (verb is Verb.ADD and isinstance(obj, Rule) and op.table and op.chain
              and op.index is None and op.position is None and op.handle is None):
            lines = _lines(Table(family=fam, name=op.table,
                                 chains=(Chain(name=op.chain, rules=(obj,)),)),
                           ("add table ", "add chain "))
        elif verb is Verb.DELETE and kind is Kind.TABLE and op.handle is None:
            lines = [f"delete table {family} {_name(op.table)}"]
        elif verb is Verb.DELETE and kind in (Kind.CHAIN, Kind.SET, Kind.MAP) \
                and op.handle is None:
            lines = [f"delete {kind.value} {family} {_name(op.table)} {_name(op.name)}"]
        else:
            raise UnsupportedError(f"{op.describe()}: not as a text command")
        if verb is Verb.CREATE and lines and lines[0].startswith("add "):
            lines[0] = "create " + lines[0][len("add "):]
            if isinstance(obj, NamedObject):
                lines[0] = _unbraced(lines[0], op)
        out += lines
    return "\n".join(out) + "\n"
