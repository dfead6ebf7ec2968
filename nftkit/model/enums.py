"""Enumerations whose values are the exact nft spellings."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ChainPolicy",
    "ChainType",
    "Family",
    "FlowtableFlag",
    "Hook",
    "SetFlag",
    "SetPolicy",
    "TableFlag",
    "VALID_HOOKS",
]


class Family(StrEnum):
    """Address family of a table: ``table inet filter``."""

    IP = "ip"
    IP6 = "ip6"
    INET = "inet"
    ARP = "arp"
    BRIDGE = "bridge"
    NETDEV = "netdev"


class Hook(StrEnum):
    """Netfilter hook of a base chain: ``type filter hook input priority 0;``."""

    PREROUTING = "prerouting"
    INPUT = "input"
    FORWARD = "forward"
    OUTPUT = "output"
    POSTROUTING = "postrouting"
    INGRESS = "ingress"
    EGRESS = "egress"


class ChainType(StrEnum):
    """Base chain type: ``type nat``."""

    FILTER = "filter"
    NAT = "nat"
    ROUTE = "route"


class ChainPolicy(StrEnum):
    """Base chain policy: ``policy drop;``."""

    ACCEPT = "accept"
    DROP = "drop"


class TableFlag(StrEnum):
    """Table flags: ``flags dormant`` (``owner``/``persist`` need nft >= 1.0.1/1.0.7)."""

    DORMANT = "dormant"
    OWNER = "owner"
    PERSIST = "persist"


class SetFlag(StrEnum):
    """Set and map flags: ``flags interval,timeout``."""

    CONSTANT = "constant"
    INTERVAL = "interval"
    TIMEOUT = "timeout"
    DYNAMIC = "dynamic"


class SetPolicy(StrEnum):
    """Set lookup policy: ``policy memory``."""

    PERFORMANCE = "performance"
    MEMORY = "memory"


class FlowtableFlag(StrEnum):
    """Flowtable flags: ``flags offload``."""

    OFFLOAD = "offload"


_IP_HOOKS = frozenset(
    {Hook.PREROUTING, Hook.INPUT, Hook.FORWARD, Hook.OUTPUT, Hook.POSTROUTING}
)

#: Which hooks each family accepts for base chains (``inet`` also has ``ingress``, kernel >= 5.10).
VALID_HOOKS: dict[Family, frozenset[Hook]] = {
    Family.IP: _IP_HOOKS,
    Family.IP6: _IP_HOOKS,
    Family.INET: _IP_HOOKS | {Hook.INGRESS},
    Family.ARP: frozenset({Hook.INPUT, Hook.OUTPUT}),
    Family.BRIDGE: _IP_HOOKS,
    Family.NETDEV: frozenset({Hook.INGRESS, Hook.EGRESS}),
}
