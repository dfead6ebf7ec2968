"""Selectors: the payload, meta, ct, exthdr, ... fields nft matches on, with their datatypes
and, where nftkit's netlink encoder writes them, their kernel encoding.

``tcp dport`` is payload field ``dport`` of ``tcp`` (an ``inet_service``: transport header,
offset 16, 16 bits); ``meta mark`` is meta key ``mark`` (a ``mark``, NFT_META_MARK 3);
``ct state`` is ct key ``state`` (a ``ct_state``, NFT_CT_STATE 0). A field or key missing
from a datatype table is a plain ``integer``. Netlink orders are ``"big"`` (network byte
order) or ``"host"``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BITMASK_SELECTORS",
    "CT",
    "CT_NETLINK",
    "EXTHDR",
    "EXTHDR_FIELDS",
    "EXTHDR_NAMES",
    "FIB",
    "FIB_NETLINK",
    "IPSEC_KEYS",
    "IP_OPTIONS",
    "IP_OPTION_FIELDS",
    "META",
    "META_ALIASES",
    "META_BARE",
    "META_NETLINK",
    "PAYLOAD",
    "PAYLOAD_BASES",
    "PAYLOAD_NETLINK",
    "PAYLOAD_UDATA",
    "RT",
    "RT_HEADER_FIELDS",
    "SCTP_CHUNKS",
    "SCTP_CHUNK_FIELDS",
    "SOCKET",
    "TCP_OPTIONS",
    "TCP_OPTION_ALIASES",
    "TCP_OPTION_FIELDS",
    "TRANSPORT_L3",
    "TUNNELS",
    "payload_datatype",
]

_PORTS: Final = {"sport": "inet_service", "dport": "inet_service"}

#: Header fields nft knows (nft's proto.c), by protocol: field -> datatype.
#: ``ip saddr`` is an ``ipv4_addr``; ``ip ttl`` an ``integer``.
PAYLOAD: Final[dict[str, dict[str, str]]] = {
    "ether": {"daddr": "ether_addr", "saddr": "ether_addr", "type": "ethertype"},
    "vlan": {"id": "integer", "dei": "integer", "cfi": "integer", "pcp": "integer",
             "type": "ethertype"},
    "arp": {"htype": "arp_hrd", "ptype": "ethertype", "hlen": "integer", "plen": "integer",
            "operation": "arp_op", "saddr ether": "ether_addr", "daddr ether": "ether_addr",
            "saddr ip": "ipv4_addr", "daddr ip": "ipv4_addr"},
    "ip": {"version": "integer", "hdrlength": "integer", "dscp": "dscp", "ecn": "ecn",
           "length": "integer", "id": "integer", "frag-off": "integer", "ttl": "integer",
           "protocol": "inet_proto", "checksum": "integer", "saddr": "ipv4_addr",
           "daddr": "ipv4_addr"},
    "icmp": {"type": "icmp_type", "code": "icmp_code", "checksum": "integer", "id": "integer",
             "sequence": "integer", "gateway": "ipv4_addr", "mtu": "integer"},
    "igmp": {"type": "igmp_type", "mrt": "integer", "checksum": "integer",
             "group": "ipv4_addr"},
    "ip6": {"version": "integer", "dscp": "dscp", "ecn": "ecn", "flowlabel": "integer",
            "length": "integer", "nexthdr": "inet_proto", "hoplimit": "integer",
            "saddr": "ipv6_addr", "daddr": "ipv6_addr"},
    "icmpv6": {"type": "icmpv6_type", "code": "icmpv6_code", "checksum": "integer",
               "parameter-problem": "integer", "mtu": "integer", "id": "integer",
               "sequence": "integer", "max-delay": "integer", "taddr": "ipv6_addr",
               "daddr": "ipv6_addr"},
    "ah": {"nexthdr": "inet_proto", "hdrlength": "integer", "reserved": "integer",
           "spi": "integer", "sequence": "integer"},
    "esp": {"spi": "integer", "sequence": "integer"},
    "comp": {"nexthdr": "inet_proto", "flags": "hex_integer", "cpi": "integer"},
    "udp": {**_PORTS, "length": "integer", "checksum": "integer"},
    "udplite": {**_PORTS, "csumcov": "integer", "checksum": "integer"},
    "tcp": {**_PORTS, "sequence": "integer", "ackseq": "integer", "doff": "integer",
            "reserved": "integer", "flags": "tcp_flag", "window": "integer",
            "checksum": "integer", "urgptr": "integer"},
    "dccp": {**_PORTS, "type": "dccp_pkttype"},
    "sctp": {**_PORTS, "vtag": "integer", "checksum": "integer"},
    "th": dict(_PORTS),
}
#: Raw payload bases (``@nh,16,16``): link layer, network header, transport header, inner
#: header (nft >= 1.1).
PAYLOAD_BASES: Final = frozenset({"ll", "nh", "th", "ih"})
#: Tunnel protocols whose headers nft >= 1.1 matches (``vxlan ip saddr``).
TUNNELS: Final = frozenset({"vxlan", "geneve", "gre", "gretap"})

_PORT_BITS = {"sport": (0, 16), "dport": (16, 16)}
#: (protocol, NFT_PAYLOAD_*_HEADER base) -> {field: (offset in bits, length in bits)}
_HEADER_BITS: Final[dict[tuple[str, int], dict[str, tuple[int, int]]]] = {
    ("ip", 1): {"length": (16, 16), "id": (32, 16), "frag-off": (48, 16), "ttl": (64, 8),
                "protocol": (72, 8), "checksum": (80, 16), "saddr": (96, 32),
                "daddr": (128, 32)},
    ("ip6", 1): {"length": (32, 16), "nexthdr": (48, 8), "hoplimit": (56, 8),
                 "saddr": (64, 128), "daddr": (192, 128)},
    ("tcp", 2): {**_PORT_BITS, "sequence": (32, 32), "ackseq": (64, 32), "flags": (104, 8),
                 "window": (112, 16), "checksum": (128, 16), "urgptr": (144, 16)},
    ("udp", 2): {**_PORT_BITS, "length": (32, 16), "checksum": (48, 16)},
    ("th", 2): _PORT_BITS,
    # (not icmp/icmpv6 id, sequence, mtu, gateway, ...: nft adds an implicit ``icmp type``
    # match before them)
    ("icmp", 2): {"type": (0, 8), "code": (8, 8), "checksum": (16, 16)},
    ("igmp", 2): {"type": (0, 8), "mrt": (8, 8), "checksum": (16, 16), "group": (32, 32)},
    ("icmpv6", 2): {"type": (0, 8), "code": (8, 8), "checksum": (16, 16)},
    ("ah", 2): {"nexthdr": (0, 8), "hdrlength": (8, 8), "reserved": (16, 16),
                "spi": (32, 32), "sequence": (64, 32)},
    ("esp", 2): {"spi": (0, 32), "sequence": (32, 32)},
    ("comp", 2): {"nexthdr": (0, 8), "flags": (8, 8), "cpi": (16, 16)},
    ("udplite", 2): {**_PORT_BITS, "csumcov": (32, 16), "checksum": (48, 16)},
    ("dccp", 2): _PORT_BITS,
    ("sctp", 2): {**_PORT_BITS, "vtag": (32, 32), "checksum": (64, 32)},
}
#: How the netlink encoder loads a header field: (protocol, field) -> (NFT_PAYLOAD_*_HEADER
#: base, offset in bits, length in bits).
PAYLOAD_NETLINK: Final[dict[tuple[str, str], tuple[int, int, int]]] = {
    (proto, field): (base, *bits)
    for (proto, base), fields in _HEADER_BITS.items() for field, bits in fields.items()}
#: Transport protocols that run over one network protocol only: in an inet table nft matches
#: ``meta nfproto`` before their fields (before the ``meta l4proto`` match all of them get).
TRANSPORT_L3: Final[dict[str, str]] = {"icmp": "ip", "igmp": "ip", "icmpv6": "ip6"}
#: How nft's set userdata names a ``typeof`` header field: protocol -> (``enum
#: proto_desc_id``, {field: header field id}).
PAYLOAD_UDATA: Final[dict[str, tuple[int, dict[str, int]]]] = {
    "ip": (12, {"protocol": 9, "saddr": 11, "daddr": 12}),
    "ip6": (13, {"nexthdr": 6, "saddr": 8, "daddr": 9}),
    "th": (11, {"sport": 1, "dport": 2}),
    "udp": (6, {"sport": 1, "dport": 2}),
    "tcp": (8, {"sport": 1, "dport": 2}),
    "ether": (17, {"daddr": 1, "saddr": 2, "type": 3}),
}

#: IPv6 extension headers nft knows (``exthdr`` names: ``frag more-fragments``).
EXTHDR_NAMES: Final = frozenset({"hbh", "rt", "rt0", "rt2", "srh", "frag", "dst", "mh"})
#: Extension header fields that carry a protocol number or an address (others: integers;
#: ``type`` is an ``mh_type`` only in the mobility header).
EXTHDR: Final[dict[str, str]] = {"nexthdr": "inet_proto", "addr": "ipv6_addr",
                                 "type": "mh_type"}
#: TCP options nft knows by name (``tcp option maxseg size``; others by kind number).
TCP_OPTIONS: Final = frozenset({"eol", "nop", "maxseg", "window", "sack-perm", "sack",
                                "sack0", "sack1", "sack2", "sack3", "timestamp", "md5sig",
                                "mptcp", "fastopen"})
#: Other names nft's scanner reads for a TCP option (``tcp option mss size`` is listed
#: ``tcp option maxseg size``). Text only: nft's JSON parser refuses them.
TCP_OPTION_ALIASES: Final[dict[str, str]] = {"mss": "maxseg", "sack-permitted": "sack-perm"}
#: IPv4 options nft knows (``ip option rr exists``).
IP_OPTIONS: Final = frozenset({"lsrr", "rr", "ssrr", "ra"})
#: SCTP chunk types nft knows (``sctp chunk init-ack num-outbound-streams``; nft >= 1.0.1).
SCTP_CHUNKS: Final = frozenset({
    "data", "init", "init-ack", "sack", "heartbeat", "heartbeat-ack", "abort", "shutdown",
    "shutdown-ack", "error", "cookie-echo", "cookie-ack", "ecne", "cwr", "shutdown-complete",
    "asconf-ack", "forward-tsn", "asconf",
})
#: Extension header fields, all headers together (nft's exthdr.c; ``addr``/``sid`` take an
#: index).
EXTHDR_FIELDS: Final = frozenset({
    "nexthdr", "hdrlength", "type", "seg-left", "reserved", "reserved2", "addr", "last-entry",
    "flags", "tag", "sid", "frag-off", "more-fragments", "id", "checksum"})
#: ``rt`` keys that name a field of the IPv6 routing header (``exthdr rt``), not routing
#: information: ``rt type`` is ``{"exthdr": {"name": "rt", "field": "type"}}``.
RT_HEADER_FIELDS: Final = frozenset({"type", "hdrlength", "nexthdr", "seg-left"})
#: TCP option fields, all options together (nft's tcpopt.c).
TCP_OPTION_FIELDS: Final = frozenset({"kind", "length", "size", "count", "left", "right",
                                      "tsval", "tsecr", "subtype"})
#: IPv4 option fields (nft's ipopt.c): ``type``, ``length``, ``ptr`` and ``addr`` (source
#: routes), ``value`` (ra).
IP_OPTION_FIELDS: Final = frozenset({"type", "length", "ptr", "addr", "value"})
#: SCTP chunk fields, all chunks together (nft's sctp_chunk.c).
SCTP_CHUNK_FIELDS: Final = frozenset({
    "type", "flags", "length", "tsn", "stream", "ssn", "ppid", "init-tag", "a-rwnd",
    "num-outbound-streams", "num-inbound-streams", "initial-tsn", "cum-tsn-ack",
    "num-gap-ack-blocks", "num-dup-tsns", "lowest-tsn", "seqno", "new-cum-tsn"})

#: Meta keys nft knows (up to 1.1): key -> datatype. ``meta mark`` is a ``mark``.
META: Final[dict[str, str]] = {
    "length": "integer", "nfproto": "nf_proto", "l4proto": "inet_proto",
    "protocol": "ethertype", "priority": "tc_handle", "mark": "mark", "iif": "iface_index",
    "iifname": "ifname", "iiftype": "iface_type", "oif": "iface_index", "oifname": "ifname",
    "oiftype": "iface_type", "skuid": "uid", "skgid": "gid", "nftrace": "integer",
    "rtclassid": "realm", "ibrname": "ifname", "obrname": "ifname", "ibrvproto": "ethertype",
    "ibrpvid": "integer", "pkttype": "pkt_type", "cpu": "integer", "iifgroup": "devgroup",
    "oifgroup": "devgroup", "cgroup": "integer", "random": "integer", "ipsec": "boolean",
    "iifkind": "ifkind", "oifkind": "ifkind", "time": "time", "day": "day", "hour": "hour",
    "secmark": "integer", "sdif": "iface_index", "sdifname": "ifname", "broute": "boolean",
}
#: Other spellings nft reads for meta keys -> the one it lists (``meta secpath`` is
#: ``meta ipsec``).
META_ALIASES: Final[dict[str, str]] = {"secpath": "ipsec", "ibriport": "ibrname",
                                       "obriport": "obrname"}
#: Meta keys nft prints without ``meta`` (``iifname "lo"``).
META_BARE: Final = frozenset({"iif", "oif", "iifname", "oifname", "iifgroup", "oifgroup"})
#: How the netlink encoder loads a meta key: key -> (NFT_META_*, bits, order).
META_NETLINK: Final[dict[str, tuple[int, int, str]]] = {
    "length": (0, 32, "host"), "protocol": (1, 16, "big"), "mark": (3, 32, "host"),
    "iif": (4, 32, "host"), "oif": (5, 32, "host"),
    "iifname": (6, 128, "host"), "oifname": (7, 128, "host"),
    "skuid": (10, 32, "host"), "skgid": (11, 32, "host"),
    "nfproto": (15, 8, "host"), "l4proto": (16, 8, "host"), "cpu": (20, 32, "host"),
}

#: Conntrack keys nft knows (up to 1.1): key -> datatype. ``saddr``/``daddr`` take the
#: family's address type (``ct original ip saddr``).
CT: Final[dict[str, str]] = {
    "state": "ct_state", "direction": "ct_dir", "status": "ct_status", "mark": "mark",
    "expiration": "relative_time", "helper": "ct_helper", "l3proto": "nf_proto",
    "protocol": "inet_proto", "saddr": "integer", "daddr": "integer",
    "proto-src": "inet_service", "proto-dst": "inet_service", "bytes": "integer",
    "packets": "integer", "avgpkt": "integer", "zone": "integer", "label": "ct_label",
    "event": "ct_event", "secmark": "integer", "id": "integer",
    "ip saddr": "ipv4_addr", "ip daddr": "ipv4_addr",
    "ip6 saddr": "ipv6_addr", "ip6 daddr": "ipv6_addr",
}
#: How the netlink encoder loads a ct key: key -> (NFT_CT_*, bits, order).
CT_NETLINK: Final[dict[str, tuple[int, int, str]]] = {
    "state": (0, 32, "host"), "direction": (1, 8, "host"), "status": (2, 32, "host"),
    "mark": (3, 32, "host"), "zone": (17, 16, "host"),
    "ip saddr": (19, 32, "big"), "ip daddr": (20, 32, "big"),
    "ip6 saddr": (21, 128, "big"), "ip6 daddr": (22, 128, "big"),
}
#: Selectors whose datatype is a bitmask: an implicit match on them is ``in`` in JSON
#: (``ct state established`` is ``{"op": "in", ...}``).
BITMASK_SELECTORS: Final = frozenset({("ct", "state"), ("ct", "status"), ("ct", "event"),
                                      ("tcp", "flags"), ("ct", "label")})

#: Routing keys: ``rt classid`` is a ``realm`` (``nexthop`` is the family's address).
RT: Final[dict[str, str]] = {"classid": "realm", "nexthop": "integer", "mtu": "integer",
                             "ipsec": "boolean"}
#: Socket keys: ``socket mark`` is a ``mark``.
SOCKET: Final[dict[str, str]] = {"transparent": "integer", "mark": "mark",
                                 "wildcard": "integer", "cgroupv2": "cgroupsv2"}
#: IPsec keys: ``ipsec in reqid``.
IPSEC_KEYS: Final = frozenset({"reqid", "spi", "saddr", "daddr"})
#: FIB results: ``fib daddr type`` is a ``fib_addrtype`` (``check``: nft >= 1.1).
FIB: Final[dict[str, str]] = {"oif": "iface_index", "oifname": "ifname",
                              "type": "fib_addrtype", "check": "boolean"}
#: How the netlink encoder writes a FIB result: result -> (NFT_FIB_RESULT_*, bits, order).
FIB_NETLINK: Final[dict[str, tuple[int, int, str]]] = {
    "oif": (1, 32, "host"), "oifname": (2, 128, "host"), "type": (3, 32, "host"),
}


def payload_datatype(protocol: str, field: str) -> str:
    """The datatype of header field ``protocol field`` (``tcp dport``: ``inet_service``)."""
    return PAYLOAD.get(protocol, {}).get(field, "integer")
