"""Backend latency: one small transaction against a big kube-proxy-shaped table, four ways.

One command (root; every ruleset lives in a throwaway network namespace)::

    python3 bench/bench_backend.py            # 1,000 and 10,000 services, 30 repetitions
    python3 bench/bench_backend.py --quick    # 1,000 services, 10 repetitions (CI, < 1 min)

For each size N and layout (bench/_layouts.py, 2 endpoints per service):

classic
    kube-proxy's nftables mode: a ``service-ips`` verdict map, a chain per service and a
    chain per endpoint (3N + 6 chains, 6N + 8 rules, N anonymous sets);
grouped
    few chains and sets: one set of service keys and one DNAT map per endpoint count.

the table is loaded with ``nft -f`` into ``nftkit-bench-<random>`` (``ip netns add``; deleted
in a ``finally``), and these operations are timed:

element add / element delete
    one element of a map or set: ``classic``: ``service-ips`` (``ip . proto . port : goto
    svc-0``); ``grouped``: ``svc-k2`` (``ip . proto . port``);
service add / service delete
    ``classic``: a chain with two rules (``... jump mark-for-masquerade``, ``numgen random mod
    2 vmap { ... }``) and its ``service-ips`` element, then the element and the chain;
    ``grouped``: the service's 1 + 2 elements of ``svc-k2`` and ``ep-k2`` (that layout's whole
    one-service update).

by each of:

nftkit
    build the ``Transaction`` from model objects, then ``Nftables(netns=...,
    netlink=False).run(txn, handles=False)`` (libnftables with JSON, no echo); ``nftkit
    echo`` is ``run(txn)``, which asks libnftables to echo what it created to return the
    kernel's handles, for the service add (the only op here that creates something with a
    handle: for the others ``run`` sends exactly the same call). The time spent inside
    ``nft_run_cmd_from_buffer`` is recorded separately: ``libnftables`` is that,
    ``overhead`` is the rest (building the transaction, model -> JSON text, encoding, the FFI
    call set-up, the result; also the instrumentation's own wrapper around the call, whose
    cost is measured and printed in the header);
nftkit netlink
    the same build + ``run(txn, handles=False)`` on a context with its netlink path on
    (``Nftables(netns=...)``, the default where nftkit has it): transactions it can encode go
    to the kernel as one nfnetlink batch without libnftables (the table notes which path each
    operation took); its total is to be compared with the libnftables time alone;
nft -f
    ``ip netns exec NAME nft -f -`` with the same change as nft text, one process per
    transaction (what knftables and kube-proxy do); ``netns exec floor`` is ``ip netns exec
    NAME true``: the ``ip netns exec`` wrapper alone;
python3-nftables
    Debian's binding (``import nftables`` from /usr/lib/python3/dist-packages) sending the
    JSON nftkit sent (``Nftables.json_cmd``), in a helper process started with ``ip netns
    exec`` (the binding cannot change namespace) that stays up for the whole run.

Every repetition runs every method once, in a rotating order, so the machine's load (this
machine is shared) falls on all of them alike; one untimed warm-up repetition comes first
(and, up to 2,000 services, a check that every method makes the same change: ``nft list
table`` reads the same after each add). nftkit's first command in a context, its version
probe, is timed on its own (nft 1.0.6 reads the whole ruleset for it). Medians and 90th
percentiles of wall-clock time are printed as a markdown table, with the nft version and the
load average (``uptime``) before and after; ``--json PATH`` writes the raw timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runs from a fresh clone without installing
    sys.path.insert(0, str(ROOT))

import nftkit  # noqa: E402
import nftkit.model as m  # noqa: E402
from bench import _layouts as L  # noqa: E402
from nftkit import Transaction  # noqa: E402

__all__ = ["main"]

DIST_PACKAGES = "/usr/lib/python3/dist-packages"

#: The python3-nftables side: reads one JSON batch per line, answers with the seconds that
#: ``json_cmd`` took and its return code. Runs inside the namespace (``ip netns exec``).
HELPER = r"""
import json, sys, time
sys.path.append(sys.argv[1])
import nftables
nft = nftables.Nftables()
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    doc = json.loads(line)
    t = time.perf_counter()
    rc, _out, err = nft.json_cmd(doc)
    dt = time.perf_counter() - t
    print(json.dumps({"rc": rc, "s": dt, "err": err[-2000:]}), flush=True)
