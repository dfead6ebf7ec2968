"""Hypothesis strategies that generate valid nftkit models, for property tests of your own code.

Needs ``hypothesis`` (installed with ``pip install nftkit[test]``)::

    from hypothesis import given
    import nftkit
    from nftkit.testing import rulesets

    @given(rulesets())
    def test_my_agent_accepts_any_ruleset(rs: nftkit.Ruleset) -> None:
        assert nftkit.from_json(nftkit.to_json(rs)) == nftkit.testing.json_canonical(rs)

Every strategy draws models that construct without ``ValidationError``, with base chains whose
type, hook and priority fit the table family, jumps only to chains that exist (and never in a
loop), set and map elements of the declared datatype, and rules built from the statements and
expressions that are meaningful in that family. With ``kernel=True`` (the default is False) the
models also stay inside what a stock kernel and nft load and list back deterministically: no
``owner``/``persist`` table flags (the table would vanish with nft's socket), no element
timeouts (their ``expires`` keeps changing), disjoint interval elements, NAT only in nat
chains, and ``device`` names that :func:`ifnames` draws (create them before loading).

The building blocks are public too: :func:`identifiers`, :func:`comments`, :func:`ifnames`,
:func:`priorities`, :func:`base_chains`, :func:`chains`, :func:`rules`, :func:`statements`,
:func:`sets`, :func:`maps`, :func:`named_objects`, :func:`tables`, :func:`rulesets`.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from .model import (
    Chain,
    ChainPolicy,
    ChainType,
    Counter,
    CtExpectation,
    CtHelper,
    CtTimeout,
    Family,
    Hook,
    Limit,
    Map,
    Priority,
    Quota,
    Rule,
    Ruleset,
    Secmark,
    Set,
    Synproxy,
    Table,
    TableFlag,
)
from .model.enums import VALID_HOOKS
from .model.expressions import (
    BinopExpr,
    ConcatExpr,
    CtExpr,
    ElemExpr,
    Expr,
    FibExpr,
    JhashExpr,
    ListExpr,
    MetaExpr,
    NumgenExpr,
    PayloadExpr,
    PrefixExpr,
    RangeExpr,
    RtExpr,
    SetExpr,
    SetRefExpr,
    VerdictExpr,
)
from .model.objects import NamedObject
from .model.statements import (
    ConnlimitStmt,
    CounterStmt,
    DupStmt,
    FwdStmt,
    LastStmt,
    LimitStmt,
    LogStmt,
    MangleStmt,
    MatchOp,
    MatchStmt,
    NatStmt,
    NotrackStmt,
    ObjrefStmt,
    QueueStmt,
    QuotaStmt,
    RejectStmt,
    SetStmt,
    SynproxyStmt,
    VerdictMapStmt,
)
from .nft.families import BRIDGE_PRIORITIES, STANDARD_PRIORITIES
from .nft.keywords import KEYWORDS
from .nft.symbols import SYMBOLS
from .nft.units import TIME_UNITS

__all__ = [
    "NFT_KEYWORDS",
    "base_chains",
    "chains",
    "comments",
    "identifiers",
    "ifnames",
    "json_canonical",
    "maps",
    "named_objects",
    "priorities",
    "rules",
    "rulesets",
    "sets",
    "statements",
    "tables",
]

S = st.SearchStrategy

#: The words nft's scanner reads as keywords in every context (checked against the installed
#: nft by tests/test_validation.py): an object called one of them cannot be written in nft
#: text (``table inet counter`` is a syntax error), so the model rejects it as a name.
NFT_KEYWORDS: frozenset[str] = KEYWORDS

_WORD = st.builds(lambda a, b: a + b, st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
                  st.text("abcdefghijklmnopqrstuvwxyz0123456789", max_size=7))


def identifiers(max_parts: int = 3) -> S[str]:
    """Object names nft reads back as one identifier: ``web_2``, ``svc_a/http``, ``k_x.y``.

    Every name drawn contains an ``_``: none of nft's several hundred keywords does, and a
    name that is a keyword cannot be written in nft text (``table inet counter`` is a syntax
    error). :data:`NFT_KEYWORDS` lists some keywords, to use deliberately in your own tests.
    """
    if max_parts == 3:
        return _IDENTIFIERS
    return _identifiers(max_parts)


def _identifiers(max_parts: int) -> S[str]:
    sep = st.sampled_from(["-", "_", ".", "/"])
    tail = st.lists(st.tuples(sep, _WORD), max_size=max(0, max_parts - 2))
    return st.builds(lambda head, second, rest: head + "_" + second + "".join(
        s + w for s, w in rest), _WORD, _WORD, tail)


_IDENTIFIERS = _identifiers(3)


@functools.cache
def comments() -> S[str]:
    """Comments nft keeps verbatim: printable text without ``"``, at most 128 bytes."""
    alphabet = st.characters(
        min_codepoint=32, max_codepoint=0x2FFF, blacklist_characters='"\x7f',
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"),
    )
    return st.text(alphabet, min_size=1, max_size=40).filter(lambda s: len(s.encode()) <= 128)


