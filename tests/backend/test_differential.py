"""Differential test: ``FakeNftables`` and the kernel (through ``nftkit.Nftables``) agree.

Hypothesis generates sequences of small transactions over a tiny universe of names (two tables,
a few chains, sets, maps and objects), so that operations collide: adds of what exists, deletes
of what is missing or still referenced, jumps to missing or base chains, elements that exist,
overlap or have the wrong type. Each transaction runs on a fresh ``FakeNftables`` and on the
kernel, in one throwaway network namespace (flushed between sequences), and after every step:

- both succeed, or both fail with the same error class and the same failing operation index;
- both list the same ruleset (set elements compared in sorted order: the kernel lists hash sets
  in hash order);
- while no transaction of the sequence has failed (a failed batch and the backend's dry runs
  use up kernel handles in ways a fake cannot follow), the same handles.

``NFTKIT_DIFF_EXAMPLES`` sets the number of sequences (default 500). The sequences are a fixed,
reproducible set (``derandomize``) so that CI is deterministic; ``NFTKIT_DIFF_RANDOM=1`` draws
new ones each run, to explore.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from ipaddress import IPv4Address
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nftkit import (
    BackendError,
    Chain,
    CounterStmt,
    ElemExpr,
    MatchStmt,
    ObjrefStmt,
    PayloadExpr,
    PrefixExpr,
    Quota,
    RangeExpr,
    Rule,
    Ruleset,
    SetRefExpr,
    Table,
    Transaction,
    UnsupportedError,
    ValidationError,
    VerdictExpr,
    VerdictMapStmt,
    to_text,
)
from nftkit.backend.fake import FakeNftables
from nftkit.model.objects import Counter
from nftkit.model.sets import Map, Set
from nftkit.semantics.elements import sort_key
from tests._oracle import have_netns
from tests.conftest import record

EXAMPLES = int(os.environ.get("NFTKIT_DIFF_EXAMPLES", "500"))
CLONE_NEWNET = 0x40000000

# --- the universe ---------------------------------------------------------------------------

TABLES = [("inet", "t"), ("ip", "u")]
REGULAR = ["a", "b", "c"]
CHAINS = [*REGULAR, "in", "zz"]  # "in" is a base chain, "zz" never exists
SETS: dict[str, Set] = {
    "s4": Set(name="s4", type="ipv4_addr"),
    "sp": Set(name="sp", type="inet_service"),
    "si": Set(name="si", type="ipv4_addr", flags=["interval"]),
    "vm": Map(name="vm", type="inet_service", data_type="verdict"),
    "m": Map(name="m", type="ipv4_addr", data_type="mark"),
}
# another definition under a used name: adding it must fail
CLASH = {"s4": Set(name="s4", type="inet_service"), "vm": Set(name="vm", type="inet_service")}
ELEMENTS: dict[str, list[Any]] = {
    "s4": [IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2"), IPv4Address("10.0.0.3"), 80,
           ElemExpr(val=IPv4Address("10.0.0.4"), comment="four")],
    "sp": [22, 80, 443],
    "si": [PrefixExpr(addr=IPv4Address("10.0.0.0"), len=8),
           PrefixExpr(addr=IPv4Address("10.1.0.0"), len=16),
           PrefixExpr(addr=IPv4Address("192.168.0.0"), len=24),
           IPv4Address("192.168.1.1"),
           RangeExpr(low=IPv4Address("172.16.0.0"), high=IPv4Address("172.16.0.9"))],
    "vm": [(22, VerdictExpr(kind="accept")), (80, VerdictExpr(kind="drop")),
           (443, VerdictExpr(kind="jump", target="a")), (22, VerdictExpr(kind="jump", target="b")),
           (8080, VerdictExpr(kind="jump", target="in")),
           (8081, VerdictExpr(kind="goto", target="zz"))],
    "m": [(IPv4Address("10.0.0.1"), 1), (IPv4Address("10.0.0.1"), 2),
          (IPv4Address("10.0.0.2"), 3)],
}
SADDR = PayloadExpr(protocol="ip", field="saddr")
DPORT = PayloadExpr(protocol="tcp", field="dport")


def rule_template(kind: str, arg: str) -> Rule:
    if kind == "jump":
        return Rule(stmts=[VerdictExpr(kind="jump", target=arg)])
    if kind == "goto":
        return Rule(stmts=[MatchStmt(left=DPORT, right=22), VerdictExpr(kind="goto", target=arg)])
    if kind == "saddr_set":
        return Rule(stmts=[MatchStmt(left=SADDR, right=SetRefExpr(name=arg)),
                           VerdictExpr(kind="accept")])
    if kind == "dport_set":
        return Rule(stmts=[MatchStmt(left=DPORT, right=SetRefExpr(name=arg)),
                           VerdictExpr(kind="drop")])
    if kind == "counter":
        return Rule(stmts=[CounterStmt(), VerdictExpr(kind="accept")], comment=arg)
    if kind == "objref":
        return Rule(stmts=[ObjrefStmt(type="counter", obj=arg)])
    if kind == "vmap":
        return Rule(stmts=[VerdictMapStmt(key=DPORT, data=SetRefExpr(name=arg))])
    return Rule(stmts=[MatchStmt(left=SADDR, right=IPv4Address("10.0.0.1")),
                       VerdictExpr(kind="drop")])


# --- abstract operations -> transactions ---------------------------------------------------

tables = st.sampled_from(TABLES)
chains = st.sampled_from(CHAINS)
set_names = st.sampled_from([*SETS, "zz"])
rules = st.tuples(st.sampled_from(["jump", "goto", "saddr_set", "dport_set", "counter", "match",
                                   "objref", "vmap"]),
                  st.sampled_from([*CHAINS, *SETS, "cn", "q"]))
where = st.sampled_from(["end", "after", "index", "top", "before", "at"])


@st.composite
def elements_for(draw: st.DrawFn, name: str) -> list[Any]:
    pool = ELEMENTS.get(name, ELEMENTS["s4"])
    return draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))


@st.composite
def element_op(draw: st.DrawFn) -> tuple[Any, ...]:
    name = draw(set_names)
    verbs = ["add", "create", "delete", "destroy"]
    verb = draw(st.sampled_from(verbs))
    return ("elements", verb, draw(tables), name, tuple(draw(elements_for(name))))


OPS = st.one_of(
    st.tuples(st.just("table"), st.sampled_from(["add", "create", "delete", "destroy"]), tables),
    st.tuples(st.just("chain"), st.sampled_from(["add", "create", "delete", "destroy", "flush"]),
              tables, chains, st.sampled_from(["accept", "drop", "bad", None])),
    # (a rename to the chain's own name gives EEXIST, or ENOENT after an add of the chain in
    # the same batch: a kernel quirk the fake does not copy)
    st.tuples(st.just("rename"), tables, chains, st.sampled_from([*CHAINS, "d"])).filter(
        lambda op: op[2] != op[3]),
    st.tuples(st.just("rule"), st.sampled_from(["add", "insert"]), tables, chains, rules, where,
              st.integers(0, 2)),
    st.tuples(st.just("rule"), st.sampled_from(["delete", "destroy", "replace"]), tables, chains,
              rules, st.just("at"), st.integers(0, 2)),
    st.tuples(st.just("set"), st.sampled_from(["add", "create", "delete", "destroy", "flush",
                                               "clash"]), tables, set_names),
    element_op(),
    st.tuples(st.just("object"), st.sampled_from(["add", "create", "delete", "destroy"]),
              tables, st.sampled_from(["counter", "quota"]), st.sampled_from(["cn", "q"]),
              st.integers(1, 2)),
    st.tuples(st.just("flush"), st.sampled_from(["table", "ruleset"]), tables),
    st.tuples(st.just("by_handle"), st.sampled_from(["delete", "destroy"]), tables,
              st.sampled_from(["chain", "set", "map", "counter"]),
              st.sampled_from([*CHAINS, *SETS, "cn"])),
)
# Resets run after the batch, in the backend's libnftables context, whose cache still has what
# the batch deleted (a reset of a table the batch deleted succeeds there): alone in their
# transaction, they are compared
RESETS = st.one_of(
    st.tuples(st.just("reset_all"), st.sampled_from(["counters", "quotas", "rules"]),
              st.sampled_from([*TABLES, None])),
    st.tuples(st.just("object"), st.just("reset"), tables,
              st.sampled_from(["counter", "quota"]), st.sampled_from(["cn", "q"]),
              st.just(1)),
)


def crashes_nft(ops: list[tuple[Any, ...]]) -> bool:
    """nft 1.0.6 itself segfaults on a batch that renames a chain and then deletes that chain
    or its table (``printf 'rename chain ip u c b\\ndelete table ip u' | nft -c -f -``); the
    in-process backend would take the test process down with it."""
    renamed: set[tuple[str, str]] = set()
    for op in ops:
        deletes = op[0] in ("table", "chain") and op[1] in ("delete", "destroy")
        if op[0] == "rename":
            renamed.add(op[1])
        elif (deletes and op[2] in renamed) or (op[0] == "flush" and renamed):
            return True
    return False


STEPS = st.lists(st.one_of(
    st.lists(OPS, min_size=1, max_size=3).filter(lambda ops: not crashes_nft(ops)),
    st.lists(RESETS, min_size=1, max_size=1)), min_size=1, max_size=6)


@st.composite
def setup(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """A first transaction that makes most of the universe exist, so later ops collide."""
    ops: list[tuple[Any, ...]] = []
    for table in TABLES:
        ops.append(("table", "add", table))
        for name in draw(st.lists(st.sampled_from([*REGULAR, "in"]), unique=True)):
            ops.append(("chain", "add", table, name, "accept"))
        for name in draw(st.lists(st.sampled_from(list(SETS)), unique=True)):
            ops.append(("set", "add", table, name))
        if draw(st.booleans()):
            ops.append(("object", "add", table, "counter", "cn", 1))
    return ops


@st.composite
def sequences(draw: st.DrawFn) -> list[list[tuple[Any, ...]]]:
    return [draw(setup()), *draw(STEPS)]


TRANSACTIONS = sequences()


def _rule_handle(listing: Ruleset, table: tuple[str, str], chain: str, k: int) -> int:
    """The handle of rule ``k`` of a chain in this backend's listing, or a missing handle."""
    try:
        found = listing.table(*table).chain(chain).rules
    except KeyError:
        return 9999
    if k < len(found) and found[k].handle is not None:
        return found[k].handle
    return 9999


