"""A kube-proxy-style service proxy on nftkit, in two layouts: the *grouped* one
(``ServiceProxy``) and kube-proxy's own *classic* one (``ClassicServiceProxy``, below).

The grouped layout:

Services are grouped by their endpoint count k. Per group there is one set of service keys and
one DNAT map keyed by (service IP . protocol . port . ``numgen random mod k``), each bound by a
single rule, so adding, changing or removing a service only adds and deletes set elements: the
cost of a sync does not depend on how many services exist, and the kernel never sees a
quadratic shape (see ``nftkit.lint``). Features:

- ClusterIP: ``ip daddr . meta l4proto . th dport @svc-k2 dnat ip to ip daddr . meta l4proto .
  th dport . numgen random mod 2 map @ep-k2``.
- NodePort (on any local address): ``fib daddr type local jump nodeports``, then
  ``meta l4proto . th dport @np-k2 dnat ip to meta l4proto . th dport . numgen random mod 2 map
  @np-ep-k2``.
- Session affinity (ClientIP) with a dynamic map remembering each client's endpoint index::

      ip daddr . meta l4proto . th dport @aff-k2 meta mark set numgen random mod 2 \\
          meta mark set ip saddr . ip daddr . meta l4proto . th dport map @affinity
      ip daddr . meta l4proto . th dport @aff-k2 \\
          update @affinity { ip saddr . ip daddr . meta l4proto . th dport : meta mark } \\
          dnat ip to ip daddr . meta l4proto . th dport . meta mark map @aff-ep-k2

  The first rule picks a random index and replaces it with the remembered one when there is
  one (a missed map lookup ends the rule); the second remembers it (``update`` refreshes the
  timeout of an existing entry and keeps its data) and translates. The packet mark of the
  first packet of an affinity connection serves as the scratch register. When an affinity
  service's endpoints change, its remembered entries are deleted.
- Masquerade of off-cluster sources: ``ct status dnat ip saddr != CLUSTER masquerade``.
- Services without endpoints are rejected (``ip daddr . meta l4proto . th dport
  @no-endpoints reject``) in prerouting and output, before NAT.

Syncs: ``full_sync`` replaces the whole table in one atomic batch; ``sync`` sends only the
elements that changed (one atomic ``Transaction``, which ``Nftables`` sends as one direct
netlink batch when it can), after creating, in a batch of its own, the empty sets, maps and
rules of a group when a service is the first with its endpoint count.

The classic layout, as kube-proxy's nftables mode writes it (``ClassicServiceProxy``): a
``service-ips`` verdict map whose elements ``goto`` one chain per service, which picks an
endpoint chain with ``numgen random mod k vmap { 0 : goto ep-a, 1 : goto ep-b }``; one chain per
endpoint (``dnat``); ``service-nodeports`` and ``no-endpoint-services`` verdict maps; ClientIP
affinity with one dynamic set per endpoint (``ip saddr @aff-EP goto EP`` in the service chain,
``update @aff-EP { ip saddr }`` in the endpoint chain); masquerade by packet mark. A one-service
change is a handful of chains, rules and elements in one ``Transaction``, which ``Nftables``
sends as one netlink batch with the anonymous vmap declared in it, as nft does. What it costs
the kernel grows with the table (``nftkit.lint`` says how much: ``W-jump-graph``,
``W-anonymous-sets``); docs/performance.md, "Classic layout", has the measurements.

Run it (root; builds both rulesets for a few services and prints them, nothing is applied)::

    python3 examples/service_proxy.py
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Protocol

from nftkit import (
    Chain,
    ConcatExpr,
    CtExpr,
    FibExpr,
    Map,
    MapExpr,
    MapStmt,
    MatchStmt,
    MetaExpr,
    NatStmt,
    NumgenExpr,
    PayloadExpr,
    PrefixExpr,
    RejectStmt,
    Rule,
    Ruleset,
    Set,
    SetExpr,
    SetRefExpr,
    SetStmt,
    Table,
    Transaction,
    VerdictExpr,
    VerdictMapStmt,
    gc_paused,
    lint,
    to_text,
)
from nftkit.errors import UnsupportedError
from nftkit.model.expressions import BinopExpr
from nftkit.model.statements import MangleStmt

__all__ = ["CLUSTER_CIDR", "ClassicServiceProxy", "Endpoint", "ServicePort", "ServiceProxy",
           "SyncStats", "build_classic_table", "build_table"]

#: Where pods live; traffic from elsewhere to a service is masqueraded.
CLUSTER_CIDR = IPv4Network("10.128.0.0/10")
Key = tuple[Any, ...]
#: set or map name -> {key: data (None for a set)}
Elements = dict[str, dict[Key, Key | None]]


@dataclass(frozen=True)
class Endpoint:
    ip: IPv4Address
    port: int


@dataclass(frozen=True)
class ServicePort:
    """One port of a service. ``affinity`` turns on ClientIP session affinity."""

    name: str
    cluster_ip: IPv4Address
    port: int
    endpoints: tuple[Endpoint, ...] = ()
    proto: str = "tcp"
    node_port: int | None = None
    affinity: bool = False

    @property
    def key(self) -> Key:
        return (self.cluster_ip, self.proto, self.port)

    @property
    def k(self) -> int:
        return len(self.endpoints)


class Backend(Protocol):
    """What the proxy needs of ``nftkit.Nftables`` (a test may pass another implementation)."""

    def run(self, txn: Transaction, *, handles: bool = ...) -> Any: ...

    def run_text(self, commands: str) -> str: ...

    def list_map(self, family: str, table: str, name: str) -> Map: ...


# --- the ruleset ---------------------------------------------------------------------------

_DADDR = PayloadExpr(protocol="ip", field="daddr")
_SADDR = PayloadExpr(protocol="ip", field="saddr")
_PROTO = MetaExpr(key="l4proto")
_DPORT = PayloadExpr(protocol="th", field="dport")
_MARK = MetaExpr(key="mark")
_KEY = ConcatExpr(exprs=(_DADDR, _PROTO, _DPORT))
_NP_KEY = ConcatExpr(exprs=(_PROTO, _DPORT))
_CLIENT_KEY = ConcatExpr(exprs=(_SADDR, _DADDR, _PROTO, _DPORT))
_TO = ConcatExpr(exprs=(_DADDR, _DPORT))  # the data type of the DNAT maps, by typeof
_SVC_TYPE = ("ipv4_addr", "inet_proto", "inet_service")


def _concat(*exprs: Any) -> ConcatExpr:
    return ConcatExpr(exprs=exprs)


def group_sets(k: int) -> list[Set]:
    """The sets and maps of endpoint-count group k."""
    numgen = NumgenExpr(mode="random", mod=k)
    return [
        Set(name=f"svc-k{k}", type=_SVC_TYPE),
        Map(name=f"ep-k{k}", typeof=_concat(_DADDR, _PROTO, _DPORT, numgen), data_typeof=_TO),
        Set(name=f"aff-k{k}", type=_SVC_TYPE),
        Map(name=f"aff-ep-k{k}", typeof=_concat(_DADDR, _PROTO, _DPORT, _MARK), data_typeof=_TO),
        Set(name=f"np-k{k}", type=("inet_proto", "inet_service")),
        Map(name=f"np-ep-k{k}", typeof=_concat(_PROTO, _DPORT, numgen), data_typeof=_TO),
    ]


def group_rules(k: int) -> tuple[list[Rule], list[Rule]]:
    """Group k's rules: (in chain ``services``, in chain ``nodeports``)."""
    numgen = NumgenExpr(mode="random", mod=k)

    def has(name: str, key: ConcatExpr = _KEY) -> MatchStmt:
        return MatchStmt(left=key, right=SetRefExpr(name=name))

    def dnat(key: ConcatExpr, name: str) -> NatStmt:
        return NatStmt(type="dnat", family="ip", addr=MapExpr(key=key,
                                                              data=SetRefExpr(name=name)))

    services = [
        Rule(stmts=[has(f"aff-k{k}"), MangleStmt(key=_MARK, value=numgen),
                    MangleStmt(key=_MARK, value=MapExpr(key=_CLIENT_KEY,
                                                        data=SetRefExpr(name="affinity")))]),
        Rule(stmts=[has(f"aff-k{k}"),
                    MapStmt(op="update", elem=_CLIENT_KEY, data=_MARK, map="affinity"),
                    dnat(_concat(_DADDR, _PROTO, _DPORT, _MARK), f"aff-ep-k{k}")]),
        Rule(stmts=[has(f"svc-k{k}"), dnat(_concat(_DADDR, _PROTO, _DPORT, numgen), f"ep-k{k}")]),
    ]
    nodeports = [Rule(stmts=[has(f"np-k{k}", _NP_KEY),
                             dnat(_concat(_PROTO, _DPORT, numgen), f"np-ep-k{k}")])]
    return services, nodeports