def ifnames() -> S[str]:
    """Interface names the kernel accepts and nft prints back the same: ``eth0``, ``br-lan``."""
    return _IFNAMES


_IFNAMES = st.builds(
    lambda a, b, c: a + b + (f"-{c}" if c else ""),
    st.sampled_from(["eth", "wan", "br", "veth", "enp", "wg", "ppp", "lan"]),
    st.text("0123456789", max_size=2), st.text("abcdefghijklmnopqrstuvwxyz0123456789", max_size=4))


@functools.cache
def priorities(family: Family | str = Family.INET, hook: Hook | str | None = None) -> S[Priority]:
    """Base chain priorities: a number, or a standard name of the family with an offset.

    Only names that fit the family and hook are drawn (``dstnat`` only for prerouting, ...).
    """
    fam = Family(family)
    hk = Hook(hook) if hook is not None else None
    table = BRIDGE_PRIORITIES if fam is Family.BRIDGE else STANDARD_PRIORITIES
    fits = {
        "dstnat": hk in (None, Hook.PREROUTING),
        "srcnat": hk in (None, Hook.POSTROUTING),
        "out": hk in (None, Hook.OUTPUT),
    }
    names = [n for n in table if fits.get(n, True)]
    if fam in (Family.ARP, Family.NETDEV):
        names = ["filter"]
    numeric = st.integers(-400, 400).map(lambda v: Priority(value=v))
    named = st.builds(lambda n, off: Priority(name=n, value=off),
                      st.sampled_from(names), st.integers(-10, 10))
    return st.one_of(numeric, named)


# --- expressions and statements ---------------------------------------------------------------

_PORT = st.integers(1, 65535)
_MARK = st.integers(0, 2**32 - 1)
_V4 = st.integers(1, 2**32 - 2).map(ipaddress.IPv4Address)
_V6 = st.integers(1, 2**128 - 2).map(ipaddress.IPv6Address)
_CT_STATES = list(SYMBOLS["ct_state"])


def _v4_prefix() -> S[PrefixExpr]:
    def make(addr: int, plen: int) -> PrefixExpr:
        net = ipaddress.IPv4Network((addr, plen), strict=False)
        return PrefixExpr(addr=net.network_address, len=plen)

    return st.builds(make, st.integers(0, 2**32 - 1), st.integers(8, 31))


def _v6_prefix() -> S[PrefixExpr]:
    def make(addr: int, plen: int) -> PrefixExpr:
        net = ipaddress.IPv6Network((addr, plen), strict=False)
        return PrefixExpr(addr=net.network_address, len=plen)

    return st.builds(make, st.integers(0, 2**128 - 1), st.integers(16, 127))


def _port_range() -> S[RangeExpr]:
    return st.tuples(_PORT, _PORT).filter(lambda t: t[0] < t[1]).map(
        lambda t: RangeExpr(low=t[0], high=t[1]))


def _payload(proto: str, field: str) -> PayloadExpr:
    return PayloadExpr(protocol=proto, field=field)


