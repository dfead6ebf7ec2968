"""nft datatypes (``nft describe``): how values print in text and what the kernel sees.

``meta mark`` is a ``mark`` and prints ``0x00000010``; ``iifname`` is an ``ifname`` and
prints ``"lo"``; ``tcp dport`` is an ``inet_service`` and prints ``22``; ``ct expiration`` is
a ``relative_time`` and prints ``1m30s``. A set declares its key by datatype
(``type ipv4_addr . inet_service``) and the kernel stores the type id (7, 13).
"""

from __future__ import annotations

from typing import Final

import attrs

__all__ = [
    "BIG",
    "BITMASKS",
    "DATATYPES",
    "DESCRIPTIONS",
    "DISTINCT",
    "FIVE_PER_LINE",
    "FREE",
    "HOST",
    "KINDS",
    "NETLINK",
    "NETLINK_NAMES",
    "NONE",
    "NOT_BARE_KINDS",
    "NOT_INTEGER",
    "NUMERIC_RANGES",
    "TWO_PER_LINE",
    "Datatype",
    "datatype",
]

#: How values of a datatype print in text.
KINDS: Final = frozenset({
    "dec",      # integers in decimal: ``22``
    "hex",      # integers as ``0x`` + ``width`` digits (0: as many as needed): ``0x00000010``
    "string",   # strings always quoted: ``"lo"``
    "qsymbol",  # symbolic constants quoted, integers in decimal: ``"default"``, ``11``
    "ifindex",  # interface (index) names quoted, bare numbers as they are: ``"lo"``, ``0``
    "addr",     # addresses: ``10.0.0.1``, ``::1``, ``00:0f:54:0c:11:04``
    "symbol",   # symbolic constants as given, integers in decimal: ``established``, ``55``
    "number",   # symbolic constants read, printed as their numbers: ``2`` for ``prot-unreachable``
    "symhex",   # symbolic constants as given, integers in hex: ``ef``, ``0x3c``
    "time",     # seconds as a duration: ``1m30s``
    "bool",     # ``exists``/``missing`` (JSON ``true``/``false``)
    "concat",   # a concatenation: each part by its own datatype (``parts``)
})
#: Kinds whose string values never print as the bare word they are: quoted (``string``,
#: ``qsymbol``, ``ifindex``) or turned into their number (``number``).
NOT_BARE_KINDS: Final = frozenset({"string", "ifindex", "qsymbol", "number"})


@attrs.frozen(kw_only=True)
class Datatype:
    """An nft datatype.

    ``kind`` is how a value prints (one of ``KINDS``); ``width`` is the number of hex digits
    for ``hex`` kinds; ``bits`` is the size of the value in bits (0 when variable).
    """

    name: str
    kind: str = "dec"
    width: int = 0
    bits: int = 0
    #: For a concatenation (``kind`` ``concat``): the datatype of each part.
    parts: tuple[Datatype | None, ...] = ()


def _dt(name: str, kind: str = "dec", width: int = 0, bits: int = 0) -> Datatype:
    return Datatype(name=name, kind=kind, width=width, bits=bits)


#: Datatypes by nft name (``nft describe``). Unknown names behave like ``integer``.
#: Datatypes a set key must match exactly (``ip saddr @ports`` with ``@ports`` of
#: ``inet_service`` keys is an error): nft converts no value of one into another.
DISTINCT: Final = frozenset({"ipv4_addr", "ipv6_addr", "ether_addr", "inet_service", "mark",
                             "ifname", "inet_proto"})

#: Datatypes whose values are never plain integers (an element ``80`` is refused for them).
NOT_INTEGER: Final = frozenset({"ether_addr", "ifname", "string", "verdict"})

DATATYPES: Final[dict[str, Datatype]] = {
    d.name: d
    for d in (
        _dt("integer"),
        _dt("hex_integer", "hex"),
        _dt("string", "string"),
        _dt("ifname", "string", bits=128),
        _dt("iface_index", "ifindex", bits=32),
        _dt("iface_type", "symbol", bits=16),
        _dt("ifkind", "string"),
        _dt("mark", "hex", 8, 32),
        _dt("ct_label", "symbol", bits=128),
        _dt("ipv4_addr", "addr", bits=32),
        _dt("ipv6_addr", "addr", bits=128),
        _dt("ether_addr", "addr", bits=48),
        _dt("inet_service", "dec", bits=16),
        _dt("ethertype", "symhex", 4, 16),
        _dt("arp_op", "symbol", bits=16),
        _dt("arp_hrd", "symbol", bits=16),
        _dt("tcp_flag", "symhex", 0, 8),
        _dt("dccp_pkttype", "symbol", bits=4),
        _dt("dscp", "symhex", 2, 6),
        _dt("ecn", "symhex", 2, 2),
        _dt("ct_state", "symhex", bits=32),
        _dt("ct_status", "symhex", bits=32),
        _dt("ct_event", "symhex", bits=32),
        _dt("ct_helper", "string"),
        _dt("day", "qsymbol", bits=8),
        _dt("time", "qsymbol", bits=64),
        _dt("relative_time", "time", bits=32),
        _dt("boolean", "bool", bits=1),
        _dt("osf_name", "string"),
        _dt("cgroupsv2", "string"),
        _dt("verdict", "symbol"),
        # one-byte symbols: ``tcp``, ``echo-request``, ``original``
        *(_dt(name, "symbol", bits=8) for name in (
            "inet_proto", "nf_proto", "pkt_type", "icmp_type", "icmp_code", "icmpv6_type",
            "icmpv6_code", "icmpx_code", "igmp_type", "mh_type", "ct_dir", "sctp_chunk_type")),
        # 32-bit symbols: ``root``, ``local``
        *(_dt(name, "symbol", bits=32) for name in (
            "tc_handle", "uid", "gid", "fib_addrtype")),
        # 32-bit symbols nft quotes: ``"default"``
        *(_dt(name, "qsymbol", bits=32) for name in (
            "realm", "devgroup", "hour")),
    )
}

