"""The transformer's callbacks for values and expressions: words, strings, ``$variables``,
sets and map elements, concatenations, binary operations, ranges (``values``), and the
selectors (``payload``, ``meta``, ``ct``, ``exthdr``, ``numgen``, ``fib``, ...)::

    tcp dport { 22, 80 }         -> {"payload": {"protocol": "tcp", "field": "dport"}},
                                    {"set": [22, 80]}
    ct state established,related -> {"ct": {"key": "state"}}, ["established", "related"]
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token

from ..errors import ParseError
from ..model.expressions import TUNNELS
from ..nft import selectors
from ..nft.symbols import BINOP_WORDS, RELOP_WORDS, TCP_OPTION_KINDS
from . import _values
from ._transform_base import DIGITS, J, TransformerBase, maybe_list, seconds, unquote, word_value

__all__ = ["MAX_EXPR_DEPTH", "ExpressionRules"]

#: Tunnels whose own header nft >= 1.1 writes with ``"tunnel"`` set (``vxlan vni``; ``gre
#: version`` has none: GRE is a plain header too).
_OWN_TUNNEL = frozenset({"vxlan", "geneve"})


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


class ExpressionRules(TransformerBase):
    """Callbacks of the value and selector rules."""

    # keyword rules whose value is the word itself
    ct_dir = ct_key = exthdr_kw = TransformerBase.word

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
        return maybe_list(c)

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

    def map_elem(self, c: list[J]) -> J:
        return (c[0], c[1])  # a tuple: a map element, never a flag list

    def elem_timeout(self, c: list[Token]) -> tuple[str, J]:
        return ("timeout", seconds(c[0]))

    def elem_expires(self, c: list[Token]) -> tuple[str, J]:
        return ("expires", seconds(c[0]))

    def elem_comment(self, c: list[Token]) -> tuple[str, J]:
        return ("comment", unquote(c[0]))

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

    def fam_ip(self, c: list[Token]) -> str:
        return "ip"

    def fam_ip6(self, c: list[Token]) -> str:
        return "ip6"

    def tcp_option(self, c: list[Token]) -> J:
        name = str(c[0])
        if DIGITS.match(name) and len(c) == 1:
            # ``tcp option 6 exists``: a kind by number is its name where nft has one
            # (``2`` is ``maxseg``), else the kind's first byte, as nft's JSON has it
            kind = int(name)
            if kind in TCP_OPTION_KINDS:
                return {"tcp option": {"name": TCP_OPTION_KINDS[kind]}}
            if kind <= 255:
                return {"tcp option": {"base": kind, "offset": 0, "len": 8}}
        body = {"name": selectors.TCP_OPTION_ALIASES.get(name, name)}
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
