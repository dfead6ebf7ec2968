"""Symbol and bitmask tables of nft's symbolic datatypes (``nft describe ct_state``).

``ct state established,related`` is the bitmask 2 | 4; ``icmp type echo-request`` is 8;
``meta pkttype host`` is 0. ``SYMBOLS`` holds the names nft prints (the first name of a number
is its spelling); ``INPUT_SYMBOLS`` the further names nft reads (aliases, and tables nftkit
prints by number or by the model's own value).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACCEPTED",
    "BARE_VERDICTS",
    "BINOP_WORDS",
    "FIB_FLAGS",
    "INPUT_SYMBOLS",
    "LOG_LEVELS",
    "NAMES",
    "NAT_FLAGS",
    "PROTO_KEYWORDS",
    "RELOP_WORDS",
    "SET_FLAGS",
    "SYMBOLS",
    "SYSTEM_TABLES",
    "TCP_OPTION_KINDS",
    "VERDICTS",
    "symbol_name",
]

#: Symbol tables nftkit prints by name: an integer value of these datatypes prints as its
#: symbol, as nft does, and ranges of some by number (``arp operation 1-2``).
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
    # bitmask types (``datatypes.BITMASKS``)
    "ct_state": {"invalid": 1, "established": 2, "related": 4, "new": 8, "untracked": 64},
    "ct_status": {"expected": 1, "seen-reply": 2, "assured": 4, "confirmed": 8, "snat": 16,
                  "dnat": 32, "dying": 512},
    "ct_event": {"new": 1, "related": 2, "destroy": 4, "reply": 8, "assured": 16,
                 "protoinfo": 32, "helper": 64, "mark": 128, "seqadj": 256, "secmark": 512,
                 "label": 1024},
    "tcp_flag": {"fin": 1, "syn": 2, "rst": 4, "psh": 8, "ack": 16, "urg": 32, "ecn": 64,
                 "cwr": 128},
}

#: Symbols nft reads besides the ones in ``SYMBOLS`` (``nft describe``: aliases listed after
#: the canonical name of the same number), and the tables ``SYMBOLS`` leaves out.
INPUT_SYMBOLS: Final[dict[str, dict[str, int]]] = {
    "ethertype": {"vlan": 0x8100},
    "pkt_type": {"unicast": 0},
    "dscp": {"df": 0, "be": 0, "lephb": 1, "va": 0x2C},
    "icmpv6_type": {"mld-listener-reduction": 132},
    "fib_addrtype": {"unspec": 0, "unicast": 1, "local": 2, "broadcast": 3, "anycast": 4,
                     "multicast": 5, "blackhole": 6, "unreachable": 7, "prohibit": 8},
    "iface_type": {"ether": 1, "ppp": 0x200, "ipip": 0x300, "ipip6": 0x301,
                   "loopback": 0x304, "sit": 0x308, "ipgre": 0x30A},
    "dccp_pkttype": {"request": 0, "response": 1, "data": 2, "ack": 3, "dataack": 4,
                     "closereq": 5, "close": 6, "reset": 7, "sync": 8, "syncack": 9},
    "igmp_type": {"membership-query": 17, "membership-report-v1": 18,
                  "membership-report-v2": 22, "membership-report-v3": 34, "leave-group": 23},
    "mh_type": {"binding-refresh-request": 0, "home-test-init": 1, "careof-test-init": 2,
                "home-test": 3, "careof-test": 4, "binding-update": 5,
                "binding-acknowledgement": 6, "binding-error": 7, "fast-binding-update": 8,
                "fast-binding-acknowledgement": 9, "fast-binding-advertisement": 10,
                "experimental-mobility-header": 11, "home-agent-switch-message": 12},
}

#: Every name nft reads per datatype: ``SYMBOLS`` and ``INPUT_SYMBOLS`` together.
ACCEPTED: Final[dict[str, dict[str, int]]] = {
    name: {**SYMBOLS.get(name, {}), **INPUT_SYMBOLS.get(name, {})}
    for name in (*SYMBOLS, *INPUT_SYMBOLS)
}

#: number -> name per ``SYMBOLS`` table; the first name of a number is nft's spelling.
NAMES: Final[dict[str, dict[int, str]]] = {
    dt: {number: name for name, number in reversed(table.items())}
    for dt, table in SYMBOLS.items()
}

#: nft's scanner reads these words as protocol keywords, and its grammar turns them into
#: protocol numbers wherever a value stands (``meta l4proto icmpv6`` with no such alias in
#: /etc/protocols).
PROTO_KEYWORDS: Final[dict[str, int]] = {
    "tcp": 6, "udp": 17, "udplite": 136, "esp": 50, "ah": 51, "icmp": 1, "igmp": 2,
    "icmpv6": 58, "comp": 108, "dccp": 33, "sctp": 132,
}

#: TCP option kinds nft knows by name (``tcp option 2`` is ``tcp option maxseg``).
TCP_OPTION_KINDS: Final[dict[int, str]] = {
    0: "eol", 1: "nop", 2: "maxseg", 3: "window", 4: "sack-perm", 5: "sack", 8: "timestamp",
    19: "md5sig", 30: "mptcp", 34: "fastopen",
}

#: ``log level``: the syslog level names, by number (``log level warn`` is 4).
LOG_LEVELS: Final = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
                     "audit")
#: NAT flags (``snat to 10.0.0.1 random,persistent``) as NF_NAT_RANGE_* bits.
NAT_FLAGS: Final[dict[str, int]] = {"random": 4, "persistent": 8, "fully-random": 16}
#: A set's NFTA_SET_FLAGS bits (enum nft_set_flags); ``anonymous`` is set for ``{ 22, 80 }``
#: and inline maps, ``eval`` is the ``dynamic`` flag, ``concat`` marks concatenated intervals.
SET_FLAGS: Final[dict[str, int]] = {"anonymous": 0x1, "constant": 0x2, "interval": 0x4,
                                    "map": 0x8, "timeout": 0x10, "eval": 0x20, "object": 0x40,
                                    "concat": 0x80}
#: ``fib saddr . iif oif``: the lookup flags as NFTA_FIB_F_* bits.
FIB_FLAGS: Final[dict[str, int]] = {"saddr": 1, "daddr": 2, "mark": 4, "iif": 8, "oif": 16}

#: Verdicts (``accept``, ``jump other``), in nft's order; the first four take no chain.
VERDICTS: Final = ("accept", "drop", "continue", "return", "jump", "goto")
BARE_VERDICTS: Final = VERDICTS[:4]
#: Operator words nft reads -> the symbol it prints and writes in JSON (``and`` is ``&``).
BINOP_WORDS: Final[dict[str, str]] = {"and": "&", "or": "|", "xor": "^", "lshift": "<<",
                                      "rshift": ">>"}
RELOP_WORDS: Final[dict[str, str]] = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">",
                                      "le": "<=", "ge": ">="}

#: Datatypes whose symbols nft reads from a system file: (paths, name column first?).
SYSTEM_TABLES: Final[dict[str, tuple[tuple[str, ...], bool]]] = {
    "inet_proto": (("/etc/protocols",), True),
    "devgroup": (("/etc/iproute2/group", "/usr/share/iproute2/group"), False),
    "realm": (("/etc/iproute2/rt_realms", "/usr/share/iproute2/rt_realms"), False),
}


def symbol_name(datatype: str, value: int) -> str | None:
    """The symbol nft prints for ``value`` of ``datatype`` (``8`` of ``ct_state`` is ``new``),
    or None when nft prints a number."""
    table = NAMES.get(datatype)
    return None if table is None else table.get(value)
