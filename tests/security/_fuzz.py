"""Forked-child fuzz of the backends with model values (issue 12: nothing nftkit accepts may
crash the process).

``generate`` draws rulesets from ``nftkit.testing``'s strategies and derives more values from
them by hostile mutations (a string field set to a payload of ``PAYLOADS``, an int field set to
an extreme, one node's field given another node's value); a mutation the model refuses
(``ValidationError``) is counted, and the value is kept unmutated. ``fuzz`` applies each value
through every path (``_paths.run_path``) and reads it back, in forked children that each live
in a throwaway network namespace; a child that dies by a signal (SIGSEGV, SIGABRT inside
libnftables) is recorded with the value it was running, and a new child continues after it.
"""

from __future__ import annotations

import collections
import json
import os
import random
import select
import signal
import time
import traceback
from collections.abc import Iterator
from typing import Any

import attrs

import nftkit
from nftkit import Ruleset
from nftkit._node import Node

from ._paths import FAKE_PATHS, KERNEL_PATHS, PAYLOADS, enter_new_netns, read_back, run_path

__all__ = ["Report", "WrongType", "fuzz", "generate", "mutate", "substitute"]

INTS = [-1, 2**16, 2**31, 2**32, 2**63, 2**64, 10**30]


def substitute(tree: Any, old: Node, new: Node) -> Any:
    """``tree`` with the node ``old`` (by identity) replaced by ``new``; parents rebuilt (so
    their validators run again)."""
    if tree is old:
        return new
    if isinstance(tree, tuple):
        items = tuple(substitute(i, old, new) for i in tree)
        return tree if all(a is b for a, b in zip(items, tree, strict=True)) else items
    if isinstance(tree, Node) and attrs.has(type(tree)):
        changes = {}
        for f in attrs.fields(type(tree)):  # type: ignore[arg-type]
            v = getattr(tree, f.name)
            if isinstance(v, (Node, tuple)):
                w = substitute(v, old, new)
                if w is not v:
                    changes[f.name] = w
        return tree.replace(**changes) if changes else tree
    return tree


def _fields(node: Node) -> list[attrs.Attribute[Any]]:
    return [f for f in attrs.fields(type(node)) if f.name != "handle"]  # type: ignore[arg-type]


def mutate(rng: random.Random, model: Ruleset) -> tuple[Ruleset, str]:
    """One hostile mutation of ``model``: (the mutated model, what was done). Raises whatever
    the model raises for a refused value (ValidationError is the only expected one)."""
    nodes = [n for n in model.walk() if attrs.has(type(n)) and _fields(n)]
    node = rng.choice(nodes)
    f = rng.choice(_fields(node))
    kind = str(f.type)
    old = getattr(node, f.name)
    choice = rng.random()
    if "str" in kind and choice < 0.6:
        name, payload = rng.choice(list(PAYLOADS.items()))
        value: Any = (payload,) if kind.startswith("tuple[str") else payload
        if kind.startswith("tuple[tuple[str"):
            value = ((payload, 1),)
        what = f"{type(node).__name__}.{f.name}={name}"
    elif "int" in kind and choice < 0.8:
        value = rng.choice(INTS)
        what = f"{type(node).__name__}.{f.name}={value}"
    else:  # another node's value of the same field name, or of any field
        donors = [getattr(n, g.name) for n in nodes for g in _fields(n)
                  if g.name == f.name or rng.random() < 0.02]
        value = rng.choice(donors) if donors else old
        what = f"{type(node).__name__}.{f.name}=<{type(value).__name__}>"
    try:
        return substitute(model, node, node.replace(**{f.name: value})), what
    except nftkit.NftkitError:
        raise
    except (TypeError, AttributeError) as exc:
        if what.endswith(">"):  # a donor's value: of another Python type, or None
            raise WrongType(f"{what}: {type(exc).__name__}") from exc
        raise