@functools.cache
def match_stmts(
    family: Family | str = Family.INET,
    l3: str | None = None,
    l4: str | None = None,
    conntrack: bool = True,
) -> S[MatchStmt]:
    """Relational matches that fit the family: ports, addresses, marks, interfaces, ct state.

    ``l3`` (``ip``/``ip6``) and ``l4`` (``tcp``/``udp``) pin the protocols, so that matches
    drawn for one rule never conflict (nft refuses ``meta l4proto udp tcp dport 22``).
    ``conntrack=False`` leaves out ``ct`` matches (bridge conntrack is a separate kernel module).
    """
    fam = Family(family)
    l4s = st.sampled_from([l4] if l4 else ["tcp", "udp"])
    ports = st.one_of(_PORT, _port_range(),
                      st.lists(_PORT, min_size=2, max_size=5, unique=True).map(
                          lambda ps: SetExpr(elements=tuple(sorted(ps)))))
    options: list[S[MatchStmt]] = [
        st.builds(lambda v: MatchStmt(left=MetaExpr(key="mark"), right=v), _MARK),
        st.builds(
            lambda mask, v: MatchStmt(
                left=BinopExpr(op="&", left=MetaExpr(key="mark"), right=mask), right=v & mask),
            _MARK.filter(bool), _MARK),
        st.builds(lambda k, v: MatchStmt(left=MetaExpr(key=k), right=v),
                  st.sampled_from(["iifname", "oifname"]), ifnames()),
    ]
    if fam is Family.ARP:  # no transport headers or conntrack on ARP
        return st.one_of(options)
    options += [
        st.builds(lambda p, f, v: MatchStmt(left=_payload(p, f), right=v),
                  l4s, st.sampled_from(["sport", "dport"]), ports),
        st.builds(lambda p, f, v: MatchStmt(left=_payload(p, f), op=MatchOp.NE, right=v),
                  l4s, st.sampled_from(["sport", "dport"]), _PORT),
        st.builds(lambda v: MatchStmt(left=MetaExpr(key="l4proto"), right=v),
                  st.sampled_from([l4] if l4 else ["tcp", "udp", "icmp", "sctp"])),
    ]
    if conntrack:
        options.append(st.builds(
            lambda vs: MatchStmt(left=CtExpr(key="state"),
                                 right=vs[0] if len(vs) == 1 else ListExpr(values=tuple(vs))),
            st.lists(st.sampled_from(_CT_STATES), min_size=1, max_size=3, unique=True)))
    v4 = fam in (Family.IP, Family.INET, Family.BRIDGE, Family.NETDEV) and l3 in (None, "ip")
    v6 = fam in (Family.IP6, Family.INET, Family.BRIDGE, Family.NETDEV) and l3 in (None, "ip6")
    if v4:
        options.append(st.builds(lambda f, v: MatchStmt(left=_payload("ip", f), right=v),
                                 st.sampled_from(["saddr", "daddr"]), st.one_of(_V4, _v4_prefix())))
    if v6:
        options.append(st.builds(lambda f, v: MatchStmt(left=_payload("ip6", f), right=v),
                                 st.sampled_from(["saddr", "daddr"]), st.one_of(_V6, _v6_prefix())))
    return st.one_of(options)


@functools.cache
def _verdicts(targets: Sequence[str], terminal: bool = True) -> S[VerdictExpr]:
    kinds = ["accept", "drop", "return", "continue"] if terminal else ["accept", "drop"]
    opts: list[S[VerdictExpr]] = [st.sampled_from(kinds).map(lambda k: VerdictExpr(kind=k))]
    if targets:
        opts.append(st.builds(lambda k, t: VerdictExpr(kind=k, target=t),
                              st.sampled_from(["jump", "goto"]), st.sampled_from(targets)))
    return st.one_of(opts)


