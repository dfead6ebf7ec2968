"""The lark transformer: nft text -> libnftables JSON-shaped nodes (the parser's IR).

The grammar's callbacks build exactly the JSON that ``nft -j`` prints for the same text
(``{"match": {"op": "==", "left": {"payload": {...}}, "right": 22}}``), and
``nftkit.parse.json`` turns that into model nodes. Going through the JSON shape means the text
parser produces the very nodes ``from_json`` produces, and every node the model learns to
decode is parsed from text without a second hand-written constructor.

Values are converted the way nft's JSON spells them: ``0x0000000a`` -> ``10``, ``1024-65535``
-> ``{"range": [1024, 65535]}``, ``10.0.0.0/8`` -> ``{"prefix": ...}``, ``"lo"`` -> ``"lo"``;
addresses stay strings here and become ``ipaddress`` objects in the JSON decoder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lark import Token, Transformer

from ..errors import ParseError
from ..model.datatypes import datatype
from ..model.expressions import TUNNELS
from ..model.priority import Priority
from ..nft import selectors
from ..nft.datatypes import BITMASKS
from ..nft.selectors import BITMASK_SELECTORS
from ..nft.symbols import BARE_VERDICTS, BINOP_WORDS, RELOP_WORDS, TCP_OPTION_KINDS, VERDICTS
from . import _values

__all__ = ["Cmd", "Define", "NftTransformer", "TableBlock", "plain", "word_value"]

J = Any  # a JSON-shaped value

_INT = re.compile(r"\d+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_TIME = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?\Z")
#: Selectors whose datatype is a bitmask: an implicit match on them is ``in`` in JSON.
_BITMASK = BITMASK_SELECTORS
_MAX_INT = 1 << 128
#: TCP option kinds nft knows by name (``tcp option 2`` is ``tcp option maxseg``).
_TCPOPT_KINDS = TCP_OPTION_KINDS
_VERDICT_KEYS = frozenset(VERDICTS) | {"queue"}


def _valueish(s: str) -> bool:
    """Whether ``s`` can be one end of a range: a number or an address."""
    return bool(s) and (s[0].isdigit() or ":" in s or s.startswith("0x"))


def word_value(s: str) -> J:
    """One unquoted value word as nft's JSON spells it."""
    if _INT.match(s):
        n = int(s)
        if n >= _MAX_INT:
            raise ValueError(f"number {s[:40]} is too large")
        return n
    if _HEX.match(s):
        if len(s) > 18:
            return s  # wider than 64 bits: nft's JSON keeps it as a hex string
        return int(s, 16)
    if "-" in s:
        low, sep, high = s.partition("-")
        if sep and "-" not in high and _valueish(low) and _valueish(high):
            return {"range": [word_value(low), word_value(high)]}
    if "/" in s:
        addr, _, plen = s.rpartition("/")
        if _INT.match(plen) and _valueish(addr):
            return {"prefix": {"addr": word_value(addr), "len": int(plen)}}
    return str(s)


#: ``aaaa:::accept``: an IPv6 address ending in ``::`` glued to ``:verdict`` (one WORD)
_GLUED_VERDICT = re.compile(r"(.*::):(accept|drop|continue|return)")


def _glued_verdict(s: str) -> J:
    """``{1234::aaaa:::accept}``: nft reads an element word ending in ``:::verdict`` as the
    address ``1234::aaaa::`` mapped to the verdict (the lexer keeps the word whole)."""
    m = _GLUED_VERDICT.fullmatch(s)
    if m is None:
        return s
    return (m[1], {m[2]: None})


#: The most binary operators nested in one expression (``a | b | c ...``; nft's own listings
#: stay far below it).
MAX_EXPR_DEPTH = 128
_BINOPS = frozenset(BINOP_WORDS.values())


def _nested_too_deep(*operands: Any) -> bool:
    """Whether the operands hold more than ``MAX_EXPR_DEPTH - 1`` nested binary operations
    (stops looking there, so a long chain costs O(MAX_EXPR_DEPTH) per operator)."""
    todo = [(x, 1) for x in operands]
    while todo:
        x, depth = todo.pop()
        if type(x) is dict and len(x) == 1:
            ((key, val),) = x.items()
            if key in _BINOPS and type(val) is list:
                if depth >= MAX_EXPR_DEPTH:
                    return True
                todo.extend((v, depth + 1) for v in val)
    return False


def seconds(s: str) -> int:
    """A duration word (``1h30m``, ``45s``, ``500ms``) in whole seconds (ms truncated)."""
    return milliseconds(s) // 1000


def milliseconds(s: str) -> int:
    if _INT.match(s):
        return int(s) * 1000
    m = _TIME.match(s)
    if not m or not s:
        if isinstance(s, Token):  # located, and without the token's repr
            raise ParseError(f"not a time: {str(s)[:40]!r}", line=s.line, column=s.column)
        raise ValueError(f"not a time: {str(s)[:40]!r}")
    d, h, mi, sec, ms = (int(g) if g else 0 for g in m.groups())
    return (((d * 24 + h) * 60 + mi) * 60 + sec) * 1000 + ms


def _times(v: J) -> J:
    """Durations (``30s``, ``1h``, ranges, sets of them) as seconds, the way nft's JSON has
    them; anything else unchanged."""
    if isinstance(v, str):
        try:
            return seconds(v)
        except ValueError:
            return v
    if isinstance(v, dict) and len(v) == 1:
        ((k, body),) = v.items()
        if k == "range":
            return {"range": [_times(x) for x in body]}
        if k == "set":
            return {"set": [_times(x) for x in body]}
    if isinstance(v, list):
        return [_times(x) for x in v]
    return v


_BARE_VERDICTS = BARE_VERDICTS
#: Tunnels whose own header nft >= 1.1 writes with ``"tunnel"`` set (``vxlan vni``; ``gre
#: version`` has none: GRE is a plain header too).
_OWN_TUNNEL = frozenset({"vxlan", "geneve"})


def _split_verdicts(data: J) -> J:
    """``{ 25:accept }``: nft's scanner reads ``25:accept`` as a key and a verdict, the WORD
    token as one word; split such elements of a verdict map (the last ``:`` separates, so
    ``aaaa:::accept`` is ``aaaa:: : accept``)."""
    if not (isinstance(data, dict) and isinstance(data.get("set"), list)):
        return data
    elems: list[J] = []
    for e in data["set"]:
        if isinstance(e, str) and ":" in e:
            key, _, verdict = e.rpartition(":")
            if verdict in _BARE_VERDICTS and key:
                e = (word_value(key), {verdict: None})
        elems.append(e)
    return {**data, "set": elems}


#: An IPv6 NAT target: ``[addr]``, ``[low]-[high]``, each optionally with ``:port[-port]``.
_NAT6 = re.compile(r"\[([^\]]*)\](?:-\[([^\]]*)\])?(?::(.+))?")


def _unword(value: J) -> str | None:
    """The WORD text ``word_value`` made ``value`` from (None for anything else)."""
    if isinstance(value, str):
        return value
    if type(value) is int:
        return str(value)
    if isinstance(value, dict) and set(value) == {"range"}:
        low, high = (_unword(x) for x in value["range"])
        return None if low is None or high is None else f"{low}-{high}"
    return None


