"""Table blocks and ``add`` commands -> model nodes (the declarations of an nft script).

A table block (``table inet t { chain c { ... } }``) or the object of one ``add``/``create``
command is gathered per table and built as model nodes: each rule becomes a ``Rule`` as it
is added (``_rule``: the listing fast path's rules are made of statements already; the
others' statements go through the statement decoder), and ``ruleset`` makes the ``Table``,
``Chain``, ``Flowtable`` nodes directly, sets and named objects by their own decoders
(``decode_set``, ``decode_object``). No ruleset document is written and read back. Blocks of
the same table merge, as nft merges declarations. What a script's commands do to a ruleset
(``create`` fails on an existing object, ``delete`` on a missing one, ...) is not decided
here: ``nftkit.semantics`` applies them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from lark import Token

from .._node import Node
from ..errors import NftkitError, ParseError
from ..model.enums import SetFlag
from ..model.priority import Priority
from ..model.ruleset import Flowtable, Rule, Ruleset, Table
from ..nft.units import BYTE_UNITS
from ._json_fast import new_chain, new_rule
from ._rules import RuleItem, reject_defaults
from .json import JsonDecoder, decode_object, decode_set
from .transformer import Cmd, TableBlock, milliseconds, seconds

__all__ = ["Decoder", "line_of", "plain_body"]

J = Any
N = TypeVar("N")


class _Table:
    """One table's objects, in the order they were added: its rules as ``Rule`` nodes with
    the chains and sets they refer to, the other objects as their members (``body``)."""

    def __init__(self, body: dict[str, J], number: bool) -> None:
        self.body = body
        self.number = number
        self.hgen = 0
        self.chains: dict[str, dict[str, J]] = {}
        #: per chain: (rule, its jump targets and @sets as ("chain"|"set", name))
        self.rules: dict[str, list[tuple[Rule, list[tuple[str, str]]]]] = {}
        #: the sets that rules add to, update or meter (nft makes them dynamic)
        self.written: set[str] = set()
        self.sets: dict[str, tuple[str, dict[str, J]]] = {}
        self.flowtables: dict[str, dict[str, J]] = {}
        self.objects: dict[tuple[str, str], dict[str, J]] = {}
        #: where each set, flowtable and object was declared: ("set"|"flowtable"|kind, name)
        #: -> line (the model checks them when the table is built, after the whole text)
        self.lines: dict[tuple[str, str], int | None] = {}

    def handle(self, given: int | None) -> int | None:
        """The kernel allocates handles per table, one counter for all its objects (only the
        handles given in the text, when the engine numbers the rest: ``number=False``)."""
        if given is not None:
            self.hgen = max(self.hgen, given)
            return given
        if not self.number:
            return None
        self.hgen += 1
        return self.hgen


def line_of(obj: Any) -> int | None:
    """The line of the first token in a command's object (None: no token in it)."""
    if isinstance(obj, Token):
        return obj.line
    if isinstance(obj, list):
        return next((x.line for x in obj if isinstance(x, Token)), None)
    if isinstance(obj, dict):
        for v in obj.values():
            line = line_of(v)
            if line is not None:
                return line
    return None


