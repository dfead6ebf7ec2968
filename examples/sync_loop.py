"""An agent loop on ``Nftables.sync``: the desired state changes, every step is synced, and
the kernel is checked against the model.

The agent owns ``table ip agent``: a set of blocked addresses, a verdict map from service
ports to per-service chains, one chain per service (its allowed sources), and an input chain
whose policy flips now and then. Each step changes the desired model at random (a service
added, removed or changed, addresses blocked or unblocked, the policy), keeping every object
it does not change (the same Python object: ``sync`` skips those at once), then::

    result = nft.sync(desired)      # read only if another writer committed since the last sync
    assert not nft.drift(desired)   # the kernel has it

``nft.sync`` sends one atomic batch with only what changed (elements, rules by handle, chains);
the batch carries the ruleset generation the sync knew, so a write by another process in
between makes the kernel refuse it, and ``sync`` reads again and retries.

Run it (root; in a throwaway network namespace, nothing else is touched)::

    unshare -n python3 examples/sync_loop.py --steps 200
    python3 examples/sync_loop.py --netns NAME    # a namespace made with `ip netns add NAME`
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from ipaddress import IPv4Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nftkit
from nftkit import (
    Chain,
    Map,
    MatchStmt,
    PayloadExpr,
    Rule,
    Set,
    SetRefExpr,
    Table,
    VerdictExpr,
    VerdictMapStmt,
)

__all__ = ["Agent", "main"]

SADDR = PayloadExpr(protocol="ip", field="saddr")
DPORT = PayloadExpr(protocol="tcp", field="dport")


def service_chain(port: int, sources: tuple[IPv4Address, ...]) -> Chain:
    """``chain svc-PORT { ip saddr S accept ... drop }``."""
    rules = [Rule(stmts=[MatchStmt(left=SADDR, right=s), VerdictExpr(kind="accept")])
             for s in sources]
    rules.append(Rule(stmts=[VerdictExpr(kind="drop")], comment=f"service {port}"))
    return Chain(name=f"svc-{port}", rules=rules)


class Agent:
    """The desired state, changed one step at a time; unchanged objects stay the same."""

    def __init__(self, seed: int = 1) -> None:
        self.rnd = random.Random(seed)
        self.services: dict[int, Chain] = {}
        self.blocked: tuple[IPv4Address, ...] = ()
        self.policy = "accept"
        self.blocked_set = Set(name="blocked", type="ipv4_addr")
        self.vmap = Map(name="services", type="inet_service", data_type="verdict")
        self.input = self._input()

    def _input(self) -> Chain:
        return Chain.base("input", hook="input", priority="filter", policy=self.policy, rules=[
            Rule(stmts=[MatchStmt(left=SADDR, right=SetRefExpr(name="blocked")),
                        VerdictExpr(kind="drop")]),
            Rule(stmts=[VerdictMapStmt(key=DPORT, data=SetRefExpr(name="services"))])])

    def _address(self) -> IPv4Address:
        return IPv4Address(f"10.{self.rnd.randrange(4)}.{self.rnd.randrange(8)}."
                           f"{self.rnd.randrange(1, 250)}")

    def step(self) -> str:
        """One random change; its description."""
        rnd = self.rnd
        what = rnd.choice(["add", "add", "remove", "change", "block", "unblock", "policy"])
        if what in ("remove", "change") and not self.services:
            what = "add"
        if what == "add":
            port = rnd.randrange(1, 65536)
            while port in self.services:
                port = rnd.randrange(1, 65536)
            self.services[port] = service_chain(port, tuple(
                sorted({self._address() for _ in range(rnd.randrange(0, 4))})))
        elif what == "remove":
            del self.services[rnd.choice(sorted(self.services))]
        elif what == "change":
            port = rnd.choice(sorted(self.services))
            self.services[port] = service_chain(port, tuple(
                sorted({self._address() for _ in range(rnd.randrange(0, 4))})))
        elif what == "block":
            self.blocked = tuple(sorted({*self.blocked, self._address()}))
        elif what == "unblock" and self.blocked:
            gone = rnd.choice(self.blocked)
            self.blocked = tuple(a for a in self.blocked if a != gone)
        elif what == "policy":
            self.policy = "drop" if self.policy == "accept" else "accept"
            self.input = self._input()
        if what in ("add", "remove"):
            self.vmap = self.vmap.replace(elements=tuple(
                (port, VerdictExpr(kind="jump", target=c.name))
                for port, c in sorted(self.services.items())))
        if what in ("block", "unblock"):
            self.blocked_set = self.blocked_set.replace(elements=self.blocked)
        return what

    def desired(self) -> Table:
        return Table(family="ip", name="agent", sets=[self.blocked_set, self.vmap],
                     chains=[self.input, *self.services.values()])


def run(nft: nftkit.Nftables, steps: int, seed: int = 1, *, check_every: int = 1
        ) -> Counter[str]:
    """``steps`` random changes, each synced and checked; counts of what happened."""
    agent = Agent(seed)
    counts: Counter[str] = Counter()
    for i in range(steps):
        counts[agent.step()] += 1
        desired = agent.desired()
        result = nft.sync(desired)
        counts[f"path {result.path}"] += 1
        counts["operations"] += len(result.ops)
        counts["retries"] += result.retries
        if i % check_every == 0:
            listed = nft.list_table("ip", "agent")
            assert nftkit.canonical(listed) == nftkit.canonical(desired), f"step {i}"
            assert not nft.drift(desired).ops
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--netns", default=None,
                    help="a network namespace (default: the current one; run it under "
                         "`unshare -n` so that nothing else is touched)")
    args = ap.parse_args(argv)
    with nftkit.Nftables(netns=args.netns) as nft:
        counts = run(nft, args.steps, args.seed)
        print(nftkit.to_text(nft.list_table("ip", "agent")))
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
