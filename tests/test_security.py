"""Regression tests of the security and exactness issues (nftkit issues 11 and 12).

Kernel-backed checks run the installed nft in a throwaway ``unshare -n`` namespace; nothing here
touches the host's ruleset.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

import nftkit
from nftkit import Ruleset, Set, Table
from nftkit.render.context import installed_nft_version
from tests._oracle import NFT, have_netns

SET_FLAGS = ["interval", "timeout", "dynamic", "constant"]


def _load_json_and_list(doc: dict[str, Any]) -> str:
    """``nft -j -f`` the document in a fresh namespace; return ``nft list ruleset``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.json"
        path.write_text(json.dumps(doc))
        r = subprocess.run(["unshare", "-n", "sh", "-c", f'{NFT} -j -f "$1" && {NFT} list ruleset',
                            "sh", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


# --- issue 11 case 0: a one-flag set is written as a JSON list on every release ------------


@pytest.mark.parametrize("flag", SET_FLAGS)
@pytest.mark.parametrize("version", ["1.0.6", "1.1.3", "1.1.7"])
def test_single_set_flag_is_a_json_list(flag: str, version: str) -> None:
    if flag == "dynamic" and version == "1.0.6":
        pytest.skip("nft 1.0.6's JSON has no dynamic flag (its reader refuses it)")
    s = Set(name="s", type="ipv4_addr", flags=[flag])
    doc = nftkit.to_json(Ruleset(tables=[Table(family="ip", name="t", sets=[s])]),
                         version=version)
    (body,) = [o["set"] for o in doc["nftables"] if "set" in o]
    assert body["flags"] == [flag]


@pytest.mark.parametrize("flag", SET_FLAGS)
def test_single_set_flag_reaches_the_kernel(flag: str) -> None:
    if not have_netns():
        pytest.skip("needs root, nft and unshare -n")
    installed = installed_nft_version()
    if installed is None:
        pytest.skip("nft is not installed")
    if flag == "dynamic" and installed < (1, 1, 0):
        pytest.skip("nft 1.0.6's JSON reader has no dynamic flag")
    s = Set(name="s", type="ipv4_addr", flags=[flag])
    model = Ruleset(tables=[Table(family="ip", name="t", sets=[s])])
    # The 1.1 rendering is what broke on 1.1.3 (a bare string); every release reads the list.
    listed = _load_json_and_list(nftkit.to_json(model, version="1.1.3"))
    assert f"flags {flag}" in listed
    back = nftkit.parse(listed).table("ip", "t").sets[0]
    assert {f.value for f in back.flags} == {flag}