def _object_handle(listing: Ruleset, table: tuple[str, str], kind: str, name: str) -> int:
    """The handle of a chain, set or object in this backend's listing, or a missing handle."""
    try:
        t = listing.table(*table)
    except KeyError:
        return 9999
    found: Any = None
    if kind == "chain":
        found = next((c for c in t.chains if c.name == name), None)
    elif kind in ("set", "map"):
        found = next((x for x in t.sets if x.name == name), None)
    else:
        found = next((o for o in t.objects if getattr(o, "name", None) == name
                      and o.json_key == kind), None)
    handle = getattr(found, "handle", None)
    return handle if isinstance(handle, int) else 9999


def build(ops: list[tuple[Any, ...]], listing: Ruleset) -> Transaction:
    """One transaction for a backend, given its current listing (for rule handles)."""
    txn = Transaction()
    for op in ops:
        kind = op[0]
        if kind == "table":
            _, verb, (fam, name) = op
            if verb in ("add", "create"):
                getattr(txn, verb)(Table(family=fam, name=name))
            else:
                getattr(txn, verb)("table", table=(fam, name))
        elif kind == "chain":
            _, verb, table, name, policy = op
            if verb in ("add", "create"):
                chain = Chain(name=name)
                if name == "in":
                    chain = Chain.base("in", hook="input", policy=policy if policy != "bad"
                                       else None, priority=0 if policy != "bad" else 10)
                elif policy == "bad":
                    chain = Chain.base(name, type="route", hook="input")
                getattr(txn, verb)(chain, table=table)
            elif verb == "flush":
                txn.flush("chain", table=table, name=name)
            else:
                getattr(txn, verb)("chain", table=table, name=name)
        elif kind == "rename":
            _, table, old, new = op
            txn.rename(old, new, table=table)
        elif kind == "rule":
            _, verb, table, chain, (template, arg), position, k = op
            rule = rule_template(template, arg)
            handle = _rule_handle(listing, table, chain, k)
            if verb == "add":
                if position == "after":
                    txn.add(rule, table=table, chain=chain, after=handle)
                elif position == "index":
                    txn.add(rule, table=table, chain=chain, index=k)
                else:
                    txn.add(rule, table=table, chain=chain)
            elif verb == "insert":
                if position == "before":
                    txn.insert(rule, table=table, chain=chain, before=handle)
                elif position == "at":
                    txn.insert(rule, table=table, chain=chain, index=k)
                else:
                    txn.insert(rule, table=table, chain=chain)
            elif verb == "replace":
                txn.replace(rule, table=table, chain=chain, handle=handle)
            else:
                getattr(txn, verb)("rule", table=table, chain=chain, handle=handle)
        elif kind == "set":
            _, verb, table, name = op
            obj = SETS.get(name, Set(name=name, type="ipv4_addr"))
            kind_name = "map" if isinstance(obj, Map) else "set"
            if verb in ("add", "create"):
                getattr(txn, verb)(obj, table=table)
            elif verb == "clash":
                txn.add(CLASH.get(name, Map(name=name, type="ipv4_addr", data_type="verdict")),
                        table=table)
            elif verb == "flush":
                txn.flush(kind_name, table=table, name=name)
            else:
                getattr(txn, verb)(kind_name, table=table, name=name)
        elif kind == "elements":
            _, verb, table, name, elems = op
            target: Set | str = SETS.get(name, name)
            if verb in ("delete", "destroy"):
                elems = tuple(e[0] if isinstance(e, tuple) else e for e in elems)
                target = name
            getattr(txn, f"{verb}_elements")(target, elems, table=table)
        elif kind == "object":
            _, verb, table, objkind, name, size = op
            if verb in ("add", "create"):
                obj = Counter(name=name) if objkind == "counter" else Quota(
                    name=name, bytes=100 * size)
                getattr(txn, verb)(obj, table=table)
            elif verb == "reset":
                txn.reset(objkind, table=table, name=name)
            else:
                getattr(txn, verb)(objkind, table=table, name=name)
        elif kind == "by_handle":
            _, verb, table, what, name = op
            getattr(txn, verb)(what, table=table, handle=_object_handle(listing, table, what,
                                                                        name))
        elif kind == "reset_all":
            _, what, table = op
            txn.reset(what, table=table)
        elif kind == "flush":
            _, what, table = op
            if what == "ruleset":
                txn.flush()
            else:
                txn.flush("table", table=table)
    return txn


