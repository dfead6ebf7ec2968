"""The JSON reader's fast paths (nftkit/parse/_json_fast.py) against its generic decoder.

The fast paths must build exactly the nodes the generic decoder builds (same classes, same
field values and types: compared by ``repr`` as well as ``==``), and must decline (``MISS``)
everything the generic decoder rejects, so that errors keep their generic messages and paths.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nftkit
from nftkit.model.datatypes import DATATYPES
from nftkit.model.ruleset import Chain, Rule
from nftkit.model.statements import MatchStmt
from nftkit.parse import _json_fast as fast
from nftkit.parse.json import JsonDecoder

MISS = fast.MISS


def generic_stmt(j: Any) -> Any:
    return JsonDecoder().stmt(copy.deepcopy(j))


def generic_expr(j: Any, hint: Any = None) -> Any:
    return JsonDecoder().expr(copy.deepcopy(j), hint)


def test_fast_path_is_on() -> None:
    """The model still has the field layout the fast constructors assume (when this fails,
    update nftkit/parse/_json_fast.py for the model change: the reader still works, slower)."""
    assert fast.ENABLED
    assert {"match", "vmap", "counter", "dnat", "snat", "jump", "goto"} <= fast.FAST_STMTS.keys()


PAYLOAD_DADDR = {"payload": {"protocol": "ip", "field": "daddr"}}
HOT_STMTS: list[Any] = [
    {"match": {"left": PAYLOAD_DADDR, "op": "==", "right": "10.96.0.1"}},
    {"match": {"left": {"payload": {"protocol": "tcp", "field": "dport"}}, "op": "==",
               "right": 80}},
    {"match": {"left": {"payload": {"protocol": "ip", "field": "saddr"}}, "op": "!=",
               "right": {"prefix": {"addr": "10.128.0.0", "len": 10}}}},
    {"match": {"left": {"meta": {"key": "l4proto"}}, "op": "==", "right": "tcp"}},
    {"match": {"left": {"meta": {"key": "iifname"}}, "op": "==", "right": "10.0.0.1"}},
    {"match": {"left": {"meta": {"key": "mark"}}, "op": "==", "right": "0x10"}},
    {"match": {"left": {"ct": {"key": "state"}}, "op": "==", "right": "established"}},
    {"match": {"left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "op": "==",
               "right": "::1"}},
    {"match": {"left": {"concat": [PAYLOAD_DADDR, {"meta": {"key": "l4proto"}}]}, "op": "==",
               "right": {"concat": ["10.0.0.1", "tcp"]}}},
    {"match": {"left": {"payload": {"protocol": "tcp", "field": "dport"}}, "op": "==",
               "right": {"set": [22, 80, {"range": [1000, 2000]}]}}},
    {"match": {"left": {"payload": {"protocol": "tcp", "field": "dport"}}, "op": "==",
               "right": "@ports"}},
    {"jump": {"target": "mark-for-masquerade"}}, {"goto": {"target": "svc-1"}},
    {"accept": None}, {"drop": None}, {"return": None},
    {"vmap": {"key": {"numgen": {"mode": "random", "mod": 2, "offset": 0}},
              "data": {"set": [[0, {"goto": {"target": "ep-0-0"}}],
                               [1, {"goto": {"target": "ep-0-1"}}]]}}},
    {"vmap": {"key": {"concat": [PAYLOAD_DADDR, {"meta": {"key": "l4proto"}},
                                 {"payload": {"protocol": "th", "field": "dport"}}]},
              "data": "@service-ips"}},
    {"dnat": {"addr": "10.128.0.1", "port": 8080}},
    {"dnat": {"family": "ip", "addr": "10.128.0.1", "port": {"range": [80, 90]}}},
    {"snat": {"addr": "10.0.0.1"}}, {"masquerade": None}, {"redirect": {"port": 8080}},
    {"counter": {"packets": 3, "bytes": 100}}, {"counter": None},
]


@pytest.mark.parametrize("j", HOT_STMTS, ids=lambda j: json.dumps(j)[:60])
def test_hot_shapes_decode_fast_and_the_same(j: Any) -> None:
    got = fast.fast_stmt(copy.deepcopy(j))
    assert got is not MISS, "a hot shape fell back to the generic decoder"
    want = generic_stmt(j)
    assert type(got) is type(want)
    assert got == want
    assert repr(got) == repr(want)


# Shapes the generic decoder rejects: the fast path must decline them (the generic error,
# with its message and path, is the one the user sees).
BAD_STMTS: list[Any] = [
    {"match": {"left": PAYLOAD_DADDR, "op": "=~", "right": "10.0.0.1"}},
    {"match": {"left": {"payload": {"protocol": "ip", "field": "nope"}}, "op": "==",
               "right": 1}},
    {"match": {"left": {"meta": {"key": "iifname"}}, "op": "==", "right": "*"}},
    {"match": {"left": PAYLOAD_DADDR, "op": "==", "right": "@"}},
    {"match": {"left": PAYLOAD_DADDR, "op": "==", "right": None}},
    {"match": {"left": PAYLOAD_DADDR, "op": "==", "right": {"prefix": {"addr": "10.0.0.0",
                                                                       "len": -1}}}},
    {"match": {"left": PAYLOAD_DADDR, "op": "==", "right": {"concat": ["10.0.0.1"]}}},
    {"jump": None}, {"accept": {"target": "x"}},
    {"dnat": {"addr": "10.0.0.1", "port": None}}, {"dnat": {}}, {"masquerade": {"addr": "1.2.3.4"}},
    {"dnat": {"addr": "10.0.0.1", "family": "inet"}},
    {"counter": {"packets": -1, "bytes": 0}}, {"counter": {"packets": True, "bytes": 0}},
    {"vmap": {"key": {"meta": {"key": "nope"}}, "data": "@m"}},
    {"vmap": {"key": {"meta": {"key": "mark"}}, "data": "@a b"}},
]


@pytest.mark.parametrize("j", BAD_STMTS, ids=lambda j: json.dumps(j)[:60])
def test_bad_shapes_are_left_to_the_generic_decoder(j: Any) -> None:
    with pytest.raises(nftkit.NftkitError):
        generic_stmt(j)
    assert fast.fast_stmt(copy.deepcopy(j)) is MISS


def test_true_is_not_one_in_shared_selectors() -> None:
    """Shared nodes are keyed by exact member types (``True == 1`` as a dict key)."""
    raw = {"payload": {"base": "nh", "offset": 1, "len": 8}}
    assert fast.fast_expr(raw, None) == generic_expr(raw)
    odd = {"payload": {"base": "nh", "offset": True, "len": 8}}
    assert fast.fast_expr(odd, None) is MISS


def test_strings_follow_the_datatype_hint() -> None:
    """A string is an address only where its datatype allows (an interface may be called
    ``10.0.0.1``); without a hint, anything shaped like an address is one."""
    for hint in (None, DATATYPES["ifname"], DATATYPES["ipv4_addr"], DATATYPES["integer"]):
        for s in ("10.0.0.1", "::1", "tcp", "0x10", "1"):
            assert repr(fast.fast_expr(s, hint)) == repr(generic_expr(s, hint))


def test_written_sets_still_become_dynamic() -> None:
    """A set statement next to fast-path statements is still seen (and its set made
    ``dynamic``, as nft does)."""
    doc = {"nftables": [
        {"table": {"family": "ip", "name": "t"}},
        {"set": {"family": "ip", "table": "t", "name": "seen", "type": "ipv4_addr"}},
        {"chain": {"family": "ip", "table": "t", "name": "c"}},
        {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [
            {"match": {"left": {"meta": {"key": "l4proto"}}, "op": "==", "right": "tcp"}},
            {"set": {"op": "add", "elem": {"payload": {"protocol": "ip", "field": "saddr"}},
                     "set": "@seen"}},
            {"accept": None}]}},
    ]}
    model = nftkit.from_json(doc)
    assert "dynamic" in {f.value for f in model.tables[0].sets[0].flags}


def test_errors_keep_their_generic_paths() -> None:
    doc = {"nftables": [
        {"table": {"family": "ip", "name": "t"}},
        {"chain": {"family": "ip", "table": "t", "name": "c"}},
        {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [
            {"match": {"left": {"meta": {"key": "l4proto"}}, "op": "==", "right": "tcp"}},
            {"dnat": {"addr": "10.0.0.1", "port": None}}]}},
    ]}
    with pytest.raises(nftkit.ParseError, match=r"nftables\[2\]/rule/expr\[1\]: not an "
                                                 r"expression: None"):
        nftkit.from_json(doc)
    doc["nftables"][1:] = [{"chain": {"family": "ip", "table": "t", "name": "accept"}}]
    with pytest.raises(nftkit.ParseError, match="nft keyword"):
        nftkit.from_json(doc)


def test_fast_constructors_build_what_init_builds() -> None:
    stmts = [generic_stmt(j) for j in HOT_STMTS[:3]]
    assert repr(fast.new_rule(stmts, None, 7)) == repr(Rule(stmts=stmts, handle=7))
    spec = {"name": "svc-1", "handle": 3, "comment": None, "rules": [Rule(stmts=stmts)]}
    assert repr(fast.new_chain(spec)) == repr(Chain(**spec))
    assert fast.new_chain(spec) == Chain(**spec)


# --- property: random hot-shaped statements, fast == generic or MISS ------------------------

LEAVES = st.sampled_from([
    {"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "tcp",
                                                                     "field": "dport"}},
    {"meta": {"key": "l4proto"}}, {"meta": {"key": "iifname"}}, {"meta": {"key": "mark"}},
    {"ct": {"key": "state"}}, {"numgen": {"mode": "inc", "mod": 2, "offset": 0}},
    {"meta": {"key": "nope"}}, {"payload": {"protocol": "ip", "field": 1}},
])
IMMEDIATES = st.one_of(
    st.sampled_from(["10.0.0.1", "::1", "tcp", "eth0", "*", "0x10", "@s", "@", "", "1e3",
                     "accept", "1.2.3"]),
    st.integers(min_value=-2, max_value=2**33), st.booleans(), st.none(), st.floats(0, 2))


def _values(leaf: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.one_of(IMMEDIATES, leaf),
        lambda inner: st.one_of(
            st.builds(lambda a, n: {"prefix": {"addr": a, "len": n}}, IMMEDIATES,
                      st.integers(-1, 40)),
            st.builds(lambda xs: {"concat": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda xs: {"set": xs}, st.lists(
                st.one_of(inner, st.lists(inner, min_size=1, max_size=3)), max_size=3)),
            st.builds(lambda a, b: {"range": [a, b]}, inner, inner),
            st.builds(lambda k, t: {k: t}, st.sampled_from(["jump", "goto", "accept"]),
                      st.one_of(st.none(), st.fixed_dictionaries({"target": IMMEDIATES}))),
        ), max_leaves=6)


STMTS = st.one_of(
    st.builds(lambda left, op, right: {"match": {"left": left, "op": op, "right": right}},
              _values(LEAVES), st.sampled_from(["==", "!=", "in", "<", "~"]), _values(LEAVES)),
    st.builds(lambda k, d: {"vmap": {"key": k, "data": d}}, _values(LEAVES), _values(LEAVES)),
    st.builds(lambda kind, body: {kind: body}, st.sampled_from(["dnat", "snat", "masquerade"]),
              st.one_of(st.none(), st.dictionaries(
                  st.sampled_from(["addr", "port", "family"]), _values(LEAVES), max_size=3))),
    st.builds(lambda p, b: {"counter": {"packets": p, "bytes": b}}, IMMEDIATES, IMMEDIATES),
    _values(LEAVES).map(lambda v: {"jump": v}),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STMTS)
def test_fast_statements_equal_the_generic_decoder(j: Any) -> None:
    try:
        want = generic_stmt(j)
    except nftkit.NftkitError:
        assert fast.fast_stmt(copy.deepcopy(j)) is MISS
        return
    got = fast.fast_stmt(copy.deepcopy(j))
    if got is not MISS:
        assert repr(got) == repr(want)
        assert got == want


@settings(max_examples=150, deadline=None)
@given(_values(LEAVES), st.sampled_from([None, "ipv4_addr", "ifname", "inet_service",
                                          "integer", "mark"]))
def test_fast_expressions_equal_the_generic_decoder(j: Any, hint_name: str | None) -> None:
    hint = None if hint_name is None else DATATYPES[hint_name]
    try:
        want = generic_expr(j, hint)
    except nftkit.NftkitError:
        assert fast.fast_expr(copy.deepcopy(j), hint) is MISS
        return
    got = fast.fast_expr(copy.deepcopy(j), hint)
    if got is not MISS:
        assert repr(got) == repr(want)


def test_match_keeps_its_star_check() -> None:
    """``"*"`` against a string datatype is refused by MatchStmt; the fast path leaves it."""
    j = {"match": {"left": {"meta": {"key": "iifname"}}, "op": "==", "right": "*"}}
    with pytest.raises(nftkit.NftkitError):
        generic_stmt(j)
    j2 = {"match": {"left": {"meta": {"key": "mark"}}, "op": "==", "right": "*"}}
    assert isinstance(generic_stmt(j2), MatchStmt)
    assert fast.fast_stmt(j2) is MISS  # (declined: the generic decoder builds it)


def test_collector_state_is_restored() -> None:
    """``from_json`` pauses the cyclic collector and restores it: on success (its nodes
    moved to the oldest generation, nothing left frozen), on error, and when it was off."""
    import gc

    doc = {"nftables": [{"table": {"family": "ip", "name": "t"}}]}
    assert gc.isenabled()
    nftkit.from_json(doc)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with pytest.raises(nftkit.ParseError):
        nftkit.from_json({"nftables": [{"chain": {"family": "ip", "table": "t", "name": "c"}}]})
    assert gc.isenabled()
    gc.disable()
    try:
        nftkit.from_json(doc)
        assert not gc.isenabled()
    finally:
        gc.enable()
