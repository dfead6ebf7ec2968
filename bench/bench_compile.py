"""Benchmark: compile a kube-proxy-shaped ruleset to nft text and JSON, against the floor.

    python bench/bench_compile.py            # 10,000 services (the documented run)
    python bench/bench_compile.py --quick    # 1,000 services, for CI
    python bench/bench_compile.py --services 3000 --repeat 5 --profile

The model: ``table ip kube-proxy`` with a ``service-ips`` verdict map and, per service, one
map element, one service chain with two rules (a masquerade-mark jump and ``numgen random mod
2 vmap``), and two endpoint chains with two rules each (a hairpin mark jump and ``dnat``).

Side by side in one run, ``--repeat`` rounds that each time nftkit and its floor back to back
(CPU time of this process); the times shown are the best, the ratio is the median of the
rounds' ratios:

- ``to_text(model)`` against a plain f-string generator that writes the same text directly
  from the service list (the floor: no model, no dispatch);
- ``to_json(model)`` against ``json.loads`` of the same JSON document (the floor for producing
  the same dicts);
- the model's memory against the memory of those JSON dicts (tracemalloc, bytes retained).

Targets (issue #2): to_text within 2x the f-string floor, to_json within 2x json.loads, model
memory no more than the JSON dicts. ``--profile`` prints where the compile time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import ipaddress
import json
import os
import pstats
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nftkit
from nftkit.model.expressions import (
    ConcatExpr,
    MetaExpr,
    NumgenExpr,
    PayloadExpr,
    PrefixExpr,
    SetExpr,
    SetRefExpr,
    VerdictExpr,
)
from nftkit.model.statements import (
    MangleStmt,
    MatchOp,
    MatchStmt,
    NatStmt,
    VerdictMapStmt,
)

__all__ = ["Service", "build_model", "fstring_text", "main", "services"]

POD_CIDR = "10.244.0.0/16"
MASQ_MARK = 0x4000


@dataclass(frozen=True)
class Service:
    """One ClusterIP service with two endpoints (what an agent would have in memory)."""

    name: str  # e.g. "ns12/svc34/tcp/http", used in chain names
    ip: ipaddress.IPv4Address
    port: int
    endpoints: tuple[tuple[ipaddress.IPv4Address, int], tuple[ipaddress.IPv4Address, int]]

    @property
    def chain(self) -> str:
        return f"service-{self.name}"

    def endpoint_chain(self, i: int) -> str:
        ip, port = self.endpoints[i]
        return f"endpoint-{self.name}__{ip}/{port}"


def services(n: int) -> list[Service]:
    """``n`` deterministic services: ClusterIPs from 10.96.0.0/12, pods from 10.244.0.0/16."""
    out = []
    base_svc = int(ipaddress.IPv4Address("10.96.0.10"))
    base_pod = int(ipaddress.IPv4Address("10.244.0.10"))
    for i in range(n):
        eps = tuple((ipaddress.IPv4Address(base_pod + 2 * i + k), 8080) for k in range(2))
        out.append(Service(name=f"ns{i // 100}/svc{i}/tcp/http",
                           ip=ipaddress.IPv4Address(base_svc + i), port=80,
                           endpoints=eps))  # type: ignore[arg-type]
    return out


# --- nftkit model -----------------------------------------------------------------------------


def build_model(svcs: list[Service]) -> nftkit.Ruleset:
    """The kube-proxy-shaped model for ``svcs``, built the way an agent would build it."""
    daddr = PayloadExpr(protocol="ip", field="daddr")
    saddr = PayloadExpr(protocol="ip", field="saddr")
    dport = PayloadExpr(protocol="tcp", field="dport")
    l4proto = MetaExpr(key="l4proto")
    pods = PrefixExpr(addr=ipaddress.IPv4Address("10.244.0.0"), len=16)
    masq = VerdictExpr(kind="jump", target="mark-for-masquerade")
    numgen = NumgenExpr(mode="random", mod=2)

    chains: list[nftkit.Chain] = [
        nftkit.Chain.base("nat-prerouting", type="nat", hook="prerouting", priority="dstnat",
                          policy="accept",
                          rules=[nftkit.Rule(stmts=[VerdictExpr(kind="jump", target="services")])]),
        nftkit.Chain(name="mark-for-masquerade", rules=[nftkit.Rule(stmts=[MangleStmt(
            key=MetaExpr(key="mark"),
            value=nftkit.BinopExpr(op="|", left=MetaExpr(key="mark"), right=MASQ_MARK))])]),
        nftkit.Chain(name="services", rules=[nftkit.Rule(stmts=[VerdictMapStmt(
            key=ConcatExpr(exprs=(daddr, l4proto, PayloadExpr(protocol="th", field="dport"))),
            data=SetRefExpr(name="service-ips"))])]),
    ]
    elements = []
    for s in svcs:
        elements.append((ConcatExpr(exprs=(s.ip, "tcp", s.port)),
                         VerdictExpr(kind="goto", target=s.chain)))
        chains.append(nftkit.Chain(name=s.chain, rules=[
            nftkit.Rule(stmts=[MatchStmt(left=daddr, right=s.ip),
                               MatchStmt(left=dport, right=s.port),
                               MatchStmt(left=saddr, op=MatchOp.NE, right=pods), masq]),
            nftkit.Rule(stmts=[VerdictMapStmt(key=numgen, data=SetExpr(elements=tuple(
                (i, VerdictExpr(kind="goto", target=s.endpoint_chain(i))) for i in range(2))))]),
        ]))
        for i, (ip, port) in enumerate(s.endpoints):
            chains.append(nftkit.Chain(name=s.endpoint_chain(i), rules=[
                nftkit.Rule(stmts=[MatchStmt(left=saddr, right=ip), masq]),
                nftkit.Rule(stmts=[MatchStmt(left=l4proto, right="tcp"),
                                   NatStmt(type="dnat", addr=ip, port=port)]),
            ]))
    vmap = nftkit.Map(name="service-ips", type=("ipv4_addr", "inet_proto", "inet_service"),
                      data_type="verdict", elements=elements)
    table = nftkit.Table(family="ip", name="kube-proxy", chains=chains, sets=[vmap])
    return nftkit.Ruleset(tables=[table])


# --- the floor: the same text written directly ------------------------------------------------


def fstring_text(svcs: list[Service]) -> str:
    """``nft list ruleset`` text for ``svcs`` from f-strings: what to_text must produce."""
    out = ["table ip kube-proxy {",
           "\tmap service-ips {",
           "\t\ttype ipv4_addr . inet_proto . inet_service : verdict"]
    if svcs:
        elems = ",\n\t\t\t     ".join(f"{s.ip} . tcp . {s.port} : goto {s.chain}" for s in svcs)
        out.append(f"\t\telements = {{ {elems} }}")
    out += ["\t}", "",
            "\tchain nat-prerouting {",
            "\t\ttype nat hook prerouting priority dstnat; policy accept;",
            "\t\tjump services",
            "\t}", "",
            "\tchain mark-for-masquerade {",
            f"\t\tmeta mark set meta mark | 0x{MASQ_MARK:08x}",
            "\t}", "",
            "\tchain services {",
            "\t\tip daddr . meta l4proto . th dport vmap @service-ips",
            "\t}"]
    for s in svcs:
        e0, e1 = s.endpoint_chain(0), s.endpoint_chain(1)
        out += ["", f"\tchain {s.chain} {{",
                f"\t\tip daddr {s.ip} tcp dport {s.port} ip saddr != {POD_CIDR} "
                "jump mark-for-masquerade",
                f"\t\tnumgen random mod 2 vmap {{ 0 : goto {e0}, 1 : goto {e1} }}",
                "\t}"]
        for i, (ip, port) in enumerate(s.endpoints):
            out += ["", f"\tchain {s.endpoint_chain(i)} {{",
                    f"\t\tip saddr {ip} jump mark-for-masquerade",
                    f"\t\tmeta l4proto tcp dnat to {ip}:{port}",
                    "\t}"]
    out.append("}")
    return "\n".join(out) + "\n"


# --- measuring --------------------------------------------------------------------------------


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs of ``fn``: CPU seconds of this process (steadier than
    wall time on a machine shared with other work), with GC off as timeit does."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            t0 = time.process_time()
            result = fn()
            best = min(best, time.process_time() - t0)
        finally:
            gc.enable()
    return best, result


def paired(fn: Callable[[], Any], floor: Callable[[], Any],
           repeat: int) -> tuple[float, float, float]:
    """(best time of ``fn``, best time of ``floor``, median of the per-round ratios): each
    round times both back to back, so a change in machine load moves both."""
    fn_times, floor_times, ratios = [], [], []
    for _ in range(repeat):
        a, _ = best_of(fn, 1)
        b, _ = best_of(floor, 1)
        fn_times.append(a)
        floor_times.append(b)
        ratios.append(a / b)
    return min(fn_times), min(floor_times), statistics.median(ratios)


def retained(fn: Callable[[], Any]) -> tuple[int, int, Any]:
    """(bytes still allocated after ``fn``, peak bytes during it, its result), by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = fn()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current - base, peak - base, result


