"""Scale benchmark: kube-proxy-shaped rulesets, nftkit side by side with nft and iptables.

One command (root; every load happens in a throwaway network namespace)::

    python3 bench/bench_scale.py            # 1k, 10k, 30k, 100k services (classic up to 10k)
    python3 bench/bench_scale.py --quick    # 1k services only, a minute or so (CI)
    python3 bench/bench_scale.py --sizes 30000 --classic-max 0 --full-only   # full syncs only

Measured, for each size N (2 endpoints per service) and layout (``grouped``, ``classic``; see
bench/_layouts.py):

full sync
    ``nftkit netlink`` (grouped layout): model build + ``Nftables.run(Transaction().add(...),
    handles=False)``, which sends ONE nfnetlink batch built from the model (no text, no
    libnftables), GC paused during build and encode; parts: build, encode+apply, encode only.
    ``nftkit`` (text): model build + ``to_text`` + ``Nftables(netns).run_text`` in-process,
    with the three parts also reported; ``nft -f``: the nft binary loading the same text;
    ``iptables-legacy-restore`` / ``iptables-nft-restore``: kube-proxy's iptables-mode rules
    for the same services.
element updates
    the grouped one-service update (3 elements) and one classic verdict-map element, through
    ``Nftables.run(netlink=False)`` (libnftables) and ``Nftables.run()`` (its netlink path).
one-service update (add one service, then delete it; median over repetitions)
    ``nftkit run()``: ``Nftables.run(Transaction)`` (it asks libnftables to echo what it
    created, to return handles, only when an op creates something other than elements);
    ``nftkit txn, JSON without echo``: ``run(txn, handles=False)``;
    ``nft binary``: one ``nft -f`` process per transaction (what knftables and kube-proxy do);
    iptables: a partial ``--noflush`` restore as kube-proxy writes it (the whole
    ``KUBE-SERVICES`` chain plus the changed service's chains).
batch ordering
    the "shared map" layout (a chain per service, each binding one DNAT map) loaded with
    ``nft -f`` with the map's elements sent with the map and after the rules; the classic
    layout as one ``Transaction`` (JSON), as built and reordered by ``order_ops``.

Results go to stdout as markdown and to ``--out`` as JSON (a temporary file unless given);
``--plot PNG`` draws them when matplotlib is installed. Wall-clock numbers on a shared
machine: the load average before and after is recorded, check it before trusting a run.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runs from a fresh clone without installing
    sys.path.insert(0, str(ROOT))

import nftkit  # noqa: E402
from bench import _layouts as L  # noqa: E402
from nftkit import Transaction  # noqa: E402
from nftkit.render.context import installed_nft_version  # noqa: E402

__all__ = ["main"]

SIZES = (1000, 10_000, 30_000, 100_000)
_counter = itertools.count()
_TMP = [Path(tempfile.gettempdir())]  # the run's scratch directory (set by _run)

#: Runs inside a namespace: times each command (argv JSON list, optional stdin file) ``reps``
#: times and prints the seconds as JSON. Started once per measurement, so the nft/iptables
#: process start is measured but ``ip netns exec`` is not.
HELPER = r"""
import json, subprocess, sys, time
plan = json.loads(sys.argv[1])
out = []
for _ in range(plan["reps"]):
    for argv, stdin in plan["steps"]:
        with open(stdin or "/dev/null", "rb") as f:
            t = time.perf_counter()
            r = subprocess.run(argv, stdin=f, capture_output=True)
            dt = time.perf_counter() - t
        if r.returncode:
            sys.exit(f"{argv}: {r.stderr.decode()[:2000]}")
        out.append(dt)