#: Datatypes whose base type is nft's ``bitmask``: ``ct state established,related``.
BITMASKS: Final = frozenset({"ct_state", "ct_status", "ct_event", "tcp_flag"})
#: Types nft prints in ranges by number rather than by symbol: ``arp operation 1-2``.
NUMERIC_RANGES: Final = frozenset({"arp_op", "icmp_type", "icmp_code", "icmpv6_type",
                                   "icmpv6_code", "icmpx_code", "inet_proto"})
#: Datatypes whose values are free strings (names, quoted strings) or that nft reads in ways
#: nftkit does not model: the text parser never checks their values.
FREE: Final = frozenset({"string", "ifname", "iface_index", "ifkind", "ct_helper", "osf_name",
                         "cgroupsv2", "tc_handle", "ct_label", "time", "hour", "day_time",
                         "boolean", "verdict"})

#: What a value of each datatype the text parser checks may be (for an error's
#: "expected ...").
DESCRIPTIONS: Final[dict[str, str]] = {
    "inet_service": "an inet_service: a port number or service name",
    "inet_proto": "an inet_proto: a protocol number or name",
    "ipv4_addr": "an ipv4_addr: an IPv4 address (nftkit does not resolve host names)",
    "ipv6_addr": "an ipv6_addr: an IPv6 address (nftkit does not resolve host names)",
    "ether_addr": "an ether_addr: a link-layer address such as 00:11:22:33:44:55",
    "mark": "a mark: a number",
    "integer": "an integer: a number",
    "hex_integer": "an integer: a number",
    "uid": "a uid: a user id or user name",
    "gid": "a gid: a group id or group name",
    "devgroup": "a devgroup: a number or a name from /etc/iproute2/group",
    "realm": "a realm: a number or a name from /etc/iproute2/rt_realms",
    "relative_time": "a relative_time: a duration such as 30s or 1h2m",
}

#: Set elements print 5 per line for these key datatypes, 2 per line for ``TWO_PER_LINE``,
#: one per line for all others (nft's ``calculate_delim``).
FIVE_PER_LINE: Final = frozenset({
    "nf_proto", "integer", "arp_op", "inet_proto", "inet_service", "tcp_flag", "dccp_pkttype",
    "mark", "iface_index", "classid", "uid", "gid", "ct_dir",
})
TWO_PER_LINE: Final = frozenset({"ipv4_addr", "ct_state", "ct_status", "pkt_type"})

BIG, HOST, NONE = 2, 1, 0  # nft's enum byteorder (0: invalid, as nft writes for concatenations)

#: Kernel view of a datatype (``enum datatypes`` in nft): name -> (type id, size in bytes,
#: byte order). Keyed by nft's own names (``ether_type``); see ``NETLINK_NAMES``.
NETLINK: Final[dict[str, tuple[int, int, int]]] = {
    "nf_proto": (2, 1, HOST),
    "integer": (4, 4, HOST),
    "ipv4_addr": (7, 4, BIG),
    "ipv6_addr": (8, 16, BIG),
    "ether_addr": (9, 6, BIG),
    "ether_type": (10, 2, BIG),
    "inet_proto": (12, 1, NONE),
    "inet_service": (13, 2, BIG),
    "mark": (19, 4, HOST),
    "iface_index": (20, 4, HOST),
    "uid": (24, 4, HOST),
    "gid": (25, 4, HOST),
    "ct_state": (26, 4, HOST),
    "ifname": (41, 16, HOST),
}
#: nftkit's datatype name -> nft's, where they differ (``meta protocol`` is an ``ether_type``).
NETLINK_NAMES: Final[dict[str, str]] = {"ethertype": "ether_type"}


def datatype(name: str | None) -> Datatype | None:
    """The datatype called ``name`` (None for None; unknown names give an ``integer`` alike)."""
    if name is None:
        return None
    return DATATYPES.get(name) or Datatype(name=name)
