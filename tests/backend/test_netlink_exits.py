"""The netlink rule encoder's named exit: a bug in it becomes ``UnsupportedError``, so that
the router hands the transaction to libnftables (no ``except Exception``)."""

from __future__ import annotations

import struct

import pytest

import nftkit
from nftkit.backend.netlink import _objects
from nftkit.errors import UnsupportedError
from nftkit.model.enums import Family


@pytest.mark.parametrize("exc", [KeyError("k"), IndexError("i"), TypeError("t"),
                                 ValueError("v"), AttributeError("a"), OverflowError("o"),
                                 struct.error("s")])
def test_encoder_bug_is_unsupported(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    def broken(*args: object, **kwargs: object) -> bytes:
        raise exc

    monkeypatch.setattr(_objects, "rule_expressions", broken)
    rule = nftkit.parse_rule("tcp dport 22 accept")
    with pytest.raises(UnsupportedError, match="the netlink rule encoder failed"):
        _objects.rule_message("add", Family.INET, "t", "c", rule, None)


def test_encoder_works_unpatched() -> None:
    rule = nftkit.parse_rule("tcp dport 22 accept")
    *_, body = _objects.rule_message("add", Family.INET, "t", "c", rule, None)
    assert body
