"""Forked-child fuzz of every backend path with model values (issue 12).

    sudo python3 scripts/fuzz_backend.py --values 10000 --base 1000 --seed 0

Draws ``--base`` rulesets from ``nftkit.testing``'s strategies, derives ``--values`` model
values from them with hostile mutations (tests/security/_fuzz.py), and applies each through
the netlink path, libnftables' JSON and text paths, the fake and the fake's text path, in
forked children that each live in a throwaway network namespace. Prints the outcome counts;
exits 1 on any signal, hang or untyped exception. Needs root (network namespaces).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.security._fuzz import fuzz, generate

__all__ = ["main"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--values", type=int, default=10_000)
    ap.add_argument("--base", type=int, default=1_000, help="rulesets drawn by hypothesis")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-child", type=int, default=200)
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds after which no new forked child starts")
    args = ap.parse_args()
    start = time.monotonic()
    values, refused = generate(args.values, seed=args.seed, base=args.base)
    mutated = sum(how.startswith("mutated") for _v, how in values)
    print(f"generated {len(values)} values ({args.base} drawn, {mutated} mutated) in "
          f"{time.monotonic() - start:.0f} s; mutations the model refused: {dict(refused)}",
          flush=True)
    report = fuzz(values, per_child=args.per_child, progress=True, budget=args.budget)
    print(report.summary())
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
