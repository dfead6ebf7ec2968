"""Parsing benchmark: ``nftkit.parse`` of a kube-proxy-shaped listing, side by side with nft.

    python3 bench/bench_parse.py                 # 10,000 services (about 4.7 MB of text)
    python3 bench/bench_parse.py --services 1000 --lark

The text is the ``nft list ruleset`` form of kube-proxy's nftables layout (bench/_layouts.py,
"classic": a verdict-map element, a service chain and two endpoint chains per service), made by
nftkit's renderer from the layout's JSON (so the parser does not produce its own input).
Measured in one run, CPU time (user) of:

``nftkit.parse``
    the whole parser: the listing fast path (rule and element templates), applying the
    table blocks and decoding into the model;
``nftkit.parse, lark only``
    (``--lark``) the same with the fast path off: every token through lark's LALR parser;
``nft -c -f``
    the nft binary checking the same text (its C parser and evaluator, no commit), in a
    throwaway network namespace; user time of the child process;
``json.loads + from_json``
    reading the same ruleset's libnftables JSON, and ``json.loads`` alone;
``grammar build``
    compiling ``nft.lark`` into the LALR parser, which the first ``parse`` in a process
    does (the ``nftkit.parse`` row is measured after it, as a long-running process sees it).

Each figure is the best of ``--repeat`` runs. The machine is shared: the load average is
printed with the results.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _layouts

import nftkit

NFT_MODULE = sys.modules["nftkit.parse.nft"]


def cpu(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def nft_check_user(path: Path, repeat: int) -> float | None:
    """User CPU seconds of ``nft -c -f path`` in a throwaway namespace (None: no nft/root)."""
    nft = shutil.which("nft") or "/usr/sbin/nft"
    if os.geteuid() != 0 or not Path(nft).exists() or not shutil.which("unshare"):
        return None
    best = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        r = subprocess.run(["unshare", "-n", nft, "-c", "-f", str(path)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            print(f"nft -c -f failed: {r.stderr.strip()[:300]}", file=sys.stderr)
            return None
        best = min(best, resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lark", action="store_true", help="also time lark alone (slow)")
    args = ap.parse_args(argv)

    services = _layouts.make_services(args.services)
    built = _layouts.classic_model(services)
    text = nftkit.to_text(built)
    json_text = json.dumps(nftkit.to_json(built))
    model = nftkit.from_json(json_text)  # priorities as numbers, as nft's JSON has them
    assert nftkit.parse(text) == model, "parse(listing) differs from from_json of its JSON"

    rows: list[tuple[str, float | None]] = []
    # (the grammar was built by the first parse above: the timed parses do not include it)
    rows.append(("nftkit.parse", cpu(lambda: nftkit.parse(text), args.repeat)))
    if args.lark:
        NFT_MODULE.FAST_PATH = False
        try:
            rows.append(("nftkit.parse, lark only", cpu(lambda: nftkit.parse(text), 1)))
        finally:
            NFT_MODULE.FAST_PATH = True
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ruleset.nft"
        path.write_text(text)
        rows.append(("nft -c -f (user)", nft_check_user(path, args.repeat)))
    rows.append(("json.loads + from_json",
                 cpu(lambda: nftkit.from_json(json.loads(json_text)), args.repeat)))
    rows.append(("json.loads alone", cpu(lambda: json.loads(json_text), args.repeat)))
    # once per process, on the first parse (not in the nftkit.parse row)
    rows.append(("grammar build (once per process)",
                 cpu(lambda: NFT_MODULE.build_parser(), args.repeat)))

    nft_time = dict(rows).get("nft -c -f (user)")
    print(f"{args.services} services: {len(text) / 1e6:.2f} MB of text, "
          f"{len(json_text) / 1e6:.2f} MB of JSON; load average {os.getloadavg()[0]:.2f}\n")
    print("| what | CPU seconds | vs nft -c -f |")
    print("| --- | ---: | ---: |")
    for name, secs in rows:
        if secs is None:
            print(f"| {name} | n/a | |")
            continue
        ratio = f"{secs / nft_time:.1f}x" if nft_time else ""
        print(f"| {name} | {secs:.2f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
