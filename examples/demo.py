"""nftkit's main job, end to end: a kube-proxy-shaped service proxy in a throwaway namespace.

1. builds the ruleset with the model: a verdict map from service IP . protocol . port to a
   per-service chain, which load-balances with ``numgen random`` to per-endpoint chains that
   DNAT to the endpoint (the layout of kube-proxy's nftables mode, simplified);
2. applies it atomically (one libnftables batch) in a new network namespace;
3. adds a service, adds an endpoint, removes an endpoint and removes a service, each as one
   small transaction (map elements, chains and a replaced rule);
4. shows that a failing transaction changes nothing and names the operation that failed;
5. lists the table back (JSON -> model), compares it with what the model says it should be,
   parses nft's text listing too (``nftkit.parse``), and prints it;
6. removes the namespace, whatever happened.

Run as root: ``python3 examples/demo.py`` (or ``scripts/demo.sh``, which installs what it
needs first). Nothing touches the host's own ruleset.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import nftkit
from nftkit import (
    BinopExpr,
    Chain,
    ConcatExpr,
    MangleStmt,
    Map,
    MatchStmt,
    MetaExpr,
    NatStmt,
    NumgenExpr,
    PayloadExpr,
    PrefixExpr,
    Rule,
    SetExpr,
    SetRefExpr,
    Table,
    Transaction,
    VerdictExpr,
    VerdictMapStmt,
)

__all__ = ["main"]

FAMILY, TABLE = "ip", "kube-proxy"
T = (FAMILY, TABLE)
CLUSTER_CIDR = PrefixExpr(addr=ipaddress.ip_address("10.0.0.0"), len=8)
MASQ_MARK = 0x4000
R = TypeVar("R")

#: service name -> (cluster IP, port, [(endpoint IP, target port), ...])
SERVICES: dict[str, tuple[str, int, list[tuple[str, int]]]] = {
    "default/kubernetes/tcp/https": ("172.30.0.1", 443, [("192.168.0.10", 6443)]),
    "kube-system/dns/tcp/dns": ("172.30.0.10", 53, [("10.128.0.5", 5353),
                                                      ("10.128.1.7", 5353)]),
    "shop/web/tcp/http": ("172.30.12.7", 80, [("10.128.2.3", 8080), ("10.128.3.9", 8080),
                                              ("10.128.4.2", 8080)]),
}


def ip(text: str) -> Any:
    return ipaddress.ip_address(text)


def short(name: str) -> str:
    """kube-proxy prefixes chain names with a hash so they stay unique and short enough."""
    return hashlib.sha256(name.encode()).hexdigest()[:8].upper()


def service_chain_name(svc: str) -> str:
    return f"service-{short(svc)}-{svc}"


def endpoint_chain_name(svc: str, ep: tuple[str, int]) -> str:
    return f"endpoint-{short(svc + ep[0])}-{svc}__{ep[0]}/{ep[1]}"


def mark_for_masquerade() -> VerdictExpr:
    return VerdictExpr(kind="jump", target="mark-for-masquerade")


def service_chain(svc: str, cluster_ip: str, port: int, endpoints: list[tuple[str, int]]
                  ) -> Chain:
    """``service-...``: masquerade traffic from outside the cluster, then pick an endpoint."""
    rules = [Rule(stmts=[
        MatchStmt(left=PayloadExpr(protocol="ip", field="daddr"), right=ip(cluster_ip)),
        MatchStmt(left=PayloadExpr(protocol="tcp", field="dport"), right=port),
        MatchStmt(left=PayloadExpr(protocol="ip", field="saddr"), op="!=", right=CLUSTER_CIDR),
        mark_for_masquerade(),
    ])]
    if endpoints:
        rules.append(Rule(stmts=[VerdictMapStmt(
            key=NumgenExpr(mode="random", mod=len(endpoints)),
            data=SetExpr(elements=[
                (i, VerdictExpr(kind="goto", target=endpoint_chain_name(svc, ep)))
                for i, ep in enumerate(endpoints)]))]))
    return Chain(name=service_chain_name(svc), rules=rules)


def endpoint_chain(svc: str, ep: tuple[str, int]) -> Chain:
    """``endpoint-...``: hairpin traffic is masqueraded, everything is DNATed."""
    return Chain(name=endpoint_chain_name(svc, ep), rules=[
        Rule(stmts=[MatchStmt(left=PayloadExpr(protocol="ip", field="saddr"), right=ip(ep[0])),
                    mark_for_masquerade()]),
        Rule(stmts=[MatchStmt(left=MetaExpr(key="l4proto"), right="tcp"),
                    NatStmt(type="dnat", addr=ip(ep[0]), port=ep[1])]),
    ])


def map_element(svc: str, cluster_ip: str, port: int) -> tuple[Any, VerdictExpr]:
    """``172.30.0.10 . tcp . 53 : goto service-...``."""
    return (ConcatExpr(exprs=[ip(cluster_ip), "tcp", port]),
            VerdictExpr(kind="goto", target=service_chain_name(svc)))


def build_table(services: dict[str, tuple[str, int, list[tuple[str, int]]]]) -> Table:
    """The whole proxy as one model object."""
    mark = MetaExpr(key="mark")
    chains = [
        Chain.base("nat-prerouting", type="nat", hook="prerouting", priority="dstnat",
                   rules=[Rule(stmts=[VerdictExpr(kind="jump", target="services")])]),
        Chain.base("nat-output", type="nat", hook="output", priority="dstnat",
                   rules=[Rule(stmts=[VerdictExpr(kind="jump", target="services")])]),
        Chain.base("nat-postrouting", type="nat", hook="postrouting", priority="srcnat",
                   rules=[Rule(stmts=[
                       MatchStmt(left=BinopExpr(op="&", left=mark, right=MASQ_MARK), op="!=",
                                 right=0),
                       NatStmt(type="masquerade")])]),
        Chain(name="mark-for-masquerade", rules=[Rule(stmts=[
            MangleStmt(key=mark, value=BinopExpr(op="|", left=mark, right=MASQ_MARK))])]),
        Chain(name="services", rules=[Rule(stmts=[VerdictMapStmt(
            key=ConcatExpr(exprs=[PayloadExpr(protocol="ip", field="daddr"),
                                  MetaExpr(key="l4proto"),
                                  PayloadExpr(protocol="th", field="dport")]),
            data=SetRefExpr(name="service-ips"))])]),
    ]
    for svc, (_cip, _port, eps) in services.items():
        chains.append(service_chain(svc, *services[svc]))
        chains += [endpoint_chain(svc, ep) for ep in eps]
    vmap = Map(name="service-ips", type=("ipv4_addr", "inet_proto", "inet_service"),
               data_type="verdict",
               elements=[map_element(svc, cip, port) for svc, (cip, port, _) in services.items()])
    return Table(family=FAMILY, name=TABLE, comment="rules for kube-proxy (nftkit demo)",
                 chains=chains, sets=[vmap])


# --- running it -----------------------------------------------------------------------------


@contextmanager
def throwaway_netns() -> Iterator[str]:
    name = f"nftkit-demo-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
        print(f"[cleanup] network namespace {name} removed")


def timed(label: str, fn: Callable[[], R]) -> R:
    start = time.perf_counter()
    result = fn()
    print(f"  {label:<58} {1000 * (time.perf_counter() - start):8.2f} ms")
    return result


def canonical(t: Table) -> list[str]:
    """The table's JSON (handles aside), one line per member; chains by name and set elements
    sorted (the kernel lists chains in creation order and a hash set's elements in its own
    order: neither means anything)."""
    sets = [s.replace(elements=sorted(s.elements, key=repr)) for s in t.sets]
    chains = sorted(t.chains, key=lambda c: c.name)
    doc = nftkit.to_json(t.replace(sets=sets, chains=chains))
    return json.dumps(doc, indent=1).splitlines()


def same(a: Table, b: Table) -> bool:
    """Equal as the kernel sees them; prints the difference when not."""
    ca, cb = canonical(a), canonical(b)
    if ca != cb:
        print("\n".join(difflib.unified_diff(ca, cb, "listed", "expected", lineterm="")))
    return ca == cb


def text_parser() -> Callable[[str], Any] | None:
    """``nftkit.parse`` (the text parser) when this nftkit has it."""
    fn = getattr(nftkit, "parse", None)
    if callable(fn):
        return fn  # type: ignore[no-any-return]
    try:
        from nftkit.semantics.script import parse
    except ImportError:
        return None
    return parse


def main() -> int:
    services = {k: (v[0], v[1], list(v[2])) for k, v in SERVICES.items()}
    table = build_table(services)
    n_chains, n_rules = len(table.chains), sum(len(c.rules) for c in table.chains)
    print(f"model: table {FAMILY} {TABLE}: {len(services)} services, {n_chains} chains, "
          f"{n_rules} rules, 1 verdict map")

    with throwaway_netns() as ns:
        print(f"\n[1] in network namespace {ns}")
        nft = timed("open a libnftables context inside it",
                    lambda: nftkit.Nftables(netns=ns))
        txn = Transaction().add(table)
        result = timed(f"apply the whole proxy: 1 atomic batch of {len(txn)} ops",
                       lambda: nft.run(txn))
        print(f"  kernel handles: {len(result.created())} objects created")

        print("\n[2] per-element transactions")
        svc, new = "shop/cart/tcp/http", ("172.30.40.2", 80, [("10.128.5.1", 8080)])
        add_svc = Transaction()
        add_svc.add(endpoint_chain(svc, new[2][0]), table=T)
        add_svc.add(service_chain(svc, *new), table=T)
        add_svc.add_elements("service-ips", [map_element(svc, new[0], new[1])], table=T)
        timed(f"add service {svc} ({len(add_svc)} ops)", lambda: nft.run(add_svc))
        services[svc] = (new[0], new[1], list(new[2]))

        # A new endpoint: its chain, and the service's load-balancing rule replaced in place.
        ep = ("10.128.5.2", 8080)
        lb_rule = nft.list_chain(FAMILY, TABLE, service_chain_name(svc)).rules[1]
        assert lb_rule.handle is not None
        services[svc][2].append(ep)
        add_ep = (Transaction().add(endpoint_chain(svc, ep), table=T)
                  .replace(service_chain(svc, *services[svc]).rules[1], table=T,
                           chain=service_chain_name(svc), handle=lb_rule.handle))
        timed(f"add endpoint {ep[0]}:{ep[1]} to {svc}", lambda: nft.run(add_ep))

        # An endpoint goes away: the rule first, then its chain (no longer jumped to).
        gone = services["shop/web/tcp/http"][2].pop(0)
        web = "shop/web/tcp/http"
        lb_rule = nft.list_chain(FAMILY, TABLE, service_chain_name(web)).rules[1]
        assert lb_rule.handle is not None
        del_ep = (Transaction()
                  .replace(service_chain(web, *services[web]).rules[1], table=T,
                           chain=service_chain_name(web), handle=lb_rule.handle)
                  .delete("chain", table=T, name=endpoint_chain_name(web, gone)))
        timed(f"remove endpoint {gone[0]}:{gone[1]} from {web}", lambda: nft.run(del_ep))

        # A service goes away: its map element, then its chains.
        dns = "kube-system/dns/tcp/dns"
        cip, port, eps = services.pop(dns)
        del_svc = Transaction().delete_elements("service-ips", [map_element(dns, cip, port)],
                                                table=T)
        del_svc.delete("chain", table=T, name=service_chain_name(dns))
        for e in eps:
            del_svc.delete("chain", table=T, name=endpoint_chain_name(dns, e))
        timed(f"remove service {dns} ({len(del_svc)} ops)", lambda: nft.run(del_svc))

        one = Transaction().add_elements(
            "service-ips", [map_element("shop/web/tcp/http", "172.30.12.8", 80)], table=T)
        timed("add one map element (a second IP for shop/web)", lambda: nft.run(one))
        timed("remove it again", lambda: nft.run(Transaction().delete_elements(
            "service-ips", [map_element("shop/web/tcp/http", "172.30.12.8", 80)], table=T)))

        print("\n[3] a failing transaction changes nothing")
        before = nft.run_text(f"list table {FAMILY} {TABLE}", handles=True)
        bad = (Transaction().add(Chain(name="half-done"), table=T)
               .add_elements("service-ips", [map_element("x/y/tcp/z", "172.30.99.9", 80)],
                             table=T))
        start = time.perf_counter()
        try:
            nft.run(bad)
        except nftkit.NotFoundError as exc:
            ms = 1000 * (time.perf_counter() - start)
            print(f"  {'add a chain + an element jumping to a missing chain':<58} {ms:8.2f} ms"
                  " (including finding the failing op)")
            print(f"  NotFoundError at operation {exc.index}: {exc.operation!r}")
        unchanged = nft.run_text(f"list table {FAMILY} {TABLE}", handles=True) == before
        print(f"  listing byte-identical afterwards: {unchanged}")

        print("\n[4] read back")
        listed = timed("list the table (JSON -> model)",
                       lambda: nft.list_table(FAMILY, TABLE))
        expected = build_table(services)
        print(f"  equal to the model built from the final service list: "
              f"{same(listed, expected)}")
        text = nft.run_text(f"list table {FAMILY} {TABLE}")
        parse = text_parser()
        if parse is not None:
            try:
                timed("parse nft's text listing (nftkit.parse), first call", lambda: parse(text))
                parsed = timed("parse it again (the grammar is built once per process)",
                               lambda: parse(text))
                print(f"  text parse equals the JSON read: "
                      f"{same(parsed.table(FAMILY, TABLE), listed)}")
            except nftkit.NftkitError as exc:
                print(f"  the text parser cannot read this listing yet: {exc}")
        else:
            print("  (nftkit.parse is not available in this version: text parse skipped)")
        print(f"  nft list table {FAMILY} {TABLE}: {len(text.splitlines())} lines; the map:")
        for line in nftkit.to_text(listed).splitlines():
            if "elements" in line or " : goto " in line:
                print("   ", line.strip())
        ok = unchanged and same(listed, expected)
    print("\ndemo", "succeeded" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
