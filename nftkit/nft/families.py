"""Address families of tables (``table inet filter``) and their NFPROTO numbers.

``ip`` is NFPROTO_IPV4 (2), ``ip6`` NFPROTO_IPV6 (10), ``inet`` NFPROTO_INET (1): the number
every netlink message carries in its ``nfgenmsg`` header.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ADDRESS_FAMILIES",
    "ADDRESS_TYPES",
    "BRIDGE_PRIORITIES",
    "FAMILIES",
    "INET_FAMILIES",
    "NFPROTO",
    "REJECT_ICMP",
    "STANDARD_PRIORITIES",
]

#: family -> NFPROTO_* number.
NFPROTO: Final[dict[str, int]] = {"ip": 2, "ip6": 10, "inet": 1, "arp": 3, "bridge": 7,
                                  "netdev": 5}
#: Every family, in nft's order.
FAMILIES: Final = tuple(NFPROTO)
#: Families whose tables see IP packets (NAT and IP rule expressions live here).
INET_FAMILIES: Final = frozenset({"ip", "ip6", "inet"})
#: Families that name one address type: ``rt ip nexthop``, ``ct original ip6 saddr``.
ADDRESS_FAMILIES: Final = frozenset({"ip", "ip6"})
#: The ICMP type of a bare ``reject`` by the rule's layer-3 family (``icmpx`` otherwise).
REJECT_ICMP: Final[dict[str, str]] = {"ip": "icmp", "ip6": "icmpv6"}
#: The address datatype of each of those families (``rt ip nexthop`` is an ``ipv4_addr``).
ADDRESS_TYPES: Final[dict[str, str]] = {"ip": "ipv4_addr", "ip6": "ipv6_addr"}

#: Standard chain priorities of the ip, ip6, inet, arp and netdev families (nft(8)
#: "PRIORITY"): ``priority filter + 10`` is 10.
STANDARD_PRIORITIES: Final[dict[str, int]] = {
    "raw": -300,
    "mangle": -150,
    "dstnat": -100,
    "filter": 0,
    "security": 50,
    "srcnat": 100,
}
#: Standard chain priorities of the bridge family.
BRIDGE_PRIORITIES: Final[dict[str, int]] = {"dstnat": -300, "filter": -200, "out": 100,
                                            "srcnat": 300}
