"""Anonymous sets and maps on the netlink path, against the installed nft, byte for byte.

The sibling of ``tests/backend/test_nl_rules.py`` (whose helpers it uses) for rules with
inline sets:
``tcp dport { 80, 443 }``, ``numgen random mod 2 vmap { 0 : goto a, 1 : goto b }``. nft sends
each as a NEWSET of an anonymous set, a NEWSETELEM, then the rule's lookup by set id; the test
loads every case with ``nft --debug=mnl`` and compares all three messages with what
``rule_expressions(..., anon=AnonSets(id))`` and ``anonymous_set_messages`` build. Then the
kernel side: the same rules through ``Nftables.run`` on the netlink path list exactly as
nft's, a batch of thousands of anonymous sets is accepted, and the classic kube-proxy layout
loaded over netlink lists exactly as the one ``nft -f`` loads.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import pytest

from nftkit import Family, Nftables, Transaction, parse, parse_rule
from nftkit.backend.netlink._anon import AnonSets
from nftkit.backend.netlink._objects import anonymous_set_messages
from nftkit.backend.netlink._rules import rule_expressions, rule_userdata
from nftkit.errors import UnsupportedError
from nftkit.nft.releases import profile
from nftkit.render.context import installed_nft_version
from tests.backend.test_nl_rules import NEWRULE, NEWSET, Netns, mnl_messages, pretty, tlvs

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.usefixtures("oracle"),
    pytest.mark.skipif(not profile(installed_nft_version() or (1, 0, 6)).netlink_anonymous_sets,
                       reason="anonymous sets are verified against nft 1.0.x only"),
]

NEWSETELEM = 0x0A0C

SKELETON = """
table ip t { chain a { }; chain b { }; chain c { }; chain d { }; }
table inet t { chain a { }; chain b { }; chain c { }; chain d { }; }
table ip6 t { chain a { }; chain b { }; chain c { }; chain d { }; }
"""

#: (family, rule text): rules with anonymous sets the encoder carries
CASES: list[tuple[str, str]] = [
    # the classic kube-proxy layout (bench/_layouts.py)
    ("ip", "numgen random mod 2 vmap { 0 : goto a, 1 : goto b }"),
    ("ip", "numgen random mod 1 vmap { 0 : goto a }"),
    ("ip", "numgen random mod 3 vmap { 0 : goto a, 1 : goto b, 2 : goto a }"),
    ("ip", "meta l4proto . th dport vmap { tcp . 80 : jump a, udp . 53 : jump b }"),
    ("ip", "ip daddr . meta l4proto . th dport vmap { 10.0.0.1 . tcp . 80 : goto a, "
           "10.0.0.2 . udp . 53 : goto b }"),
    # sets in matches
    ("ip", "ip daddr { 10.0.0.1, 10.0.0.2 } accept"),
    ("ip", "tcp dport { 80, 443 } accept"),
    ("ip", "tcp dport { 443, 80, 8080 } counter accept"),
    ("ip", "tcp dport != { 22, 23 } drop"),
    ("ip", "meta l4proto { tcp, udp } accept"),
    ("ip", "meta mark { 1, 2 } counter"),
    ("ip", "iifname { \"eth0\", \"lo\" } accept"),
    ("ip", "ip saddr . tcp dport { 1.1.1.1 . 22, 2.2.2.2 . 80 }"),
    ("ip", "meta l4proto . th dport { tcp . 22, udp . 53 } accept"),
    ("ip", "ip saddr { 10.0.0.1, 10.0.0.2 } tcp dport { 80, 443 } accept"),
    ("ip", "ip saddr { 10.0.0.1, 10.0.0.2 } tcp dport vmap { 80 : accept, 81 : drop }"),
    # verdict maps
    ("ip", "tcp dport vmap { 22 : accept, 23 : drop, 24 : continue, 25 : return }"),
    ("ip", "meta mark vmap { 1 : accept, 2 : drop }"),
    ("ip", "ip daddr vmap { 10.0.0.1 : goto a, 10.0.0.2 : jump b }"),
    ("ip", "meta l4proto vmap { tcp : jump a, udp : jump b }"),
    # one element: nft compares with it
    ("ip", "tcp dport { 22 } accept"),
    ("ip", "tcp dport != { 22 } accept"),
    ("ip", "ip daddr { 10.0.0.1 } accept"),
    ("ip", "ip saddr { 10.0.0.0/8 } accept"),
    ("ip", "ip saddr != { 10.0.0.0/9 } accept"),
    ("ip", "tcp dport { 22-25 } accept"),
    ("inet", "tcp dport { 80, 443 } accept"),
    ("inet", "ip saddr { 10.0.0.1, 10.0.0.2 } accept"),
    ("inet", "ip6 saddr { ::1, ::2 } accept"),
    ("inet", "meta l4proto . th dport vmap { tcp . 80 : goto a, udp . 53 : goto b }"),
    ("inet", "numgen random mod 2 vmap { 0 : goto a, 1 : goto b }"),
    ("ip6", "ip6 daddr { ::1, ::2 } accept"),
    ("ip6", "ip6 daddr . udp dport { ::1 . 53, ::2 . 53 }"),
    ("ip6", "udp dport vmap { 53 : accept, 54 : drop }"),
    # intervals: sorted, merged (sets), interval ends, an open end at the largest value
    ("ip", "tcp dport { 22-25, 80 } accept"),
    ("ip", "tcp dport { 80, 22-25 } accept"),
    ("ip", "tcp dport { 1-5, 6-10, 8 } accept"),
    ("ip", "tcp dport { 1-5, 3-8 } accept"),
    ("ip", "tcp dport { 80, 80, 1-2 } accept"),
    ("ip", "tcp dport { 0-5, 65535 } accept"),
    ("ip", "tcp dport != { 0-1023, 8080 } drop"),
    ("ip", "ip saddr { 10.0.0.0/8, 192.168.0.1 } accept"),
    ("ip", "ip saddr { 0.0.0.0/1, 192.168.0.0/16 } accept"),
    ("ip", "ip daddr { 10.0.0.0/8, 10.1.0.0/16, 172.16.0.0/12 } accept"),
    ("ip", "ip daddr { 10.0.0.1-10.0.0.9, 10.0.0.10 } accept"),
    ("ip", "ip saddr { { 1.1.1.0/24, 3.3.3.0/24 }, 2.2.2.0/24 } accept"),
    ("ip", "ip protocol { 6-17, 1 } accept"),
    ("ip", "meta l4proto { 6-17, 1 } accept"),
    ("inet", "meta l4proto vmap { 6-17 : accept, 1 : drop }"),
    ("ip", "tcp dport vmap { 1-1024 : accept, 2000 : drop }"),
    ("ip", "tcp dport vmap { 1-5 : accept, 6-10 : drop }"),
    ("ip", "tcp dport vmap { 1-5 : accept, 7 : drop, 65535 : accept }"),
    ("ip", "ip saddr vmap { 10.0.0.0/8 : goto a, 192.168.0.0/16 : jump b }"),
    ("inet", "ip6 saddr { 2001:db8::/32, ::1 } accept"),
    ("ip6", "ip6 daddr { fe80::/10, 2001:db8::1-2001:db8::ff } accept"),
    ("ip6", "ip6 daddr { ::/0 } accept"),
    # data maps
    ("ip", "dnat to ip daddr map { 1.1.1.1 : 2.2.2.2, 1.1.1.2 : 2.2.2.3 }"),
    ("ip", "snat to ip saddr map { 10.0.0.0/8 : 1.1.1.1, 192.168.0.0/16 : 2.2.2.2 }"),
    ("ip", "meta mark set tcp dport map { 22 : 1, 23 : 2 }"),
    ("ip", "ct mark set ip saddr map { 10.0.0.1 : 0x10, 10.0.0.2 : 0x20 }"),
    ("ip", "meta mark set meta l4proto . th dport map { tcp . 22 : 1, udp . 53 : 2 }"),
    ("ip6", "dnat to ip6 daddr map { ::1 : ::2 }"),
    # many elements: the packer's compiled path, and two NEWSETELEM messages split as nft does
    ("ip", "tcp dport { " + ", ".join(str(p) for p in range(1000, 1100)) + " }"),
    ("ip", "numgen random mod 300 vmap { "
           + ", ".join(f"{j} : goto {'ab'[j % 2]}" for j in range(300)) + " }"),
    ("ip", "numgen random mod 3000 vmap { "
           + ", ".join(f"{j} : goto {'ab'[j % 2]}" for j in range(3000)) + " }"),
    ("ip", "ip daddr . tcp dport { " + ", ".join(
        f"10.0.{j // 256}.{j % 256} . {j}" for j in range(5000)) + " }"),
]



def _random_interval_cases(seed: int, count: int) -> list[tuple[str, str]]:
    """Reproducible port and address sets mixing values, ranges and prefixes (overlapping,
    adjacent, at 0 and at the largest value), and verdict maps of disjoint ranges."""
    import random

    rnd = random.Random(seed)
    out: list[tuple[str, str]] = []
    for i in range(count):
        if i % 3 == 0:
            parts = []
            for _ in range(rnd.randint(2, 6)):
                lo = rnd.choice([0, 65535, rnd.randint(0, 70), rnd.randint(0, 65535)])
                hi = min(65535, lo + rnd.choice([0, 0, 1, 5, 40, 70000]))
                parts.append(str(lo) if lo == hi else f"{lo}-{hi}")
            out.append(("ip", f"tcp dport {{ {', '.join(parts)} }} accept"))
        elif i % 3 == 1:
            parts = []
            for _ in range(rnd.randint(2, 5)):
                plen = rnd.choice([1, 8, 12, 16, 24, 31, 32])
                addr = rnd.getrandbits(32) & (((1 << plen) - 1) << (32 - plen))
                text = ".".join(str(addr >> s & 255) for s in (24, 16, 8, 0))
                parts.append(text if plen == 32 else f"{text}/{plen}")
            out.append(("ip", f"ip saddr {{ {', '.join(parts)} }} drop"))
        else:
            bounds = sorted(rnd.sample(range(65536), rnd.randint(2, 8)))
            pairs = [f"{bounds[j]}-{bounds[j + 1] - 1} : {rnd.choice(['accept', 'drop'])}"
                     for j in range(0, len(bounds) - 1, 2) if bounds[j] < bounds[j + 1] - 1]
            pairs.append(f"{bounds[-1]} : goto a")
            out.append(("ip", f"udp dport vmap {{ {', '.join(pairs)} }}"))
    return out


CASES += _random_interval_cases(14, 45)

#: Valid rules with inline sets the encoder refuses (libnftables carries them)
REFUSED: list[tuple[str, str]] = [
    ("ip", "ip saddr . tcp dport { 10.0.0.0/8 . 22, 1.1.1.1 . 80 }"),  # concatenated intervals
    ("ip", "meta l4proto . th dport vmap { tcp . 1-1024 : accept, udp . 53 : drop }"),
    ("ip", "meta mark { 1-5, 8 }"),  # host-order keys longer than a byte
    ("ip", "tcp dport vmap { 1-5 : accept, 3-10 : drop }"),  # nft: conflicting intervals
    ("ip", "dnat ip to ip daddr map { 1.1.1.1 : 2.2.2.2 . 80 }"),  # address and port
    ("ip", "ct state vmap { established : accept, new : drop }"),  # symbolic datatypes
    ("ip", "ct state { established, related } accept"),
    ("ip", "ip ttl { 1, 2 }"),  # an 8-bit integer
    ("ip", "tcp sequence { 1, 2 }"),  # a big-endian integer
    ("ip", "ip daddr { 10.0.0.1 } ip protocol tcp"),  # nft merges the two payload matches
]


def _rule_groups(out: str) -> list[tuple[list[tuple[int, bytes]], bytes]]:
    """Per NEWRULE of nft's batch: the anonymous NEWSET/NEWSETELEM messages sent since the
    previous rule, and the rule's attributes."""
    groups: list[tuple[list[tuple[int, bytes]], bytes]] = []
    pending: list[tuple[int, bytes]] = []
    for kind, body in mnl_messages(out):
        if kind in (NEWSET, NEWSETELEM) and dict(tlvs(body))[2].startswith(b"__"):
            pending.append((kind, body))
        elif kind == NEWRULE:
            groups.append((pending, body))
            pending = []
    return groups


