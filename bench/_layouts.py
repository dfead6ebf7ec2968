"""Generators of kube-proxy-shaped rulesets, in two nftables layouts and as iptables-restore text.

Every generator takes the same list of ``Service`` s, so the layouts describe the same services:

classic (kube-proxy's nftables mode)
    one verdict-map element per service (``ip daddr . meta l4proto . th dport vmap
    @service-ips``), one chain per service (``ip saddr != CLUSTER jump mark-for-masquerade``,
    ``numgen random mod k vmap { 0 : goto ep-..., ... }``: one anonymous set per service) and one
    chain per endpoint (``ip saddr EP jump mark-for-masquerade``, ``meta l4proto tcp dnat ip to
    EP:PORT``). The kernel's cost of loading it grows quadratically (anonymous set names, map
    bindings, jump-loop validation).

grouped
    services grouped by their endpoint count k; per group one set of service keys and one
    DNAT map keyed by (service IP . protocol . port . ``numgen random mod k``), both bound by a
    single rule::

        ip daddr . meta l4proto . th dport @svc-k2 \\
            dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @ep-k2

    A one-service update is 1 + k element messages, whatever the number of services.

iptables
    kube-proxy's iptables mode (``KUBE-SERVICES`` -> ``KUBE-SVC-*`` with ``statistic`` matches
    -> ``KUBE-SEP-*`` with ``DNAT``) for ``iptables-restore``, in full and in the partial form
    kube-proxy writes when one service changes (``--noflush``: every chain header, the whole
    ``KUBE-SERVICES`` chain, and the changed service's chains).

Each nftables layout comes as nft text (block form, loadable with ``nft -f``; written with
f-strings, independent of nftkit), as libnftables JSON and as an nftkit model (``*_model``,
built from the model classes). tests/examples/test_layouts.py checks that model and text give
the same kernel state. The map of the grouped layout has a concatenated data type (``ip daddr . th
dport``): nft 1.0.6's JSON parser cannot create such a map (``Invalid map type``; a list
crashes it), but adds and deletes its elements in JSON fine, so full loads go through text
there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

__all__ = [
    "CLUSTER_CIDR",
    "MASQ_MARK",
    "TABLE",
    "Service",
    "classic_add_service_text",
    "classic_delete_service_text",
    "classic_json",
    "classic_model",
    "classic_service_chains",
    "classic_service_model",
    "classic_text",
    "classic_vmap_element",
    "grouped_add_service_text",
    "grouped_base_chains",
    "grouped_delete_service_text",
    "grouped_elements",
    "grouped_json",
    "grouped_model",
    "grouped_rule",
    "grouped_service_elements",
    "grouped_sets",
    "grouped_text",
    "iptables_partial_text",
    "iptables_text",
    "make_services",
    "shared_text",
]

#: Pods (endpoints) live here; traffic from elsewhere to a service is masqueraded.
CLUSTER_CIDR = IPv4Network("10.128.0.0/10")
#: kube-proxy's masquerade mark bit.
MASQ_MARK = 0x4000
#: Both nftables layouts live in ``table ip kube-proxy``.
TABLE = ("ip", "kube-proxy")

_SERVICE_BASE = int(IPv4Address("10.96.0.0"))
_ENDPOINT_BASE = int(CLUSTER_CIDR.network_address)


@dataclass(frozen=True)
class Service:
    """One service port: ``ip:port/proto`` balanced over ``endpoints`` ((ip, port) pairs)."""

    index: int
    ip: IPv4Address
    proto: str
    port: int
    endpoints: tuple[tuple[IPv4Address, int], ...] = field(default=())

    @property
    def k(self) -> int:
        return len(self.endpoints)

    @property
    def chain(self) -> str:
        return f"svc-{self.index}"

    def endpoint_chain(self, j: int) -> str:
        return f"ep-{self.index}-{j}"

    @property
    def ipt_chain(self) -> str:
        return f"KUBE-SVC-{self.index:016X}"

    def ipt_endpoint_chain(self, j: int) -> str:
        return f"KUBE-SEP-{self.index:013X}{j:03X}"


def make_services(n: int, *, endpoints: int | Sequence[int] = 2, start: int = 0,
                  target_port: int = 8080) -> list[Service]:
    """``n`` services numbered from ``start``; ``endpoints`` is k for all, or a cycle of k's.

    Service i has ClusterIP 10.96.0.0 + i + 1, port 80 (tcp) and distinct endpoint addresses
    in ``CLUSTER_CIDR``, so any two generated services differ.
    """
    ks = [endpoints] if isinstance(endpoints, int) else list(endpoints)
    most = max(ks)
    out = []
    for i in range(start, start + n):
        k = ks[i % len(ks)]
        base = _ENDPOINT_BASE + 1 + i * most
        eps = tuple((IPv4Address(base + j), target_port) for j in range(k))
        out.append(Service(index=i, ip=IPv4Address(_SERVICE_BASE + i + 1), proto="tcp",
                           port=80, endpoints=eps))
    return out


def _groups(services: Iterable[Service]) -> dict[int, list[Service]]:
    groups: dict[int, list[Service]] = {}
    for s in services:
        groups.setdefault(s.k, []).append(s)
    return dict(sorted(groups.items()))


def _lines(items: list[str]) -> str:
    return ",\n\t\t\t     ".join(items)


# --- grouped -------------------------------------------------------------------------------

_KEY = "ip daddr . meta l4proto . th dport"


def _grouped_base_chains() -> str:
    cidr = CLUSTER_CIDR
    return (
        "\tchain nat-prerouting {\n"
        "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
        "\t\tjump services\n\t}\n\n"
        "\tchain nat-output {\n"
        "\t\ttype nat hook output priority -100; policy accept;\n"
        "\t\tjump services\n\t}\n\n"
        "\tchain nat-postrouting {\n"
        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        f"\t\tct status dnat ip saddr != {cidr} masquerade\n\t}}\n"
    )


def grouped_text(services: Sequence[Service]) -> str:
    """The grouped layout as an ``nft -f`` script (block form)."""
    parts = [f"table {TABLE[0]} {TABLE[1]} {{"]
    rules = []
    for k, group in _groups(services).items():
        if k == 0:
            continue
        keys = [f"{s.ip} . {s.proto} . {s.port}" for s in group]
        elems = [f"{s.ip} . {s.proto} . {s.port} . {j} : {ip} . {port}"
                 for s in group for j, (ip, port) in enumerate(s.endpoints)]
        parts.append(f"\tset svc-k{k} {{\n\t\ttype ipv4_addr . inet_proto . inet_service\n"
                     + (f"\t\telements = {{ {_lines(keys)} }}\n" if keys else "") + "\t}\n")
        parts.append(f"\tmap ep-k{k} {{\n\t\ttypeof {_KEY} . numgen random mod {k} : "
                     "ip daddr . th dport\n"
                     + (f"\t\telements = {{ {_lines(elems)} }}\n" if elems else "") + "\t}\n")
        rules.append(f"\t\t{_KEY} @svc-k{k} dnat ip to {_KEY} . numgen random mod {k} "
                     f"map @ep-k{k}")
    parts.append("\tchain services {\n" + "".join(r + "\n" for r in rules) + "\t}\n")
    parts.append(_grouped_base_chains() + "}\n")
    return "\n".join(parts)


def grouped_elements(svc: Service) -> dict[str, list[str]]:
    """The elements one service contributes, by set name, in nft text syntax."""
    return {
        f"svc-k{svc.k}": [f"{svc.ip} . {svc.proto} . {svc.port}"],
        f"ep-k{svc.k}": [f"{svc.ip} . {svc.proto} . {svc.port} . {j} : {ip} . {port}"
                         for j, (ip, port) in enumerate(svc.endpoints)],
    }


def grouped_add_service_text(svc: Service) -> str:
    """``nft -f`` commands adding one service to a loaded grouped layout (map first: the set
    element is what makes the rule match)."""
    fam, name = TABLE
    els = grouped_elements(svc)
    return "".join(f"add element {fam} {name} {s} {{ {', '.join(e)} }}\n"
                   for s, e in reversed(els.items()))


def grouped_delete_service_text(svc: Service) -> str:
    """``nft -f`` commands removing one service from the grouped layout (set element first)."""
    fam, name = TABLE
    els = grouped_elements(svc)
    keyed = {s: [e.split(" : ")[0] for e in es] for s, es in els.items()}
    return "".join(f"delete element {fam} {name} {s} {{ {', '.join(e)} }}\n"
                   for s, e in keyed.items())


def _payload(proto: str, fld: str) -> dict[str, Any]:
    return {"payload": {"protocol": proto, "field": fld}}


_JKEY = [_payload("ip", "daddr"), {"meta": {"key": "l4proto"}}, _payload("th", "dport")]


def _base_chain_json(name: str, hook: str, prio: int) -> dict[str, Any]:
    return {"chain": {"family": TABLE[0], "table": TABLE[1], "name": name, "type": "nat",
                      "hook": hook, "prio": prio, "policy": "accept"}}


def _rule_json(chain: str, expr: list[Any]) -> dict[str, Any]:
    return {"rule": {"family": TABLE[0], "table": TABLE[1], "chain": chain, "expr": expr}}


def _jump(target: str, kind: str = "jump") -> dict[str, Any]:
    return {kind: {"target": target}}


def _masq_rule_grouped() -> dict[str, Any]:
    return _rule_json("nat-postrouting", [
        {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}},
        {"match": {"op": "!=", "left": _payload("ip", "saddr"),
                   "right": {"prefix": {"addr": str(CLUSTER_CIDR.network_address),
                                        "len": CLUSTER_CIDR.prefixlen}}}},
        {"masquerade": None},
    ])


def grouped_json(services: Sequence[Service]) -> dict[str, Any]:
    """The grouped layout as libnftables JSON (listing form, as nft 1.1 prints it)."""
    fam, tname = TABLE
    items: list[Any] = [{"table": {"family": fam, "name": tname}}]
    rules = []
    for k, group in _groups(services).items():
        if k == 0:
            continue
        items.append({"set": {
            "family": fam, "table": tname, "name": f"svc-k{k}",
            "type": ["ipv4_addr", "inet_proto", "inet_service"],
            "elem": [{"concat": [str(s.ip), s.proto, s.port]} for s in group]}})
        items.append({"map": {
            "family": fam, "table": tname, "name": f"ep-k{k}",
            "type": ["ipv4_addr", "inet_proto", "inet_service", "integer"],
            "map": ["ipv4_addr", "inet_service"],
            "elem": [[{"concat": [str(s.ip), s.proto, s.port, j]},
                      {"concat": [str(ip), port]}]
                     for s in group for j, (ip, port) in enumerate(s.endpoints)]}})
        numgen = {"numgen": {"mode": "random", "mod": k, "offset": 0}}
        rules.append(_rule_json("services", [
            {"match": {"op": "==", "left": {"concat": _JKEY}, "right": f"@svc-k{k}"}},
            {"dnat": {"family": "ip", "addr": {"map": {
                "key": {"concat": [*_JKEY, numgen]}, "data": f"@ep-k{k}"}}}},
        ]))
    items.append({"chain": {"family": fam, "table": tname, "name": "services"}})
    for name, hook, prio in (("nat-prerouting", "prerouting", -100),
                             ("nat-output", "output", -100),
                             ("nat-postrouting", "postrouting", 100)):
        items.append(_base_chain_json(name, hook, prio))
    items += rules
    items.append(_rule_json("nat-prerouting", [_jump("services")]))
    items.append(_rule_json("nat-output", [_jump("services")]))
    items.append(_masq_rule_grouped())
    return {"nftables": items}


def _m() -> Any:
    """nftkit's model classes (imported late: the text and iptables generators need none)."""
    import nftkit.model as m

    return m


