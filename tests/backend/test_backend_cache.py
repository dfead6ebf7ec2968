"""Handles never cost a dump, and no libnftables context keeps a whole ruleset between calls.

- A transaction that goes to libnftables by itself (the netlink path cannot write it) is sent
  without ``--echo``: its handles are looked up by name after the batch. Only a caller that
  asked for libnftables (``netlink=False``) gets nft's echo, and the echo's full cache is
  dropped right after it.
- Reads run in a libnftables context of their own.
- Counted on the wire: ``strace`` of a process that runs such a transaction in a namespace
  with many chains and sets sees no dump of rules or set elements.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nftkit
from nftkit import Chain, Rule, Set, Table, Transaction
from nftkit.backend.libnftables import _context
from nftkit.backend.libnftables._context import OutputFlag
from nftkit.backend.netlink import NetlinkPath
from nftkit.model.expressions import PayloadExpr
from nftkit.model.statements import CounterStmt, MatchStmt
from tests._backend_netns import backend_skip_reason, netns

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
T = ("inet", "t")
RULE = Rule(stmts=(MatchStmt(left=PayloadExpr(protocol="th", field="dport"), right=22),
                   CounterStmt()))


@pytest.fixture()
def name() -> Iterator[str]:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    with netns() as ns:
        yield ns


class _Calls:
    """Every ``nft_run_cmd_from_buffer`` call: (context, flags, command)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[Any, int, str]] = []
        original = _context.Context._exec

        def spy(ctx_self: Any, ctx: Any, command: str, flags: int, output: bool
                ) -> tuple[int, str, str]:
            self.calls.append((ctx, flags, command))
            return original(ctx_self, ctx, command, flags, output)

        monkeypatch.setattr(_context.Context, "_exec", spy)


def _setup(nft: nftkit.Nftables) -> None:
    nft.run(Transaction().add(Table(family="inet", name="t"))
            .add(Set(name="s", type="ipv4_addr", elements=("10.0.0.1",)), table=T)
            .add(Chain(name="c"), table=T).add(RULE, table=T, chain="c"), handles=False)


def test_fallback_to_libnftables_does_not_echo(name: str, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    """The netlink path declines (as for an op it cannot encode): libnftables gets the batch
    without ``--echo``, and the handles still come back, looked up by name."""
    with nftkit.Nftables(netns=name) as nft:
        _setup(nft)
        monkeypatch.setattr(NetlinkPath, "apply", lambda *a, **k: None)
        calls = _Calls(monkeypatch)
        txn = (Transaction().add(Chain(name="d"), table=T).add(RULE, table=T, chain="d")
               .add(RULE, table=T, chain="d").add(Set(name="u", type="inet_service"), table=T))
        done = nft.run(txn)
        assert done.path == "libnftables-json"
        assert not any(flags & OutputFlag.ECHO for _c, flags, _cmd in calls.calls)
        assert all(h is not None for h in done.handles), done.handles
        listed = nft.list_chain("inet", "t", "d")
        assert [r.handle for r in listed.rules] == list(done.handles[1:3])
        assert nft._lib.cache_drops == 0


def test_asking_for_libnftables_echoes_then_drops_the_cache(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with nftkit.Nftables(netns=name) as nft:
        _setup(nft)
        calls = _Calls(monkeypatch)
        done = nft.run(Transaction().add(Chain(name="d"), table=T)
                       .add(RULE, table=T, chain="d"), netlink=False)
        assert done.path == "libnftables-json" and all(h is not None for h in done.handles)
        echoed = [i for i, (_c, f, _cmd) in enumerate(calls.calls) if f & OutputFlag.ECHO]
        assert len(echoed) == 1
        ctx, _f, cmd = calls.calls[echoed[0] + 1]
        assert cmd == "list flowtables" and ctx is calls.calls[echoed[0]][0]
        assert nft._lib.cache_drops == 1
        # without handles: no echo, nothing to drop
        nft.run(Transaction().add(Chain(name="e"), table=T), netlink=False, handles=False)
        assert nft._lib.cache_drops == 1


def test_reads_run_in_a_context_of_their_own(name: str, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    with nftkit.Nftables(netns=name) as nft:
        _setup(nft)
        _ = nft.version
        calls = _Calls(monkeypatch)
        nft.list_ruleset()
        nft.list_table("inet", "t")
        nft.list_chain("inet", "t", "c")
        nft.list_set("inet", "t", "s")
        nft.run_text("list ruleset")  # a script the caller wrote runs where writes run
        long_lived = nft._lib._ctx
        reads = [c for c in calls.calls if "list" in c[2] and "flowtables" not in c[2]]
        assert len(reads) >= 5
        assert sum(ctx is long_lived for ctx, _f, _cmd in reads) == 1  # only run_text


_CHILD = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, sys.argv[1])
    import nftkit
    from nftkit import Chain, Rule, Set, Table, Transaction
    from nftkit.backend.netlink import NetlinkPath
    from nftkit.model.statements import CounterStmt
    T = ("inet", "t")
    with nftkit.Nftables() as nft:
        txn = Transaction().add(Table(family="inet", name="t"))
        for i in range(40):
            txn.add(Set(name=f"s{i}", type="ipv4_addr", elements=(f"10.0.0.{i + 1}",)),
                    table=T)
            txn.add(Chain(name=f"c{i}"), table=T)
            txn.add(Rule(stmts=(CounterStmt(),)), table=T, chain=f"c{i}")
        nft.run(txn, handles=False)
        NetlinkPath.apply = lambda *a, **k: None  # as for an op netlink cannot encode
        os.getppid()  # marks the start in the trace
        done = nft.run(Transaction().add(Chain(name="new"), table=T)
                       .add(Rule(stmts=(CounterStmt(),)), table=T, chain="new"))
        os.getppid()
        assert done.path == "libnftables-json" and None not in done.handles, done
        os.getppid()
        done = nft.run(Transaction().add(Chain(name="new2"), table=T), netlink=False)
        os.getppid()
        assert None not in done.handles
""")


def _dumps(trace: str) -> list[list[str]]:
    """The GET requests between ``getppid`` marks: ``NAME*`` for dumps."""
    segments: list[list[str]] = [[]]
    for line in trace.splitlines():
        if "getppid" in line:
            segments.append([])
        elif m := re.search(r"NFT_MSG_(GET\w+), nlmsg_flags=([\w|]+)", line):
            segments[-1].append(m.group(1) + ("*" if "NLM_F_DUMP" in m.group(2) else ""))
    return segments


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_counted_on_the_wire_no_rule_or_element_dumps(name: str, tmp_path: Path) -> None:
    """40 chains with rules and 40 sets with elements: the fallback run makes no dump of
    rules or elements except the new chain's own rules (its handles); the explicit
    libnftables run with echo dumps them all (what the fallback avoids)."""
    trace = tmp_path / "trace"
    r = subprocess.run(["ip", "netns", "exec", name, "strace", "-f", "-qq", "-o", str(trace),
                        "-e", "trace=sendto,sendmsg,getppid", sys.executable, "-c", _CHILD,
                        str(ROOT)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    segments = _dumps(trace.read_text())
    fallback, explicit = segments[-4], segments[-2]
    assert "GETSETELEM*" not in fallback
    assert fallback.count("GETRULE*") == 1  # the new chain's rules, for their handles
    assert "GETSETELEM*" in explicit and "GETRULE*" in explicit