"""

OPS = ("element add", "element delete", "service add", "service delete")


# --- nftkit, instrumented ----------------------------------------------------------------


class TimedLib:
    """Stands in for the cffi ``lib`` of nftkit's backend: the same functions (copied as
    attributes, so calling them costs nothing extra), with ``nft_run_cmd_from_buffer`` timed
    and its input kept. Whatever a call to ``Nftables.run`` spends outside it is nftkit's."""

    def __init__(self, lib: Any) -> None:
        # the original lib must stay alive: freeing it dlclose()s libnftables
        self.original = lib
        for name in dir(lib):
            if name == "nft_run_cmd_from_buffer":
                continue  # the timed method below
            try:
                setattr(self, name, getattr(lib, name))
            except Exception:  # declared but missing in this libnftables (nft >= 1.0.7 ones)
                continue
        self._run = lib.nft_run_cmd_from_buffer
        self.c_seconds = 0.0
        self.commands: list[bytes] = []

    def nft_run_cmd_from_buffer(self, ctx: Any, buf: bytes) -> int:
        self.commands.append(buf)
        start = time.perf_counter()
        try:
            return int(self._run(ctx, buf))
        finally:
            self.c_seconds += time.perf_counter() - start

    def wrapper_cost(self, n: int = 20000) -> float:
        """Seconds this wrapper adds outside its timed window, per call (measured with a
        no-op in place of libnftables): part of what the table shows as overhead."""
        real, self._run = self._run, lambda ctx, buf: 0
        try:
            best = float("inf")
            for _ in range(5):
                self.c_seconds = 0.0
                start = time.perf_counter()
                for _ in range(n):
                    self.nft_run_cmd_from_buffer(None, b"")
                outside = time.perf_counter() - start - self.c_seconds
                best = min(best, outside / n)
            return best
        finally:
            self._run = real
            self.commands.clear()
            self.c_seconds = 0.0


def instrument() -> TimedLib:
    from nftkit.backend.libnftables import _context as libnftables

    if not isinstance(libnftables._lib, TimedLib):
        libnftables._lib = TimedLib(libnftables._lib)
    return libnftables._lib


# --- the operations, in each form ---------------------------------------------------------


@dataclass
class Change:
    """One benchmarked change: the transaction builder (from model objects) and nft text."""

    name: str
    build: Callable[[], Transaction]
    text: str
    json_doc: Any = None  # what nftkit sent (filled in by the warm-up)
    echo: bool = False  # also measure run(txn) with echo


def _vmap_elem(svc: L.Service, target: str) -> tuple[Any, Any]:
    return (m.ConcatExpr(exprs=(svc.ip, svc.proto, svc.port)),
            m.VerdictExpr(kind="goto", target=target))