class WrongType(Exception):
    """A mutation gave a field another field's value (of another Python type, or None: one
    mypy rejects), and the model raised TypeError or AttributeError for it: not a finding of
    this fuzz, which is about values of the declared types and what the model accepts."""


def generate(n: int, *, seed: int = 0, base: int | None = None,
             mutated: float = 0.7) -> tuple[list[tuple[Ruleset, str]], collections.Counter[str]]:
    """``n`` model values: ``base`` rulesets drawn from ``nftkit.testing.rulesets`` (half with
    ``kernel=True``), cycled, and from the second cycle on (or with probability ``mutated``)
    given 1-3 hostile mutations. Returns the values, each with how it was made, and the count
    of mutations the model refused (by exception type)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    from nftkit.testing import rulesets

    pool: list[Ruleset] = []
    want = base if base is not None else n

    @hseed(seed)
    @settings(max_examples=want, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(rulesets(kernel=True), rulesets()))
    def collect(rs: Ruleset) -> None:
        pool.append(rs)

    collect()
    rng = random.Random(seed)
    refused: collections.Counter[str] = collections.Counter()
    out: list[tuple[Ruleset, str]] = []
    for i in range(n):
        model = pool[i % len(pool)]
        how = "generated"
        if (i >= len(pool) or rng.random() < mutated) and any(True for _ in model.walk()):
            done = []
            for _ in range(rng.randint(1, 3)):
                try:
                    model, what = mutate(rng, model)
                    done.append(what)
                except nftkit.NftkitError as exc:
                    refused[type(exc).__name__] += 1
                except WrongType:
                    refused["wrong Python type (TypeError/AttributeError)"] += 1
                except Exception as exc:  # a finding: the model raised untyped
                    refused[f"UNTYPED {type(exc).__name__}: {exc}"[:200]] += 1
            if done:
                how = "mutated " + ", ".join(done)
        out.append((model, how))
    return out, refused


@attrs.define
class Report:
    """What a fuzz run found."""

    values: int = 0
    seconds: float = 0.0
    children: int = 0
    #: path -> outcome -> count; outcomes: "ok exact", "ok differs", an nftkit error class,
    #: "UNTYPED <class>" (a finding)
    outcomes: dict[str, collections.Counter[str]] = attrs.Factory(dict)
    #: path -> path that actually ran -> count
    taken: dict[str, collections.Counter[str]] = attrs.Factory(dict)
    signals: list[tuple[int, str, str]] = attrs.Factory(list)  # (value, signal, how made)
    hangs: list[tuple[int, str]] = attrs.Factory(list)
    untyped: list[tuple[int, str, str]] = attrs.Factory(list)  # (value, path, traceback tail)

    @property
    def clean(self) -> bool:
        return not (self.signals or self.hangs or self.untyped)

    def summary(self) -> str:
        lines = [f"{self.values} model values, {self.children} forked children, "
                 f"{self.seconds:.0f} s: {len(self.signals)} signals, {len(self.hangs)} hangs, "
                 f"{len(self.untyped)} untyped exceptions"]
        for path, counts in sorted(self.outcomes.items()):
            lines.append(f"  {path}: {dict(counts.most_common())}")
            if path in self.taken:
                lines.append(f"    ran as: {dict(self.taken[path].most_common())}")
        for what in (self.signals, self.hangs, self.untyped):
            for item in what[:10]:
                lines.append(f"  FINDING {item}")
        return "\n".join(lines)


def _one(backends: dict[str, Any], model: Ruleset, paths: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in paths:
        backend = backends["fake" if path.startswith("fake") else "kernel"]
        try:
            taken = run_path(path, backend, model)
            exact = all(back == model for back in read_back(backend))
            out[path] = ["ok exact" if exact else "ok differs", taken]
        except nftkit.NftkitError as exc:
            out[path] = [type(exc).__name__, None]
        except Exception as exc:  # the finding this fuzz looks for
            tail = "".join(traceback.format_exception(exc)[-3:])
            out[path] = [f"UNTYPED {type(exc).__name__}", None, tail[-600:]]
    return out


def _child(values: list[tuple[Ruleset, str]], start: int, end: int, paths: tuple[str, ...],
           wfd: int) -> None:
    """In the forked child: a new namespace, one backend of each kind, the values in order.
    Writes ``S i`` before value i and ``D i {json}`` after it."""
    try:
        backends: dict[str, Any] = {"fake": nftkit.FakeNftables()}
        if any(p in KERNEL_PATHS for p in paths):
            enter_new_netns()
            backends["kernel"] = nftkit.Nftables()
        for i in range(start, end):
            os.write(wfd, f"S {i}\n".encode())
            os.write(wfd, f"D {i} {json.dumps(_one(backends, values[i][0], paths))}\n".encode())
    except BaseException:  # reported through the exit status
        traceback.print_exc()
        os._exit(3)
    os._exit(0)


def _lines(fd: int, timeout: float) -> Iterator[str | None]:
    """Lines from ``fd``; None when nothing came for ``timeout`` seconds; ends at EOF."""
    buf = b""
    while True:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            yield None
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode()


def fuzz(values: list[tuple[Ruleset, str]], *, paths: tuple[str, ...] = KERNEL_PATHS + FAKE_PATHS,
         per_child: int = 200, timeout: float = 120.0, progress: bool = False,
         budget: float | None = None) -> Report:
    """Apply every value through ``paths`` in forked children (``per_child`` values each, a
    new child after a crash); ``timeout`` seconds per value before the child is killed.
    ``budget``: seconds after which no new child starts (``Report.values`` says how many
    values ran)."""
    report = Report(values=len(values))
    start_time = time.monotonic()
    i = 0
    while i < len(values):
        if budget is not None and time.monotonic() - start_time > budget:
            report.values = i
            break
        end = min(i + per_child, len(values))
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            _child(values, i, end, paths, wfd)
        os.close(wfd)
        report.children += 1
        current = None
        for line in _lines(rfd, timeout):
            if line is None:
                os.kill(pid, signal.SIGKILL)
                report.hangs.append((current if current is not None else i, values[
                    current if current is not None else i][1]))
                break
            tag, rest = line.split(" ", 1)
            if tag == "S":
                current = int(rest)
                continue
            idx, doc = rest.split(" ", 1)
            for path, got in json.loads(doc).items():
                report.outcomes.setdefault(path, collections.Counter())[got[0]] += 1
                if got[1]:
                    report.taken.setdefault(path, collections.Counter())[got[1]] += 1
                if got[0].startswith("UNTYPED"):
                    report.untyped.append((int(idx), path, got[2]))
                    if progress:
                        print(f"  UNTYPED value {idx} ({values[int(idx)][1][:160]}), {path}:\n"
                              f"{got[2]}", flush=True)
            current = None
            i = int(idx) + 1
        os.close(rfd)
        _pid, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and current is not None:
            sig = signal.Signals(os.WTERMSIG(status)).name
            if not report.hangs or report.hangs[-1][0] != current:
                report.signals.append((current, sig, values[current][1]))
                if progress:
                    print(f"  SIGNAL {sig} at value {current}: {values[current][1][:300]}",
                          flush=True)
            i = current + 1
        elif current is not None:  # hang (killed above) or the child failed outside a value
            i = current + 1
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0 and i < end:
            raise RuntimeError(f"fuzz child failed before value {i} (exit "
                               f"{os.WEXITSTATUS(status)})")
        if progress:
            print(f"  {i}/{len(values)} values, {time.monotonic() - start_time:.0f} s: "
                  f"{len(report.signals)} signals, {len(report.hangs)} hangs, "
                  f"{len(report.untyped)} untyped", flush=True)
    report.seconds = time.monotonic() - start_time
    return report
