"""nft datatypes: which datatype an expression has, and how values of it are written.

The text renderer uses this to print a value the way nft does (a mark as ``0x00000010``, an
interface name as ``"lo"``, a port as ``22``, a conntrack expiration as ``1m30s``); the JSON
reader uses it to turn strings into semantic values (addresses become ``ipaddress`` objects).
nft's JSON already carries symbolic constants as strings (``"established"``, ``"tcp"``), so the
datatype mostly decides how *numbers* and *strings* print in text.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Final

import attrs

from .expressions import (
    BinopExpr,
    ConcatExpr,
    CtExpr,
    DccpoptExpr,
    Expr,
    ExthdrExpr,
    FibExpr,
    IpoptExpr,
    IpsecExpr,
    JhashExpr,
    MetaExpr,
    NumgenExpr,
    OsfExpr,
    PayloadExpr,
    RtExpr,
    SctpChunkExpr,
    SocketExpr,
    SymhashExpr,
    TcpoptExpr,
)

__all__ = [
    "BITMASKS",
    "DATATYPES",
    "KINDS",
    "NUMERIC_RANGES",
    "SYMBOLS",
    "Datatype",
    "datatype",
    "expr_datatype",
    "format_addr",
    "symbol",
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
    "symhex",   # symbolic constants as given, integers in hex: ``ef``, ``0x3c``
    "time",     # seconds as a duration: ``1m30s``
    "bool",     # ``exists``/``missing`` (JSON ``true``/``false``)
    "concat",   # a concatenation: each part by its own datatype (``parts``)
})


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
        _dt("inet_proto", "symbol", bits=8),
        _dt("nf_proto", "symbol", bits=8),
        _dt("ethertype", "symhex", 4, 16),
        _dt("pkt_type", "symbol", bits=8),
        _dt("arp_op", "symbol", bits=16),
        _dt("arp_hrd", "symbol", bits=16),
        _dt("icmp_type", "symbol", bits=8),
        _dt("icmp_code", "symbol", bits=8),
        _dt("icmpv6_type", "symbol", bits=8),
        _dt("icmpv6_code", "symbol", bits=8),
        _dt("icmpx_code", "symbol", bits=8),
        _dt("igmp_type", "symbol", bits=8),
        _dt("mh_type", "symbol", bits=8),
        _dt("tcp_flag", "symhex", 0, 8),
        _dt("dccp_pkttype", "symbol", bits=4),
        _dt("dscp", "symhex", 2, 6),
        _dt("ecn", "symhex", 2, 2),
        _dt("ct_state", "symhex", bits=32),
        _dt("ct_dir", "symbol", bits=8),
        _dt("ct_status", "symhex", bits=32),
        _dt("ct_event", "symhex", bits=32),
        _dt("ct_helper", "string"),
        _dt("tc_handle", "symbol", bits=32),
        _dt("realm", "qsymbol", bits=32),
        _dt("devgroup", "qsymbol", bits=32),
        _dt("uid", "symbol", bits=32),
        _dt("gid", "symbol", bits=32),
        _dt("day", "qsymbol", bits=8),
        _dt("hour", "qsymbol", bits=32),
        _dt("time", "qsymbol", bits=64),
        _dt("relative_time", "time", bits=32),
        _dt("fib_addrtype", "symbol", bits=32),
        _dt("boolean", "bool", bits=1),
        _dt("osf_name", "string"),
        _dt("cgroupsv2", "string"),
        _dt("sctp_chunk_type", "symbol", bits=8),
        _dt("verdict", "symbol"),
    )
}


#: Symbol tables of nft's symbolic datatypes (``nft describe``): the text renderer prints an
#: integer value by its symbol, as nft does, and ranges of some by number (``arp operation 1-2``).
SYMBOLS: Final[dict[str, dict[str, int]]] = {
    "arp_op": {"request": 1, "reply": 2, "rrequest": 3, "rreply": 4, "inrequest": 8,
               "inreply": 9, "nak": 10},
    "icmp_type": {"echo-reply": 0, "destination-unreachable": 3, "source-quench": 4,
                  "redirect": 5, "echo-request": 8, "router-advertisement": 9,
                  "router-solicitation": 10, "time-exceeded": 11, "parameter-problem": 12,
                  "timestamp-request": 13, "timestamp-reply": 14, "info-request": 15,
                  "info-reply": 16, "address-mask-request": 17, "address-mask-reply": 18},
    "icmp_code": {"net-unreachable": 0, "host-unreachable": 1, "prot-unreachable": 2,
                  "port-unreachable": 3, "frag-needed": 4, "net-prohibited": 9,
                  "host-prohibited": 10, "admin-prohibited": 13},
    "icmpv6_type": {"destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3,
                    "parameter-problem": 4, "echo-request": 128, "echo-reply": 129,
                    "mld-listener-query": 130, "mld-listener-report": 131,
                    "mld-listener-done": 132, "nd-router-solicit": 133,
                    "nd-router-advert": 134, "nd-neighbor-solicit": 135,
                    "nd-neighbor-advert": 136, "nd-redirect": 137, "router-renumbering": 138,
                    "ind-neighbor-solicit": 141, "ind-neighbor-advert": 142,
                    "mld2-listener-report": 143},
    "icmpv6_code": {"no-route": 0, "admin-prohibited": 1, "addr-unreachable": 3,
                    "port-unreachable": 4, "policy-fail": 5, "reject-route": 6},
    "icmpx_code": {"port-unreachable": 1, "admin-prohibited": 3, "no-route": 0,
                   "host-unreachable": 2},
    "nf_proto": {"ipv4": 2, "ipv6": 10},
    "ct_dir": {"original": 0, "reply": 1},
    "pkt_type": {"host": 0, "broadcast": 1, "multicast": 2, "other": 3},
    "day": {"Sunday": 0, "Monday": 1, "Tuesday": 2, "Wednesday": 3, "Thursday": 4,
            "Friday": 5, "Saturday": 6},
    "ethertype": {"ip": 0x0800, "arp": 0x0806, "ip6": 0x86DD, "8021q": 0x8100,
                  "8021ad": 0x88A8},
    "ecn": {"not-ect": 0, "ect1": 1, "ect0": 2, "ce": 3},
    "dscp": {"cs0": 0, "cs1": 8, "cs2": 16, "cs3": 24, "cs4": 32, "cs5": 40, "cs6": 48,
             "cs7": 56, "af11": 10, "af12": 12, "af13": 14,
             "af21": 18, "af22": 20, "af23": 22, "af31": 26, "af32": 28, "af33": 30,
             "af41": 34, "af42": 36, "af43": 38, "ef": 46},
    # bitmask types (``BITMASKS``)
    "ct_state": {"invalid": 1, "established": 2, "related": 4, "new": 8, "untracked": 64},
    "ct_status": {"expected": 1, "seen-reply": 2, "assured": 4, "confirmed": 8, "snat": 16,
                  "dnat": 32, "dying": 512},
    "ct_event": {"new": 1, "related": 2, "destroy": 4, "reply": 8, "assured": 16,
                 "protoinfo": 32, "helper": 64, "mark": 128, "seqadj": 256, "secmark": 512,
                 "label": 1024},
    "tcp_flag": {"fin": 1, "syn": 2, "rst": 4, "psh": 8, "ack": 16, "urg": 32, "ecn": 64,
                 "cwr": 128},
}
#: Datatypes whose base type is nft's ``bitmask``.
BITMASKS: Final = frozenset({"ct_state", "ct_status", "ct_event", "tcp_flag"})
#: Types nft prints in ranges by number rather than by symbol.
NUMERIC_RANGES: Final = frozenset({"arp_op", "icmp_type", "icmp_code", "icmpv6_type",
                                   "icmpv6_code", "icmpx_code", "inet_proto"})


#: number -> name per symbolic datatype; the first name of a number is nft's spelling.
_NAMES: Final[dict[str, dict[int, str]]] = {
    dt: {number: name for name, number in reversed(table.items())}
    for dt, table in SYMBOLS.items()
}


def symbol(dt: Datatype | None, value: int) -> str | None:
    """The symbol nft prints for integer ``value`` of datatype ``dt`` (``8`` of ``ct_state``
    is ``new``), or None when nft prints a number."""
    # a bitmask value prints by name only when it is exactly one flag: nft prints 0xff
    if dt is None:
        return None
    table = _NAMES.get(dt.name)
    return None if table is None else table.get(value)


def format_addr(addr: IPv4Address | IPv6Address) -> str:
    """An address as nft prints it (glibc ``inet_ntop``), in text and JSON alike.

    IPv6 differs from Python's ``str`` where the first 96 bits are zero (``::18.52.18.52``) or
    the address is IPv4-mapped (``::ffff:1.2.3.4``).
    """
    if isinstance(addr, IPv4Address):
        return str(addr)
    packed = addr.packed
    if packed[:10] == bytes(10) and (packed[10:12] == b"\xff\xff" or (
            packed[10:12] == bytes(2) and packed[12:14] != bytes(2))):
        prefix = "::ffff:" if packed[10:12] == b"\xff\xff" else "::"
        return prefix + str(IPv4Address(packed[12:]))
    return str(addr)


def datatype(name: str | None) -> Datatype | None:
    """The datatype called ``name`` (None for None; unknown names give an ``integer`` alike)."""
    if name is None:
        return None
    return DATATYPES.get(name) or Datatype(name=name)


_META_TYPES: Final[dict[str, str]] = {
    "mark": "mark", "iif": "iface_index", "oif": "iface_index", "sdif": "iface_index",
    "iifname": "ifname", "oifname": "ifname", "sdifname": "ifname", "ibrname": "ifname",
    "obrname": "ifname", "iiftype": "iface_type", "oiftype": "iface_type",
    "iifkind": "ifkind", "oifkind": "ifkind", "l4proto": "inet_proto",
    "protocol": "ethertype", "ibrvproto": "ethertype", "nfproto": "nf_proto",
    "priority": "tc_handle", "rtclassid": "realm", "pkttype": "pkt_type",
    "iifgroup": "devgroup", "oifgroup": "devgroup", "skuid": "uid", "skgid": "gid",
    "ipsec": "boolean", "time": "time", "day": "day", "hour": "hour",
    "cgroup": "integer", "broute": "boolean",
}
_CT_TYPES: Final[dict[str, str]] = {
    "mark": "mark", "state": "ct_state", "direction": "ct_dir", "status": "ct_status",
    "event": "ct_event", "expiration": "relative_time", "helper": "ct_helper",
    "l3proto": "nf_proto", "protocol": "inet_proto", "proto-src": "inet_service",
    "proto-dst": "inet_service", "label": "ct_label", "zone": "integer",
}
_RT_TYPES: Final[dict[str, str]] = {
    "classid": "realm", "mtu": "integer", "ipsec": "boolean",
}
_SOCKET_TYPES: Final[dict[str, str]] = {
    "mark": "mark", "transparent": "integer", "wildcard": "integer", "cgroupv2": "cgroupsv2",
}
_FIB_TYPES: Final[dict[str, str]] = {
    "oif": "iface_index", "oifname": "ifname", "type": "fib_addrtype", "check": "boolean",
}
_ADDR = {"ip": "ipv4_addr", "ip6": "ipv6_addr"}

# Payload fields: (protocol, field) -> datatype; fields not listed are plain integers.
_PORTS = {"sport": "inet_service", "dport": "inet_service"}
_PAYLOAD_TYPES: Final[dict[str, dict[str, str]]] = {
    "ether": {"saddr": "ether_addr", "daddr": "ether_addr", "type": "ethertype"},
    "vlan": {"type": "ethertype"},
    "arp": {"htype": "arp_hrd", "ptype": "ethertype", "operation": "arp_op",
            "saddr ether": "ether_addr", "daddr ether": "ether_addr",
            "saddr ip": "ipv4_addr", "daddr ip": "ipv4_addr"},
    "ip": {"saddr": "ipv4_addr", "daddr": "ipv4_addr", "protocol": "inet_proto",
           "dscp": "dscp", "ecn": "ecn"},
    "ip6": {"saddr": "ipv6_addr", "daddr": "ipv6_addr", "nexthdr": "inet_proto",
            "dscp": "dscp", "ecn": "ecn"},
    "icmp": {"type": "icmp_type", "code": "icmp_code", "gateway": "ipv4_addr"},
    "icmpv6": {"type": "icmpv6_type", "code": "icmpv6_code", "taddr": "ipv6_addr",
               "daddr": "ipv6_addr"},
    "igmp": {"type": "igmp_type", "group": "ipv4_addr"},
    "tcp": {**_PORTS, "flags": "tcp_flag"},
    "udp": _PORTS, "udplite": _PORTS, "sctp": _PORTS, "dccp": {**_PORTS, "type": "dccp_pkttype"},
    "th": _PORTS,
    "ah": {"nexthdr": "inet_proto"}, "esp": {},
    "comp": {"nexthdr": "inet_proto", "flags": "hex_integer"},
}
# Extension header fields that carry a protocol number or an address.
_EXTHDR_TYPES: Final[dict[str, str]] = {"nexthdr": "inet_proto", "addr": "ipv6_addr",
                                         "type": "mh_type"}


def expr_datatype(e: Expr) -> Datatype | None:
    """The datatype of an expression that selects a value (lhs of a match, key of a map)."""
    if isinstance(e, ConcatExpr):
        parts = tuple(expr_datatype(x) for x in e.exprs)
        return Datatype(name=" . ".join(p.name if p else "?" for p in parts), kind="concat",
                        parts=parts)
    name = _datatype_name(e)
    if name is None:
        return None
    return DATATYPES.get(name) or Datatype(name=name)


def _datatype_name(e: Expr) -> str | None:
    rule = _RULES.get(type(e))
    return None if rule is None else rule(e)


def _ct(e: CtExpr) -> str:
    if e.key in ("saddr", "daddr"):
        return _ADDR.get(e.family or "", "integer")
    if e.key in ("ip saddr", "ip daddr", "ip6 saddr", "ip6 daddr"):
        return _ADDR[e.key.split()[0]]
    return _CT_TYPES.get(e.key, "integer")


def _payload(e: PayloadExpr) -> str:
    if e.protocol is None or e.field is None:
        return "hex_integer"  # raw payloads print in hex
    return _PAYLOAD_TYPES.get(e.protocol, {}).get(e.field, "integer")


def _exthdr(e: ExthdrExpr) -> str:
    if e.field is None:
        return "boolean"  # presence: exists/missing
    if e.field == "type" and e.name != "mh":
        return "integer"  # only the mobility header's type is an mh_type (rt type is not)
    return _EXTHDR_TYPES.get(e.field, "integer")


def _option(e: TcpoptExpr | IpoptExpr | SctpChunkExpr) -> str:
    return "boolean" if e.field is None and getattr(e, "base", None) is None else "integer"


def _rt(e: RtExpr) -> str:
    if e.key == "nexthop":
        return _ADDR.get(e.family or "ip", "ipv4_addr")
    return _RT_TYPES.get(e.key, "integer")


def _binop(e: BinopExpr) -> str | None:
    # nft gives a bitwise operation (shifts included) the type of its left operand
    return _datatype_name(e.left)


#: How each selector's datatype is found, by expression class.
_RULES: Final[dict[type, Callable[[Any], str | None]]] = {
    MetaExpr: lambda e: _META_TYPES.get(e.key, "integer"),
    CtExpr: _ct,
    PayloadExpr: _payload,
    ExthdrExpr: _exthdr,
    TcpoptExpr: _option,
    IpoptExpr: _option,
    SctpChunkExpr: _option,
    DccpoptExpr: lambda e: "boolean",
    OsfExpr: lambda e: "osf_name",
    RtExpr: _rt,
    SocketExpr: lambda e: _SOCKET_TYPES.get(e.key, "integer"),
    FibExpr: lambda e: _FIB_TYPES.get(e.result, "integer"),
    IpsecExpr: lambda e: _ADDR[e.family] if e.family is not None else "integer",
    NumgenExpr: lambda e: "integer",
    JhashExpr: lambda e: "integer",
    SymhashExpr: lambda e: "integer",
    BinopExpr: _binop,
}