@functools.cache
def statements(
    family: Family | str = Family.INET,
    *,
    chain_type: ChainType | str | None = None,
    hook: Hook | str | None = None,
    objects: Sequence[NamedObject] = (),
    kernel: bool = False,
) -> S[Any]:
    """Non-verdict statements: counters, limits, quotas, log, mark setting, reject, NAT.

    ``chain_type`` ``nat`` allows NAT statements (any type allows them with ``kernel=False``),
    those that fit ``hook``;
    ``objects`` are named objects that ``counter name``/``quota name``/``limit name`` may use.
    """
    fam = Family(family)
    opts: list[S[Any]] = [
        st.builds(CounterStmt, packets=st.integers(0, 2**40), bytes=st.integers(0, 2**50)),
        st.builds(LimitStmt, rate=st.integers(1, 10_000),
                  per=st.sampled_from(list(TIME_UNITS)[:4])),  # no week
        st.builds(QuotaStmt, bytes=st.integers(1, 2**40), inv=st.booleans()),
        # nft's text parser expands "$x" in a log prefix as a variable: JSON only, not drawn.
        st.builds(LogStmt, prefix=st.none() | comments().filter(
                      lambda s: len(s.encode()) < 120 and "$" not in s),
                  level=st.none() | st.sampled_from(["emerg", "info", "debug"])),
        st.builds(lambda v: MangleStmt(key=MetaExpr(key="mark"), value=v), _MARK),
        st.builds(
            lambda op, v: MangleStmt(
                key=MetaExpr(key="mark"),
                value=BinopExpr(op=op, left=MetaExpr(key="mark"), right=v)),
            st.sampled_from(["|", "^", "&"]), _MARK),
    ]
    for obj in objects:
        opts.append(st.just(ObjrefStmt(type=obj.json_key, obj=obj.name)))
    # The kernel allows reject only on some hooks, and a regular chain may be reached from any.
    if not kernel:
        opts.append(st.just(RejectStmt()))
    if fam is Family.INET and not kernel:
        opts.append(st.sampled_from(["admin-prohibited", "host-unreachable"]).map(
            lambda c: RejectStmt(type="icmpx", code=c)))
    if not kernel:  # valid models, but not on every hook or kernel: JSON round trips only
        opts += _exotic_statements()
    nat_ok = fam in (Family.IP, Family.IP6, Family.INET) and (
        chain_type == ChainType.NAT or not kernel)
    if nat_ok and fam is not Family.IP6:
        # The kernel wants dnat before routing, snat and masquerade after it, and a port only
        # after a transport protocol match; with kernel=True only what fits the hook is drawn.
        h = Hook(hook) if hook is not None else None
        nat_family = "ip" if fam is Family.INET else None
        if not kernel or h in (Hook.PREROUTING, Hook.OUTPUT):
            port = st.none() if kernel else st.none() | _PORT
            opts.append(st.builds(
                lambda a, p: NatStmt(type="dnat", family=nat_family, addr=a, port=p), _V4, port))
        if not kernel or h in (Hook.POSTROUTING, Hook.INPUT):
            opts.append(st.builds(lambda a: NatStmt(type="snat", family=nat_family, addr=a), _V4))
        if not kernel or h is Hook.POSTROUTING:
            opts.append(st.builds(lambda fl: NatStmt(type="masquerade", flags=fl),
                                  st.sampled_from([(), ("fully-random",), ("random",)])))
    return st.one_of(opts)


@functools.cache
def _exotic_statements() -> list[S[Any]]:
    """Statements and expressions a rule may use that need particular hooks, modules or
    hardware: drawn only for JSON round trips (``kernel=False``)."""
    saddr = _payload("ip", "saddr")
    return [
        st.builds(LastStmt, used=st.none() | st.integers(0, 10**9)),
        st.builds(ConnlimitStmt, count=st.integers(1, 1000), inv=st.booleans()),
        st.builds(QueueStmt, num=st.integers(0, 65535),
                  flags=st.sets(st.sampled_from(["bypass", "fanout"]))),
        st.just(NotrackStmt()),
        st.builds(SynproxyStmt, mss=st.integers(536, 9000), wscale=st.integers(0, 14),
                  flags=st.sets(st.sampled_from(["timestamp", "sack-perm"]))),
        st.builds(lambda op, key, name: SetStmt(op=op, elem=key, set=name),
                  st.sampled_from(["add", "update"]),
                  st.sampled_from([saddr, MetaExpr(key="mark")]), identifiers()),
        st.builds(lambda f, v: MatchStmt(left=FibExpr(result="type", flags=[f]), right=v),
                  st.sampled_from(["saddr", "daddr"]),
                  st.sampled_from(["local", "unicast", "multicast"])),
        st.builds(lambda mod, seed, v: MatchStmt(
                      left=JhashExpr(mod=mod, expr=saddr, seed=seed), right=v % mod),
                  st.integers(1, 64), st.integers(0, 2**32 - 1), st.integers(0, 63)),
        st.just(MangleStmt(key=CtExpr(key="mark"), value=MetaExpr(key="mark"))),
        st.builds(lambda a, d: DupStmt(addr=a, dev=d), _V4, ifnames()),
        st.builds(lambda d: FwdStmt(dev=d), ifnames()),
        st.builds(lambda op, v: MatchStmt(left=RtExpr(key="mtu"), op=op, right=v),
                  st.sampled_from(["<", ">", "!="]), st.integers(576, 9000)),
    ]


