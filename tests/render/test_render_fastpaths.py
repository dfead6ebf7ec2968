"""The renderers' fast paths give what their general paths give.

The compilers take shortcuts for the common cases (docs/performance.md, "Compiling"): set
elements rendered a column at a time, per-datatype value formatters, generated JSON encoders
per node class, cached selector datatypes, a cheap ``RenderContext`` copy. Each test here
renders the same thing both ways and compares, so a shortcut that drifts from the general
code fails here rather than in a rare ruleset.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nftkit
from nftkit._node import Node
from nftkit.errors import NftkitError
from nftkit.model.datatypes import DATATYPES, SYMBOLS, Datatype, expr_datatype, format_addr
from nftkit.model.expressions import (
    ConcatExpr,
    CtExpr,
    ElemExpr,
    FibExpr,
    MetaExpr,
    NumgenExpr,
    PayloadExpr,
    VerdictExpr,
)
from nftkit.model.objects import Counter, Quota, Synproxy
from nftkit.model.sets import Map, Set
from nftkit.model.statements import ConnlimitStmt, MatchStmt
from nftkit.render.context import RenderContext
from nftkit.render.json import SPECIAL, JsonEncoder
from nftkit.render.text import TextRenderer
from tests._oracle import CORPUS

VERSIONS = ("1.0.6", "1.1.3")

VALUES: list[Any] = [
    0, 1, 2, 6, 8, 17, 22, 80, 255, 256, 4096, 65535, 0xFFFFFFFF, True, False,
    IPv4Address("0.0.0.0"), IPv4Address("10.0.0.1"), IPv4Address("255.255.255.255"),
    IPv6Address("::1"), IPv6Address("::ffff:1.2.3.4"), IPv6Address("::18.52.18.52"),
    "tcp", "udp", "eth0", "established", "accept", "1", "*", "a b", "x;y", "",
]


def _outcome(fn: Any, *args: Any) -> tuple[str, str]:
    """("ok", text) or ("error", the exception): fast paths must fail alike too."""
    try:
        return ("ok", fn(*args))
    except NftkitError as exc:
        return ("error", f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("name", [None, *sorted(DATATYPES)])
def test_formatter_is_expr(name: str | None) -> None:
    """``formatter(dt)(v)`` is ``expr(v, dt)`` for every datatype and kind of value."""
    r = TextRenderer(RenderContext(version="1.0.6"))
    dt = DATATYPES[name] if name is not None else None
    fmt = r.formatter(dt)
    for v in VALUES * 2:  # twice: the second time words are in the checked-words cache
        assert _outcome(fmt, v) == _outcome(r.expr, v, dt), (name, v)


def test_value_fast_paths() -> None:
    """The shortcuts in ``value``: addresses as ``format_addr`` spells them, integers of a
    type with symbols still by their symbol, words with quotes still refused."""
    r = TextRenderer(RenderContext(version="1.0.6"))
    for a in ("0.0.0.0", "10.96.0.10", "192.168.255.1", "255.255.255.255"):
        addr = IPv4Address(a)
        assert r.value(addr, None) == format_addr(addr) == a
        assert r.value(addr, DATATYPES["ipv4_addr"]) == a
    for name, table in SYMBOLS.items():
        dt = DATATYPES.get(name)
        if dt is None:
            continue
        for symbol_name, number in table.items():
            if list(table.values()).count(number) == 1:
                assert r.value(number, dt) in (symbol_name, f'"{symbol_name}"'), (name, number)
    assert r.value(8080, DATATYPES["inet_service"]) == "8080"
    assert r.value(0x4000, DATATYPES["mark"]) == "0x00004000"
    with pytest.raises(NftkitError):
        r.value("a b", None)


def test_lhs_datatype_is_expr_datatype() -> None:
    r = TextRenderer(RenderContext(version="1.0.6"))
    selectors: list[Any] = [
        PayloadExpr(protocol="ip", field="daddr"), PayloadExpr(protocol="tcp", field="dport"),
        PayloadExpr(protocol="ip6", field="saddr"), PayloadExpr(protocol="th", field="dport"),
        PayloadExpr(base="nh", offset=8, len=32), MetaExpr(key="l4proto"),
        MetaExpr(key="mark"), MetaExpr(key="iifname"), NumgenExpr(mode="inc", mod=3),
        CtExpr(key="state"), ConcatExpr(exprs=(MetaExpr(key="mark"), MetaExpr(key="iif"))),
    ]
    for e in selectors * 2:  # the second round comes from the cache
        assert r.lhs_datatype(e) == expr_datatype(e), e


# --- set elements, a column at a time -------------------------------------------------------

_ADDR = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
_PROTO = st.sampled_from(["tcp", "udp", 6, 17, 132])
_PORT = st.integers(0, 65535)
_VERDICT = st.builds(VerdictExpr, kind=st.sampled_from(["accept", "drop"]),
                     target=st.none()) | st.builds(
    VerdictExpr, kind=st.sampled_from(["jump", "goto"]),
    target=st.sampled_from(["a", "svc-1", "endpoint-x"]))
_KEY3 = st.builds(lambda a, p, q: ConcatExpr(exprs=(a, p, q)), _ADDR, _PROTO, _PORT)


def _set_elements_reference(r: TextRenderer, s: Set) -> str:
    """set_elements as first written: set_element per element, wrapped by calculate_delim."""
    keys = r.key_datatypes(s)
    data = r.data_datatypes(s) if isinstance(s, Map) else ()
    from nftkit.render.text import _force_newline, _per_line

    if r.ctx.at_least(1, 1) and _force_newline(s):
        per_line = 1
    else:
        per_line = _per_line(keys[0].name if len(keys) == 1 and keys[0] else None)
    out = ["{ "]
    count = 0
    for i, el in enumerate(s.elements):
        if i:
            if count < per_line:
                out.append(", ")
            else:
                out.append(",\n\t\t\t     ")
                count = 0
        out.append(r.set_element(el, keys, data))
        count += 1
    out.append(" }")
    return "".join(out)


def _check_set(s: Set) -> None:
    for version in VERSIONS:
        r = TextRenderer(RenderContext(version=version, family="ip"))
        assert _outcome(r.set_elements, s) == _outcome(_set_elements_reference, r, s)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_KEY3, _VERDICT), min_size=1, max_size=12, unique_by=lambda x: x[0]))
def test_vmap_elements(pairs: list[tuple[Any, Any]]) -> None:
    _check_set(Map(name="m", type=("ipv4_addr", "inet_proto", "inet_service"),
                   data_type="verdict", elements=pairs))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_KEY3, _ADDR, _PORT, st.sampled_from(["tcp", "x y"]),
                          st.builds(lambda k: ElemExpr(val=k, comment="c"), _KEY3)),
                min_size=1, max_size=12))
def test_mixed_elements(elements: list[Any]) -> None:
    """Elements that do not all fit one column shape fall back to one at a time."""
    _check_set(Set(name="s", type=("ipv4_addr", "inet_proto", "inet_service"),
                   elements=elements))


@settings(max_examples=60, deadline=None)
@given(st.lists(_ADDR, min_size=1, max_size=12), st.lists(_PORT, min_size=1, max_size=12),
       st.lists(_PROTO, min_size=1, max_size=12))
def test_single_column_elements(addrs: list[Any], ports: list[int], protos: list[Any]) -> None:
    _check_set(Set(name="a", type="ipv4_addr", elements=addrs))
    _check_set(Set(name="p", type="inet_service", elements=ports))
    _check_set(Set(name="q", type="inet_proto", elements=protos))
    _check_set(Map(name="m", type="inet_service", data_type="ipv4_addr",
                   elements=list(zip(ports, addrs * len(ports), strict=False))))


def test_first_bad_element_is_reported() -> None:
    """Column-wise rendering meets the protocol column before the port column; the error
    must still be the first bad element's (element 0's port, not element 1's protocol)."""
    ip = IPv4Address("10.0.0.1")
    s = Set(name="s", type=("ipv4_addr", "inet_proto", "inet_service"), elements=[
        ConcatExpr(exprs=(ip, "tcp", "a b")), ConcatExpr(exprs=(ip, "c d", 80))])
    r = TextRenderer(RenderContext(version="1.0.6"))
    with pytest.raises(NftkitError, match="'a b'"):
        r.set_elements(s)
    _check_set(s)


