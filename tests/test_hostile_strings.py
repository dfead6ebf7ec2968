"""Hostile strings in every string field of every model node (issue 12, items 1, 2 and 6).

The test walks every ``str``-typed field of every node class (found by introspecting the attrs
fields of all ``Node`` subclasses, so a new field is covered without a hand-kept list) and puts
each hostile payload in it, in a ruleset that holds one node of every class. Each case must end
as one of:

- ``refused``: ValidationError when the node (or its container) is built;
- ``unchanged``: the ruleset renders through ``to_text`` and ``to_script``, ``nft -f`` loads
  both in a throwaway ``unshare -n`` namespace, and the listing reads back equal to the model
  (no extra object, nothing altered).

The closing table (``-s`` shows it) counts fields x payloads by outcome.
"""

from __future__ import annotations

import collections
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import attrs
import pytest

import nftkit
from nftkit import Ruleset, ValidationError
from nftkit._node import Node
from nftkit.errors import UnsupportedError
from nftkit.model.objects import Secmark
from nftkit.model.ruleset import Chain, Flowtable, Rule, Table
from nftkit.model.statements import FlowOffloadStmt, XtStmt
from tests._oracle import NFT, have_netns

#: One node of (almost) every class, as nft 1.0.6 lists it; it loads on this kernel.
BASE = """table ip t {
	comment "tc"
	counter cnt {
		comment "x"
		packets 0 bytes 0
	}

	quota q {
		25 mbytes
	}

	limit l {
		rate 400/minute
	}

	ct helper h {
		type "ftp" protocol tcp
		l3proto ip
	}

	ct timeout tt {
		protocol tcp
		l3proto ip
		policy = { established : 120 }
	}

	ct expectation ce {
		protocol tcp
		dport 21
		timeout 5s
		size 12
		l3proto ip
	}

	synproxy sp {
		mss 1460
		wscale 7
	}

	set s {
		type ipv4_addr
		size 65535
		flags dynamic
		comment "sc"
		elements = { 10.0.0.1 comment "e" }
	}

	map dm {
		type ipv4_addr : mark
		size 100
		flags dynamic
	}

	map m {
		type ipv4_addr : verdict
		elements = { 10.0.0.2 : jump c2 }
	}

	chain c2 {
	}

	chain c {
		comment "cc"
		type filter hook input priority filter; policy accept;
		ip saddr @s jump c2 comment "r"
		log prefix "p"
		tcp option maxseg size 1460
		ip option rr ptr 3
		sctp chunk init num-inbound-streams 3
		ct state established
		ct original ip saddr 10.0.0.1
		rt classid 1
		socket transparent 1
		osf ttl skip name "Linux"
		ipsec in reqid 1
		numgen inc mod 2 0
		fib daddr type local
		ip daddr vmap { 10.0.0.3 : goto c2 }
		tcp dport 22 ct helper set "h"
		meta mark 0x00000001
		tcp dport 23 jump {
			accept
		}
		ip saddr { 10.0.0.9 comment "ae", 10.0.0.10 }
		update @s { ip saddr }
		update @dm { ip saddr : 0x00000001 }
		meter mt size 100 { ip daddr limit rate 10/second }
	}

	chain p {
		type filter hook prerouting priority mangle; policy accept;
		meta l4proto tcp tproxy to 127.0.0.1:8080
	}

	chain n {
		type nat hook postrouting priority srcnat; policy accept;
		snat to 10.0.0.1
	}
}
table ip6 t6 {
	chain c {
		frag more-fragments 1
		srh sid[1] ::1
		exthdr hbh exists
	}
}
table netdev nd {
	chain i {
		type filter hook ingress device "lo" priority filter; policy accept;
		fwd ip to 10.0.0.1 device "lo"
	}
}
"""

PAYLOADS: dict[str, str] = {
    "dquote": 'a"b',
    "semicolon": "x; add table ip pwned",
    "braces": "x } add table ip pwned {",
    "newline": "x\nadd table ip pwned",
    "hash": "a #b",
    "nul": "a\x00b",
    "at": "@x",
    "dollar": "$x",
    "backslash": "a\\b",
    "rlo": "a\u202eb",
    "c1": "a\x85b",
    "long": "a" * 256,
}

#: Classes the kernel here cannot load (no flowtables, no LSM for secmark, xt is opaque):
#: their cases are checked through nftkit's own parser instead.
STANDALONE: dict[type[Node], Any] = {
    Secmark: lambda: Secmark(name="sm", context="system_u:object_r:ssh_server_packet_t:s0"),
    Flowtable: lambda: Flowtable(name="ft", devices=["lo"]),
    FlowOffloadStmt: lambda: FlowOffloadStmt(flowtable="ft"),
    XtStmt: lambda: XtStmt(type="target", name="MASQUERADE"),
}


def _classes() -> list[type[Node]]:
    out: list[type[Node]] = []
    todo = [Node]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        # (a base such as NamedObject holds fields for its kinds: it has no node of its own)
        base = bool(cls.__subclasses__()) and not getattr(cls, "json_key", "")
        if attrs.has(cls) and cls not in out and not base:
            out.append(cls)
    return sorted(out, key=lambda c: c.__name__)


def _str_fields() -> list[tuple[type[Node], attrs.Attribute[Any]]]:
    return [(cls, f) for cls in _classes() for f in attrs.fields(cls)  # type: ignore[arg-type]
            if "str" in str(f.type)]