def build_table(services: Iterable[ServicePort], *, name: str = "nftkit-proxy",
                cluster_cidr: IPv4Network = CLUSTER_CIDR,
                affinity_timeout: int = 10_800, elements: Elements | None = None) -> Table:
    """The whole table for ``services`` (``affinity_timeout`` in seconds, kube-proxy's
    default 3h); ``elements``: ``desired_elements(services)`` if the caller has it already."""
    services = list(services)
    if elements is None:
        elements = desired_elements(services)
    groups = sorted({s.k for s in services if s.k})
    sets: list[Set] = [
        Map(name="affinity", type=("ipv4_addr", *_SVC_TYPE), data_type=("mark",),
            flags=["dynamic", "timeout"], timeout=affinity_timeout * 1000),
        Set(name="no-endpoints", type=_SVC_TYPE),
    ]
    svc_rules = [Rule(stmts=[MatchStmt(left=FibExpr(result="type", flags=["daddr"]),
                                       right="local"),
                             VerdictExpr(kind="jump", target="nodeports")])]
    np_rules: list[Rule] = []
    for k in groups:
        sets += group_sets(k)
        more_svc, more_np = group_rules(k)
        svc_rules += more_svc
        np_rules += more_np
    sets = [_with_elements(s, elements.get(s.name, {})) for s in sets]
    jump = Rule(stmts=[VerdictExpr(kind="jump", target="services")])
    reject = Rule(stmts=[MatchStmt(left=_KEY, right=SetRefExpr(name="no-endpoints")),
                         RejectStmt()])
    masq = Rule(stmts=[MatchStmt(left=CtExpr(key="status"), op="in", right="dnat"),
                       MatchStmt(left=_SADDR, op="!=", right=PrefixExpr(
                           addr=cluster_cidr.network_address, len=cluster_cidr.prefixlen)),
                       NatStmt(type="masquerade")])
    chains = [
        Chain(name="services", rules=svc_rules),
        Chain(name="nodeports", rules=np_rules),
        Chain.base("reject-prerouting", type="filter", hook="prerouting",
                   priority="dstnat - 10", policy="accept", rules=[reject]),
        Chain.base("reject-output", type="filter", hook="output", priority=-110,
                   policy="accept", rules=[reject]),
        Chain.base("nat-prerouting", type="nat", hook="prerouting", priority="dstnat",
                   policy="accept", rules=[jump]),
        Chain.base("nat-output", type="nat", hook="output", priority=-100, policy="accept",
                   rules=[jump]),
        Chain.base("nat-postrouting", type="nat", hook="postrouting", priority="srcnat",
                   policy="accept", rules=[masq]),
    ]
    return Table(family="ip", name=name, sets=sets, chains=chains)


