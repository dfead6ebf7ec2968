"""The other writer of ``tests/sync/test_sync_kernel.py``: until ``STOP`` exists, change table
``inet t`` at random through its own libnftables context (no generation check): add rules to
chain ``c``, add and delete elements of set ``s``, flush ``c``, delete ``s`` or ``c`` or the
whole table, add a chain of its own. Errors (the object it names is gone) are counted, not
raised.

Usage: ``python3 -m tests.sync._writer NETNS OUT STOP``; writes ``{"ok": n, "failed": m}``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

import nftkit

__all__ = ["COMMANDS", "main"]

COMMANDS = [
    "add rule inet t c tcp dport 9999 drop",
    "insert rule inet t c udp dport 9998 accept",
    "add element inet t s { 192.0.2.1 }",
    "delete element inet t s { 10.0.0.1 }",
    "flush chain inet t c",
    "flush set inet t s",
    "delete set inet t s",
    "add chain inet t intruder",
    "delete table inet t",
    "add table inet t\nadd chain inet t c\nadd rule inet t c meta mark 7 accept",
]


def main(netns: str, out: str, stop: str) -> None:
    rnd = random.Random(13)
    counts = {"ok": 0, "failed": 0}
    with nftkit.Nftables(netns=netns) as nft:
        open(stop + ".ready", "w").close()
        while not os.path.exists(stop):
            try:
                nft.run_text(rnd.choice(COMMANDS))
                counts["ok"] += 1
            except nftkit.NftkitError:
                counts["failed"] += 1
            time.sleep(rnd.random() / 200)
    with open(out, "w") as f:
        json.dump(counts, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
