"""Differential tests of the netlink path of ``Nftables.run`` (nftkit.backend.netlink): the same
model applied as ONE nfnetlink batch built by nftkit, in one throwaway namespace, and through
libnftables (``nft -f`` text), in another, must list back identically (``nft list ruleset``
and ``nft -j list ruleset``, elements compared as sets since hash sets list in hash order),
and every set's raw ``GETSET`` attributes (type ids, lengths, flags, nft's userdata) must be
byte-identical. Failures: the same error class and op index as the libnftables path, and the
ruleset unchanged."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

import pytest

import nftkit
from nftkit import Chain, Map, Rule, Ruleset, Set, Table, Transaction
from nftkit.errors import BackendError
from nftkit.model.expressions import (
    ConcatExpr,
    CtExpr,
    MetaExpr,
    NumgenExpr,
    PayloadExpr,
    VerdictExpr,
)
from tests._releases import installed_profile

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("oracle")]
ROOT = Path(__file__).resolve().parents[2]
HAVE_RULES = importlib.util.find_spec("nftkit.backend.netlink._rules") is not None

A4, B4 = IPv4Address("10.0.0.1"), IPv4Address("192.168.1.2")
A6 = IPv6Address("2001:db8::1")
DADDR = PayloadExpr(protocol="ip", field="daddr")
DPORT = PayloadExpr(protocol="th", field="dport")
L4 = MetaExpr(key="l4proto")


def c(*parts: Any) -> ConcatExpr:
    return ConcatExpr(exprs=parts)


#: A map keyed by numgen alone: nft 1.1.7 writes its keys big endian (release profile
#: ``numgen_key_host_order``), so its own listing differs from the netlink path's there.
NUMGEN_KEYED = Map(name="s-m-inc", typeof=NumgenExpr(mode="inc", mod=4, offset=1),
                   data_typeof=MetaExpr(key="mark"), elements=[(1, 7)])


def _sets() -> list[Set]:
    """One set or map per key type / typeof / flag the netlink path supports."""
    return [
        Set(name="s-v4", type="ipv4_addr", elements=[A4, B4]),
        Set(name="s-v6", type="ipv6_addr", elements=[A6], comment="six"),
        Set(name="s-proto", type="inet_proto", elements=["tcp", 47]),
        Set(name="s-port", type="inet_service", elements=[22, 65535]),
        Set(name="s-mark", type="mark", elements=[1, 0xFFFFFFFF]),
        Set(name="s-ether", type="ether_addr", elements=["00:0f:54:0c:11:04"]),
        Set(name="s-ifn", type="ifname", elements=["eth0", "lo"]),
        Set(name="s-cat", type=("ipv4_addr", "inet_proto", "inet_service"),
            elements=[c(A4, "tcp", 80), c(B4, "udp", 53)], comment="concat"),
        Set(name="s-cat6", type=("ipv6_addr", "ifname", "mark"), elements=[c(A6, "lo", 7)]),
        Set(name="s-t-daddr", typeof=DADDR, elements=[A4]),
        Set(name="s-t-mark", typeof=MetaExpr(key="mark"), flags=["timeout"], gc_interval=10_000),
        Set(name="s-t-ct", typeof=CtExpr(key="state")),
        Set(name="s-t-ctmark", typeof=CtExpr(key="mark")),
        Set(name="s-t-l4", typeof=L4, elements=["udp"]),
        Set(name="s-t-proto", typeof=PayloadExpr(protocol="ip", field="protocol")),
        Set(name="s-t-iifname", typeof=MetaExpr(key="iifname"), elements=["lo"]),
        Set(name="s-t-cat", typeof=c(MetaExpr(key="iifname"), PayloadExpr(protocol="udp",
                                                                     field="dport")),
            elements=[c("lo", 53)]),
        Set(name="s-dyn", type="ipv4_addr", flags=["dynamic", "timeout"], timeout=3_600_000,
            size=1000),
        Set(name="s-const", type="inet_service", flags=["constant"], elements=[1, 2, 3]),
        Set(name="s-ival", type="ipv4_addr", flags=["interval"], auto_merge=True,
            policy="memory"),
        Set(name="s-ival-cat", type=("ipv4_addr", "inet_service"), flags=["interval"]),
        Map(name="s-m4", type="inet_service", data_type="ipv4_addr", elements=[(80, A4)]),
        Map(name="s-m-mark", type="ipv4_addr", data_type="mark", elements=[(A4, 0x4000)]),
        Map(name="s-m-cat", type=("ipv4_addr", "inet_service"),
            data_type=("ipv4_addr", "inet_service"), elements=[(c(A4, 80), c(B4, 8080))]),
        Map(name="s-m-typeof", typeof=c(DADDR, L4, DPORT, NumgenExpr(mode="random", mod=2)),
            data_typeof=c(DADDR, DPORT),
            elements=[(c(A4, "tcp", 80, 0), c(B4, 8080)), (c(A4, "tcp", 80, 1), c(A4, 1))]),
        *([NUMGEN_KEYED] if installed_profile().numgen_key_host_order else []),
        Map(name="s-vmap", type="ipv4_addr", data_type="verdict",
            elements=[(A4, VerdictExpr(kind="accept")), (B4, VerdictExpr(kind="goto",
                                                                         target="reg")),
                      (IPv4Address("10.0.0.9"), VerdictExpr(kind="jump", target="reg"))]),
        Map(name="s-m-dyn", type=("ipv4_addr", "ipv4_addr", "inet_proto", "inet_service"),
            data_type="mark", flags=["dynamic", "timeout"], timeout=10_800_000),
    ]


def _chains(family: str) -> list[Chain]:
    hooks = {"arp": ("input", "output"), "netdev": ()}.get(
        family, ("prerouting", "input", "forward", "output", "postrouting"))
    chains = [Chain(name="reg", comment="regular"), Chain(name="reg2")]
    for n, hook in enumerate(hooks):
        chains.append(Chain.base(f"b-{hook}", type="filter", hook=hook, priority=n * 7 - 10,
                                 policy="drop" if n % 2 else "accept",
                                 comment=f"hook {hook}" if n == 1 else None))
    if family in ("ip", "ip6", "inet"):
        chains.append(Chain.base("nat-pre", type="nat", hook="prerouting", priority="dstnat"))
        chains.append(Chain.base("nat-post", type="nat", hook="postrouting",
                                 priority="srcnat + 5", policy="accept"))
        chains.append(Chain.base("route-out", type="route", hook="output",
                                 priority="mangle"))
    if family == "netdev":
        chains.append(Chain.base("in-lo", type="filter", hook="ingress", priority=0,
                                 devices=["lo"], policy="accept"))
    return chains


def _service_proxy(n: int) -> Table:
    sys.path.insert(0, str(ROOT / "examples"))
    sp: Any = importlib.import_module("service_proxy")

    services = [sp.ServicePort(name=f"s{i}", cluster_ip=IPv4Address(f"10.96.0.{i + 1}"),
                               port=80,
                               endpoints=tuple(
                                   sp.Endpoint(IPv4Address(f"10.128.0.{3 * i + j + 1}"), 8080)
                                   for j in range(i % 4)),
                               node_port=30000 + i if i % 2 else None,
                               affinity=i % 4 == 1)
                for i in range(n)]
    table: Table = sp.build_table(services, name="proxy")
    return table


def _grouped(n: int) -> Table:
    sys.path.insert(0, str(ROOT / "bench"))
    layouts: Any = importlib.import_module("_layouts")

    table: Table = layouts.grouped_model(layouts.make_services(n)).tables[0]
    return table


def _no_rules(t: Table) -> Table:
    return t.replace(chains=[ch.replace(rules=()) for ch in t.chains])


def _cases() -> list[tuple[str, Table]]:
    out = [(f"sets-{fam}", Table(family=fam, name="t", comment="table comment",
                                 sets=_sets(), chains=[Chain(name="reg")]))
           for fam in ("ip", "inet")]
    out += [(f"chains-{fam}", Table(family=fam, name="c", chains=_chains(fam)))
            for fam in ("ip", "ip6", "inet", "bridge", "arp", "netdev")]
    out += [("dormant", Table(family="ip", name="d", flags=["dormant"]))]
    out += [("grouped-50", _no_rules(_grouped(50))),
            ("service-proxy", _no_rules(_service_proxy(12)))]
    if HAVE_RULES:
        out += [("grouped-50-rules", _grouped(50)),
                ("service-proxy-rules", _service_proxy(12))]
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def namespaces() -> Iterator[tuple[str, str]]:
    if not shutil.which("ip"):
        pytest.skip("needs iproute2 (ip netns)")
    names = (f"nkt-nlo-a{os.getpid() % 100000}", f"nkt-nlo-b{os.getpid() % 100000}")
    for name in names:
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield names
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], check=False)


def nft(ns: str, *args: str, stdin: str | None = None) -> str:
    r = subprocess.run(["ip", "netns", "exec", ns, "nft", *args], input=stdin,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


_ELEMENTS = re.compile(r"elements = \{(.*?)\}", re.S)


def text_listing(ns: str) -> str:
    """``nft list ruleset`` with each element list sorted (hash sets list in hash order)."""
    def sort(m: re.Match[str]) -> str:
        items = sorted(i.strip() for i in m.group(1).split(","))
        return "elements = { " + ", ".join(items) + " }"
    return _ELEMENTS.sub(sort, nft(ns, "list", "ruleset"))


def json_listing(ns: str) -> list[Any]:
    """``nft -j list ruleset`` without metainfo and handles, element lists sorted."""
    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: clean(v) for k, v in node.items() if k != "handle"}
            if isinstance(out.get("elem"), list):
                out["elem"] = sorted(out["elem"], key=lambda e: json.dumps(e, sort_keys=True))
            return out
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node
    raw = nft(ns, "-j", "list", "ruleset")
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError:  # nft 1.0.6 writes broken JSON for a dormant table
        return [re.sub(r'"handle": \d+, ', "", raw)]
    return [clean(i) for i in doc["nftables"] if "metainfo" not in i]


_SKIP_ATTRS = {16, 19, 20}  # handle; kernel-internal attributes newer kernels add


def raw_sets(ns: str) -> dict[str, list[tuple[int, bytes]]]:
    """Every set's GETSET attributes, as the kernel dumps them (handles left out)."""
    from nftkit.backend.netlink._socket import NetlinkSocket

    sock = NetlinkSocket(ns)
    try:
        out = {}
        for obj in sock.dump(10, 0):
            d = dict(obj)
            out[f"{d[1].decode()}/{d[2].decode()}"] = [(k, v) for k, v in obj
                                                       if k not in _SKIP_ATTRS]
        return out
    finally:
        sock.close()