def _bitmask_selector(left: J) -> bool:
    """Whether ``left`` is a selector of a bitmask type (``ct state``, ``tcp flags``)."""
    if isinstance(left, dict) and len(left) == 1:
        ((k, body),) = left.items()
        if isinstance(body, dict):
            sel = (k, body.get("key") if k == "ct" else body.get("field"))
            if k == "payload":
                sel = (body.get("protocol"), body.get("field"))
            return sel in _BITMASK and "dir" not in body
    return False


def _or_terms(value: J) -> list[J] | None:
    """The constants of an OR chain ``a | b | c`` (nested ``{"|": [...]}``), else None."""
    if isinstance(value, dict) and set(value) == {"|"}:
        terms: list[J] = []
        for part in value["|"]:
            sub = _or_terms(part)
            if sub is None:
                if isinstance(part, (dict, list)):
                    return None
                terms.append(part)
            else:
                terms.extend(sub)
        return terms
    return None


def _flag_value(op: str, right: J) -> J:
    """A flag list or OR chain on a bitmask selector, in the form the model keeps for ``op``.

    nft reads ``ct state a,b`` and ``ct state a | b`` alike: implicit (``in``) and ``!`` are a
    flag test, ``["a", "b"]`` in its JSON. With ``==``/``!=`` both are one value compared as
    a whole, which nft's JSON writes as the OR chain ``{"|": ["a", "b"]}``; ``!=`` keeps what
    was written (nft lists it as ``ct state != a | b``). ``==`` becomes the flag list, which
    nftkit prints as ``ct state == a | b``: nft lists the OR chain without its ``==``, which
    reads back as the flag test.
    """
    if op == "!=":
        return right
    terms = _or_terms(right)
    return right if terms is None else terms


def _nat_map_ports(body: dict[str, J]) -> None:
    """The ports in the data of a NAT map are ports (``nft -S`` prints them as service names:
    ``dnat to ip daddr map { 10.0.0.1 : 10.1.1.52 . "http" }``), as nft's NAT statement types
    them: the map's data (``to :`` port maps), or the second part of ``addr . port`` data."""
    service = datatype("inet_service")
    port = body.get("port")
    if isinstance(port, dict) and isinstance(port.get("map"), dict):
        m = port["map"]
        body["port"] = {"map": {**m, "data": _map_data(m["data"], lambda d: _values.apply(
            d, service))}}
    addr = body.get("addr")
    if isinstance(addr, dict) and isinstance(addr.get("map"), dict):
        def part(d: J) -> J:
            if isinstance(d, dict) and isinstance(d.get("concat"), list) \
                    and len(d["concat"]) == 2:
                return {"concat": [d["concat"][0], _values.apply(d["concat"][1], service)]}
            return d

        m = addr["map"]
        body["addr"] = {"map": {**m, "data": _map_data(m["data"], part)}}


def _map_data(data: J, fn: Callable[[J], J]) -> J:
    """An anonymous map's elements with ``fn`` applied to their data."""
    if not (isinstance(data, dict) and isinstance(data.get("set"), list)):
        return data
    return {"set": [(e[0], fn(e[1])) if isinstance(e, tuple) and len(e) == 2 else e
                    for e in data["set"]]}


class Define:
    """The value of a ``define``: a JSON-shaped expression (or a verdict)."""

    __slots__ = ("value",)

    def __init__(self, value: J) -> None:
        self.value = value


class Cmd:
    """One script command: ``verb`` (add, create, insert, ...) and JSON-shaped ``obj``."""

    __slots__ = ("extra", "kind", "line", "obj", "verb")

    def __init__(self, verb: str, kind: str, obj: dict[str, J], extra: Any = None,
                 line: int | None = None) -> None:
        self.verb = verb
        self.kind = kind
        self.obj = obj
        self.extra = extra
        self.line = line

    def __repr__(self) -> str:
        return f"Cmd({self.verb} {self.kind} {self.obj!r})"


class TableBlock:
    """``table FAMILY NAME { ... }``: the table and the objects its block declares."""

    __slots__ = ("items", "table")

    def __init__(self, table: dict[str, J], items: list[tuple[str, dict[str, J]]]) -> None:
        self.table = table
        self.items = items


#: JSON values all the way down (tokens become str, tuples lists); one definition, in _values
plain = _values.plain


def _s(tok: Token | str) -> str:
    """A name or string token's text (quotes removed)."""
    if isinstance(tok, Token) and tok.type == "STRING":
        return tok[1:-1]
    return str(tok)


def _handle(tok: Any) -> int | None:
    if isinstance(tok, Token) and tok.type == "HANDLE":
        return int(tok.rsplit(" ", 1)[1])
    return None


def _maybe_list(items: list[J]) -> J:
    return items[0] if len(items) == 1 else items


class _Data:
    """The data part of ``add @m { key : data }`` (kept apart from element statements)."""

    __slots__ = ("value",)

    def __init__(self, value: J) -> None:
        self.value = value


class _Size(_Data):
    __slots__ = ()


class _Index(_Data):
    """``index N``: a 0-based rule position (``position N``/``handle N`` name a handle)."""

    __slots__ = ()