def _element(key: Key, data: Key | None) -> Any:
    k = ConcatExpr(exprs=key)
    return k if data is None else (k, ConcatExpr(exprs=data))


def _with_elements(s: Set, elems: dict[Key, Key | None]) -> Set:
    if not elems:
        return s
    return s.replace(elements=[_element(k, d) for k, d in elems.items()])


def desired_elements(services: Iterable[ServicePort]) -> Elements:
    """The elements every service contributes, by set or map name."""
    out: Elements = {"no-endpoints": {}}
    for s in services:
        if not s.endpoints:
            out["no-endpoints"][s.key] = None
            continue
        k = s.k
        prefix = "aff-" if s.affinity else ""
        keys = out.setdefault(f"aff-k{k}" if s.affinity else f"svc-k{k}", {})
        keys[s.key] = None
        eps = out.setdefault(f"{prefix}ep-k{k}", {})
        for j, ep in enumerate(s.endpoints):
            eps[(*s.key, j)] = (ep.ip, ep.port)
        if s.node_port is not None:
            out.setdefault(f"np-k{k}", {})[(s.proto, s.node_port)] = None
            np_eps = out.setdefault(f"np-ep-k{k}", {})
            for j, ep in enumerate(s.endpoints):
                np_eps[(s.proto, s.node_port, j)] = (ep.ip, ep.port)
    return out


