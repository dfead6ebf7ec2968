"""The named exits of the parser's fast and fallback paths (no ``except Exception``).

Each test reaches one ``except`` clause and checks that the path taken there gives what the
slow path gives: the same nodes, or the same error.
"""

from __future__ import annotations

import pytest

import nftkit
from nftkit.errors import ParseError
from nftkit.parse import _fast, nft
from nftkit.parse._json_fast import MISS, _leaf, _setref
from nftkit.parse._values import lhs_datatype

pytestmark = pytest.mark.filterwarnings("error")


def _listing(line: str, n: int = 1500) -> str:
    """A listing long enough for the listing fast path (``nft.parse_listing``)."""
    body = "\n".join("\t\t" + line.format(i=i % 200 + 1) for i in range(n))
    return "table ip t {\n\tchain c {\n" + body + "\n\t}\n}\n"


def _slow(text: str, monkeypatch: pytest.MonkeyPatch) -> nftkit.Ruleset:
    with monkeypatch.context() as m:
        m.setattr(nft, "FAST_PATH", False)
        return nftkit.parse(text)


def test_bad_priority_is_a_located_parse_error() -> None:
    """``Priority.parse``'s ValidationError (transformer ``prio_spec``)."""
    with pytest.raises(ParseError) as info:
        nftkit.parse("table ip t { chain c { type filter hook input priority bogus; } }")
    assert info.value.line == 1 and info.value.column == 56
    assert "unknown standard priority 'bogus'" in info.value.message


def test_selector_the_model_does_not_read_has_no_datatype() -> None:
    """``_values.lhs_datatype``: the JSON decoder's NftkitError means "nothing to check"."""
    assert lhs_datatype({"ct": {"key": "count"}}) is None
    assert lhs_datatype({"payload": {"protocol": "tcp", "field": "B"}}) is None
    assert lhs_datatype({"payload": {"protocol": "tcp", "field": "dport"}}) is not None


def test_json_fast_path_leaves_bad_names_to_the_generic_decoder() -> None:
    """``_json_fast._setref`` (ValidationError) and ``_leaf`` (NftkitError) give MISS, and
    ``from_json`` reports the generic error with its path."""
    assert _setref("@a b") is MISS
    assert _leaf("payload", {"protocol": "ip", "field": "nope"}) is MISS
    doc = {"nftables": [
        {"table": {"family": "ip", "name": "t"}},
        {"chain": {"family": "ip", "table": "t", "name": "c"}},
        {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                       "right": "@a b"}}]}}]}
    with pytest.raises(ParseError, match=r"nftables\[2\]/rule.*SetRefExpr.name"):
        nftkit.from_json(doc)


def test_bound_chain_lines_are_not_templated(monkeypatch: pytest.MonkeyPatch) -> None:
    """``_fast._rule_template``: a one-line bound chain (ValueError from ``_decode``) leaves
    its lines to lark, with the same result as lark alone."""
    text = _listing("ip saddr 10.0.0.{i} jump {{ accept }}")
    calls: list[str] = []
    real = _fast.FastListing._rule_template

    def spy(self: _fast.FastListing, *args: object) -> object:
        tpl = real(self, *args)  # type: ignore[arg-type]
        calls.append("ok" if tpl.ok else "refused")
        return tpl

    monkeypatch.setattr(_fast.FastListing, "_rule_template", spy)
    fast = nftkit.parse(text)
    assert calls == ["refused"]
    assert fast == _slow(text, monkeypatch)


def test_fast_rules_report_the_slow_paths_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule of the fast path that its node refuses: the error is the one lark's path
    reports."""
    text = _listing('ip saddr 10.0.0.{i} accept comment "' + "x" * 200 + '"')
    with pytest.raises(ParseError) as fast:
        nftkit.parse(text)
    with pytest.raises(ParseError) as slow:
        _slow(text, monkeypatch)
    assert "max 128" in fast.value.message
    assert fast.value.message == slow.value.message