def reset(*names: str) -> None:
    for ns in names:
        nft(ns, "flush", "ruleset")


@pytest.mark.parametrize(("name", "table"), CASES, ids=[x[0] for x in CASES])
def test_same_ruleset_as_libnftables(namespaces: tuple[str, str], name: str,
                                     table: Table) -> None:
    nl_ns, lib_ns = namespaces
    reset(nl_ns, lib_ns)
    with nftkit.Nftables(nl_ns, netlink=True) as nl:
        nl.run(Transaction().add(table), handles=False)
        assert nl.last_path == "netlink"
    nft(lib_ns, "-f", "-", stdin=nftkit.to_text(Ruleset(tables=[table])))
    assert text_listing(nl_ns) == text_listing(lib_ns)
    assert json_listing(nl_ns) == json_listing(lib_ns)
    assert raw_sets(nl_ns) == raw_sets(lib_ns)
    assert name  # (the id names the case)


def test_numgen_keyed_map_follows_the_release(namespaces: tuple[str, str]) -> None:
    """A map keyed by ``typeof numgen ...`` alone: the netlink path writes its keys in host
    order (what the kernel's numgen register holds); nft lists them as written, except where
    the release profile says nft writes them big endian (1.1.7 lists ``1`` as ``16777216``
    after its own ``nft -f``)."""
    nl_ns, lib_ns = namespaces
    reset(nl_ns, lib_ns)
    table = Table(family="ip", name="t", sets=[NUMGEN_KEYED])
    with nftkit.Nftables(nl_ns, netlink=True) as nl:
        nl.run(Transaction().add(table), handles=False)
        assert nl.last_path == "netlink"
    assert "elements = { 1 : 0x00000007 }" in text_listing(nl_ns)
    nft(lib_ns, "-f", "-", stdin=nftkit.to_text(Ruleset(tables=[table])))
    if installed_profile().numgen_key_host_order:
        assert text_listing(lib_ns) == text_listing(nl_ns)
    else:
        assert "elements = { 16777216 : 0x00000007 }" in text_listing(lib_ns)