# --- syncing -------------------------------------------------------------------------------


@dataclass
class SyncStats:
    """What one sync did: element operations sent, groups created, seconds taken."""

    added: int = 0
    deleted: int = 0
    groups_created: list[int] = field(default_factory=list)
    affinity_flushed: int = 0
    seconds: float = 0.0
    transaction: Transaction | None = None
    #: How the element updates went (``TransactionResult.path``): "netlink" or
    #: "libnftables-json"; None when nothing was sent or the backend does not say.
    path: str | None = None


class ServiceProxy:
    """Keeps ``table ip NAME`` in a network namespace in step with a list of services.

    ``backend`` is an ``nftkit.Nftables`` (e.g. ``Nftables(netns="node1")``).
    """

    def __init__(self, backend: Backend, *, table: str = "nftkit-proxy",
                 cluster_cidr: IPv4Network | str = "10.128.0.0/10",
                 affinity_timeout: int = 10_800, netlink: bool | None = None) -> None:
        """``netlink``: given to ``Nftables.run(txn, netlink=...)`` for the element updates
        of ``sync``: None lets ``Nftables`` choose (netlink where it can), True or False
        forces a path."""
        self.nft = backend
        self.netlink = netlink
        self.table = table
        self.cluster_cidr = IPv4Network(cluster_cidr)
        self.affinity_timeout = affinity_timeout
        self._applied: Elements = {}
        self._services: dict[Key, ServicePort] = {}
        self._groups: set[int] = set()

    def build(self, services: Iterable[ServicePort],
              elements: Elements | None = None) -> Table:
        return build_table(services, name=self.table, cluster_cidr=self.cluster_cidr,
                           affinity_timeout=self.affinity_timeout, elements=elements)

    def full_sync(self, services: Sequence[ServicePort]) -> SyncStats:
        """Replace the table in one atomic batch (``add table; delete table; add table
        {...}``: nft 1.0.6 has no ``destroy``). Remembered affinities are dropped.

        ``Nftables.run(txn, handles=False)`` sends it as one nfnetlink batch built from the
        model when it can encode every op (no text, no libnftables parser: the fast path at
        30k services). Otherwise the table goes as nft text: libnftables 1.0.6 cannot read
        this layout's maps (concatenated data) from JSON and refuses them up front.
        """
        start = time.perf_counter()
        with gc_paused(long_lived=True):  # ~2/3 of the build is the GC walking new nodes
            elements = desired_elements(services)
            table = self.build(services, elements)
        bare = Table(family="ip", name=self.table)
        txn = Transaction().add(bare).delete(bare).add(table)
        try:
            self.nft.run(txn, handles=False)
        except UnsupportedError:
            head = f"add table ip {self.table}\ndelete table ip {self.table}\n"
            self.nft.run_text(head + to_text(Ruleset(tables=[table])))
        self._applied = elements
        self._services = {s.key: s for s in services}
        self._groups = {s.k for s in services if s.k}
        stats = SyncStats(added=sum(len(v) for v in self._applied.values()))
        stats.seconds = time.perf_counter() - start
        return stats

    def sync(self, services: Sequence[ServicePort]) -> SyncStats:
        """Apply only what changed since the last sync, as element operations."""
        start = time.perf_counter()
        stats = SyncStats()
        new_groups = sorted({s.k for s in services if s.k} - self._groups)
        if new_groups:
            self._create_groups(new_groups)
            stats.groups_created = new_groups
        want = desired_elements(services)
        txn = Transaction()
        where = ("ip", self.table)
        # Deletes first: a key whose data changed is deleted and added again.
        adds: list[tuple[str, list[Any]]] = []
        for name in sorted(set(want) | set(self._applied)):
            have, need = self._applied.get(name, {}), want.get(name, {})
            gone = [k for k, d in have.items() if k not in need or need[k] != d]
            new = [(k, d) for k, d in need.items() if k not in have or have[k] != d]
            if gone:
                txn.delete_elements(name, [ConcatExpr(exprs=k) for k in gone], table=where)
                stats.deleted += len(gone)
            if new:
                adds.append((name, [_element(k, d) for k, d in new]))
                stats.added += len(new)
        for name, elems in adds:
            txn.add_elements(name, elems, table=where)
        if len(txn):
            # (netlink= only when set: another Backend, e.g. FakeNftables, has no paths)
            force = {} if self.netlink is None else {"netlink": self.netlink}
            result = self.nft.run(txn, **force)
            stats.path = getattr(result, "path", None)
        stats.transaction = txn
        stats.affinity_flushed = self._forget_affinity(services)
        self._applied = want
        self._services = {s.key: s for s in services}
        stats.seconds = time.perf_counter() - start
        return stats

    def _create_groups(self, groups: list[int]) -> None:
        """Add the empty sets, maps and rules of new groups (the rules go at the end of
        ``services`` and ``nodeports``; groups never share keys, so their order is free)."""
        sets: list[Set] = []
        svc_rules: list[Rule] = []
        np_rules: list[Rule] = []
        for k in groups:
            sets += group_sets(k)
            more_svc, more_np = group_rules(k)
            svc_rules += more_svc
            np_rules += more_np
        part = Table(family="ip", name=self.table, sets=sets,
                     chains=[Chain(name="services", rules=svc_rules),
                             Chain(name="nodeports", rules=np_rules)])
        self.nft.run_text(to_text(Ruleset(tables=[part])))
        self._groups.update(groups)

    def _forget_affinity(self, services: Sequence[ServicePort]) -> int:
        """Delete remembered affinities of services whose endpoints changed."""
        changed = {s.key for s in services if s.affinity
                   and (old := self._services.get(s.key)) is not None
                   and old.endpoints != s.endpoints}
        changed |= {k for k, old in self._services.items() if old.affinity
                    and k not in {s.key for s in services}}
        if not changed:
            return 0
        current = self.nft.list_map("ip", self.table, "affinity")
        doomed = []
        for el in current.elements:
            key = el[0] if isinstance(el, tuple) else el
            key = getattr(key, "val", key)  # an element with timeout/expires
            parts = tuple(getattr(key, "exprs", ()))
            if len(parts) == 4 and parts[1:] in changed:
                doomed.append(key)
        if doomed:
            # Entries may time out meanwhile: destroy, not delete.
            self.nft.run(Transaction().destroy_elements(
                "affinity", doomed, table=("ip", self.table)))
        return len(doomed)


