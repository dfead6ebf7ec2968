"""Issue 11: an agent updates elements through one long-lived handle while another process
deletes and recreates the set (with random types: ipv4_addr, ipv4_addr with flags interval,
mark, ether_addr, ifname), the chain and the whole table (``tests/_concurrent_writer.py``).

At the end, every element any version of the set ever held (recorded exactly: the writer's
replacements carry the generation of its listing) is an address the agent wrote, stored as
that address in a set of addresses; every element the agent was told it wrote is among them;
every failure was a typed nftkit error. Both of the handle's write paths take part (netlink
and ``netlink=False``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

import nftkit
from nftkit import ConflictError, Set, Table, Transaction
from tests._backend_netns import backend_skip_reason, netns

pytestmark = pytest.mark.kernel

ITERATIONS = 1000
T = ("inet", "t")
S = Set(name="s", type="ipv4_addr")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ns() -> Iterator[str]:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    with netns() as name:
        yield name


def _held(report: list[dict[str, object]]) -> tuple[list[str], set[IPv4Address]]:
    """(elements found in sets that are not plain address sets, addresses found)."""
    wrong: list[str] = []
    found: set[IPv4Address] = set()
    for s in report:
        elems = s["elem"]
        assert isinstance(elems, list)
        if s["type"] != "ipv4_addr":
            wrong += [f"{s['type']}: {e}" for e in elems]
            continue
        for e in elems:
            if not isinstance(e, str):  # a range or prefix where one address was written
                wrong.append(f"ipv4_addr {s['flags']}: {e}")
                continue
            found.add(IPv4Address(e))
    return wrong, found


def test_elements_stay_exact_while_another_process_replaces_the_set(ns: str) -> None:
    with nftkit.Nftables(netns=ns) as agent:
        agent.run(Transaction().add(Table(family="inet", name="t")).add(S, table=T)
                  .add(nftkit.Chain(name="c"), table=T))
        with tempfile.TemporaryDirectory() as tmp:
            out, stop = os.path.join(tmp, "report.json"), os.path.join(tmp, "stop")
            writer = subprocess.Popen(
                [sys.executable, "-m", "tests._concurrent_writer", ns, out, stop], cwd=ROOT,
                stderr=subprocess.PIPE, text=True)
            written: set[IPv4Address] = set()
            unknown: set[IPv4Address] = set()
            errors: Counter[str] = Counter()
            paths: Counter[str] = Counter()
            try:
                deadline = time.monotonic() + 60
                while not os.path.exists(stop + ".ready") and time.monotonic() < deadline:
                    time.sleep(0.01)  # the writer's imports take a moment
                for i in range(ITERATIONS):
                    ip = IPv4Address(0x0A000000 + i + 1)
                    add = Transaction().add_elements(S, [ip], table=T)
                    try:
                        # runs of 25 on each path: the netlink path's set facts live
                        # across a run, and go stale when the writer commits
                        done = agent.run(add, netlink=False if i // 25 % 2 else None)
                    except ConflictError:
                        unknown.add(ip)  # reported: may or may not have been stored
                        errors["ConflictError"] += 1
                    except nftkit.BackendError as exc:  # typed: refused, nothing stored
                        errors[type(exc).__name__] += 1
                    else:
                        written.add(ip)
                        paths[done.path or ""] += 1
                    # a pause between updates, as an agent's have: the writer's replacement
                    # (a listing, then a batch refused if anyone committed since) gets room
                    time.sleep(0.001)
            finally:
                Path(stop).touch()
                _, err = writer.communicate(timeout=60)
            assert writer.returncode == 0, err
            report = json.loads(Path(out).read_text())
        final = json.loads(agent.run_text("list table inet t", json_output=True))
        restarts = agent._owned.nl.restarts if agent._owned.nl else 0
    last = [item["set"] for item in final["nftables"] if item.get("set", {}).get("name") == "s"]
    sets = report["replaced"] + [{"type": s["type"], "flags": s.get("flags", []),
                                  "elem": s.get("elem", [])} for s in last]
    wrong, found = _held(sets)
    counts = report["counts"]
    print(f"agent: {len(written)} written ({dict(paths)}), errors {dict(errors)}; "
          f"writer: {counts}; agent's netlink batches built again: {restarts}")
    assert not wrong, wrong[:10]
    assert found <= written | unknown, sorted(found - written - unknown)[:10]
    assert written <= found, sorted(written - found)[:10]
    # the writer really interfered, and both paths really ran
    assert counts["set"] + counts["table"] >= 20 and len(written) >= ITERATIONS // 20, counts
    assert paths["netlink"] and paths["libnftables-json"]
    assert set(errors) <= {"InvalidError", "NotFoundError", "ConflictError"}, errors
