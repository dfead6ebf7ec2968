"""``FakeNftables.sync``: the same loop as ``Nftables.sync`` against the fake's generation."""

from __future__ import annotations

import pytest

import nftkit
from nftkit import ConflictError, FakeNftables, Transaction, canonical
from nftkit.backend.fake import FakeTarget

WANT = nftkit.parse("""table inet t {
    set s { type ipv4_addr; elements = { 10.0.0.1 } }
    chain c { ip saddr @s accept }
    chain input { type filter hook input priority filter; policy drop; jump c }
}""")


def test_sync_dry_run_noop_and_drift() -> None:
    fake = FakeNftables()
    dry = fake.sync(WANT, dry_run=True)
    assert dry.path == "dry-run" and dry.ops and "add table inet t" in dry.script
    assert not fake.list_ruleset().tables
    done = fake.sync(WANT)
    assert done.path == "fake" and done.changed and done.retries == 0
    assert canonical(fake.list_ruleset()) == canonical(WANT)
    again = fake.sync(WANT)
    assert again.path == "none" and not again.ops and not again.read
    fake.run(Transaction().add_elements("s", [nftkit.parse_rule("ip saddr 10.0.0.2").stmts[0]
                                             .right], table=("inet", "t")))
    drift = fake.drift(WANT)
    assert [op.describe() for op in drift.ops] == ["delete element inet t s { 1 element(s) }"]
    fixed = fake.sync(WANT)
    assert len(fixed.ops) == 1  # (the drift read the change already)
    assert not fake.drift(WANT).ops


def test_a_commit_between_read_and_batch_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNftables(WANT)
    want = nftkit.parse(nftkit.to_text(WANT).replace("10.0.0.1", "10.0.0.9"))
    real = FakeTarget.apply
    calls: list[int] = []

    def apply(self: FakeTarget, txn: Transaction, genid: int, script: object) -> object:
        if not calls:
            fake.run(Transaction().add(nftkit.Chain(name="other"), table=("inet", "t")))
        calls.append(genid)
        return real(self, txn, genid, script)  # type: ignore[arg-type]

    monkeypatch.setattr(FakeTarget, "apply", apply)
    result = fake.sync(want)
    assert result.retries == 1 and len(calls) == 2
    assert canonical(fake.list_ruleset()) == canonical(want)  # (chain other deleted: owned)


def test_a_writer_that_never_stops_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNftables(WANT)
    want = nftkit.parse(nftkit.to_text(WANT).replace("10.0.0.1", "10.0.0.9"))
    real = FakeTarget.apply

    def apply(self: FakeTarget, txn: Transaction, genid: int, script: object) -> object:
        fake.run(Transaction().add(nftkit.Chain(name="other"), table=("inet", "t")))
        return real(self, txn, genid, script)  # type: ignore[arg-type]

    monkeypatch.setattr(FakeTarget, "apply", apply)
    with pytest.raises(ConflictError):
        fake.sync(want, retries=3)
    assert "10.0.0.9" not in fake.dump()


def test_tables_not_owned_are_left_alone() -> None:
    fake = FakeNftables(nftkit.parse("table ip other { chain c { drop } }"))
    fake.sync(WANT)
    assert {t.name for t in fake.list_ruleset().tables} == {"t", "other"}
    fake.sync(nftkit.Ruleset(), tables=[("inet", "t")])
    assert {t.name for t in fake.list_ruleset().tables} == {"other"}