@pytest.fixture(scope="module")
def nft_sent() -> Iterator[list[tuple[list[tuple[int, bytes]], bytes]]]:
    ns = Netns()
    try:
        script = SKELETON + "".join(f"add rule {fam} t c {text}\n" for fam, text in CASES)
        r = ns.nft("--debug=mnl", "-f", "-", stdin=script)
        assert r.returncode == 0, r.stderr[-4000:]
        groups = _rule_groups(r.stdout + r.stderr)
        assert len(groups) == len(CASES)
        yield groups
    finally:
        ns.close()


def _ours(family: str, text: str, first_id: int) -> tuple[list[tuple[int, bytes]], bytes,
                                                          bytes | None]:
    rule = parse_rule(text, family=family)
    anon = AnonSets(first_id)
    exprs = rule_expressions(rule, family=family, anon=anon)
    msgs = [(0x0A00 | kind, body)
            for kind, _flags, _fam, body in anonymous_set_messages(Family(family), "t", anon)]
    return msgs, exprs, rule_userdata(rule)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{f}:{t[:80]}" for f, t in CASES])
def test_anonymous_sets_as_nft_sends_them(nft_sent: Any, index: int) -> None:
    family, text = CASES[index]
    want_msgs, want_rule = nft_sent[index]
    first = next((struct.unpack(">I", dict(tlvs(b))[10])[0] for k, b in want_msgs
                  if k == NEWSET), 1)
    msgs, exprs, udata = _ours(family, text, first)
    rule = dict(tlvs(want_rule))
    assert pretty(exprs) == pretty(rule[4])
    assert exprs == rule[4]
    assert udata == rule.get(7)
    assert [k for k, _ in msgs] == [k for k, _ in want_msgs]
    for (kind, ours), (_, theirs) in zip(msgs, want_msgs, strict=True):
        assert list(tlvs(ours)) == list(tlvs(theirs)), hex(kind)
        assert ours == _zero_padding(theirs)


