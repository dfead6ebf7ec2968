"""Classic-layout benchmark: a one-service add and delete in kube-proxy's nftables layout.

One command (root; every load happens in a throwaway network namespace)::

    python3 bench/bench_classic.py --plot docs/classic.png   # 1k, 10k, 30k + full loads
    python3 bench/bench_classic.py --sizes 1000 --reps 10    # quick
    python3 bench/bench_classic.py --report A.json,B.json --plot docs/classic.png  # redraw

The classic layout (bench/_layouts.py: a chain per service with ``numgen random mod k vmap
{ 0 : goto ep-a, 1 : goto ep-b }``, a chain per endpoint, a ``service-ips`` verdict-map
element per service) is loaded with N services (over netlink, in batches of 500 services so
that the load is not quadratic), then one more service is added and deleted ``--reps``
times. Every repetition runs every path once, in a rotating order, so the machine's load
falls on all of them alike. Paths, for the add (3 chains, 5 rules, one anonymous map, one
element) and the delete (one element, 3 chains):

``run(txn)``
    plain ``Nftables.run(txn)``: default arguments (the netlink path, handles from the
    kernel's echo)
``run(txn, handles=False)``
    the same without the echo
``run(txn, netlink=False, handles=False)``
    libnftables' JSON path without echo
``python3-nftables``
    Debian's binding (``nftables.Nftables().json_cmd``) with the JSON of the same
    transaction (``Transaction.to_json``), in a helper process inside the namespace; only
    the ``json_cmd`` call is timed
``nft -f``
    the nft binary with the change as text, one process per change (start included)
``floor: nft's batch replayed``
    the batch ``nft -f`` itself sends for the same change, recorded from its netlink socket
    (``strace -e write=all``: the bytes of its ``sendmsg``) in the loaded namespace, then
    sent as it is over a raw ``NETLINK_NETFILTER`` socket (one ``sendmsg``: the kernel
    commits the batch inside it; errors are read after, as nft does). This is what the
    kernel itself takes for nft's change
``nftkit's batch replayed``
    the batch nftkit sends (encoded once, handles=False), replayed the same way

The full load of the layout (``--full-load-sizes``, default 1k and 10k): ``Nftables.run``
of the whole table in one batch (handles=False) against ``nft -f`` of its text, each in a
fresh namespace; both are quadratic in the number of anonymous sets of one batch.
Wall-clock numbers on a shared machine: check the load average printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import struct
import subprocess
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
from bench.bench_backend import Binding  # noqa: E402
from bench.bench_scale import in_ns, netns, write  # noqa: E402
from nftkit import Transaction  # noqa: E402
from nftkit.backend._netns import call_in  # noqa: E402
from nftkit.backend.netlink._txn import NetlinkPath  # noqa: E402

__all__ = ["capture_batch", "main", "parse_strace_batches"]

CHUNK = 500
NETLINK_NETFILTER = 12
NLMSG_ERROR = 2
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
SO_SNDBUFFORCE = 32


# --- nft's own batch: recorded from its socket, replayed ------------------------------------

_HEX_LINE = re.compile(r"^ \| [0-9a-f]{5,}  ")  # the offset: 5 hex digits, more past 1 MiB


def parse_strace_batches(trace: str) -> list[bytes]:
    """The nfnetlink batches in ``strace -e trace=sendmsg -e write=all`` output: the bytes of
    every ``sendmsg`` whose first message is ``NFNL_MSG_BATCH_BEGIN``, its buffers joined.

    strace prints a call, then a hex dump per buffer of its ``msg_iov``::

        sendmsg(3, {...}, 0) = 76
         * 76 bytes in buffer 0
         | 00000  14 00 00 00 10 00 01 00  00 00 00 00 00 00 00 00  ................ |
    """
    calls: list[bytearray] = []
    for line in trace.splitlines():
        if line.startswith("sendmsg("):
            calls.append(bytearray())
        elif calls and (m := _HEX_LINE.match(line)):
            calls[-1] += bytes.fromhex(line[m.end():m.end() + 49])  # 16 bytes, 8 + 8
    return [bytes(c) for c in calls
            if len(c) >= 16 and struct.unpack_from("=H", c, 4)[0] == NFNL_MSG_BATCH_BEGIN]


def split_messages(batch: bytes) -> list[tuple[int, int]]:
    """(type, flags) of each netlink message of ``batch``; ValueError if it is not whole."""
    out: list[tuple[int, int]] = []
    off = 0
    while off < len(batch):
        length, kind, flags = struct.unpack_from("=IHH", batch, off)
        if length < 16 or off + length > len(batch):
            raise ValueError(f"cut message at offset {off}")
        out.append((kind, flags))
        off += (length + 3) & ~3
    return out


def capture_batch(ns: str, script_path: str) -> bytes:
    """The batch ``nft -f script_path`` sends in namespace ``ns`` (it is applied too)."""
    trace = write(f"strace-{os.getpid()}.txt", "")
    r = subprocess.run(["ip", "netns", "exec", ns, "strace", "-qq", "-o", trace,
                        "-e", "trace=sendmsg", "-e", "write=all", "nft", "-f", script_path],
                       capture_output=True, text=True, check=False)
    if r.returncode:
        raise RuntimeError(f"nft -f {script_path} under strace: {r.stderr[-2000:]}")
    batches = parse_strace_batches(Path(trace).read_text())
    if len(batches) != 1:
        raise RuntimeError(f"expected one batch from nft -f, recorded {len(batches)}")
    kinds = [k for k, _f in split_messages(batches[0])]
    if kinds[0] != NFNL_MSG_BATCH_BEGIN or kinds[-1] != NFNL_MSG_BATCH_END:
        raise RuntimeError("the recorded batch is not BEGIN ... END")
    return batches[0]


class RawSocket:
    """A ``NETLINK_NETFILTER`` socket opened inside the namespace: sends a recorded batch as
    it is, like nft (one ``sendmsg``), then reads what the kernel queued without waiting (nft
    1.0.6 sets no ``NLM_F_ACK`` on batch messages: only errors come back)."""

    def __init__(self, ns: str) -> None:
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            self.sock = call_in(fd, lambda: socket.socket(
                socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER))
        finally:
            os.close(fd)
        self.sock.bind((0, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._sndbuf = 1 << 16

    def send(self, batch: bytes) -> None:
        if len(batch) > self._sndbuf:  # as nft does for a large batch (SO_SNDBUFFORCE)
            self._sndbuf = len(batch) + 4096
            self.sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, self._sndbuf)
        self.sock.sendmsg([batch])
        while True:
            try:
                reply = self.sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            off = 0
            while off + 20 <= len(reply):
                length, kind = struct.unpack_from("=IH", reply, off)
                if kind == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", reply, off + 16)
                    if err:
                        raise RuntimeError(f"replayed batch refused: {os.strerror(-err)}")
                off += max((length + 3) & ~3, 20)

    def close(self) -> None:
        self.sock.close()


# --- the change, and the full layout ----------------------------------------------------------


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


Method = tuple[str, Callable[[], float], Callable[[], float]]


def _timed(fn: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t
    return run


def rotate(methods: list[Method], reps: int) -> dict[str, tuple[list[float], list[float]]]:
    """Each repetition runs every method's add then delete, starting one method later."""
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name, *_ in methods}
    for rep in range(reps):
        for k in range(len(methods)):
            name, add, delete = methods[(rep + k) % len(methods)]
            out[name][0].append(add())
            out[name][1].append(delete())
    return out


