"""Numeric and stateless listings read into the same model as the symbolic listing.

``nft -n list ruleset`` prints numbers for symbolic values (``meta l4proto 6``, ``ct state
0x2,0x4``, ``priority 0``, ``timeout 3600s``), ``-p``/``-y``/``-T`` parts of that, ``-S``
service names for ports (``tcp dport "ssh"``), ``-u`` user names (``meta skuid "root"``) and
``-s`` no counter values. For every upstream dump the installed nft loads, each of these
listings must parse to the model of the plain listing, except where a listing leaves out or
changes information (``EXCEPTIONS``, with reasons). All dumps load in one throwaway namespace.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import nftkit
from tests._oracle import NFT, corpus_dumps, devices_in

FLAGS = ["-n", "-p", "-y", "-T", "-S", "-u", "-s"]

#: (dump path suffix, flag) -> why that listing cannot give the same model
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("optionals/dumps/comments_objects_0.nft", "-n"):
        "prints a 100ms timeout as 0s (whole seconds only)",
    ("optionals/dumps/comments_objects_0.nft", "-T"):
        "prints a 100ms timeout as 0s (whole seconds only)",
    ("sets/dumps/collapse_elem_0.nft", "-S"):
        'prints port 4 as "echo" (AppleTalk echo in /etc/services), which is port 7 read back',
    ("sets/dumps/0045concat_ipv4_service.nft", "-S"):
        "a service name inside a set statement's key, whose type is the set's, not the rule's",
    ("rule_management/dumps/0011reset_0.nft", "-s"): "the dump sets counter values; -s drops them",
    ("maps/dumps/0024named_objects_0.nft", "-s"): "the dump sets counter values; -s drops them",
    ("maps/dumps/0024named_objects_1.nft", "-s"): "the dump sets counter values; -s drops them",
    ("packetpath/dumps/policy.nft", "-s"): "the dump sets counter values; -s drops them",
}

#: the nft version EXCEPTIONS were observed with: with it, a listed exception must still fail
#: (so the list stays exact); another version may print some of these listings losslessly
EXCEPTIONS_SEEN_WITH = "1.0.6"

_EXPIRES = re.compile(r" expires \S+")  # time passes between the listings


def _nft_version() -> str:
    r = subprocess.run([NFT, "--version"], capture_output=True, text=True)
    m = re.search(r"v(\d+\.\d+\.\d+)", r.stdout)
    return m.group(1) if m else ""


def _listings(dumps: list[Path], out: Path) -> None:
    """Load each dump (after a flush) and write its listings, all in one namespace."""
    devices = sorted({d for p in dumps for d in devices_in(p.read_text())})
    lines = [f'ip link add "{d}" type ifb 2>/dev/null || true' for d in devices]
    for i, p in enumerate(dumps):
        lists = "; ".join(f'{NFT} {f} list ruleset > "{out}/{i}{f}.nft"' for f in ["", *FLAGS])
        lines.append(f'{NFT} flush ruleset; if {NFT} -f "{p}" 2>/dev/null; then {lists}; fi')
    script = out / "list.sh"
    script.write_text("\n".join(lines) + "\n")
    subprocess.run(["unshare", "-n", "sh", str(script)], capture_output=True,
                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "TZ": "UTC"},
                   check=True)


@pytest.fixture(scope="module")
def listings(oracle: None, corpus: None) -> Iterator[dict[str, dict[str, str]]]:
    dumps = corpus_dumps()
    with tempfile.TemporaryDirectory() as tmp:
        _listings(dumps, Path(tmp))
        out: dict[str, dict[str, str]] = {}
        for i, p in enumerate(dumps):
            if Path(tmp, f"{i}.nft").exists():
                key = str(p).split("testcases/", 1)[1]
                out[key] = {f: _EXPIRES.sub("", Path(tmp, f"{i}{f}.nft").read_text())
                            for f in ["", *FLAGS]}
        yield out


@pytest.mark.parametrize("flag", FLAGS)
def test_listing_flag_parses_to_same_model(flag: str,
                                           listings: dict[str, dict[str, str]]) -> None:
    assert len(listings) > 300
    strict = _nft_version() == EXCEPTIONS_SEEN_WITH
    failures: list[str] = []
    differed = 0
    for key, texts in listings.items():
        base, other = texts[""], texts[flag]
        if other == base:
            continue
        differed += 1
        try:
            want = nftkit.parse(base)
        except nftkit.ParseError:
            continue  # (the plain listing itself is not readable: see parse_exceptions.txt)
        try:
            same = nftkit.parse(other) == want
            why = "different model"
        except nftkit.ParseError as exc:
            same, why = False, str(exc).splitlines()[0]
        known = EXCEPTIONS.get((key, flag))
        if known is None and not same:
            failures.append(f"{key}: {why}")
        elif known is not None and same and strict:
            failures.append(f"{key}: listed as an exception ({known}) but passes")
    assert not failures, "\n".join(failures)
    if flag in ("-n", "-p", "-s"):
        assert differed > 10  # the flag changes many listings: the check is real


# --- the fast path (large listings) agrees with lark ------------------------------------------


def _big_listing(flag: str, text: str) -> str:
    r = subprocess.run(["unshare", "-n", "sh", "-c", f"{NFT} -f - && {NFT} {flag} list ruleset"],
                       input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _rules_ruleset() -> str:
    lines = ["table inet big {", "  chain c {"]
    for i in range(400):
        lines.append(f"    ip saddr 10.1.{i // 256}.{i % 256} meta l4proto tcp tcp dport {i + 1}"
                     " ct state established,related accept")
        lines.append(f"    ip daddr 10.2.{i // 256}.{i % 256} ct state new"
                     " meta l4proto { tcp, udp } counter drop")
    return "\n".join([*lines, "  }", "}"]) + "\n"


def _sets_ruleset() -> str:
    elems = ", ".join(f"10.0.{i // 256}.{i % 256} . tcp . {1000 + i} : goto c" for i in range(600))
    return ("table inet kp {\n  map svc { type ipv4_addr . inet_proto . inet_service : verdict;"
            f" elements = {{ {elems} }}; }}\n  chain c {{\n"
            + "".join(f"    ip saddr 10.1.{i // 256}.{i % 256} tcp dport {i + 1} accept\n"
                      for i in range(300)) + "  }\n}\n")


def _both_paths(text: str) -> tuple[nftkit.Ruleset, nftkit.Ruleset]:
    mod = importlib.import_module("nftkit.parse.nft")
    assert len(text) > 20_000  # long enough for the fast path
    fast = nftkit.parse(text)
    setattr(mod, "FAST_PATH", False)  # noqa: B010  (a module flag for tests)
    try:
        slow = nftkit.parse(text)
    finally:
        setattr(mod, "FAST_PATH", True)  # noqa: B010
    return fast, slow


def test_numeric_rules_fast_path(oracle: None) -> None:
    """Numbers of symbolic types in rules (``meta l4proto 6``): the fast path's templates
    cannot stand in for them, and the result is the same as lark's and the symbolic one's."""
    text = _rules_ruleset()
    numeric = _big_listing("-n", text)
    fast, slow = _both_paths(numeric)
    assert fast == slow == nftkit.parse(_big_listing("", text))


def test_numeric_set_elements_fast_path(oracle: None) -> None:
    text = _sets_ruleset()
    fast, slow = _both_paths(_big_listing("-n", text))
    assert slow == nftkit.parse(_big_listing("", text))
    assert fast == slow