@st.composite
def rules(
    draw: st.DrawFn,
    family: Family | str = Family.INET,
    *,
    targets: Sequence[str] = (),
    chain_type: ChainType | str | None = None,
    hook: Hook | str | None = None,
    objects: Sequence[NamedObject] = (),
    vmaps: Sequence[str] = (),
    set_refs: Sequence[tuple[str, str]] = (),
    kernel: bool = False,
) -> Rule:
    """A rule: some matches, some statements, maybe a verdict (``jump``/``goto`` to ``targets``,
    directly or through ``numgen random mod N vmap { ... }``).

    ``vmaps`` names verdict maps keyed by ``ip daddr`` that the rule may look up; ``set_refs``
    are ``(name, datatype)`` of named sets it may match against (``ip saddr @allowed``).
    """
    fam = Family(family)
    l3 = l4 = None
    if kernel:  # one protocol per layer, so the matches cannot conflict
        l3 = "ip6" if fam is Family.IP6 else "ip" if fam is not Family.INET else draw(
            st.sampled_from(["ip", "ip6"]))
        l4 = draw(st.sampled_from(["tcp", "udp"]))
    conntrack = not kernel or fam in (Family.IP, Family.IP6, Family.INET)
    matches = draw(st.lists(match_stmts(fam, l3, l4, conntrack), max_size=3))
    lookups = [(name, left) for name, dtype in set_refs
               if (left := _lookup_key(fam, dtype, l3, l4)) is not None]
    if bool(lookups) and draw(st.booleans()):
        name, left = draw(st.sampled_from(lookups))
        matches.append(MatchStmt(left=left, right=SetRefExpr(name=name)))
    stmts = draw(st.lists(
        statements(fam, chain_type=chain_type, hook=hook, objects=tuple(objects),
                   kernel=kernel),
        max_size=2))
    end: list[Any] = []
    if kernel and any(isinstance(x, NatStmt) for x in stmts):
        # NAT is terminal: nft refuses a verdict after it, so it goes last.
        stmts = [x for x in stmts if not isinstance(x, NatStmt)] + [
            next(x for x in stmts if isinstance(x, NatStmt))]
    elif vmaps and fam in (Family.IP, Family.INET) and l3 != "ip6" and draw(st.booleans()):
        end = [VerdictMapStmt(key=_payload("ip", "daddr"),
                              data=SetRefExpr(name=draw(st.sampled_from(list(vmaps)))))]
    elif bool(targets) and draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(list(targets)), min_size=1, max_size=3))
        end = [VerdictMapStmt(
            key=NumgenExpr(mode="random", mod=len(chosen)),
            data=SetExpr(elements=tuple((i, VerdictExpr(kind="goto", target=t))
                                        for i, t in enumerate(chosen))))]
    elif draw(st.booleans()):
        end = [draw(_verdicts(tuple(targets)))]
    if not (matches or stmts or end):
        stmts = [CounterStmt()]
    comment = draw(st.none() | comments())
    return Rule(stmts=(*matches, *stmts, *end), comment=comment)


def _lookup_key(family: Family, dtype: str, l3: str | None, l4: str | None) -> Expr | None:
    """An expression of datatype ``dtype`` that fits the family and the pinned protocols."""
    if dtype == "mark":
        return MetaExpr(key="mark")
    if dtype == "ifname":
        return MetaExpr(key="iifname")
    if family is Family.ARP:
        return None
    if dtype == "inet_service":
        return _payload(l4 or "tcp", "dport")
    if dtype == "ipv4_addr" and family is not Family.IP6 and l3 in (None, "ip"):
        return _payload("ip", "saddr")
    if dtype == "ipv6_addr" and family is not Family.IP and l3 in (None, "ip6"):
        return _payload("ip6", "saddr")
    return None


# --- containers -------------------------------------------------------------------------------

#: Which chain types each family allows, and on which hooks (the kernel's rules).
_TYPE_HOOKS: dict[ChainType, dict[Family, frozenset[Hook]]] = {
    ChainType.NAT: {f: frozenset({Hook.PREROUTING, Hook.INPUT, Hook.OUTPUT, Hook.POSTROUTING})
                    for f in (Family.IP, Family.IP6, Family.INET)},
    ChainType.ROUTE: {f: frozenset({Hook.OUTPUT}) for f in (Family.IP, Family.IP6)},
}


