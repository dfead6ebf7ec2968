"""The direct netlink element path (nftkit.backend.netlink) against the libnftables path:
for every supported key and data type, adding and deleting the same elements both ways must
leave the kernel with exactly the same elements (listed by the installed nft)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest

from nftkit import Map, Set, Transaction
from nftkit.errors import NotFoundError, UnsupportedError
from nftkit.model.expressions import (
    ConcatExpr,
    MetaExpr,
    NumgenExpr,
    PayloadExpr,
    PrefixExpr,
    VerdictExpr,
)

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("oracle")]

A4, B4 = IPv4Address("10.0.0.1"), IPv4Address("192.168.255.254")
A6 = IPv6Address("2001:db8::1")


def c(*parts: Any) -> ConcatExpr:
    return ConcatExpr(exprs=parts)


DADDR = PayloadExpr(protocol="ip", field="daddr")
DPORT = PayloadExpr(protocol="th", field="dport")
PROTO = MetaExpr(key="l4proto")

#: (name, set, elements added, elements then deleted)
CASES: list[tuple[str, Set, list[Any], list[Any]]] = [
    ("ipv4", Set(name="s", type="ipv4_addr"), [A4, B4, IPv4Address("0.0.0.1")], [B4]),
    ("ipv6", Set(name="s", type="ipv6_addr"), [A6, IPv6Address("::1")], [A6]),
    ("proto", Set(name="s", type="inet_proto"), ["tcp", "udp", 47], ["udp"]),
    ("service", Set(name="s", type="inet_service"), [22, 80, 65535], [80]),
    ("mark", Set(name="s", type="mark"), [0x10, 0xFFFFFFFF, 1], [1]),
    ("ether", Set(name="s", type="ether_addr"), ["00:0f:54:0c:11:04", "aa:bb:cc:dd:ee:ff"],
     ["aa:bb:cc:dd:ee:ff"]),
    ("ifname", Set(name="s", type="ifname"), ["eth0", "lo", "a-very-long-na"], ["lo"]),
    ("concat", Set(name="s", type=("ipv4_addr", "inet_proto", "inet_service")),
     [c(A4, "tcp", 80), c(B4, "udp", 53)], [c(A4, "tcp", 80)]),
    ("concat6", Set(name="s", type=("ipv6_addr", "inet_service")), [c(A6, 443)], []),
    ("concat-odd", Set(name="s", type=("ifname", "ether_addr", "mark")),
     [c("eth0", "00:0f:54:0c:11:04", 7)], [c("eth0", "00:0f:54:0c:11:04", 7)]),
    ("map", Map(name="s", type="inet_service", data_type="ipv4_addr"),
     [(22, A4), (80, B4)], [(22, A4)]),
    ("map-concat", Map(name="s", type=("ipv4_addr", "inet_service"),
                       data_type=("ipv4_addr", "inet_service")),
     [(c(A4, 80), c(B4, 8080))], []),
    ("map-mark", Map(name="s", type="ipv4_addr", data_type="mark"), [(A4, 0x4000)], []),
    ("vmap", Map(name="s", type="ipv4_addr", data_type="verdict"),
     [(A4, VerdictExpr(kind="accept")), (B4, VerdictExpr(kind="drop")),
      (IPv4Address("10.0.0.2"), VerdictExpr(kind="jump", target="x")),
      (IPv4Address("10.0.0.3"), VerdictExpr(kind="goto", target="x")),
      (IPv4Address("10.0.0.4"), VerdictExpr(kind="return"))], [(A4, None)]),
    ("typeof-grouped", Map(name="s", typeof=c(DADDR, PROTO, DPORT,
                                              NumgenExpr(mode="random", mod=2)),
                           data_typeof=c(DADDR, DPORT)),
     [(c(A4, "tcp", 80, 0), c(B4, 8080)), (c(A4, "tcp", 80, 1), c(B4, 8081))],
     [(c(A4, "tcp", 80, 1), None)]),
]


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    if not shutil.which("ip"):
        pytest.skip("needs iproute2 (ip netns)")
    name = f"nkt-nl{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def nft(ns: str, *args: str, stdin: str | None = None) -> str:
    r = subprocess.run(["ip", "netns", "exec", ns, "nft", *args], input=stdin,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def listing(ns: str, table: str, s: Set) -> str:
    kind = "map" if isinstance(s, Map) else "set"
    return nft(ns, "list", kind, "ip", table, s.name).replace(f"table ip {table}", "table")


@pytest.mark.parametrize(("name", "s", "added", "deleted"), CASES, ids=[x[0] for x in CASES])
def test_same_elements_as_libnftables(netns: str, name: str, s: Set, added: list[Any],
                                      deleted: list[Any]) -> None:
    import nftkit
    from nftkit.render.text import to_text

    body = to_text(s, family="ip")
    tables = {}
    for path in ("nl", "lib"):
        table = f"{name}-{path}"
        tables[path] = table
        nft(netns, "-f", "-", stdin=f"table ip {table} {{\n chain x {{\n }}\n{body}}}\n")
    link = nftkit.Nftables(netns=netns, netlink=True)
    lib = nftkit.Nftables(netns=netns, netlink=False)
    try:
        done = link.run(Transaction().add_elements(s, added, table=("ip", tables["nl"])))
        assert done.path == "netlink"
        done = lib.run(Transaction().add_elements(s, added, table=("ip", tables["lib"])))
        assert done.path == "libnftables-json"
        assert listing(netns, tables["nl"], s) == listing(netns, tables["lib"], s)
        if deleted:
            keys = [d[0] if isinstance(d, tuple) else d for d in deleted]
            done = link.run(Transaction().delete_elements(s, keys, table=("ip", tables["nl"])))
            assert done.path == "netlink"
            lib.run(Transaction().delete_elements(s, keys, table=("ip", tables["lib"])))
            assert listing(netns, tables["nl"], s) == listing(netns, tables["lib"], s)
            # deleting what is gone fails the same way on both paths
            with pytest.raises(NotFoundError):
                link.run(Transaction().delete_elements(s, keys, table=("ip", tables["nl"])))
            assert link.last_path == "netlink"
            with pytest.raises(NotFoundError):
                lib.run(Transaction().delete_elements(s, keys, table=("ip", tables["lib"])))
        # and the kernel really holds what is left (the listings are not both empty)
        assert ("elements = {" in listing(netns, tables["nl"], s)) == (len(added) > len(deleted))
    finally:
        link.close()
        lib.close()


def test_unsupported_is_refused_before_sending() -> None:
    from nftkit.backend.netlink._elements import encode_value

    with pytest.raises(UnsupportedError):
        encode_value(PrefixExpr(addr=A4, len=8), ("ipv4_addr",))
    with pytest.raises(UnsupportedError):
        encode_value(c(A4, 80), ("ipv4_addr",))
    with pytest.raises(UnsupportedError):
        encode_value(A6, ("ipv4_addr",))
    with pytest.raises(UnsupportedError):
        encode_value(1, ("ct_state",))


def test_batch_is_atomic(netns: str) -> None:
    import nftkit

    a = Set(name="a", type="inet_service")
    b = Map(name="b", type="ipv4_addr", data_type="mark")
    nft(netns, "-f", "-", stdin="table ip atomic {\n set a { type inet_service; }\n"
                                "map b { type ipv4_addr : mark; }\n}\n")
    t = ("ip", "atomic")
    link = nftkit.Nftables(netns=netns, netlink=True)
    try:
        done = link.run(Transaction().add_elements(a, [1, 2], table=t)
                        .add_elements(b, [(A4, 3)], table=t))
        assert done.path == "netlink"
        assert "elements = { 1, 2 }" in nft(netns, "list", "set", "ip", "atomic", "a")
        before = nft(netns, "list", "table", "ip", "atomic")
        with pytest.raises(NotFoundError):
            link.run(Transaction().add_elements(a, [3], table=t)
                     .delete_elements(b, [B4], table=t))
        assert link.last_path == "netlink"
        assert nft(netns, "list", "table", "ip", "atomic") == before
        with pytest.raises(NotFoundError):
            link.run(Transaction().add_elements(a, [1], table=("ip", "no-such-table")))
        assert link.last_path == "netlink"
    finally:
        link.close()