def _zero_padding(body: bytes) -> bytes:
    """``body`` with the padding after each top-level attribute zeroed: nft leaves it as its
    reused buffer had it in the second of two element messages (the kernel ignores it)."""
    out = bytearray(body)
    off = 0
    while off + 4 <= len(out):
        length = struct.unpack_from("=H", out, off)[0]
        end = (length + 3) & ~3
        out[off + length:off + end] = bytes(end - length)
        off += end
    return bytes(out)


@pytest.mark.parametrize("family,text", REFUSED, ids=[f"{f}:{t}" for f, t in REFUSED])
def test_refused_inline_sets(family: str, text: str) -> None:
    rule = parse_rule(text, family=family)
    with pytest.raises(UnsupportedError):
        rule_expressions(rule, family=family, anon=AnonSets())


def test_refused_without_a_collector_or_for_nft_1_1() -> None:
    rule = parse_rule("tcp dport { 80, 443 } accept", family="ip")
    with pytest.raises(UnsupportedError):
        rule_expressions(rule, family="ip")
    with pytest.raises(UnsupportedError):
        rule_expressions(rule, family="ip", anon=AnonSets(), version="1.1.3")
    assert rule_expressions(rule, family="ip", anon=AnonSets(), version="1.0.6")


def test_ids_continue_over_the_rules_of_a_batch() -> None:
    anon = AnonSets(7)
    for text in ("tcp dport { 80, 443 }", "ip daddr { 1.1.1.1, 1.1.1.2 } tcp dport { 1, 2 }"):
        rule_expressions(parse_rule(text, family="ip"), family="ip", anon=anon)
    assert [s.id for s in anon.sets] == [7, 8, 9]
    assert anon.next_id == 10