def _chain_types(family: Family) -> list[tuple[ChainType, Hook]]:
    out = [(ChainType.FILTER, h) for h in sorted(VALID_HOOKS[family])]
    for ctype, per_family in _TYPE_HOOKS.items():
        out += [(ctype, h) for h in sorted(per_family.get(family, ()))]
    return out


@st.composite
def base_chains(
    draw: st.DrawFn,
    family: Family | str = Family.INET,
    *,
    name: str | None = None,
    kernel: bool = False,
) -> Chain:
    """A base chain (no rules) with a type/hook valid for ``family``, a priority, a policy and,
    for ingress/egress hooks, a device."""
    fam = Family(family)
    ctype, hook = draw(st.sampled_from(_chain_types(fam)))
    devices: tuple[str, ...] = ()
    if hook in (Hook.INGRESS, Hook.EGRESS):
        devices = (draw(ifnames()),)
    policy = draw(st.none() | st.sampled_from(list(ChainPolicy)))
    if kernel and ctype is not ChainType.FILTER:
        policy = None if policy is None else ChainPolicy.ACCEPT
    prio = priorities(fam, hook)
    if kernel and ctype is ChainType.NAT:  # NAT hooks must run after conntrack (-200)
        prio = prio.filter(lambda p: p.resolve(fam) > -200)
    return Chain(
        name=name if name is not None else draw(identifiers()),
        type=ctype, hook=hook, priority=draw(prio), policy=policy,
        devices=devices, comment=draw(st.none() | comments()),
    )


@st.composite
def chains(draw: st.DrawFn, family: Family | str = Family.INET, *, kernel: bool = False) -> Chain:
    """A regular or base chain with a few rules that end in plain verdicts."""
    fam = Family(family)
    if draw(st.booleans()):
        c = draw(base_chains(fam, kernel=kernel))
    else:
        c = Chain(name=draw(identifiers()), comment=draw(st.none() | comments()))
    rs = draw(st.lists(rules(fam, chain_type=c.type, hook=c.hook, kernel=kernel), max_size=3))
    return attrs.evolve(c, rules=tuple(rs))


# Key datatypes and how to draw one element of each (plain, and for interval sets).
@functools.cache
def _keys(family: Family) -> dict[str, tuple[S[Any], S[Any] | None]]:
    out: dict[str, tuple[S[Any], S[Any] | None]] = {
        "inet_service": (_PORT, st.integers(0, 8000)),
        "mark": (_MARK, None),
        "ifname": (ifnames(), None),
        "inet_proto": (st.sampled_from(["tcp", "udp", "icmp", "sctp", "gre"]), None),
        "ether_addr": (st.binary(min_size=6, max_size=6).map(
            lambda b: ":".join(f"{x:02x}" for x in b)), None),
    }
    if family is not Family.IP6:
        out["ipv4_addr"] = (_V4, st.integers(0, 2**24 - 1))
    if family is not Family.IP:
        out["ipv6_addr"] = (_V6, st.integers(0, 2**48 - 1))
    return out


def _interval_elements(dtype: str, slots: list[int]) -> list[Any]:
    """Disjoint interval elements (prefixes for addresses, ranges for ports) from slot numbers."""
    out: list[Any] = []
    for s in sorted(set(slots)):
        if dtype == "ipv4_addr":
            out.append(PrefixExpr(addr=ipaddress.IPv4Address(s << 8), len=24))
        elif dtype == "ipv6_addr":
            out.append(PrefixExpr(addr=ipaddress.IPv6Address(s << 80), len=48))
        else:  # inet_service: slot s covers ports [s*8, s*8+5]
            lo = s * 8 + 1
            out.append(RangeExpr(low=lo, high=lo + 4))
    return out