def test_resync_replaces_in_one_batch(namespaces: tuple[str, str]) -> None:
    """``add table; delete table; add table {...}`` (a full resync) via netlink, against the
    same as nft text; and ``flush table`` keeps sets and chains, as nft's."""
    nl_ns, lib_ns = namespaces
    reset(nl_ns, lib_ns)
    old, new = _no_rules(_grouped(20)), _no_rules(_grouped(30))
    bare = Table(family=old.family, name=old.name)
    with nftkit.Nftables(nl_ns, netlink=True) as nl:
        nl.run(Transaction().add(old), handles=False)
        nl.run(Transaction().add(bare).delete(bare).add(new), handles=False)
        assert nl.last_path == "netlink"
        nl.run(Transaction().flush(bare), handles=False)
        assert nl.last_path == "netlink"
    text = nftkit.to_text(Ruleset(tables=[old]))
    nft(lib_ns, "-f", "-", stdin=text)
    nft(lib_ns, "-f", "-", stdin=f"add table ip {old.name}\ndelete table ip {old.name}\n"
        + nftkit.to_text(Ruleset(tables=[new])) + f"flush table ip {old.name}\n")
    assert text_listing(nl_ns) == text_listing(lib_ns)
    assert json_listing(nl_ns) == json_listing(lib_ns)