# --- the classic layout (kube-proxy's nftables mode) ------------------------------------

_MASQ_BIT = 0x4000
_JUMP_MASQ = VerdictExpr(kind="jump", target="mark-for-masquerade")


def _chain_word(s: ServicePort) -> str:
    return f"{s.name}-{s.proto}-{s.port}"


def service_chain(s: ServicePort) -> str:
    return f"svc-{_chain_word(s)}"


def external_chain(s: ServicePort) -> str:
    return f"ext-{_chain_word(s)}"


def endpoint_chain(s: ServicePort, ep: Endpoint) -> str:
    return f"ep-{_chain_word(s)}-{str(ep.ip).replace('.', '_')}-{ep.port}"


def affinity_set(s: ServicePort, ep: Endpoint) -> str:
    return "aff-" + endpoint_chain(s, ep)[3:]


def _goto(chain: str) -> VerdictExpr:
    return VerdictExpr(kind="goto", target=chain)


def classic_service_objects(s: ServicePort, *, cluster_cidr: IPv4Network = CLUSTER_CIDR,
                            affinity_timeout: int = 10_800) -> tuple[list[Set], list[Chain]]:
    """One service's affinity sets and chains (endpoint chains first, then the service
    chain, then its external chain for a NodePort): what an add sends besides elements."""
    cidr = PrefixExpr(addr=cluster_cidr.network_address, len=cluster_cidr.prefixlen)
    sets: list[Set] = []
    chains: list[Chain] = []
    for ep in s.endpoints:
        rules = [Rule(stmts=[MatchStmt(left=_SADDR, right=ep.ip), _JUMP_MASQ])]
        if s.affinity:
            sets.append(Set(name=affinity_set(s, ep), type="ipv4_addr",
                            flags=["dynamic", "timeout"], timeout=affinity_timeout * 1000))
            rules.append(Rule(stmts=[SetStmt(op="update", elem=_SADDR,
                                             set=affinity_set(s, ep))]))
        rules.append(Rule(stmts=[MatchStmt(left=_PROTO, right=s.proto),
                                 NatStmt(type="dnat", family="ip", addr=ep.ip, port=ep.port)]))
        chains.append(Chain(name=endpoint_chain(s, ep), rules=rules))
    svc_rules = [Rule(stmts=[MatchStmt(left=_DADDR, right=s.cluster_ip),
                             MatchStmt(left=PayloadExpr(protocol=s.proto, field="dport"),
                                       right=s.port),
                             MatchStmt(left=_SADDR, op="!=", right=cidr), _JUMP_MASQ])]
    if s.affinity:
        svc_rules += [Rule(stmts=[MatchStmt(left=_SADDR, right=SetRefExpr(
            name=affinity_set(s, ep))), _goto(endpoint_chain(s, ep))]) for ep in s.endpoints]
    svc_rules.append(Rule(stmts=[VerdictMapStmt(
        key=NumgenExpr(mode="random", mod=s.k),
        data=SetExpr(elements=[(j, _goto(endpoint_chain(s, ep)))
                               for j, ep in enumerate(s.endpoints)]))]))
    chains.append(Chain(name=service_chain(s), rules=svc_rules))
    if s.node_port is not None:
        chains.append(Chain(name=external_chain(s), rules=[
            Rule(stmts=[_JUMP_MASQ]), Rule(stmts=[_goto(service_chain(s))])]))
    return sets, chains