@st.composite
def sets(draw: st.DrawFn, family: Family | str = Family.INET, *, kernel: bool = False) -> Set:
    """A named set: a key datatype (or a concatenation of two), flags, elements of that type."""
    fam = Family(family)
    keys = _keys(fam)
    name = draw(identifiers())
    comment = draw(st.none() | comments())
    flags: list[str] = []
    dtype = draw(st.sampled_from(sorted(keys)))
    plain, interval = keys[dtype]
    if interval is not None and draw(st.booleans()):
        flags.append("interval")
        slots = draw(st.lists(interval, max_size=6, unique=True))
        elements: list[Any] = _interval_elements(dtype, slots)
        return Set(name=name, type=dtype, flags=flags, comment=comment, elements=elements)
    if draw(st.booleans()):
        dtype2 = draw(st.sampled_from(["inet_service", "inet_proto", "mark"]))
        pairs = draw(st.lists(st.tuples(plain, keys[dtype2][0]), max_size=5, unique=True))
        return Set(name=name, type=(dtype, dtype2), comment=comment,
                   elements=[ConcatExpr(exprs=v) for v in pairs])
    timeout = None
    if draw(st.booleans()):
        flags.append("timeout")
        timeout = draw(st.integers(1, 86400)) * 1000
    # In the kernel every element of a timeout set gets an ever-changing "expires".
    max_elements = 0 if kernel and timeout is not None else 6
    values = draw(st.lists(plain, max_size=max_elements, unique=True))
    elements = list(values)
    with_timeout = draw(st.booleans())
    with_comment = draw(st.booleans())
    if not kernel and timeout is not None and values and with_timeout:
        elements[0] = ElemExpr(val=values[0], timeout=draw(st.integers(1, 3600)) * 1000)
    if values and with_comment:
        elements[-1] = ElemExpr(val=values[-1], comment=draw(comments()))
    size = draw(st.none() | st.integers(len(values) + 1, 65535))
    return Set(name=name, type=dtype, flags=flags, timeout=timeout, size=size,
               comment=comment, elements=elements)


@st.composite
def maps(
    draw: st.DrawFn,
    family: Family | str = Family.INET,
    *,
    targets: Sequence[str] = (),
    verdict: bool | None = None,
    kernel: bool = False,
) -> Map:
    """A named map: keys of one datatype, data of a value type or verdicts (jumps to ``targets``).

    ``verdict=True`` forces a verdict map keyed by ``ipv4_addr`` (or ``ipv6_addr`` in ip6).
    """
    fam = Family(family)
    keys = _keys(fam)
    name = draw(identifiers())
    is_vmap = draw(st.booleans()) if verdict is None else verdict
    if is_vmap:
        dtype = "ipv6_addr" if fam is Family.IP6 else "ipv4_addr"
        data_type = "verdict"
        data: S[Any] = _verdicts(tuple(targets), terminal=False)
    else:
        dtype = draw(st.sampled_from(sorted(keys)))
        data_type = draw(st.sampled_from(["mark", "inet_service"]))
        data = keys[data_type][0]
    ks = draw(st.lists(keys[dtype][0], max_size=5, unique=True))
    elements = [(k, draw(data)) for k in ks]
    return Map(name=name, type=dtype, data_type=data_type, elements=elements,
               comment=draw(st.none() | comments()))


@functools.cache
def named_objects(*, kernel: bool = False) -> S[NamedObject]:
    """Named counters, quotas and limits; with ``kernel=False`` also ct helpers, ct timeouts,
    ct expectations, synproxies and secmarks (which need kernel modules or SELinux)."""
    name = identifiers()
    opts: list[S[NamedObject]] = [
        st.builds(Counter, name=name, packets=st.integers(0, 2**40), bytes=st.integers(0, 2**50),
                  comment=st.none() | comments()),
        st.builds(Quota, name=name, bytes=st.integers(1, 2**40), inv=st.booleans()),
        # A packet limit's burst 0 is nft's default (5): the model stores it as 5.
        st.builds(Limit, name=name, rate=st.integers(1, 10_000),
                  per=st.sampled_from(list(TIME_UNITS)[:3]), burst=st.integers(0, 100)),
    ]
    if not kernel:
        opts += [
            st.builds(CtHelper, name=name, type=st.sampled_from(["ftp", "sip", "tftp"]),
                      protocol=st.sampled_from(["tcp", "udp"]),
                      l3proto=st.sampled_from(["ip", "ip6", "inet"])),
            st.builds(CtTimeout, name=name, protocol=st.just("tcp"), l3proto=st.just("ip"),
                      policy=st.lists(st.tuples(
                          st.sampled_from(["established", "close", "syn_sent"]),
                          st.integers(1, 86400)), max_size=3, unique_by=lambda t: t[0]).map(
                          tuple)),
            st.builds(CtExpectation, name=name, protocol=st.sampled_from(["tcp", "udp"]),
                      dport=_PORT, timeout=st.integers(1, 3600).map(lambda s: s * 1000),
                      size=st.integers(1, 100), l3proto=st.just("ip")),
            st.builds(Synproxy, name=name, mss=st.integers(536, 9000),
                      wscale=st.integers(0, 14),
                      flags=st.sets(st.sampled_from(["timestamp", "sack-perm"]))),
            st.builds(Secmark, name=name,
                      context=st.just("system_u:object_r:ssh_server_packet_t:s0")),
        ]
    return st.one_of(opts)