def classic_changes(services: Sequence[L.Service]) -> list[Change]:
    """The classic layout's four changes, for a service numbered after the loaded ones.

    The new service balances over service 0's endpoint chains, so that its add is exactly
    a chain, two rules and a map element."""
    fam, tname = T = L.TABLE
    new = L.make_services(1, start=len(services))[0]
    old = services[0]
    key = f"{new.ip} . {new.proto} . {new.port}"
    pre = f"{fam} {tname}"
    elem = _vmap_elem(new, old.chain)
    goto_eps = [(j, m.VerdictExpr(kind="goto", target=old.endpoint_chain(j)))
                for j in range(old.k)]
    first = L.classic_service_model(m, new)[0].rules[0]
    chain = m.Chain(name=new.chain, rules=[first, m.Rule(stmts=[m.VerdictMapStmt(
        key=m.NumgenExpr(mode="random", mod=old.k), data=m.SetExpr(elements=goto_eps))])])
    vm = ", ".join(f"{j} : goto {old.endpoint_chain(j)}" for j in range(old.k))
    cidr = L.CLUSTER_CIDR
    return [
        Change("element add",
               lambda: Transaction().add_elements("service-ips", [elem], table=T),
               f"add element {pre} service-ips {{ {key} : goto {old.chain} }}\n"),
        Change("element delete",
               lambda: Transaction().delete_elements("service-ips", [elem[0]], table=T),
               f"delete element {pre} service-ips {{ {key} }}\n"),
        Change("service add",
               lambda: (Transaction().add(chain, table=T)
                        .add_elements("service-ips", [_vmap_elem(new, new.chain)], table=T)),
               f"add chain {pre} {new.chain}\n"
               f"add rule {pre} {new.chain} ip daddr {new.ip} {new.proto} dport {new.port} "
               f"ip saddr != {cidr} jump mark-for-masquerade\n"
               f"add rule {pre} {new.chain} numgen random mod {old.k} vmap {{ {vm} }}\n"
               f"add element {pre} service-ips {{ {key} : goto {new.chain} }}\n",
               echo=True),
        Change("service delete",
               lambda: (Transaction()
                        .delete_elements("service-ips", [_vmap_elem(new, new.chain)[0]],
                                         table=T)
                        .delete("chain", table=T, name=new.chain)),
               f"delete element {pre} service-ips {{ {key} }}\n"
               f"delete chain {pre} {new.chain}\n"),
    ]


def grouped_changes(services: Sequence[L.Service]) -> list[Change]:
    """The grouped layout's four changes: one ``svc-k2`` key; one service's 1 + k elements."""
    T = L.TABLE
    new = L.make_services(1, start=len(services))[0]
    keys, pairs = L.grouped_service_elements(new)
    sname, mname = f"svc-k{new.k}", f"ep-k{new.k}"
    texts = L.grouped_elements(new)
    pre = f"{T[0]} {T[1]}"
    return [
        Change("element add", lambda: Transaction().add_elements(sname, keys, table=T),
               f"add element {pre} {sname} {{ {texts[sname][0]} }}\n"),
        Change("element delete", lambda: Transaction().delete_elements(sname, keys, table=T),
               f"delete element {pre} {sname} {{ {texts[sname][0]} }}\n"),
        # the map first, then the key that makes the rule match (and the reverse to delete)
        Change("service add",
               lambda: (Transaction().add_elements(mname, pairs, table=T)
                        .add_elements(sname, keys, table=T)),
               L.grouped_add_service_text(new)),
        Change("service delete",
               lambda: (Transaction().delete_elements(sname, keys, table=T)
                        .delete_elements(mname, [k for k, _ in pairs], table=T)),
               L.grouped_delete_service_text(new)),
    ]


LAYOUTS: dict[str, tuple[Callable[[Sequence[L.Service]], str],
                         Callable[[Sequence[L.Service]], list[Change]]]] = {
    "classic": (L.classic_text, classic_changes),
    "grouped": (L.grouped_text, grouped_changes),
}


# --- the other two methods ----------------------------------------------------------------


@contextmanager
def throwaway_netns() -> Iterator[str]:
    name = f"nftkit-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def nft_binary(ns: str, text: str) -> float:
    """One ``ip netns exec NS nft -f -`` process: its wall-clock seconds."""
    start = time.perf_counter()
    r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=text.encode(),
                       capture_output=True, check=False)
    seconds = time.perf_counter() - start
    if r.returncode:
        raise RuntimeError(f"nft -f failed: {r.stderr.decode()[-2000:]}\n{text}")
    return seconds


def exec_floor(ns: str) -> float:
    start = time.perf_counter()
    subprocess.run(["ip", "netns", "exec", ns, "true"], check=True)
    return time.perf_counter() - start


