"""The transformer's callbacks for statements and rules: matches (implicit, masked,
``exists``), mangles, verdicts and verdict maps, counters, log, limit, quota, reject, NAT,
set and map statements, meters, queue, dup/fwd/tproxy, synproxy, ... and ``rule``::

    tcp dport 22 counter accept -> Rule(stmts=(MatchStmt(left=PayloadExpr(protocol="tcp",
                                   field="dport"), right=22), CounterStmt(),
                                   VerdictExpr(kind="accept")))

``rule`` builds the ``Rule`` (``_rules.RuleItem.build``); a bound chain (``jump { ... }``)
is built as a model node here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lark import Token

from ..errors import ParseError
from ..model.datatypes import datatype
from ..model.ruleset import ChainStmt
from ..model.statements import FlowOffloadStmt, LogStmt, NotrackStmt, RejectStmt, SynproxyStmt
from ..nft.datatypes import BITMASKS
from ..nft.selectors import BITMASK_SELECTORS, TCP_OPTION_ALIASES
from ..nft.symbols import BARE_VERDICTS, TCP_OPTION_KINDS, VERDICTS
from . import _values
from ._rules import RuleItem
from ._transform_base import (
    DIGITS,
    J,
    TransformerBase,
    handle_of,
    maybe_list,
    milliseconds,
    seconds,
    unquote,
    word_value,
)
from ._transform_expressions import ExpressionRules

__all__ = ["StatementRules"]

#: Selectors whose datatype is a bitmask: an implicit match on them is ``in`` in JSON.
_BITMASK = BITMASK_SELECTORS
_VERDICT_KEYS = frozenset(VERDICTS) | {"queue"}
_BARE_VERDICTS = BARE_VERDICTS


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


class _Data:
    """The data part of ``add @m { key : data }`` (kept apart from element statements)."""

    __slots__ = ("value",)

    def __init__(self, value: J) -> None:
        self.value = value


class _Size(_Data):
    __slots__ = ()


class StatementRules(ExpressionRules):
    """Callbacks of the statement rules and ``rule``."""

    # keyword rules whose value is the word itself
    verdict_kw = jump_kw = over = reject_kind = snat_kw = masq_kw = set_op = TransformerBase.word
    queue_flag = sp_flag_kw = ct_over = TransformerBase.word

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

    def verdict(self, c: list[str]) -> J:
        return {c[0]: None}

    def jump(self, c: list[Any]) -> J:
        kind, target = c
        if isinstance(target, str):
            return {kind: {"target": str(target)}}
        # a bound chain, jump { ... }: its rules are nodes already
        rules = []
        for item in target[1]:
            if not isinstance(item, RuleItem):
                raise ParseError("an anonymous chain holds only rules")
            rules.append(item.rule)
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

    # --- statements built as model nodes (the rest goes through _rules.RuleItem.build) ---

    def log_stmt(self, c: list[tuple[str, J]]) -> LogStmt:
        """``log prefix "x: " level debug flags tcp sequence,options group 2 ...``."""
        fields: dict[str, J] = {}
        flags: list[str] = []
        for k, v in c:
            if k == "flags":
                flags.extend(v)
            else:
                fields[k] = v
        return LogStmt(**fields, flags=flags)

    def log_prefix(self, c: list[Token]) -> tuple[str, J]:
        tok = c[0]
        return ("prefix", self._var(tok) if tok.type == "VARIABLE" else unquote(tok))

    def log_level(self, c: list[Token]) -> tuple[str, J]:
        return ("level", str(c[0]))

    def log_group(self, c: list[Token]) -> tuple[str, J]:
        return ("group", self._int(c[0]))

    def log_snaplen(self, c: list[Token]) -> tuple[str, J]:
        return ("snaplen", self._int(c[0]))

    def log_threshold(self, c: list[Token]) -> tuple[str, J]:
        return ("queue_threshold", self._int(c[0]))

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

    def reject(self, c: list[Any]) -> RejectStmt:
        """A bare ``reject``: its type is the table family's (``_rules.reject_defaults``)."""
        return RejectStmt()

    def reject_with(self, c: list[Any]) -> RejectStmt:
        """``reject with icmp host-unreachable``, ``reject with icmpv6 4`` (``nft -n``)."""
        code: J = str(c[1])
        if code.isdigit():  # nft -n prints the code as a number: reject with icmpv6 4
            dt = datatype(f"{'icmpx' if c[0] == 'icmpx' else c[0]}_code")
            code = _values.apply(int(code), dt)
        return RejectStmt(type=c[0], code=str(code))

    def reject_tcp(self, c: list[Any]) -> RejectStmt:
        return RejectStmt(type="tcp reset")

    def nat_to(self, c: list[J]) -> tuple[str, J]:
        return ("to", c[0])

    def nat_prefix(self, c: list[J]) -> tuple[str, J]:
        return ("prefix", c[0])

    def nat_port(self, c: list[J]) -> tuple[str, J]:
        return ("port", c[0])

    def nat_var_port(self, c: list[Any]) -> tuple[str, J]:
        """``dnat to $HOST:443``: a variable's address and a port."""
        return ("addr_port", (self._var(c[0]), c[1]))

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
                if how == "port" or (how == "to" and kind == "redirect"):
                    body["port"] = value  # (nft reads `redirect to 8080` as `to :8080`)
                elif how == "addr_port":
                    body["addr"], body["port"] = value
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
            body["flags"] = maybe_list(flags)
        if "type_flags" in body:
            body["type_flags"] = maybe_list(body["type_flags"])
        _nat_map_ports(body)
        return {kind: body or None}

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
                              "stmt": maybe_list(stmts) if stmts else None, "name": name}
        if size is not None:
            body["size"] = size
        return {"meter": body}

    def synproxy_objref(self, c: list[J]) -> J:
        return {"synproxy": c[0]}

    def secmark_objref(self, c: list[J]) -> J:
        if isinstance(c[0], str):  # meta secmark set "name": a reference to a named secmark
            return {"secmark": c[0]}
        return {"mangle": {"key": {"meta": {"key": "secmark"}}, "value": c[0]}}

    def notrack_stmt(self, c: list[Any]) -> NotrackStmt:
        return NotrackStmt()

    def queue_stmt(self, c: list[tuple[str, J]]) -> J:
        body: dict[str, J] = {}
        for k, v in c:
            body[k] = v
        return {"queue": body or None}

    def queue_num(self, c: list[Any]) -> tuple[str, J]:
        v = c[0]
        return ("num", word_value(v) if isinstance(v, Token) else v)

    def queue_flags(self, c: list[list[str]]) -> tuple[str, J]:
        return ("flags", maybe_list(c[0]))

    def queue_bare_flags(self, c: list[str]) -> tuple[str, J]:
        return ("flags", maybe_list(c))

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

    def synproxy_stmt(self, c: list[tuple[str, J]]) -> SynproxyStmt:
        """``synproxy mss 1460 wscale 7 timestamp sack-perm``."""
        fields: dict[str, J] = {}
        flags: list[str] = []
        for k, v in c:
            if k == "flags":
                flags.append(v)
            else:
                fields[k] = v
        return SynproxyStmt(**fields, flags=flags)

    def sp_mss(self, c: list[Token]) -> tuple[str, J]:
        return ("mss", self._int(c[0]))

    def sp_wscale(self, c: list[Token]) -> tuple[str, J]:
        return ("wscale", self._int(c[0]))

    def sp_flag(self, c: list[str]) -> tuple[str, J]:
        return ("flags", c[0])

    def flow_stmt(self, c: list[Token]) -> FlowOffloadStmt:
        """``flow add @ft`` (``flow offload @ft``, nft's older spelling, is the same)."""
        if c[0] not in ("add", "offload"):
            raise ParseError(f'flow: unknown op {str(c[0])[:40]!r} (only "add", "offload")',
                             line=c[0].line, column=c[0].column)
        return FlowOffloadStmt(flowtable=str(c[1])[1:])

    def last_stmt(self, c: list[Token]) -> J:
        if not c or c[0] == "never":
            return {"last": None}
        return {"last": {"used": milliseconds(c[0])}}

    def ct_count_stmt(self, c: list[Any]) -> J:
        if len(c) == 2:
            return {"ct count": {"val": self._int(c[1]), "inv": True}}
        return {"ct count": {"val": self._int(c[0])}}

    def reset_stmt(self, c: list[Token]) -> J:
        name = str(c[0])
        if DIGITS.match(name) and int(name) <= 255:
            # ``reset tcp option 2`` is ``maxseg``; a kind nft has no name for is the whole
            # option, which nft's JSON writes as the kind with length 0
            kind = int(name)
            if kind not in TCP_OPTION_KINDS:
                return {"reset": {"tcp option": {"base": kind, "offset": 0, "len": 0}}}
            name = TCP_OPTION_KINDS[kind]
        return {"reset": {"tcp option": {"name": TCP_OPTION_ALIASES.get(name, name)}}}

    def rule_comment(self, c: list[Token]) -> tuple[str, str]:
        return ("comment", unquote(c[0]))

    def rule(self, c: list[Any]) -> RuleItem:
        stmts: list[J] = []
        handle = comment = None
        for x in c:
            if isinstance(x, Token):
                handle = handle_of(x)
            elif isinstance(x, tuple):
                comment = x[1]
            else:
                stmts.append(x)
        try:
            return RuleItem.build(stmts, comment, handle)
        except ParseError as exc:
            # the model refused a statement the grammar took: locate it by the rule's last
            # value (its line; the column of that value)
            tok = _values.locate(None)
            if exc.line is not None or tok is None:
                raise
            raise ParseError(exc.message, line=tok.line, column=tok.column) from None
        finally:
            _values.forget()  # (the rule's values are checked: their tokens are not needed)
