"""The grammar reads every statement and expression class of the model from its own text.

``EXAMPLES`` holds, for every statement and expression class, at least one instance; each is
rendered with ``to_text`` and read back with ``parse_rule``, which must give the same rule.
``test_every_class_has_an_example`` walks the examples: a new model class without an example
fails it, and once it has one, a grammar without a rule for it fails the round trip. Generated
rules (``nftkit.testing.rules``) read back to the same text.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings

import nftkit
import nftkit.testing as nt
from nftkit.model import expressions as E
from nftkit.model import statements as S
from nftkit.model.ruleset import Rule

_tcp_dport = E.PayloadExpr(protocol="tcp", field="dport")
_saddr = E.PayloadExpr(protocol="ip", field="saddr")
_ip = IPv4Address("10.0.0.1")


def _match(left: Any, right: Any, op: str = "==") -> S.MatchStmt:
    return S.MatchStmt(left=left, op=op, right=right)


#: (family, statement): one or more per statement and expression class of the model
EXAMPLES: list[tuple[str, Any]] = [
    ("inet", _match(_tcp_dport, 22)),
    ("inet", _match(_tcp_dport, E.RangeExpr(low=1024, high=65535), "!=")),
    ("inet", _match(_saddr, E.PrefixExpr(addr=IPv4Address("10.0.0.0"), len=8))),
    ("inet", _match(_saddr, E.SetRefExpr(name="blocked"))),
    ("inet", _match(E.ConcatExpr(exprs=(_saddr, _tcp_dport)),
                    E.SetExpr(elements=(E.ConcatExpr(exprs=(_ip, 22)),)))),
    ("inet", _match(E.CtExpr(key="state"), E.ListExpr(values=("established", "related")),
                    "in")),
    ("inet", _match(E.CtExpr(key="saddr", family="ip", dir="original"), _ip)),
    ("inet", _match(E.BinopExpr(op="&", left=E.MetaExpr(key="mark"), right=0xFF), 1)),
    ("inet", _match(E.MetaExpr(key="iifname"), "lo")),
    ("inet", _match(E.PayloadExpr(base="th", offset=16, len=16), 22)),
    ("inet", _match(E.PayloadExpr(tunnel="vxlan", protocol="ip", field="saddr"), _ip)),
    ("inet", _match(E.PayloadExpr(tunnel="vxlan", protocol="vxlan", field="vni"), 10)),
    ("ip6", _match(E.ExthdrExpr(name="frag", field="more-fragments"), 1)),
    ("ip6", _match(E.ExthdrExpr(name="hbh"), True)),
    ("inet", _match(E.TcpoptExpr(name="maxseg", field="size"), 1400)),
    ("inet", _match(E.TcpoptExpr(base=6, offset=8, len=8), 1)),
    ("ip", _match(E.IpoptExpr(name="rr", field="ptr"), 1)),
    ("inet", _match(E.SctpChunkExpr(name="data", field="type"), 0)),
    ("inet", _match(E.DccpoptExpr(type=4), True)),
    ("inet", _match(E.FibExpr(result="type", flags=frozenset({"daddr"})), "local")),
    ("ip", _match(E.RtExpr(key="classid"), 1)),
    ("inet", _match(E.SocketExpr(key="transparent"), 1)),
    ("inet", _match(E.OsfExpr(key="name", ttl="loose"), "Linux")),
    ("ip", _match(E.IpsecExpr(key="saddr", dir="in", family="ip"), _ip)),
    ("inet", S.MangleStmt(key=E.MetaExpr(key="mark"),
                          value=E.NumgenExpr(mode="inc", mod=2, offset=100))),
    ("inet", S.MangleStmt(key=E.CtExpr(key="mark"),
                          value=E.JhashExpr(expr=_saddr, mod=2, seed=0xDEAD, offset=100))),
    ("inet", S.MangleStmt(key=E.MetaExpr(key="mark"), value=E.SymhashExpr(mod=2, offset=100))),
    ("inet", S.MangleStmt(key=E.MetaExpr(key="mark"),
                          value=E.MapExpr(key=_saddr,
                                          data=E.SetExpr(elements=((_ip, 1),))))),
    ("inet", S.VerdictMapStmt(key=_tcp_dport, data=E.SetExpr(elements=(
        (22, E.VerdictExpr(kind="accept")), (23, E.VerdictExpr(kind="jump", target="x")))))),
    ("inet", S.CounterStmt(packets=3, bytes=120)),
    ("inet", S.ConnlimitStmt(count=3, inv=True)),
    ("inet", S.LimitStmt(rate=10, per="minute", burst=5)),
    ("inet", S.QuotaStmt(bytes=1 << 20, inv=True)),
    ("inet", S.LogStmt(prefix="in: ", level="warn")),
    ("inet", S.RejectStmt(type="tcp reset")),
    ("ip", S.NatStmt(type="snat", addr=_ip, port=80)),
    ("ip", S.NatStmt(type="masquerade")),
    ("inet", S.SetStmt(op="add", set="s", elem=_saddr)),
    ("inet", S.SetStmt(op="update", set="s", elem=E.ElemExpr(val=_saddr, timeout=30_000),
                       stmts=(S.CounterStmt(),))),  # type: ignore[arg-type]
    ("inet", S.MapStmt(op="update", map="m", elem=_saddr, data=1)),
    ("inet", S.MeterStmt(name="m", key=_saddr, stmt=S.LimitStmt(rate=10), size=1024)),
    ("inet", S.ObjrefStmt(type="counter", obj="c")),
    ("inet", S.NotrackStmt()),
    ("inet", S.QueueStmt(num=1, flags=frozenset({"bypass"}))),
    ("ip", S.DupStmt(addr=_ip, dev="lo")),
    ("netdev", S.FwdStmt(dev="lo")),
    ("ip", S.TproxyStmt(addr=_ip, port=80)),
    ("inet", S.SynproxyStmt(mss=1460, wscale=7)),
    ("inet", S.FlowOffloadStmt(flowtable="f")),
    ("inet", S.LastStmt(used=1500)),
    ("inet", S.OptstripStmt(expr=E.TcpoptExpr(name="maxseg"))),
    ("inet", nftkit.ChainStmt(kind="jump",
                         rules=(Rule(stmts=(S.CounterStmt(),)),))),  # type: ignore[arg-type]
    ("inet", E.VerdictExpr(kind="goto", target="other")),
    ("ip6", _match(E.PayloadExpr(protocol="ip6", field="daddr"), IPv6Address("::1"))),
]

#: Classes that have no text form at all (rendering raises UnsupportedError).
NO_TEXT: dict[type, str] = {
    S.XtStmt: "xt (iptables-nft) statements have no nft text form nft can read",
}


def _classes() -> set[type]:
    """Every statement and expression class of the public model, wherever it is defined."""
    out: set[type] = set()
    for name in nftkit.model.__all__:
        c = getattr(nftkit.model, name)
        for base in (S.Statement, E.Expression):
            if isinstance(c, type) and issubclass(c, base) and c is not base:
                out.add(c)
    return out


def _nodes(x: Any) -> set[type]:
    """Every node class reachable from ``x``."""
    found: set[type] = set()
    if isinstance(x, tuple | list | frozenset):
        for v in x:
            found |= _nodes(v)
    elif attrs.has(type(x)):
        found.add(type(x))
        for f in attrs.fields(type(x)):
            found |= _nodes(getattr(x, f.name))
    return found


def test_every_class_has_an_example() -> None:
    covered: set[type] = set()
    for _, stmt in EXAMPLES:
        covered |= _nodes(stmt)
    missing = sorted(c.__name__ for c in _classes() - covered - set(NO_TEXT))
    assert not missing, f"add an example to EXAMPLES for: {', '.join(missing)}"


@pytest.mark.parametrize(("family", "stmt"), EXAMPLES,
                         ids=[f"{type(s).__name__}-{i}" for i, (_, s) in enumerate(EXAMPLES)])
def test_example_read_back_from_its_text(family: str, stmt: Any) -> None:
    rule = Rule(stmts=(stmt,))
    text = nftkit.to_text(rule, family=family)
    assert nftkit.parse_rule(text, family=family) == rule, text


@pytest.mark.parametrize("cls", sorted(NO_TEXT, key=str))
def test_no_text_classes_really_have_none(cls: type) -> None:
    stmt = cls(type="match", name="conntrack")
    with pytest.raises(nftkit.errors.UnsupportedError):
        nftkit.to_text(Rule(stmts=(stmt,)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nt.rules())
def test_generated_rules_read_back(rule: Rule) -> None:
    # a bare reject reads back as nft's default for it (reject with icmpx port-unreachable)
    assume(not any(isinstance(s, S.RejectStmt) and s.type is None for s in rule.stmts))
    text = nftkit.to_text(rule, family="inet")
    # (compared as text: generated models may spell one rule two ways, such as == and the
    # implicit in of a flag list, which print alike)
    assert nftkit.to_text(nftkit.parse_rule(text, family="inet"), family="inet") == text
