"""The libnftables backend's fast path for element updates gives what the general path gives.

``Nftables.run`` writes the JSON of an element-only batch directly
(``nftkit/backend/_element_json.py``) and ``Transaction`` builds element ops and results
without attrs' ``__init__`` (docs/performance.md, "Backend"). Each test here builds the same
thing both ways and compares: the command text must be byte-identical to ``json.dumps`` of
``Op.to_json`` for elements of every datatype, and bad input must still fail at once with
``ValidationError``.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nftkit.backend.libnftables._element_json import element_command, element_only
from nftkit.errors import ValidationError
from nftkit.model.datatypes import DATATYPES, SYMBOLS
from nftkit.model.enums import Family
from nftkit.model.expressions import (
    ConcatExpr,
    ElemExpr,
    PrefixExpr,
    RangeExpr,
    VerdictExpr,
)
from nftkit.model.sets import Map, Set
from nftkit.testing import comments, identifiers
from nftkit.transaction import (
    Kind,
    Op,
    Transaction,
    TransactionResult,
    Verb,
    result_without_handles,
)
from nftkit.transaction._values import typed_elements

VERSIONS = ("1.0.6", "1.1.3")

_TEXT = st.text(min_size=1, max_size=12)  # any unicode: quotes, backslashes, controls, emoji
_ADDR4 = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
_ADDR6 = st.builds(IPv6Address, st.integers(0, 2**128 - 1)) | st.sampled_from(
    [IPv6Address("::1"), IPv6Address("::ffff:1.2.3.4"), IPv6Address("::18.52.18.52")])
_ETHER = st.builds(lambda b: ":".join(f"{x:02x}" for x in b), st.binary(min_size=6, max_size=6))


def _of_kind(name: str) -> st.SearchStrategy[Any]:
    """Values of datatype ``name`` as the model holds them (ints, words, addresses...)."""
    dt = DATATYPES[name]
    bits = dt.bits or 64
    ints = st.integers(0, 2**bits - 1)
    if name == "ipv4_addr":
        return _ADDR4
    if name == "ipv6_addr":
        return _ADDR6
    if name == "ether_addr":
        return _ETHER
    if dt.kind == "bool":
        return st.booleans()
    if dt.kind == "string":
        return _TEXT
    if dt.kind == "ifindex":
        return ints | _TEXT
    if name in SYMBOLS:
        return ints | st.sampled_from(sorted(SYMBOLS[name]))
    if dt.kind in ("symbol", "qsymbol", "symhex"):
        return ints | _TEXT
    return ints


_VALUE = st.one_of([_of_kind(name) for name in sorted(DATATYPES)])
_VERDICT = st.builds(VerdictExpr, kind=st.sampled_from(["accept", "drop", "continue", "return"]),
                     target=st.none()) | st.builds(
    VerdictExpr, kind=st.sampled_from(["jump", "goto"]), target=identifiers())
_CONCAT = st.builds(lambda parts: ConcatExpr(exprs=tuple(parts)),
                    st.lists(_VALUE, min_size=2, max_size=5))
# what the fast path leaves to the general one: it must still come out identical
_OTHER = st.one_of(
    st.builds(lambda a, n: PrefixExpr(addr=a, len=n), _ADDR4, st.integers(0, 32)),
    st.builds(lambda lo, hi: RangeExpr(low=lo, high=hi), st.integers(0, 65535),
              st.integers(0, 65535)),
    st.builds(lambda v, c, t: ElemExpr(val=v, comment=c, timeout=t),
              _VALUE | _CONCAT, st.none() | comments(), st.none() | st.integers(0, 10**6).map(
                  lambda s: s * 1000)),
    st.builds(lambda parts: ConcatExpr(exprs=tuple(parts)),
              st.lists(_VALUE | _VERDICT | st.builds(
                  lambda a: PrefixExpr(addr=a, len=24), _ADDR4), min_size=2, max_size=3)),
    st.sampled_from([Family.IP, Verb.ADD]),  # str subclasses
)
_KEY = _VALUE | _CONCAT | _OTHER
_ELEMENT = _KEY | st.tuples(_KEY, _KEY | _VERDICT)
# what only a hand-made Op can hold (Transaction refuses it): still written the same
_ODD = st.tuples(_KEY) | st.tuples(_KEY, _KEY, _VERDICT) | st.tuples(_KEY, st.tuples(_KEY, _KEY))
# names, jump targets and element comments are validated where they enter (the model's rules)
_NAME = identifiers()
_OP = st.builds(
    lambda verb, family, table, name, elems: Op(verb=verb, kind=Kind.ELEMENT, family=family,
                                                table=table, name=name, elements=elems),
    st.sampled_from([Verb.ADD, Verb.CREATE, Verb.DELETE]),
    st.sampled_from(list(Family)) | st.none(), _NAME | st.none(), _NAME,
    st.lists(_ELEMENT | _ODD, min_size=1, max_size=6))


def _general(ops: list[Op], version: str) -> str:
    return json.dumps({"nftables": [op.to_json(version=version) for op in ops]})


@settings(max_examples=200)
@given(st.lists(_OP, min_size=1, max_size=4), st.sampled_from(VERSIONS))
def test_element_command_is_json_dumps(ops: list[Op], version: str) -> None:
    assert element_only(ops)
    assert element_command(ops, version) == _general(ops, version)


def _enters(value: Any) -> bool:
    """Whether ``Transaction`` takes ``value`` as it is (it refuses ``"@x"``, ``"$x"`` and NUL
    bytes, and types CIDR strings: hand-made ops above still carry those)."""
    try:
        return typed_elements((value,), None, removing=False, resolve=False) == (value,)
    except ValidationError:
        return False


@pytest.mark.parametrize("name", sorted(DATATYPES))
@settings(max_examples=10)
@given(data=st.data())
def test_every_datatype(name: str, data: st.DataObject) -> None:
    """Bare values, concatenations and map pairs of each datatype's values."""
    values = data.draw(st.lists(_of_kind(name).filter(_enters), min_size=2, max_size=4))
    elements: list[Any] = [*values, ConcatExpr(exprs=tuple(values)),
                           (values[0], ConcatExpr(exprs=tuple(values)))]
    txn = (Transaction().add_elements("s", elements, table=("inet", "t"))
           .delete_elements("s", elements, table=("ip6", "t")))
    for version in VERSIONS:
        assert element_command(list(txn.ops), version) == _general(list(txn.ops), version)


