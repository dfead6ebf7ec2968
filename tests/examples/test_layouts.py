"""The benchmark's ruleset generators (bench/_layouts.py) describe the same services in every
form: nftkit models, nft text and iptables-restore text all load, and the models give the same
kernel state as the text (the installed nft as the oracle, in throwaway namespaces)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import nftkit
from bench import _layouts as L
from tests._oracle import NFT

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("oracle")]

SERVICES = L.make_services(6, endpoints=[1, 2, 3])


def listed(script: str) -> str:
    r = subprocess.run(["unshare", "-n", "sh", "-c", f"{NFT} -f - && {NFT} list ruleset"],
                       input=script, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("layout", ["grouped", "classic"])
def test_model_and_text_give_the_same_ruleset(layout: str) -> None:
    text = getattr(L, f"{layout}_text")(SERVICES)
    model = getattr(L, f"{layout}_model")(SERVICES)
    assert listed(nftkit.to_text(model)) == listed(text)


@pytest.mark.parametrize("layout", ["grouped", "classic"])
def test_one_service_update_round_trips(layout: str) -> None:
    new = L.make_services(1, start=100, endpoints=2)[0]
    base = getattr(L, f"{layout}_text")(SERVICES)
    added = listed(base + getattr(L, f"{layout}_add_service_text")(new))
    assert str(new.ip) in added
    removed = listed(base + getattr(L, f"{layout}_add_service_text")(new)
                     + getattr(L, f"{layout}_delete_service_text")(new))
    assert removed == listed(base)


def test_grouped_model_is_lint_clean_and_classic_is_not() -> None:
    from nftkit.lint import LintCode, LintLimits

    limits = LintLimits(anonymous_sets=5, jump_edges=10)
    assert nftkit.lint(L.grouped_model(SERVICES), limits=limits) == []
    codes = {w.code for w in nftkit.lint(L.classic_model(SERVICES), limits=limits)}
    assert codes == {LintCode.ANONYMOUS_SETS, LintCode.JUMP_GRAPH}


def test_shared_layout_orders_are_equivalent() -> None:
    first = listed(L.shared_text(SERVICES, elements_last=False))
    assert first == listed(L.shared_text(SERVICES, elements_last=True))


def test_classic_json_loads_like_the_text() -> None:
    import json

    r = subprocess.run(["unshare", "-n", "sh", "-c", f"{NFT} -j -f - && {NFT} list ruleset"],
                       input=json.dumps(L.classic_json(SERVICES)), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == listed(L.classic_text(SERVICES))


@pytest.mark.parametrize("tool", ["iptables-legacy", "iptables-nft"])
def test_iptables_full_and_partial_restore(tool: str) -> None:
    if not shutil.which(f"{tool}-restore"):
        pytest.skip(f"{tool}-restore is not installed (Debian package iptables)")
    new = L.make_services(1, start=100, endpoints=2)
    script = (f"{tool}-restore < \"$1\" && {tool}-restore --noflush < \"$2\" && "
              f"{tool}-save -t nat > \"$4\" && {tool}-restore --noflush < \"$3\" && "
              f"{tool}-save -t nat")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        files = [Path(tmp) / n for n in ("full", "add", "del", "mid")]
        files[0].write_text(L.iptables_text(SERVICES))
        files[1].write_text(L.iptables_partial_text(SERVICES + new, changed=new))
        files[2].write_text(L.iptables_partial_text(SERVICES, removed=new))
        r = subprocess.run(["unshare", "-n", "sh", "-c", script, "sh", *map(str, files)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        middle = files[3].read_text()
    chain = new[0].ipt_chain
    assert f":{chain}" in middle and f"-j {chain}" in middle
    assert chain not in r.stdout
    assert r.stdout.count("-j DNAT") == sum(s.k for s in SERVICES)
