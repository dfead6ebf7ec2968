"""Named stateful objects: ``counter http { packets 0 bytes 0 }``, ``ct helper ftp { ... }``.

Each kind has its text keyword (also its JSON key: ``{"ct helper": {...}}``), the word that
lists all of them (``list ct helpers``), the kernel's NFT_OBJECT_* number, and the model class
that holds one (None where nftkit has none yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .families import FAMILIES

__all__ = [
    "CT_L4PROTOS",
    "CT_TIMEOUT_STATES",
    "L3PROTOS",
    "OBJECTS",
    "OBJECT_TYPES",
    "ObjectKind",
    "by_model",
]


@dataclass(frozen=True, slots=True)
class ObjectKind:
    """One kind of named object: ``keyword`` (text and JSON), ``plural`` (``list ...``),
    ``nl_type`` (NFT_OBJECT_*), ``model`` (nftkit's class name)."""

    keyword: str
    plural: str
    nl_type: int
    model: str | None


#: Object kinds by keyword, in nft's listing order.
OBJECTS: Final[dict[str, ObjectKind]] = {
    k.keyword: k
    for k in (
        ObjectKind("counter", "counters", 1, "Counter"),
        ObjectKind("quota", "quotas", 2, "Quota"),
        ObjectKind("ct helper", "ct helpers", 3, "CtHelper"),
        ObjectKind("limit", "limits", 4, "Limit"),
        ObjectKind("tunnel", "tunnels", 6, None),  # nft >= 1.1.3
        ObjectKind("ct timeout", "ct timeouts", 7, "CtTimeout"),
        ObjectKind("secmark", "secmarks", 8, "Secmark"),
        ObjectKind("ct expectation", "ct expectations", 9, "CtExpectation"),
        ObjectKind("synproxy", "synproxys", 10, "Synproxy"),
    )
}
#: Data types of object maps (``map m { type ipv4_addr : counter; }``): the modelled kinds.
OBJECT_TYPES: Final = frozenset(k for k, v in OBJECTS.items() if v.model is not None)


def by_model(name: str) -> ObjectKind | None:
    """The kind whose model class is called ``name`` (``"CtHelper"``), or None."""
    for kind in OBJECTS.values():
        if kind.model == name:
            return kind
    return None


#: What nft reads after ``l3proto``: a family keyword (the kernel decides which it supports).
L3PROTOS: Final = frozenset(FAMILIES)
#: What nft reads after a ct timeout's or expectation's ``protocol`` (parser.y ct_l4protoname).
CT_L4PROTOS: Final = frozenset({"tcp", "udp"})
#: The states a ct timeout policy may name, by protocol (nft's ct.c timeout protocol table).
CT_TIMEOUT_STATES: Final[dict[str, frozenset[str]]] = {
    "tcp": frozenset({"syn_sent", "syn_recv", "established", "fin_wait", "close_wait",
                      "last_ack", "time_wait", "close", "syn_sent2", "retrans", "unack"}),
    "udp": frozenset({"unreplied", "replied"}),
}
