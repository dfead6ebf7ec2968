"""nft's other names for TCP options: ``tcp option mss`` is ``maxseg``, ``sack-permitted`` is
``sack-perm`` (text only; nft lists the canonical name and its JSON parser refuses the alias)."""

from __future__ import annotations

import pytest

import nftkit
from nftkit.errors import ParseError, ValidationError
from nftkit.model.expressions import TcpoptExpr
from nftkit.parse.nft import parse_rule
from nftkit.render.json import to_json
from tests._oracle import load_and_list, normalize_json

__all__: list[str] = []

# (what the user writes, what nft lists)
CASES = [
    ("tcp option mss size 1400 accept", "tcp option maxseg size 1400 accept"),
    ("tcp option mss exists drop", "tcp option maxseg exists drop"),
    ("tcp option sack-permitted exists drop", "tcp option sack-perm exists drop"),
    ("tcp option sack-permitted length 2", "tcp option sack-perm length 2"),
    ("tcp flags syn tcp option mss size set rt mtu",
     "tcp flags syn tcp option maxseg size set rt mtu"),
    ("tcp flags syn tcp option mss size set 1360", "tcp flags syn tcp option maxseg size set 1360"),
    ("reset tcp option mss", "reset tcp option maxseg"),
    ("reset tcp option sack-permitted", "reset tcp option sack-perm"),
]


def _ruleset(rules: list[str]) -> str:
    body = "".join(f"\t\t{r}\n" for r in rules)
    return f"table ip t {{\n\tchain c {{\n{body}\t}}\n}}\n"


@pytest.mark.parametrize(("alias", "canonical"), CASES)
def test_alias_parses_to_canonical_node(alias: str, canonical: str) -> None:
    rule = parse_rule(alias)
    assert rule == parse_rule(canonical)
    assert nftkit.to_text(rule) == canonical


@pytest.mark.parametrize("name", ["mss", "sack-permitted"])
def test_alias_is_text_only(name: str) -> None:
    # nft's JSON parser: "Unknown tcp option name 'mss'"; the model refuses it the same way
    with pytest.raises(ValidationError):
        TcpoptExpr(name=name, field="size" if name == "mss" else None)
    doc = {"match": {"op": "==", "left": {"tcp option": {"name": name}}, "right": True}}
    rule = {"family": "ip", "table": "t", "chain": "c", "expr": [doc]}
    with pytest.raises(ParseError, match="unknown TCP option"):
        nftkit.from_json({"nftables": [{"table": {"family": "ip", "name": "t"}},
                                       {"chain": {"family": "ip", "table": "t", "name": "c"}},
                                       {"rule": rule}]})


def test_json_uses_canonical_name() -> None:
    rule = parse_rule("tcp option mss size 1400")
    assert '"maxseg"' in str(to_json(rule)).replace("'", '"')


@pytest.mark.usefixtures("oracle")
def test_kernel_round_trip() -> None:
    text = _ruleset([a for a, _ in CASES])
    listing = load_and_list(text)
    assert listing.ok, listing.error
    ours = nftkit.parse(text)
    # nft lists the aliases under their canonical names, exactly as nftkit renders them
    assert nftkit.to_text(ours).strip() == listing.text.strip()
    assert nftkit.to_text(ours).strip() == _ruleset([c for _, c in CASES]).strip()
    # nftkit reads nft's listing and its JSON back to the same model
    assert nftkit.parse(listing.text) == ours
    assert listing.json is not None
    from_json = nftkit.from_json(listing.json)
    assert nftkit.to_text(from_json) == nftkit.to_text(ours)
    assert normalize_json(nftkit.to_json(ours)) == normalize_json(listing.json)