def _key_exprs(m: Any) -> tuple[Any, ...]:
    return (m.PayloadExpr(protocol="ip", field="daddr"), m.MetaExpr(key="l4proto"),
            m.PayloadExpr(protocol="th", field="dport"))


def grouped_base_chains(m: Any, masquerade: Any = None) -> list[Any]:
    """The three base chains of the grouped layout (nat hooks jumping to ``services``)."""
    jump = m.Rule(stmts=[m.VerdictExpr(kind="jump", target="services")])
    masq = masquerade or m.Rule(stmts=[
        m.MatchStmt(left=m.CtExpr(key="status"), op="in", right="dnat"),
        m.MatchStmt(left=m.PayloadExpr(protocol="ip", field="saddr"), op="!=",
                    right=m.PrefixExpr(addr=CLUSTER_CIDR.network_address,
                                       len=CLUSTER_CIDR.prefixlen)),
        m.NatStmt(type="masquerade")])
    return [
        m.Chain.base("nat-prerouting", type="nat", hook="prerouting", priority="dstnat",
                     policy="accept", rules=[jump]),
        m.Chain.base("nat-output", type="nat", hook="output", priority=-100, policy="accept",
                     rules=[jump]),
        m.Chain.base("nat-postrouting", type="nat", hook="postrouting", priority="srcnat",
                     policy="accept", rules=[masq]),
    ]


