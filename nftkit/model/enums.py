"""Enumerations whose values are the exact nft spellings."""

from __future__ import annotations

from enum import StrEnum

from ..errors import ValidationError

__all__ = [
    "VALID_CHAIN_TYPES",
    "VALID_HOOKS",
    "ChainPolicy",
    "ChainType",
    "Family",
    "FlowtableFlag",
    "Hook",
    "NftEnum",
    "SetFlag",
    "SetPolicy",
    "SynproxyFlag",
    "TableFlag",
]


class NftEnum(StrEnum):
    """A StrEnum of nft spellings that is its own attrs converter: ``LimitUnit("bytes")`` is
    ``LimitUnit.BYTES``; any other value raises ValidationError listing the choices."""

    @classmethod
    def _missing_(cls, value: object) -> None:
        choices = ", ".join(m.value for m in cls)
        raise ValidationError(cls.__name__, None, f"{value!r} is not one of: {choices}")


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
    """Set and map flags. Declared in JSON order (``["interval", "timeout", "dynamic"]``); the
    text prints ``flags constant,dynamic,interval,timeout``. nft 1.0.6 leaves ``dynamic`` out
    of its JSON."""

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


class SynproxyFlag(StrEnum):
    """Synproxy options: ``timestamp sack-perm`` (printed in this order)."""

    TIMESTAMP = "timestamp"
    SACK_PERM = "sack-perm"


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

_NAT_HOOKS = frozenset({Hook.PREROUTING, Hook.INPUT, Hook.OUTPUT, Hook.POSTROUTING})
_ROUTE_HOOKS = frozenset({Hook.OUTPUT})

#: Which chain types each family accepts, and on which hooks (nft(8) "CHAINS"): ``nat`` only in
#: ip/ip6/inet on prerouting/input/output/postrouting, ``route`` only on their output hook;
#: arp, bridge and netdev have ``filter`` chains only.
VALID_CHAIN_TYPES: dict[Family, dict[ChainType, frozenset[Hook]]] = {
    fam: {ChainType.FILTER: VALID_HOOKS[fam]}
    | ({ChainType.NAT: _NAT_HOOKS, ChainType.ROUTE: _ROUTE_HOOKS}
       if fam in (Family.IP, Family.IP6, Family.INET) else {})
    for fam in Family
}