# --- the kernel: the netlink path holds what nft -f holds ----------------------------------


def _listing(ns: Netns, family: str, chain: str) -> list[str]:
    r = ns.nft("list", "chain", family, "t", chain)
    assert r.returncode == 0, r.stderr
    return [line.strip() for line in r.stdout.splitlines()[2:-2]]


def test_kernel_lists_the_same_rules() -> None:
    """The cases sent by ``Nftables.run`` (netlink path) into chain d list exactly as nft's
    own in chain c."""
    ns = Netns()
    try:
        script = SKELETON + "".join(f"add rule {fam} t c {text}\n" for fam, text in CASES)
        r = ns.nft("-f", "-", stdin=script)
        assert r.returncode == 0, r.stderr
        txn = Transaction()
        for fam, text in CASES:
            txn.add(parse_rule(text, family=fam), table=(fam, "t"), chain="d")
        with Nftables(netns=f"/run/netns/{ns.name}") as nft:
            result = nft.run(txn)
        assert result.path == "netlink"
        assert all(h is not None for h in result.handles)
        for fam in ("ip", "inet", "ip6"):
            assert _listing(ns, fam, "c") == _listing(ns, fam, "d")
    finally:
        ns.close()


def test_thousands_of_anonymous_sets_in_one_batch() -> None:
    """Set ids are unique per batch: 3000 rules with an inline vmap each, one batch."""
    ns = Netns()
    try:
        n = 3000
        table = parse("table ip t { chain a { }; chain b { }; chain c { }; }").tables[0]
        txn = Transaction().add(table)
        for i in range(n):
            txn.add(parse_rule(f"ip daddr 10.0.{i // 256}.{i % 256} numgen random mod 2 "
                               "vmap { 0 : goto a, 1 : goto b }", family="ip"),
                    table=("ip", "t"), chain="c")
        with Nftables(netns=f"/run/netns/{ns.name}") as nft:
            result = nft.run(txn)
        assert result.path == "netlink"
        assert len(set(result.handles[-n:])) == n
        rules = _listing(ns, "ip", "c")
        assert len(rules) == n
        assert rules[-1] == ("ip daddr 10.0.11.183 numgen random mod 2 "
                             "vmap { 0 : goto a, 1 : goto b }")
    finally:
        ns.close()