def grouped_service_elements(svc: Service) -> tuple[list[Any], list[Any]]:
    """The model elements of one service: (keys for ``svc-kK``, pairs for ``ep-kK``)."""
    m = _m()
    concat = m.ConcatExpr
    keys = [concat(exprs=(svc.ip, svc.proto, svc.port))]
    pairs = [(concat(exprs=(svc.ip, svc.proto, svc.port, j)), concat(exprs=(ip, port)))
             for j, (ip, port) in enumerate(svc.endpoints)]
    return keys, pairs


def grouped_sets(m: Any, k: int, keys: Sequence[Any] = (),
                 pairs: Sequence[Any] = ()) -> tuple[Any, Any]:
    """``set svc-kK`` and ``map ep-kK`` with the given elements."""
    key = _key_exprs(m)
    numgen = m.NumgenExpr(mode="random", mod=k)
    svc_set = m.Set(name=f"svc-k{k}", type=("ipv4_addr", "inet_proto", "inet_service"),
                    elements=keys)
    ep_map = m.Map(name=f"ep-k{k}", typeof=m.ConcatExpr(exprs=(*key, numgen)),
                   data_typeof=m.ConcatExpr(exprs=(key[0], key[2])), elements=pairs)
    return svc_set, ep_map


def grouped_rule(m: Any, k: int) -> Any:
    """The one rule binding group k's set and map."""
    key = _key_exprs(m)
    numgen = m.NumgenExpr(mode="random", mod=k)
    return m.Rule(stmts=[
        m.MatchStmt(left=m.ConcatExpr(exprs=key), right=m.SetRefExpr(name=f"svc-k{k}")),
        m.NatStmt(type="dnat", family="ip", addr=m.MapExpr(
            key=m.ConcatExpr(exprs=(*key, numgen)), data=m.SetRefExpr(name=f"ep-k{k}")))])