def _failing() -> list[tuple[str, str, Transaction]]:
    """(name, setup text, transaction whose op fails) for the failure cases."""
    t = ("ip", "f")
    s = Set(name="s", type="ipv4_addr")
    m = Map(name="m", type="inet_service", data_type="ipv4_addr")
    setup = ("table ip f {\n set s { type ipv4_addr; elements = { 10.0.0.1 } }\n"
             " map m { type inet_service : ipv4_addr; }\n chain used { }\n"
             " map v { type ipv4_addr : verdict; elements = { 10.0.0.1 : jump used } }\n"
             " chain base { type filter hook input priority 0; }\n}\n")
    return [
        ("create-existing-table", setup, Transaction().create(Table(family="ip", name="f"))),
        ("delete-missing-chain", setup,
         Transaction().add_elements(s, [A4], table=t).delete(Kind_CHAIN, table=t,
                                                              name="nope")),
        ("missing-set", setup,
         Transaction().add(Chain(name="x"), table=t).add_elements("nope", [A4], table=t)),
        ("create-existing-element", setup,
         Transaction().add_elements(m, [(80, A4)], table=t).create_elements(s, [A4],
                                                                            table=t)),
        ("delete-missing-element", setup,
         Transaction().add_elements(s, [B4], table=t).delete_elements(m, [443], table=t)),
        ("busy-chain", setup,
         Transaction().add(Chain(name="y"), table=t).delete(Kind_CHAIN, table=t,
                                                            name="used")),
        ("missing-table", "", Transaction().add(Chain(name="x"), table=("ip", "none"))),
        ("create-existing-set", setup,
         Transaction().add(Chain(name="z"), table=t).create(Set(name="s", type="ipv4_addr"),
                                                            table=t)),
    ]