def first_difference(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False)):
        if x != y:
            return f"line {i + 1}:\n  floor : {x!r}\n  nftkit: {y!r}"
    return f"lengths differ: {len(a.splitlines())} vs {len(b.splitlines())} lines"


def check_with_nft(n: int) -> str:
    """Load a small instance's text into a throwaway namespace: does nft read what we write?"""
    try:
        from tests._oracle import have_netns, load_and_list
    except ImportError:
        return "skipped (tests/ not importable)"
    if not have_netns():
        return "skipped (needs root, nft, unshare -n)"
    svcs = services(n)
    lst = load_and_list(nftkit.to_text(build_model(svcs)))
    if not lst.ok:
        return f"nft refused nftkit's text: {lst.error.splitlines()[0]}"
    assert lst.json is not None
    back = nftkit.to_text(nftkit.from_json(lst.json))
    return "nft loads it; to_text(from_json(J)) == T: " + str(back == lst.text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="1,000 services, 3 repeats")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="print the top functions")
    args = ap.parse_args(argv)
    n = 1_000 if args.quick else args.services
    repeat = args.repeat

    print(f"nftkit {nftkit.__version__}, Python {sys.version.split()[0]}, {n} services, "
          f"{repeat} rounds, CPU time, load average {os.getloadavg()[0]:.1f}")
    svcs = services(n)

    build_s, model = best_of(lambda: build_model(svcs), repeat)
    text = nftkit.to_text(model)
    floor_text = fstring_text(svcs)
    doc = nftkit.to_json(model)
    blob = json.dumps(doc)
    # nftkit and its floor run back to back in each round, so that both see the same load.
    text_s, floor_text_s, text_ratio = paired(lambda: nftkit.to_text(model),
                                              lambda: fstring_text(svcs), repeat)
    json_s, loads_s, json_ratio = paired(lambda: nftkit.to_json(model),
                                         lambda: json.loads(blob), repeat)
    ratios = {"to_text": text_ratio, "to_json": json_ratio}

    model_bytes, model_peak, model2 = retained(lambda: build_model(services(n)))
    dicts_bytes, dicts_peak, _ = retained(lambda: json.loads(blob))
    del model2

    same = text == floor_text
    rows = [
        ("build model", build_s, None, None),
        ("to_text", text_s, floor_text_s, "f-string floor"),
        ("to_json", json_s, loads_s, "json.loads"),
    ]
    print(f"\n{'step':<12}{'nftkit':>10}{'floor':>10}{'ratio':>8}  target")
    for name, t, floor, what in rows:
        if floor is None:
            print(f"{name:<12}{t * 1000:>8.0f}ms")
            continue
        r = ratios[name]
        print(f"{name:<12}{t * 1000:>8.0f}ms{floor * 1000:>8.0f}ms{r:>7.2f}x  "
              f"<= 2x {what}: {'met' if r <= 2 else 'MISSED'}")
    mib = 1024 * 1024
    print(f"{'memory':<12}{model_bytes / mib:>8.1f}MB{dicts_bytes / mib:>8.1f}MB"
          f"{model_bytes / dicts_bytes:>7.2f}x  <= 1x JSON dicts: "
          f"{'met' if model_bytes <= dicts_bytes else 'MISSED'}")
    print(f"{'':<12}(peak while building: model {model_peak / mib:.1f}MB, "
          f"json.loads {dicts_peak / mib:.1f}MB)")
    print(f"\ntext: {len(text) / mib:.1f}MB, {text.count(chr(10))} lines; JSON: "
          f"{len(blob) / mib:.1f}MB, {len(doc['nftables'])} objects")
    print(f"to_text == f-string floor: {same}")
    if not same:
        print(first_difference(floor_text, text))
    print(f"nft check (20 services): {check_with_nft(20)}")

    if args.profile:
        for label, fn in (("to_text", lambda: nftkit.to_text(model)),
                          ("to_json", lambda: nftkit.to_json(model))):
            prof = cProfile.Profile()
            prof.runcall(fn)
            print(f"\n--- profile of {label} (top 15 by own time) ---")
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