def test_kube_proxy_shapes() -> None:
    """The benchmark's elements: a service key and its endpoint pairs (and the strings of
    their JSON, so that a change to both paths at once is noticed too)."""
    key = ConcatExpr(exprs=(IPv4Address("10.0.0.1"), "tcp", 80))
    pair = (ConcatExpr(exprs=(IPv4Address("10.0.0.1"), "tcp", 80, 0)),
            ConcatExpr(exprs=(IPv4Address("10.128.0.1"), 8080)))
    vmap = (key, VerdictExpr(kind="goto", target="svc-0"))
    txn = (Transaction().add_elements("ep-k2", [pair], table=("ip", "kube-proxy"))
           .add_elements("svc-k2", [key], table=("ip", "kube-proxy"))
           .add_elements("service-ips", [vmap], table=("ip", "kube-proxy")))
    text = element_command(list(txn.ops), "1.0.6")
    assert text == _general(list(txn.ops), "1.0.6")
    assert '"elem": [{"concat": ["10.0.0.1", "tcp", 80]}]' in text
    assert ('[{"concat": ["10.0.0.1", "tcp", 80, 0]}, {"concat": ["10.128.0.1", 8080]}]'
            in text)
    assert '[{"concat": ["10.0.0.1", "tcp", 80]}, {"goto": {"target": "svc-0"}}]' in text


