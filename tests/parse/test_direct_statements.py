"""Statement callbacks that build model nodes themselves (no JSON-shaped value in between)
give the node the JSON reader gives for what ``nft -j`` prints for the same statement."""

from __future__ import annotations

from typing import Any

import pytest

import nftkit
from nftkit.errors import ParseError
from nftkit.parse.json import JsonDecoder

CASES: list[tuple[str, Any]] = [
    ("log", {"log": None}),
    ('log prefix "drop: " level debug', {"log": {"prefix": "drop: ", "level": "debug"}}),
    ("log level warn", {"log": {"level": "warn"}}),
    ("log flags tcp sequence,options flags ip options",
     {"log": {"flags": ["tcp sequence", "tcp options", "ip options"]}}),
    ("log flags all", {"log": {"flags": "all"}}),
    ("log flags skuid", {"log": {"flags": "skuid"}}),
    ("log group 2 snaplen 64 queue-threshold 10",
     {"log": {"group": 2, "snaplen": 64, "queue-threshold": 10}}),
    ('log prefix "x" group 0', {"log": {"prefix": "x", "group": 0}}),
    ("notrack", {"notrack": None}),
    ("flow add @ft", {"flow": {"op": "add", "flowtable": "@ft"}}),
    ("flow offload @ft", {"flow": {"op": "add", "flowtable": "@ft"}}),
    ("reject with icmp host-unreachable",
     {"reject": {"type": "icmp", "expr": "host-unreachable"}}),
    ("reject with icmpv6 4", {"reject": {"type": "icmpv6", "expr": "port-unreachable"}}),
    ("reject with icmp 200", {"reject": {"type": "icmp", "expr": "200"}}),
    ("reject with icmpx admin-prohibited",
     {"reject": {"type": "icmpx", "expr": "admin-prohibited"}}),
    ("reject with tcp reset", {"reject": {"type": "tcp reset"}}),
    ("synproxy", {"synproxy": None}),
    ("synproxy mss 1460 wscale 7 timestamp sack-perm",
     {"synproxy": {"mss": 1460, "wscale": 7, "flags": ["timestamp", "sack-perm"]}}),
    ("synproxy sack-perm", {"synproxy": {"flags": "sack-perm"}}),
]


@pytest.mark.parametrize(("text", "j"), CASES, ids=[c[0] for c in CASES])
def test_direct_node_is_the_json_readers(text: str, j: Any) -> None:
    (got,) = nftkit.parse_rule(text).stmts
    want = JsonDecoder().stmt(j)
    assert got == want and repr(got) == repr(want)
    assert nftkit.parse_rule(nftkit.to_text(nftkit.parse_rule(text))).stmts == (got,)


@pytest.mark.parametrize(("text", "message"), [
    ("log level bogus", "'bogus' is not one of"),
    ("log group 1 level debug", "level and group are mutually exclusive"),
    ('log prefix "' + "x" * 200 + '"', "the kernel keeps"),
    ("flow bogus @ft", 'unknown op \'bogus\' (only "add", "offload")'),
    ("reject with icmpv6 999", "out of range"),
])
def test_direct_node_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        nftkit.parse_rule(text)
