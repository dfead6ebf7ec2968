"""Backend pieces that need no kernel: nft's error text, echo matching, the cffi module."""

from __future__ import annotations

from pathlib import Path

import nftkit
from nftkit import Chain, Rule, Table, Transaction, VerdictExpr
from nftkit.backend.libnftables import _cdef, _errors, _ffi, _handles

T = ("inet", "t")


def test_classify_nft_messages() -> None:
    cases = {
        "internal:0:0-0: Error: Could not process rule: No such file or directory\n":
            nftkit.NotFoundError,
        "internal:0:0-0: Error: Could not process rule: File exists\n": nftkit.ExistsError,
        "internal:0:0-0: Error: Could not process rule: Device or resource busy\n":
            nftkit.BusyError,
        "netlink: Error: cache initialization failed: Operation not permitted\n":
            nftkit.PermissionDeniedError,
        "internal:0:0-0: Error: Could not process rule: Too many links\n": nftkit.InvalidError,
        "internal:0:0-0: Error: Unknown statement object 'x'.\n": nftkit.InvalidError,
    }
    for text, cls in cases.items():
        assert _errors.classify(text) is cls, text
    assert _errors.clean_message(next(iter(cases))) == (
        "Could not process rule: No such file or directory")


def test_json_index() -> None:
    err = ("internal:0:0-0: Error: Unknown statement object 'juump'.\n\n"
           "internal:0:0-0: Error: Parsing command array at index 3 failed.\n")
    assert _errors.json_index(err) == 3
    assert _errors.json_index("Error: Could not process rule: File exists") is None


def test_handles_from_echo_matches_by_kind_and_name() -> None:
    txn = (Transaction().add(Table(family="inet", name="t"))
           .add(Chain(name="c", rules=[Rule(stmts=[VerdictExpr(kind="accept")])]), table=T)
           .add_elements("s", [1], table=T)
           .flush("chain", table=T, name="c"))
    echo = {"nftables": [
        {"add": {"table": {"family": "inet", "name": "t"}}},   # existed: no handle
        {"add": {"chain": {"family": "inet", "table": "t", "name": "c", "handle": 4}}},
        {"add": {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 9,
                          "expr": [{"accept": None}]}}},
        {"add": {"element": {"family": "inet", "table": "t", "name": "s", "elem": [1]}}},
    ]}
    assert _handles.handles_from_echo(list(txn.ops), echo) == [None, 4, 9, None, None]


def test_generated_module_is_stamped(tmp_path: Path) -> None:
    target = tmp_path / "_nftables_ffi.py"
    assert not _ffi._current(target)
    _ffi._generate(target)
    text = target.read_text()
    assert text.startswith(_cdef.HEADER) and "nft_run_cmd_from_buffer" in text
    assert _ffi._current(target)
    target.write_text("# made from other declarations\n")
    assert not _ffi._current(target)
