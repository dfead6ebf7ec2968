"""``Nftables`` as a router: which path each transaction took (``TransactionResult.path``),
handles dropped without ``close()`` release what they hold, and the two paths are sibling
packages without import cycles."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

import nftkit
from nftkit import Chain, Rule, Set, Table, Transaction
from nftkit.backend.router import NETLINK_VERIFIED
from nftkit.model.expressions import PayloadExpr
from nftkit.model.statements import CounterStmt, MatchStmt
from tests._backend_netns import backend_skip_reason, netns

T = ("inet", "t")
PORTS = Set(name="ports", type="inet_service")
RULE = Rule(stmts=(MatchStmt(left=PayloadExpr(protocol="th", field="dport"), right=22),
                   CounterStmt()))


@pytest.fixture(scope="module")
def name() -> Iterator[str]:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    with netns() as ns:
        yield ns


@pytest.mark.kernel
def test_run_says_which_path_it_took(name: str) -> None:
    with nftkit.Nftables(netns=name) as nft:
        setup = Transaction().add(Table(family="inet", name="t")).add(PORTS, table=T).add(
            Chain(name="c"), table=T)
        done = nft.run(setup, netlink=False)  # forced: libnftables
        assert done.path == "libnftables-json" and nft.last_path == "libnftables"
        assert done.handles[0] is not None

        # element-only: netlink, with any nft release
        done = nft.run(Transaction().add_elements(PORTS, [22, 80], table=T))
        assert done.path == "netlink" and nft.last_path == "netlink"
        done = nft.run(Transaction().add_elements(PORTS, [443], table=T), handles=False)
        assert done.path == "netlink"

        # a rule: netlink where the installed release series was verified, else libnftables
        rule = Transaction().add(RULE, table=T, chain="c")
        done = nft.run(rule)
        verified = nft.version[:2] in NETLINK_VERIFIED
        assert done.path == ("netlink" if verified else "libnftables-json")
        assert done.handles[0] is not None
        done = nft.run(rule, netlink=True)
        assert done.path == "netlink" and done.handles[0] is not None

        # forced libnftables, also for what netlink could carry
        done = nft.run(Transaction().add_elements(PORTS, [8080], table=T), netlink=False)
        assert done.path == "libnftables-json" and nft.last_path == "libnftables"
        done = nft.run(rule, netlink=False)
        assert done.path == "libnftables-json" and done.handles[0] is not None

        assert set(nft.list_set("inet", "t", "ports").elements) == {22, 80, 443, 8080}
        assert len(nft.list_chain("inet", "t", "c").rules) == 3


def test_fake_results_have_no_path() -> None:
    fake = nftkit.FakeNftables()
    assert fake.run(Transaction().add(Table(family="inet", name="t"))).path is None


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.kernel
def test_dropped_handles_release_their_fds(name: str) -> None:
    """1,000 handles dropped without close(): the namespace fd, the libnftables context (its
    netlink socket) and the netlink path's socket all go with the handle."""
    elements = Transaction().add_elements(PORTS, [1], table=T)
    with nftkit.Nftables(netns=name) as nft:
        nft.run(Transaction().add(Table(family="inet", name="t")).add(PORTS, table=T))
    gc.collect()
    before = _fds()
    for i in range(1000):
        nft = nftkit.Nftables(netns=name)
        if i % 50 == 0:  # some of them with a netlink socket too
            assert nft.run(elements).path == "netlink"
        del nft
    gc.collect()
    assert _fds() <= before


def test_paths_are_siblings_without_import_cycles() -> None:
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("nftkit", cache_dir=None)  # no cache: the checkout may be read-only
    paths = ("nftkit.backend.netlink", "nftkit.backend.libnftables")
    for a in paths:
        assert not graph.chain_exists(importer=a, imported="nftkit.backend.router",
                                      as_packages=True), a
        for b in paths:
            if a != b:
                assert not graph.chain_exists(importer=a, imported=b, as_packages=True), (a, b)
        modules = {m for m in graph.modules if m.startswith(a + ".")}
        for m in modules:
            for imported in graph.find_modules_directly_imported_by(m) & modules:
                assert not graph.chain_exists(importer=imported, imported=m), (m, imported)
