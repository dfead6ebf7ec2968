"""Expressions: validation, datatype-driven formatting, JSON round trips, and the installed nft
as the oracle for how each expression form prints (text and JSON)."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nftkit
from nftkit import ValidationError
from nftkit.model import (
    BinopExpr,
    ConcatExpr,
    CtExpr,
    DccpoptExpr,
    ElemExpr,
    Expression,
    ExthdrExpr,
    FibExpr,
    IpoptExpr,
    IpsecExpr,
    JhashExpr,
    ListExpr,
    MangleStmt,
    MapExpr,
    MatchStmt,
    MetaExpr,
    NumgenExpr,
    OsfExpr,
    PayloadExpr,
    PrefixExpr,
    RangeExpr,
    RtExpr,
    Rule,
    SctpChunkExpr,
    SetExpr,
    SocketExpr,
    SymhashExpr,
    TcpoptExpr,
    VerdictExpr,
)
from nftkit.model.datatypes import expr_datatype, format_addr
from nftkit.parse.json import JsonDecoder
from nftkit.render.context import RenderContext
from nftkit.render.json import JsonEncoder
from nftkit.render.text import TextRenderer
from tests._oracle import load_and_list, normalize_json

# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "node", "field"), [
    (lambda: MetaExpr(key="markk"), "MetaExpr", "key"),
    (lambda: CtExpr(key="state", dir="sideways"), "CtExpr", "dir"),
    (lambda: CtExpr(key="saddr", family="ip4"), "CtExpr", "family"),
    (lambda: PayloadExpr(protocol="tcp"), "PayloadExpr", None),
    (lambda: PayloadExpr(base="xx", offset=0, len=8), "PayloadExpr", "base"),
    (lambda: PayloadExpr(protocol="tcp", field="dprot"), "PayloadExpr", "field"),
    (lambda: PayloadExpr(protocol="tpc", field="dport"), "PayloadExpr", "protocol"),
    (lambda: PayloadExpr(protocol="ip", field="saddr", tunnel="ipip"), "PayloadExpr",
     "tunnel"),
    (lambda: TcpoptExpr(name="mss"), "TcpoptExpr", "name"),
    (lambda: SctpChunkExpr(name="dta"), "SctpChunkExpr", "name"),
    (lambda: PayloadExpr(base="nh", offset=-1, len=8), "PayloadExpr", "offset"),
    (lambda: ExthdrExpr(name="hop"), "ExthdrExpr", "name"),
    (lambda: TcpoptExpr(), "TcpoptExpr", "name"),
    (lambda: IpoptExpr(name="timestamp"), "IpoptExpr", "name"),
    (lambda: DccpoptExpr(type=-3), "DccpoptExpr", "type"),
    (lambda: RtExpr(key="gateway"), "RtExpr", "key"),
    (lambda: SocketExpr(key="uid"), "SocketExpr", "key"),
    (lambda: OsfExpr(key="name", ttl="strict"), "OsfExpr", "ttl"),
    (lambda: IpsecExpr(key="saddr", dir="in"), "IpsecExpr", "family"),
    (lambda: IpsecExpr(key="spi", dir="sideways"), "IpsecExpr", "dir"),
    (lambda: NumgenExpr(mode="roundrobin", mod=2), "NumgenExpr", "mode"),
    (lambda: JhashExpr(mod=-2, expr=MetaExpr(key="mark")), "JhashExpr", "mod"),
    (lambda: FibExpr(result="oif", flags={"saddr", "daddr"}), "FibExpr", "flags"),
    (lambda: FibExpr(result="gateway", flags={"saddr"}), "FibExpr", "result"),
    (lambda: ConcatExpr(exprs=[MetaExpr(key="mark")]), "ConcatExpr", "exprs"),
    (lambda: VerdictExpr(kind="jump"), "VerdictExpr", "target"),
    (lambda: ElemExpr(val=1, timeout=-5), "ElemExpr", "timeout"),
])
def test_invalid_expressions_name_class_and_field(build: Any, node: str,
                                                  field: str | None) -> None:
    with pytest.raises(ValidationError) as info:
        build()
    assert info.value.node == node
    assert info.value.field == field


def test_fib_flags_read_from_a_string_or_a_list() -> None:
    assert FibExpr(result="oif", flags="daddr") == FibExpr(result="oif", flags=["daddr"])


# --- datatypes and value formatting -------------------------------------------------------


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=2**128 - 1) | st.integers(0, 2**32 - 1)
       | st.integers(0, 2**32 - 1).map(lambda v: v | 0xFFFF_0000_0000))
def test_ipv6_addresses_print_as_inet_ntop_does(value: int) -> None:
    addr = ipaddress.IPv6Address(value)
    assert format_addr(addr) == socket.inet_ntop(socket.AF_INET6, addr.packed)


def _text(e: Any, family: str = "inet", version: str = "1.0.6") -> str:
    renderer = TextRenderer(RenderContext(version=version, family=family))
    return renderer.expr(e, expr_datatype(e))


def test_selector_datatypes() -> None:
    def name(e: Any) -> str | None:
        dt = expr_datatype(e)
        return dt.name if dt else None

    assert name(MetaExpr(key="mark")) == "mark"
    assert name(MetaExpr(key="iif")) == "iface_index"
    assert name(CtExpr(key="saddr", family="ip6")) == "ipv6_addr"
    assert name(CtExpr(key="expiration")) == "relative_time"
    assert name(PayloadExpr(protocol="ether", field="type")) == "ethertype"
    assert name(PayloadExpr(base="nh", offset=8, len=8)) == "hex_integer"
    assert name(FibExpr(result="type", flags={"daddr"})) == "fib_addrtype"
    assert name(NumgenExpr(mode="inc", mod=2)) == "integer"
    assert name(ExthdrExpr(name="frag")) == "boolean"
    assert name(BinopExpr(op=">>", left=MetaExpr(key="mark"), right=8)) == "mark"
    concat = expr_datatype(ConcatExpr(exprs=[MetaExpr(key="iifname"),
                                             PayloadExpr(protocol="tcp", field="dport")]))
    assert concat is not None
    assert [p.name for p in concat.parts if p] == ["ifname", "inet_service"]


def test_values_format_by_the_selector_datatype() -> None:
    r = TextRenderer(RenderContext(version="1.0.6", family="ip"))

    def match(left: Any, right: Any) -> str:
        return r.relational(left, "==", right)

    assert match(MetaExpr(key="mark"), 16) == "meta mark 0x00000010"
    assert match(MetaExpr(key="iifname"), "lo") == 'iifname "lo"'
    assert match(MetaExpr(key="iif"), "0") == "iif 0"
    assert match(CtExpr(key="expiration"), 90) == "ct expiration 1m30s"
    assert match(CtExpr(key="expiration"), RangeExpr(low=60, high=3600)) == \
        "ct expiration 60s-3600s"
    assert match(PayloadExpr(base="nh", offset=8, len=8), 255) == "@nh,8,8 0xff"
    assert match(PayloadExpr(protocol="ip6", field="saddr"),
                 ipaddress.ip_address("::1234:1234")) == "ip6 saddr ::18.52.18.52"
    assert match(PayloadExpr(protocol="arp", field="operation"),
                 RangeExpr(low="request", high="reply")) == "arp operation 1-2"
    assert match(MetaExpr(key="iifgroup"), SetExpr(elements=["default", 11])) == \
        'iifgroup { "default", 11 }'
    assert match(CtExpr(key="saddr", dir="original"), ipaddress.ip_address("1.2.3.4")) == \
        "ct original ip saddr 1.2.3.4"
    mask = BinopExpr(op="&", left=MetaExpr(key="mark"), right=0xFF)
    assert match(mask, 1) == "meta mark & 0x000000ff == 0x00000001"
    flags = BinopExpr(op="&", left=PayloadExpr(protocol="tcp", field="flags"),
                      right=ListExpr(values=["fin", "syn"]))
    assert r.relational(flags, "!=", "syn") == "tcp flags != syn / fin,syn"


@pytest.mark.parametrize("name", ['a"b', "a\nb", "", "abcdefghijklmnop"])
def test_strings_nft_would_misread_are_rejected_in_text(name: str) -> None:
    rule = Rule(stmts=[MatchStmt(left=MetaExpr(key="iifname"), right=name)])
    with pytest.raises(nftkit.UnsupportedError):
        nftkit.to_text(rule)


@pytest.mark.parametrize("value", ["established accept; drop", "new\n", "$x", 'a"b', "{a}"])
def test_bare_symbols_that_could_change_the_rule_are_rejected(value: str) -> None:
    rule = Rule(stmts=[MatchStmt(left=CtExpr(key="state"), right=value)])
    with pytest.raises(nftkit.UnsupportedError):
        nftkit.to_text(rule)


def test_meta_key_aliases_become_the_listed_key() -> None:
    assert MetaExpr(key="secpath") == MetaExpr(key="ipsec")


def test_binop_parenthesization_follows_precedence() -> None:
    dscp = PayloadExpr(protocol="ip", field="dscp")
    left_shift = BinopExpr(op="&", left=BinopExpr(op="<<", left=dscp, right=2), right=0x3C)
    assert _text(left_shift) == "ip dscp << 2 & 0x3c"
    grouped = BinopExpr(op=">>", left=BinopExpr(op="&", left=PayloadExpr(
        base="nh", offset=0, len=16), right=0xFC0), right=6)
    assert _text(grouped) == "(@nh,0,16 & 0xfc0) >> 6"
    right_nested = BinopExpr(op="|", left=MetaExpr(key="mark"),
                             right=BinopExpr(op="|", left=1, right=2))
    assert _text(right_nested) == "meta mark | (0x00000001 | 0x00000002)"


def test_binop_json_flattens_from_nft_1_1() -> None:
    chain = BinopExpr(op="|", left=BinopExpr(op="|", left=MetaExpr(key="mark"), right=1),
                      right=2)
    assert nftkit.to_json(chain, version="1.1.0") == {"|": [{"meta": {"key": "mark"}}, 1, 2]}
    assert nftkit.to_json(chain, version="1.0.6") == \
        {"|": [{"|": [{"meta": {"key": "mark"}}, 1]}, 2]}
    assert JsonDecoder().expr(nftkit.to_json(chain, version="1.1.0")) == chain


def test_json_reader_uses_the_datatype_hint() -> None:
    dec = JsonDecoder()
    by_name = dec.expr({"map": {"key": {"meta": {"key": "iifname"}},
                                "data": {"set": [["10.0.0.1", 1]]}}})
    assert isinstance(by_name, MapExpr) and isinstance(by_name.data, SetExpr)
    assert by_name.data.elements == (("10.0.0.1", 1),)  # an interface name stays a string
    by_addr = dec.expr({"map": {"key": {"payload": {"protocol": "ip", "field": "saddr"}},
                                "data": {"set": [["10.0.0.1", 1]]}}})
    assert isinstance(by_addr, MapExpr) and isinstance(by_addr.data, SetExpr)
    assert by_addr.data.elements == ((ipaddress.IPv4Address("10.0.0.1"), 1),)


# --- JSON round trips of generated expressions --------------------------------------------

_symbols = st.sampled_from(["established", "related", "tcp", "udp", "ip", "new", "syn"])
_selectors: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["mark", "iifname", "l4proto", "length", "nfproto", "cpu", "skuid"]).map(
        lambda k: MetaExpr(key=k)),
    st.builds(CtExpr, key=st.sampled_from(["state", "mark", "saddr", "proto-dst"]),
              dir=st.none() | st.sampled_from(["original", "reply"]),
              family=st.none() | st.sampled_from(["ip", "ip6"])),
    st.builds(lambda pf, tunnel: PayloadExpr(protocol=pf[0], field=pf[1], tunnel=tunnel),
              st.sampled_from([("tcp", "dport"), ("udp", "sport"), ("ip", "saddr"),
                               ("ip6", "flowlabel"), ("vxlan", "vni")]),
              st.none() | st.just("vxlan")),
    st.builds(PayloadExpr, base=st.sampled_from(["ll", "nh", "th", "ih"]),
              offset=st.integers(0, 400), len=st.integers(1, 128)),
    st.builds(ExthdrExpr, name=st.sampled_from(["frag", "hbh", "rt0"]),
              field=st.none() | st.just("nexthdr"), offset=st.none() | st.integers(0, 4)),
    st.builds(TcpoptExpr, name=st.sampled_from(["maxseg", "sack-perm", "123"]),
              field=st.none() | st.just("size")),
    st.builds(TcpoptExpr, base=st.integers(0, 255), offset=st.integers(0, 64),
              len=st.integers(0, 64)),
    st.builds(IpoptExpr, name=st.sampled_from(["rr", "lsrr"]), field=st.none() | st.just("ptr")),
    st.builds(SctpChunkExpr, name=st.sampled_from(["data", "init"]),
              field=st.none() | st.just("tsn")),
    st.builds(DccpoptExpr, type=st.integers(0, 255)),
    st.builds(RtExpr, key=st.sampled_from(["classid", "nexthop", "mtu"]),
              family=st.none() | st.sampled_from(["ip", "ip6"])),
    st.builds(SocketExpr, key=st.sampled_from(["transparent", "cgroupv2"]),
              level=st.none() | st.integers(0, 4)),
    st.builds(OsfExpr, key=st.sampled_from(["name", "version"]),
              ttl=st.none() | st.sampled_from(["loose", "skip"])),
    st.builds(IpsecExpr, key=st.sampled_from(["reqid", "spi"]), dir=st.sampled_from(["in", "out"]),
              spnum=st.integers(0, 3)),
    st.builds(NumgenExpr, mode=st.sampled_from(["inc", "random"]), mod=st.integers(1, 100),
              offset=st.integers(0, 100)),
    st.builds(JhashExpr, mod=st.integers(1, 100), offset=st.none() | st.integers(1, 100),
              seed=st.none() | st.integers(0, 2**32 - 1), expr=st.just(MetaExpr(key="mark"))),
    st.builds(SymhashExpr, mod=st.integers(1, 100), offset=st.none() | st.integers(1, 100)),
    st.builds(FibExpr, result=st.sampled_from(["oif", "oifname", "type"]),
              flags=st.sampled_from([{"saddr"}, {"daddr", "iif"}, {"saddr", "mark", "oif"}])),
)
_addresses = st.ip_addresses().map(lambda a: a)
_values: st.SearchStrategy[Any] = st.one_of(
    st.integers(0, 2**32 - 1), st.booleans(), _symbols, _addresses,
    st.builds(PrefixExpr, addr=_addresses, len=st.integers(0, 32)),
    st.builds(RangeExpr, low=st.integers(0, 100), high=st.integers(100, 200)),
    st.lists(_symbols, min_size=2, max_size=3).map(lambda v: ListExpr(values=v)),
)
_set_items = st.one_of(st.integers(0, 65535), _addresses, st.builds(
    # JSON carries element timeouts in whole seconds
    ElemExpr, val=st.integers(0, 65535), timeout=st.none() | st.integers(1, 10**4).map(
        lambda s: s * 1000),
    comment=st.none() | st.just("c")))


def _binops(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    def make(op: str, left: Any, right: Any) -> Any:
        # nft 1.1 flattens same-operator chains, which reads back left-nested
        if isinstance(right, BinopExpr) and right.op.value == op:
            right = 1
        return BinopExpr(op=op, left=left, right=right)

    return st.builds(make, st.sampled_from(["&", "|", "^", "<<", ">>"]), children,
                     children | st.integers(0, 255))


_expressions = st.recursive(
    _selectors | _values,
    lambda children: st.one_of(
        _binops(children),
        st.lists(children, min_size=2, max_size=3).map(lambda x: ConcatExpr(exprs=x)),
        st.lists(_set_items, min_size=1, max_size=3).map(lambda x: SetExpr(elements=x)),
        st.builds(lambda k, v: MapExpr(key=k, data=SetExpr(elements=[(v, VerdictExpr(
            kind="accept"))])), _selectors, st.integers(0, 100)),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(_expressions, st.sampled_from(["1.0.6", "1.1.3"]))
def test_json_round_trip(e: Any, version: str) -> None:
    encoded = JsonEncoder(RenderContext(version=version)).value(e)
    assert JsonDecoder().expr(encoded) == e


@settings(max_examples=200, deadline=None)
@given(_expressions)
def test_every_expression_renders_as_text(e: Any) -> None:
    text = _text(e)
    assert text and "\n" not in text


# --- the installed nft as the oracle --------------------------------------------------------

_V4 = ipaddress.IPv4Address


def _oracle_rules() -> list[Rule]:
    """Rules built in Python, one per expression form, that nft >= 1.0.6 loads in an inet
    input chain and lists back in the same canonical order."""
    m = MatchStmt
    tcp = PayloadExpr(protocol="tcp", field="dport")
    rules = [
        [m(left=PayloadExpr(protocol="ip", field="saddr"),
           right=PrefixExpr(addr=_V4("10.0.0.0"), len=8))],
        [m(left=tcp, right=RangeExpr(low=1024, high=65535))],
        [m(left=tcp, right=SetExpr(elements=[22, 80, 443]))],
        [m(left=PayloadExpr(base="nh", offset=8, len=8), right=255)],
        [m(left=PayloadExpr(base="th", offset=400, len=16), op="!=", right=0)],
        [m(left=MetaExpr(key="mark"), right=16)],
        [m(left=BinopExpr(op="&", left=MetaExpr(key="mark"), right=0xFF), right=1)],
        [m(left=MetaExpr(key="iifname"), right="lo")],
        [m(left=MetaExpr(key="iif"), right="lo")],
        [m(left=MetaExpr(key="l4proto"), right="tcp")],
        [m(left=CtExpr(key="state"), op="in", right=ListExpr(values=["established",
                                                                      "related"]))],
        [m(left=CtExpr(key="expiration"), right=90)],
        [m(left=CtExpr(key="mark"), op="!=", right=0)],
        # nft >= 1.0 keys a conntrack address in an inet table as "ip saddr"
        [m(left=CtExpr(key="ip saddr", dir="original"), right=_V4("1.2.3.4"))],
        [m(left=ExthdrExpr(name="frag", field="more-fragments"), right=1)],
        [m(left=ExthdrExpr(name="hbh"), right=True)],
        [m(left=TcpoptExpr(name="maxseg", field="size"), right=1460)],
        [m(left=TcpoptExpr(name="sack-perm"), right=False)],
        [m(left=SctpChunkExpr(name="data", field="tsn"), right=1)],
        [m(left=SctpChunkExpr(name="init"), right=True)],
        [m(left=RtExpr(key="classid"), right="cosmos")],
        [m(left=RtExpr(key="ipsec"), right=False)],
        [m(left=SocketExpr(key="transparent"), right=1)],
        [m(left=OsfExpr(key="name"), right="Linux")],
        [m(left=IpsecExpr(key="reqid", dir="in"), right=1)],
        [m(left=IpsecExpr(key="saddr", dir="in", spnum=1, family="ip6"),
           right=ipaddress.ip_address("dead::beef"))],
        [m(left=FibExpr(result="type", flags={"daddr", "iif"}), right="local")],
        [m(left=FibExpr(result="oif", flags={"daddr"}), right=True)],
        [m(left=ConcatExpr(exprs=[MetaExpr(key="iifname"), tcp]),
           right=SetExpr(elements=[ConcatExpr(exprs=["lo", 22])]))],
        [m(left=PayloadExpr(protocol="ether", field="saddr"), right="00:0f:54:0c:11:04")],
        [m(left=PayloadExpr(protocol="ip", field="dscp"), right="cs1")],
        [m(left=PayloadExpr(protocol="ip", field="ecn"), right="ce")],
        [m(left=PayloadExpr(protocol="tcp", field="flags"), op="in",
           right=ListExpr(values=["syn", "ack"]))],
        [m(left=BinopExpr(op="&", left=PayloadExpr(protocol="tcp", field="flags"),
                          right=ListExpr(values=["syn", "ack"])), right="syn")],
        [m(left=PayloadExpr(protocol="icmpv6", field="type"),
           right=SetExpr(elements=["echo-request", "nd-neighbor-solicit"]))],
        [m(left=PayloadExpr(protocol="vlan", field="id"), right=1)],
        [m(left=MetaExpr(key="pkttype"), right="broadcast")],
        [m(left=MetaExpr(key="priority"), right="1:2")],
        [m(left=MetaExpr(key="day"), right="Monday")],
        [m(left=MetaExpr(key="hour"), right="17:00")],
        [m(left=MetaExpr(key="secpath"), right=True)],
        [m(left=MetaExpr(key="oifname"), right=SetExpr(elements=["eth*", "lo"]))],
        [m(left=CtExpr(key="status"), right="assured")],
        [m(left=CtExpr(key="helper"), right="ftp")],
        [m(left=CtExpr(key="avgpkt", dir="reply"), op=">", right=100)],
        [m(left=ExthdrExpr(name="frag", field="frag-off"), right=8)],
        [m(left=TcpoptExpr(name="window", field="count"), right=2)],
        [m(left=IpsecExpr(key="spi", dir="in"), right=1)],
        [m(left=SocketExpr(key="mark"), right=5)],
        [m(left=OsfExpr(key="version", ttl="skip"), right="Linux:3.0")],
        [m(left=FibExpr(result="oifname", flags={"saddr", "iif"}), right="lo")],
        [m(left=NumgenExpr(mode="random", mod=2), right=0)],
        [m(left=PayloadExpr(protocol="ip", field="saddr"), right=SetExpr(elements=[
            PrefixExpr(addr=_V4("10.0.0.0"), len=8), _V4("192.168.1.1")]))],
        [m(left=PayloadExpr(protocol="ip6", field="saddr"),
           right=ipaddress.ip_address("::1234:1234"))],
        [MangleStmt(key=MetaExpr(key="mark"), value=NumgenExpr(mode="inc", mod=2,
                                                               offset=100))],
        [MangleStmt(key=CtExpr(key="mark"), value=JhashExpr(
            mod=2, seed=0xDEADBEEF, expr=ConcatExpr(exprs=[
                PayloadExpr(protocol="ip", field="saddr"),
                PayloadExpr(protocol="ip", field="daddr")])))],
        [MangleStmt(key=CtExpr(key="mark"), value=SymhashExpr(mod=2, offset=100))],
        [MangleStmt(key=MetaExpr(key="mark"), value=MapExpr(
            key=PayloadExpr(protocol="ip", field="saddr"),
            data=SetExpr(elements=[(_V4("10.2.3.1"), 23), (_V4("10.2.3.2"), 42)])))],
        [MangleStmt(key=CtExpr(key="mark"), value=BinopExpr(
            op=">>", left=CtExpr(key="mark"), right=8))],
    ]
    return [Rule(stmts=stmts) for stmts in rules]


def _symbolic_rules() -> list[Rule]:
    """Integers given where nft lists a symbol (``ct state == 8`` lists as ``new``): the text
    must be nft's; the JSON keeps the integer, which nft reads the same."""
    m = MatchStmt
    rules = [
        m(left=CtExpr(key="state"), right=8),
        m(left=PayloadExpr(protocol="tcp", field="flags"), right=2),
        m(left=PayloadExpr(protocol="tcp", field="flags"), right=0xFF),
        m(left=PayloadExpr(protocol="ip", field="protocol"), right=6),
        m(left=PayloadExpr(protocol="icmp", field="type"), right=8),
        m(left=PayloadExpr(protocol="ip", field="dscp"), right=SetExpr(elements=[0x04, 46])),
        m(left=PayloadExpr(protocol="ether", field="type"), right=0x86DD),
        m(left=MetaExpr(key="pkttype"), right=1),
        m(left=MetaExpr(key="priority"), right=0x10002),
        m(left=MetaExpr(key="nfproto"), right=10),
        m(left=MetaExpr(key="iifgroup"), right=0),
        m(left=MetaExpr(key="day"), right=1),
        m(left=CtExpr(key="direction"), right=1),
        m(left=CtExpr(key="status"), right=4),
        m(left=MetaExpr(key="l4proto"), right=RangeExpr(low=33, high=45)),
    ]
    return [Rule(stmts=[r]) for r in rules]