Kind_CHAIN = "chain"
FAILING = _failing()


@pytest.mark.parametrize(("name", "setup", "txn"), FAILING, ids=[x[0] for x in FAILING])
def test_failures_match_libnftables(namespaces: tuple[str, str], name: str, setup: str,
                                    txn: Transaction) -> None:
    nl_ns, lib_ns = namespaces
    reset(nl_ns, lib_ns)
    errors: dict[str, BackendError] = {}
    for ns, use in ((nl_ns, True), (lib_ns, False)):
        if setup:
            nft(ns, "-f", "-", stdin=setup)
        before = nft(ns, "list", "ruleset")
        with nftkit.Nftables(ns, netlink=use) as ctx, pytest.raises(BackendError) as info:
            ctx.run(txn, handles=False)
        assert ctx.last_path == ("netlink" if use else "libnftables")
        errors["nl" if use else "lib"] = info.value
        assert nft(ns, "list", "ruleset") == before  # all or nothing
    assert type(errors["nl"]) is type(errors["lib"]), (errors["nl"], errors["lib"])
    assert errors["nl"].index == errors["lib"].index
    assert errors["nl"].operation == errors["lib"].operation
    assert name


def test_check_is_a_dry_run(namespaces: tuple[str, str]) -> None:
    """A batch without BATCH_END: validated by the kernel, then aborted."""
    nl_ns, _ = namespaces
    reset(nl_ns)
    table = _no_rules(_grouped(5))
    with nftkit.Nftables(nl_ns, netlink=True) as nl:
        nl.check(Transaction().add(table))
        assert nl.last_path == "netlink"
        assert nft(nl_ns, "list", "ruleset") == ""
        nl.run(Transaction().add(table), handles=False)
        before = nft(nl_ns, "list", "ruleset")
        with pytest.raises(nftkit.errors.ExistsError) as info:
            nl.check(Transaction().add(Chain(name="q"), table=table).create(
                Table(family="ip", name=table.name)))
        assert info.value.index == 1
        assert nft(nl_ns, "list", "ruleset") == before


def test_forced_libnftables(namespaces: tuple[str, str]) -> None:
    """``netlink=False`` (context or call) keeps libnftables."""
    nl_ns, _ = namespaces
    reset(nl_ns)
    table = Table(family="inet", name="h", chains=[Chain(name="a")])
    with nftkit.Nftables(nl_ns, netlink=False) as ctx:
        ctx.run(Transaction().add(table))
        assert ctx.last_path == "libnftables"
        ctx.run(Transaction().add(Chain(name="b"), table=table), handles=False, netlink=True)
        assert ctx.last_path == "netlink"
    with nftkit.Nftables(nl_ns) as ctx:
        ctx.run(Transaction().add(Chain(name="c"), table=table), netlink=False)
        assert ctx.last_path == "libnftables"
    assert "chain c" in nft(nl_ns, "list", "ruleset")


