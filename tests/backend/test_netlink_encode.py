"""The netlink encoders without a kernel: the per-set fast element packer gives the same bytes
as the generic encoder, refuses what it must, splits element messages under 64 KiB, and the
set types read back from the kernel (``_decode_spec``) are the ones that were written."""

from __future__ import annotations

import struct
import time
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nftkit import Map, Set
from nftkit.backend.netlink._elements import MAX_NEST, chunks, element_nest
from nftkit.backend.netlink._facts import _decode_spec, _udata_records
from nftkit.backend.netlink._objects import element_messages, set_info
from nftkit.backend.netlink._types import set_udata
from nftkit.errors import UnsupportedError
from nftkit.model.expressions import ConcatExpr, MetaExpr, NumgenExpr, PayloadExpr
from nftkit.nft.releases import PROFILES, ReleaseProfile

DADDR = PayloadExpr(protocol="ip", field="daddr")
DPORT = PayloadExpr(protocol="th", field="dport")
GROUPED = Map(name="ep", typeof=ConcatExpr(exprs=(DADDR, MetaExpr(key="l4proto"), DPORT,
                                                  NumgenExpr(mode="random", mod=2))),
              data_typeof=ConcatExpr(exprs=(DADDR, DPORT)))

v4 = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
v6 = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
port = st.integers(0, 65535)
proto = st.sampled_from(["tcp", "udp", "sctp", 6, 17, 255])
u32 = st.integers(0, 2**32 - 1)
ifname = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=15)
ether = st.lists(st.integers(0, 255), min_size=6, max_size=6).map(
    lambda b: ":".join(f"{x:02x}" for x in b))


def concat(*parts: Any) -> ConcatExpr:
    return ConcatExpr(exprs=parts)


def generic(s: Set, elements: list[Any], with_data: bool = True) -> list[bytes]:
    info = set_info(s)
    return [element_nest(e, info.key.names, info.packer.data, with_data) for e in elements]


def fast(s: Set, elements: list[Any], with_data: bool = True) -> list[bytes]:
    info = set_info(s)
    info.packer._ensure_compiled()
    assert info.packer._fast is not None, "no fast packer was built"
    out: list[bytes] = []
    info.packer._fast(elements, out)
    return out


CASES: list[tuple[Set, Any]] = [
    (Set(name="a", type="ipv4_addr"), v4),
    (Set(name="a", type="ipv6_addr"), v6),
    (Set(name="a", type="inet_service"), port),
    (Set(name="a", type="inet_proto"), proto),
    (Set(name="a", type="mark"), u32),
    (Set(name="a", type="ifname"), ifname),
    (Set(name="a", type="ether_addr"), ether),
    (Set(name="a", type=("ipv4_addr", "inet_proto", "inet_service")),
     st.builds(concat, v4, proto, port)),
    (Set(name="a", type=("ipv6_addr", "ifname", "mark", "ether_addr")),
     st.builds(concat, v6, ifname, u32, ether)),
    (Map(name="a", type="inet_service", data_type="ipv4_addr"), st.tuples(port, v4)),
    (Map(name="a", type="ipv4_addr", data_type="mark"), st.tuples(v4, u32)),
    (GROUPED, st.tuples(st.builds(concat, v4, proto, port, st.integers(0, 1)),
                        st.builds(concat, v4, port))),
]


