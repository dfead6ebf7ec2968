"""Every fixture ruleset goes through the backend: nft loads it (the oracle), nftkit reads it
back as a model, applies that model as ONE transaction in a fresh namespace, and nft's listing
of the result is byte-identical to the oracle's. This covers every object and statement the
fixtures use, through Transaction -> libnftables JSON -> kernel -> listing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

import nftkit
from nftkit import Transaction
from tests._backend_netns import backend_skip_reason, netns
from tests._oracle import devices_in, load_and_list

pytestmark = pytest.mark.kernel

FIXTURES = sorted(((Path(__file__).resolve().parents[1] / "fixtures")).glob("*.nft"))
#: Fixtures that cannot go through yet, with the reason (strict: they must still fail).
KNOWN: dict[str, str] = {}


def _param(path: Path) -> object:
    reason = KNOWN.get(path.stem)
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(path, id=path.stem, marks=marks)


def text_parser() -> Any:
    fn = getattr(nftkit, "parse", None)
    if callable(fn):
        return fn
    try:
        from nftkit.semantics.script import parse
    except ImportError:
        return None
    return parse


@pytest.mark.parametrize("path", [_param(p) for p in FIXTURES])
def test_fixture_through_the_backend(path: Path) -> None:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)
    text = path.read_text()
    oracle = load_and_list(text)
    if not oracle.ok:
        if "flowtable" in oracle.error:
            pytest.skip("this kernel has no flowtable support (CONFIG_NF_FLOW_TABLE)")
        pytest.fail(f"nft cannot load the fixture: {oracle.error}")
    assert oracle.json is not None
    # nft's text listing is the complete one (nft 1.0.6's JSON listing omits a netdev chain's
    # device, for one): read it with nftkit's text parser where this nftkit has one.
    model = text_parser()(oracle.text) if text_parser() else nftkit.from_json(oracle.json)
    with netns() as name:
        for dev in devices_in(text):
            subprocess.run(["ip", "-n", name, "link", "add", dev, "type", "ifb"],
                           check=True, capture_output=True)
        nft = nftkit.Nftables(netns=name)
        txn = Transaction().add(model)
        try:
            result = nft.run(txn)
        except nftkit.UnsupportedError as exc:
            pytest.skip(f"this libnftables cannot take the fixture as JSON: {exc}")
        missing = [op for op, h in zip(txn.ops, result.handles, strict=True)
                   if op.creates and h is None]
        assert not missing
        assert listing(nft, nft.run_text("list ruleset")) == listing(nft, oracle.text)
        nft.close()


def listing(nft: nftkit.Nftables, text: str) -> str:
    """nft's listing, without the comments of tables, chains and sets where this libnftables
    ignores them in JSON input (nft 1.0.6 does): those cannot go through JSON there."""
    if nft.version >= (1, 1, 0):
        return text
    kept, depth_of_object = [], []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("table ", "chain ", "set ", "map ")) and stripped.endswith("{"):
            depth_of_object.append(True)
        elif stripped.endswith("{"):
            depth_of_object.append(False)
        elif stripped == "}" and depth_of_object:
            depth_of_object.pop()
        if stripped.startswith("comment ") and depth_of_object and depth_of_object[-1]:
            continue
        kept.append(line)
    return "\n".join(kept)