print(json.dumps(out))
"""


@contextlib.contextmanager
def netns() -> Iterator[str]:
    """A fresh named network namespace (``/run/netns/NAME``), deleted afterwards."""
    name = f"nkb{os.getpid()}-{next(_counter)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def in_ns(ns: str, steps: list[tuple[list[str], str | None]], reps: int = 1) -> list[float]:
    """Run ``steps`` (argv, stdin file) ``reps`` times in ``ns``; the seconds of each run."""
    plan = json.dumps({"reps": reps, "steps": steps})
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", HELPER, plan],
                       capture_output=True, text=True, check=False)
    if r.returncode:
        raise RuntimeError(r.stderr.strip() or r.stdout.strip())
    return [float(x) for x in json.loads(r.stdout)]


def write(name: str, text: str) -> str:
    path = _TMP[0] / name
    path.write_text(text)
    return str(path)


def repeat(fn: Callable[[], float], *, reps: int, budget: float) -> list[float]:
    """Up to ``reps`` timings of ``fn``, stopping once ``budget`` seconds are spent (at least
    one)."""
    out: list[float] = []
    start = time.perf_counter()
    while len(out) < reps and (not out or time.perf_counter() - start < budget):
        out.append(fn())
    return out


def in_ns_budget(ns: str, steps: list[tuple[list[str], str | None]], reps: int,
                 budget: float) -> list[float]:
    """``in_ns`` repeated up to ``reps`` times within about ``budget`` seconds."""
    first = in_ns(ns, steps)
    more = min(reps - 1, int(budget / max(sum(first), 1e-6)))
    return first + (in_ns(ns, steps, more) if more > 0 else [])


class Results:
    """The rows measured so far; written to ``path`` after each one, so that an interrupted
    run keeps what it measured."""

    def __init__(self, path: Path | None = None, meta: dict[str, Any] | None = None) -> None:
        self.rows: list[dict[str, Any]] = []
        self.path = path
        self.meta = meta or {}

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"meta": self.meta, "rows": self.rows}, indent=1))

    def add(self, section: str, layout: str, n: int, tool: str, times: list[float],
            **extra: Any) -> None:
        row = {"section": section, "layout": layout, "n": n, "tool": tool,
               "median_s": statistics.median(times), "reps": len(times), **extra}
        self.rows.append(row)
        shown = f"{row['median_s'] * 1e3:10.3f} ms" if row["median_s"] < 1 else \
            f"{row['median_s']:10.3f} s "
        print(f"  {section:12} {layout:8} {n:>7} {tool:34} {shown} (n={len(times)})",
              flush=True)
        self.save()


# --- full syncs ----------------------------------------------------------------------------


def nftkit_full(ns: str, build: Callable[[], Any]) -> tuple[float, dict[str, float], str]:
    """Model build + to_text + run_text, in-process; (total, parts, text)."""
    nft = nftkit.Nftables(netns=ns)
    t0 = time.perf_counter()
    model = build()
    t1 = time.perf_counter()
    text = nftkit.to_text(model)
    t2 = time.perf_counter()
    nft.run_text(text)
    t3 = time.perf_counter()
    nft.close()
    return t3 - t0, {"build_s": t1 - t0, "compile_s": t2 - t1, "apply_s": t3 - t2}, text


def nftkit_netlink_full(ns: str, build: Callable[[], Any]) -> tuple[float, dict[str, float]]:
    """Model build + ``Nftables.run(Transaction().add(table), handles=False)``, which sends
    the table as ONE nfnetlink batch built from the model (no text, no libnftables parser);
    the cyclic GC is paused during the build and the encode, as nftkit's own parser does.
    (total, parts); parts["netlink"] is 1.0 when the netlink path ran (0.0: libnftables)."""
    from nftkit.parse.json import gc_paused

    nft = nftkit.Nftables(netns=ns)
    t0 = time.perf_counter()
    with gc_paused():
        model = build()
        t1 = time.perf_counter()
        txn = Transaction().add(model)
        nft.run(txn, handles=False)
    t2 = time.perf_counter()
    path = nft.last_path
    nft.close()
    return t2 - t0, {"build_s": t1 - t0, "encode_apply_s": t2 - t1,
                     "netlink": 1.0 if path == "netlink" else 0.0}


def encode_only(build: Callable[[], Any]) -> float:
    """The time to encode the layout's batch (no apply), for the parts table."""
    from nftkit.backend.netlink import NetlinkPath
    from nftkit.parse.json import gc_paused

    txn = Transaction().add(build())
    path = NetlinkPath(None)
    try:
        with gc_paused():
            t = time.perf_counter()
            path.encode(txn.ops, txn.batch())
            return time.perf_counter() - t
    finally:
        path.close()


