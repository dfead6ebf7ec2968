"""The checklist of every model node: what a new statement, expression, object kind or container
still lacks.

For every class of the public model (each ``Statement`` and ``Expression``, each named object
kind, each container) one sample is checked in each column:

=========  =====================================================================================
column     present when
=========  =====================================================================================
class      an ``@attrs.frozen(kw_only=True)`` class exported by ``nftkit.model``, with a docstring
facts      ``nftkit/nft/`` knows it: an object kind (``nft.objects``), a container's JSON members
           (``nft.json_members``), or the keyword its text starts with (``nft.keywords``,
           ``nft.selectors``, ``nft.symbols``)
json       ``from_json(to_json(x)) == x`` for a ruleset holding the sample
text       the text renderer has a method named ``text_name`` (or the one in ``TEXT_VIA``) and
           renders the sample
grammar    the rendered text reads back to the same sample (``parse_rule``, ``parse``)
netlink    the netlink encoder writes it; or ``NETLINK_FALLBACK`` says why libnftables does
fake       ``FakeNftables`` applies a transaction adding it and lists it back (containers and
           object kinds: the fake keeps statements and expressions as data)
corpus     a line of upstream's tests in ``../shared/corpus`` has its keyword (``CORPUS_NEEDLE``
           for nodes without one); ``s`` (skipped, said in the output) where it is absent
=========  =====================================================================================

Samples are the grammar test's ``EXAMPLES`` (one or more per statement and expression class) and
``SAMPLES`` below. A class that lacks a column fails the test unless ``EXEMPT`` names the
column with the reason. ``pytest -s`` prints the matrix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any
from unittest import mock

import attrs
import pytest

import nftkit
import nftkit.model
from nftkit import nft
from nftkit._node import Node
from nftkit.backend.fake import FakeNftables
from nftkit.backend.netlink import _txn
from nftkit.backend.netlink._anon import AnonSets
from nftkit.backend.netlink._rules import rule_expressions
from nftkit.errors import UnsupportedError
from nftkit.model import expressions as E
from nftkit.model import objects as O
from nftkit.model import statements as S
from nftkit.model.ruleset import Chain, ChainStmt, Flowtable, Rule, Ruleset, Table
from nftkit.model.sets import Map, Set
from nftkit.nft.json_members import MEMBERS
from nftkit.render._text_statements import StatementText
from nftkit.render.text import TextRenderer
from nftkit.transaction import Transaction
from tests.parse.test_parse_grammar import EXAMPLES, NO_TEXT

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "nftables-tests"

#: Samples checked per class (the first ones found).
PER_CLASS = 3

COLUMNS = ("class", "facts", "json", "text", "grammar", "netlink", "fake", "corpus")

_SADDR = E.PayloadExpr(protocol="ip", field="saddr")
_DPORT = E.PayloadExpr(protocol="tcp", field="dport")
_IP = IPv4Address("10.0.0.1")

#: One sample per container and object kind, and the statements the grammar test has none
#: for: (family, node).
SAMPLES: list[tuple[str, Node]] = [
    ("inet", Table(family="inet", name="t", comment="x")),
    ("inet", Chain(name="in", type="filter", hook="input", priority=0, policy="drop")),
    ("inet", Rule(stmts=(S.CounterStmt(),), comment="r")),
    ("inet", Set(name="s", type=("ipv4_addr",), elements=(IPv4Address("10.0.0.1"),))),
    ("inet", Map(name="m", type=("inet_service",), data_type=("ipv4_addr",),
                 elements=((80, IPv4Address("10.0.0.1")),))),
    ("inet", Flowtable(name="f", hook="ingress", priority=0, devices=("lo",))),
    ("inet", O.Counter(name="c", packets=1, bytes=64)),
    ("inet", O.Quota(name="q", bytes=1 << 20, used=1024, inv=True)),
    ("inet", O.Limit(name="l", rate=10, per="minute", burst=5)),
    ("inet", O.CtHelper(name="h", type="ftp", protocol="tcp", l3proto="ip")),
    ("inet", O.CtTimeout(name="to", protocol="tcp", l3proto="ip", policy={"established": 100})),
    ("inet", O.CtExpectation(name="e", protocol="tcp", dport=22, timeout=1000, size=12,
                             l3proto="ip")),
    ("inet", O.Synproxy(name="sp", mss=1460, wscale=7)),
    ("inet", O.Secmark(name="sm", context="system_u:object_r:ssh_server_packet_t:s0")),
    ("inet", S.XtStmt(type="match", name="conntrack")),
    ("inet", S.MatchStmt(left=E.ConcatExpr(exprs=(_SADDR, _DPORT)), right=E.SetExpr(elements=(
        E.ConcatExpr(exprs=(_IP, 22)), E.ConcatExpr(exprs=(_IP, 80)))))),
]

#: Renderer methods of classes that another method renders (``text_name`` is not a method).
TEXT_VIA: dict[type, str] = {
    Map: "set",  # a map is a set with data: one block form
    **{cls: "object" for cls in O.NamedObject.registry.values()},  # one block form per kind
}

#: Nodes whose text starts with no keyword of their own: the corpus line to look for.
CORPUS_NEEDLE: dict[type, str] = {
    E.PrefixExpr: r"\d+\.\d+\.\d+\.\d+/\d+",
    E.RangeExpr: r"\b\d+-\d+\b",
    E.ConcatExpr: r"\w \. \w",
    E.SetExpr: r"\{ \S+, ",
    E.SetRefExpr: r" @\w+",
    E.ListExpr: r"\w,\w",
    E.BinopExpr: r" & 0x",
    E.MapExpr: r" map \{",
    E.ElemExpr: r" timeout \d+[smhd]",
    E.VerdictExpr: r"\bgoto \w",
    S.MatchStmt: r"tcp dport 22",
    Rule: r"^\s*ip saddr ",
    Ruleset: r"^table ",
}

#: (class, column) -> why the class does not have that column.
EXEMPT: dict[tuple[type, str], str] = {
    **{(cls, "facts"): "a value: its text starts with no keyword" for cls in (
        E.PrefixExpr, E.RangeExpr, E.SetExpr, E.SetRefExpr, E.ListExpr)},
    (S.XtStmt, "text"): NO_TEXT[S.XtStmt],
    (S.XtStmt, "grammar"): NO_TEXT[S.XtStmt],
    (S.XtStmt, "netlink"): "xt statements come from iptables-nft; nftkit never writes them",
    (S.XtStmt, "corpus"): "not in upstream's nft tests (iptables-nft writes them)",
    (S.XtStmt, "facts"): NO_TEXT[S.XtStmt],
    (S.XtStmt, "json"): "read from JSON only: nft cannot write an xt statement back",
    (S.MeterStmt, "corpus"): "upstream's tests have no meter statement",
}

#: The named sets and maps the samples refer to.
_SETS = Table(family="inet", name="t", sets=(
    Set(name="blocked", type=("ipv4_addr",)),
    Set(name="s", type=("ipv4_addr",), flags=frozenset({"dynamic", "timeout"})),
    Map(name="m", type=("ipv4_addr",), data_type=("mark",), flags=frozenset({"dynamic"})),
))

_NOT_YET = "not encoded yet (no byte-for-byte check against nft's own messages)"

#: Classes the netlink encoder leaves to libnftables (the router sends them there), and why.
NETLINK_FALLBACK: dict[type, str] = {
    Flowtable: "flowtables: the kernels here have none to check the encoding against",
    **{cls: "named objects: NEWOBJ is not encoded yet" for cls in O.NamedObject.registry.values()},
    S.ObjrefStmt: "refers to a named object, which the netlink path does not write",
    S.MeterStmt: "a meter declares a set of its own (nft's rewrite differs between releases)",
    ChainStmt: "a bound chain needs a chain message of its own",
    S.MapStmt: "map updates load their data from a selector, not a constant",
    E.ElemExpr: "statements and options in elements of anonymous sets",
    **{cls: _NOT_YET for cls in (
        S.ConnlimitStmt, S.DupStmt, S.FwdStmt, S.LastStmt, S.NotrackStmt, S.QueueStmt,
        S.SynproxyStmt, S.TproxyStmt, S.OptstripStmt, S.FlowOffloadStmt, E.ExthdrExpr,
        E.TcpoptExpr, E.IpoptExpr, E.SctpChunkExpr, E.DccpoptExpr, E.RtExpr, E.SocketExpr,
        E.OsfExpr, E.IpsecExpr, E.JhashExpr, E.SymhashExpr)},
}


# --- the model's classes and their samples ---------------------------------------------------


def model_classes() -> list[type]:
    """Every node class of the public model (abstract bases and values such as Priority out)."""
    bases = (S.Statement, E.Expression, O.NamedObject)
    out = []
    for name in nftkit.model.__all__:
        cls = getattr(nftkit.model, name)
        if not (isinstance(cls, type) and issubclass(cls, Node)) or cls in bases:
            continue
        if issubclass(cls, bases) or cls in (Table, Chain, Rule, Set, Map, Flowtable, Ruleset):
            out.append(cls)
    return sorted(set(out), key=lambda c: (_group(c), c.__name__))


def _group(cls: type) -> int:
    for i, base in enumerate((S.Statement, E.Expression, O.NamedObject)):
        if issubclass(cls, base) and cls is not ChainStmt:
            return i
    return 1 if cls is ChainStmt else 3


def _nodes(x: Any) -> Iterator[Node]:
    if isinstance(x, tuple | list | frozenset):
        for v in x:
            yield from _nodes(v)
    elif isinstance(x, Node):
        yield x
        for f in attrs.fields(type(x)):  # type: ignore[arg-type]
            yield from _nodes(getattr(x, f.name))


@cache
def samples() -> dict[type, list[tuple[str, Node, Node]]]:
    """class -> up to ``PER_CLASS`` (family, a node of that class, the statement or container
    holding it); a column is present when one of them has it."""
    out: dict[type, list[tuple[str, Node, Node]]] = {}
    for family, top in [*EXAMPLES, *SAMPLES]:
        for node in _nodes(top):
            found = out.setdefault(type(node), [])
            if len(found) < PER_CLASS:
                found.append((family, node, top))
    rs = Ruleset(tables=(_table("inet", Rule(stmts=(S.CounterStmt(),))),))
    out[Ruleset] = [("inet", rs, rs)]
    return out


def _table(family: str, top: Node) -> Table:
    """A table holding ``top`` (a statement goes into a rule of chain ``c``)."""
    if isinstance(top, Table):
        return top
    if isinstance(top, Chain):
        return Table(family=family, name="t", chains=(top,))
    if isinstance(top, Set):
        return Table(family=family, name="t", sets=(top,))
    if isinstance(top, Flowtable):
        return Table(family=family, name="t", flowtables=(top,))
    if isinstance(top, O.NamedObject):
        return Table(family=family, name="t", objects=(top,))
    rule = top if isinstance(top, Rule) else Rule(stmts=(top,))
    return Table(family=family, name="t", chains=(Chain(name="c", rules=(rule,)),))


def _ruleset(family: str, top: Node) -> Ruleset:
    return top if isinstance(top, Ruleset) else Ruleset(tables=(_table(family, top),))


# --- the columns -------------------------------------------------------------------------------


def _class(cls: type, family: str, node: Node, top: Node) -> bool:
    params = getattr(cls, "__attrs_attrs__", ())
    return (attrs.has(cls) and bool(cls.__doc__) and all(a.kw_only for a in params)
            and cls.__setattr__ is not object.__setattr__)


@cache
def _fact_words() -> frozenset[str]:
    """Every keyword ``nftkit/nft/`` knows."""
    words = set(nft.keywords.KEYWORDS) | set(nft.objects.OBJECTS) | set(MEMBERS)
    words |= set(nft.selectors.PAYLOAD) | set(nft.selectors.META) | set(nft.symbols.VERDICTS)
    words |= set(nft.selectors.TUNNELS) | set(nft.selectors.PAYLOAD_BASES)
    return frozenset(words)


def _facts(cls: type, family: str, node: Node, top: Node) -> bool:
    if issubclass(cls, O.NamedObject):
        return nft.objects.by_model(cls.__name__) is not None
    if getattr(cls, "json_key", "") in MEMBERS and not issubclass(
            cls, S.Statement | E.Expression):
        return True
    first = re.match(r"[a-z][\w-]*", _own_text(family, node))
    return first is not None and first.group() in _fact_words()


def _own_text(family: str, node: Node) -> str:
    return nftkit.to_text(node, family=family).strip()


def _json(cls: type, family: str, node: Node, top: Node) -> bool:
    rs = _ruleset(family, top)
    return bool(nftkit.from_json(nftkit.to_json(rs)) == rs)


def _text(cls: type, family: str, node: Node, top: Node) -> bool:
    method = TEXT_VIA.get(cls, getattr(cls, "text_name", ""))
    if not callable(getattr(TextRenderer, method, None)):
        return False
    return bool(nftkit.to_text(_ruleset(family, top)))


def _grammar(cls: type, family: str, node: Node, top: Node) -> bool:
    if isinstance(top, S.Statement | E.VerdictExpr):
        rule = Rule(stmts=(top,))
        return bool(nftkit.parse_rule(nftkit.to_text(rule, family=family), family=family) == rule)
    rs = _ruleset(family, top)
    return bool(nftkit.parse(nftkit.to_text(rs)) == rs)


class _NoSocket:
    """The completeness test encodes; it never sends."""

    def __init__(self, netns: object) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the netlink encoder asked its socket for {name}")


def _netlink(cls: type, family: str, node: Node, top: Node) -> bool:
    try:
        if isinstance(top, S.Statement | E.VerdictExpr):
            rule_expressions(Rule(stmts=(top,)), family=family, anon=AnonSets(),
                             table=_SETS.replace(family=family))
            return True
        txn = Transaction()
        txn.add(top if isinstance(top, Ruleset) else _table(family, top))
        with mock.patch.object(_txn, "NetlinkSocket", _NoSocket):
            _txn.NetlinkPath(None).encode(txn.ops, txn.batch())
        return True
    except UnsupportedError:
        return False


def _fake(cls: type, family: str, node: Node, top: Node) -> bool | None:
    if isinstance(top, S.Statement | E.VerdictExpr):
        return None  # the fake keeps statements and expressions as data
    fake = FakeNftables()
    if isinstance(top, Ruleset):
        fake.run(Transaction().add(top))
        return bool(fake.list_ruleset() == top)
    table = _table(family, top)
    fake.run(Transaction().add(table))
    return bool(fake.list_table(family, table.name) == table)


@cache
def _corpus_lines() -> tuple[str, ...]:
    lines: list[str] = []
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and (path.suffix in (".t", ".nft") or "dumps" in path.parts):
            lines += path.read_text(errors="replace").splitlines()
    return tuple(lines)


def _corpus(cls: type, family: str, node: Node, top: Node) -> bool | None:
    if not CORPUS.is_dir():
        return None
    needle = CORPUS_NEEDLE.get(cls)
    if needle is not None:
        found = re.compile(needle)
        return any(found.search(line) for line in _corpus_lines())
    # its first two words (``ct count``, ``meta mark``), or its keyword (``meter``, ``chain``)
    words = re.match(r"([a-z][\w-]*)(?: [a-z][\w-]*)?", _own_text(family, node))
    if words is None:
        return False
    for text in (words.group(), words.group(1)):
        found = re.compile(r"\b" + re.escape(text) + r"\b")
        if any(found.search(line) for line in _corpus_lines()):
            return True
    return False


CHECKS: dict[str, Callable[[type, str, Node, Node], bool | None]] = {
    "class": _class, "facts": _facts, "json": _json, "text": _text, "grammar": _grammar,
    "netlink": _netlink, "fake": _fake, "corpus": _corpus,
}


def check(cls: type, column: str) -> tuple[bool | None, str]:
    """Whether one of ``cls``'s samples has ``column`` (None: not applicable), and the error
    of the last one that raised."""
    ok: bool | None = False
    error = ""
    for sample in samples().get(cls, []):
        try:
            ok = CHECKS[column](cls, *sample)
        except Exception as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        if ok is not False:
            break
    return ok, error


def status(cls: type, column: str) -> tuple[str, str]:
    """"ok", "MISSING", "exempt", "falls back", "n/a", "skipped" or "no sample", and the
    error a check raised."""
    if (cls, column) in EXEMPT:
        return "exempt", ""
    if cls not in samples():
        return "no sample", ""
    ok, error = check(cls, column)
    if ok is None:
        return ("skipped" if column == "corpus" else "n/a"), ""
    if ok:
        return "ok", ""
    if column == "netlink" and cls in NETLINK_FALLBACK:
        return "falls back", ""
    return "MISSING", error


def matrix() -> dict[type, dict[str, str]]:
    """class -> column -> its status (and "<column>:error" -> what the check raised)."""
    out: dict[type, dict[str, str]] = {}
    for cls in model_classes():
        row: dict[str, str] = {}
        for column in COLUMNS:
            row[column], error = status(cls, column)
            if error:
                row[f"{column}:error"] = error
        out[cls] = row
    return out


_MARK = {"ok": "+", "exempt": "e", "falls back": "f", "n/a": ".", "skipped": "s",
         "MISSING": "X", "no sample": "X"}


def test_every_node_has_every_column() -> None:
    m = matrix()
    width = max(len(c.__name__) for c in m)
    print(f"\n{'':{width}}  " + " ".join(f"{c[:7]:>7}" for c in COLUMNS))
    for cls, row in m.items():
        print(f"{cls.__name__:{width}}  " + " ".join(f"{_MARK[row[c]]:>7}" for c in COLUMNS))
    print("+ ok, e exempt (EXEMPT), f falls back to libnftables (NETLINK_FALLBACK), . n/a, "
          "s skipped (no corpus), X missing")
    if not CORPUS.is_dir():
        print(f"corpus column skipped: {CORPUS} is absent")
    missing = [f"{cls.__name__}: {c}" + (f" ({row[c + ':error']})" if c + ":error" in row else "")
               for cls, row in m.items() for c in COLUMNS if row[c] in ("MISSING", "no sample")]
    assert not missing, "missing (add it, or an EXEMPT entry with the reason):\n" + "\n".join(
        missing)


def test_exemptions_are_still_needed() -> None:
    """Every exemption and fallback is still true: drop it once the class has the column."""
    classes = model_classes()
    for (cls, column), why in EXEMPT.items():
        assert cls in classes and why, (cls, column)
        ok, _ = check(cls, column)
        assert not ok, f"{cls.__name__} has its {column} column now: drop it from EXEMPT"
    for cls, why in NETLINK_FALLBACK.items():
        assert cls in classes and why, cls
        ok, _ = check(cls, "netlink")
        assert not ok, f"{cls.__name__} is encoded now: drop it from NETLINK_FALLBACK"


@pytest.mark.parametrize(("cls", "column", "remove"), [
    (S.QuotaStmt, "text", lambda mp: mp.delattr(StatementText, "quota_stmt")),
    (O.Quota, "facts", lambda mp: mp.setattr(nft.objects, "by_model", lambda name: None)),
    (E.FibExpr, "grammar", lambda mp: mp.setattr(nftkit, "parse_rule", lambda *a, **k: None)),
], ids=["text method", "object kind fact", "grammar"])
def test_the_matrix_sees_what_is_missing(cls: type, column: str,
                                          remove: Callable[[pytest.MonkeyPatch], object],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop one place (a renderer method, a fact, the parser) and its column goes missing."""
    assert status(cls, column)[0] == "ok"
    remove(monkeypatch)
    assert status(cls, column)[0] == "MISSING"


def test_objref_types_are_nfts_object_kinds() -> None:
    """``ObjrefType`` names every object kind of ``nft.objects``, in nft's listing order."""
    assert [t.value for t in S.ObjrefType] == list(nft.objects.OBJECTS)
