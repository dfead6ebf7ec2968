"""One engine for nft's command semantics: ``nftkit.parse`` and ``FakeNftables`` agree.

Each script runs through ``nftkit.parse`` (text -> ``Ruleset``) and through a fresh
``FakeNftables`` (``run_text``, and ``run(parse_script(...), ordered=False)``); both must end
with the same ruleset, handles included, or fail with the same error. The fake's semantics
are checked against the kernel by tests/backend/test_differential.py, so this carries that check
over to the parser. Scripts of table blocks only (listings, declarative files) are decoded by
``parse`` without the engine: for those, the rulesets must be equal up to handles (a listing
keeps its ``# handle``s) and errors of the same kind.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import nftkit
from nftkit import (
    BackendError,
    BusyError,
    ExistsError,
    FakeNftables,
    NotFoundError,
    ParseError,
)
from nftkit.render.context import RenderContext
from tests._oracle import NFT, have_netns

#: The release the engine follows in ``parse`` (``nftkit.semantics.engine.LATEST``).
VERSION = "1.1.0"

_STRERROR = {NotFoundError: "No such file or directory", ExistsError: "File exists",
             BusyError: "Device or resource busy"}

BASE = """\
add table inet t
add chain inet t input { type filter hook input priority 0; policy accept; }
add chain inet t c
"""

#: Scripts with commands: (id, script). Each runs after nothing (an empty ruleset).
SCRIPTS = [
    ("add-idempotent", BASE + "add table inet t\nadd chain inet t c\n"
     "add rule inet t c accept\nadd table inet t { chain c { drop; }; }\n"),
    ("create-table-exists", BASE + "create table inet t\n"),
    ("create-chain-exists", BASE + "create chain inet t c\n"),
    ("create-new", "create table ip x\ncreate chain ip x c\n"
     "create set ip x s { type ipv4_addr; }\n"),
    ("rule-positions", """\
table ip t { chain c { }; }
add rule ip t c counter
add rule ip t c accept
add rule ip t c position 2 drop
insert rule ip t c position 2 return
replace rule ip t c handle 3 continue
delete rule ip t c handle 2
"""),
    ("rule-index", BASE + "add rule inet t c accept\nadd rule inet t c drop\n"
     "insert rule inet t c index 1 return\nadd rule inet t c index 0 counter\n"),
    ("rule-missing-position", BASE + "add rule inet t c position 99 accept\n"),
    ("delete-missing-rule", BASE + "delete rule inet t c handle 42\n"),
    ("delete-missing-chain", BASE + "delete chain inet t nope\n"),
    ("destroy-missing", BASE + "destroy chain inet t nope\ndestroy table ip nope\n"
     "destroy set inet t nope\n"),
    ("delete-chain-in-use", BASE + "add chain inet t d\nadd rule inet t c jump d\n"
     "delete chain inet t d\n"),
    ("delete-table", BASE + "add table ip other\ndelete table inet t\n"),
    ("delete-table-missing", "delete table inet nope\n"),
    ("flush-chain-table", BASE + "add rule inet t c accept\nadd rule inet t input drop\n"
     "flush chain inet t c\nadd rule inet t c counter\nflush table inet t\n"),
    ("flush-ruleset", BASE + "add rule inet t c accept\nflush ruleset\nadd table ip u\n"),
    ("rename-own-chain", BASE + "rename chain inet t c d\n"),
    ("jump-missing", BASE + "add rule inet t c jump nowhere\n"),
    ("jump-base-chain", BASE + "add rule inet t c jump input\n"),
    ("jump-loop", BASE + "add chain inet t d\nadd rule inet t c jump d\n"
     "add rule inet t d jump c\n"),
    ("policy-change", BASE + "add chain inet t input { type filter hook input priority 0; "
     "policy drop; }\n"),
    ("hook-change", BASE + "add chain inet t input { type filter hook output priority 0; }\n"),
    ("sets", BASE + """\
