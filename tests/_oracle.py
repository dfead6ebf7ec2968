"""The installed nft as the oracle: load text into a throwaway network namespace and list it.

Every call runs ``nft`` inside a fresh ``unshare -n`` namespace, so the host's ruleset is never
touched. Interfaces named by ``device``/``devices`` are created first as ``ifb`` links (this
kernel has no ``dummy`` driver).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CORPUS",
    "Listing",
    "cases_ruleset",
    "corpus_dumps",
    "have_netns",
    "load_and_list",
    "normalize_json",
]

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "nftables-tests"
NFT = shutil.which("nft") or "/usr/sbin/nft"

_DEVICE = re.compile(r'devices?\s*=?\s*(\{[^}]*\}|"[^"]+"|\S+)')


@dataclass
class Listing:
    ok: bool
    text: str  # nft list ruleset
    json: dict[str, Any] | None  # nft -j list ruleset
    error: str


@functools.cache
def have_netns() -> bool:
    """Whether we can make throwaway network namespaces and run nft in them."""
    if os.geteuid() != 0 or not Path(NFT).exists() or not shutil.which("unshare"):
        return False
    r = subprocess.run(["unshare", "-n", NFT, "list", "ruleset"], capture_output=True)
    return r.returncode == 0


def devices_in(text: str) -> list[str]:
    """Interface names a ruleset text refers to with ``device``/``devices`` (not ``lo``)."""
    names: list[str] = []
    for m in _DEVICE.finditer(text):
        for n in re.findall(r'"?([A-Za-z0-9_.\-]+)"?', m.group(1).strip("{}")):
            if n != "lo" and n not in names and not n.startswith("$"):
                names.append(n)
    return names


_SCRIPT = r"""
set -e
for d in "$@"; do ip link add "$d" type ifb 2>/dev/null || true; done
if ! {nft} -f "$NFTKIT_INPUT" 2>"$NFTKIT_ERR"; then exit 3; fi
{nft} list ruleset > "$NFTKIT_OUT_TEXT"
{nft} -j list ruleset > "$NFTKIT_OUT_JSON"
"""


def load_and_list(text: str, *, devices: list[str] | None = None,
                  workdir: Path | None = None) -> Listing:
    """Load ``text`` with ``nft -f`` in a fresh namespace; return both listings."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        t = Path(tmp)
        (t / "in.nft").write_text(text)
        env = {**os.environ, "NFTKIT_INPUT": str(t / "in.nft"), "NFTKIT_ERR": str(t / "err"),
               "NFTKIT_OUT_TEXT": str(t / "out.nft"), "NFTKIT_OUT_JSON": str(t / "out.json"),
               "LC_ALL": "C", "TZ": "UTC"}
        devs = devices_in(text) if devices is None else devices
        r = subprocess.run(["unshare", "-n", "sh", "-c", _SCRIPT.format(nft=NFT), "sh", *devs],
                           env=env, capture_output=True, text=True, cwd=tmp)
        if r.returncode != 0:
            err = (t / "err").read_text() if (t / "err").exists() else r.stderr
            return Listing(False, "", None, err.strip())
        return Listing(True, (t / "out.nft").read_text(),
                       json.loads((t / "out.json").read_text()), "")


def normalize_json(doc: dict[str, Any]) -> list[Any]:
    """The ``nftables`` list without metainfo and with every ``handle`` member removed."""

    def strip(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k != "handle"}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o

    return [strip(o) for o in doc.get("nftables", []) if "metainfo" not in o]


def corpus_dumps() -> list[Path]:
    """Every upstream shell-test dump, found by glob (empty when ../shared is absent)."""
    return sorted(CORPUS.glob("shell/testcases/**/dumps/*.nft"))


def cases_ruleset(cases: Sequence[tuple[str, str, str]], chains: Mapping[str, str]) -> str:
    """nft text holding each ``(family, chain, rule)`` in ``table <family> t``, chain by chain
    in the order of ``chains`` (name -> the chain's declaration, "" for a regular chain)."""
    out: list[str] = []
    for family in dict.fromkeys(f for f, _, _ in cases):
        out.append(f"table {family} t {{")
        for chain, spec in chains.items():
            body = [r for f, c, r in cases if f == family and c == chain]
            if body:
                out.append(f"  chain {chain} {{ {spec}")
                out.extend(f"    {r}" for r in body)
                out.append("  }")
        out.append("}")
    return "\n".join(out) + "\n"
