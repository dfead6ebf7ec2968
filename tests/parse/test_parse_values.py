"""Values are checked against the datatype of what they are compared with, as nft does.

The installed nft is the oracle: every case below is run through ``nft -c`` in a throwaway
network namespace, and nftkit must accept exactly the cases nft accepts (``KNOWN`` lists the
few deliberate differences, with reasons; a known difference that disappears fails too, so the
list stays exact). The symbol tables are checked against ``nft describe``, and the numeric
listings (``nft -n``, ``-p``, ``-y``, ``-u``, ``-S``, ``-T``) of the upstream dumps must give
the same model as ``nft list ruleset`` (tests/parse/test_parse_numeric.py).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest

import nftkit
from nftkit.model.datatypes import datatype
from nftkit.parse import _values
from tests._oracle import NFT

# (family, rule): values valid and invalid for the left-hand side's datatype
RULES: list[tuple[str, str]] = [
    ("inet", r) for r in """\
tcp dport { 22, accept }
tcp dport foo
tcp dport ssh
tcp dport "ssh"
tcp dport http-alt
tcp dport { ssh, http }
tcp dport ssh-https
tcp dport 22-ssh
tcp dport 22-foo
tcp dport 70000
tcp dport 0x16
tcp dport != foo
th dport foo
sctp dport foo
udp sport 53
ip saddr tcp
ip saddr foo
ip saddr localhost
ip saddr 10.0.0.1
ip saddr 10.0.0.0/8
ip saddr 10.0.0.1-10.0.0.5
ip saddr ::1
ip6 saddr 10.0.0.1
ip6 saddr ::1
ip6 saddr { ::1, fe80::/64 }
ct state establishd
ct state established
ct state 0x2
ct state 0x100
ct state 8
ct state established,foo
ct state established,related
ct state { established, related }
ct state != established
ct status dnat
ct status foo
ct direction original
ct direction foo
ct l3proto ipv4
ct l3proto foo
ct protocol tcp
ct protocol foo
ct mark 0x10
ct mark foo
ct zone foo
ct expiration 30s
ct expiration foo
meta l4proto bogus
meta l4proto tcp
meta l4proto ipv6-icmp
meta l4proto icmpv6
meta l4proto 300
meta l4proto 58
meta l4proto { tcp, udp, 132 }
ip protocol icmp
ip protocol foo
meta mark foo
meta mark 0x10
meta mark 16
meta mark set foo
meta mark set 0x10
ct mark set 5
meta mark and 0xff == 0x10
ether saddr 00:11:22:33:44:55
ether saddr foo
iifname eth0
iifname "eth0"
iifname foo*
meta skuid root
meta skuid nosuchuser
meta skuid 1000
meta skgid root
meta skgid nosuchgroup
meta iifgroup default
meta iifgroup foo
icmp type echo-request
icmp type foo
icmp code port-unreachable
icmp code foo
icmpv6 type nd-neighbor-solicit
icmpv6 type mld-listener-reduction
icmpv6 type foo
ether type ip
ether type vlan
ether type foo
meta pkttype host
meta pkttype unicast
meta pkttype foo
ip dscp cs1
ip dscp df
ip dscp foo
ip ecn ce
ip ecn foo
tcp flags syn
tcp flags syn,foo
tcp flags foo
tcp flags syn / syn,rst
tcp flags syn / syn,foo
tcp flags & (syn | ack) == syn | ack
tcp flags & (syn | foo) == syn
meta nfproto ipv4
meta nfproto foo
meta day Monday
meta day foo
fib daddr type local
fib daddr type foo
meta oiftype ether
meta oiftype foo
meta priority none
meta priority 1:2
meta rtclassid foo
meta cpu foo
ct helper "ftp"
dccp type request
dccp type foo
igmp type membership-query
igmp type foo
tcp dport vmap { 22 : accept, foo : drop }
tcp dport vmap { 22 : accept, 80 : drop }
ip saddr . tcp dport { 10.0.0.1 . 22 }
ip saddr . tcp dport { 10.0.0.1 . foo }
ip saddr . tcp dport { tcp . 22 }
meta l4proto . th dport { tcp . ssh, udp . 53 }
meta l4proto . th dport { tcp . ssh, bogus . 53 }
ct state vmap { established : accept, new : drop }
ct state vmap { established : accept, bogus : drop }
ct original proto-dst ssh
""".splitlines()
] + [
    ("arp", "arp operation request"),
    ("arp", "arp operation foo"),
    ("ip", "ct original saddr 10.0.0.1"),
    ("ip6", "rt nexthop fd00::1"),
    ("ip6", "rt nexthop foo"),
]

# whole rulesets: set and map elements against their declared types
RULESETS: list[str] = [
    f"table inet t {{ {body}; }}" for body in (
        "set s { type inet_service; elements = { 22, ssh }; }",
        "set s { type inet_service; elements = { 22, foo }; }",
        "set s { type ipv4_addr; elements = { 10.0.0.1, tcp }; }",
        "set s { type inet_proto; elements = { tcp, 58 }; }",
        "set s { type inet_proto; elements = { tcp, bogus }; }",
        "map m { type ct_state : verdict; elements = { established : accept }; }",
        "map m { type ct_state : verdict; elements = { establishd : accept }; }",
        "map m { type ipv4_addr : mark; elements = { 10.0.0.1 : 0x10 }; }",
        "map m { type ipv4_addr : mark; elements = { 10.0.0.1 : foo }; }",
        "set s { typeof tcp dport; elements = { ssh, 80 }; }",
        "set s { typeof tcp dport; elements = { sshd }; }",
        "set s { type ipv4_addr . inet_service; elements = { 10.0.0.1 . ssh }; }",
        "set s { type ipv4_addr . inet_service; elements = { 10.0.0.1 . foo }; }",
    )
]

#: nft and nftkit disagree here on purpose.
KNOWN: dict[str, str] = {
    "ip saddr localhost": "nft resolves host names (/etc/hosts, DNS); nftkit reads addresses "
                          "only (a parser that answers differently by network is no model)",
    "rt nexthop foo": "the address family of rt nexthop is the table's; nftkit leaves it "
                      "unchecked",
    RULESETS[2]: "nft's parser turns the keyword tcp into the number 6, and a set block "
                 "takes that as the address 0.0.0.6; nftkit refuses a protocol as an address",
    "ct original proto-dst ssh": "nft types ct proto-src/dst by a preceding layer 4 match "
                                 "and refuses symbols without one; nftkit reads them as ports",
}


def _nft_accepts(texts: list[str]) -> list[bool]:
    """``nft -c -f`` of each text, all in one throwaway namespace."""
    with tempfile.TemporaryDirectory() as d:
        for i, text in enumerate(texts):
            Path(d, f"{i}.nft").write_text(text + "\n")
        script = (f'for i in $(seq 0 {len(texts) - 1}); do '
                  f'if {NFT} -c -f "{d}/$i.nft" >/dev/null 2>&1; then echo 1; else echo 0; fi; '
                  "done")
        r = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True,
                           text=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                           "LC_ALL": "C"})
    out = r.stdout.split()
    assert len(out) == len(texts), r.stderr
    return [x == "1" for x in out]


def _rule_text(family: str, rule: str) -> str:
    return f"table {family} t {{\n chain c {{\n  {rule}\n }}\n}}"


@pytest.fixture(scope="module")
def verdicts(oracle: None) -> dict[str, bool]:
    texts = [_rule_text(f, r) for f, r in RULES] + RULESETS
    keys = [r for _, r in RULES] + RULESETS
    return dict(zip(keys, _nft_accepts(texts), strict=True))


def _nftkit_accepts(key: str, family: str | None) -> bool:
    try:
        if family is None:
            nftkit.parse(key)
        else:
            nftkit.parse_rule(key, family=family)
    except nftkit.ParseError:
        return False
    return True


@pytest.mark.parametrize(("family", "rule"), RULES, ids=[r for _, r in RULES])
def test_rule_accepted_as_nft_does(family: str, rule: str, verdicts: dict[str, bool]) -> None:
    ours = _nftkit_accepts(rule, family)
    if rule in KNOWN:
        assert ours != verdicts[rule], f"no longer differs from nft: {KNOWN[rule]}"
    else:
        assert ours == verdicts[rule], f"nft -c {'accepts' if verdicts[rule] else 'rejects'}"


@pytest.mark.parametrize("text", RULESETS)
def test_set_elements_accepted_as_nft_does(text: str, verdicts: dict[str, bool]) -> None:
    ours = _nftkit_accepts(text, None)
    if text in KNOWN:
        assert ours != verdicts[text], f"no longer differs from nft: {KNOWN[text]}"
    else:
        assert ours == verdicts[text], f"nft -c {'accepts' if verdicts[text] else 'rejects'}"


def test_cases_cover_both_outcomes(verdicts: dict[str, bool]) -> None:
    """The list is a real check: a good share of it is valid and a good share invalid."""
    accepted = sum(verdicts.values())
    assert 40 <= accepted <= len(verdicts) - 40


@pytest.mark.parametrize(("rule", "column", "expected"), [
    ("tcp dport foo", 11, "inet_service: a port number or service name"),
    ("tcp dport { 22, accept }", 17, "inet_service"),
    ("ip saddr tcp", 10, "ipv4_addr"),
    ("ct state established,establishd", 22, "ct_state"),
    ("meta l4proto bogus", 14, "inet_proto: a protocol number or name"),
    ("meta mark set foo", 15, "mark"),
    ("tcp dport 70000", 11, "inet_service"),
    ("ip saddr . tcp dport { 10.0.0.1 . foo }", 35, "inet_service"),
    ("ct state vmap { established : accept, bogus : drop }", 39, "ct_state"),
])
def test_invalid_value_error(rule: str, column: int, expected: str) -> None:
    """Line, column, a caret under the value, and what the datatype takes."""
    with pytest.raises(nftkit.ParseError) as info:
        nftkit.parse_rule(rule)
    err = info.value
    assert (err.line, err.column) == (1, column)
    assert any(expected in e for e in err.expected)
    assert err.source_line == rule
    assert str(err).endswith(" " * (column + 1) + "^")


def test_invalid_value_in_script_is_located() -> None:
    text = "table inet t {\n\tchain c {\n\t\ttcp dport ssh accept\n\t\tct state nw drop\n\t}\n}\n"
    with pytest.raises(nftkit.ParseError) as info:
        nftkit.parse(text, filename="fw.nft")
    assert (info.value.filename, info.value.line, info.value.column) == ("fw.nft", 4, 12)


#: inputs whose stored value differs from the input's spelling (a name for a number, an alias,
#: a number for a symbol): nft lists each with its own spelling of the stored value
NORMALIZED = [
    "tcp dport ssh",
    "tcp dport { ssh, http }",
    "meta l4proto icmpv6",
    "meta skuid root",
    "ether type vlan",
    "meta pkttype unicast",
    "ip dscp df",
    "meta l4proto 6",
    "ct state 0x2,0x4",
    "tcp flags 0x2 / 0x2,0x4",
    "fib daddr type 2",
    "meta iifgroup 0",
    "reject with icmpv6 4",
]


def test_values_normalized_as_nft_lists_them(oracle: None) -> None:
    """What nft stores for a name or number is what the model holds: each input parses to the
    model of the line the installed nft lists for it."""
    text = "table inet t {\n" + "".join(
        f" chain c{i} {{\n  {rule}\n }}\n" for i, rule in enumerate(NORMALIZED)) + "}\n"
    r = subprocess.run(["unshare", "-n", "sh", "-c", f"{NFT} -f - && {NFT} list ruleset"],
                       input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    listed = [line.strip() for line in r.stdout.splitlines() if line.startswith("\t\t")]
    assert len(listed) == len(NORMALIZED)
    for rule, line in zip(NORMALIZED, listed, strict=True):
        assert line != rule  # (nft spells it differently: the case is a real normalisation)
        assert nftkit.parse_rule(rule) == nftkit.parse_rule(line), (rule, line)


_DESCRIBE = re.compile(r"^\t(\S+)\s+(0x[0-9a-f]+|\d+)$", re.M)


@pytest.mark.parametrize(("expr", "dt"), [
    ("ct state", "ct_state"), ("ct status", "ct_status"), ("ct event", "ct_event"),
    ("ct direction", "ct_dir"), ("tcp flags", "tcp_flag"), ("icmp type", "icmp_type"),
    ("icmp code", "icmp_code"), ("icmpv6 type", "icmpv6_type"),
    ("icmpv6 code", "icmpv6_code"), ("ether type", "ethertype"),
    ("meta pkttype", "pkt_type"), ("ip dscp", "dscp"), ("ip ecn", "ecn"),
    ("meta nfproto", "nf_proto"), ("meta day", "day"), ("fib daddr type", "fib_addrtype"),
    ("meta iiftype", "iface_type"), ("arp operation", "arp_op"), ("dccp type", "dccp_pkttype"),
    ("igmp type", "igmp_type"), ("mh type", "mh_type"),
])
def test_symbols_match_nft_describe(expr: str, dt: str) -> None:
    """Every symbol the installed nft describes is accepted, as the same number."""
    r = subprocess.run([NFT, "describe", *expr.split()], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"nft describe {expr}: {r.stderr.strip()}")
    symbols = {name: int(num, 0) for name, num in _DESCRIBE.findall(r.stdout)}
    assert symbols, r.stdout
    table = _values.symbol_tables()[dt]
    for name, number in symbols.items():
        assert table.get(name) == number, f"{expr} {name}"
        # the name and its number normalise to the same symbol
        assert _values.normalize(name, datatype(dt)) == _values.normalize(number, datatype(dt))