class NftTransformer(Transformer[Token, Any]):
    """Inline transformer: each grammar rule reduces to a JSON-shaped value.

    ``defines`` holds ``define`` values in scope; ``include`` is called for ``include``
    commands and returns the commands of the included file.
    """

    def __init__(self, defines: dict[str, Define] | None = None,
                 include: Callable[[str, Token], list[Any]] | None = None,
                 family: str = "inet") -> None:
        super().__init__(visit_tokens=False)
        self._defines: dict[str, Define] = defines if defines is not None else {}
        self._include = include
        self.default_family = family

    def defines(self) -> dict[str, Define]:
        """The ``define`` values in scope (overridden per parse by nftkit.parse.nft)."""
        return self._defines

    def include_file(self, path: str, tok: Token) -> list[Any]:
        if self._include is None:
            raise ParseError("include is not allowed here", line=tok.line, column=tok.column)
        return self._include(path, tok)

    # --- helpers ---------------------------------------------------------------------------

    def _var(self, tok: Token) -> J:
        name = tok[1:]
        d = self.defines().get(name)
        if d is None:
            raise ParseError(f"unknown variable ${name}", line=tok.line, column=tok.column)
        return d.value

    def _name(self, children: list[Any]) -> str:
        (tok,) = children
        if isinstance(tok, Token) and tok.type == "VARIABLE":
            v = self._var(tok)
            if not isinstance(v, str | int):
                raise ParseError(f"${tok[1:]} is not a name", line=tok.line, column=tok.column)
            return Token.new_borrow_pos("WORD", str(v), tok)
        if tok.type == "STRING":  # keep the position for error messages
            return Token.new_borrow_pos("STRING_VALUE", tok[1:-1], tok)
        return str(tok) if not isinstance(tok, Token) else tok

    def _int(self, tok: Token) -> int:
        v = word_value(str(tok))
        if not isinstance(v, int):
            raise ParseError(f"expected a number, got {str(tok)[:40]!r}", line=tok.line,
                             column=tok.column)
        return v

    # --- values ----------------------------------------------------------------------------

    def word(self, c: list[Token]) -> J:
        v = word_value(c[0])
        if type(v) is dict:  # a range or prefix: its ends are what a check may refuse
            body = v.get("range") or [v["prefix"]["addr"]]
            for x in body:
                _values.remember(x, c[0])
        else:
            _values.remember(v, c[0])
        return v

    def string(self, c: list[Token]) -> J:
        v = c[0][1:-1]
        _values.remember(v, c[0])
        return v

    def variable(self, c: list[Token]) -> J:
        v = self._var(c[0])
        _values.remember(v, c[0])
        return v

    def setref(self, c: list[Token]) -> J:
        return str(c[0])

    def boolean(self, c: list[Any]) -> J:
        # (boolean_kw below has already made its token a bool)
        return c[0] is True or c[0] == "exists"

    def boolean_kw(self, c: list[Token]) -> J:
        return c[0] == "exists"

    def kw_value(self, c: list[Any]) -> J:
        x = c[0]
        if isinstance(x, dict):  # meta_bare already built a selector: take its word back
            return x["meta"]["key"]
        if isinstance(x, Token):
            _values.remember(str(x), x)
        return str(x)

    def wildcard(self, c: list[Token]) -> J:
        return "*"

    def name(self, c: list[Any]) -> str:
        return self._name(c)

    def rhs(self, c: list[J]) -> J:
        return _maybe_list(c)

    def concat(self, c: list[J]) -> J:
        if len(c) == 1:
            return c[0]
        flat: list[J] = []
        for x in c:
            if isinstance(x, dict) and "concat" in x:
                flat.extend(x["concat"])
            else:
                flat.append(x)
        return {"concat": flat}

    def binop(self, c: list[Any]) -> J:
        left, op, right = c
        if _nested_too_deep(left, right):
            # nft has no limit, but the model, the renderers and the JSON codecs recurse once
            # per level: a bound here keeps a hostile rule from exhausting the stack later
            raise ParseError(f"expression nested too deeply (more than {MAX_EXPR_DEPTH} "
                             "operators in a row)", line=getattr(op, "line", None),
                             column=getattr(op, "column", None))
        op = str(op)
        if op in ("&", "|", "^") and isinstance(left, dict) and _values.is_flags(left):
            # a flag selector's mask has the selector's type: tcp flags & (syn | ack), and
            # nft -n prints it in numbers (0x2 | 0x10); elsewhere the operand is a plain
            # number (ct mark set ip dscp << 2 | 0x10 is not cs2)
            right = self._typed(left, right)
        return {op: [left, right]}

    def binop_kw(self, c: list[Token]) -> str:
        op = str(c[0])
        op = BINOP_WORDS.get(op, op)
        return Token.new_borrow_pos("BINOP", op, c[0])  # a str that knows where it was

    or_kw = xor_kw = and_kw = shift_kw = binop_kw

    def range(self, c: list[J]) -> J:
        return {"range": [c[0], c[1]]}

    def relop(self, c: list[Token]) -> str:
        op = str(c[0])
        # ``!`` stays itself: nft's OP_NEG, "none of these flags" (``tcp flags ! fin,rst``),
        # which its JSON writes as op "!"; it is not ``!=``.
        return RELOP_WORDS.get(op, op)

    def set_expr(self, c: list[J]) -> J:
        elems: list[J] = []
        for e in c:
            # a set-valued define inside a set is merged, as nft does: { $ports, 8080 }
            if isinstance(e, dict) and "set" in e and len(e) == 1:
                elems.extend(e["set"])
            elif type(e) is str and ":::" in e:
                elems.append(_glued_verdict(e))
            else:
                elems.append(e)
        return {"set": elems}

    def elem_key(self, c: list[Any]) -> J:
        if len(c) == 1:
            return c[0]
        return {"elem": self._elem(c[0], c[1:])}

    @staticmethod
    def _elem(val: J, opts: list[Any]) -> dict[str, J]:
        """``{"val": ..., "timeout": 30, "counter": {...}}``: options and statements."""
        elem: dict[str, J] = {"val": val}
        for opt in opts:
            if isinstance(opt, tuple):
                elem[opt[0]] = opt[1]
            else:  # a statement: {"counter": {...}}
                elem.update(opt)
        return elem

    def map_elem(self, c: list[J]) -> J:
        return (c[0], c[1])  # a tuple: a map element, never a flag list

    def elem_timeout(self, c: list[Token]) -> tuple[str, J]:
        return ("timeout", seconds(c[0]))

    def elem_expires(self, c: list[Token]) -> tuple[str, J]:
        return ("expires", seconds(c[0]))

    def elem_comment(self, c: list[Token]) -> tuple[str, J]:
        return ("comment", _s(c[0]))

    def map_data(self, c: list[Any]) -> J:
        (x,) = c
        if isinstance(x, Token):
            return self._var(x) if x.type == "VARIABLE" else str(x)
        return x

    def map_expr(self, c: list[J]) -> J:
        return {"map": {"key": c[0], "data": self._typed(c[0], c[1])}}

    # --- selectors -------------------------------------------------------------------------

    def field(self, c: list[Any]) -> str:
        x = c[0]
        if isinstance(x, dict):  # meta_bare already built a selector: take its word back
            return str(x["meta"]["key"])
        return str(x)

    def proto(self, c: list[Token]) -> Token:
        return c[0]  # (a token: tunnel_payload's error points at it)

    def payload(self, c: list[Any]) -> J:
        proto = str(c[0])
        if proto in _OWN_TUNNEL:  # vxlan vni: nft >= 1.1 marks the tunnel's own header too
            return {"payload": {"protocol": proto, "field": str(c[1]), "tunnel": proto}}
        return {"payload": {"protocol": proto, "field": str(c[1])}}

    def tunnel_payload(self, c: list[Any]) -> J:
        """``vxlan ip saddr``: a header inside a tunnel (nft >= 1.1)."""
        tunnel, inner = str(c[0]), c[1]
        if tunnel not in TUNNELS:
            raise ParseError(f"{tunnel} is not a tunnel (one of: {', '.join(sorted(TUNNELS))})",
                             line=getattr(c[0], "line", None),
                             column=getattr(c[0], "column", None))
        return {"payload": {**inner["payload"], "tunnel": tunnel}}

    def payload_ip(self, c: list[Token]) -> J:
        return {"payload": {"protocol": "ip", "field": str(c[0])}}

    def payload_ip6(self, c: list[Token]) -> J:
        return {"payload": {"protocol": "ip6", "field": str(c[0])}}

    def payload_tcp(self, c: list[Token]) -> J:
        return {"payload": {"protocol": "tcp", "field": str(c[0])}}

    def payload_arp(self, c: list[Token]) -> J:
        """``arp saddr ip``: the field is two words, as in nft's JSON (``"saddr ip"``)."""
        return {"payload": {"protocol": "arp", "field": " ".join(str(c[0]).split())}}

    def raw_payload(self, c: list[Token]) -> J:
        base, offset, length = c[0][1:].split(",")
        return {"payload": {"base": base, "offset": int(offset), "len": int(length)}}

    def meta(self, c: list[Token]) -> J:
        return {"meta": {"key": str(c[0])}}

    def meta_bare(self, c: list[Any]) -> J:
        return {"meta": {"key": str(c[0])}}

    def ct(self, c: list[Any]) -> J:
        body: dict[str, J] = {"key": str(c[-1])}
        for x in c[:-1]:
            if x in ("original", "reply"):
                body["dir"] = str(x)
            else:
                body["family"] = str(x)
        return {"ct": body}

    def ct_dir(self, c: list[Token]) -> str:
        return str(c[0])

    def ct_key(self, c: list[Token]) -> str:
        return str(c[0])

    def fam_ip(self, c: list[Token]) -> str:
        return "ip"

    def fam_ip6(self, c: list[Token]) -> str:
        return "ip6"

    def tcp_option(self, c: list[Token]) -> J:
        name = str(c[0])
        if _INT.match(name) and len(c) == 1:
            # ``tcp option 6 exists``: a kind by number is its name where nft has one
            # (``2`` is ``maxseg``), else the kind's first byte, as nft's JSON has it
            kind = int(name)
            if kind in _TCPOPT_KINDS:
                return {"tcp option": {"name": _TCPOPT_KINDS[kind]}}
            if kind <= 255:
                return {"tcp option": {"base": kind, "offset": 0, "len": 8}}
        body = {"name": name}
        if len(c) > 1:
            body["field"] = str(c[1])
        return {"tcp option": body}

    def tcp_option_raw(self, c: list[Token]) -> J:
        base, offset, length = c[0][1:].split(",")
        return {"tcp option": {"base": int(base), "offset": int(offset), "len": int(length)}}

    def ip_option(self, c: list[Token]) -> J:
        body = {"name": str(c[0])}
        if len(c) > 1:
            body["field"] = str(c[1])
        return {"ip option": body}

    def sctp_chunk(self, c: list[Token]) -> J:
        body = {"name": str(c[0])}
        if len(c) > 1:
            body["field"] = str(c[1])
        return {"sctp chunk": body}

    def dccp_option(self, c: list[Token]) -> J:
        return {"dccp option": {"type": self._int(c[0])}}

    def exthdr_kw(self, c: list[Token]) -> str:
        return str(c[0])

    def exthdr(self, c: list[Any]) -> J:
        return {"exthdr": {"name": str(c[0]), "field": str(c[1])}}

    def exthdr_exists(self, c: list[Token]) -> J:
        return {"exthdr": {"name": str(c[0])}}

    def numgen(self, c: list[Token]) -> J:
        body: dict[str, J] = {"mode": str(c[0]), "mod": self._int(c[1]), "offset": 0}
        if len(c) > 2:
            body["offset"] = self._int(c[2])
        return {"numgen": body}

    def jhash(self, c: list[Any]) -> J:
        body: dict[str, J] = {"mod": self._int(c[1]), "expr": c[0]}
        body.update(c[2:])
        return {"jhash": body}

    def hash_seed(self, c: list[Token]) -> tuple[str, J]:
        return ("seed", self._int(c[0]))

    def hash_offset(self, c: list[Token]) -> tuple[str, J]:
        return ("offset", self._int(c[0]))

    def symhash(self, c: list[Token]) -> J:
        body: dict[str, J] = {"mod": self._int(c[0])}
        if len(c) > 1:
            body["offset"] = self._int(c[1])
        return {"symhash": body}

    def fib_flags(self, c: list[Token]) -> list[str]:
        return [str(x) for x in c]

    def fib(self, c: list[Any]) -> J:
        return {"fib": {"result": str(c[1]), "flags": c[0]}}

    def rt(self, c: list[Any]) -> J:
        key = str(c[-1])
        if key in selectors.RT_HEADER_FIELDS:
            return {"exthdr": {"name": "rt", "field": key}}
        body: dict[str, J] = {"key": key}
        if len(c) > 1:
            body["family"] = c[0]
        return {"rt": body}

    def socket(self, c: list[Token]) -> J:
        body: dict[str, J] = {"key": str(c[0])}
        if len(c) > 1:
            body["level"] = self._int(c[1])
        return {"socket": body}

    def osf(self, c: list[Token]) -> J:
        body: dict[str, J] = {"key": str(c[-1])}
        if len(c) > 1:
            body["ttl"] = str(c[0])
        return {"osf": body}

    def ipsec(self, c: list[Any]) -> J:
        body: dict[str, J] = {"key": str(c[-1]), "dir": str(c[0])}
        for x in c[1:-1]:
            if x in ("ip", "ip6"):
                body["family"] = x
            else:
                body["spnum"] = self._int(x)
        return {"ipsec": body}

    # --- statements ------------------------------------------------------------------------

    @staticmethod
    def _implicit_op(left: J, right: J) -> str:
        if isinstance(right, dict) and ("set" in right or "range" in right or "prefix" in right):
            return "=="
        if isinstance(right, str) and right.startswith("@"):
            return "=="
        return "in" if _bitmask_selector(left) else "=="

    def match_op(self, c: list[J]) -> J:
        left, op, right = c
        if op == "!" and not _bitmask_selector(left):
            dt = _values.lhs_datatype(left)
            if dt is not None and dt.name not in BITMASKS:
                # nft: "negation can only be used with singleton bitmask values"
                tok = _values.locate(right)
                raise ParseError(f"! (none of these flags) needs a bitmask type, not {dt.name}",
                                 line=None if tok is None else tok.line,
                                 column=None if tok is None else tok.column,
                                 expected=("==", "!="))
        return self._match(left, op, right)

    @staticmethod
    def _typed(left: J, value: J) -> J:
        """``value`` checked against the datatype of ``left`` and normalised as nft stores it
        (``ssh`` -> ``22``; ``nft -n``'s numbers -> symbols): see ``nftkit.parse._values``."""
        dt = _values.lhs_datatype(left)
        return value if dt is None else _values.apply(value, dt)

    def _match(self, left: J, op: str, right: J) -> J:
        if isinstance(left, dict) and "ct" in left and left["ct"].get("key") == "expiration":
            right = _times(right)  # a time: nft's JSON has whole seconds
        right = self._typed(left, right)
        if _bitmask_selector(left):
            right = _flag_value(op, right)
        if isinstance(left, dict) and "fib" in left and type(right) is int \
                and left["fib"].get("result") in ("oif", "iif"):
            right = str(right)  # an interface index: nft's JSON writes it as a string
        if isinstance(left, dict) and "ct" in left and left["ct"].get("key") == "count" \
                and len(left["ct"]) == 1 and isinstance(right, int):
            return {"ct count": {"val": right}}
        return {"match": {"op": op, "left": left, "right": right}}

    def match_implicit(self, c: list[J]) -> J:
        left, right = c
        return self._match(left, self._implicit_op(left, right), right)

    def match_mask(self, c: list[J]) -> J:
        left, value, mask = c[0], c[1], c[2]
        return self.match_mask_op([left, "==", value, mask])

    def match_mask_op(self, c: list[J]) -> J:
        left, op, value, mask = c
        if op == "!":  # nft refuses ``! v / mask`` ("either == or != is allowed")
            op = "!="
        value, mask = self._typed(left, [value, mask])
        return {"match": {"op": op, "left": {"&": [left, mask]}, "right": value}}

    def exthdr_bool(self, c: list[Token]) -> J:
        """``exthdr hbh 1``: nft's older spelling of ``exthdr hbh exists`` (``0``: missing)."""
        if str(c[1]) not in ("0", "1"):
            raise ParseError(f"{str(c[1])[:40]!r} is not a boolean (exists, missing, 1 or 0)",
                             line=c[1].line, column=c[1].column)
        return {"match": {"op": "==", "left": {"exthdr": {"name": str(c[0])}},
                          "right": str(c[1]) == "1"}}

    def match_exists(self, c: list[J]) -> J:
        left = c[0]
        op = c[1] if len(c) == 3 else "=="
        return {"match": {"op": op, "left": left, "right": c[-1]}}

    def mangle(self, c: list[J]) -> J:
        key, value = c
        if isinstance(value, Token):  # SET_PROTO: ``ip protocol set icmp``
            value = self.kw_value([value])
        if isinstance(key, dict) and "ct" in key and len(key["ct"]) == 1 \
                and key["ct"]["key"] in ("helper", "timeout", "expectation"):
            return {f"ct {key['ct']['key']}": value}
        return {"mangle": {"key": key, "value": self._typed(key, value)}}

    def mangle_list(self, c: list[J]) -> J:
        """``ct event set new,destroy``: a flag list."""
        return self.mangle([c[0], list(c[1:])])

    def vmap(self, c: list[J]) -> J:
        return {"vmap": {"key": c[0], "data": self._typed(c[0], _split_verdicts(c[1]))}}

    def var_stmt(self, c: list[Token]) -> J:
        """``$v`` where a statement stands: the define must hold a verdict."""
        v = self._var(c[0])
        if not (isinstance(v, dict) and len(v) == 1 and next(iter(v)) in _VERDICT_KEYS):
            raise ParseError(f"${c[0][1:]} is not a verdict or statement", line=c[0].line,
                             column=c[0].column)
        return v

    def verdict_kw(self, c: list[Token]) -> str:
        return str(c[0])

    def jump_kw(self, c: list[Token]) -> str:
        return str(c[0])

    def verdict(self, c: list[str]) -> J:
        return {c[0]: None}

    def jump(self, c: list[Any]) -> J:
        kind, target = c
        if isinstance(target, str):
            return {kind: {"target": str(target)}}
        # a bound chain, jump { ... }: nft has no JSON form for it, so build the node here
        from ..model.ruleset import ChainStmt
        from .json import JsonDecoder, decode_rule

        dec = JsonDecoder()
        rules = []
        for item in target[1]:
            if not isinstance(item, dict):
                raise ParseError("an anonymous chain holds only rules")
            rules.append(decode_rule(dec, {"expr": plain(item["expr"]),
                                           "comment": item.get("comment")}))
        return ChainStmt(kind=kind, rules=tuple(rules))  # type: ignore[arg-type]

    def counter_stmt(self, c: list[Any]) -> J:
        if not c:
            return {"counter": None}
        return {"counter": c[0]}

    def counter_values(self, c: list[Token]) -> J:
        return {"packets": self._int(c[0]), "bytes": self._int(c[1])}

    def counter_values_rev(self, c: list[Token]) -> J:
        return {"packets": self._int(c[1]), "bytes": self._int(c[0])}

    def counter_name(self, c: list[J]) -> J:
        return c[0]

    def log_stmt(self, c: list[tuple[str, J]]) -> J:
        if not c:
            return {"log": None}
        body: dict[str, J] = {}
        for k, v in c:
            if k == "flags":
                body.setdefault("flags", []).extend(v)
            else:
                body[k] = v
        if "flags" in body and len(body["flags"]) == 1:
            body["flags"] = body["flags"][0]
        return {"log": body}

    def log_prefix(self, c: list[Token]) -> tuple[str, J]:
        tok = c[0]
        return ("prefix", self._var(tok) if tok.type == "VARIABLE" else _s(tok))

    def log_level(self, c: list[Token]) -> tuple[str, J]:
        return ("level", str(c[0]))

    def log_group(self, c: list[Token]) -> tuple[str, J]:
        return ("group", self._int(c[0]))

    def log_snaplen(self, c: list[Token]) -> tuple[str, J]:
        return ("snaplen", self._int(c[0]))

    def log_threshold(self, c: list[Token]) -> tuple[str, J]:
        return ("queue-threshold", self._int(c[0]))

    def log_flag(self, c: list[Token]) -> str:
        return " ".join(str(x) for x in c)

    def log_flags(self, c: list[str]) -> tuple[str, J]:
        # "tcp sequence,options" is "tcp sequence" and "tcp options"
        flags: list[str] = []
        prefix = ""
        for f in c:
            for part in f.split(","):
                if " " in part:
                    prefix = part.split(" ", 1)[0] + " "
                elif prefix and part in ("options", "sequence"):
                    part = prefix + part
                flags.append(part)
        return ("flags", flags)

    def over(self, c: list[Token]) -> str:
        return str(c[0])

    def limit_stmt(self, c: list[Any]) -> J:
        inv = bool(c) and not isinstance(c[0], Token) and not isinstance(c[0], tuple)
        args = list(c[1:] if inv else c)
        burst = args.pop() if args and isinstance(args[-1], tuple) else None
        rate_word = str(args[0])
        body: dict[str, J] = {}
        if len(args) == 2:  # "10 mbytes/second"
            unit, _, per = str(args[1]).partition("/")
            body["rate"] = self._int(args[0])
            body["per"] = per
            body["rate_unit"] = unit
        else:
            rate, _, per = rate_word.partition("/")
            body["rate"] = self._int(Token("WORD", rate))
            body["per"] = per
        if burst is not None:
            body["burst"] = burst[0]
            if burst[1] != "packets":
                body["burst_unit"] = burst[1]
        else:
            body["burst"] = 0 if "rate_unit" in body else 5
        if inv:
            body["inv"] = True
        return {"limit": body}

    def limit_spaced(self, c: list[Any]) -> J:
        """``limit rate 1 kbytes / second``: the unit and period written apart."""
        i = 0 if isinstance(c[0], Token) else 1
        unit = Token.new_borrow_pos("WORD", f"{c[i + 1]}/{c[i + 2]}", c[i + 1])
        return self.limit_stmt([*c[:i + 1], unit, *c[i + 3:]])

    def limit_burst(self, c: list[Token]) -> tuple[int, str]:
        return (self._int(c[0]), str(c[1]))

    def limit_name(self, c: list[J]) -> J:
        return {"limit": c[0]}

    def quota_stmt(self, c: list[Any]) -> J:
        inv = bool(c) and not isinstance(c[0], Token)
        args = c[1:] if inv else c
        body: dict[str, J] = {"val": self._int(args[0]), "val_unit": str(args[1])}
        if len(args) > 2:
            body["used"] = self._int(args[2])
            body["used_unit"] = str(args[3])
        if inv:
            body["inv"] = True
        return {"quota": body}

    def quota_name(self, c: list[J]) -> J:
        return {"quota": c[0]}

    def reject(self, c: list[Any]) -> J:
        return {"reject": None}

    def reject_kind(self, c: list[Token]) -> str:
        return str(c[0])

    def reject_with(self, c: list[Any]) -> J:
        code: J = str(c[1])
        if code.isdigit():  # nft -n prints the code as a number: reject with icmpv6 4
            dt = datatype(f"{'icmpx' if c[0] == 'icmpx' else c[0]}_code")
            code = _values.apply(int(code), dt)
        return {"reject": {"type": c[0], "expr": str(code)}}

    def reject_tcp(self, c: list[Any]) -> J:
        return {"reject": {"type": "tcp reset"}}

    def snat_kw(self, c: list[Token]) -> str:
        return str(c[0])

    def masq_kw(self, c: list[Token]) -> str:
        return str(c[0])

    def nat_to(self, c: list[J]) -> tuple[str, J]:
        return ("to", c[0])

    def nat_prefix(self, c: list[J]) -> tuple[str, J]:
        return ("prefix", c[0])

    def nat_port(self, c: list[J]) -> tuple[str, J]:
        return ("port", c[0])

    def nat_flags(self, c: list[Token]) -> list[str]:
        return [str(x) for x in c]

    @staticmethod
    def _split_port(value: J) -> tuple[J, J]:
        """A NAT target as (addr, port): ``10.0.0.1:80``, ``10.0.0.1-10.0.0.5:80-100``,
        ``[::1]:80``, ``[::1]-[::5]:80-100``; maps, selectors and bare addresses unchanged.

        The target is one WORD token, which ``word_value`` may already have cut at its first
        ``-`` (``10.0.0.1:80-100`` as the "range" ``10.0.0.1:80``..``100``): rejoin it first.
        """
        text = _unword(value)
        if text is None:
            return value, None
        if text.startswith("["):
            m = _NAT6.fullmatch(text)
            if m is None:
                return value, None
            low, high, port = m.groups()
            addr: J = {"range": [low, high]} if high is not None else low
            return addr, None if port is None else word_value(port)
        if text.count(":") == 1:
            a, _, p = text.partition(":")
            return word_value(a) if a else None, word_value(p)
        return value, None

    def nat_stmt(self, c: list[Any]) -> J:
        kind = c[0]
        body: dict[str, J] = {}
        flags: list[str] = []
        for x in c[1:]:
            if x in ("ip", "ip6"):
                body["family"] = x
            elif isinstance(x, tuple):
                how, value = x
                if how == "port":
                    body["port"] = value
                else:
                    if how == "prefix":  # nft >= 1.1 JSON; 1.0.6 only has the netmap flag
                        body.setdefault("type_flags", []).append("prefix")
                        flags.append("netmap")
                    addr, port = self._split_port(value)
                    if addr is not None:
                        body["addr"] = addr
                    if port is not None:
                        body["port"] = port
            else:
                flags.extend(x)
        if flags:
            body["flags"] = _maybe_list(flags)
        if "type_flags" in body:
            body["type_flags"] = _maybe_list(body["type_flags"])
        _nat_map_ports(body)
        return {kind: body or None}

    def set_op(self, c: list[Token]) -> str:
        return str(c[0])

    def set_data(self, c: list[J]) -> Any:
        return _Data(c[0])

    def set_stmt(self, c: list[Any]) -> J:
        op, ref, key = str(c[0]), str(c[1]), c[2]
        rest = c[3:]
        data = [x.value for x in rest if isinstance(x, _Data)]
        stmts = [x for x in rest if isinstance(x, dict)]
        others = [x for x in rest if isinstance(x, tuple)]
        elem = {"elem": self._elem(key, others)} if others else key
        if data:
            body: dict[str, J] = {"op": op, "elem": elem, "data": data[0], "map": ref}
            if stmts:
                body["stmt"] = stmts
            return {"map": body}
        body = {"op": op, "elem": elem, "set": ref}
        if stmts:
            body["stmt"] = stmts
        return {"set": body}

    def meter_size(self, c: list[Token]) -> Any:
        return _Size(self._int(c[0]))

    def meter_stmt(self, c: list[Any]) -> J:
        name = c[0]
        rest = c[1:]
        size = None
        if rest and isinstance(rest[0], _Size):
            size = rest[0].value
            rest = rest[1:]
        key = rest[0]
        stmts = [x for x in rest[1:] if isinstance(x, dict)]
        others = [x for x in rest[1:] if isinstance(x, tuple)]
        body: dict[str, J] = {"key": {"elem": self._elem(key, others)} if others else key,
                              "stmt": _maybe_list(stmts) if stmts else None, "name": name}
        if size is not None:
            body["size"] = size
        return {"meter": body}

    def synproxy_objref(self, c: list[J]) -> J:
        return {"synproxy": c[0]}

    def secmark_objref(self, c: list[J]) -> J:
        if isinstance(c[0], str):  # meta secmark set "name": a reference to a named secmark
            return {"secmark": c[0]}
        return {"mangle": {"key": {"meta": {"key": "secmark"}}, "value": c[0]}}

    def notrack_stmt(self, c: list[Any]) -> J:
        return {"notrack": None}

    def queue_stmt(self, c: list[tuple[str, J]]) -> J:
        body: dict[str, J] = {}
        for k, v in c:
            body[k] = v
        return {"queue": body or None}

    def queue_num(self, c: list[Any]) -> tuple[str, J]:
        v = c[0]
        return ("num", word_value(v) if isinstance(v, Token) else v)

    def queue_flag(self, c: list[Token]) -> str:
        return str(c[0])

    def queue_flags(self, c: list[list[str]]) -> tuple[str, J]:
        return ("flags", _maybe_list(c[0]))

    def queue_bare_flags(self, c: list[str]) -> tuple[str, J]:
        return ("flags", _maybe_list(c))

    def flag_list(self, c: list[Token]) -> list[str]:
        return [str(x) for x in c]

    def dup_stmt(self, c: list[J]) -> J:
        body: dict[str, J] = {"addr": c[0]}
        if len(c) > 1:
            body["dev"] = c[1]
        return {"dup": body}

    def fwd_stmt(self, c: list[J]) -> J:
        body: dict[str, J] = {}
        rest = list(c)
        if rest and rest[0] in ("ip", "ip6"):
            body["family"] = rest.pop(0)
        if len(rest) == 1:
            body["dev"] = rest[0]
        else:
            body["addr"], body["dev"] = rest[0], rest[1]
        return {"fwd": body}

    def tproxy_stmt(self, c: list[J]) -> J:
        body: dict[str, J] = {}
        rest = list(c)
        if rest and rest[0] in ("ip", "ip6"):
            body["family"] = rest.pop(0)
        addr, port = self._split_port(rest[0])
        if addr is not None:
            body["addr"] = addr
        if port is not None:
            body["port"] = port
        return {"tproxy": body}

    def tproxy_port(self, c: list[J]) -> J:
        body: dict[str, J] = {}
        rest = list(c)
        if rest and rest[0] in ("ip", "ip6"):
            body["family"] = rest.pop(0)
        body["port"] = rest[0]
        return {"tproxy": body}

    def tproxy_addr_port(self, c: list[Any]) -> J:
        """``tproxy ip to 127.0.0.1:symhash mod 2 map { 0 : 23, 1 : 42 }``."""
        body: dict[str, J] = {}
        rest = list(c)
        if rest and rest[0] in ("ip", "ip6"):
            body["family"] = rest.pop(0)
        body["addr"] = word_value(str(rest[0])[:-1].strip("[]"))
        body["port"] = rest[1]
        return {"tproxy": body}

    def synproxy_stmt(self, c: list[tuple[str, J]]) -> J:
        body: dict[str, J] = {}
        for k, v in c:
            if k == "flags":
                body.setdefault("flags", []).append(v)
            else:
                body[k] = v
        return {"synproxy": body or None}

    def sp_mss(self, c: list[Token]) -> tuple[str, J]:
        return ("mss", self._int(c[0]))

    def sp_wscale(self, c: list[Token]) -> tuple[str, J]:
        return ("wscale", self._int(c[0]))

    def sp_flag_kw(self, c: list[Token]) -> str:
        return str(c[0])

    def sp_flag(self, c: list[str]) -> tuple[str, J]:
        return ("flags", c[0])

    def flow_stmt(self, c: list[Token]) -> J:
        return {"flow": {"op": str(c[0]), "flowtable": str(c[1])}}

    def last_stmt(self, c: list[Token]) -> J:
        if not c or c[0] == "never":
            return {"last": None}
        return {"last": {"used": milliseconds(c[0])}}

    def ct_over(self, c: list[Token]) -> str:
        return str(c[0])

    def ct_count_stmt(self, c: list[Any]) -> J:
        if len(c) == 2:
            return {"ct count": {"val": self._int(c[1]), "inv": True}}
        return {"ct count": {"val": self._int(c[0])}}

    def reset_stmt(self, c: list[Token]) -> J:
        name = str(c[0])
        if _INT.match(name) and int(name) <= 255:
            # ``reset tcp option 2`` is ``maxseg``; a kind nft has no name for is the whole
            # option, which nft's JSON writes as the kind with length 0
            kind = int(name)
            if kind not in _TCPOPT_KINDS:
                return {"reset": {"tcp option": {"base": kind, "offset": 0, "len": 0}}}
            name = _TCPOPT_KINDS[kind]
        return {"reset": {"tcp option": {"name": name}}}

    def rule_comment(self, c: list[Token]) -> tuple[str, str]:
        return ("comment", _s(c[0]))

    def rule(self, c: list[Any]) -> dict[str, J]:
        _values.forget()  # (the rule's values are checked: their tokens are not needed)
        stmts: list[J] = []
        rule: dict[str, J] = {}
        for x in c:
            if isinstance(x, Token):
                rule["handle"] = _handle(x)
            elif isinstance(x, tuple):
                rule["comment"] = x[1]
            else:
                stmts.append(x)
        rule["expr"] = stmts
        return rule


    # --- blocks ----------------------------------------------------------------------------
    # (see nftkit/parse/nft.py for how these items become tables, chains and sets)

    def family(self, c: list[Token]) -> str:
        return str(c[0])

    def set_kw(self, c: list[Token]) -> str:
        return str(c[0])

    def ct_obj(self, c: list[Token]) -> str:
        return str(c[0])

    def obj_kind(self, c: list[Any]) -> str:
        return " ".join(str(x) for x in c)

    def table_body(self, c: list[Any]) -> tuple[int | None, list[Any]]:
        handle = _handle(c[0]) if c and isinstance(c[0], Token) else None
        return handle, [x for x in c if not isinstance(x, Token)]

    chain_body = table_body

    def set_body(self, c: list[Any]) -> tuple[int | None, list[Any]]:
        """A set's items, its elements checked against and normalised to its type (``type
        inet_proto; elements = { 6 }`` from ``nft -n`` is ``tcp``, as nft prints it)."""
        handle, items = self.table_body(c)
        out: list[Any] = []
        for x in items:
            if isinstance(x, tuple) and x[0] == "elem":
                x = ("elem", _values.set_elements(items, x[1]))
            out.append(x)
        return handle, out

    object_body = table_body

    def table_flags(self, c: list[list[str]]) -> tuple[str, J]:
        return ("flags", c[0])

    def table_comment(self, c: list[Token]) -> tuple[str, J]:
        return ("comment", _s(c[0]))

    def chain_block(self, c: list[Any]) -> tuple[str, J]:
        return ("chain", (c[0], c[1]))

    def set_block(self, c: list[Any]) -> tuple[str, J]:
        return (c[0], (c[1], c[2]))

    def flowtable_block(self, c: list[Any]) -> tuple[str, J]:
        return ("flowtable", (c[0], c[1]))

    def object_block(self, c: list[Any]) -> tuple[str, J]:
        return (c[0], (c[1], c[2]))

    def chain_spec(self, c: list[Any]) -> tuple[str, J]:
        spec: dict[str, J] = {"type": str(c[0]), "hook": str(c[1])}
        rest = c[2:]
        if len(rest) == 2:
            spec["dev"] = rest[0]
        spec["prio"] = rest[-1]
        return ("spec", spec)

    def device_spec(self, c: list[Any]) -> J:
        return c[0] if isinstance(c[0], list) else [c[0]]

    def dev_list(self, c: list[Any]) -> J:
        if len(c) == 1 and isinstance(c[0], Token):
            v = self._var(c[0])
            return v["set"] if isinstance(v, dict) and "set" in v else [v]
        return [str(x) for x in c]

    def prio_op(self, c: list[Token]) -> str:
        return str(c[0])

    def prio_spec(self, c: list[Any]) -> J:
        if len(c) == 1 and isinstance(c[0], Token) and c[0].type == "VARIABLE":
            v = self._var(c[0])
            return v if isinstance(v, int) else str(v)
        text = " ".join(str(x) for x in c)
        try:
            return Priority.parse(text)
        except Exception as exc:  # ValidationError: a bad name or number
            raise ParseError(str(exc), line=c[0].line, column=c[0].column) from None

    def chain_policy(self, c: list[Token]) -> tuple[str, J]:
        tok = c[0]
        return ("policy", str(self._var(tok)) if tok.type == "VARIABLE" else str(tok))

    def chain_comment(self, c: list[Token]) -> tuple[str, J]:
        return ("comment", _s(c[0]))

    def chain_devices(self, c: list[Any]) -> tuple[str, J]:
        return ("dev", c[0])

    def chain_flags(self, c: list[list[str]]) -> tuple[str, J]:
        return ("flags", c[0])

    def set_type(self, c: list[Token]) -> J:
        return _maybe_list([str(x) for x in c])

    def typeof_expr(self, c: list[J]) -> J:
        if isinstance(c[0], str):  # typeof ip saddr : verdict (a type name, not a selector)
            return str(c[0])
        return {"typeof": c[0]}

    def set_type_spec(self, c: list[J]) -> tuple[str, J]:
        return ("type", c)

    set_typeof_spec = set_type_spec

    def set_flags(self, c: list[list[str]]) -> tuple[str, J]:
        return ("flags", c[0])

    def set_timeout(self, c: list[Token]) -> tuple[str, J]:
        return ("timeout", seconds(c[0]))

    def set_gc_interval(self, c: list[Token]) -> tuple[str, J]:
        return ("gc-interval", seconds(c[0]))

    def set_size(self, c: list[Token]) -> tuple[str, J]:
        return ("size", self._int(c[0]))

    def set_policy(self, c: list[Token]) -> tuple[str, J]:
        return ("policy", str(c[0]))

    def set_auto_merge(self, c: list[Token]) -> tuple[str, J]:
        return ("auto-merge", True)

    def set_comment(self, c: list[Token]) -> tuple[str, J]:
        return ("comment", _s(c[0]))

    def set_elements(self, c: list[J]) -> tuple[str, J]:
        return ("elem", c[0]["set"])

    def set_stmts(self, c: list[J]) -> tuple[str, J]:
        return ("stmt", [s for s in c])

    def obj_line(self, c: list[Any]) -> list[Any]:
        return c

    def obj_kw(self, c: list[Token]) -> str:
        return str(c[0])

    def obj_sign(self, c: list[Token]) -> str:
        return str(c[0])

    def obj_eq(self, c: list[Any]) -> str:
        return "="

    def obj_set(self, c: list[Any]) -> J:
        return {"objset": c}

    def obj_set_item(self, c: list[Token]) -> list[str]:
        return [_s(x) for x in c]

    # --- commands --------------------------------------------------------------------------

    def table_id(self, c: list[Any]) -> dict[str, J]:
        if len(c) == 2:
            return {"family": c[0], "name": c[1]}
        return {"family": "ip", "name": c[0]}

    def chain_id(self, c: list[Any]) -> dict[str, J]:
        if len(c) == 3:
            return {"family": c[0], "table": c[1], "name": c[2]}
        return {"family": "ip", "table": c[0], "name": c[1]}

    def set_id(self, c: list[Any]) -> dict[str, J]:
        return dict(c[0])

    def position(self, c: list[Token]) -> int:
        return self._int(c[0])

    def index(self, c: list[Token]) -> _Index:
        return _Index(self._int(c[0]))

    def rule_spec(self, c: list[Any]) -> dict[str, J]:
        cid, rule = c[0], c[-1]
        out: dict[str, J] = {"family": cid["family"], "table": cid["table"],
                             "chain": cid["name"], **rule}
        if len(c) == 3 and isinstance(c[1], _Index):
            out["index"] = c[1].value
        elif len(c) == 3:
            out["position"] = c[1]
        return out

    def add_table(self, c: list[Any]) -> Any:
        tid = c[0]
        if len(c) == 1:
            return Cmd("add", "table", tid)
        handle, items = c[1]
        return TableBlock({**tid, "handle": handle}, items)

    def add_chain(self, c: list[Any]) -> Cmd:
        return Cmd("add", "chain", c[0], c[1] if len(c) > 1 else None)

    def add_rule(self, c: list[Any]) -> Cmd:
        return Cmd("add", "rule", c[0])

    def add_set(self, c: list[Any]) -> Cmd:
        return Cmd("add", c[0], c[1], c[2])

    def add_element(self, c: list[Any]) -> Cmd:
        return Cmd("add", "element", c[0], c[1]["set"])

    def add_flowtable(self, c: list[Any]) -> Cmd:
        return Cmd("add", "flowtable", c[0], c[1])

    def add_object(self, c: list[Any]) -> Cmd:
        return Cmd("add", c[0], c[1], c[2] if len(c) > 2 else None)

    def create_cmd(self, c: list[Any]) -> Cmd:
        cmd = c[0]
        if isinstance(cmd, TableBlock):
            cmd = Cmd("add", "table", cmd.table, cmd.items)
        out: Cmd = cmd
        out.verb = "create"
        return out

    def insert_cmd(self, c: list[Any]) -> Cmd:
        return Cmd("insert", "rule", c[0])

    def replace_cmd(self, c: list[Any]) -> Cmd:
        return Cmd("replace", "rule", c[0])

    def table_handle(self, c: list[Any]) -> dict[str, J]:
        return {"family": c[0] if len(c) == 2 else "ip", "handle": self._int(c[-1])}

    def chain_handle(self, c: list[Any]) -> dict[str, J]:
        return {"family": c[0] if len(c) == 3 else "ip", "table": c[-2],
                "handle": self._int(c[-1])}

    def del_table(self, c: list[Any]) -> Cmd:
        return Cmd("delete", "table", c[0])

    def del_chain(self, c: list[Any]) -> Cmd:
        return Cmd("delete", "chain", c[0])

    def del_rule(self, c: list[Any]) -> Cmd:
        cid = c[0]
        return Cmd("delete", "rule", {"family": cid["family"], "table": cid["table"],
                                      "chain": cid["name"], "handle": self._int(c[1])})

    def del_set(self, c: list[Any]) -> Cmd:
        return Cmd("delete", c[0], c[1])

    def del_element(self, c: list[Any]) -> Cmd:
        return Cmd("delete", "element", c[0], c[1]["set"])

    def del_flowtable(self, c: list[Any]) -> Cmd:
        return Cmd("delete", "flowtable", c[0])

    def del_object(self, c: list[Any]) -> Cmd:
        return Cmd("delete", c[0], c[1])

    def delete_cmd(self, c: list[Cmd]) -> Cmd:
        return c[0]

    def destroy_cmd(self, c: list[Cmd]) -> Cmd:
        c[0].verb = "destroy"
        return c[0]

    def flush_ruleset(self, c: list[Any]) -> Cmd:
        return Cmd("flush", "ruleset", {"family": c[0]} if c else {})

    def flush_table(self, c: list[Any]) -> Cmd:
        return Cmd("flush", "table", c[0])

    def flush_chain(self, c: list[Any]) -> Cmd:
        return Cmd("flush", "chain", c[0])

    def flush_set(self, c: list[Any]) -> Cmd:
        return Cmd("flush", c[0], c[1])

    def flush_cmd(self, c: list[Cmd]) -> Cmd:
        return c[0]

    def reset_object(self, c: list[Any]) -> Cmd:
        return Cmd("reset", c[0], c[1])

    def reset_many(self, c: list[Any]) -> Cmd:
        return Cmd("reset", "many", {"args": [str(x) for x in c]})

    def reset_cmd(self, c: list[Cmd]) -> Cmd:
        return c[0]

    def rename_cmd(self, c: list[Any]) -> Cmd:
        return Cmd("rename", "chain", c[0], c[1])

    def list_cmd(self, c: list[Any]) -> Cmd:
        return Cmd("list", "list", {"args": list(c)})

    def define_value(self, c: list[J]) -> J:
        return c[0]

    def define_cmd(self, c: list[Any]) -> Cmd:
        name, value = c
        self.defines()[name] = Define(value)
        return Cmd("define", "define", {"name": name})

    def redefine_cmd(self, c: list[Any]) -> Cmd:
        return self.define_cmd(c)

    def undefine_cmd(self, c: list[Any]) -> Cmd:
        self.defines().pop(c[0], None)
        return Cmd("define", "undefine", {"name": c[0]})

    def include_cmd(self, c: list[Token]) -> Cmd:
        return Cmd("include", "include", {}, self.include_file(_s(c[0]), c[0]))

    def start(self, c: list[Any]) -> list[Any]:
        return c

