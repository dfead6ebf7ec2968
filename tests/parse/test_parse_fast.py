"""The listing fast path's compiled parts give exactly what the slow parts give.

- compiled template patterns (``_codegen.matcher``) match only lines that the template scanner
  reduces to the same template;
- compiled constructors (``_ctor.constructor``) build the node ``cls(**fields)`` builds, and
  fail where it fails;
- the parser builds the ruleset ``from_json`` builds from its JSON;
- ``parse`` leaves the garbage collector as it found it.
"""

from __future__ import annotations

import contextlib
import gc
import random
import re
import sys
from pathlib import Path

import pytest

import nftkit
from bench import _layouts as L
from nftkit.errors import NftkitError
from nftkit.model import Chain, MatchStmt, MetaExpr, PayloadExpr, Rule, VerdictExpr
from nftkit.parse._ctor import constructor
from nftkit.parse._fast import FastListing, NotFast

NFT = sys.modules["nftkit.parse.nft"]


def _takes_fast(text: str) -> bool:
    """Whether the listing fast path takes ``text`` (``parse_listing``, left by NotFast)."""
    try:
        NFT.parse_listing(text)
    except NFT.NotFast:
        return False
    return True
FIXTURES = (Path(__file__).resolve().parents[1] / "fixtures")


def _kube(n: int) -> str:
    return nftkit.to_text(L.classic_model(L.make_services(n)))


def _listing() -> str:
    """A listing with many rule shapes: counters, comments, sets written by rules, NAT,
    verdict maps, marks, handles."""
    chains = []
    for i in range(120):
        chains.append(
            f"\tchain c{i} {{ # handle {1000 + i}\n"
            f"\t\tip saddr 10.1.{i // 200}.{i % 200 + 1} tcp dport {{ 22, {1000 + i} }} "
            f"counter packets {i} bytes {i * 64} accept # handle {2000 + i}\n"
            f'\t\tmeta mark 0x{i:08x} jump c{(i + 1) % 120} comment "to {i + 1}"\n'
            f"\t\tupdate @seen {{ ip saddr }} ct state new counter packets 0 bytes 0\n"
            f"\t\tip daddr 10.2.0.{i % 250 + 1} dnat to 10.3.0.{i % 250 + 1}:{8000 + i}\n"
            f"\t\tudp dport {53 + i} ip saddr != 192.168.{i % 250}.0/24 drop\n"
            f"\t}}")
    return ("table ip t {\n"
            "\tset seen {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic\n\t}\n\n"
            "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
            "\t\tjump c0\n\t}\n\n" + "\n\n".join(chains) + "\n}\n")


def _vary(rng: random.Random, text: str) -> str:
    """The same lines with other numbers (in range or not: only the templates matter)."""
    return re.sub(r"\d+", lambda m: str(rng.choice([0, 1, 7, 80, 255, 256, 65535, 99999,
                                                    123456789, 1234567890]))
                  if rng.random() < 0.5 else m[0], text)


def _session() -> FastListing:
    return FastListing(NFT._template_items, NFT._keywords())


def _rule_lines(text: str) -> list[str]:
    out = []
    for line in text.split("\n"):
        if line.startswith("\t\t") and not line.startswith("\t\t\t"):
            body = line[2:]
            at = body.rfind(" # handle ")
            if at >= 0 and body[at + 10:].isdecimal():
                body = body[:at]
            out.append(body)
    return out