def classic_elements(s: ServicePort) -> dict[str, list[Any]]:
    """One service's elements in the verdict maps, by map name."""
    key = ConcatExpr(exprs=s.key)
    if not s.endpoints:
        return {"no-endpoint-services": [(key, _goto("reject-chain"))]}
    out: dict[str, list[Any]] = {"service-ips": [(key, _goto(service_chain(s)))]}
    if s.node_port is not None:
        out["service-nodeports"] = [(ConcatExpr(exprs=(s.proto, s.node_port)),
                                     _goto(external_chain(s)))]
    return out


def build_classic_table(services: Iterable[ServicePort], *, name: str = "kube-proxy",
                        cluster_cidr: IPv4Network = CLUSTER_CIDR,
                        affinity_timeout: int = 10_800) -> Table:
    """The whole classic table for ``services``."""
    services = list(services)
    verdict = ("verdict",)
    maps = {n: Map(name=n, type=t, data_type=verdict) for n, t in (
        ("service-ips", _SVC_TYPE), ("service-nodeports", ("inet_proto", "inet_service")),
        ("no-endpoint-services", _SVC_TYPE))}
    elements: dict[str, list[Any]] = {n: [] for n in maps}
    sets: list[Set] = []
    chains: list[Chain] = []
    for s in services:
        for mname, elems in classic_elements(s).items():
            elements[mname] += elems
        if s.endpoints:
            more_sets, more_chains = classic_service_objects(
                s, cluster_cidr=cluster_cidr, affinity_timeout=affinity_timeout)
            sets += more_sets
            chains += more_chains
    mark = _MARK
    fixed = [
        Chain(name="mark-for-masquerade", rules=[Rule(stmts=[MangleStmt(
            key=mark, value=BinopExpr(op="|", left=mark, right=_MASQ_BIT))])]),
        Chain(name="masquerading", rules=[
            Rule(stmts=[MatchStmt(left=BinopExpr(op="&", left=mark, right=_MASQ_BIT), right=0),
                        VerdictExpr(kind="return")]),
            Rule(stmts=[MangleStmt(key=mark, value=BinopExpr(op="^", left=mark,
                                                             right=_MASQ_BIT))]),
            Rule(stmts=[NatStmt(type="masquerade", flags=["fully-random"])])]),
        Chain(name="services", rules=[
            Rule(stmts=[VerdictMapStmt(key=_KEY, data=SetRefExpr(name="service-ips"))]),
            Rule(stmts=[MatchStmt(left=FibExpr(result="type", flags=["daddr"]), right="local"),
                        VerdictMapStmt(key=_NP_KEY,
                                       data=SetRefExpr(name="service-nodeports"))])]),
        Chain(name="reject-chain", rules=[Rule(stmts=[RejectStmt()])]),
        Chain.base("filter-prerouting", type="filter", hook="prerouting",
                   priority="dstnat - 10", policy="accept", rules=[Rule(stmts=[VerdictMapStmt(
                       key=_KEY, data=SetRefExpr(name="no-endpoint-services"))])]),
        Chain.base("filter-output", type="filter", hook="output", priority=-110,
                   policy="accept", rules=[Rule(stmts=[VerdictMapStmt(
                       key=_KEY, data=SetRefExpr(name="no-endpoint-services"))])]),
        Chain.base("nat-prerouting", type="nat", hook="prerouting", priority="dstnat",
                   policy="accept", rules=[Rule(stmts=[VerdictExpr(kind="jump",
                                                                   target="services")])]),
        Chain.base("nat-output", type="nat", hook="output", priority=-100, policy="accept",
                   rules=[Rule(stmts=[VerdictExpr(kind="jump", target="services")])]),
        Chain.base("nat-postrouting", type="nat", hook="postrouting", priority="srcnat",
                   policy="accept", rules=[Rule(stmts=[VerdictExpr(kind="jump",
                                                                   target="masquerading")])]),
    ]
    filled = [m.replace(elements=elements[n]) if elements[n] else m for n, m in maps.items()]
    return Table(family="ip", name=name, sets=[*filled, *sets], chains=[*fixed, *chains])