# --- comparing ------------------------------------------------------------------------------


def normalized(rs: Ruleset) -> Ruleset:
    """Set elements in a fixed order (the kernel lists hash sets in hash order)."""
    tables = []
    for t in rs.tables:
        sets = tuple(s.replace(elements=tuple(sorted(s.elements, key=sort_key))) for s in t.sets)
        tables.append(t.replace(sets=sets))
    return Ruleset(tables=tuple(tables))


def handles(rs: Ruleset) -> list[tuple[str, int | None]]:
    """Every handle below the tables (table handles come from a per-namespace counter that
    earlier sequences have advanced)."""
    out: list[tuple[str, int | None]] = []
    for t in rs.tables:
        for c in t.chains:
            out.append((f"{t.name} chain {c.name}", c.handle))
            out += [(f"{t.name} {c.name} rule {i}", r.handle) for i, r in enumerate(c.rules)]
        out += [(f"{t.name} set {s.name}", s.handle) for s in t.sets]
        out += [(f"{t.name} object {getattr(o, 'name', '')}", getattr(o, "handle", None))
                for o in t.objects]
    return out


Outcome = tuple[str, int | None, tuple[int | None, ...], str]


def outcome(backend: Any, txn: Transaction) -> Outcome:
    """``(error class name or "ok", failing op index, handles, nft's message)``."""
    if os.environ.get("NFTKIT_DIFF_TRACE") and not isinstance(backend, FakeNftables):
        with open(os.environ["NFTKIT_DIFF_TRACE"], "a") as trace:
            trace.write(f"{txn.to_json()}\n")
            trace.flush()
    try:
        result = backend.run(txn)
    except BackendError as exc:
        return type(exc).__name__, exc.index, (), exc.nft_message
    except UnsupportedError as exc:
        return type(exc).__name__, None, (), str(exc)
    return "ok", None, result.handles, ""


