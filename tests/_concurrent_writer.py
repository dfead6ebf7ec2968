"""The other process of ``tests/backend/test_concurrent_writers.py``: until ``STOP`` exists, replace
set ``inet t s`` (with a set of a random type), chain ``inet t c`` or the whole table, and
record the elements each replaced set held.

Each replacement is one netlink batch carrying the generation read before the set was listed
(``NFNL_BATCH_GENID``): when anything committed in between (the agent's elements), the
kernel refuses it and the listing is taken again. So the recorded contents are exactly what
each set held when it was deleted.

Usage: ``python3 -m tests._concurrent_writer NETNS OUT STOP``; writes a JSON report to OUT.
"""

from __future__ import annotations

import errno
import json
import os
import random
import sys
import time
from typing import Any

import nftkit
from nftkit import Chain, Set, Table
from nftkit.backend.netlink import NetlinkSocket
from nftkit.backend.netlink._objects import (
    chain_message,
    delete_message,
    set_info,
    set_message,
    table_message,
)
from nftkit.model.enums import Family

__all__ = ["KINDS", "main"]

INET = Family.INET
KINDS: dict[str, Set] = {
    "ipv4_addr": Set(name="s", type="ipv4_addr"),
    "interval": Set(name="s", type="ipv4_addr", flags={"interval"}),
    "mark": Set(name="s", type="mark"),
    "ether_addr": Set(name="s", type="ether_addr"),
    "ifname": Set(name="s", type="ifname"),
}

#: two sets in three take the agent's addresses
_WEIGHTED = ["ipv4_addr", "ipv4_addr", "ipv4_addr", "interval", "interval", "interval", "mark",
             "ether_addr", "ifname"]


def _snapshot(nft: nftkit.Nftables) -> dict[str, Any] | None:
    """Set ``s`` as nft lists it as JSON: type, flags, elements (None: no table or set)."""
    try:
        out = nft.run_text("list table inet t", json_output=True)
    except nftkit.NotFoundError:
        return None
    for item in json.loads(out)["nftables"]:
        s = item.get("set")
        if s is not None and s["name"] == "s":
            return {"type": s["type"], "flags": s.get("flags", []), "elem": s.get("elem", [])}
    return None


def main(netns: str, out: str, stop: str) -> None:
    rnd = random.Random(11)
    sock = NetlinkSocket(netns)
    replaced: list[dict[str, Any]] = []
    counts = {"set": 0, "chain": 0, "table": 0, "restarts": 0}
    t = Table(family="inet", name="t")
    with nftkit.Nftables(netns=netns) as nft:
        open(stop + ".ready", "w").close()
        while not os.path.exists(stop):
            gen = sock.genid()
            before = _snapshot(nft)
            what = rnd.choice(["set", "set", "set", "chain", "table"])
            kind = rnd.choice(_WEIGHTED)
            new_set = set_message("add", INET, "t", set_info(KINDS[kind], 1))
            if what == "set":
                msgs = [delete_message("set", INET, "t", "s", None, None), new_set]
            elif what == "chain":
                msgs = [delete_message("chain", INET, "t", "c", None, None),
                        chain_message("add", INET, "t", Chain(name="c"))]
            else:
                msgs = [delete_message("table", INET, "t", None, None, None),
                        table_message("add", t),
                        chain_message("add", INET, "t", Chain(name="c")), new_set]
            failed = sock.batch(msgs, genid=gen)
            if failed == (0, errno.ERESTART):
                counts["restarts"] += 1
                continue
            if failed is not None:
                raise SystemExit(f"writer batch {what} refused: {failed}")
            counts[what] += 1
            if what != "chain" and before is not None:
                replaced.append(before)
            time.sleep(rnd.random() / 500)
    sock.close()
    with open(out, "w") as f:
        json.dump({"replaced": replaced, "counts": counts}, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
