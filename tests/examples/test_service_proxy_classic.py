"""examples/service_proxy.py's classic layout (kube-proxy's nftables mode) against the kernel,
with real packets: the same namespaces and servers as test_service_proxy.py, the same
checks, and the classic proxy's one-transaction syncs over netlink with handles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from nftkit.lint import LintCode, lint
from tests.examples.test_service_proxy import Lab, services, sp, who

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("oracle")]


class ClassicLab(Lab):
    def __init__(self) -> None:
        super().__init__()
        self.prefix = f"nkc{os.getpid() % 100000}"
        self.node, self.cli = f"{self.prefix}-node", f"{self.prefix}-cli"
        self.eps = [f"{self.prefix}-ep{i}" for i in range(len(self.eps))]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = ClassicLab()
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def proxy(lab: Lab) -> Any:
    import nftkit

    p = sp.ClassicServiceProxy(nftkit.Nftables(netns=lab.node), table="kp")
    done = p.full_sync(services())
    assert done.path == "netlink"
    return p


def test_small_classic_table_is_lint_clean_and_a_large_one_is_not() -> None:
    assert lint(sp.build_classic_table(services())) == []
    many = [sp.ServicePort(name=f"s{i}", cluster_ip=sp.IPv4Address(f"10.96.{i // 250}.{i % 250}"),
                           port=80, endpoints=(sp.Endpoint(sp.IPv4Address("10.128.0.2"), 80),
                                               sp.Endpoint(sp.IPv4Address("10.128.0.3"), 80)))
            for i in range(600)]
    found = {w.code: w for w in lint(sp.build_classic_table(many))}
    assert set(found) == {LintCode.ANONYMOUS_SETS, LintCode.JUMP_GRAPH}
    assert "per update" in found[LintCode.JUMP_GRAPH].message
    assert "shard" in found[LintCode.JUMP_GRAPH].suggestion


def test_cluster_ip_is_balanced_and_masqueraded(lab: Lab, proxy: Any) -> None:
    replies = lab.connect("10.96.0.10", 80, 40)
    seen = who(replies)
    assert set(seen) == {"ep0", "ep1"}, replies
    assert min(seen.values()) >= 6, seen
    assert all(r.split()[1] == f"10.128.{r[2]}.1" for r in replies), replies


def test_node_port(lab: Lab, proxy: Any) -> None:
    seen = who(lab.connect("192.168.77.1", 30080, 30))
    assert set(seen) == {"ep0", "ep1"}, seen


def test_service_without_endpoints_is_rejected(lab: Lab, proxy: Any) -> None:
    assert lab.connect("10.96.0.12", 80, 3) == ["error ConnectionRefusedError"] * 3


def test_session_affinity(lab: Lab, proxy: Any) -> None:
    seen = who(lab.connect("10.96.0.11", 80, 15))
    assert len(seen) == 1 and sum(seen.values()) == 15, seen


def test_sync_is_one_netlink_batch_with_handles(lab: Lab, proxy: Any) -> None:
    # web gains ep2 (its chains flushed and refilled), empty gains ep1 (a new service chain)
    stats = proxy.sync(services(web_eps=(0, 1, 2), empty_eps=(1,)))
    assert stats.path == "netlink"
    ops = stats.transaction.ops
    created = [h for op, h in zip(ops, proxy.last_handles, strict=True) if op.creates]
    assert created and None not in created
    assert set(who(lab.connect("10.96.0.10", 80, 45))) == {"ep0", "ep1", "ep2"}
    assert set(who(lab.connect("10.96.0.12", 80, 3))) == {"ep1"}
    again = proxy.sync(services(web_eps=(0, 1, 2), empty_eps=(1,)))
    assert len(again.transaction) == 0


def test_sync_removes_endpoints_and_services(lab: Lab, proxy: Any) -> None:
    final = services(web_eps=(2,), db_eps=(0, 1), empty_eps=())
    stats = proxy.sync(final)
    assert stats.path == "netlink"
    assert set(who(lab.connect("10.96.0.10", 80, 5))) == {"ep2"}
    assert lab.connect("10.96.0.12", 80, 1) == ["error ConnectionRefusedError"]
    seen = who(lab.connect("10.96.0.11", 80, 6))
    assert len(seen) == 1 and set(seen) <= {"ep0", "ep1"}, seen
    # what is left is exactly what a full build of the same services has
    import nftkit

    with nftkit.Nftables(netns=lab.node) as nft:
        chains = {c.name for c in nft.list_table("ip", "kp").chains}
    assert chains == {c.name for c in proxy.build(final).chains}
    proxy.sync([s for s in final if s.name != "db"])
    with nftkit.Nftables(netns=lab.node) as nft:
        left = nft.list_table("ip", "kp")
    assert not any("db" in c.name for c in left.chains)
    assert not any(s.name.startswith("aff-") for s in left.sets)