@pytest.mark.parametrize(("s", "strategy"), CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_fast_packer_equals_generic_encoder(s: Set, strategy: Any) -> None:
    @settings(max_examples=30, deadline=None)
    @given(st.lists(strategy, min_size=1, max_size=20))
    def check(elements: list[Any]) -> None:
        assert fast(s, elements) == generic(s, elements)
        keys = [e[0] if isinstance(e, tuple) else e for e in elements]
        assert set_info(s).packer.pack(keys, with_data=False) == generic(s, keys, False)
        assert set_info(s).packer.pack(elements * 40) == generic(s, elements * 40)

    check()


def test_wrong_values_are_refused_not_misencoded() -> None:
    v4set = Set(name="a", type="ipv4_addr")
    # an IPv6 address whose integer fits in 4 bytes must not become an IPv4 key
    with pytest.raises(UnsupportedError):
        set_info(v4set).packer.pack([IPv6Address("::1")] * 40)
    with pytest.raises(UnsupportedError):
        set_info(Set(name="a", type="inet_service")).packer.pack([70000])
    with pytest.raises(UnsupportedError):
        set_info(Set(name="a", type="inet_service")).packer.pack([True])
    with pytest.raises(UnsupportedError):
        set_info(GROUPED).packer.pack([(concat(IPv4Address("1.2.3.4"), "tcp", 80), None)])
    # strings are not the fast path's, but the generic encoder takes them
    assert set_info(v4set).packer.pack(["10.0.0.1"]) == generic(v4set, [IPv4Address("10.0.0.1")])


def test_element_messages_stay_under_64k() -> None:
    elements = [(concat(IPv4Address(0x0A000000 + i), "tcp", 80, i % 2),
                 concat(IPv4Address(0x0B000000 + i), 8080)) for i in range(20_000)]
    msgs = element_messages("add", 2, "t", GROUPED, elements)
    assert len(msgs) > 1
    size = len(generic(GROUPED, elements[:1])[0])
    total = 0
    for _kind, _flags, _fam, body in msgs:
        off = 0
        while off < len(body):
            length, kind = struct.unpack_from("=HH", body, off)
            if kind & 0x3FFF == 3:  # NFTA_SET_ELEM_LIST_ELEMENTS
                assert length - 4 <= MAX_NEST
                total += (length - 4) // size
            off += (length + 3) & ~3
    assert total == len(elements)
    assert chunks([]) == [b""]
    assert b"".join(chunks([b"ab", b"cde", b"f"], limit=4)) == b"abcdef"


def test_encoding_is_fast() -> None:
    """Grouped-layout elements: a few microseconds each at most (~1 us here, so 150k in
    ~0.15 s; the bound leaves room for a loaded CI machine). 50k keep the test short."""
    elements = [(concat(IPv4Address(0x0A000000 + i // 2), "tcp", 80, i % 2),
                 concat(IPv4Address(0x0B000000 + i), 8080)) for i in range(50_000)]
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        element_messages("add", 2, "t", GROUPED, elements)
        best = min(best, time.perf_counter() - t)
    assert best < 0.5, f"{best:.2f} s for 50k elements"


@pytest.mark.parametrize("s", [c[0] for c in CASES], ids=[f"{i}" for i in range(len(CASES))])
@pytest.mark.parametrize("release", PROFILES, ids=[str(p.version) for p in PROFILES])
def test_kernel_types_decode_back(s: Set, release: ReleaseProfile) -> None:
    """Set userdata as each release writes it (1.1 adds typeof records for ``type`` keys)
    decodes back to the same types."""
    info = set_info(s)
    records = _udata_records(set_udata(s, info.key, info.packer.data, release))
    key = _decode_spec(info.key.type_id, info.key.length, records.get(3))
    assert key.names == info.key.names
    data = info.packer.data
    if data is not None:
        back = _decode_spec(data.type_id, data.length, records.get(4))
        assert back.names == data.names


def test_unsupported_types_refused() -> None:
    with pytest.raises(UnsupportedError):
        set_info(Set(name="a", type="ct_status"))
    with pytest.raises(UnsupportedError):
        set_info(Set(name="a", typeof=PayloadExpr(protocol="icmp", field="type")))
    with pytest.raises(UnsupportedError):
        set_info(Map(name="a", type="ipv4_addr", data_type="counter"))
    with pytest.raises(UnsupportedError):
        _decode_spec(4, 4, None)  # a plain integer key: byte order unknown