def agree(fake: Outcome, kernel: Outcome) -> bool:
    return fake[:2] == kernel[:2]


# --- the kernel side ------------------------------------------------------------------------


def _new_netns_fd() -> int:
    """An fd of a fresh network namespace: it lives as long as the fd (no name, no cleanup)."""
    libc = ctypes.CDLL(None, use_errno=True)
    box: dict[str, int] = {}

    def work() -> None:
        # unshare() moves only this thread; it ends right after, the fd keeps the namespace
        if libc.unshare(CLONE_NEWNET) != 0:
            box["errno"] = ctypes.get_errno()
            return
        box["fd"] = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    if "fd" not in box:
        pytest.skip(f"cannot create a network namespace: {os.strerror(box.get('errno', 0))}")
    return box["fd"]


class Kernel:
    """The kernel side: one long-lived ``Nftables`` context in one namespace, as an agent
    would use it (its dry runs use throwaway contexts, so they cannot leave its cache stale)."""

    def __init__(self, nftables: Any, fd: int) -> None:
        self.nft = nftables(netns=fd)

    def __repr__(self) -> str:
        return "Kernel()"

    def run(self, txn: Transaction) -> Any:
        return self.nft.run(txn)

    def list_ruleset(self) -> Ruleset:
        return self.nft.list_ruleset()


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    if not have_netns():
        pytest.skip("needs root, nft and network namespaces")
    try:
        from nftkit import Nftables
    except ImportError as exc:
        pytest.skip(f"libnftables backend unavailable: {exc}")
    fd = _new_netns_fd()
    try:
        yield Kernel(Nftables, fd)
    finally:
        os.close(fd)