class Binding:
    """The python3-nftables helper process, inside the namespace."""

    def __init__(self, ns: str) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", HELPER, DIST_PACKAGES],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the python3-nftables helper died (is python3-nftables "
                               "installed? apt-get install python3-nftables)")
        return dict(json.loads(line))

    def run(self, doc: Any) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(doc) + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        if answer["rc"]:
            raise RuntimeError(f"python3-nftables json_cmd failed: {answer['err']}")
        return float(answer["s"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)

    @classmethod
    def start(cls, ns: str) -> Binding | None:
        """The helper, or None (with a note) where python3-nftables is not installed."""
        try:
            return cls(ns)
        except RuntimeError as exc:
            print(f"# python3-nftables skipped: {exc}", file=sys.stderr)
            return None


def same_changes(nft: Any, ns: str, binding: Binding | None, changes: list[Change],
                 nl: Any = None) -> None:
    """Check that the methods make the same change: after each add (element, service) made
    by each method, ``nft list table`` must read the same (lines sorted: a set's elements
    may be listed in another order); nftkit undoes each add. Raises RuntimeError if not."""
    family, name = L.TABLE

    def apply(method: str, change: Change) -> None:
        if method == "nftkit":
            nft.run(change.build())
        elif method == "nft -f":
            nft_binary(ns, change.text)
        elif method == "nftkit netlink":
            nl.run(change.build(), handles=False)
        elif binding is not None:
            binding.run(change.json_doc)

    methods = (["nftkit", "nft -f"] + (["python3-nftables"] if binding is not None else [])
               + (["nftkit netlink"] if nl is not None else []))
    for add, undo in ((changes[0], changes[1]), (changes[2], changes[3])):
        seen: dict[str, list[str]] = {}
        for method in methods:
            apply(method, add)
            seen[method] = sorted(nft.run_text(f"list table {family} {name}").splitlines())
            nft.run(undo.build(), handles=False)
        first = seen["nftkit"]
        for method, listing in seen.items():
            if listing != first:
                extra = sorted(set(listing) ^ set(first))[:10]
                raise RuntimeError(f"{add.name}: {method} and nftkit differ: {extra}")


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Cell:
    """The timings of one (layout, size): ``samples[(op, method)]`` in seconds."""

    layout: str
    size: int
    load_seconds: float = 0.0
    probe_seconds: float = 0.0  # the context's first command (nftkit's version probe)
    samples: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    #: The path(s) the netlink-enabled context took per operation ("netlink", "libnftables").
    paths: dict[str, set[str]] = field(default_factory=dict)

    def add(self, op: str, method: str, seconds: float) -> None:
        self.samples.setdefault((op, method), []).append(seconds)


def nftkit_once(nft: Any, timed: TimedLib, change: Change, *, handles: bool
                ) -> tuple[float, float, float, float]:
    """(total, building the transaction, inside libnftables, nftkit overhead) seconds of
    build + run; the overhead includes the build."""
    timed.c_seconds = 0.0
    timed.commands.clear()
    start = time.perf_counter()
    txn = change.build()
    built = time.perf_counter()
    nft.run(txn, handles=handles)
    total = time.perf_counter() - start
    return total, built - start, timed.c_seconds, total - timed.c_seconds


def rounds(nft: Any, timed: TimedLib, ns: str, binding: Binding | None, changes: list[Change],
           cell: Cell | None, rep: int, echo: bool, nl: Any = None) -> None:
    """One repetition: every method applies all four changes (which leave the table as it
    was), the methods in an order that rotates with ``rep``."""

    def by_nftkit() -> None:
        for ch in changes:
            total, build, inside, over = nftkit_once(nft, timed, ch, handles=False)
            if ch.json_doc is None:  # what nftkit sent, for python3-nftables
                ch.json_doc = json.loads(timed.commands[-1])
            if cell:
                cell.add(ch.name, "nftkit", total)
                cell.add(ch.name, "build", build)
                cell.add(ch.name, "libnftables", inside)
                cell.add(ch.name, "overhead", over)
                cell.add(ch.name, "ratio", over / inside)

    def by_netlink() -> None:
        if nl is None:
            return
        for ch in changes:
            start = time.perf_counter()
            nl.run(ch.build(), handles=False)
            total = time.perf_counter() - start
            if cell:
                cell.add(ch.name, "nftkit netlink", total)
                cell.paths.setdefault(ch.name, set()).add(nl.last_path)

    def by_nftkit_echo() -> None:
        for ch in changes:
            if ch.echo:
                total, _build, inside, _over = nftkit_once(nft, timed, ch, handles=True)
                if cell:
                    cell.add(ch.name, "nftkit echo", total)
                    cell.add(ch.name, "libnftables echo", inside)
            else:  # put the table back as it was (untimed)
                nft.run(ch.build(), handles=False)

    def by_binary() -> None:
        for ch in changes:
            seconds = nft_binary(ns, ch.text)
            if cell:
                cell.add(ch.name, "nft -f", seconds)
        if cell:
            cell.add("-", "netns exec floor", exec_floor(ns))

    def by_binding() -> None:
        if binding is None:
            return
        for ch in changes:
            seconds = binding.run(ch.json_doc)
            if cell:
                cell.add(ch.name, "python3-nftables", seconds)

    methods = [by_nftkit, by_binary, by_binding, by_netlink]
    if echo:
        methods.append(by_nftkit_echo)
    k = rep % len(methods)
    if any(ch.json_doc is None for ch in changes):
        k = 0  # the binding replays the JSON nftkit sent: nftkit goes first, once
    for method in methods[k:] + methods[:k]:
        method()


def measure(layout: str, size: int, reps: int, echo_budget: float, budget: float) -> Cell:
    text_of, changes_of = LAYOUTS[layout]
    services = L.make_services(size)
    changes = changes_of(services)
    cell = Cell(layout, size)
    timed = instrument()
    with throwaway_netns() as ns:
        start = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"],
                       input=text_of(services).encode(), check=True)
        cell.load_seconds = time.perf_counter() - start
        nft, nl = contexts(ns)
        start = time.perf_counter()
        nft.version  # noqa: B018 - its first command: nftkit asks libnftables its version
        cell.probe_seconds = time.perf_counter() - start
        if nl is not None:
            nl.version  # noqa: B018
        binding = Binding.start(ns)
        try:
            # warm-up (untimed): every method once, echo included
            start = time.perf_counter()
            rounds(nft, timed, ns, binding, changes, None, 0, echo=False, nl=nl)
            warm = time.perf_counter() - start
            if size <= 2000:  # the listing costs seconds at 10k: the check is size-independent
                same_changes(nft, ns, binding, changes, nl)
            start = time.perf_counter()
            rounds(nft, timed, ns, binding, changes, None, 0, echo=True, nl=nl)
            echo_cost = max(time.perf_counter() - start - warm, 1e-6)
            echo_reps = max(3, min(reps, int(echo_budget / echo_cost)))
            began = time.perf_counter()
            for rep in range(reps):
                if rep >= 5 and time.perf_counter() - began > budget:
                    print(f"  ({layout} {size}: time budget spent after {rep} repetitions)",
                          file=sys.stderr)
                    break
                rounds(nft, timed, ns, binding, changes, cell, rep, echo=rep < echo_reps,
                       nl=nl)
        finally:
            if binding is not None:
                binding.close()
            nft.close()
            if nl is not None:
                nl.close()
    return cell