def _unique_by_name(items: list[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item.name not in seen:
            seen.add(item.name)
            out.append(item)
    return out


@st.composite
def tables(
    draw: st.DrawFn,
    family: Family | str | None = None,
    *,
    name: str | None = None,
    kernel: bool = False,
) -> Table:
    """A table with named objects, sets, maps and chains whose rules use them.

    Regular chains only jump forward (to chains later in the table), so there is never a loop.
    """
    fam = Family(family) if family is not None else draw(st.sampled_from(list(Family)))
    objects = _unique_by_name(draw(st.lists(named_objects(kernel=kernel), max_size=3)))
    names = draw(st.lists(identifiers(), max_size=6, unique=True))
    base_names, regular = names[: len(names) // 3], names[len(names) // 3:]
    base = [draw(base_chains(fam, name=n, kernel=kernel)) for n in base_names]
    set_list = _unique_by_name(draw(st.lists(sets(fam, kernel=kernel), max_size=3)))
    taken = {s.name for s in set_list}
    vmaps: list[Map] = []
    if fam in (Family.IP, Family.INET) and regular and draw(st.booleans()):
        m = draw(maps(fam, targets=regular, verdict=True, kernel=kernel))
        if m.name not in taken:
            vmaps.append(m)
            taken.add(m.name)
    other_maps = [m for m in draw(st.lists(maps(fam, verdict=False, kernel=kernel), max_size=2))
                  if m.name not in taken]
    all_sets = _unique_by_name([*set_list, *vmaps, *other_maps])
    vmap_names = [m.name for m in vmaps]
    set_refs = tuple((x.name, x.type[0]) for x in set_list if len(x.type) == 1)
    out: list[Chain] = []
    for c in base:
        rs = draw(st.lists(rules(fam, targets=regular, chain_type=c.type, hook=c.hook,
                                 objects=objects, set_refs=set_refs,
                                 vmaps=vmap_names, kernel=kernel), max_size=3))
        out.append(attrs.evolve(c, rules=tuple(rs)))
    for i, n in enumerate(regular):
        later = regular[i + 1:]
        rs = draw(st.lists(rules(fam, targets=later, objects=objects, set_refs=set_refs,
                                 kernel=kernel), max_size=3))
        out.append(Chain(name=n, rules=tuple(rs)))
    flags = draw(st.sets(st.sampled_from(
        [TableFlag.DORMANT] if kernel else list(TableFlag)), max_size=1))
    return Table(family=fam, name=name if name is not None else draw(identifiers()),
                 flags=flags, comment=draw(st.none() | comments()), chains=out,
                 sets=all_sets, objects=objects)


@st.composite
def rulesets(draw: st.DrawFn, *, max_tables: int = 3, kernel: bool = False) -> Ruleset:
    """A ruleset of up to ``max_tables`` tables (distinct family/name pairs)."""
    ts = draw(st.lists(tables(kernel=kernel), max_size=max_tables))
    seen: set[tuple[str, str]] = set()
    unique = []
    for t in ts:
        if (t.family, t.name) not in seen:
            seen.add((t.family, t.name))
            unique.append(t)
    return Ruleset(tables=unique)


def json_canonical(rs: Ruleset) -> Ruleset:
    """``rs`` as it reads back from JSON, where two spellings of one thing become one:
    libnftables JSON carries base chain priorities as numbers, so ``filter + 10`` comes back
    as ``Priority(value=10)`` (it prints the same), and every base chain has a policy
    (``None`` comes back as ``accept``, the kernel's default)."""

    def chain(c: Chain, fam: Family) -> Chain:
        if not c.is_base:
            return c
        assert c.priority is not None
        return attrs.evolve(c, priority=Priority(value=c.priority.resolve(fam)),
                            policy=c.policy or ChainPolicy.ACCEPT)

    return Ruleset(tables=[attrs.evolve(t, chains=[chain(c, t.family) for c in t.chains])
                           for t in rs.tables])

