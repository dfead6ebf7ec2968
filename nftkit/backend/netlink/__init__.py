"""The netlink path: nf_tables messages built from the model, sent as one nfnetlink batch.

``Nftables`` (``nftkit.backend.router``) sends a transaction this way when every op can be
written exactly as nft would write it, and otherwise through libnftables. The modules, from
the bottom up (each imports only those before it; no cycle)::

    _tlv       netlink attributes (type-length-value)
    _socket    a NETLINK_NETFILTER socket in any namespace: batches, acks, GET requests
    _types     set key/data types and nft's userdata (``KeySpec``)
    _facts     read back: the ruleset generation, a set's type, table flags, chain devices
    _elements  THE element encoder (a packer per set, with a generic fallback)
    _exprs     rule expressions (selectors, values, registers, lookups)
    _rules     rules: statements to expressions, rule userdata
    _objects   messages per object: tables, chains, sets, elements, rules, deletes, flushes
    _txn       ``NetlinkPath``: a transaction's ops as messages, what is known about sets,
               handles from the kernel's echo, ``apply`` (run or dry-run a transaction)

Importing this package needs neither libnftables nor cffi.
"""

from __future__ import annotations

from ._socket import NetlinkSocket
from ._txn import MissingSet, NetlinkPath

__all__ = ["MissingSet", "NetlinkPath", "NetlinkSocket"]