def contexts(ns: str) -> tuple[Any, Any]:
    """The libnftables-only context, and one with the netlink path (None where this nftkit
    has no netlink path)."""
    try:
        return nftkit.Nftables(netns=ns, netlink=False), nftkit.Nftables(netns=ns, netlink=True)
    except TypeError:  # an nftkit without the option
        return nftkit.Nftables(netns=ns), None


# --- reporting ----------------------------------------------------------------------------


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def ms(values: list[float] | None) -> str:
    if not values:
        return "-"
    med, hi = 1000 * statistics.median(values), 1000 * p90(values)
    digits = 2 if hi < 10 else 1 if hi < 100 else 0
    return f"{med:.{digits}f} / {hi:.{digits}f}"


def us(values: list[float] | None) -> str:
    if not values:
        return "-"
    med, hi = 1e6 * statistics.median(values), 1e6 * p90(values)
    digits = 1 if hi < 1000 else 0
    return f"{med:.{digits}f} / {hi:.{digits}f}"


def ratio(s: dict[tuple[str, str], list[float]], op: str, num: str, den: str) -> str:
    a, b = s.get((op, num), []), s.get((op, den), [])
    if not a or not b:
        return "-"
    return f"{100 * statistics.median(a) / statistics.median(b):.1f} %"