def grouped_model(services: Sequence[Service]) -> Any:
    """The grouped layout as an ``nftkit.Ruleset`` (built directly from model classes)."""
    m = _m()
    concat = m.ConcatExpr
    sets: list[Any] = []
    rules = []
    for k, group in _groups(services).items():
        if k == 0:
            continue
        keys = [concat(exprs=(s.ip, s.proto, s.port)) for s in group]
        pairs = [(concat(exprs=(s.ip, s.proto, s.port, j)), concat(exprs=(ip, port)))
                 for s in group for j, (ip, port) in enumerate(s.endpoints)]
        sets += grouped_sets(m, k, keys, pairs)
        rules.append(grouped_rule(m, k))
    chains = [m.Chain(name="services", rules=rules), *grouped_base_chains(m)]
    table = m.Table(family=TABLE[0], name=TABLE[1], sets=sets, chains=chains)
    return m.Ruleset(tables=[table])


# --- shared map: per-service chains binding one DNAT map ----------------------------------


def shared_text(services: Sequence[Service], *, elements_last: bool) -> str:
    """A middle layout: ``service-ips`` vmap -> one chain per service whose single rule binds
    the shared DNAT map ``ep-kK`` (so each map is bound by as many rules as it has services).

    ``elements_last`` sends the DNAT maps' elements after the rules (``add element`` commands
    after the table block) instead of with the maps; the result is the same ruleset.
    """
    fam, name = TABLE
    groups = _groups(services)
    vm = [f"{s.ip} . {s.proto} . {s.port} : goto {s.chain}" for s in services]
    parts = [f"table {fam} {name} {{",
             "\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n"
             "\t}\n"]
    adds = []
    for k, group in groups.items():
        elems = [f"{s.ip} . {s.proto} . {s.port} . {j} : {ip} . {port}"
                 for s in group for j, (ip, port) in enumerate(s.endpoints)]
        block = "" if elements_last or not elems else f"\t\telements = {{ {_lines(elems)} }}\n"
        parts.append(f"\tmap ep-k{k} {{\n\t\ttypeof {_KEY} . numgen random mod {k} : "
                     f"ip daddr . th dport\n{block}\t}}\n")
        if elements_last and elems:
            adds.append(f"add element {fam} {name} ep-k{k} {{ {', '.join(elems)} }}\n")
    parts.append(f"\tchain services {{\n\t\t{_KEY} vmap @service-ips\n\t}}\n")
    parts.append(_grouped_base_chains())
    for s in services:
        parts.append(f"\tchain {s.chain} {{\n\t\tdnat ip to {_KEY} . numgen random mod {s.k} "
                     f"map @ep-k{s.k}\n\t}}\n")
    out = "\n".join(parts) + "}\n"
    # the vmap's elements need the service chains: always after them
    if vm:
        out += f"add element {fam} {name} service-ips {{ {', '.join(vm)} }}\n"
    return out + "".join(adds)