add set inet t s { type ipv4_addr; }
add element inet t s { 10.0.0.1, 10.0.0.2 }
add element inet t s { 10.0.0.1 }
delete element inet t s { 10.0.0.2 }
destroy element inet t s { 10.0.0.9 }
add rule inet t c ip saddr @s drop
"""),
    ("create-element-exists", BASE + "add set inet t s { type ipv4_addr; }\n"
     "add element inet t s { 10.0.0.1 }\ncreate element inet t s { 10.0.0.1 }\n"),
    ("delete-element-missing", BASE + "add set inet t s { type ipv4_addr; }\n"
     "delete element inet t s { 10.0.0.1 }\n"),
    ("element-wrong-type", BASE + "add set inet t s { type ipv4_addr; }\n"
     "add element inet t s { 22 }\n"),
    ("interval-overlap", BASE + "add set inet t s { type ipv4_addr; flags interval; }\n"
     "add element inet t s { 10.0.0.0/8 }\nadd element inet t s { 10.1.0.0-10.2.0.0 }\n"),
    ("intervals", BASE + "add set inet t s { type inet_service; flags interval; }\n"
     "add element inet t s { 1024-2047, 80, 8000-8080 }\n"
     "delete element inet t s { 80 }\n"),
    ("flush-set", BASE + "add set inet t s { type ipv4_addr; elements = { 10.0.0.1 }; }\n"
     "flush set inet t s\nadd element inet t s { 10.0.0.3 }\n"),
    ("set-missing", BASE + "add rule inet t c ip saddr @nope drop\n"),
    ("set-in-use", BASE + "add set inet t s { type ipv4_addr; }\n"
     "add rule inet t c ip saddr @s drop\ndelete set inet t s\n"),
    ("set-redefined", BASE + "add set inet t s { type ipv4_addr; }\n"
     "add set inet t s { type ipv6_addr; }\n"),
    ("vmap", BASE + "add chain inet t svc\n"
     "add map inet t m { type inet_service : verdict; }\n"
     "add element inet t m { 80 : jump svc, 443 : accept }\n"
     "add rule inet t c tcp dport vmap @m\n"),
    ("vmap-data-differs", BASE + "add map inet t m { type inet_service : verdict; }\n"
     "add element inet t m { 80 : accept }\nadd element inet t m { 80 : drop }\n"),
    ("objects", BASE + """\
add counter inet t hits { packets 5 bytes 300 }
add quota inet t q { over 10 mbytes used 1 mbytes }
add rule inet t c counter name hits accept
reset counter inet t hits
add table ip u
add counter ip u c { packets 5 bytes 300 }
reset counters table ip u
"""),
    ("reset-quotas", BASE + "add quota inet t q { over 10 mbytes used 1 mbytes }\n"
     "reset quotas\n"),
    ("object-missing", BASE + "add rule inet t c counter name nope\n"),
    ("object-in-use", BASE + "add counter inet t hits\nadd rule inet t c counter name hits\n"
     "delete counter inet t hits\n"),
    ("reset-missing", BASE + "reset counter inet t nope\n"),
    ("table-missing", "add chain inet nope c\n"),
    ("mixed", """\
define ssh_ports = { 22, 2222 }
flush ruleset
table inet fw {
	chain input {
		type filter hook input priority 0; policy drop;
		tcp dport $ssh_ports accept
	}
}
add set inet fw blocked { type ipv4_addr; flags interval; }
add element inet fw blocked { 192.0.2.0/24, 198.51.100.7 }
add rule inet fw input ip saddr @blocked drop
insert rule inet fw input ct state established,related accept
"""),
]

#: Scripts of table blocks only.
DECLARATIONS = [
    ("one-table", """\