def test_default_takes_netlink_for_sets_and_rules_only_on_verified_releases(
        namespaces: tuple[str, str]) -> None:
    """By default (``netlink=None``), a batch that creates a set or a rule goes through
    libnftables unless the installed nft's release series is in ``NETLINK_VERIFIED``: the
    set userdata and rule expressions are written as the verified releases write them.
    Element updates go through netlink with any release."""
    from nftkit.backend.router import NETLINK_VERIFIED

    nl_ns, _ = namespaces
    reset(nl_ns)
    grouped = _grouped(4)  # its svc-k2 set and the chain whose rule binds it, no DNAT map
    svc = grouped.set("svc-k2")
    rule = Rule(stmts=[grouped.chain("services").rules[0].stmts[0]])
    table = Table(family="ip", name=grouped.name, sets=[svc],
                  chains=[Chain(name="services", rules=[rule])])
    with nftkit.Nftables(nl_ns) as ctx:
        verified = ctx.version[:2] in NETLINK_VERIFIED
        ctx.run(Transaction().add(table), handles=False)
        assert ctx.last_path == ("netlink" if verified else "libnftables")
        ctx._lib._version = (99, 0, 0)  # as if another nft were installed
        reset(nl_ns)
        ctx.run(Transaction().add(table), handles=False)
        assert ctx.last_path == "libnftables"
        key = c(IPv4Address("10.96.9.9"), "tcp", 80)
        ctx.run(Transaction().add_elements("svc-k2", [key], table=("ip", table.name)))
        assert ctx.last_path == "netlink"
        ctx.run(Transaction().add(table), handles=False, netlink=True)  # forced
        assert ctx.last_path == "netlink"
    assert "10.96.9.9 . tcp . 80" in nft(nl_ns, "list", "ruleset")


def _handle_cases() -> list[tuple[str, list[Transaction]]]:
    t = ("inet", "hh")
    table = Table(family="inet", name="hh", sets=[Set(name="s", type="ipv4_addr",
                                                      elements=[A4])],
                  chains=[Chain(name="a", rules=[Rule(stmts=[VerdictExpr(kind="accept")],
                                                      comment=f"a{i}") for i in range(3)]),
                          Chain(name="b", rules=[Rule(stmts=[VerdictExpr(kind="drop")])])])
    more = (Transaction().add(Table(family="inet", name="hh"))  # exists: handle read back
            .add(Chain(name="a"), table=t)
            .add(Chain(name="c", rules=[Rule(stmts=[VerdictExpr(kind="return")])]), table=t)
            .add(Map(name="m", type="inet_service", data_type="mark"), table=t)
            .add(Rule(stmts=[VerdictExpr(kind="accept")], comment="late"), table=t, chain="b")
            .insert(Rule(stmts=[VerdictExpr(kind="drop")], comment="first"), table=t,
                    chain="a")
            .add_elements("s", [B4], table=t))
    return [("table", [Transaction().add(table), more])]


@pytest.mark.parametrize(("name", "txns"), _handle_cases(), ids=[x[0] for x in _handle_cases()])
def test_handles_match_libnftables(name: str, txns: list[Transaction]) -> None:
    """``run(txn)`` with handles: the netlink path asks the kernel to echo what it creates;
    in two fresh namespaces the same transactions give the same handles both ways."""
    nl_ns, lib_ns = (f"nkt-nlo-h{i}{os.getpid() % 100000}" for i in range(2))
    for ns in (nl_ns, lib_ns):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        _compare_handles(nl_ns, lib_ns, txns)
    finally:
        for ns in (nl_ns, lib_ns):
            subprocess.run(["ip", "netns", "del", ns], check=False)
    assert name


def _compare_handles(nl_ns: str, lib_ns: str, txns: list[Transaction]) -> None:
    with nftkit.Nftables(nl_ns, netlink=True) as nl, nftkit.Nftables(lib_ns, netlink=False) as lib:
        for n, txn in enumerate(txns):
            got = nl.run(txn)
            if HAVE_RULES:
                assert nl.last_path == "netlink", n
            want = lib.run(txn)
            assert got.handles == want.handles, n
            assert all(h is not None for op, h in zip(txn.ops, got.handles, strict=True)
                       if op.creates), n
    assert nft(nl_ns, "-a", "list", "ruleset") == nft(lib_ns, "-a", "list", "ruleset")