def _load(rules: list[Rule], render: TextRenderer) -> tuple[list[str], list[Any]]:
    head = "table inet t {\n\tchain c {\n\t\ttype filter hook input priority 0;\n"
    text = head + "".join(f"\t\t{render.rule(r)}\n" for r in rules) + "\t}\n}\n"
    listing = load_and_list(text)
    assert listing.ok, f"nft rejected nftkit's text: {listing.error}\n{text}"
    lines = [ln[2:] for ln in listing.text.splitlines()
             if ln.startswith("\t\t") and not ln.startswith("\t\ttype ")]
    assert listing.json is not None
    listed = [o["rule"] for o in normalize_json(listing.json) if "rule" in o]
    assert len(lines) == len(listed) == len(rules)
    return lines, listed


@pytest.mark.kernel
def test_symbolic_integers_print_as_the_installed_nft_lists_them(oracle: None) -> None:
    rules = _symbolic_rules()
    render = TextRenderer(RenderContext(family="inet"))
    lines, listed = _load(rules, render)
    for rule, line, body in zip(rules, lines, listed, strict=True):
        assert render.rule(rule) == line
        doc = {"nftables": [{"table": {"family": "inet", "name": "t"}},
                            {"chain": {"family": "inet", "table": "t", "name": "c"}},
                            {"rule": body}]}
        back = nftkit.from_json(doc).tables[0].chains[0].rules[0]
        assert render.rule(back) == line
        assert nftkit.to_json(back, family="inet", table="t", chain="c") == {"rule": body}


@pytest.mark.kernel
def test_expressions_print_as_the_installed_nft_lists_them(oracle: None) -> None:
    rules = _oracle_rules()
    render = TextRenderer(RenderContext(family="inet"))
    lines, listed = _load(rules, render)
    for rule, line, body in zip(rules, lines, listed, strict=True):
        assert render.rule(rule) == line
        got = nftkit.to_json(rule, family="inet", table="t", chain="c")
        assert got == {"rule": body}, line



# --- the JSON reader fails with nftkit's own errors ----------------------------------------

_json_leaves = st.none() | st.booleans() | st.integers(-3, 300) | st.sampled_from(
    ["tcp", "dport", "nh", "@s", "10.0.0.1", "::1", "", "mark", "original", "ip", "oif"])
_json_values = st.recursive(
    _json_leaves,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from([*sorted(Expression.registry), "&", "|", "<<", "accept", "jump", "key",
                         "field", "protocol", "val", "len", "offset", "base", "flags",
                         "result", "dir", "family", "mod", "expr"]),
        children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=500, deadline=None)
@given(_json_values)
def test_json_reader_raises_only_nftkit_errors(j: Any) -> None:
    with contextlib.suppress(nftkit.NftkitError):
        JsonDecoder().expr(j)