table inet t {
	counter hits { }
	set s { type ipv4_addr; elements = { 10.0.0.1 } }
	chain input {
		type filter hook input priority 0; policy drop;
		ip saddr @s counter name hits jump c
	}
	chain c {
		tcp dport { 22, 80 } accept
	}
}
"""),
    ("merged-blocks", "table ip t {\n\tchain a {\n\t\taccept\n\t}\n}\n"
     "table ip t {\n\tchain a {\n\t\tdrop\n\t}\n\tchain b {\n\t}\n}\n"),
    ("jump-missing", "table ip t {\n\tchain a {\n\t\tjump b\n\t}\n}\n"),
    ("set-missing", "table ip t {\n\tchain a {\n\t\tip saddr @s drop\n\t}\n}\n"),
]


def _through_parse(script: str) -> tuple[str, str]:
    try:
        rs = nftkit.parse(script)
    except ParseError as exc:
        return "error", exc.message
    return "ok", nftkit.to_text(rs, handles=True)


def _fake_error(exc: BackendError) -> str:
    return f"{_STRERROR.get(type(exc), 'Invalid argument')}: {exc.nft_message}"


def _through_fake(script: str, *, text: bool) -> tuple[str, str]:
    fake = FakeNftables(version=VERSION)
    try:
        if text:
            fake.run_text(script)
        else:
            fake.run(nftkit.parse_script(script), ordered=False)
    except BackendError as exc:
        return "error", _fake_error(exc)
    return "ok", fake.dump(handles=True)


#: Scripts that place a rule by ``position`` after ops of the same transaction: ``nft -f``
#: (``run_text``) takes them; ``Nftables.run``, and so ``FakeNftables.run``, must turn the
#: position into an index first, which those ops make uncertain or impossible.
_BY_POSITION = {"rule-positions", "rule-missing-position"}
#: Scripts with resets: ``nft -f`` resets at once, before the batch (a counter the script
#: adds cannot be reset by it); ``Nftables.run`` resets after the batch.
_RESETS = {"objects", "reset-quotas", "reset-missing"}


@pytest.mark.parametrize(("script"), [pytest.param(s, id=i) for i, s in SCRIPTS])
def test_parse_and_fake_run_text_agree(script: str) -> None:
    assert _through_parse(script) == _through_fake(script, text=True)


@pytest.mark.parametrize(("script"), [
    pytest.param(s, id=i) for i, s in SCRIPTS if i not in _BY_POSITION | _RESETS])
def test_parse_and_fake_run_agree(script: str) -> None:
    assert _through_parse(script) == _through_fake(script, text=False)


def test_fake_run_resets_after_the_batch() -> None:
    script = dict(SCRIPTS)["objects"]
    with pytest.raises(ParseError, match="No such file or directory: table inet t"):
        nftkit.parse(script)  # nft -f: the reset comes before the batch adds the counter
    fake = FakeNftables(version=VERSION)
    fake.run(nftkit.parse_script(script), ordered=False)
    assert [(c.name, c.packets) for c in fake.list_counters()] == [("hits", 0), ("c", 0)]


@pytest.mark.parametrize(("script"), [
    pytest.param(s, id=i) for i, s in SCRIPTS if i in _BY_POSITION])
def test_fake_run_refuses_positions_it_cannot_send(script: str) -> None:
    with pytest.raises(NotFoundError, match="at that point"):
        FakeNftables(version=VERSION).run(nftkit.parse_script(script), ordered=False)


@pytest.mark.parametrize(("script"), [pytest.param(s, id=i) for i, s in DECLARATIONS])
def test_declarations_agree(script: str) -> None:
    fake = FakeNftables(version=VERSION)
    try:
        fake.run_text(script)
    except BackendError as exc:
        with pytest.raises(ParseError) as info:
            nftkit.parse(script)
        assert info.value.message.startswith(_fake_error(exc).partition(":")[0])
        return
    assert nftkit.parse(script) == fake.list_ruleset()


def test_scripts_cover_every_outcome() -> None:
    """The scripts reach every error kind and every verb (a guard against a list that
    shrinks to the easy cases)."""
    outcomes = {_through_parse(s)[1].partition(":")[0] if _through_parse(s)[0] == "error"
                else "ok" for _i, s in SCRIPTS}
    assert outcomes >= {"ok", "No such file or directory", "File exists",
                        "Device or resource busy", "Invalid argument"}
    verbs = {op.verb.value for _i, s in SCRIPTS for op in nftkit.parse_script(s).ops}
    assert verbs >= {"add", "create", "insert", "replace", "delete", "destroy", "flush",
                     "reset", "rename"}


#: Scripts whose outcome depends on the nft release: nft 1.0.6 cannot ``reset quotas``
#: ("No such file or directory"); ``nftkit.parse`` follows nft 1.1.
_NEWER_NFT = {"reset-quotas"}


def _nft_f(script: str, tmp: Path) -> tuple[bool, str]:
    """``nft -f`` in a throwaway namespace: (ok, ``nft -a list ruleset`` or the error)."""
    (tmp / "in.nft").write_text(script)
    r = subprocess.run(["unshare", "-n", "sh", "-c", f'{NFT} -f "$1" && {NFT} -a list ruleset',
                        "sh", str(tmp / "in.nft")], capture_output=True, text=True)
    return r.returncode == 0, r.stdout if r.returncode == 0 else r.stderr


@pytest.mark.skipif(not have_netns(), reason="needs root, unshare and nft")
@pytest.mark.parametrize(("script"), [pytest.param(s, id=i) for i, s in SCRIPTS])
def test_parse_agrees_with_nft_f(script: str, request: pytest.FixtureRequest,
                                 tmp_path: Path) -> None:
    """The kernel's outcome (through the installed nft): the same ruleset with the same
    handles, or an error with the same errno."""
    if request.node.callspec.id in _NEWER_NFT and RenderContext().version < (1, 1, 0):
        pytest.skip("the installed nft behaves as an older release here")
    ok, out = _nft_f(script, tmp_path)
    if not ok and "syntax error" in out:
        pytest.skip(f"the installed nft cannot read this script: {out.splitlines()[0]}")
    if not ok:
        with pytest.raises(ParseError) as info:
            nftkit.parse(script)
        errno = re.search(r"Could not process rule: (.+)", out)
        if errno is not None and errno.group(1).strip() in _STRERROR.values():
            assert info.value.message.startswith(errno.group(1).strip()), out
        return
    kernel = nftkit.to_text(nftkit.parse(out), handles=True)
    assert nftkit.to_text(nftkit.parse(script), handles=True) == kernel
