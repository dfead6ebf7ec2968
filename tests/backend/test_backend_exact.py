"""Issue 11, the backend cases: what ``Nftables`` writes and reads is exactly what the kernel
holds, in any namespace and with other writers around. Each test runs against the kernel, in
throwaway network namespaces.

- case 1: reads name interfaces as the target namespace does (``iif``, ``fwd to``, chain
  devices), with ifindexes that differ from the caller's;
- case 2: a set another process recreated with another type is never written with the old
  type (netlink path and libnftables path);
- case 2b: every libnftables call (and so every host name resolution) runs inside the target
  namespace;
- case 5: foreign state reads back faithfully (``flags owner``, ``flags dormant``, a
  ``ct timeout`` without policy, ``ifname`` elements that look like addresses).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address
from typing import Any

import pytest

import nftkit
from nftkit import InvalidError, Set, Table, Transaction
from nftkit.backend.netlink import NetlinkSocket
from nftkit.backend.netlink._tlv import _attr
from nftkit.model.enums import TableFlag
from nftkit.model.statements import FwdStmt, MatchStmt
from nftkit.nft.releases import profile
from nftkit.render.context import installed_nft_version
from tests._backend_netns import backend_skip_reason, netns

pytestmark = pytest.mark.kernel

T = ("inet", "t")
S = Set(name="s", type="ipv4_addr")


@pytest.fixture
def ns() -> Iterator[str]:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    with netns() as name:
        yield name


def nft_in(name: str, script: str) -> None:
    subprocess.run(["ip", "netns", "exec", name, "nft", "-f", "-"], input=script, text=True,
                   check=True, capture_output=True)


def nft_out(name: str, *args: str) -> str:
    return subprocess.run(["ip", "netns", "exec", name, "nft", *args], text=True, check=True,
                          capture_output=True).stdout


def link(name: str, dev: str) -> None:
    subprocess.run(["ip", "-n", name, "link", "add", dev, "type", "ifb"], check=True,
                   capture_output=True)


# --- case 1: interface names as the target namespace has them ----------------------------

FORWARDING = """
table inet t {
    chain c {
        type filter hook forward priority 0; policy accept;
        iif "lan0" oif "wan0" accept
    }
}
table netdev n {
    chain ing {
        type filter hook ingress device "lan0" priority 0; policy accept;
        dup to "wan0"
        fwd to "wan0"
    }
}
"""


def test_reads_name_interfaces_as_the_namespace_does(ns: str) -> None:
    """lan0 and wan0 get ifindexes that name other devices (or none) in the caller's
    namespace: a read resolved there prints ``iif "ifb0"`` or ``iif "5"``."""
    for pad in ("pad0", "pad1", "pad2", "pad3"):
        link(ns, pad)  # lan0/wan0 at ifindexes 6 and 7 here, where the caller has none
    link(ns, "lan0")
    link(ns, "wan0")
    nft_in(ns, FORWARDING)
    with nftkit.Nftables(netns=ns) as nft:
        for ruleset in (nft.list_ruleset(), nftkit.Ruleset(tables=(nft.list_table(*T),
                                                                   nft.list_table("netdev",
                                                                                  "n")))):
            rule = ruleset.table(*T).chain("c").rules[0]
            matches = [s for s in rule.stmts if isinstance(s, MatchStmt)]
            assert [m.right for m in matches] == ["lan0", "wan0"]
            ing = ruleset.table("netdev", "n").chain("ing")
            assert ing.devices == ("lan0",)
            (fwd,) = ing.rules[1].stmts
            assert isinstance(fwd, FwdStmt) and fwd.dev == "wan0"
        assert nft.list_chain("netdev", "n", "ing").devices == ("lan0",)
        # what was read, written back elsewhere, lists as nft lists the original
        text = nftkit.to_text(nft.list_ruleset())
    with netns() as other:
        for dev in ("lan0", "wan0"):
            link(other, dev)
        with nftkit.Nftables(netns=other) as nft2:
            nft2.run_text(text)
        assert nft_out(other, "list", "ruleset") == nft_out(ns, "list", "ruleset")


# --- case 2b: every libnftables call inside the target namespace -------------------------

class _Recorder:
    """Stands in for the cffi library: records the namespace of the calling thread at each
    ``nft_run_cmd_from_buffer``."""

    def __init__(self, lib: Any) -> None:
        self._lib = lib
        self.seen: list[str] = []

    def nft_run_cmd_from_buffer(self, ctx: Any, buf: bytes) -> int:
        self.seen.append(os.readlink("/proc/thread-self/ns/net"))
        rc: int = self._lib.nft_run_cmd_from_buffer(ctx, buf)
        return rc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lib, name)


def test_every_libnftables_call_runs_in_the_target_namespace(
        ns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """libnftables resolves host names (getaddrinfo) and interface names in the calling
    thread's namespace: a batch without iif/oif/dev once ran in the caller's, so a host name
    resolved there, or inside the target only when an unrelated rule named a device."""
    from nftkit.backend.libnftables import _context

    target = os.readlink(f"/run/netns/{ns}") if os.path.islink(f"/run/netns/{ns}") else None
    target = target or f"net:[{os.stat(f'/run/netns/{ns}').st_ino}]"
    here = os.readlink("/proc/thread-self/ns/net")
    recorder = _Recorder(_context._lib)
    monkeypatch.setattr(_context, "_lib", recorder)
    with nftkit.Nftables(netns=ns, netlink=False) as nft:
        nft.run(Transaction().add(Table(family="inet", name="t")).add(S, table=T))
        nft.run(Transaction().add_elements(S, [IPv4Address("10.0.0.1")], table=T))
        nft.check(Transaction().add_elements(S, [IPv4Address("10.0.0.2")], table=T))
        nft.list_ruleset()
        nft.run_text("add element inet t s { localhost }")
        assert set(nft.list_set(*T, "s").elements) == {IPv4Address("10.0.0.1"),
                                                       IPv4Address("127.0.0.1")}
    assert recorder.seen and set(recorder.seen) == {target} != {here}
    assert os.readlink("/proc/thread-self/ns/net") == here


# --- case 2: a set recreated by another process with another type ------------------------

RECREATED = {
    "mark": "type mark;",
    "interval": "type ipv4_addr; flags interval;",
    "ether_addr": "type ether_addr;",
    "ifname": "type ifname;",
}


@pytest.mark.parametrize("netlink", [None, False], ids=["netlink", "libnftables"])
@pytest.mark.parametrize("kind", sorted(RECREATED))
def test_recreated_set_is_never_written_with_its_old_type(ns: str, kind: str,
                                                          netlink: bool | None) -> None:
    """The agent's handle has written to ``s`` (ipv4_addr); another process deletes it and
    creates it again as ``kind``; the agent's next 10.0.0.2 is either stored as exactly
    10.0.0.2 (an interval set of addresses) or refused, never stored as another value
    (mark 0x0200000a, range 10.0.0.2-255.255.255.255, 00:00:10:00:00:02, "10.0.0.2")."""
    with nftkit.Nftables(netns=ns, netlink=netlink) as agent:
        agent.run(Transaction().add(Table(family="inet", name="t")).add(S, table=T))
        agent.run(Transaction().add_elements(S, [IPv4Address("10.0.0.1")], table=T))
        nft_in(ns, f"delete set inet t s\nadd set inet t s {{ {RECREATED[kind]} }}\n")
        add = Transaction().add_elements(S, [IPv4Address("10.0.0.2")], table=T)
        if kind == "interval":
            agent.run(add)
            listed = nft_out(ns, "list", "set", "inet", "t", "s")
            assert "elements = { 10.0.0.2 }" in listed, listed
            assert agent.list_set(*T, "s").elements == (IPv4Address("10.0.0.2"),)
        else:
            with pytest.raises(InvalidError, match=RECREATED[kind].split()[1].rstrip(";")):
                agent.run(add)
            assert "elements" not in nft_out(ns, "list", "set", "inet", "t", "s")
        # replaced once more, by a set of addresses: the handle writes to it again
        nft_in(ns, "delete set inet t s\nadd set inet t s { type ipv4_addr; }\n")
        agent.run(Transaction().add_elements(S, [IPv4Address("10.0.0.3")], table=T))
        assert agent.list_set(*T, "s").elements == (IPv4Address("10.0.0.3"),)


def test_an_element_guard_keeps_the_set_as_it_was(ns: str) -> None:
    """The libnftables path sends ``add set`` of the set as checked after the elements (the
    kernel refuses it for a set of another type); it must not change the set: the timeout
    and gc interval stay, and the comment."""
    nft_in(ns, 'table inet t { set s { type ipv4_addr; flags interval,timeout; timeout 1h; '
               'gc-interval 5s; comment "c"; }; }\n')
    before = nft_out(ns, "list", "set", "inet", "t", "s")
    with nftkit.Nftables(netns=ns, netlink=False) as agent:
        agent.run(Transaction().add_elements(S, [IPv4Address("10.0.0.1")], table=T))
    after = nft_out(ns, "list", "set", "inet", "t", "s")
    assert "10.0.0.1" in after
    for line in before.splitlines():
        if "elements" not in line:
            assert line in after.splitlines(), after


def test_stale_batches_are_rebuilt_not_sent(ns: str) -> None:
    """The netlink path sends element batches with the generation its set facts were read
    at (NFNL_BATCH_GENID); after another writer's commit the kernel refuses it (ERESTART)
    and the batch is built again from fresh facts."""
    with nftkit.Nftables(netns=ns) as agent:
        agent.run(Transaction().add(Table(family="inet", name="t")).add(S, table=T))
        agent.run(Transaction().add_elements(S, [IPv4Address("10.0.0.1")], table=T))
        nl = agent._owned.nl
        assert nl is not None
        before = nl.restarts
        nft_in(ns, "add table ip other\n")  # an unrelated commit: the generation moves
        done = agent.run(Transaction().add_elements(S, [IPv4Address("10.0.0.2")], table=T))
        assert done.path == "netlink" and nl.restarts == before + 1
        agent.run(Transaction().add_elements(S, [IPv4Address("10.0.0.3")], table=T))
        assert nl.restarts == before + 1  # no other writer: sent once
        assert set(agent.list_set(*T, "s").elements) == {
            IPv4Address(f"10.0.0.{i}") for i in (1, 2, 3)}


def test_a_batch_with_a_stale_generation_is_refused(ns: str) -> None:
    sock = NetlinkSocket(ns)
    try:
        gen = sock.genid()
        add = (0, 0x400, 1, _attr(1, b"a\0"))
        assert sock.batch([add], genid=gen) is None
        assert sock.genid() == gen + 1
        assert sock.batch([add], genid=gen) == (0, 85)  # ERESTART: nothing applied
        assert sock.genid() == gen + 1
    finally:
        sock.close()


# --- case 5: foreign state ---------------------------------------------------------------

FOREIGN = """
table inet t {
    ct timeout quiet { protocol tcp; l3proto ip; }
    set names { type ifname; elements = { "10.0.0.2", "eth0", "123" } }
    chain c { type filter hook input priority 0; policy accept; }
}
table inet d { flags dormant; }
"""


def test_foreign_state_reads_back_faithfully(ns: str) -> None:
    """An owned table (nft 1.0.6's JSON listing of it is cut off mid-document), a dormant
    one (listed as ``"flags": "t"``), a ct timeout without policy ('NoneType' object is not
    iterable) and ifname elements that look like an address and a number."""
    nft_in(ns, FOREIGN)
    owner = NetlinkSocket(ns)  # the table lives as long as this socket
    try:
        body = _attr(1, b"own\0") + _attr(2, (2).to_bytes(4, "big"))  # flags owner
        assert owner.batch([(0, 0x400, 1, body)]) is None
        with nftkit.Nftables(netns=ns) as nft:
            rs = nft.list_ruleset()
            assert {t.name: t.flags for t in rs.tables} == {
                "t": frozenset(), "d": frozenset({TableFlag.DORMANT}),
                "own": frozenset({TableFlag.OWNER})}
            t = rs.table(*T)
            assert [o.name for o in t.objects] == ["quiet"]
            # the listing order is the release's (nft 1.1.7 sorts the names): compare sorted
            assert sorted(t.set("names").elements) == ["10.0.0.2", "123", "eth0"]
            assert sorted(nft.list_set(*T, "names").elements) == ["10.0.0.2", "123", "eth0"]
            assert nft.list_table("inet", "own").flags == {TableFlag.OWNER}
            assert nft.list_table("inet", "d").flags == {TableFlag.DORMANT}
            assert {t.name: t.flags for t in nft.list_tables()} == {
                "t": frozenset(), "d": frozenset({TableFlag.DORMANT}),
                "own": frozenset({TableFlag.OWNER})}
    finally:
        owner.close()


# --- cases 3 and 4: what nft 1.0.6's JSON parser drops or cannot read goes another way ----

DROPPED = """table inet t {
	comment "table comment"
	set s {
		type ipv4_addr
		flags dynamic
		comment "set comment"
	}
	set i {
		type ipv4_addr
		flags interval
		auto-merge
	}
	map m {
		type ipv4_addr : verdict
		comment "map comment"
	}
	chain c {
		comment "chain comment"
	}
}
"""
CONCAT_DATA = """table ip nat {
	map m {
		type inet_proto . inet_service : ipv4_addr . inet_service
		elements = { tcp . 80 : 10.0.0.1 . 8080 }
	}
}
"""


def _apply_model(ns: str, script: str, netlink: bool | None) -> nftkit.TransactionResult:
    txn = Transaction()
    for table in nftkit.parse(script).tables:
        txn = txn.add(table)
    with nftkit.Nftables(netns=ns, netlink=netlink) as nft:
        return nft.run(txn)


@pytest.mark.parametrize("netlink", [None, False], ids=["default", "libnftables"])
@pytest.mark.parametrize("script", [DROPPED, CONCAT_DATA], ids=["dropped", "concat-data"])
def test_every_attribute_is_applied_or_refused(ns: str, script: str,
                                               netlink: bool | None) -> None:
    """Comments of tables, sets, maps and chains, ``auto-merge`` and ``flags dynamic``
    (dropped by nft 1.0.6's JSON parser without an error), and a map with concatenated data
    (refused: 1.0.6 reads it from JSON as a set): the router takes a path that applies them,
    and the kernel lists what ``nft -f`` of the same script lists."""
    done = _apply_model(ns, script, netlink)
    with netns() as reference:
        nft_in(reference, script)
        assert nft_out(ns, "list", "ruleset") == nft_out(reference, "list", "ruleset")
    if netlink is False:
        # set comments: no release applies them from JSON; the rest: nft < 1.1 drops them
        needs_text = script is DROPPED or not profile(installed_nft_version()).json_input_exact
        assert done.path == ("libnftables-text" if needs_text else "libnftables-json")
    assert all(h is not None for op, h in zip(done.ops, done.handles, strict=True)
               if op.creates)  # from the kernel, on every path


def test_owner_flag_is_applied(ns: str) -> None:
    with nftkit.Nftables(netns=ns, netlink=False) as nft:
        done = nft.run(Transaction().add(Table(family="inet", name="o", flags={"owner"})))
        exact = profile(nft.version).json_input_exact  # nft < 1.1's JSON drops the flag
        assert done.path == ("libnftables-json" if exact else "libnftables-text")
        assert "flags owner" in nft_out(ns, "list", "table", "inet", "o")
        assert nft.list_table("inet", "o").flags == {TableFlag.OWNER}
    # owned by the handle's libnftables context: gone with it, as with nft -f
    assert "table inet o" not in nft_out(ns, "list", "ruleset")


def test_what_no_path_can_write_is_refused_before_sending(ns: str) -> None:
    """A table comment with a rule inserted at a position: libnftables 1.0.6 would drop the
    comment from JSON, the text path does not write rule positions: UnsupportedError, and
    nothing changes."""
    with nftkit.Nftables(netns=ns, netlink=False) as nft:
        if nft.version >= (1, 1, 0):
            pytest.skip("this libnftables applies comments from JSON")
        from nftkit.model.statements import CounterStmt
        nft.run(Transaction().add(Table(family="inet", name="t"))
                .add(nftkit.Chain(name="c"), table=T)
                .add(nftkit.Rule(stmts=(CounterStmt(),)), table=T, chain="c"))
        before = nft_out(ns, "list", "ruleset")
        txn = (Transaction().add(Table(family="inet", name="u", comment="kept"))
               .insert(nftkit.Rule(stmts=(CounterStmt(),)), table=T, chain="c", index=0))
        with pytest.raises(nftkit.UnsupportedError, match="comment"):
            nft.run(txn)
        assert nft_out(ns, "list", "ruleset") == before


def test_text_path_writes_element_ops_of_its_sets(ns: str) -> None:
    """Element ops of a set the transaction defines, written over several lines by the text
    renderer, go with it through the text path (which the map's comment takes on every
    release: no libnftables applies a set comment from JSON)."""
    from nftkit import ConcatExpr, Map
    m = Map(name="m", type=("inet_proto", "inet_service"),
            data_type=("ipv4_addr", "inet_service"), comment="via text")
    pairs = [(ConcatExpr(exprs=("tcp", p)), ConcatExpr(exprs=(IPv4Address("10.0.0.1"), p)))
             for p in range(80, 90)]
    txn = (Transaction().add(Table(family="ip", name="nat")).add(m, table=("ip", "nat"))
           .add_elements(m, pairs, table=("ip", "nat")))
    with nftkit.Nftables(netns=ns, netlink=False) as nft:
        assert nft.run(txn).path == "libnftables-text"
        assert len(nft.list_map("ip", "nat", "m").elements) == 10


def test_threads_leave_no_namespace_fd_behind(ns: str) -> None:
    """Each thread keeps its own namespace open for the switches (``_inside``); it is closed
    when the thread ends."""
    import threading

    with nftkit.Nftables(netns=ns) as nft:
        nft.list_ruleset()
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(50):
            t = threading.Thread(target=nft.list_ruleset)
            t.start()
            t.join()
        assert len(os.listdir("/proc/self/fd")) == before


def test_text_path_writes_elements_of_existing_sets_by_their_kernel_type(ns: str) -> None:
    """A transaction that must go through text (a set comment, on every release) and adds
    elements to a set it does not define: written by the type the kernel's set has, and
    checked against it."""
    nft_in(ns, "table inet t { set s { type ipv4_addr; flags interval; }; "
               "set names { type ifname; }; }\n")
    with nftkit.Nftables(netns=ns, netlink=False) as nft:
        marked = Set(name="c", type="ipv4_addr", comment="via text")
        txn = (Transaction().add(Table(family="inet", name="u", sets=[marked]))
               .add_elements(S, [IPv4Address("10.0.0.1")], table=T))
        assert nft.run(txn).path == "libnftables-text"
        assert nft.list_set(*T, "s").elements == (IPv4Address("10.0.0.1"),)
        assert nft.list_set("inet", "u", "c").comment == "via text"
        wrong = (Transaction().add(Table(family="inet", name="v", sets=[marked]))
                 .add_elements("names", [IPv4Address("10.0.0.2")], table=T))
        with pytest.raises(InvalidError, match="ifname"):
            nft.run(wrong)
        assert "table inet v" not in nft_out(ns, "list", "tables")


def test_what_json_listings_leave_out_reads_back(ns: str) -> None:
    """nft 1.0.6's JSON listing has no table or chain comments, no ``auto-merge`` and no
    ``flags dynamic``: they come from the kernel (netlink), in every read."""
    from nftkit.model.enums import SetFlag

    nft_in(ns, DROPPED)
    with nftkit.Nftables(netns=ns) as nft:
        for t in (nft.list_ruleset().table(*T), nft.list_table(*T)):
            assert t.comment == "table comment"
            assert t.chain("c").comment == "chain comment"
            assert SetFlag.DYNAMIC in t.set("s").flags and t.set("s").comment == "set comment"
            assert t.set("i").auto_merge and t.set("m").comment == "map comment"
        assert nft.list_chain(*T, "c").comment == "chain comment"
        assert SetFlag.DYNAMIC in nft.list_set(*T, "s").flags
        assert nft.list_set(*T, "i").auto_merge
        assert [t.comment for t in nft.list_tables()] == ["table comment"]
        # and what was read lists, written elsewhere, as the original does
        text = nftkit.to_text(nft.list_ruleset())
    with netns() as other:
        with nftkit.Nftables(netns=other) as nft2:
            nft2.run_text(text)
        assert nft_out(other, "list", "ruleset") == nft_out(ns, "list", "ruleset")


def test_values_for_an_interval_set_are_refused_by_a_plain_one(ns: str) -> None:
    """Single values sent to a set checked as an interval set go as ranges ``v-v``: if the
    set libnftables encodes for is a plain one after all (another process replaced it since
    it was checked), the batch is refused, checked again and resent, never stored as
    ``v-255.255.255.255`` in an interval set nor as a range in a plain one."""
    nft_in(ns, "table inet t { set s { type ipv4_addr; flags interval; }; }\n")
    with nftkit.Nftables(netns=ns, netlink=False) as agent:
        agent.run(Transaction().add_elements(S, [IPv4Address("10.0.0.1")], table=T))
        assert "elements = { 10.0.0.1 }" in nft_out(ns, "list", "set", "inet", "t", "s")
        nft_in(ns, "delete set inet t s\nadd set inet t s { type ipv4_addr; }\n")
        # the handle still remembers an interval set: the range form is refused, then resent
        done = agent.run(Transaction().add_elements(S, [IPv4Address("10.0.0.2")], table=T))
        assert done.ops[0].elements == (IPv4Address("10.0.0.2"),)
        assert agent.list_set(*T, "s").elements == (IPv4Address("10.0.0.2"),)