def test_compiled_patterns_agree_with_the_scanner() -> None:
    """Every line a compiled template takes has that template's key by the scanner."""
    rng = random.Random(5)
    fl = _session()
    texts = [_listing(), _kube(50)] + [p.read_text() for p in sorted(FIXTURES.glob("*.nft"))]
    for text in texts:
        for variant in (text, _vary(rng, text), text.replace("jump ", "jump xjump ")):
            with contextlib.suppress(NftkitError, NotFast):
                fl.parse(variant)
    templates = [(k.split("\0", 2)[2], t) for k, t in fl.rules.items() if t.match is not None]
    templates += [(k, t) for k, t in fl.elems.items() if t.match is not None]
    assert len(templates) > 10
    lines = [line for text in texts for variant in (text, _vary(rng, text))
             for line in _rule_lines(variant)]
    lines += [e.strip() for text in texts for e in re.findall(r"[^{},]+ : [^{},]+", text)]
    lines += ["jump accept", "jump xjump", "ip saddr 10.0.0.1 jump goto", "meta mark 0x1zz"]
    matched = 0
    for line in lines:
        _, key = fl._split(line)
        for tkey, tpl in templates:
            assert tpl.match is not None and tpl.proof is not None
            m = tpl.match(line)
            # (a keyword where a name hole is: the pattern matches, the builder refuses;
            # ``proof``: the builder without value checks, as the numbers vary out of range)
            if m is not None and tpl.proof(m.groups()) is not None:
                matched += 1
                assert tkey == key, (line, tkey, key)
    assert matched > 500


def test_fast_path_equals_lark_on_varied_listings(monkeypatch: pytest.MonkeyPatch) -> None:
    for text in (_listing(), _kube(300)):
        assert len(text) > 20_000 and _takes_fast(text)
        fast = nftkit.parse(text)
        with monkeypatch.context() as m:
            m.setattr(NFT, "FAST_PATH", False)
            slow = nftkit.parse(text)
        assert fast == slow and repr(fast) == repr(slow)
        assert nftkit.to_text(fast) == nftkit.to_text(slow)


_HANDLES = re.compile(r", handle=(?:\d+|None)")


def test_direct_build_equals_from_json() -> None:
    """The parser builds the nodes ``from_json`` builds from the same ruleset's JSON (which
    carries no handles: they are left out of the reprs)."""
    for text in (_listing(), _kube(300)):
        direct = nftkit.parse(text)
        via_json = nftkit.from_json(nftkit.to_json(direct))
        assert direct == via_json
        same = _HANDLES.sub("", repr(direct)) == _HANDLES.sub("", repr(via_json))
        assert same  # (not in one expression: pytest would diff the two huge reprs)


def test_direct_build_errors_are_lark_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _listing().replace('comment "to 7"', 'comment "' + "x" * 200 + '"')
    with pytest.raises(nftkit.ParseError) as fast:
        nftkit.parse(text)
    monkeypatch.setattr(NFT, "FAST_PATH", False)
    with pytest.raises(nftkit.ParseError) as slow:
        nftkit.parse(text)
    assert str(fast.value) == str(slow.value)


def test_constructor_builds_what_the_class_builds() -> None:
    left = PayloadExpr(protocol="tcp", field="dport")
    tpl = MatchStmt(left=left, right=1)
    make = constructor(MatchStmt, {"left": left, "op": tpl.op}, ("right",))
    assert make is not None
    for value in (22, 65535, "ssh"):
        got, want = make(value), MatchStmt(left=left, right=value)
        assert got == want and repr(got) == repr(want)
    # the post-init check still runs: "*" is refused for a string selector
    name = MetaExpr(key="iifname")
    make = constructor(MatchStmt, {"left": name, "op": tpl.op}, ("right",))
    assert make is not None
    with pytest.raises(NftkitError):
        MatchStmt(left=name, right="*")
    with pytest.raises(NftkitError):
        make("*")
    # converters and validators of the changed fields run
    verdict = constructor(VerdictExpr, {"target": "x"}, ("kind",))
    assert verdict is not None
    assert verdict("jump") == VerdictExpr(kind="jump", target="x")
    with pytest.raises(ValueError):
        verdict("frob")
    chain = constructor(Chain, {"type": None, "hook": None, "priority": None, "policy": None,
                                "devices": (), "comment": None}, ("name", "rules", "handle"))
    assert chain is not None
    rules = [Rule(stmts=[VerdictExpr(kind="accept")])]
    assert chain("c", rules, 5) == Chain(name="c", rules=rules, handle=5)
    assert chain("c", rules, 5).handle == 5
    with pytest.raises(NftkitError):
        chain("bad name", (), None)
    # a field __init__ does not take, or a class that is not attrs: no constructor
    assert constructor(int, {}, ()) is None
    assert constructor(Chain, {}, ("nonesuch",)) is None