# --- classic -------------------------------------------------------------------------------


def classic_service_chains(s: Service) -> list[str]:
    """The block-form chains of one service (service chain, then endpoint chains)."""
    cidr = CLUSTER_CIDR
    out = []
    body = [f"ip daddr {s.ip} {s.proto} dport {s.port} ip saddr != {cidr} "
            "jump mark-for-masquerade"]
    if s.endpoints:
        vm = ", ".join(f"{j} : goto {s.endpoint_chain(j)}" for j in range(s.k))
        body.append(f"numgen random mod {s.k} vmap {{ {vm} }}")
    out.append(f"\tchain {s.chain} {{\n" + "".join(f"\t\t{b}\n" for b in body) + "\t}\n")
    for j, (ip, port) in enumerate(s.endpoints):
        out.append(f"\tchain {s.endpoint_chain(j)} {{\n"
                   f"\t\tip saddr {ip} jump mark-for-masquerade\n"
                   f"\t\tmeta l4proto {s.proto} dnat ip to {ip}:{port}\n\t}}\n")
    return out


def _classic_vmap_elem(s: Service) -> str:
    return f"{s.ip} . {s.proto} . {s.port} : goto {s.chain}"


def classic_text(services: Sequence[Service]) -> str:
    """The classic (kube-proxy nftables mode) layout as an ``nft -f`` script."""
    m = f"0x{MASQ_MARK:08x}"
    elems = [_classic_vmap_elem(s) for s in services]
    parts = [f"table {TABLE[0]} {TABLE[1]} {{",
             "\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n"
             + (f"\t\telements = {{ {_lines(elems)} }}\n" if elems else "") + "\t}\n",
             f"\tchain mark-for-masquerade {{\n\t\tmeta mark set meta mark | {m}\n\t}}\n",
             "\tchain masquerading {\n"
             f"\t\tmeta mark & {m} == 0x00000000 return\n"
             f"\t\tmeta mark set meta mark ^ {m}\n"
             "\t\tmasquerade fully-random\n\t}\n",
             f"\tchain services {{\n\t\t{_KEY} vmap @service-ips\n\t}}\n",
             "\tchain nat-prerouting {\n"
             "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
             "\t\tjump services\n\t}\n",
             "\tchain nat-output {\n"
             "\t\ttype nat hook output priority -100; policy accept;\n"
             "\t\tjump services\n\t}\n",
             "\tchain nat-postrouting {\n"
             "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
             "\t\tjump masquerading\n\t}\n"]
    for s in services:
        parts += classic_service_chains(s)
    return "\n".join(parts) + "}\n"