def plain_body(v: Any) -> Any:
    """Plain JSON values (tokens become str) all the way down."""
    if isinstance(v, Node):
        return v
    if isinstance(v, Token):
        return str(v)
    if isinstance(v, dict):
        return {str(k): plain_body(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [plain_body(x) for x in v]
    return v


class Decoder:
    """Gathers ``TableBlock`` items and ``add`` commands into tables of JSON bodies.

    ``number``: give every object without a handle in the text the next one of its table (a
    listing read as it is); otherwise only the handles in the text are kept (the engine
    numbers the rest).
    """

    def __init__(self, text: str, filename: str | None, *, number: bool = True) -> None:
        self.text = text
        self.filename = filename
        self.number = number
        self.tables: dict[tuple[str, str], _Table] = {}
        self.table_hgen = 0
        self._line: int | None = None
        self._json = JsonDecoder()

    # --- errors ----------------------------------------------------------------------------

    def error(self, message: str) -> ParseError:
        source = None
        if self._line is not None:
            lines = self.text.splitlines()
            if 0 < self._line <= len(lines):
                source = lines[self._line - 1].expandtabs(1)
        return ParseError(message, filename=self.filename or "<input>", line=self._line,
                          column=1 if source is not None else None, source_line=source)

    def _table(self, family: str, name: str, *, create: bool = False) -> _Table:
        key = (str(family), str(name))
        t = self.tables.get(key)
        if t is None:
            if not create:
                raise self.error(f"No such file or directory: table {family} {name}")
            t = self.tables[key] = _Table({"family": key[0], "name": key[1]}, self.number)
            if self.number:
                self.table_hgen += 1
                t.body["handle"] = self.table_hgen
        return t

    # --- dispatch --------------------------------------------------------------------------

    def apply(self, item: Any) -> None:
        try:
            if isinstance(item, TableBlock):
                self._line = line_of(item.table)
                self.table_block(item.table, item.items)
            elif isinstance(item, Cmd) and item.verb in ("add", "create"):
                self._line = line_of(item.obj)
                self.add(item)
            else:
                raise self.error(f"not a declaration: {item!r:.60}")
        except ParseError:
            raise
        except NftkitError as exc:
            raise self.error(str(exc)) from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise self.error(f"cannot apply this command: {exc!r}") from None

    def add(self, cmd: Cmd) -> None:
        """Decode an ``add``/``create`` command's object into its table (a scratch table for a
        single command); the command's own semantics are the engine's."""
        o, kind = cmd.obj, cmd.kind
        if kind == "table":
            items = cmd.extra if isinstance(cmd.extra, list) else []
            self.table_block({**o, "handle": None}, items)
        elif kind == "chain":
            t = self._table(o["family"], o["table"])
            handle, items = cmd.extra if cmd.extra is not None else (None, [])
            self.chain(t, o["name"], handle, items)
        elif kind == "rule":  # placed by the engine: here, in a scratch chain
            t = self._table(o["family"], o["table"])
            if str(o["chain"]) not in t.chains:
                self.chain(t, str(o["chain"]), None, [])
            self._add_rule(t, str(o["chain"]), o["rule"], given=False)
        elif kind in ("set", "map", "meter"):
            t = self._table(o["family"], o["table"])
            handle, items = cmd.extra
            self.set(t, kind, o["name"], handle, items)
        elif kind == "flowtable":
            t = self._table(o["family"], o["table"])
            handle, lines = cmd.extra
            self.flowtable(t, o["name"], handle, lines)
        else:
            t = self._table(o["family"], o["table"])
            handle, lines = cmd.extra if cmd.extra is not None else (None, [])
            self.object(t, kind, o["name"], handle, lines)

    def table_block(self, tid: dict[str, J], items: list[Any]) -> None:
        key = (str(tid["family"]), str(tid["name"]))
        t = self._table(*key, create=True)
        if tid.get("handle") is not None:
            t.body["handle"] = tid["handle"]
        for kind, value in items:
            if kind == "flags":
                t.body["flags"] = value
            elif kind == "comment":
                t.body["comment"] = value
            elif kind == "chain":
                name, (handle, citems) = value
                self.chain(t, name, handle, citems)
            elif kind in ("set", "map", "meter"):
                name, (handle, sitems) = value
                self.set(t, kind, name, handle, sitems)
            elif kind == "flowtable":
                name, (handle, lines) = value
                self.flowtable(t, name, handle, lines)
            else:
                name, (handle, lines) = value
                self.object(t, kind, name, handle, lines)

    def chain(self, t: _Table, name: str, handle: int | None, items: list[Any]) -> None:
        key = str(name)
        body = t.chains.get(key)
        if body is None:
            body = t.chains[key] = {"family": t.body["family"], "table": t.body["name"],
                                    "name": key, "handle": t.handle(handle)}
            t.rules[key] = []
        elif handle is not None:
            body["handle"] = handle
        family = t.body["family"]
        rules = t.rules[key]
        for item in items:
            if isinstance(item, dict):  # a rule of the listing fast path's compiled builders
                rhandle = item.get("handle")  # (what t.handle() does, inline)
                if rhandle is None and t.number:
                    t.hgen += 1
                    rhandle = t.hgen
                elif rhandle is not None and rhandle > t.hgen:
                    t.hgen = rhandle
                rule = new_rule(item["expr"], item.get("comment"), rhandle)
                rules.append((reject_defaults(rule, family), item["refs"]))
                continue
            if isinstance(item, RuleItem):
                self._add_rule(t, key, item)
                continue
            kind, value = item
            if kind == "spec":
                prio = value["prio"]
                if isinstance(prio, Priority):
                    prio = prio.resolve(family)
                body.update(type=value["type"], hook=value["hook"], prio=int(prio))
                if "dev" in value:
                    body["dev"] = plain_body(value["dev"])
            elif kind == "policy":
                body["policy"] = value
            elif kind == "comment":
                body["comment"] = value
            elif kind == "dev":
                body["dev"] = plain_body(value)
            elif kind == "flags":
                body["flags"] = value

    def _add_rule(self, t: _Table, chain: str, item: RuleItem, *, given: bool = True) -> None:
        """Append a parsed rule (``given``: with the handle written after it, if any)."""
        handle = t.handle(item.handle if given else None)
        rule = item.rule
        rule = new_rule(list(rule.stmts), rule.comment, handle)
        t.rules[chain].append((reject_defaults(rule, t.body["family"]), item.refs))
        t.written |= item.written

    def _decoded(self, build: Callable[..., N], *args: Any) -> N:
        """``build(*args)`` (the rule, set or object decoder), its errors located here."""
        self._json.path = []
        try:
            return build(*args)
        except ParseError as exc:
            raise self.error(exc.message.replace("<json>: ", "")) from None
        except NftkitError as exc:
            raise self.error(str(exc)) from None
        except KeyError as exc:
            raise self.error(f"missing member {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise self.error(f"cannot read this: {exc}") from None
        except RecursionError:
            raise self.error("nested too deeply") from None

    def set(self, t: _Table, kind: str, name: str, handle: int | None, items: list[Any]) -> None:
        key = str(name)
        if key in t.sets:
            body = t.sets[key][1]
        else:
            body = {"family": t.body["family"], "name": key, "table": t.body["name"]}
            t.sets[key] = ("map" if kind == "map" else "set", body)
            t.lines[("set", key)] = line_of(name) or self._line
        body["handle"] = t.handle(handle) if "handle" not in body or handle else body["handle"]
        for k, v in items:
            if k == "type":
                body["type"] = plain_body(v[0])
                if len(v) > 1:
                    body["map"] = plain_body(v[1])
            elif k == "elem":
                body.setdefault("elem", []).extend(plain_body(v))
            elif k == "stmt":
                body["stmt"] = plain_body(v)
            else:
                body[k] = plain_body(v)
        if "type" not in body:
            raise self.error(f"{kind} {key} has no type")
        if "timeout" in body:  # a default timeout implies the flag (nft sets it, not prints it)
            flags = body.setdefault("flags", [])
            if "timeout" not in flags:
                flags.append("timeout")

    def _set(self, t: _Table, name: str) -> dict[str, J]:
        s = t.sets.get(str(name))
        if s is None:
            raise self.error(f"No such file or directory: set {t.body['family']} "
                             f"{t.body['name']} {name}")
        return s[1]

    def flowtable(self, t: _Table, name: str, handle: int | None, lines: list[list[Any]]) -> None:
        key = str(name)
        body = t.flowtables.setdefault(key, {"family": t.body["family"], "name": key,
                                             "table": t.body["name"]})
        body["handle"] = t.handle(handle)
        t.lines.setdefault(("flowtable", key), line_of(name) or self._line)
        for line in lines:
            words = [_word(x) for x in line]
            i = 0
            while i < len(words):
                w = words[i]
                if w == "hook":
                    body["hook"] = words[i + 1]
                    i += 2
                elif w == "priority":
                    j = i + 2
                    text = str(words[i + 1])
                    if j + 1 < len(words) + 1 and j < len(words) and words[j] in ("+", "-"):
                        text += f" {words[j]} {words[j + 1]}"
                        j += 2
                    body["prio"] = Priority.parse(text).resolve(t.body["family"])
                    i = j
                elif w in ("devices", "device"):
                    j = i + 1
                    if j < len(words) and words[j] == "=":
                        j += 1
                    devs = words[j]
                    body["dev"] = devs if isinstance(devs, list) else [devs]
                    i = j + 1
                elif w == "flags":
                    body["flags"] = words[i + 1].split(",")
                    i += 2
                elif w == "counter":
                    body["counter"] = True
                    i += 1
                else:
                    raise self.error(f"flowtable {key}: unexpected {w!r}")

    def object(self, t: _Table, kind: str, name: str, handle: int | None,
               lines: list[list[Any]]) -> None:
        key = (kind, str(name))
        body: dict[str, J] = {"family": t.body["family"], "name": str(name),
                              "table": t.body["name"], "handle": t.handle(handle)}
        words = [_word(x) for line in lines for x in line]
        if words[:1] == ["comment"] or "comment" in words:
            i = words.index("comment")
            body["comment"] = words[i + 1]
            del words[i:i + 2]
        body.update(_object_body(kind, words))
        t.objects[key] = body
        t.lines[key] = line_of(name) or self._line

    # --- helpers ---------------------------------------------------------------------------

    def check_references(self) -> None:
        """Jump targets and ``@set`` references must exist, as the kernel requires."""
        for t in self.tables.values():
            for chain, rules in t.rules.items():
                for _, refs in rules:
                    for kind, name in refs:
                        if kind == "chain" and name not in t.chains:
                            self._line = None
                            raise self.error(f"No such file or directory: chain {name} "
                                             f"(jumped to from chain {chain})")
                        if kind == "set" and name not in t.sets:
                            self._line = None
                            raise self.error(f"No such file or directory: set @{name} "
                                             f"(used in chain {chain})")

    def ruleset(self, *, check: bool = True) -> Ruleset:
        """The ruleset as model nodes (``check``: jump targets and @sets must exist)."""
        if check:
            self.check_references()
        self._line = None
        try:
            return Ruleset(tables=[self._table_node(t) for t in self.tables.values()])
        except ParseError:
            raise
        except NftkitError as exc:
            raise self.error(str(exc)) from None

    def _table_node(self, t: _Table) -> Table:
        family = t.body["family"]
        objects = []
        for key, body in t.objects.items():
            self._line = t.lines.get(key)
            objects.append(self._decoded(decode_object, self._json, key[0], body))
        sets = []
        for kind, body in t.sets.values():
            self._line = t.lines.get(("set", body["name"]))
            s = self._decoded(decode_set, self._json, kind, body)
            # nft makes every set that a rule adds to, updates or meters "dynamic"
            if s.name in t.written and not s.flags & {SetFlag.DYNAMIC, SetFlag.CONSTANT}:
                s = s.replace(flags=s.flags | {SetFlag.DYNAMIC})
            sets.append(s)
        flowtables = []
        for b in t.flowtables.values():
            self._line = t.lines.get(("flowtable", b["name"]))
            flowtables.append(Flowtable(
                name=b["name"], hook=b.get("hook", "ingress"),
                priority=Priority(value=int(b.get("prio", 0))), devices=_devices(b.get("dev")),
                flags=b.get("flags") or (), counter=bool(b.get("counter", False)),
                handle=b.get("handle")))
        self._line = None
        chains = []
        for name, b in t.chains.items():
            spec: dict[str, Any] = {"name": b["name"], "handle": b.get("handle"),
                                    "comment": b.get("comment"),
                                    "rules": [r for r, _ in t.rules[name]]}
            if "hook" in b:
                spec.update(type=b.get("type", "filter"), hook=b["hook"],
                            priority=Priority(value=int(b.get("prio", 0))),
                            policy=b.get("policy"), devices=_devices(b.get("dev")))
            chains.append(new_chain(spec))  # Chain(**spec), cheaper when it can
        return Table(family=family, name=t.body["name"], handle=t.body.get("handle"),
                     flags=t.body.get("flags") or (), comment=t.body.get("comment"),
                     chains=chains, sets=sets, flowtables=flowtables, objects=objects)


def _devices(value: J) -> tuple[str, ...]:
    """``dev``: one device or several."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _word(x: Any) -> Any:
    """An object-body token as a plain value (strings unquoted, sets as lists)."""
    if isinstance(x, dict) and "objset" in x:
        return [" ".join(part) for part in x["objset"]]
    if isinstance(x, Token):
        return x[1:-1] if x.type == "STRING" else str(x)
    return x


def _object_body(kind: str, words: list[Any]) -> dict[str, J]:
    """The JSON members of a named object from its block's words."""
    out: dict[str, J] = {}
    w = list(words)
    if kind == "counter":
        kv = dict(zip(w[::2], w[1::2], strict=False))
        out["packets"] = int(kv.get("packets", 0))
        out["bytes"] = int(kv.get("bytes", 0))
    elif kind == "quota":
        inv = False
        if w and w[0] in ("over", "until"):
            inv = w.pop(0) == "over"
        out["bytes"] = int(w[0]) * BYTE_UNITS[w[1]]
        used = 0
        if len(w) >= 5 and w[2] == "used":
            used = int(w[3]) * BYTE_UNITS[w[4]]
        out["used"] = used
        out["inv"] = inv
    elif kind == "limit":
        if w and w[0] == "rate":
            w.pop(0)
        inv = False
        if w and w[0] in ("over", "until"):
            inv = w.pop(0) == "over"
        rate_word = w.pop(0)
        if "/" in rate_word:
            rate, _, per = rate_word.partition("/")
            out["rate"] = int(rate)
            out["per"] = per
        else:
            unit, _, per = w.pop(0).partition("/")
            out["rate"] = int(rate_word)
            out["per"] = per
            out["rate_unit"] = unit
        if w and w[0] == "burst":
            out["burst"] = int(w[1])
            if len(w) > 2 and w[2] != "packets":
                out["burst_unit"] = w[2]
        if inv:
            out["inv"] = True
    elif kind == "ct helper":
        i = 0
        while i < len(w):
            if w[i] in ("type", "protocol", "l3proto"):
                out[w[i]] = w[i + 1]
                i += 2
            else:
                i += 1
    elif kind == "ct timeout":
        i = 0
        while i < len(w):
            if w[i] in ("protocol", "l3proto"):
                out[w[i]] = w[i + 1]
                i += 2
            elif w[i] == "policy":
                pol: dict[str, int] = {}
                for item in w[i + 2]:
                    # "established : 120" (the ":" token is not kept) or "established: 120"
                    parts = item.replace(":", " ").split()
                    if len(parts) != 2:
                        raise NftkitError(f"ct timeout policy: cannot read {item!r}")
                    k, v = parts
                    pol[k] = int(v) if v.isdigit() else seconds(v)
                out["policy"] = pol
                i += 3
            else:
                i += 1
    elif kind == "ct expectation":
        i = 0
        while i < len(w):
            k = w[i]
            if k in ("protocol", "l3proto"):
                out[k] = w[i + 1]
            elif k in ("dport", "size"):
                out[k] = int(w[i + 1])
            elif k == "timeout":
                out[k] = milliseconds(w[i + 1])
            i += 2
    elif kind == "synproxy":
        i = 0
        flags: list[str] = []
        while i < len(w):
            if w[i] in ("mss", "wscale"):
                out[w[i]] = int(w[i + 1])
                i += 2
            else:
                flags.append(w[i])
                i += 1
        if flags:
            out["flags"] = flags
    elif kind == "secmark":
        out["context"] = w[0] if w else ""
    else:
        raise NftkitError(f"{kind} objects are not supported")
    return out