def test_parse_restores_the_collector() -> None:
    text = _kube(300)
    assert gc.isenabled()
    nftkit.parse(text)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        nftkit.parse(text)
        assert not gc.isenabled()
    finally:
        gc.enable()
    keep = [[1]]  # an application's own frozen objects stay frozen
    gc.freeze()
    try:
        assert gc.get_freeze_count() > 0
        nftkit.parse(text)
        assert gc.get_freeze_count() > 0 and gc.isenabled()  # (parse did not unfreeze them)
    finally:
        gc.unfreeze()
    with pytest.raises(nftkit.ParseError):
        nftkit.parse(text.replace("jump mark-for-masquerade", "jump nonesuch", 1))
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert keep


def test_fast_path_marks_written_sets_dynamic(monkeypatch: pytest.MonkeyPatch) -> None:
    """A set that rules write is dynamic even where its declaration leaves the flag out (nft's
    own listings print it): the first line of each template is read by lark, as JSON, and
    ``from_json`` marks the set from it."""
    text = _listing().replace("\t\tflags dynamic\n", "")
    fast = nftkit.parse(text)
    monkeypatch.setattr(NFT, "FAST_PATH", False)
    assert fast == nftkit.parse(text)


def test_fast_path_marks_written_sets_dynamic_in_every_table(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Templates are per table, so each table's first line of a shape is read by lark."""
    one = _listing().replace("\t\tflags dynamic\n", "")
    text = one + one.replace("table ip t {", "table ip u {")
    fast = nftkit.parse(text)
    monkeypatch.setattr(NFT, "FAST_PATH", False)
    slow = nftkit.parse(text)

    def dynamic(rs: nftkit.Ruleset) -> list[tuple[str, str]]:
        return [(t.name, s.name) for t in rs.tables for s in t.sets if "dynamic" in s.flags]

    assert dynamic(fast) == dynamic(slow) != []  # (small values: a failure's diff is cheap)
    assert fast == slow


def _typed_listing(n: int = 60) -> str:
    """A listing whose rule and element shapes recur in every chain (so the bad line of a
    test below is read by a compiled template), with values of checked datatypes in many
    positions: match right sides, anonymous sets, vmap keys, NAT, marks, set elements."""
    chains = []
    for i in range(n):
        chains.append(
            f"\tchain c{i} {{\n"
            f"\t\tip saddr 10.1.0.{i + 1} tcp dport {1000 + i} accept\n"
            f"\t\tudp dport {2000 + i} ip saddr != 192.168.{i}.0/24 drop\n"
            f"\t\ttcp dport {{ 22, {3000 + i} }} counter packets 0 bytes 0 accept\n"
            f"\t\ttcp dport vmap {{ 22 : accept, {4000 + i} : drop }}\n"
            f"\t\tmeta mark 0x{i + 16:08x} jump c{(i + 1) % n}\n"
            f"\t\tct mark {5000 + i} meta l4proto tcp ct state established,related accept\n"
            f"\t\tip daddr 10.2.0.{i + 1} dnat to 10.3.0.{i + 1}:{6000 + i}\n"
            f"\t\ticmp type echo-request meta mark set 0x{i + 32:08x} accept\n"
            f"\t}}")
    ports = ", ".join(str(7000 + i) for i in range(n * 2))
    elements = ", ".join(f"10.96.0.{i + 1} . tcp . {8000 + i} : goto c{i}" for i in range(n * 2))
    return ("table ip t {\n"
            f"\tset ports {{\n\t\ttype inet_service\n\t\telements = {{ {ports} }}\n\t}}\n\n"
            "\tmap svc {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n"
            f"\t\telements = {{ {elements} }}\n\t}}\n\n" + "\n\n".join(chains) + "\n}\n")


#: (a value in the listing, what replaces it in the middle of the listing)
_BAD_VALUES = [
    ("tcp dport 1030 accept", "tcp dport 99999 accept"),
    ("tcp dport 1030 accept", "tcp dport 65536 accept"),
    ("tcp dport 1030 accept", "tcp dport foo accept"),
    ("udp dport 2030 ip", "udp dport 123456789 ip"),
    ("ip saddr 10.1.0.31 ", "ip saddr 10.1.0.256 "),
    ("{ 22, 3030 }", "{ 22, 70000 }"),
    ("{ 22, 3030 }", "{ 22, nonesuch }"),
    ("{ 22 : accept, 4030 : drop }", "{ 22 : accept, 99999 : drop }"),
    ("{ 22 : accept, 4030 : drop }", "{ 22 : accept, bogus : drop }"),
    ("meta mark 0x0000002e", "meta mark 0x1ffffffff"),
    ("ct mark 5030", "ct mark 4294967296"),
    ("meta l4proto tcp ct state", "meta l4proto 300 ct state"),
    ("meta l4proto tcp ct state", "meta l4proto nonesuch ct state"),
    ("ct state established,related", "ct state bogus"),
    ("ct state established,related", "ct state established,bogus"),
    ("dnat to 10.3.0.31:6030", "dnat to 10.3.0.31:99999"),
    ("dnat to 10.3.0.31:6030", "dnat to 10.3.0.300:6030"),
    ("ip daddr 10.2.0.31 ", "ip daddr 10.2.0.999 "),
    ("icmp type echo-request", "icmp type 300"),
    ("icmp type echo-request", "icmp type bogus"),
    ("meta mark set 0x0000003e", "meta mark set 0x1ffffffff"),
    ("7060, ", "99999, "),
    ("7060, ", "bogus, "),
    ("10.96.0.61 . tcp . 8060", "10.96.0.61 . tcp . 99999"),
    ("10.96.0.61 . tcp . 8060", "10.96.0.61 . 300 . 8060"),
    ("10.96.0.61 . tcp . 8060", "10.96.0.61 . bogus . 8060"),
    ("10.96.0.61 . tcp . 8060", "10.96.0.256 . tcp . 8060"),
]


def _outcome(text: str) -> object:
    try:
        return nftkit.parse(text)
    except nftkit.ParseError as exc:
        return (str(exc), exc.message, exc.line, exc.column, exc.expected)


@pytest.mark.parametrize(("good", "bad"), _BAD_VALUES)
def test_fast_path_checks_values_as_lark(monkeypatch: pytest.MonkeyPatch, good: str,
                                         bad: str) -> None:
    """A value that is invalid for its datatype on a template's later line is the error that
    lark reports for the same text (message, line, column); one lark accepts is accepted."""
    base = _typed_listing()
    assert len(base) > 20_000 and _takes_fast(base)
    if base.count(good) == 1:
        text = base.replace(good, bad)
    else:  # a value every chain has: the one in the middle chain
        start = base.index("\tchain c30 {")
        end = base.index("\t}", start)
        assert good in base[start:end]
        text = base[:start] + base[start:end].replace(good, bad, 1) + base[end:]
    fast = _outcome(text)
    with monkeypatch.context() as m:
        m.setattr(NFT, "FAST_PATH", False)
        slow = _outcome(text)
    if isinstance(slow, tuple):
        assert fast == slow
        assert not _takes_fast(text)  # (the fast path did not take the line)
    else:
        assert fast == slow and repr(fast) == repr(slow)


def test_fast_path_equals_lark_on_typed_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _typed_listing()
    fl = _session()
    assert fl.parse(text) is not None
    # the shapes recur: their templates are compiled and hold value checks
    assert sum(1 for t in fl.rules.values() if t.match is not None and t.guards) >= 3
    fast = nftkit.parse(text)
    monkeypatch.setattr(NFT, "FAST_PATH", False)
    slow = nftkit.parse(text)
    assert fast == slow and repr(fast) == repr(slow)