def classic_add_service_text(s: Service) -> str:
    """``nft -f`` commands adding one service to a loaded classic layout."""
    fam, name = TABLE
    out = [f"table {fam} {name} {{\n" + "\n".join(reversed(classic_service_chains(s))) + "}\n",
           f"add element {fam} {name} service-ips {{ {_classic_vmap_elem(s)} }}\n"]
    return "".join(out)


def classic_delete_service_text(s: Service) -> str:
    """``nft -f`` commands removing one service from the classic layout."""
    fam, name = TABLE
    out = [f"delete element {fam} {name} service-ips {{ {s.ip} . {s.proto} . {s.port} }}\n",
           f"delete chain {fam} {name} {s.chain}\n"]
    out += [f"delete chain {fam} {name} {s.endpoint_chain(j)}\n" for j in range(s.k)]
    return "".join(out)


def _mark_binop(op: str, value: int) -> dict[str, Any]:
    return {op: [{"meta": {"key": "mark"}}, value]}


def classic_json(services: Sequence[Service], *, listing: bool = False) -> dict[str, Any]:
    """The classic layout as libnftables JSON, loadable with ``nft -j -f``; ``listing=True``
    gives the pure listing form (as ``nft -j list ruleset`` prints it) instead."""
    fam, tname = TABLE
    cidr = {"prefix": {"addr": str(CLUSTER_CIDR.network_address), "len": CLUSTER_CIDR.prefixlen}}
    items: list[Any] = [{"table": {"family": fam, "name": tname}}]
    # The verdict map's elements go to chains declared below: nft's own text path sends them
    # after the chains, and so must the JSON (a listing-form "elem" would be sent with the map
    # and fail with ENOENT).
    items.append({"map": {
        "family": fam, "table": tname, "name": "service-ips",
        "type": ["ipv4_addr", "inet_proto", "inet_service"], "map": "verdict"}})
    elems = [[{"concat": [str(s.ip), s.proto, s.port]}, _jump(s.chain, "goto")]
             for s in services]
    if listing and elems:
        items[-1]["map"]["elem"] = elems
    chains = ["mark-for-masquerade", "masquerading", "services"]
    items += [{"chain": {"family": fam, "table": tname, "name": c}} for c in chains]
    for name, hook, prio in (("nat-prerouting", "prerouting", -100),
                             ("nat-output", "output", -100),
                             ("nat-postrouting", "postrouting", 100)):
        items.append(_base_chain_json(name, hook, prio))
    for s in services:
        items.append({"chain": {"family": fam, "table": tname, "name": s.chain}})
        items += [{"chain": {"family": fam, "table": tname, "name": s.endpoint_chain(j)}}
                  for j in range(s.k)]
    mark = {"meta": {"key": "mark"}}
    items += [
        _rule_json("mark-for-masquerade", [
            {"mangle": {"key": mark, "value": _mark_binop("|", MASQ_MARK)}}]),
        _rule_json("masquerading", [
            {"match": {"op": "==", "left": _mark_binop("&", MASQ_MARK), "right": 0}},
            {"return": None}]),
        _rule_json("masquerading", [
            {"mangle": {"key": mark, "value": _mark_binop("^", MASQ_MARK)}}]),
        _rule_json("masquerading", [{"masquerade": {"flags": "fully-random"}}]),
        _rule_json("services", [{"vmap": {"key": {"concat": _JKEY}, "data": "@service-ips"}}]),
        _rule_json("nat-prerouting", [_jump("services")]),
        _rule_json("nat-output", [_jump("services")]),
        _rule_json("nat-postrouting", [_jump("masquerading")]),
    ]
    for s in services:
        items.append(_rule_json(s.chain, [
            {"match": {"op": "==", "left": _payload("ip", "daddr"), "right": str(s.ip)}},
            {"match": {"op": "==", "left": _payload(s.proto, "dport"), "right": s.port}},
            {"match": {"op": "!=", "left": _payload("ip", "saddr"), "right": cidr}},
            _jump("mark-for-masquerade")]))
        if s.endpoints:
            items.append(_rule_json(s.chain, [{"vmap": {
                "key": {"numgen": {"mode": "random", "mod": s.k, "offset": 0}},
                "data": {"set": [[j, _jump(s.endpoint_chain(j), "goto")]
                                 for j in range(s.k)]}}}]))
        for j, (ip, port) in enumerate(s.endpoints):
            items.append(_rule_json(s.endpoint_chain(j), [
                {"match": {"op": "==", "left": _payload("ip", "saddr"), "right": str(ip)}},
                _jump("mark-for-masquerade")]))
            items.append(_rule_json(s.endpoint_chain(j), [
                {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": s.proto}},
                {"dnat": {"family": "ip", "addr": str(ip), "port": port}}]))
    if elems and not listing:
        items.append({"add": {"element": {
            "family": fam, "table": tname, "name": "service-ips", "elem": elems}}})
    return {"nftables": items}


def classic_service_model(m: Any, s: Service) -> list[Any]:
    """The chains of one service in the classic layout (service chain, endpoint chains)."""
    jump_masq = m.VerdictExpr(kind="jump", target="mark-for-masquerade")
    saddr = m.PayloadExpr(protocol="ip", field="saddr")
    cidr = m.PrefixExpr(addr=CLUSTER_CIDR.network_address, len=CLUSTER_CIDR.prefixlen)
    rules = [m.Rule(stmts=[
        m.MatchStmt(left=m.PayloadExpr(protocol="ip", field="daddr"), right=s.ip),
        m.MatchStmt(left=m.PayloadExpr(protocol=s.proto, field="dport"), right=s.port),
        m.MatchStmt(left=saddr, op="!=", right=cidr), jump_masq])]
    if s.endpoints:
        rules.append(m.Rule(stmts=[m.VerdictMapStmt(
            key=m.NumgenExpr(mode="random", mod=s.k),
            data=m.SetExpr(elements=[(j, m.VerdictExpr(kind="goto", target=s.endpoint_chain(j)))
                                     for j in range(s.k)]))]))
    out = [m.Chain(name=s.chain, rules=rules)]
    for j, (ip, port) in enumerate(s.endpoints):
        out.append(m.Chain(name=s.endpoint_chain(j), rules=[
            m.Rule(stmts=[m.MatchStmt(left=saddr, right=ip), jump_masq]),
            m.Rule(stmts=[m.MatchStmt(left=m.MetaExpr(key="l4proto"), right=s.proto),
                          m.NatStmt(type="dnat", addr=ip, port=port)])]))
    return out


def classic_vmap_element(s: Service) -> tuple[Any, Any]:
    m = _m()
    return (m.ConcatExpr(exprs=(s.ip, s.proto, s.port)),
            m.VerdictExpr(kind="goto", target=s.chain))


def classic_model(services: Sequence[Service]) -> Any:
    """The classic layout as an ``nftkit.Ruleset`` (built directly from model classes)."""
    m = _m()
    mark = m.MetaExpr(key="mark")
    key = _key_exprs(m)
    vmap = m.Map(name="service-ips", type=("ipv4_addr", "inet_proto", "inet_service"),
                 data_type=("verdict",), elements=[classic_vmap_element(s) for s in services])
    chains = [
        m.Chain(name="mark-for-masquerade", rules=[m.Rule(stmts=[m.MangleStmt(
            key=mark, value=m.BinopExpr(op="|", left=mark, right=MASQ_MARK))])]),
        m.Chain(name="masquerading", rules=[
            m.Rule(stmts=[m.MatchStmt(left=m.BinopExpr(op="&", left=mark, right=MASQ_MARK),
                                      right=0), m.VerdictExpr(kind="return")]),
            m.Rule(stmts=[m.MangleStmt(key=mark, value=m.BinopExpr(op="^", left=mark,
                                                                   right=MASQ_MARK))]),
            m.Rule(stmts=[m.NatStmt(type="masquerade", flags=["fully-random"])])]),
        m.Chain(name="services", rules=[m.Rule(stmts=[m.VerdictMapStmt(
            key=m.ConcatExpr(exprs=key), data=m.SetRefExpr(name="service-ips"))])]),
        *grouped_base_chains(m, masquerade=m.Rule(stmts=[
            m.VerdictExpr(kind="jump", target="masquerading")])),
    ]
    for s in services:
        chains += classic_service_model(m, s)
    table = m.Table(family=TABLE[0], name=TABLE[1], sets=[vmap], chains=chains)
    return m.Ruleset(tables=[table])


# --- iptables ------------------------------------------------------------------------------

_IPT_HEAD = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]",
             ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"]
