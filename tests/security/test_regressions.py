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


# --- issue 12 items 1, 2 and 6: strings that would change the text are refused --------------

INJECT = "c2; add table ip pwned"


def _doc(*items: dict[str, Any]) -> dict[str, Any]:
    return {"nftables": [{"metainfo": {"json_schema_version": 1}}, *items]}


def _rule_doc(*exprs: Any) -> dict[str, Any]:
    return _doc({"table": {"family": "inet", "name": "t"}},
                {"chain": {"family": "inet", "table": "t", "name": "c"}},
                {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": list(exprs)}})


@pytest.mark.parametrize("build", [
    lambda: nftkit.VerdictExpr(kind="jump", target=INJECT),
    lambda: nftkit.VerdictExpr(kind="goto", target="c2 }"),
    lambda: nftkit.VerdictExpr(kind="jump", target="c" * 256),
    lambda: nftkit.CtHelper(name="h", type="ftp", l3proto="ip; add table ip pwned"),
    lambda: nftkit.CtTimeout(name="t", protocol="tcp }"),
    lambda: nftkit.CtTimeout(name="t", l3proto="ip\n"),
    lambda: nftkit.CtTimeout(name="t", policy={"established; add table ip pwned": 1}),
    lambda: nftkit.CtExpectation(name="e", protocol="tcp;"),
    lambda: nftkit.CtExpectation(name="e", l3proto="ip #"),
    lambda: nftkit.ExthdrExpr(name="frag", field="id; add"),
    lambda: nftkit.TcpoptExpr(name="maxseg", field="size }"),
    lambda: nftkit.IpoptExpr(name="rr", field="ptr\n"),
    lambda: nftkit.SctpChunkExpr(name="data", field="tsn;"),
    lambda: nftkit.ElemExpr(val=80, comment='x" }'),
    lambda: nftkit.ElemExpr(val=nftkit.ElemExpr(val=80)),
    lambda: nftkit.SetExpr(elements=[nftkit.ElemExpr(val=80, comment="a\nb")]),
], ids=lambda _: "")
def test_unvalidated_fields_now_refuse_injection(build: Any) -> None:
    with pytest.raises(nftkit.ValidationError):
        build()


def test_rendered_jump_cannot_inject() -> None:
    # before: ``add rule inet t c jump c2; add table ip pwned`` through to_script
    with pytest.raises(nftkit.ValidationError, match=r"VerdictExpr\.target"):
        nftkit.Rule(stmts=[nftkit.VerdictExpr(kind="jump", target=INJECT)])


def test_second_order_names_from_json_are_refused() -> None:
    # another program created the chain and the jump through the JSON API
    with pytest.raises((nftkit.ParseError, nftkit.ValidationError), match="target"):
        nftkit.from_json(_rule_doc({"jump": {"target": INJECT}}))
    with pytest.raises((nftkit.ParseError, nftkit.ValidationError), match="target"):
        nftkit.from_json(_rule_doc({"vmap": {"key": {"meta": {"key": "mark"}},
                                             "data": {"set": [[1, {"goto": {"target": "x}"}}]]}}}))
    with pytest.raises((nftkit.ParseError, nftkit.ValidationError)):
        nftkit.from_json(_doc({"table": {"family": "inet", "name": "t"}},
                              {"chain": {"family": "inet", "table": "t", "name": INJECT}}))


@pytest.mark.parametrize("bad", [INJECT, "a b", "é", "x" * 256, "a\x00b", "accept"])
def test_transaction_names_follow_the_model(bad: str) -> None:
    t = nftkit.Transaction()
    with pytest.raises(nftkit.ValidationError, match=r"Transaction\.new_name"):
        t.rename("c", bad, table=("inet", "t"))
    if bad != "accept":  # a keyword may name another program's object to delete
        with pytest.raises(nftkit.ValidationError, match="Transaction"):
            t.delete("chain", table=("inet", "t"), name=bad)
        with pytest.raises(nftkit.ValidationError, match="Transaction"):
            t.flush("set", table=("inet", "t"), name=bad)
        with pytest.raises(nftkit.ValidationError, match="Transaction"):
            t.add_elements(bad, [1], table=("inet", "t"))
        with pytest.raises(nftkit.ValidationError, match="Transaction"):
            t.delete("chain", table=("inet", bad), name="c")
    assert len(t) == 0


# --- issue 12 item 3: one meaning on every path -------------------------------------------


def _iifname(value: Any) -> nftkit.Rule:
    return nftkit.Rule(stmts=[nftkit.MatchStmt(left=nftkit.MetaExpr(key="iifname"),
                                               right=value)])


@pytest.mark.parametrize("value", ["@x", "a\x00b", "lo\x00"])
def test_ifname_value_with_two_meanings_is_refused(value: str) -> None:
    # "@x": a literal in text and netlink, a lookup in set x in libnftables' JSON; a NUL: the
    # kernel keeps the part before it. Refused when the node is built, on every path.
    with pytest.raises(nftkit.ValidationError, match=r"MatchStmt\.right"):
        _iifname(value)
    with pytest.raises(nftkit.ValidationError, match=r"MatchStmt\.right"):
        _iifname(nftkit.SetExpr(elements=[value, "lo"]))
    with pytest.raises(nftkit.ValidationError, match=r"ElemExpr\.val"):
        nftkit.ElemExpr(val=value)


def test_ifname_with_nul_from_json_is_refused() -> None:
    for right in ["a\x00b", {"set": ["a\x00b", "lo"]}]:
        with pytest.raises(nftkit.ParseError, match="NUL"):
            nftkit.from_json(_rule_doc({"match": {"op": "==", "left": {"meta": {"key": "iifname"}},
                                                  "right": right}}))


def test_set_reference_is_the_way_to_name_a_set() -> None:
    rule = _iifname(nftkit.SetRefExpr(name="x"))
    doc = nftkit.to_json(nftkit.Ruleset(tables=[nftkit.Table(family="inet", name="t", chains=[
        nftkit.Chain(name="c", rules=[rule])])]))
    assert '"@x"' in json.dumps(doc)


# --- issue 12 item 5: bounded recursion, no internal reprs -------------------------------


@pytest.mark.parametrize("operands", [246, 1000, 20_000])
def test_long_operator_chain_is_a_located_parse_error(operands: int) -> None:
    ops = " | ".join(f"0x{i:x}" for i in range(1, operands + 1))
    with pytest.raises(nftkit.ParseError, match="nested too deeply") as err:
        nftkit.parse(f"table ip t {{\n chain c {{\n  meta mark set meta mark | {ops}\n }}\n}}\n")
    assert err.value.line == 3 and err.value.column is not None


def test_operator_chain_within_the_bound_round_trips() -> None:
    ops = " | ".join(f"0x{i:x}" for i in range(1, 101))
    rs = nftkit.parse(f"table ip t {{\n chain c {{\n  meta mark set meta mark | {ops}\n }}\n}}\n")
    assert nftkit.parse(nftkit.to_text(rs)) == rs
    assert nftkit.from_json(nftkit.to_json(rs)) == rs


def test_deep_json_is_a_parse_error() -> None:
    e: Any = {"meta": {"key": "mark"}}
    for i in range(5000):
        e = {"|": [e, i]}
    with pytest.raises(nftkit.ParseError, match="nested too deeply"):
        nftkit.from_json(_rule_doc({"mangle": {"key": {"meta": {"key": "mark"}}, "value": e}}))
    with pytest.raises(nftkit.ParseError, match="nested too deeply"):
        nftkit.from_json("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("text", [
    "table ip t { set s { type ipv4_addr; timeout 5x; } }",
    "table ip t { set s { type ipv4_addr; flags timeout; elements = { 10.0.0.1 timeout 5x } } }",
])
def test_parse_errors_show_no_token_repr(text: str) -> None:
    with pytest.raises(nftkit.ParseError) as err:
        nftkit.parse(text)
    assert "Token(" not in str(err.value)
    assert err.value.line == 1 and err.value.column is not None


def test_parse_error_messages_never_carry_a_token_repr() -> None:
    from lark import Token

    tok, key = Token("WORD", "x"), KeyError(Token("NUM", "1"))
    err = nftkit.ParseError(f"cannot read {tok!r} in {key!r}")
    assert "Token(" not in str(err) and "'x'" in str(err)


# --- issue 11 case 6: from_json errors name the node and member, not a Python signature ----


def test_prefix_without_addr_names_the_member() -> None:
    with pytest.raises(nftkit.ParseError) as err:
        nftkit.from_json(_rule_doc({"match": {"op": "==", "left": {"payload": {
            "protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"len": 8}}}}))
    assert "__init__" not in str(err.value)
    assert "PrefixExpr" in str(err.value) and "'addr'" in str(err.value)


def _sites(o: Any, path: tuple[Any, ...] = ()) -> Any:
    if isinstance(o, dict):
        for k in o:
            yield path, k
        for k, v in o.items():
            yield from _sites(v, (*path, k))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from _sites(v, (*path, i))


def test_json_with_a_member_dropped_or_renamed_gives_parse_errors(corpus: None) -> None:
    """Every member of a few corpus documents, dropped or renamed: the document is read, or
    refused with a ParseError that names no Python internals."""
    import copy
    import random

    from tests._oracle import CORPUS

    files = sorted(CORPUS.glob("shell/testcases/**/dumps/*.json-nft"))[::40]
    rng = random.Random(0)
    checked = 0
    for f in files:
        doc = json.loads(f.read_text())
        try:
            nftkit.from_json(doc)
        except nftkit.NftkitError:
            continue
        sites = list(_sites(doc))
        for path, key in rng.sample(sites, min(60, len(sites))):
            for rename in (False, True):
                mutated = copy.deepcopy(doc)
                node = mutated
                for p in path:
                    node = node[p]
                value = node.pop(key)
                if rename:
                    node[key + "x"] = value
                checked += 1
                try:
                    nftkit.from_json(mutated)
                except nftkit.ParseError as exc:
                    assert "__init__" not in str(exc) and "Token(" not in str(exc), str(exc)
    assert checked > 100


# --- found by the fuzz and hostile-string tests of tests/security ---------------------------

_M = nftkit.MetaExpr(key="mark")


@pytest.mark.parametrize("data", [
    nftkit.RangeExpr(low=1, high=2),
    nftkit.PrefixExpr(addr=__import__("ipaddress").IPv4Address("10.0.0.0"), len=8),
    nftkit.ElemExpr(val=1),
    nftkit.VerdictExpr(kind="accept"),
    1,
], ids=["range", "prefix", "elem", "verdict", "int"])
def test_map_data_that_aborts_libnftables_is_refused(data: Any) -> None:
    # before: libnftables aborted the process (``BUG: invalid mapping expression range``,
    # evaluate.c expr_evaluate_map), on the JSON and netlink paths alike
    with pytest.raises(nftkit.ValidationError, match=r"MapExpr\.data"):
        nftkit.MapExpr(key=_M, data=data)
    with pytest.raises(nftkit.ValidationError, match=r"VerdictMapStmt\.data"):
        nftkit.VerdictMapStmt(key=_M, data=data)


_ACCEPT = nftkit.VerdictExpr(kind="accept")


@pytest.mark.parametrize("stmt", [nftkit.VerdictExpr(kind="accept"), nftkit.LogStmt()],
                         ids=["verdict", "log"])
def test_set_statements_that_abort_libnftables_are_refused(stmt: Any) -> None:
    # before: ``BUG: unknown stateful statement type`` (netlink_gen_stmt_stateful) aborted
    # the process; only counter, quota, limit, ct count and last belong there
    with pytest.raises(nftkit.ValidationError, match="stateful"):
        nftkit.Set(name="s", type="ipv4_addr", stmts=[stmt])
    with pytest.raises(nftkit.ValidationError, match="stateful"):
        nftkit.ElemExpr(val=1, stmts=[stmt])
    assert nftkit.Set(name="s", type="ipv4_addr", stmts=[nftkit.CounterStmt()]).stmts


@pytest.mark.parametrize("build", [
    lambda: nftkit.Set(name="s", type="inet_service", elements=[_ACCEPT]),
    lambda: nftkit.Set(name="s", type="inet_service", elements=[nftkit.ElemExpr(val=_ACCEPT)]),
    lambda: nftkit.Map(name="m", type="inet_service", data_type="verdict",
                       elements=[(_ACCEPT, _ACCEPT)]),
    lambda: nftkit.VerdictMapStmt(key=_M, data=nftkit.SetExpr(elements=[(_ACCEPT, _ACCEPT)])),
], ids=["set", "set-elem", "map", "anonymous-vmap"])
def test_verdict_keys_that_abort_libnftables_are_refused(build: Any) -> None:
    # before: ``BUG: invalid data expression type verdict`` (netlink_gen_key) aborted the
    # process on the JSON and netlink paths
    with pytest.raises(nftkit.ValidationError, match="a verdict cannot be a key"):
        build()


@pytest.mark.parametrize("build", [
    lambda: nftkit.VerdictExpr(kind="jump", target="a\udcffb"),
    lambda: nftkit.Table(family="ip", name="t", comment="a\udcffb"),
    lambda: nftkit.Chain(name="c", devices=["a\udcff"]),
    lambda: nftkit.LogStmt(prefix="a\udcffb"),
    lambda: nftkit.MatchStmt(left=nftkit.MetaExpr(key="iifname"), right="a\udcffb"),
    lambda: nftkit.ElemExpr(val="a\udcffb"),
    lambda: nftkit.VerdictExpr(kind="foo"),
    lambda: nftkit.BinopExpr(op="+", left=_M, right=1),
    lambda: nftkit.Rule(stmts="accept"),
    lambda: nftkit.Rule(stmts=[1]),
    lambda: nftkit.Chain(name="c", rules="abc"),
    lambda: nftkit.PrefixExpr(addr=__import__("ipaddress").IPv4Address("10.0.0.0"), len=33),
    lambda: nftkit.PrefixExpr(addr=__import__("ipaddress").IPv6Address("::"), len=10**30),
    lambda: nftkit.Table(family="ip", name="t", sets=[nftkit.Table(family="ip", name="u")]),
    lambda: nftkit.Ruleset(tables=["t"]),
    lambda: nftkit.Set(name="s", type="ipv4_addr", timeout=2**64),  # struct.error (netlink)
    lambda: nftkit.FwdStmt(dev="@x"),  # libnftables' JSON: a lookup in set x
    lambda: nftkit.DupStmt(dev="@x"),
], ids=["target-surrogate", "comment-surrogate", "device-surrogate", "prefix-surrogate",
        "value-surrogate", "elem-surrogate", "verdict-kind", "binop-op", "stmts-str",
        "stmts-int", "rules-str", "prefix-v4", "prefix-v6", "table-sets", "ruleset-tables",
        "set-timeout", "fwd-at", "dup-at"])
def test_values_that_raised_untyped_errors_are_validation_errors(build: Any) -> None:
    # before: UnicodeEncodeError, ValueError, or accepted and AttributeError when rendered
    with pytest.raises(nftkit.ValidationError):
        build()


def test_foreign_hostile_chain_name_is_never_returned_by_a_read() -> None:
    """Case 2 on the kernel: another program creates ``c2; add table ip pwned`` and a jump to
    it through the JSON API; every read refuses with an nftkit error, none returns it."""
    if not have_netns():
        pytest.skip("needs root, nft and unshare -n")
    from tests.security.test_hostile_strings import _in_child

    doc = {"nftables": [
        {"add": {"table": {"family": "inet", "name": "t"}}},
        {"add": {"chain": {"family": "inet", "table": "t", "name": INJECT}}},
        {"add": {"chain": {"family": "inet", "table": "t", "name": "c"}}},
        {"add": {"rule": {"family": "inet", "table": "t", "chain": "c",
                          "expr": [{"jump": {"target": INJECT}}]}}}]}

    def reads() -> dict[str, str]:
        from tests.security._paths import enter_new_netns

        enter_new_netns()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "in.json"
            path.write_text(json.dumps(doc))
            subprocess.run([NFT, "-j", "-f", str(path)], check=True, capture_output=True)
        nft = nftkit.Nftables()
        out = {}
        for name, read in [("list_ruleset", nft.list_ruleset),
                           ("list_table", lambda: nft.list_table("inet", "t")),
                           ("list_chain", lambda: nft.list_chain("inet", "t", "c")),
                           ("list_chain evil", lambda: nft.list_chain("inet", "t", INJECT))]:
            try:
                out[name] = f"RETURNED {read()!r}"
            except nftkit.NftkitError as exc:
                out[name] = type(exc).__name__
        out["tables"] = ",".join(t.name for t in nft.list_tables())
        return out

    got = _in_child(reads)
    assert got.pop("tables") == "t"  # nothing injected
    assert not any(v.startswith("RETURNED") for v in got.values()), got


def test_libnftables_path_carries_what_its_json_cannot() -> None:
    """Found by the hostile-string test's per-path runs (nft 1.0.6): libnftables' JSON input
    dropped a ct timeout's policy silently, refused ct expectations, synproxy objects,
    anonymous chains (``jump { ... }``) and the guard of an element update to a ``dynamic``
    set. ``run(netlink=False)`` now carries each exactly (by its text input where needed)."""
    if not have_netns():
        pytest.skip("needs root and network namespaces")
    from ipaddress import IPv4Address

    from tests.security.test_hostile_strings import _in_child

    t = ("ip", "t")
    s = nftkit.Set(name="s", type="ipv4_addr", flags=["dynamic"], size=100)
    objects = [nftkit.CtTimeout(name="tt", protocol="tcp", l3proto="ip",
                                policy={"established": 120}),
               nftkit.CtExpectation(name="ce", protocol="tcp", dport=21, timeout=5000, size=12,
                                    l3proto="ip"),
               nftkit.Synproxy(name="sp", mss=1460, wscale=7)]
    anon = nftkit.Rule(stmts=[nftkit.ChainStmt(kind="jump", rules=[
        nftkit.Rule(stmts=[nftkit.VerdictExpr(kind="accept")])])])
    dm = nftkit.Map(name="dm", type="ipv4_addr", data_type="mark", flags=["dynamic"], size=10)
    update = nftkit.parse("table ip t { map dm { type ipv4_addr : mark; size 10; "
                          "flags dynamic; }\n chain c { update @dm { ip saddr : 0x1 } } }"
                          ).tables[0].chains[0].rules[0]

    def apply() -> list[str]:
        from tests.security._paths import enter_new_netns

        enter_new_netns()
        nft = nftkit.Nftables()
        nft.run(nftkit.Transaction().add(nftkit.Table(family="ip", name="t", sets=[s])))
        nft.run(nftkit.Transaction().add_elements(s, [IPv4Address("10.0.0.1")], table=t),
                netlink=False)
        for o in objects:
            nft.run(nftkit.Transaction().add(o, table=t), netlink=False)
        nft.run(nftkit.Transaction().add(nftkit.Chain(name="c"), table=t).add(dm, table=t)
                .add(anon, table=t, chain="c").add(update, table=t, chain="c"), netlink=False)
        back = nft.list_table("ip", "t")
        by_name = {o.name: o for o in back.objects}
        return [back.sets[0].elements == (IPv4Address("10.0.0.1"),),
                *(by_name.get(o.name) == o for o in objects),
                back.chains[0].rules == (anon, update)]

    assert _in_child(apply) == [True] * 5
