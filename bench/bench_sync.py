"""Declarative sync benchmark: ``Nftables.sync`` beside what a service proxy does by hand.

One command (root; every load happens in a throwaway network namespace)::

    python3 bench/bench_sync.py                           # grouped 1k and 30k, classic 1k
    python3 bench/bench_sync.py --grouped 1000 --classic 1000 --reps 20

For each layout (bench/_layouts.py) and number of services, side by side in one run:

full sync from empty
    ``Nftables.sync(model)`` into an empty namespace, against ``nft -f`` of the same ruleset's
    text in another empty namespace (process start included); the ratio is sync / nft -f.
no-op sync
    ``sync`` of the model the kernel already has (the agent keeps its model: unchanged
    objects are the same objects), median over ``--reps``.
one-service change
    one service added and removed again, alternately, through ``sync`` (both desired models
    built before the timing: it measures the sync, not the agent's model building); beside
    it the same change as kube-proxy makes it, ``nft -f`` of the changed objects (its
    ``add element``/``add chain`` text, process start included), the same text through
    libnftables in process (``Nftables.run_text``), and (grouped layout) the element ops
    through ``Nftables.run`` without a diff: the floor a sync adds its diff to.
sync after a foreign commit
    the first sync after another process committed: it reads the owned table again.

Wall-clock numbers on a shared machine: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import nftkit  # noqa: E402
import nftkit.model as m  # noqa: E402
from bench import _layouts as L  # noqa: E402
from bench.bench_scale import in_ns, netns, write  # noqa: E402
from nftkit.render.context import installed_nft_version  # noqa: E402

__all__ = ["main"]

Row = dict[str, Any]


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1e3


def timed(fn: Callable[[], object], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _grouped_change(table: m.Table, svc: L.Service) -> m.Table:
    """``table`` (grouped layout) with ``svc`` added: its group's set and map replaced, every
    other object the same object."""
    keys, pairs = L.grouped_service_elements(svc)
    sets = list(table.sets)
    for i, s in enumerate(sets):
        if s.name == f"svc-k{svc.k}":
            sets[i] = s.replace(elements=(*s.elements, *keys))
        elif s.name == f"ep-k{svc.k}":
            sets[i] = s.replace(elements=(*s.elements, *pairs))
    return table.replace(sets=tuple(sets))


def _classic_change(table: m.Table, svc: L.Service) -> m.Table:
    """``table`` (classic layout) with ``svc`` added: its chains and its vmap element."""
    sets = tuple(s.replace(elements=(*s.elements, L.classic_vmap_element(svc)))
                 if s.name == "service-ips" else s for s in table.sets)
    return table.replace(sets=sets, chains=(*table.chains, *L.classic_service_model(m, svc)))


LAYOUTS: dict[str, tuple[Callable[..., Any], Callable[..., str], Callable[..., m.Table],
                         Callable[[L.Service], str], Callable[[L.Service], str]]] = {
    "grouped": (L.grouped_model, L.grouped_text, _grouped_change, L.grouped_add_service_text,
                L.grouped_delete_service_text),
    "classic": (L.classic_model, L.classic_text, _classic_change, L.classic_add_service_text,
                L.classic_delete_service_text),
}


def bench(layout: str, n: int, reps: int) -> list[Row]:
    model_of, text_of, change, add_text, del_text = LAYOUTS[layout]
    services = L.make_services(n)
    base: m.Table = model_of(services).tables[0]
    svc = L.make_services(1, start=n + 5, endpoints=2)[0]
    changed = change(base, svc)
    rows: list[Row] = []

    def row(what: str, tool: str, times: list[float]) -> None:
        rows.append({"layout": layout, "services": n, "what": what, "tool": tool,
                     "median_ms": median_ms(times), "runs": len(times)})
        print(f"  {layout:8} {n:>6} {what:22} {tool:44} {median_ms(times):10.2f} ms "
              f"({len(times)} runs)", flush=True)

    # full sync from empty, against nft -f of the same ruleset
    with netns() as ns:
        path = write(f"sync-{layout}-{n}.nft", text_of(services))
        row("full sync from empty", "nft -f (same ruleset)",
            in_ns(ns, [(["nft", "-f", path], None)]))
    with netns() as ns, nftkit.Nftables(netns=ns) as nft:
        _ = nft.version
        t = time.perf_counter()
        result = nft.sync(base)
        row("full sync from empty", f"Nftables.sync [{result.path}]",
            [time.perf_counter() - t])
        # no-op: nothing read, nothing sent
        row("no-op sync", "Nftables.sync", timed(lambda: nft.sync(base), reps))
        # one service added and removed again, alternately
        adds: list[float] = []
        dels: list[float] = []
        paths = set()
        for _ in range(reps):
            t = time.perf_counter()
            r = nft.sync(changed)
            adds.append(time.perf_counter() - t)
            paths.add(r.path)
            assert r.ops, "the change was not seen"
            t = time.perf_counter()
            nft.sync(base)
            dels.append(time.perf_counter() - t)
        row("one-service add", f"Nftables.sync [{'/'.join(sorted(paths))}]", adds)
        row("one-service delete", "Nftables.sync", dels)
        # the same element ops through Nftables.run, without the diff (grouped layout)
        if layout == "grouped":
            keys, pairs = L.grouped_service_elements(svc)
            where = L.TABLE
            add = (nftkit.Transaction().add_elements(f"svc-k{svc.k}", keys, table=where)
                   .add_elements(f"ep-k{svc.k}", pairs, table=where))
            delete = (nftkit.Transaction().delete_elements(f"svc-k{svc.k}", keys, table=where)
                      .delete_elements(f"ep-k{svc.k}", [p[0] for p in pairs], table=where))
            a, d = [], []
            for _ in range(reps):
                a += timed(lambda: nft.run(add), 1)
                d += timed(lambda: nft.run(delete), 1)
            row("one-service add", f"Nftables.run of the element ops [{nft.last_path}]", a)
            row("one-service delete", "Nftables.run of the element ops", d)
        # what a read costs (the first sync after another writer's commit)
        nft.run_text("add chain ip kube-proxy other-writer")
        nft.run_text("delete chain ip kube-proxy other-writer")
        t = time.perf_counter()
        r = nft.sync(base)
        row("sync after a foreign commit", "Nftables.sync (reads the table)",
            [time.perf_counter() - t])
        # the same change by hand, as kube-proxy makes it
        addf, delf = write(f"s{layout}{n}-add.nft", add_text(svc)), write(
            f"s{layout}{n}-del.nft", del_text(svc))
        times = in_ns(ns, [(["nft", "-f", addf], None), (["nft", "-f", delf], None)], reps)
        row("one-service add", "nft -f of the changed objects", times[0::2])
        row("one-service delete", "nft -f of the changed objects", times[1::2])
        a = timed(lambda: nft.run_text(add_text(svc)), 1)
        d = timed(lambda: nft.run_text(del_text(svc)), 1)
        for _ in range(reps - 1):
            a += timed(lambda: nft.run_text(add_text(svc)), 1)
            d += timed(lambda: nft.run_text(del_text(svc)), 1)
        row("one-service add", "Nftables.run_text of the same text", a)
        row("one-service delete", "Nftables.run_text of the same text", d)
        final = nft.sync(base)
        assert final.retries == 0
    return rows


def table(rows: list[Row]) -> str:
    """The rows as a markdown table, one line per (layout, services, what)."""
    out = ["| layout | services | what | tool | median |", "|---|---:|---|---|---:|"]
    for r in rows:
        out.append(f"| {r['layout']} | {r['services']:,} | {r['what']} | {r['tool']} | "
                   f"{r['median_ms']:.2f} ms |")
    full = {(r["layout"], r["services"], r["tool"].split(" [")[0]): r["median_ms"]
            for r in rows if r["what"] == "full sync from empty"}
    for (layout, n, tool), ms in sorted(full.items()):
        if tool == "Nftables.sync":
            other = full.get((layout, n, "nft -f (same ruleset)"))
            if other:
                out.append(f"\nfull sync / nft -f, {layout} {n:,}: {ms / other:.2f}x")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grouped", type=int, nargs="*", default=[1000, 30000])
    ap.add_argument("--classic", type=int, nargs="*", default=[1000])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    print(f"nft {installed_nft_version()}, load average {os.getloadavg()[0]:.2f}", flush=True)
    rows: list[Row] = []
    for layout, sizes in (("grouped", args.grouped), ("classic", args.classic)):
        for n in sizes:
            rows += bench(layout, n, args.reps)
    print()
    print(table(rows))
    print(f"\nload average {os.getloadavg()[0]:.2f}")
    if args.out:
        args.out.write_text(json.dumps({"rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