def test_element_only() -> None:
    t = ("inet", "t")
    assert element_only(Transaction().add_elements("s", [1], table=t).ops)
    assert element_only(Transaction().delete_elements("s", [1], table=t)
                        .create_elements("s", [2], table=t).ops)
    assert not element_only(())
    assert not element_only(Transaction().destroy_elements("s", [1], table=t).ops)
    assert not element_only(Transaction().add_elements("s", [1], table=t)
                            .flush("set", table=t, name="s").ops)


# --- cheaper construction, same objects ------------------------------------------------------


@settings(max_examples=100)
@given(st.lists(_ELEMENT, min_size=1, max_size=5), st.sampled_from(list(Family)), _NAME,
       st.sampled_from(["add", "create", "delete", "destroy"]))
def test_element_ops_are_ops(elements: list[Any], family: Family, name: str, verb: str) -> None:
    """``add_elements`` & co. build, without attrs' ``__init__``, the ``Op`` that ``Op()``
    builds: every field the same (a field added to ``Op`` and not set fails here)."""
    txn = Transaction()
    getattr(txn, f"{verb}_elements")(name, elements, table=(family.value, "t"))
    (op,) = txn.ops
    if verb in ("delete", "destroy"):
        elements = [e[0] if isinstance(e, tuple) else e for e in elements]
    expected = Op(verb=verb, kind="element", family=family, table="t", name=name,
                  elements=elements)
    assert op == expected
    assert hash(op) == hash(expected)
    assert repr(op) == repr(expected)
    for field in Op.__attrs_attrs__:
        assert getattr(op, field.name) == getattr(expected, field.name), field.name


def test_result_without_handles() -> None:
    ops = Transaction().add_elements("s", [1], table=("inet", "t")).ops * 3
    result = result_without_handles(ops)
    assert result == TransactionResult(ops=ops, handles=(None, None, None))
    assert result.created() == []


def test_cached_validation_still_refuses() -> None:
    """The caches of checked table refs and names never let bad input through."""
    t = Transaction()
    for _ in range(2):  # the second time the good parts come from the caches
        # (unhashable members below: a ValidationError, not the cache lookup's TypeError)
        t.add_elements("s", [1], table=("inet", "t"))
        with pytest.raises(ValidationError):
            t.add_elements("s", [1], table=("nope", "t"))
        with pytest.raises(ValidationError):
            t.add_elements("s", [1], table=("inet", 'a"b'))
        with pytest.raises(ValidationError):
            t.add_elements("s", [1], table=(["inet"], "t"))  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            t.add_elements("s", [1], table=("inet", ["t"]))  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            t.add_elements("s", [1], table=("inet", "t", "x"))  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            t.add_elements("s", [1], table=None)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            t.add_elements("", [1], table=("inet", "t"))
        with pytest.raises(ValidationError):
            t.add_elements("s", [None], table=("inet", "t"))
        with pytest.raises(ValidationError):
            t.add_elements("s", [(1, 2, 3)], table=("inet", "t"))
        with pytest.raises(ValidationError):
            t.add_elements("s", [], table=("inet", "t"))
        with pytest.raises(ValidationError):
            t.add_elements("s", "abc", table=("inet", "t"))
        with pytest.raises(ValidationError):
            t.add_elements(Set(name="s", type=("ipv4_addr",)), [(1, 2)], table=("inet", "t"))
        with pytest.raises(ValidationError):
            t.add_elements(Map(name="m", type=("ipv4_addr",), data_type=("verdict",)), [1],
                           table=("inet", "t"))
    assert len(t) == 2
    t.delete_elements(Map(name="m", type=("ipv4_addr",), data_type=("verdict",)),
                      [IPv4Address("10.0.0.1")], table=(Family.INET, "t"))
    assert t.ops[-1].elements == (IPv4Address("10.0.0.1"),)


def test_bare_ipv6_elements_as_nft_spells_them() -> None:
    """A bare IPv6 element is written as inside a concatenation (nft's ``inet_ntop``)."""
    op = Transaction().add_elements("s", [IPv6Address("::ffff:1.2.3.4")],
                                    table=("ip6", "t")).ops[0]
    assert op.to_json()["add"]["element"]["elem"] == ["::ffff:1.2.3.4"]