_IPT_TOP = ["KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"]


def _ipt_service_rules(s: Service) -> list[str]:
    cidr = CLUSTER_CIDR
    out = [f"-A {s.ipt_chain} ! -s {cidr} -d {s.ip}/32 -p {s.proto} -m {s.proto} "
           f"--dport {s.port} -j KUBE-MARK-MASQ"]
    for j, _ep in enumerate(s.endpoints):
        left = s.k - j
        if left > 1:
            out.append(f"-A {s.ipt_chain} -m statistic --mode random --probability "
                       f"{1 / left:.11f} -j {s.ipt_endpoint_chain(j)}")
        else:
            out.append(f"-A {s.ipt_chain} -j {s.ipt_endpoint_chain(j)}")
    for j, (ip, port) in enumerate(s.endpoints):
        c = s.ipt_endpoint_chain(j)
        out.append(f"-A {c} -s {ip}/32 -j KUBE-MARK-MASQ")
        out.append(f"-A {c} -p {s.proto} -m {s.proto} -j DNAT --to-destination {ip}:{port}")
    return out


def _ipt_service_jump(s: Service) -> str:
    return (f"-A KUBE-SERVICES -d {s.ip}/32 -p {s.proto} -m {s.proto} --dport {s.port} "
            f"-j {s.ipt_chain}")


