"""Element values are typed and checked when a Transaction is built (issue 11): against the
set's type where the transaction knows it, and strings that two paths would read differently
are refused on every path."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

import pytest

from nftkit import (
    ConcatExpr,
    ElemExpr,
    Map,
    PrefixExpr,
    RangeExpr,
    Ruleset,
    Set,
    Table,
    Transaction,
    ValidationError,
    VerdictExpr,
)

T = ("inet", "t")
V4 = Set(name="v4", type="ipv4_addr")
BLOCK = Set(name="block", type="ipv4_addr", flags=["interval"])
BLOCK6 = Set(name="block6", type="ipv6_addr", flags=["interval"])
PORTS = Set(name="ports", type="inet_service")
NAMES = Set(name="names", type="ifname")
MACS = Set(name="macs", type="ether_addr")
PAIRS = Set(name="pairs", type=("ipv4_addr", "inet_service"))
VMAP = Map(name="verdicts", type="inet_service", data_type="verdict")
MARKS = Map(name="marks", type="ipv4_addr", data_type="mark")


def elements(s: Set | str, values: list[Any], txn: Transaction | None = None) -> tuple[Any, ...]:
    txn = txn if txn is not None else Transaction()
    return txn.add_elements(s, values, table=T).ops[-1].elements


# --- prefixes: networks and CIDR strings --------------------------------------------------


@pytest.mark.parametrize("value", ["10.0.0.0/8", IPv4Network("10.0.0.0/8")])
def test_networks_and_cidr_strings_are_prefixes(value: Any) -> None:
    assert elements(BLOCK, [value]) == (PrefixExpr(addr=IPv4Address("10.0.0.0"), len=8),)


def test_ipv6_networks_are_prefixes() -> None:
    assert elements(BLOCK6, ["2001:db8::/32", IPv6Network("fd00::/8")]) == (
        PrefixExpr(addr=IPv6Address("2001:db8::"), len=32),
        PrefixExpr(addr=IPv6Address("fd00::"), len=8))


def test_cidr_strings_become_prefixes_also_by_name() -> None:
    """The set's type is not known, but nothing else spells ``a.b.c.d/n``."""
    assert elements("block", ["10.1.0.0/16"]) == (
        PrefixExpr(addr=IPv4Address("10.1.0.0"), len=16),)


def test_host_bits_are_refused_not_masked() -> None:
    with pytest.raises(ValidationError, match="host bits"):
        elements(BLOCK, ["10.0.0.1/8"])


def test_prefix_needs_an_interval_set() -> None:
    with pytest.raises(ValidationError, match="flags interval"):
        elements(V4, [IPv4Network("10.0.0.0/8")])
    with pytest.raises(ValidationError, match="flags interval"):
        elements(V4, [RangeExpr(low=IPv4Address("10.0.0.1"), high=IPv4Address("10.0.0.9"))])


# --- the set's type, where known ------------------------------------------------------------


def test_address_strings_become_addresses() -> None:
    assert elements(V4, ["10.0.0.1"]) == (IPv4Address("10.0.0.1"),)


@pytest.mark.parametrize(("s", "value", "why"), [
    (V4, IPv6Address("::1"), "not of type ipv4_addr"),
    (V4, "::1", "not of type ipv4_addr"),
    (PORTS, 70000, "out of range"),
    (PORTS, IPv4Address("10.0.0.1"), "not of type inet_service"),
    (NAMES, 7, "not an interface name"),
    (NAMES, "a-very-long-interface-name", "longer than"),
    (MACS, "10.0.0.2", "not an ethernet address"),
    (PAIRS, IPv4Address("10.0.0.1"), "concatenation"),
    (PAIRS, ConcatExpr(exprs=(IPv4Address("10.0.0.1"), 22, 80)), "3 values"),
    (PAIRS, ConcatExpr(exprs=(IPv4Address("10.0.0.1"), 70000)), "out of range"),
])
def test_values_that_do_not_fit_the_type_are_refused(s: Set, value: Any, why: str) -> None:
    with pytest.raises(ValidationError, match=why) as info:
        elements(s, [value])
    assert info.value.field == "elements" and f"of {s.name}" in str(info.value)


def test_map_data_is_checked() -> None:
    with pytest.raises(ValidationError, match="not a verdict"):
        elements(VMAP, [(80, "accept")])
    with pytest.raises(ValidationError, match="not of type mark"):
        elements(MARKS, [(IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2"))])
    assert elements(VMAP, [(80, VerdictExpr(kind="accept"))]) == (
        (80, VerdictExpr(kind="accept")),)


def test_fitting_values_pass_unchanged() -> None:
    values = [IPv4Address("10.0.0.1"), ElemExpr(val=IPv4Address("10.0.0.2"), comment="x"),
              167772163]  # nft reads an integer as an address, on every path
    out = elements(V4, values)
    assert out == tuple(values)
    assert elements(PORTS, [22, "ssh"]) == (22, "ssh")
    assert elements(NAMES, ["eth0", "ppp*"]) == ("eth0", "ppp*")
    assert elements(MACS, ["00:11:22:33:44:55"]) == ("00:11:22:33:44:55",)


def test_a_set_added_earlier_in_the_transaction_is_known() -> None:
    txn = Transaction().add(Table(family="inet", name="t", sets=[PORTS]))
    with pytest.raises(ValidationError, match="out of range"):
        txn.add_elements("ports", [70000], table=T)
    txn = Transaction().add(V4, table=T)
    assert elements("v4", ["10.0.0.1"], txn) == (IPv4Address("10.0.0.1"),)


def test_a_known_ruleset_is_used() -> None:
    known = Ruleset(tables=[Table(family="inet", name="t", sets=[MACS])])
    with pytest.raises(ValidationError, match="not an ethernet address"):
        Transaction(known=known).add_elements("macs", ["10.0.0.2"], table=T)
    # another table's set of the same name is another set
    Transaction(known=known).add_elements("macs", ["10.0.0.2"], table=("ip", "t"))


def test_deleted_keys_are_checked_too() -> None:
    with pytest.raises(ValidationError, match="not of type ipv4_addr"):
        Transaction().delete_elements(V4, [IPv6Address("::1")], table=T)
    # a map's data is not needed to delete: only the key is checked
    txn = Transaction().delete_elements(VMAP, [(80, "anything")], table=T)
    assert txn.ops[0].elements == (80,)


# --- strings two paths would read differently -----------------------------------------------


@pytest.mark.parametrize("value", ["@x", "$x", "eth\x000"])
@pytest.mark.parametrize("s", [NAMES, "names"])
def test_ambiguous_strings_are_refused_on_every_path(value: str, s: Set | str) -> None:
    """``"@x"`` is a lookup in set x for libnftables and the name ``@x`` for the netlink
    path (issue 12 item 3); a NUL byte cuts the name on the netlink path."""
    with pytest.raises(ValidationError):
        elements(s, [value])
    with pytest.raises(ValidationError):
        Transaction().add_elements(MARKS if s is NAMES else "m", [(value, 1)], table=T)


# --- host names ----------------------------------------------------------------------------


def test_host_names_are_refused_unless_resolution_is_asked_for() -> None:
    with pytest.raises(ValidationError, match="resolve=True"):
        elements(V4, ["localhost"])
    txn = Transaction().add_elements(V4, ["localhost"], table=T, resolve=True)
    assert txn.ops[0].elements == ("localhost",)  # resolved by nft, in the target netns
