"""Words nft's scanner reads as keywords, so that nft cannot read them back as object names.

nft prints table, chain, set, map, flowtable and object names bare (``chain accept {``), and
nft 1.0.6 has no way to quote them (``table inet "x"`` is a syntax error: "unexpected quoted
string, expecting string"). A name that the scanner turns into a keyword token is therefore
written fine through JSON (``{"chain": {"name": "accept", ...}}``) but makes the text listing
unreadable: ``add table inet counter`` fails, and so does ``nft -f`` of the listing.

The lists come from nft's flex scanner (src/scanner.l): ``KEYWORDS`` are the words matched in
every scanner state; ``CONTEXT_KEYWORDS`` are words matched only in the start condition that
the preceding keyword pushes (``counter`` pushes SCANSTATE_COUNTER, in which ``packets`` is a
keyword, so ``counter packets { }`` fails while ``chain packets { }`` loads). Every entry was
checked against nft 1.0.6 in a throwaway namespace (tests/test_validation.py re-checks a
sample against the installed nft), except ``NEWER_KEYWORDS``: nft 1.0.6 still reads those as
names, newer scanners do not, and nftkit's text must load on both.
"""

from __future__ import annotations

__all__ = ["CONTEXT_KEYWORDS", "KEYWORDS", "NEWER_KEYWORDS", "keyword_reason"]

#: Keywords of newer nft releases' scanners that nft 1.0.6 still reads as names.
NEWER_KEYWORDS = frozenset({
    "destroy", "geneve", "gre", "gretap", "last", "tunnel", "vni", "vxlan",
})

#: Words nft's scanner matches in every state (relational and bitwise operator words,
#: commands, families, verdicts, statement and expression keywords).
KEYWORDS = frozenset({
    # operators
    "and", "eq", "ge", "gt", "le", "lshift", "lt", "ne", "not", "or", "rshift", "xor",
    # commands and containers
    "add", "chain", "create", "define", "delete", "describe", "device", "devices", "element",
    "elements", "export", "flowtable", "flush", "get", "handle", "hook", "import", "include",
    "index", "insert", "list", "map", "monitor", "position", "redefine", "rename", "replace",
    "reset", "rule", "ruleset", "set", "table", "undefine", "update",
    # families
    "arp", "bridge", "inet", "ip", "ip6", "netdev",
    # verdicts
    "accept", "continue", "drop", "goto", "jump", "return",
    # set and chain properties
    "auto-merge", "comment", "constant", "dynamic", "expires", "flags", "gc-interval",
    "interval", "policy", "priority", "size", "timeout", "type", "typeof",
    # statements
    "counter", "dnat", "dup", "flow", "fwd", "limit", "log", "masquerade", "meter", "notrack",
    "offload", "queue", "quota", "redirect", "reject", "secmark", "snat", "synproxy", "tproxy",
    "vmap", "xt",
    # expressions
    "ah", "all", "cgroup", "comp", "cpu", "ct", "day", "dccp", "dst", "ecn", "esp", "ether",
    "exists", "exthdr", "fib", "frag", "hbh", "hour", "icmp", "icmpv6", "ibriport", "ibrname",
    "igmp", "iif", "iifgroup", "iifname", "iiftype", "ipsec", "jhash", "mark", "meta", "mh",
    "missing", "nftrace", "numgen", "obriport", "obrname", "oif", "oifgroup", "oifname",
    "oiftype", "osf", "pkttype", "random", "rt", "rt0", "rt2", "rtclassid", "sctp", "skgid",
    "skuid", "socket", "srh", "symhash", "tcp", "th", "time", "udp", "udplite", "vlan",
}) | NEWER_KEYWORDS

_CT = frozenset({
    "avgpkt", "bytes", "count", "daddr", "direction", "dport", "event", "expectation",
    "expiration", "helper", "helpers", "id", "l3proto", "label", "original", "over", "packets",
    "proto-dst", "proto-src", "protocol", "reply", "saddr", "state", "status", "zone",
})
#: ``@ll`` and ``@nh`` are raw payload bases (SCANSTATE_AT), not set references.
_AT = frozenset({"ll", "nh"})

#: Extra keywords by node class: the scanner state nft is in where it reads that node's name
#: (an object's name follows its keyword; a set's name is referenced as ``@name``).
CONTEXT_KEYWORDS: dict[str, frozenset[str]] = {
    "Counter": frozenset({"bytes", "name", "packets"}),
    "Quota": frozenset({"bytes", "name", "over", "until", "used"}),
    "Limit": frozenset({
        "burst", "bytes", "minute", "name", "over", "packets", "rate", "second", "week"}),
    "Synproxy": frozenset({
        "maxseg", "mss", "name", "sack-perm", "sack-permitted", "timestamp", "wscale"}),
    "CtHelper": _CT,
    "CtTimeout": _CT,
    "CtExpectation": _CT,
    "Set": _AT,
    "Map": _AT,
    "Flowtable": _AT,
    "SetRefExpr": _AT,
    "SetStmt": _AT,
    "MapStmt": _AT,
    "FlowOffloadStmt": _AT,
}


def keyword_reason(node: str, value: str) -> str | None:
    """Why nft cannot read ``value`` back as the name of a ``node``, or None when it can."""
    if value == ".":
        return "'.' is nft's concatenation operator, not a name"
    if value in KEYWORDS:
        return f"{value!r} is an nft keyword: nft cannot read it back as a name"
    if value in CONTEXT_KEYWORDS.get(node, ()):
        return f"{value!r} is an nft keyword where nft reads a {node} name"
    return None