@pytest.mark.parametrize("endpoints", [(1, 2, 3), (0, 1, 5)], ids=["1-3", "0-5"])
def test_classic_layout_as_nft_loads_it(endpoints: tuple[int, ...]) -> None:
    """The classic kube-proxy layout (bench/_layouts.py), loaded in one namespace by
    ``Nftables.run`` over netlink and in another by ``nft -f`` of its text, lists the same;
    then a one-service add over netlink lists as nft's add."""
    from bench import _layouts as layouts

    services = layouts.make_services(12, endpoints=endpoints)
    extra = layouts.make_services(1, endpoints=(2,), start=12)[0]
    ours, theirs = Netns(), Netns()
    try:
        r = theirs.nft("-f", "-", stdin=layouts.classic_text(services))
        assert r.returncode == 0, r.stderr
        table = layouts.classic_model(services).tables[0]
        with Nftables(netns=f"/run/netns/{ours.name}") as nft:
            assert nft.run(Transaction().add(table)).path == "netlink"
            assert theirs.nft("-f", "-", stdin=layouts.classic_add_service_text(
                extra)).returncode == 0
            m = layouts._m()
            txn = Transaction()
            for chain in reversed(layouts.classic_service_model(m, extra)):
                txn.add(chain, table=layouts.TABLE)
            txn.add_elements("service-ips", [layouts.classic_vmap_element(extra)],
                             table=layouts.TABLE)
            assert nft.run(txn).path == "netlink"
        listed = [ns.nft("list", "ruleset").stdout for ns in (ours, theirs)]
        assert listed[0] == listed[1]
        assert "vmap { 0 : goto" in listed[0]
    finally:
        ours.close()
        theirs.close()


def test_dry_run_and_a_refused_rule_name_the_rule() -> None:
    """``check`` validates a batch with anonymous sets and changes nothing; a vmap that goes
    to a missing chain is refused by the kernel, reported against the rule's op."""
    from nftkit.errors import NotFoundError

    ns = Netns()
    try:
        assert ns.nft("-f", "-", stdin=SKELETON).returncode == 0
        good = parse_rule("numgen random mod 2 vmap { 0 : goto a, 1 : goto b }", family="ip")
        bad = parse_rule("numgen random mod 2 vmap { 0 : goto a, 1 : goto nowhere }",
                         family="ip")
        with Nftables(netns=f"/run/netns/{ns.name}") as nft:
            nft.check(Transaction().add(good, table=("ip", "t"), chain="c"))
            assert nft.last_path == "netlink"
            assert _listing(ns, "ip", "c") == []
            txn = (Transaction().add(good, table=("ip", "t"), chain="c")
                   .add(bad, table=("ip", "t"), chain="d"))
            with pytest.raises(NotFoundError) as info:
                nft.run(txn)
            assert nft.last_path == "netlink"
            assert info.value.index == 1
        assert _listing(ns, "ip", "c") == []
    finally:
        ns.close()


NAMED_SETS = """
table ip t {
  map vm { type inet_service : verdict; }
  set s { type ipv4_addr; size 100; policy memory; }
  set c { type ipv4_addr . inet_proto . inet_service; }
  set dyn { type ipv4_addr; flags dynamic,timeout; timeout 3h; gc-interval 1m; }
  map m { typeof ip daddr . tcp dport : ip daddr . tcp dport; }
  set k { type ipv4_addr; flags constant; elements = { 10.0.0.1, 10.0.0.2 } }
  set cm { type mark; comment "x"; }
}
"""