# --- JSON: generated encoders ------------------------------------------------------------------


def _nodes() -> list[Node]:
    """Nodes of every shape: built here, and (when the corpus is there) every node of the
    nft 1.0.6 listings."""
    daddr = PayloadExpr(protocol="ip", field="daddr")
    nodes: list[Node] = [daddr, MetaExpr(key="l4proto"), CtExpr(key="state", dir="original"),
                         NumgenExpr(mode="random", mod=2, offset=3),
                         MatchStmt(left=daddr, right=IPv4Address("10.0.0.1")),
                         MatchStmt(left=MetaExpr(key="mark"), op="!=", right=0),
                         ConnlimitStmt(count=3), ConnlimitStmt(count=3, inv=True),
                         FibExpr(flags=["saddr", "iif"], result="oif"),
                         Counter(name="c", handle=5), Quota(name="q", bytes=100, handle=3),
                         Synproxy(name="s", mss=1460, wscale=7, flags=["timestamp"]),
                         Synproxy(name="s", mss=1460, wscale=7)]
    oracle = CORPUS.parent / "nft-1.0.6-oracle"
    for path in sorted(oracle.rglob("*.list.json"))[:120]:
        try:
            model = nftkit.from_json(json.loads(path.read_text()))
        except NftkitError:
            continue
        nodes += [n for n in model.walk() if type(n) not in SPECIAL]
    return nodes