def test_elements_of_existing_sets_via_getset(namespaces: tuple[str, str]) -> None:
    """Element ops on sets the context never saw: types read back with GETSET, also for a
    typeof map with numgen parts; rules and element listing equal to libnftables'."""
    nl_ns, lib_ns = namespaces
    reset(nl_ns, lib_ns)
    table = _no_rules(_grouped(3))
    text = nftkit.to_text(Ruleset(tables=[table]))
    ep = next(s for s in table.sets if s.name.startswith("ep-"))
    svc = next(s for s in table.sets if s.name.startswith("svc-"))
    where = (table.family, table.name)
    txn = (Transaction()
           .add_elements(svc.name, [c(IPv4Address("10.96.9.9"), "tcp", 443)], table=where)
           .add_elements(ep.name, [(c(IPv4Address("10.96.9.9"), "tcp", 443, 0),
                                    c(B4, 8443))], table=where)
           .delete_elements(ep.name, [ep.elements[0][0]], table=where))
    for ns, use in ((nl_ns, True), (lib_ns, False)):
        nft(ns, "-f", "-", stdin=text)
        with nftkit.Nftables(ns, netlink=use) as ctx:
            ctx.run(txn)
            assert ctx.last_path == ("netlink" if use else "libnftables")
    assert text_listing(nl_ns) == text_listing(lib_ns)


def test_rules_fall_back_or_encode(namespaces: tuple[str, str]) -> None:
    """A table with rules: netlink when the rule encoder can write them, else libnftables;
    the result is the same either way."""
    nl_ns, lib_ns = namespaces
    reset(nl_ns, lib_ns)
    table = Table(family="inet", name="r", chains=[
        Chain(name="c", rules=[Rule(stmts=[VerdictExpr(kind="accept")], comment="ok")])])
    with nftkit.Nftables(nl_ns, netlink=True) as ctx:
        ctx.run(Transaction().add(table), handles=False)
    nft(lib_ns, "-f", "-", stdin=nftkit.to_text(Ruleset(tables=[table])))
    assert text_listing(nl_ns) == text_listing(lib_ns)


def _handle(ns: str, table: str, chain: str, index: int) -> int:
    doc = json.loads(nft(ns, "-j", "-a", "list", "chain", "inet", table, chain))
    rules = [i["rule"] for i in doc["nftables"] if "rule" in i]
    handle: int = rules[index]["handle"]
    return handle


def test_verbs_match_libnftables(namespaces: tuple[str, str]) -> None:
    """Rules placed by position (add after / insert before a handle), insert at the top,
    replace, delete rule by handle, delete and flush of sets, maps and chains, map elements
    deleted by key: the same sequence through both paths, the same listing after each step."""
    nl_ns, lib_ns = namespaces
    reset(nl_ns, lib_ns)
    t = ("inet", "v")
    m = Map(name="m", type="inet_service", data_type="mark", elements=[(1, 1), (2, 2)])
    s = Set(name="s", type="ipv4_addr", elements=[A4])

    def accept(n: int) -> Rule:
        return Rule(stmts=[VerdictExpr(kind="accept")], comment=f"r{n}")

    table = Table(family="inet", name="v", sets=[s, m], chains=[
        Chain(name="c", rules=[accept(0), accept(1)]), Chain(name="d", rules=[accept(9)])])
    steps: list[Any] = [
        lambda ns: Transaction().add(table),
        lambda ns: Transaction().add(accept(2), table=t, chain="c",
                                     after=_handle(ns, "v", "c", 0)),
        lambda ns: Transaction().insert(accept(3), table=t, chain="c",
                                        before=_handle(ns, "v", "c", 2)),
        lambda ns: Transaction().insert(accept(4), table=t, chain="c"),
        lambda ns: Transaction().replace(accept(5), table=t, chain="c",
                                         handle=_handle(ns, "v", "c", 1)),
        lambda ns: Transaction().delete("rule", table=t, chain="c",
                                        handle=_handle(ns, "v", "c", 3)),
        lambda ns: Transaction().delete_elements(m, [(1, 1)], table=t).add_elements(
            s, [B4], table=t),
        lambda ns: Transaction().flush("set", table=t, name="s").flush("chain", table=t,
                                                                       name="d"),
        lambda ns: Transaction().flush("map", table=t, name="m").delete("map", table=t,
                                                                        name="m"),
        lambda ns: Transaction().delete("set", table=t, name="s").delete("chain", table=t,
                                                                         name="d"),
        lambda ns: Transaction().flush("table", table=t),
        lambda ns: Transaction().flush("ruleset"),
    ]
    with nftkit.Nftables(nl_ns, netlink=True) as nl, nftkit.Nftables(lib_ns, netlink=False) as lib:
        for n, step in enumerate(steps):
            nl.run(step(nl_ns), handles=False)
            # rules placed by position go through libnftables (its index semantics)
            assert nl.last_path == "netlink" or n in (1, 2, 11) or (not HAVE_RULES and n < 6), n
            lib.run(step(lib_ns), handles=False)
            assert text_listing(nl_ns) == text_listing(lib_ns), n


