"""The libnftables reads' decisions, without a kernel: which JSON listings are read as text
instead (nft 1.0.6 prints table flags from freed memory and leaves device lists out), and
``ifname``/``string`` elements read back as names."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

import pytest

pytest.importorskip("cffi")

from nftkit import ConcatExpr, Map, Ruleset, Set, Table
from nftkit.backend.libnftables._reads import _retyped, _text_command, _untrusted
from nftkit.errors import UnsupportedError

TABLE = {"table": {"family": "inet", "name": "t", "handle": 1}}


@pytest.mark.parametrize(("item", "untrusted"), [
    (TABLE, False),
    ({"table": {**TABLE["table"], "flags": "t"}}, True),
    ({"chain": {"family": "netdev", "table": "n", "name": "c", "hook": "ingress"}}, True),
    ({"chain": {"family": "netdev", "table": "n", "name": "c", "hook": "ingress",
                "dev": "lan0"}}, False),
    ({"chain": {"family": "inet", "table": "t", "name": "c", "hook": "input"}}, False),
    ({"flowtable": {"family": "inet", "table": "t", "name": "f", "hook": "ingress"}}, True),
])
def test_listings_read_as_text_where_json_cannot_be_trusted(item: dict[str, Any],
                                                            untrusted: bool) -> None:
    assert _untrusted([item]) is untrusted


def test_text_commands_name_only_what_nft_text_can_spell() -> None:
    assert _text_command({"ruleset": None}) == "list ruleset"
    assert _text_command({"set": {"family": "ip", "table": "t", "name": "s"}}) == \
        "list set ip t s"
    with pytest.raises(UnsupportedError):
        _text_command({"table": {"family": "ip", "name": "has space"}})


def test_ifname_elements_read_back_as_names() -> None:
    names = Set(name="n", type="ifname", elements=(IPv4Address("10.0.0.2"), "eth0"))
    pairs = Map(name="m", type=("ifname", "ipv4_addr"), data_type="mark",
                elements=((ConcatExpr(exprs=(IPv4Address("10.0.0.2"), IPv4Address("1.2.3.4"))),
                           7),))
    rs = _retyped(Ruleset(tables=(Table(family="inet", name="t", sets=(names, pairs)),)))
    t = rs.table("inet", "t")
    assert t.set("n").elements == ("10.0.0.2", "eth0")
    (key, data), = t.set("m").elements
    assert key.exprs == ("10.0.0.2", IPv4Address("1.2.3.4")) and data == 7