@pytest.mark.parametrize("handles", [False, True])
@pytest.mark.parametrize("version", VERSIONS)
def test_generated_encoders_are_fields(version: str, handles: bool) -> None:
    """A generic "object" node encodes as ``{json_key: JsonEncoder.fields(node)}``."""
    enc = JsonEncoder(RenderContext(version=version, handles=handles))
    seen = set()
    for node in _nodes():
        cls = type(node)
        if cls in SPECIAL or cls.json_shape != "object" or not cls.json_key:
            continue
        seen.add(cls)
        assert enc.node(node) == {cls.json_key: enc.fields(node)}, node
    assert {PayloadExpr, MetaExpr, MatchStmt, NumgenExpr, ConnlimitStmt, Counter} <= seen


def test_scoped_is_evolve() -> None:
    ctx = RenderContext(version="1.0.6", handles=True)
    sets = {"s": Set(name="s", type="ipv4_addr")}
    for changes in ({"chain": "input"}, {"family": "ip", "table": "t", "sets": sets},
                    {"stateless": True}, {"version": "1.1"}, {}):
        a, b = ctx.scoped(**changes), attrs.evolve(ctx, **changes)
        assert a == b and a.sets == b.sets and type(a) is RenderContext
    assert ctx.scoped(version="1.1").version == (1, 1, 0)  # the converter still runs
    with pytest.raises(TypeError):
        ctx.scoped(bogus=1)


def test_fast_dispatch_respects_subclasses() -> None:
    """Each renderer class has its own dispatch table: an override is used."""

    class Shouting(TextRenderer):
        def meta_expr(self, e: MetaExpr, dt: Datatype | None) -> str:
            return "META " + e.key

    rule = nftkit.Rule(stmts=[MatchStmt(left=MetaExpr(key="mark"), right=1)])
    assert TextRenderer(RenderContext(version="1.0.6")).rule(rule) == "meta mark 0x00000001"
    assert Shouting(RenderContext(version="1.0.6")).rule(rule) == "META mark 0x00000001"
    assert TextRenderer(RenderContext(version="1.0.6")).rule(rule) == "meta mark 0x00000001"