def bench_nft_layout(res: Results, layout: str, n: int, svcs: list[L.Service],
                     reps: int, budget: float, *, updates: bool = True) -> None:
    build = (lambda: L.grouped_model(svcs)) if layout == "grouped" else (
        lambda: L.classic_model(svcs))
    # Each full sync runs in a fresh namespace; small loads are repeated (median), loads that
    # take seconds run once, nftkit and nft -f alternating so that both see the same machine.
    runs: list[tuple[float, dict[str, float]]] = []
    nl_runs: list[tuple[float, dict[str, float]]] = []
    nft_f: list[float] = []
    full_reps = 3 if (layout == "grouped" and n <= 30_000) or n <= 1000 else 1
    text = ""
    for i in range(full_reps):
        with netns() as ns:
            total, parts, text = nftkit_full(ns, build)
            runs.append((total, parts))
            if i == full_reps - 1 and updates:
                bench_updates(res, layout, n, ns, reps, budget)
        if layout == "grouped":
            with netns() as ns:
                try:
                    nl_runs.append(nftkit_netlink_full(ns, build))
                except nftkit.errors.UnsupportedError as exc:
                    # the netlink path could not encode a rule, and libnftables < 1.1
                    # cannot read this layout from JSON: no such row
                    print(f"  (netlink full sync skipped: {exc})")
        path = write(f"{layout}-{n}.nft", text)
        with netns() as ns:
            nft_f += in_ns(ns, [(["nft", "-f", path], None)])
    mid = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    res.add("full sync", layout, n, "nftkit (build+compile+apply)", [r[0] for r in runs],
            **mid[1])
    for key, label in (("build_s", "  nftkit build"), ("compile_s", "  nftkit to_text"),
                       ("apply_s", "  nftkit apply (libnftables)")):
        res.add("full sync", layout, n, label, [r[1][key] for r in runs])
    res.add("full sync", layout, n, "nft -f (same text)", nft_f)
    if nl_runs:
        mid = sorted(nl_runs, key=lambda r: r[0])[len(nl_runs) // 2]
        res.add("full sync", layout, n, "nftkit netlink (build+encode+apply)",
                [r[0] for r in nl_runs], **mid[1])
        res.add("full sync", layout, n, "  nftkit netlink build",
                [r[1]["build_s"] for r in nl_runs])
        res.add("full sync", layout, n, "  nftkit netlink encode+apply",
                [r[1]["encode_apply_s"] for r in nl_runs])
        res.add("full sync", layout, n, "  nftkit netlink encode only",
                [encode_only(build) for _ in range(min(3, len(nl_runs)))])


def bench_iptables(res: Results, n: int, svcs: list[L.Service], reps: int,
                   budget: float, *, updates: bool = True) -> None:
    full = write(f"ipt-{n}.txt", L.iptables_text(svcs))
    extra = L.make_services(1, start=n + 7)
    add = write(f"ipt-{n}-add.txt", L.iptables_partial_text(svcs + extra, changed=extra))
    rem = write(f"ipt-{n}-del.txt", L.iptables_partial_text(svcs, removed=extra))
    for tool in ("iptables-legacy-restore", "iptables-nft-restore"):
        if not shutil.which(tool):
            print(f"  ({tool} not installed: skipped)")
            continue
        fulls = []
        for _ in range(3 if n <= 10_000 else 1):
            with netns() as ns:
                fulls += in_ns(ns, [([tool], full)])
        res.add("full sync", "iptables", n, tool, fulls)
        if not updates:
            continue
        if min(fulls) > 3 * budget:
            # a partial restore re-reads the whole table: minutes per update at this size
            print(f"  ({tool} --noflush skipped: a full restore took {min(fulls):.0f} s)")
            continue
        with netns() as ns:
            in_ns(ns, [([tool], full)])
            times = in_ns_budget(ns, [([tool, "--noflush"], add), ([tool, "--noflush"], rem)],
                                 reps, budget)
            res.add("update", "iptables", n, f"{tool} --noflush (partial)", times[0::2])


# --- updates -------------------------------------------------------------------------------


def update_txns(layout: str, n: int) -> tuple[Transaction, Transaction, str, str]:
    """Add and delete one new service: (add txn, delete txn, add text, delete text)."""
    svc = L.make_services(1, start=n + 5)[0]
    where = L.TABLE
    if layout == "grouped":
        keys, pairs = L.grouped_service_elements(svc)
        add = (Transaction().add_elements(f"ep-k{svc.k}", pairs, table=where)
               .add_elements(f"svc-k{svc.k}", keys, table=where))
        delete = (Transaction().delete_elements(f"svc-k{svc.k}", keys, table=where)
                  .delete_elements(f"ep-k{svc.k}", pairs, table=where))
        return (add, delete, L.grouped_add_service_text(svc),
                L.grouped_delete_service_text(svc))
    import nftkit.model as m

    chains = L.classic_service_model(m, svc)
    add = Transaction()
    for c in reversed(chains):  # endpoint chains first: the service chain jumps to them
        add.add(c, table=where)
    add.add_elements("service-ips", [L.classic_vmap_element(svc)], table=where)
    delete = Transaction().delete_elements("service-ips", [L.classic_vmap_element(svc)],
                                           table=where)
    for c in chains:
        delete.delete("chain", table=where, name=c.name)
    return add, delete, L.classic_add_service_text(svc), L.classic_delete_service_text(svc)


def bench_updates(res: Results, layout: str, n: int, ns: str, reps: int,
                  budget: float) -> None:
    add, delete, add_text, del_text = update_txns(layout, n)
    nft = nftkit.Nftables(netns=ns)
    _ = nft.version  # probed once per context (it lists the tables): not part of an update

    def via_run() -> float:
        # the default path: element-only updates go as a netlink batch (no libnftables)
        t = time.perf_counter()
        nft.run(add)
        dt = time.perf_counter() - t
        nft.run(delete)
        return dt

    res.add("update", layout, n, "nftkit Nftables.run()", repeat(via_run, reps=reps,
                                                                 budget=budget))

    def no_echo() -> float:
        # the same path without the echo flag that run() sets when an op creates something
        # (to learn handles): run(handles=False)
        t = time.perf_counter()
        nft.run(add, handles=False, netlink=False)
        dt = time.perf_counter() - t
        nft.run(delete, handles=False, netlink=False)
        return dt

    res.add("update", layout, n, "nftkit txn, JSON without echo", repeat(no_echo, reps=reps,
                                                                         budget=budget))
    bench_element_paths(res, layout, n, ns, nft, reps, budget)
    nft.close()
    a = write(f"{layout}-{n}-add.nft", add_text)
    d = write(f"{layout}-{n}-del.nft", del_text)
    times = in_ns_budget(ns, [(["nft", "-f", a], None), (["nft", "-f", d], None)],
                         min(reps, 10), budget)
    res.add("update", layout, n, "nft binary per transaction", times[0::2])


def bench_element_paths(res: Results, layout: str, n: int, ns: str, nft: Any, reps: int,
                        budget: float) -> None:
    """Element-only updates through libnftables and through the direct netlink path
    (nftkit.backend.netlink): the grouped one-service update (3 elements), or one verdict-map
    element in the classic layout (``service-ips``: a new key going to an existing chain)."""
    import nftkit.model as m

    svc = L.make_services(1, start=n + 9)[0]
    if layout == "grouped":
        keys, pairs = L.grouped_service_elements(svc)
        tmodel = L.grouped_model([svc]).tables[0]
        batches = [(tmodel.set(f"ep-k{svc.k}"), pairs), (tmodel.set(f"svc-k{svc.k}"), keys)]
        label = "3 elements"
    else:
        vmap = L.classic_model([]).tables[0].set("service-ips")
        elem = (m.ConcatExpr(exprs=(svc.ip, svc.proto, svc.port)),
                m.VerdictExpr(kind="goto", target="svc-0"))
        batches = [(vmap, [elem])]
        label = "1 vmap element"
    add, delete = Transaction(), Transaction()
    for s, elems in batches:
        add.add_elements(s, elems, table=L.TABLE)
    for s, elems in reversed(batches):
        delete.delete_elements(s, elems, table=L.TABLE)

    def lib() -> float:
        t = time.perf_counter()
        nft.run(add, netlink=False)
        dt = time.perf_counter() - t
        nft.run(delete, netlink=False)
        return dt

    res.add("element", layout, n, f"{label}: Nftables.run(netlink=False)",
            repeat(lib, reps=reps, budget=budget))
    def via_run_netlink() -> float:
        t = time.perf_counter()
        nft.run(add, netlink=True)
        dt = time.perf_counter() - t
        assert nft.last_path == "netlink", nft.last_path
        nft.run(delete, netlink=True)
        return dt

    res.add("element", layout, n, f"{label}: Nftables.run() via netlink",
            repeat(via_run_netlink, reps=max(reps, 30), budget=budget))


# --- ordering ------------------------------------------------------------------------------


def bench_ordering(res: Results, n: int, json_max: int) -> None:
    """The shared-map layout by ``nft -f`` with the elements first or last; and, up to
    ``json_max`` services, the classic layout as one ``Transaction`` (JSON) as built and
    reordered by ``order_ops``."""
    from nftkit.transaction.ordering import order_ops

    svcs = L.make_services(n)
    for last in (False, True):
        path = write(f"shared-{n}-{last}.nft", L.shared_text(svcs, elements_last=last))
        with netns() as ns:
            label = "elements after rules" if last else "elements with the map"
            res.add("ordering", "shared", n, f"nft -f, {label}",
                    in_ns(ns, [(["nft", "-f", path], None)]))
    if n > json_max:
        return
    txn = Transaction().add(L.classic_model(svcs))
    for label, batch in (("as built", txn), ("order_ops", Transaction(order_ops(txn.ops)))):
        with netns() as ns:
            nft = nftkit.Nftables(netns=ns)
            t = time.perf_counter()
            nft.run(batch, handles=False)
            dt = time.perf_counter() - t
            nft.close()
        res.add("ordering", "classic", n, f"Transaction (JSON), {label}", [dt])


# --- report --------------------------------------------------------------------------------


def markdown(rows: list[dict[str, Any]]) -> str:
    def fmt(s: float) -> str:
        return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"

    out = ["| section | layout | services | tool | median | reps |",
           "|---|---|---:|---|---:|---:|"]
    for r in rows:
        out.append(f"| {r['section']} | {r['layout']} | {r['n']} | {r['tool'].strip()} | "
                   f"{fmt(r['median_s'])} | {r['reps']} |")
    return "\n".join(out)


def _fmt(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def summarize(rows: list[dict[str, Any]]) -> str:
    """Pivot tables (one row per size) and the issue's target ratios, as markdown."""
    med = {(r["section"], r["layout"], r["n"], r["tool"].strip()): r["median_s"] for r in rows}
    sizes = sorted({r["n"] for r in rows if r["section"] != "ordering"})

    def get(section: str, layout: str, n: int, tool: str) -> float | None:
        return med.get((section, layout, n, tool))

    full_cols = [("grouped", "nftkit netlink (build+encode+apply)", "grouped nftkit netlink"),
                 ("grouped", "nftkit (build+compile+apply)", "grouped nftkit text"),
                 ("grouped", "nft -f (same text)", "grouped nft -f"),
                 ("classic", "nftkit (build+compile+apply)", "classic nftkit"),
                 ("classic", "nft -f (same text)", "classic nft -f"),
                 ("iptables", "iptables-legacy-restore", "iptables-legacy-restore"),
                 ("iptables", "iptables-nft-restore", "iptables-nft-restore")]
    upd_cols = [("grouped", "nftkit Nftables.run()", "grouped nftkit run()"),
                ("grouped", "nft binary per transaction", "grouped nft binary"),
                ("classic", "nftkit Nftables.run()", "classic nftkit run()"),
                ("classic", "nftkit txn, JSON without echo", "classic run(handles=False)"),
                ("classic", "nft binary per transaction", "classic nft binary"),
                ("iptables", "iptables-legacy-restore --noflush (partial)",
                 "iptables-legacy partial"),
                ("iptables", "iptables-nft-restore --noflush (partial)", "iptables-nft partial")]
    out = []
    for title, section, cols in (("Full sync", "full sync", full_cols),
                                 ("One-service update (median)", "update", upd_cols)):
        out += [f"**{title}**", "", "| services | " + " | ".join(c[2] for c in cols) + " |",
                "|---:|" + "---:|" * len(cols)]
        for n in sizes:
            out.append(f"| {n:,} | " + " | ".join(_fmt(get(section, lay, n, tool))
                                                   for lay, tool, _ in cols) + " |")
        out.append("")
    out += ["**Targets** (grouped layout)", "",
            "| services | nftkit / iptables-legacy-restore (<= 0.25) | nftkit / nft -f (<= 1.2) "
            "| update median (<= 0.2 ms) | update / update at 1k (<= 1.5) "
            "| full sync path |",
            "|---:|---:|---:|---:|---:|---|"]
    base = get("update", "grouped", min(sizes), "nftkit Nftables.run()")
    for n in sizes:
        nk = get("full sync", "grouped", n, "nftkit netlink (build+encode+apply)")
        path = "netlink"
        if nk is None:
            nk, path = get("full sync", "grouped", n, "nftkit (build+compile+apply)"), "text"
        leg = get("full sync", "iptables", n, "iptables-legacy-restore")
        nf = get("full sync", "grouped", n, "nft -f (same text)")
        up = get("update", "grouped", n, "nftkit Nftables.run()")

        def ratio(a: float | None, b: float | None) -> str:
            return f"{a / b:.2f}" if a is not None and b else "-"

        out.append(f"| {n:,} | {ratio(nk, leg)} | {ratio(nk, nf)} | {_fmt(up)} | "
                   f"{ratio(up, base)} | {path} |")
    element = sorted({r["n"] for r in rows if r["section"] == "element"})
    if element:
        cols = [("grouped", "3 elements: Nftables.run(netlink=False)"),
                ("grouped", "3 elements: Nftables.run() via netlink"),
                ("classic", "1 vmap element: Nftables.run(netlink=False)"),
                ("classic", "1 vmap element: Nftables.run() via netlink")]
        out += ["", "**Element updates: libnftables vs direct netlink** (median)", "",
                "| services | grouped, 3 elements: libnftables | ... Nftables.run() via "
                "netlink | classic, 1 verdict-map element: libnftables | ... via netlink |",
                "|---:|---:|---:|---:|---:|"]
        for n in element:
            out.append(f"| {n:,} | " + " | ".join(_fmt(get("element", lay, n, tool))
                                                   for lay, tool in cols) + " |")
    ordering = sorted({r["n"] for r in rows if r["section"] == "ordering"})
    if ordering:
        out += ["", "**Batch ordering**", "",
                "| services | shared map, `nft -f`: elements with the map | ... after the "
                "rules | classic, `Transaction` as built | ... `order_ops` |",
                "|---:|---:|---:|---:|---:|"]
        for n in ordering:
            cells = [get("ordering", "shared", n, "nft -f, elements with the map"),
                     get("ordering", "shared", n, "nft -f, elements after rules"),
                     get("ordering", "classic", n, "Transaction (JSON), as built"),
                     get("ordering", "classic", n, "Transaction (JSON), order_ops")]
            out.append(f"| {n:,} | " + " | ".join(_fmt(c) for c in cells) + " |")
    return "\n".join(out)


def plot(rows: list[dict[str, Any]], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, section in ((ax1, "full sync"), (ax2, "update")):
        series: dict[str, list[tuple[int, float]]] = {}
        for r in rows:
            if r["section"] == section and not r["tool"].startswith("  "):
                series.setdefault(f"{r['layout']}: {r['tool']}", []).append(
                    (r["n"], r["median_s"]))
        for label, pts in sorted(series.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("services (2 endpoints each)")
        ax.set_ylabel("seconds (median)")
        ax.set_title(section)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1k services only (CI)")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                    help="comma-separated service counts (default 1000,10000,30000,100000)")
    ap.add_argument("--classic-max", type=int, default=10_000,
                    help="largest N for the classic layout (it loads in O(N^2): 10k ~ 1 min)")
    ap.add_argument("--ordering-sizes", type=lambda s: [int(x) for x in s.split(",")],
                    default=None, help="sizes for the batch-ordering comparison")
    ap.add_argument("--reps", type=int, default=30, help="repetitions of each update")
    ap.add_argument("--full-only", action="store_true",
                    help="full syncs only (no updates, element paths or ordering)")
    ap.add_argument("--budget", type=float, default=20.0,
                    help="seconds per update measurement before stopping early (>= 1 rep)")
    ap.add_argument("--iptables-max", type=int, default=None,
                    help="largest N for the iptables rows (100k: ~2 min legacy, ~5 min nft)")
    # raw rows stay out of the repository: docs/performance.md keeps the tables and the plot
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "nftkit-bench-scale.json"),
                    help="write the raw rows (JSON) here (default %(default)s)")
    ap.add_argument("--plot", default=None, help="write a PNG plot here")
    ap.add_argument("--report", metavar="JSON", default=None,
                    help="only print the summary (and --plot) of an earlier run's results")
    args = ap.parse_args(argv)
    if args.report:
        rows = json.loads(Path(args.report).read_text())["rows"]
        print(summarize(rows))
        if args.plot:
            plot(rows, args.plot)
        return 0
    # a SIGTERM (e.g. a CI timeout) still runs the finally blocks that delete the namespaces
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"):
        print("needs root, iproute2 and nft (loads run in throwaway network namespaces)")
        return 2
    sizes = args.sizes or ([1000] if args.quick else list(SIZES))
    ordering = args.ordering_sizes or ([1000] if args.quick else [1000, 10_000])
    load_before = os.getloadavg()
    started = time.time()
    version = ".".join(map(str, installed_nft_version() or ("?",)))
    res = Results(Path(args.out), {"nft": version, "kernel": platform.release(),
                                   "cpus": os.cpu_count(), "load_before": load_before,
                                   "sizes": sizes})
    print(f"nft {version}, kernel {platform.release()}, "
          f"{os.cpu_count()} CPUs, load {load_before[0]:.2f}")
    _TMP[0] = Path(tempfile.mkdtemp(prefix="nftkit-bench-"))
    try:
        for n in sizes:
            svcs = L.make_services(n)
            bench_nft_layout(res, "grouped", n, svcs, args.reps, args.budget,
                             updates=not args.full_only)
            if n <= args.classic_max:
                bench_nft_layout(res, "classic", n, svcs, min(args.reps, 10), args.budget,
                                 updates=not args.full_only)
            if args.iptables_max is None or n <= args.iptables_max:
                bench_iptables(res, n, svcs, min(args.reps, 10), args.budget,
                               updates=not args.full_only)
        for n in ordering if not args.full_only else ():
            bench_ordering(res, n, json_max=min(args.classic_max, 3000))
    finally:
        shutil.rmtree(_TMP[0], ignore_errors=True)
    load_after = os.getloadavg()
    res.meta.update(load_after=load_after, seconds=round(time.time() - started, 1))
    res.save()
    print()
    print(markdown(res.rows))
    print()
    print(summarize(res.rows))
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"({os.cpu_count()} CPUs)")
    print(f"results written to {args.out}")
    if args.plot:
        plot(res.rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