def bench_size(n: int, reps: int) -> list[dict[str, Any]]:
    """One-service add and delete at ``n`` services, every path side by side."""
    rows: list[dict[str, Any]] = []
    services = L.make_services(n)
    add, delete, add_text, del_text = change(n)
    addf, delf = write(f"c{n}-add.nft", add_text), write(f"c{n}-del.nft", del_text)
    with netns() as ns, nftkit.Nftables(netns=ns) as nft:
        t = time.perf_counter()
        load(nft, services)
        print(f"# {n:,} services loaded in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        _ = nft.version
        nft_add, nft_del = capture_batch(ns, addf), capture_batch(ns, delf)
        ours = NetlinkPath(os.open(f"/run/netns/{ns}", os.O_RDONLY))
        raw = RawSocket(ns)
        kit_add, kit_del = (ours.encode(t.ops, t.batch(ordered=True))[0] for t in (add, delete))
        binding = Binding.start(ns)
        doc_add, doc_del = (t.to_json(version=nft.version) for t in (add, delete))
        paths: dict[str, str] = {}

        def via(kwargs: dict[str, bool], txn: Transaction, label: str) -> Callable[[], float]:
            def run() -> float:
                t0 = time.perf_counter()
                r = nft.run(txn, **kwargs)
                dt = time.perf_counter() - t0
                paths[label] = r.path
                return dt
            return run

        def kit_replay(msgs: Any) -> Callable[[], float]:
            def run() -> float:
                t0 = time.perf_counter()
                if ours.send(msgs, commit=True) is not None:
                    raise RuntimeError("nftkit's replayed batch was refused")
                return time.perf_counter() - t0
            return run

        methods: list[Method] = []
        for label, kw in (("run(txn)", {}), ("run(txn, handles=False)", {"handles": False}),
                          ("run(txn, netlink=False, handles=False)",
                           {"handles": False, "netlink": False})):
            methods.append((label, via(kw, add, label), via(kw, delete, label)))
        if binding is not None:
            b = binding
            methods.append(("python3-nftables (same JSON)", lambda: b.run(doc_add),
                            lambda: b.run(doc_del)))
        methods.append(("nft -f", lambda: in_ns(ns, [(["nft", "-f", addf], None)])[0],
                        lambda: in_ns(ns, [(["nft", "-f", delf], None)])[0]))
        methods.append(("floor: nft's batch replayed", _timed(lambda: raw.send(nft_add)),
                        _timed(lambda: raw.send(nft_del))))
        methods.append(("nftkit's batch replayed", kit_replay(kit_add), kit_replay(kit_del)))
        times = rotate(methods, reps)
        floor = times["floor: nft's batch replayed"]
        for label, (a, d) in times.items():
            rows.append({"n": n, "path": label, "taken": paths.get(label, ""),
                         "add_ms": median_ms(a), "delete_ms": median_ms(d),
                         "add_min_ms": min(a) * 1e3, "delete_min_ms": min(d) * 1e3,
                         "add_min_x": min(a) / min(floor[0]),
                         "add_x": median_ms(a) / median_ms(floor[0]),
                         "delete_x": median_ms(d) / median_ms(floor[1]), "reps": reps})
        if binding is not None:
            binding.close()
        raw.close()
        ours.close()
    return rows


def full_load(n: int) -> list[dict[str, Any]]:
    """The whole classic layout in one batch: nftkit against ``nft -f``."""
    services = L.make_services(n)
    rows: list[dict[str, Any]] = []
    with netns() as ns, nftkit.Nftables(netns=ns) as nft:
        t = time.perf_counter()
        table = L.classic_model(services)
        built = time.perf_counter() - t
        r = nft.run(Transaction().add(table), handles=False)
        rows.append({"n": n, "path": f"full load: nftkit build + run ({r.path})",
                     "seconds": time.perf_counter() - t, "build": built})
    with netns() as ns:
        path = write(f"classic-{n}.nft", L.classic_text(services))
        rows.append({"n": n, "path": "full load: nft -f",
                     "seconds": in_ns(ns, [(["nft", "-f", path], None)])[0]})
    return rows


# --- output -----------------------------------------------------------------------------------


def report(rows: list[dict[str, Any]]) -> str:
    out = ["| services | path | add (median) | delete (median) | add / floor | delete / floor "
           "| add (min) | add min / floor min |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "seconds" in r:
            continue
        taken = f" [{r['taken']}]" if r["taken"] else ""
        out.append(f"| {r['n']:,} | {r['path']}{taken} | {r['add_ms']:.2f} ms | "
                   f"{r['delete_ms']:.2f} ms | {r['add_x']:.2f}x | {r['delete_x']:.2f}x | "
                   f"{r.get('add_min_ms', 0):.2f} ms | {r.get('add_min_x', 0):.2f}x |")
    loads = [r for r in rows if "seconds" in r]
    if loads:
        out += ["", "| services | full load | seconds |", "|---:|---|---:|"]
        out += [f"| {r['n']:,} | {r['path']} | {r['seconds']:.2f} s |" for r in loads]
    return "\n".join(out)


def plot(rows: list[dict[str, Any]], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, key, title in ((axes[0], "add_ms", "one-service add"),
                           (axes[1], "delete_ms", "one-service delete")):
        series: dict[str, list[tuple[int, float]]] = {}
        for r in rows:
            if key in r:
                series.setdefault(r["path"], []).append((r["n"], r[key]))
        for label, pts in series.items():
            pts.sort()
            style = "--" if "replayed" in label else "-"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("services (classic layout, 2 endpoints each)")
        ax.set_ylabel("ms (median)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,30000")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--full-load-sizes", default="1000,10000",
                    help="sizes of the full-load rows ('' for none)")
    ap.add_argument("--out", help="save the rows as JSON")
    ap.add_argument("--report", help="print (and --plot) the rows of saved runs (FILE,FILE...); "
                    "no run")
    ap.add_argument("--plot", help="draw the add/delete medians to this PNG")
    args = ap.parse_args(argv)
    if args.report:
        rows = [r for f in args.report.split(",") for r in json.loads(Path(f).read_text())["rows"]]
    else:
        if os.geteuid() != 0:
            print("needs root (network namespaces)", file=sys.stderr)
            return 2
        rows = []
        meta = {"load_before": os.getloadavg()}
        print(f"load average before: {meta['load_before']}")
        for n in (int(x) for x in args.sizes.split(",") if x):
            rows += bench_size(n, args.reps)
            print(report([r for r in rows if r["n"] == n]), flush=True)
        for n in (int(x) for x in args.full_load_sizes.split(",") if x):
            rows += full_load(n)
        meta["load_after"] = os.getloadavg()
        print(f"load average after: {meta['load_after']}")
        if args.out:
            Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(report(rows))
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