def test_named_set_messages_as_nft_sends_them() -> None:
    """The NEWSET of named sets and maps, byte for byte (attribute order, verdict data
    length 0)."""
    from nftkit.backend.netlink._objects import set_info, set_message

    ns = Netns()
    try:
        r = ns.nft("--debug=mnl", "-f", "-", stdin=NAMED_SETS)
        assert r.returncode == 0, r.stderr
        sent = {dict(tlvs(b))[2].rstrip(b"\0").decode(): b
                for k, b in mnl_messages(r.stdout + r.stderr) if k == NEWSET}
    finally:
        ns.close()
    table = parse(NAMED_SETS).tables[0]
    assert sorted(sent) == sorted(s.name for s in table.sets)
    for s in table.sets:
        want = sent[s.name]
        ours = set_message("add", Family.IP, "t",
                           set_info(s, struct.unpack(">I", dict(tlvs(want))[10])[0]))[3]
        assert list(tlvs(ours)) == list(tlvs(want)), s.name
        assert ours == want


def test_quick_no_set_check_agrees_with_set_refs() -> None:
    """The netlink path skips the walk of rules that surely name no set; whenever it says
    so, ``set_refs`` finds none (hand-picked, encoder cases, and generated rules)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from nftkit.backend.netlink._rules import names_no_set
    from nftkit.check import set_refs
    from nftkit.testing import rules
    from tests.backend.test_nl_rules import CASES as RULE_CASES

    texts = [*CASES, *RULE_CASES, ("ip", "tcp dport vmap @vm"),
             ("ip", "dnat to ip daddr map @m"), ("ip", "meta mark set tcp dport map @m"),
             ("ip", "ip saddr { 1.1.1.1, 2.2.2.2 } ip daddr @s")]
    quick = 0
    for family, text in texts:
        rule = parse_rule(text, family=family)
        if names_no_set(rule):
            quick += 1
            assert not list(set_refs(rule)), text
    assert quick >= len(CASES)

    @settings(max_examples=300, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(["ip", "ip6", "inet"]).flatmap(lambda fam: rules(fam)))
    def check(rule: Any) -> None:
        if names_no_set(rule):
            assert not list(set_refs(rule))

    check()


def test_classic_add_handles_come_from_the_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    """A classic one-service add with handles (the default) takes the netlink path and
    dumps nothing: every handle comes from the kernel's echo. (It makes two small requests
    whose cost does not grow with the table: NFT_MSG_GETGEN, the generation that validates
    what the handle knows, and one GETSET of the map it updates, whose type changed hands
    since the handle's last commit as far as it can tell.)"""
    from bench import _layouts as layouts
    from nftkit.backend.netlink._socket import NFT_MSG_GETGEN, NetlinkSocket

    getset = 10  # NFT_MSG_GETSET

    services = layouts.make_services(20, endpoints=(2,))
    svc = layouts.make_services(1, endpoints=(3,), start=20)[0]
    m = layouts._m()
    add = Transaction()
    for chain in reversed(layouts.classic_service_model(m, svc)):
        add.add(chain, table=layouts.TABLE)
    add.add_elements("service-ips", [layouts.classic_vmap_element(svc)], table=layouts.TABLE)
    ns = Netns()
    try:
        with Nftables(netns=f"/run/netns/{ns.name}") as nft:
            nft.run(Transaction().add(layouts.classic_model(services).tables[0]))
            reads: list[int] = []
            gets: list[int] = []
            request = NetlinkSocket.request

            def no_gets(self: NetlinkSocket, kind: int, *a: Any) -> Any:
                if kind == NFT_MSG_GETGEN or (kind == getset and getset not in gets):
                    gets.append(kind)
                    return request(self, kind, *a)
                reads.append(kind)
                return None

            monkeypatch.setattr(NetlinkSocket, "request", no_gets)
            monkeypatch.setattr(NetlinkSocket, "dump",
                                lambda self, kind, *a, **k: reads.append(kind))
            result = nft.run(add)
        assert result.path == "netlink"
        assert reads == []
        # a handle for each chain and rule, none for the element
        assert [h is None for h in result.handles] == [
            op.kind.value == "element" for op in add.ops]
        at = next(i for i, op in enumerate(add.ops)
                  if op.kind.value == "chain" and op.name == svc.chain)
        listed = ns.nft("-a", "list", "chain", "ip", "kube-proxy", svc.chain).stdout
        assert f"# handle {result.handles[at]}" in listed
    finally:
        ns.close()