def _shaped(f: attrs.Attribute[Any], payload: str) -> Any:
    """The payload in the field's shape: a string, a tuple of strings, or policy pairs."""
    t = str(f.type)
    if t.startswith("tuple[tuple[str"):
        return ((payload, 1),)
    if t.startswith("tuple[str"):
        return (payload,)
    return payload


def _substitute(tree: Any, old: Node, new: Node) -> Any:
    """``tree`` with the node ``old`` (by identity) replaced by ``new``; parents rebuilt."""
    if tree is old:
        return new
    if isinstance(tree, tuple):
        items = tuple(_substitute(i, old, new) for i in tree)
        return tree if all(a is b for a, b in zip(items, tree, strict=True)) else items
    if isinstance(tree, Node) and attrs.has(type(tree)):
        changes = {}
        for f in attrs.fields(type(tree)):  # type: ignore[arg-type]
            v = getattr(tree, f.name)
            if isinstance(v, (Node, tuple)):
                w = _substitute(v, old, new)
                if w is not v:
                    changes[f.name] = w
        return tree.replace(**changes) if changes else tree
    return tree


def _wrap(node: Node) -> Ruleset:
    """A ruleset holding a standalone node."""
    if isinstance(node, Secmark):
        return Ruleset(tables=[Table(family="ip", name="t", objects=[node])])
    if isinstance(node, Flowtable):
        return Ruleset(tables=[Table(family="inet", name="t", flowtables=[node])])
    return Ruleset(tables=[Table(family="inet", name="t", chains=[
        Chain(name="c", rules=[Rule(stmts=[node])])])])


def _load_all(scripts: list[str]) -> list[tuple[bool, str]]:
    """``nft -f`` each script in one throwaway namespace (flushed in between); the listing of
    each, or its error."""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for i, s in enumerate(scripts):
            (t / f"{i}.nft").write_text(s)
        loop = (f'for i in $(seq 0 {len(scripts) - 1}); do {NFT} flush ruleset; '
                f'if {NFT} -f "$i.nft" 2>"$i.err"; then {NFT} list ruleset >"$i.out"; fi; done')
        subprocess.run(["unshare", "-n", "sh", "-c", loop], cwd=tmp, check=True,
                       capture_output=True)
        out = []
        for i in range(len(scripts)):
            listing = t / f"{i}.out"
            out.append((True, listing.read_text()) if listing.exists()
                       else (False, (t / f"{i}.err").read_text()))
        return out


@pytest.fixture(scope="module")
def world() -> Ruleset:
    return nftkit.parse(BASE)


def test_the_base_holds_every_class_with_a_string_field(world: Ruleset) -> None:
    present = {type(n) for n in world.walk()} | set(STANDALONE)
    missing = sorted({cls.__name__ for cls, _ in _str_fields()} - {c.__name__ for c in present})
    assert not missing, f"add a node of these classes to BASE or STANDALONE: {missing}"


def test_hostile_strings_in_every_field(world: Ruleset, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    if not have_netns():
        pytest.skip("needs root, nft and unshare -n")
    nodes = {type(n): n for n in reversed(list(world.walk()))}  # the first of each class
    outcome: dict[tuple[str, str], str] = {}
    pending: list[tuple[tuple[str, str], Ruleset, str]] = []
    for cls, f in _str_fields():
        key_base = f"{cls.__name__}.{f.name}"
        for pname, payload in PAYLOADS.items():
            key = (key_base, pname)
            standalone = cls in STANDALONE
            node = STANDALONE[cls]() if standalone else nodes[cls]
            root = _wrap(node) if standalone else world
            try:
                model = _substitute(root, node, node.replace(**{f.name: _shaped(f, payload)}))
            except ValidationError:
                outcome[key] = "refused"
                continue
            try:
                text, script = nftkit.to_text(model), nftkit.to_script(model)
            except (ValidationError, UnsupportedError):
                outcome[key] = "refused at render"
                continue
            if standalone:  # the kernel here cannot load it: nft's grammar, through nftkit's
                back = nftkit.parse(text)
                outcome[key] = "unchanged (parser)" if back == model else "ALTERED"
                continue
            pending.append((key, model, text))
            pending.append((key, model, script))
    results = _load_all([s for _, _, s in pending]) if pending else []
    for (key, model, _), (ok, listing) in zip(pending, results, strict=True):
        if not ok:
            outcome[key] = f"NFT REFUSED: {listing.strip()[:80]}"
        elif nftkit.parse(listing) != model:
            outcome[key] = "ALTERED"
        elif outcome.get(key, "unchanged") == "unchanged":
            outcome[key] = "unchanged"
    table = collections.Counter(outcome.values())
    with capsys.disabled():
        print(f"\nhostile strings: {len({k for k, _ in outcome})} fields x {len(PAYLOADS)} "
              f"payloads = {len(outcome)} cases: {dict(sorted(table.items()))}")
        kept: dict[str, list[str]] = collections.defaultdict(list)
        for (field, payload), result in outcome.items():
            if result != "refused":
                kept[f"{field} ({result})"].append(payload)
        for field, payloads in sorted(kept.items()):
            print(f"  {field}: {', '.join(payloads)}")
    bad = {k: v for k, v in outcome.items() if v not in (
        "refused", "refused at render", "unchanged", "unchanged (parser)")}
    assert not bad, "\n".join(f"{k}: {v}" for k, v in sorted(bad.items()))