class ClassicServiceProxy:
    """Keeps kube-proxy's classic ``table ip NAME`` in step with a list of services.

    A changed service is rewritten the way kube-proxy does it: its elements deleted and added,
    its chains flushed and filled again, chains of endpoints it lost deleted. Everything of one
    sync is one ``Transaction``: one netlink batch (``result.path``), with handles from the
    kernel's echo (``last_handles``).
    """

    def __init__(self, backend: Backend, *, table: str = "kube-proxy",
                 cluster_cidr: IPv4Network | str = "10.128.0.0/10",
                 affinity_timeout: int = 10_800) -> None:
        self.nft = backend
        self.table = table
        self.cluster_cidr = IPv4Network(cluster_cidr)
        self.affinity_timeout = affinity_timeout
        self._services: dict[Key, ServicePort] = {}
        self.last_handles: tuple[int | None, ...] = ()

    def build(self, services: Iterable[ServicePort]) -> Table:
        return build_classic_table(services, name=self.table, cluster_cidr=self.cluster_cidr,
                                   affinity_timeout=self.affinity_timeout)

    def full_sync(self, services: Sequence[ServicePort]) -> SyncStats:
        """Replace the table in one atomic batch (one anonymous vmap per service: the kernel's
        part of it grows with the square of the services, see ``W-anonymous-sets``)."""
        start = time.perf_counter()
        bare = Table(family="ip", name=self.table)
        result = self.nft.run(Transaction().add(bare).delete(bare).add(
            self.build(services)), handles=False)
        self._services = {s.key: s for s in services}
        return SyncStats(added=len(services), seconds=time.perf_counter() - start,
                         path=getattr(result, "path", None))

    def sync(self, services: Sequence[ServicePort]) -> SyncStats:
        """Apply what changed since the last sync as one transaction."""
        start = time.perf_counter()
        stats = SyncStats()
        where = ("ip", self.table)
        want = {s.key: s for s in services}
        gone = [s for k, s in self._services.items() if want.get(k) != s]
        new = [s for k, s in want.items() if self._services.get(k) != s]
        txn = Transaction()
        for s in gone:  # the elements first: they goto the chains deleted below
            for mname, elems in classic_elements(s).items():
                txn.delete_elements(mname, [k for k, _v in elems], table=where)
        old_sets: set[str] = set()
        old_chains: list[str] = []
        for s in gone:
            if s.endpoints:
                sets, chains = classic_service_objects(
                    s, cluster_cidr=self.cluster_cidr, affinity_timeout=self.affinity_timeout)
                old_sets |= {x.name for x in sets}
                old_chains += [c.name for c in reversed(chains)]  # service chain first
        new_objects = {s.key: classic_service_objects(
            s, cluster_cidr=self.cluster_cidr, affinity_timeout=self.affinity_timeout)
            for s in new if s.endpoints}
        reused = {c.name for _sets, chains in new_objects.values() for c in chains}
        reused_sets = {x.name for sets, _chains in new_objects.values() for x in sets}
        for name in old_chains:  # flush what stays (its rules change), delete the rest
            if name in reused:
                txn.flush("chain", table=where, name=name)
        for name in old_chains:
            if name not in reused:
                txn.delete("chain", table=where, name=name)
        for name in sorted(old_sets - reused_sets):
            txn.delete("set", table=where, name=name)
        for sets, chains in new_objects.values():
            for x in sets:
                if x.name not in old_sets:
                    txn.add(x, table=where)
            for c in chains:  # (``add chain`` of a flushed chain adds its rules)
                txn.add(c, table=where)
        for s in new:
            for mname, elems in classic_elements(s).items():
                txn.add_elements(mname, elems, table=where)
        stats.deleted, stats.added = len(gone), len(new)
        if len(txn):
            result = self.nft.run(txn)
            stats.path = getattr(result, "path", None)
            self.last_handles = tuple(getattr(result, "handles", ()))
        stats.transaction = txn
        self._services = want
        stats.seconds = time.perf_counter() - start
        return stats


def _demo() -> None:
    svcs = [
        ServicePort(name="web", cluster_ip=IPv4Address("10.96.0.10"), port=80, node_port=30080,
                    endpoints=(Endpoint(IPv4Address("10.128.0.2"), 8080),
                               Endpoint(IPv4Address("10.128.1.2"), 8080))),
        ServicePort(name="db", cluster_ip=IPv4Address("10.96.0.11"), port=5432, affinity=True,
                    endpoints=(Endpoint(IPv4Address("10.128.2.2"), 5432),)),
        ServicePort(name="gone", cluster_ip=IPv4Address("10.96.0.12"), port=80),
    ]
    table = build_table(svcs)
    print(to_text(Ruleset(tables=[table])))
    print("lint:", lint(table) or "clean")
    classic = build_classic_table(svcs)
    print(to_text(Ruleset(tables=[classic])))
    print("lint:", lint(classic) or "clean")


if __name__ == "__main__":
    _demo()