STATS = {"sequences": 0, "transactions": 0, "failures": 0, "handles_not_echoed": 0}


def run_sequence(kernel: Any, sequence: list[list[tuple[Any, ...]]]) -> None:
    kernel.run(Transaction().flush())
    fake = FakeNftables()
    clean = True
    STATS["sequences"] += 1
    for step, ops in enumerate(sequence):
        try:
            txn_k = build(ops, kernel.list_ruleset())
            txn_f = build(ops, fake.list_ruleset())
        except ValidationError:
            continue
        STATS["transactions"] += 1
        got_k = outcome(kernel, txn_k)
        got_f = outcome(fake, txn_f)
        if got_k[0] != "ok" or any(op.verb.value == "destroy" for op in txn_k.ops):
            # a failed batch (and the backend's dry runs that find the failing op, or that
            # emulate destroy) use up kernel handles that a fake cannot follow
            clean = False
            STATS["failures"] += got_k[0] != "ok"
        context = f"step {step}: {ops}\n{txn_k.to_json()}"
        same = agree(got_f, got_k)
        record("differential: fake and kernel agree (transactions)", same)
        # how many of them were expected failures ("passed" = failed on both, with one error)
        record("differential: failing transactions among all", got_k[0] != "ok")
        assert same, f"outcome differs, fake {got_f} kernel {got_k}\n{context}"
        listing_k, listing_f = kernel.list_ruleset(), fake.list_ruleset()
        if normalized(listing_f) != normalized(listing_k):
            raise AssertionError(f"listing differs after {context}\n--- kernel\n"
                                 f"{to_text(listing_k)}--- fake\n{to_text(listing_f)}")
        if clean and got_k[0] == "ok":
            # table handles come from a per-namespace counter; where nft echoed no handle
            # (nft 1.0.6 echoes ``create`` differently), nothing to compare
            pairs = [(f, k) for op, f, k in zip(txn_k.ops, got_f[2], got_k[2], strict=True)
                     if op.kind.value != "table"]
            STATS["handles_not_echoed"] += sum(k is None and f is not None for f, k in pairs)
            assert [f for f, k in pairs if k is not None] == [k for _f, k in pairs
                                                                if k is not None], \
                f"handles differ\n{context}"
            assert handles(listing_f) == handles(listing_k), f"listed handles differ\n{context}"


@pytest.mark.kernel
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          derandomize=not os.environ.get("NFTKIT_DIFF_RANDOM"),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(sequence=TRANSACTIONS)
def test_fake_agrees_with_kernel(kernel: Any, sequence: list[list[tuple[Any, ...]]]) -> None:
    run_sequence(kernel, sequence)
    record("differential: sequences", True)
