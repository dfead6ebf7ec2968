"""``FakeNftables`` is a drop-in for ``Nftables`` (issue 11): the same methods and keywords,
and for a transaction that fails on the kernel, the same failure on the fake.

The differential part runs the universe of tests/backend/test_differential.py
(``NFTKIT_FAKE_MESSAGES_EXAMPLES`` sequences, default 150, a fixed set) and, for every step that
fails on the kernel, requires of the fake's error: the same class, the same failing op (index and
``operation``), a message that starts with that op (``add rule inet t c: ...``) and carries the
same errno text as the kernel's (``No such file or directory``, ``File exists``, ``Device or
resource busy``). That is the deterministic part: whether nft prefixes ``Could not process
rule:`` (the kernel found it) or adds ``did you mean ...`` (nft's cache found it, with a
suggestion drawn from whatever else exists) depends on nft's internals, and the fake says why
in its own words instead. ``InvalidError`` messages are nft's explanations and are not
compared.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from nftkit import BackendError, Table, Transaction, ValidationError
from nftkit.backend.fake import FakeNftables
from nftkit.errors import BusyError, ExistsError, NotFoundError
from tests.backend import test_differential as diff
from tests.conftest import record

kernel = diff.kernel  # the fixture: one namespace for the module
EXAMPLES = int(os.environ.get("NFTKIT_FAKE_MESSAGES_EXAMPLES", "150"))
STRERROR = {NotFoundError: "No such file or directory", ExistsError: "File exists",
            BusyError: "Device or resource busy"}


def _error(backend: Any, txn: Transaction) -> BackendError | None:
    try:
        backend.run(txn)
    except BackendError as exc:
        return exc
    return None


def run_sequence(k: Any, sequence: list[list[tuple[Any, ...]]]) -> None:
    k.run(Transaction().flush())
    fake = FakeNftables()
    for step, ops in enumerate(sequence):
        try:
            txn_k = diff.build(ops, k.list_ruleset())
            txn_f = diff.build(ops, fake.list_ruleset())
        except ValidationError:
            continue
        got_k, got_f = _error(k.nft, txn_k), _error(fake, txn_f)
        if got_k is None:
            assert got_f is None, f"step {step}: fake failed alone: {got_f}"
            continue
        context = f"step {step}: {ops}\nkernel: {got_k}\nfake: {got_f}"
        assert got_f is not None, f"kernel failed alone\n{context}"
        assert (type(got_f), got_f.index) == (type(got_k), got_k.index), context
        assert got_f.operation == txn_f.ops[got_f.index or 0], context
        text = STRERROR.get(type(got_k))
        same = True
        if text is not None and got_k.index is not None:
            head = f"{txn_k.ops[got_k.index].describe()}: "
            same = (str(got_k).startswith(head) and str(got_f).startswith(head)
                    and text in str(got_k) and text in str(got_f))
        record("fake messages: failing transactions worded as the kernel's", same)
        assert same, context


@pytest.mark.kernel
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          derandomize=not os.environ.get("NFTKIT_DIFF_RANDOM"),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(sequence=diff.TRANSACTIONS)
def test_failing_transactions_fail_alike(kernel: Any,
                                         sequence: list[list[tuple[Any, ...]]]) -> None:
    run_sequence(kernel, sequence)


# --- the same interface ---------------------------------------------------------------------


def test_run_takes_the_keywords_of_nftables() -> None:
    fake = FakeNftables()
    txn = Transaction().add(Table(family="inet", name="t"))
    assert fake.run(txn, handles=False, netlink=False, path="netlink").handles == (None,)
    assert fake.run(txn).handles == (1,)
    fake.check(txn, netlink=True, path="libnftables-text")
    with pytest.raises(ValidationError, match="path"):
        fake.run(txn, path="carrier-pigeon")  # type: ignore[arg-type]


def test_run_file(tmp_path: Path) -> None:
    script = tmp_path / "rules.nft"
    script.write_text("add table inet t\nadd chain inet t c\n")
    fake = FakeNftables()
    fake.run_file(script, dry=True)
    assert not fake.list_tables()
    fake.run_file(script)
    assert fake.list_chain("inet", "t", "c").name == "c"


def test_errors_carry_the_errno_text() -> None:
    fake = FakeNftables(Table(family="inet", name="t"))
    with pytest.raises(NotFoundError) as info:
        fake.run(Transaction().delete("chain", table=("inet", "t"), name="c"))
    assert str(info.value).startswith("delete chain inet t c: No such file or directory: ")
    assert info.value.nft_message == "chain c in table inet t does not exist"
    with pytest.raises(ExistsError, match=r"^create table inet t: File exists: "):
        fake.run(Transaction().create(Table(family="inet", name="t")))