def table(cells: list[Cell]) -> str:
    head = ("| layout | services | operation | nftkit run | nftkit run, echo (handles) "
            "| nftkit netlink run | python3-nftables | nft -f (process) "
            "| nftkit run: libnftables | nftkit run: overhead (µs) | overhead: building the "
            "txn (µs) | overhead / libnftables | netlink run / libnftables | reps |")
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for c in cells:
        s = c.samples
        for op in OPS:
            echo = s.get((op, "nftkit echo"))
            # the echo variant reads the whole table back: few repetitions where that is slow
            echo_cell = f"{ms(echo)} ({len(echo)} reps)" if echo else "= nftkit run"
            paths = c.paths.get(op, set())
            nl = ms(s.get((op, "nftkit netlink")))
            if nl != "-" and paths != {"netlink"}:
                nl += f" ({', '.join(sorted(paths))})"
            cols = [ms(s.get((op, "nftkit"))), echo_cell, nl,
                    ms(s.get((op, "python3-nftables"))), ms(s.get((op, "nft -f"))),
                    ms(s.get((op, "libnftables"))), us(s.get((op, "overhead"))),
                    us(s.get((op, "build"))), ratio(s, op, "overhead", "libnftables"),
                    ratio(s, op, "nftkit netlink", "libnftables")]
            n = len(s.get((op, "nftkit"), []))
            lines.append(f"| {c.layout} | {c.size:,} | {op} | " + " | ".join(cols) + f" | {n} |")
        floor = s.get(("-", "netns exec floor"))
        lines.append(f"| {c.layout} | {c.size:,} | (`ip netns exec NAME true`) | | | | | "
                     f"{ms(floor)} | | | | | | {len(floor or [])} |")
    return "\n".join(lines)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def nft_version() -> str:
    return subprocess.run(["nft", "--version"], capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="CI-sized: 1,000 services, 10 repetitions (under a minute)")
    ap.add_argument("--sizes", default=None, help="comma-separated service counts")
    ap.add_argument("--layouts", default="classic,grouped")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 30; quick 10)")
    ap.add_argument("--echo-budget", type=float, default=None,
                    help="seconds for the echo variant per size (it reads the whole table)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds of repetitions per layout and size (after 5)")
    ap.add_argument("--json", type=Path, default=None, help="write the raw timings here")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_backend.py needs root (ip netns add, nf_tables)", file=sys.stderr)
        return 2
    sizes = ([int(x) for x in args.sizes.split(",")] if args.sizes
             else [1000] if args.quick else [1000, 10_000])
    reps = args.reps or (10 if args.quick else 30)
    echo_budget = args.echo_budget or (5.0 if args.quick else 60.0)
    budget = args.budget or (20.0 if args.quick else 600.0)
    layouts = args.layouts.split(",")
    before = uptime()
    print(f"# {nft_version()}; Python {platform.python_version()}; Linux {platform.release()}; "
          f"{os.cpu_count()} CPUs")
    print(f"# load before: {before}")
    print(f"# the instrumentation's wrapper around nft_run_cmd_from_buffer adds "
          f"{1e6 * instrument().wrapper_cost():.2f} us per call (hot) to the overhead column")
    cells = []
    started = time.perf_counter()
    for size in sizes:
        for layout in layouts:
            print(f"# {layout}, {size:,} services ...", file=sys.stderr, flush=True)
            cell = measure(layout, size, reps, echo_budget, budget)
            print(f"#   loaded with nft -f in {cell.load_seconds:.1f} s; nftkit's version "
                  f"probe (first command of the context) took {cell.probe_seconds:.2f} s",
                  flush=True)
            cells.append(cell)
    after = uptime()
    print(f"# load after:  {after}")
    print(f"# wall time {time.perf_counter() - started:.0f} s; cells are median / p90 in ms\n")
    print(table(cells))
    if args.json:
        args.json.write_text(json.dumps({
            "nft": nft_version(), "load_before": before, "load_after": after,
            "cells": [{"layout": c.layout, "size": c.size, "load_seconds": c.load_seconds,
                       "probe_seconds": c.probe_seconds,
                       "samples": {f"{op}|{meth}": v for (op, meth), v in c.samples.items()}}
                      for c in cells]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