def test_destroy_matches_libnftables(namespaces: tuple[str, str]) -> None:
    """``destroy`` (native DESTROY* messages on the netlink path, emulated by dry runs on
    libnftables 1.0.6): of what exists and of what does not, the same result; a resync as
    ``destroy table`` + ``add table``."""
    nl_ns, lib_ns = namespaces
    reset(nl_ns, lib_ns)
    t = ("ip", "x")
    s = Set(name="s", type="inet_service", elements=[1, 2, 3])
    table = Table(family="ip", name="x", sets=[s], chains=[Chain(name="a"), Chain(name="b")])
    steps = [
        Transaction().add(table),
        Transaction().destroy_elements(s, [2, 7], table=t).destroy("chain", table=t,
                                                                   name="a"),
        Transaction().destroy("chain", table=t, name="nope").destroy("set", table=t,
                                                                     name="nope"),
        Transaction().destroy(Table(family="ip", name="x")).add(table),
        Transaction().destroy(Table(family="ip", name="absent")),
    ]
    paths = []
    with nftkit.Nftables(nl_ns, netlink=True) as nl, nftkit.Nftables(lib_ns, netlink=False) as lib:
        for n, txn in enumerate(steps):
            nl.run(txn, handles=False)
            paths.append(nl.last_path)
            lib.run(txn, handles=False)
            assert text_listing(nl_ns) == text_listing(lib_ns), n
    # netlink only where libnftables destroys natively too (nft >= 1.0.7)
    assert set(paths) <= {"netlink", "libnftables"}


def test_native_destroy_messages(namespaces: tuple[str, str]) -> None:
    """The DESTROY* messages themselves (what the netlink path sends where libnftables is
    native): missing objects in an existing table are no error, present ones go."""
    from nftkit.backend.netlink._txn import NetlinkPath

    nl_ns, _ = namespaces
    reset(nl_ns)
    nft(nl_ns, "-f", "-", stdin="table ip x {\n set s { type inet_service; elements = { 1, 2 } }"
        "\n chain a { }\n}\n")
    t = ("ip", "x")
    s = Set(name="s", type="inet_service")
    txn = (Transaction().destroy_elements(s, [2, 7], table=t).destroy("chain", table=t, name="a")
           .destroy("chain", table=t, name="zz").destroy("set", table=t, name="nope"))
    with open(f"/run/netns/{nl_ns}") as f:
        path = NetlinkPath(f.fileno())
        try:
            messages, _owners = path.encode(txn.ops, txn.batch())
            failed = path.send(messages, commit=True)
        finally:
            path.close()
    if failed is not None and failed[1] in (22, 95):  # EINVAL/EOPNOTSUPP: kernel < 6.3
        pytest.skip("this kernel has no DESTROY messages")
    assert failed is None
    assert text_listing(nl_ns) == text_listing_of(
        "table ip x {\n set s { type inet_service; elements = { 1 } }\n}\n")


def text_listing_of(text: str) -> str:
    """How nft lists ``text`` (loaded in a throwaway namespace of its own)."""
    name = f"nkt-nlo-c{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        nft(name, "-f", "-", stdin=text)
        return text_listing(name)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
