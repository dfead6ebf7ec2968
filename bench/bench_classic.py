"""Classic-layout benchmark: a one-service add and delete in kube-proxy's nftables layout.

One command (root; every load happens in a throwaway network namespace)::

    python3 bench/bench_classic.py                        # 1k and 10k services
    python3 bench/bench_classic.py --sizes 1000 --reps 10 --full-load

The classic layout (bench/_layouts.py: a chain per service with ``numgen random mod k vmap
{ 0 : goto ep-a, 1 : goto ep-b }``, a chain per endpoint, a ``service-ips`` verdict-map
element per service) is loaded with N services (over netlink, in batches of 500 services so
that the load is not quadratic), then one more service is added and deleted, median over
``--reps``. Rows, for the add (3 chains, 5 rules, one anonymous map, one element) and for the
delete (one element, 3 chains):

``run(txn)``
    plain ``Nftables.run(txn)``: default arguments (the netlink path, handles from the
    kernel's echo)
``run(txn, handles=False)``
    the same without the echo
``run(txn, netlink=False, handles=False)``
    libnftables' JSON path without echo (before the netlink path carried anonymous sets,
    this was the best an add could do)
``nft -f``
    the nft binary with the change as text, one process per change (start included)
``floor: batch replayed``
    the batch nftkit sends, encoded once, then only sent (``NetlinkSocket.batch``); its
    messages are byte-identical with nft's (``tests/backend/test_nl_anon.py``): what the kernel
    itself takes

``--full-load`` also times the full load of the layout: ``Nftables.run`` of the whole table
(one batch, handles=False) against ``nft -f`` of its text (each in a fresh namespace; both
quadratic in the number of anonymous sets of one batch). Wall-clock numbers on a shared
machine: check the load average printed with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import nftkit  # noqa: E402
import nftkit.model as m  # noqa: E402
from bench import _layouts as L  # noqa: E402
from bench.bench_scale import in_ns, netns, write  # noqa: E402
from nftkit import Transaction  # noqa: E402
from nftkit.backend.netlink._txn import NetlinkPath  # noqa: E402

__all__ = ["main"]

CHUNK = 500


def load(nft: nftkit.Nftables, services: list[L.Service]) -> None:
    """The classic layout with ``services``, in batches of ``CHUNK`` services."""
    nft.run(Transaction().add(L.classic_model(services[:CHUNK])), handles=False)
    for start in range(CHUNK, len(services), CHUNK):
        txn = Transaction()
        part = services[start:start + CHUNK]
        for s in part:
            for c in reversed(L.classic_service_model(m, s)):
                txn.add(c, table=L.TABLE)
        txn.add_elements("service-ips", [L.classic_vmap_element(s) for s in part],
                         table=L.TABLE)
        nft.run(txn, handles=False)


def change(n: int) -> tuple[Transaction, Transaction, str, str]:
    """(add txn, delete txn, add text, delete text) of one new service."""
    svc = L.make_services(1, start=n + 5)[0]
    add = Transaction()
    chains = L.classic_service_model(m, svc)
    for c in reversed(chains):  # endpoint chains first: the service chain goes to them
        add.add(c, table=L.TABLE)
    add.add_elements("service-ips", [L.classic_vmap_element(svc)], table=L.TABLE)
    delete = Transaction().delete_elements("service-ips", [L.classic_vmap_element(svc)],
                                           table=L.TABLE)
    for c in chains:
        delete.delete("chain", table=L.TABLE, name=c.name)
    return add, delete, L.classic_add_service_text(svc), L.classic_delete_service_text(svc)


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1e3


def timed_pair(first: Callable[[], object], second: Callable[[], object], reps: int
               ) -> tuple[list[float], list[float]]:
    a: list[float] = []
    b: list[float] = []
    for _ in range(reps):
        t = time.perf_counter()
        first()
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        second()
        b.append(time.perf_counter() - t)
    return a, b


def bench_size(n: int, reps: int, full_load: bool) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    services = L.make_services(n)
    if full_load:
        with netns() as ns, nftkit.Nftables(netns=ns) as nft:
            table = L.classic_model(services)
            t = time.perf_counter()
            r = nft.run(Transaction().add(table), handles=False)
            rows.append((f"full load: Nftables.run ({r.path})", time.perf_counter() - t, 0.0))
        with netns() as ns:
            path = write(f"classic-{n}.nft", L.classic_text(services))
            rows.append(("full load: nft -f", in_ns(ns, [(["nft", "-f", path], None)])[0], 0.0))
    add, delete, add_text, del_text = change(n)
    with netns() as ns, nftkit.Nftables(netns=ns) as nft:
        load(nft, services)
        _ = nft.version
        variants: list[tuple[str, dict[str, bool]]] = [
            ("run(txn)", {}), ("run(txn, handles=False)", {"handles": False}),
            ("run(txn, netlink=False, handles=False)", {"handles": False, "netlink": False})]
        for label, kwargs in variants:
            a, d = timed_pair(lambda kw=kwargs: nft.run(add, **kw),  # type: ignore[misc]
                              lambda kw=kwargs: nft.run(delete, **kw), reps)  # type: ignore[misc]
            rows.append((f"{label} [{nft.last_path}]", median_ms(a), median_ms(d)))
        addf, delf = write(f"c{n}-add.nft", add_text), write(f"c{n}-del.nft", del_text)
        times = in_ns(ns, [(["nft", "-f", addf], None), (["nft", "-f", delf], None)], reps)
        rows.append(("nft -f of the change", median_ms(times[0::2]), median_ms(times[1::2])))
        nl = NetlinkPath(os.open(f"/run/netns/{ns}", os.O_RDONLY))
        msgs = {}
        for name, txn in (("add", add), ("delete", delete)):
            msgs[name] = nl.encode(txn.ops, txn.batch(ordered=True))[0]

        def send(name: str) -> None:
            if nl.send(msgs[name], commit=True) is not None:
                raise RuntimeError(f"replayed {name} batch refused")

        a, d = timed_pair(lambda: send("add"), lambda: send("delete"), reps)
        rows.append(("floor: batch replayed", median_ms(a), median_ms(d)))
        nl.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--full-load", action="store_true")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    print(f"load average before: {os.getloadavg()}")
    print("| services | path | add (median) | delete (median) |\n|---:|---|---:|---:|")
    for n in (int(x) for x in args.sizes.split(",")):
        for label, add_ms, del_ms in bench_size(n, args.reps, args.full_load):
            if label.startswith("full load"):
                print(f"| {n:,} | {label} | {add_ms:.2f} s | |")
            else:
                print(f"| {n:,} | {label} | {add_ms:.2f} ms | {del_ms:.2f} ms |")
            sys.stdout.flush()
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