def _ipt_chains(s: Service) -> list[str]:
    return [f":{s.ipt_chain} - [0:0]"] + [f":{s.ipt_endpoint_chain(j)} - [0:0]"
                                          for j in range(s.k)]


def iptables_text(services: Sequence[Service]) -> str:
    """kube-proxy's iptables-mode nat table for ``iptables-restore`` (full restore)."""
    m = f"0x{MASQ_MARK:x}"
    out = list(_IPT_HEAD) + [f":{c} - [0:0]" for c in _IPT_TOP]
    for s in services:
        out += _ipt_chains(s)
    out += ["-A PREROUTING -j KUBE-SERVICES", "-A OUTPUT -j KUBE-SERVICES",
            "-A POSTROUTING -j KUBE-POSTROUTING",
            f"-A KUBE-MARK-MASQ -j MARK --set-xmark {m}/{m}",
            f"-A KUBE-POSTROUTING -m mark ! --mark {m}/{m} -j RETURN",
            f"-A KUBE-POSTROUTING -j MARK --set-xmark {m}/0x0",
            "-A KUBE-POSTROUTING -j MASQUERADE --random-fully"]
    out += [_ipt_service_jump(s) for s in services]
    for s in services:
        out += _ipt_service_rules(s)
    out.append("COMMIT")
    return "\n".join(out) + "\n"


def iptables_partial_text(services: Sequence[Service], changed: Iterable[Service] = (),
                          removed: Iterable[Service] = ()) -> str:
    """What kube-proxy restores with ``--noflush`` when some services changed: the whole
    ``KUBE-SERVICES`` chain (it always rewrites it), the changed services' chains, and ``-X``
    for removed ones. ``services`` is the full set after the change."""
    out = ["*nat", ":KUBE-SERVICES - [0:0]"]
    changed = list(changed)
    removed = list(removed)
    for s in changed + removed:
        out += _ipt_chains(s)
    out += [_ipt_service_jump(s) for s in services]
    for s in changed:
        out += _ipt_service_rules(s)
    for s in removed:
        out += [f"-X {c[1:].split()[0]}" for c in _ipt_chains(s)]
    out.append("COMMIT")
    return "\n".join(out) + "\n"
