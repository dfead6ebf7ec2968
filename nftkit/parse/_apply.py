"""Apply parsed commands to an empty ruleset, with the kernel's semantics.

``nft -f`` runs a script as one transaction: ``add`` is idempotent for tables, chains, sets
and objects (a block for an existing table or chain adds to it), ``create`` fails when the
object exists, ``delete`` when it does not, ``destroy`` never. The applier keeps the ruleset
as libnftables JSON objects and hands them to ``from_json`` at the end, so the result is
exactly what ``from_json(nft -j list ruleset)`` gives after loading the same script. (Plain
chains whose rules the listing fast path made are built as the same model nodes directly:
``_direct``.)
"""

from __future__ import annotations

from typing import Any

from lark import Token

from .._node import Node
from ..errors import NftkitError, ParseError
from ..model.priority import Priority
from ..model.ruleset import Ruleset
from ._direct import direct_ruleset
from .json import from_json
from .transformer import Cmd, TableBlock, milliseconds, seconds

__all__ = ["Applier"]

J = Any
_UNITS = {"bytes": 1, "kbytes": 1024, "mbytes": 1024**2, "gbytes": 1024**3}


class _Table:
    """One table's objects as JSON bodies, in the order they were added."""

    def __init__(self, body: dict[str, J], handle: int | None) -> None:
        self.body = body
        self.hgen = 0
        self.chains: dict[str, dict[str, J]] = {}
        self.rules: dict[str, list[dict[str, J]]] = {}
        self.sets: dict[str, tuple[str, dict[str, J]]] = {}
        self.flowtables: dict[str, dict[str, J]] = {}
        self.objects: dict[tuple[str, str], dict[str, J]] = {}

    def handle(self, given: int | None) -> int:
        """The kernel allocates handles per table, one counter for all its objects."""
        if given is not None:
            self.hgen = max(self.hgen, given)
            return given
        self.hgen += 1
        return self.hgen


def _line_of(obj: Any) -> int | None:
    if isinstance(obj, Token):
        return obj.line
    if isinstance(obj, list):
        return next((x.line for x in obj if isinstance(x, Token)), None)
    if isinstance(obj, dict):
        for v in obj.values():
            line = _line_of(v)
            if line is not None:
                return line
    return None


def _str(v: Any) -> Any:
    """Plain JSON values (tokens become str) all the way down."""
    if isinstance(v, Node):
        return v
    if isinstance(v, Token):
        return str(v)
    if isinstance(v, dict):
        return {str(k): _str(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_str(x) for x in v]
    return v


class Applier:
    """Runs ``TableBlock`` and ``Cmd`` items against an empty ruleset."""

    def __init__(self, text: str, filename: str | None) -> None:
        self.text = text
        self.filename = filename
        self.tables: dict[tuple[str, str], _Table] = {}
        self.table_hgen = 0
        self._line: int | None = None
        #: the jump targets and @sets of the fast path's rules (their statements are model
        #: nodes, which ``_references`` does not walk), by id() of the rule body (kept alive
        #: here, so an id is never reused)
        self.refs: dict[int, tuple[dict[str, J], list[tuple[str, str]]]] = {}

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
            self.table_hgen += 1
            t = self.tables[key] = _Table({"family": key[0], "name": key[1]}, None)
            t.body["handle"] = self.table_hgen
        return t

    # --- dispatch --------------------------------------------------------------------------

    def apply(self, item: Any) -> None:
        try:
            if isinstance(item, TableBlock):
                self._line = _line_of(item.table)
                self.table_block(item.table, item.items, exclusive=False)
            elif isinstance(item, Cmd):
                self._line = _line_of(item.obj)
                getattr(self, "cmd_" + item.verb)(item)
        except ParseError:
            raise
        except NftkitError as exc:
            raise self.error(str(exc)) from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise self.error(f"cannot apply this command: {exc!r}") from None

    def cmd_list(self, cmd: Cmd) -> None:
        raise self.error("list commands cannot be part of a ruleset file (nft -f): "
                         "remove it, or run it with nft itself")

    def cmd_add(self, cmd: Cmd, exclusive: bool = False) -> None:
        o, kind = cmd.obj, cmd.kind
        if kind == "table":
            items = cmd.extra if isinstance(cmd.extra, list) else []
            self.table_block({**o, "handle": None}, items, exclusive=exclusive)
        elif kind == "chain":
            t = self._table(o["family"], o["table"])
            handle, items = cmd.extra if cmd.extra is not None else (None, [])
            self.chain(t, o["name"], handle, items, exclusive=exclusive)
        elif kind == "rule":
            self.rule_cmd(cmd, "add")
        elif kind in ("set", "map", "meter"):
            t = self._table(o["family"], o["table"])
            handle, items = cmd.extra
            self.set(t, kind, o["name"], handle, items, exclusive=exclusive)
        elif kind == "element":
            t = self._table(o["family"], o["table"])
            s = self._set(t, o["name"])
            s.setdefault("elem", []).extend(_str(cmd.extra))
        elif kind == "flowtable":
            t = self._table(o["family"], o["table"])
            handle, lines = cmd.extra
            self.flowtable(t, o["name"], handle, lines, exclusive=exclusive)
        else:
            t = self._table(o["family"], o["table"])
            handle, lines = cmd.extra if cmd.extra is not None else (None, [])
            self.object(t, kind, o["name"], handle, lines, exclusive=exclusive)

    def cmd_create(self, cmd: Cmd) -> None:
        self.cmd_add(cmd, exclusive=True)

    def cmd_insert(self, cmd: Cmd) -> None:
        self.rule_cmd(cmd, "insert")

    def cmd_replace(self, cmd: Cmd) -> None:
        self.rule_cmd(cmd, "replace")

    def cmd_destroy(self, cmd: Cmd) -> None:
        self.cmd_delete(cmd, missing_ok=True)

    def cmd_delete(self, cmd: Cmd, missing_ok: bool = False) -> None:
        o, kind = cmd.obj, cmd.kind
        if kind == "table":
            key = self._find_table(o)
            if key is None:
                if missing_ok:
                    return
                raise self.error(f"No such file or directory: table {o['family']} "
                                 f"{o.get('name', 'handle ' + str(o.get('handle')))}")
            del self.tables[key]
            return
        fam, tname = o["family"], o["table"]
        if (str(fam), str(tname)) not in self.tables:
            if missing_ok:
                return
            raise self.error(f"No such file or directory: table {fam} {tname}")
        t = self.tables[(str(fam), str(tname))]
        if kind == "chain":
            name = self._by_handle(t.chains, o)
            if name is None:
                if missing_ok:
                    return
                raise self.error(f"No such file or directory: chain {fam} {tname} "
                                 f"{o.get('name', '')}".rstrip())
            if self._chain_used(t, name):
                raise self.error(f"Device or resource busy: chain {name} is still jumped to")
            del t.chains[name]
            del t.rules[name]
        elif kind == "rule":
            rules = t.rules.get(str(o["chain"]))
            idx = self._rule_index(rules, o["handle"])
            if rules is None or idx is None:
                if missing_ok:
                    return
                raise self.error(f"No such file or directory: rule handle {o['handle']}")
            del rules[idx]
        elif kind in ("set", "map", "meter"):
            name = self._by_handle({k: v[1] for k, v in t.sets.items()}, o)
            if name is None:
                if missing_ok:
                    return
                raise self.error(f"No such file or directory: {kind} {fam} {tname} "
                                 f"{o.get('name', '')}".rstrip())
            del t.sets[name]
        elif kind == "element":
            s = self._set(t, o["name"])
            elems = s.get("elem", [])
            for e in _str(cmd.extra):
                key = e[0] if isinstance(e, list) else e
                idx = next((i for i, x in enumerate(elems)
                            if _elem_key(x) == _elem_key(key)), None)
                if idx is None:
                    if missing_ok:
                        continue
                    raise self.error(f"No such file or directory: element {key!r}")
                del elems[idx]
        elif kind == "flowtable":
            name = self._by_handle(t.flowtables, o)
            if name is None:
                if missing_ok:
                    return
                raise self.error(f"No such file or directory: flowtable {o.get('name')}")
            del t.flowtables[name]
        else:
            objs = {n: v for (k, n), v in t.objects.items() if k == kind}
            name = self._by_handle(objs, o)
            if name is None:
                if missing_ok:
                    return
                raise self.error(f"No such file or directory: {kind} {o.get('name')}")
            del t.objects[(kind, name)]

    def cmd_flush(self, cmd: Cmd) -> None:
        o, kind = cmd.obj, cmd.kind
        if kind == "ruleset":
            fam = o.get("family")
            for key in [k for k in self.tables if fam is None or k[0] == fam]:
                del self.tables[key]
            return
        t = self._table(o["family"], o["table"] if kind != "table" else o["name"])
        if kind == "table":
            for name in t.rules:
                t.rules[name] = []
            for _, s in t.sets.values():
                s.pop("elem", None)
        elif kind == "chain":
            if str(o["name"]) not in t.chains:
                raise self.error(f"No such file or directory: chain {o['name']}")
            t.rules[str(o["name"])] = []
        else:
            self._set(t, o["name"]).pop("elem", None)

    def cmd_reset(self, cmd: Cmd) -> None:
        o, kind = cmd.obj, cmd.kind
        if kind == "many":
            for t in self.tables.values():
                for (k, _), body in t.objects.items():
                    if k == "counter":
                        body.update(packets=0, bytes=0)
                    elif k == "quota":
                        body["used"] = 0
            return
        t = self._table(o["family"], o["table"])
        obj = t.objects.get((kind, str(o["name"])))
        if obj is None:
            raise self.error(f"No such file or directory: {kind} {o['name']}")
        body = obj
        if kind == "counter":
            body.update(packets=0, bytes=0)
        elif kind == "quota":
            body["used"] = 0

    def cmd_rename(self, cmd: Cmd) -> None:
        o = cmd.obj
        t = self._table(o["family"], o["table"])
        old, new = str(o["name"]), str(cmd.extra)
        if old not in t.chains:
            raise self.error(f"No such file or directory: chain {old}")
        if new in t.chains:
            raise self.error(f"File exists: chain {new}")
        t.chains = {(new if k == old else k): ({**v, "name": new} if k == old else v)
                    for k, v in t.chains.items()}
        t.rules = {(new if k == old else k): v for k, v in t.rules.items()}

    # --- objects ---------------------------------------------------------------------------

    def table_block(self, tid: dict[str, J], items: list[Any], *, exclusive: bool) -> None:
        key = (str(tid["family"]), str(tid["name"]))
        if key in self.tables and exclusive:
            raise self.error(f"File exists: table {key[0]} {key[1]}")
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
                self.chain(t, name, handle, citems, exclusive=False)
            elif kind in ("set", "map", "meter"):
                name, (handle, sitems) = value
                self.set(t, kind, name, handle, sitems, exclusive=False)
            elif kind == "flowtable":
                name, (handle, lines) = value
                self.flowtable(t, name, handle, lines, exclusive=False)
            else:
                name, (handle, lines) = value
                self.object(t, kind, name, handle, lines, exclusive=False)

    def chain(self, t: _Table, name: str, handle: int | None, items: list[Any], *,
              exclusive: bool) -> None:
        key = str(name)
        body = t.chains.get(key)
        if body is not None and exclusive:
            raise self.error(f"File exists: chain {t.body['family']} {t.body['name']} {key}")
        if body is None:
            body = t.chains[key] = {"family": t.body["family"], "table": t.body["name"],
                                    "name": key, "handle": t.handle(handle)}
            t.rules[key] = []
        elif handle is not None:
            body["handle"] = handle
        family = t.body["family"]
        rules = t.rules[key]
        for item in items:
            if isinstance(item, dict):  # a rule
                if "refs" in item:  # from the listing fast path: appended, nothing to convert
                    rhandle = item.get("handle")  # (what t.handle() does, inline)
                    if rhandle is None:
                        t.hgen += 1
                        rhandle = t.hgen
                    elif rhandle > t.hgen:
                        t.hgen = rhandle
                    rule = {"family": family, "table": t.body["name"], "chain": key,
                            "handle": rhandle, "expr": item["expr"]}
                    if item.get("comment") is not None:
                        rule["comment"] = item["comment"]
                    self.refs[id(rule)] = (rule, item["refs"])
                    rules.append(rule)
                    continue
                self._add_rule(t, key, item)
                continue
            kind, value = item
            if kind == "spec":
                prio = value["prio"]
                if isinstance(prio, Priority):
                    prio = prio.resolve(family)
                body.update(type=value["type"], hook=value["hook"], prio=int(prio))
                if "dev" in value:
                    body["dev"] = _str(value["dev"])
            elif kind == "policy":
                body["policy"] = value
            elif kind == "comment":
                body["comment"] = value
            elif kind == "dev":
                body["dev"] = _str(value)
            elif kind == "flags":
                body["flags"] = value

    def _add_rule(self, t: _Table, chain: str, rule: dict[str, J], *,
                  where: str = "add", position: int | None = None,
                  index: int | None = None) -> None:
        body = {"family": t.body["family"], "table": t.body["name"], "chain": chain,
                "handle": t.handle(rule.get("handle")),
                # the fast path's statements are model nodes already (no tokens to convert,
                # no JSON reject to complete)
                "expr": list(rule["expr"]) if "refs" in rule
                else _reject_defaults(_str(rule["expr"]), t.body["family"])}
        if rule.get("comment") is not None:
            body["comment"] = rule["comment"]
        if "refs" in rule:  # pre-decoded by the fast path, with its references listed
            self.refs[id(body)] = (body, rule["refs"])
        rules = t.rules[chain]
        if index is not None:  # add: after the index-th rule; insert: before it
            if not 0 <= index < len(rules):
                raise self.error(f"No such file or directory: rule index {index}")
            rules.insert(index + (where == "add"), body)
            return
        if position is None:
            if where == "insert":
                rules.insert(0, body)
            else:
                rules.append(body)
            return
        idx = self._rule_index(rules, position)
        if idx is None:
            raise self.error(f"No such file or directory: rule handle {position}")
        if where == "replace":
            body["handle"] = position
            rules[idx] = body
        else:
            rules.insert(idx + (where == "add"), body)

    def rule_cmd(self, cmd: Cmd, where: str) -> None:
        o = cmd.obj
        t = self._table(o["family"], o["table"])
        chain = str(o["chain"])
        if chain not in t.chains:
            raise self.error(f"No such file or directory: chain {o['family']} {o['table']} "
                             f"{chain}")
        pos = o.get("position")
        if where == "replace" and pos is None:
            raise self.error("replace rule needs a handle")
        self._add_rule(t, chain, {k: v for k, v in o.items() if k != "handle"},
                       where=where, position=pos, index=o.get("index"))

    def set(self, t: _Table, kind: str, name: str, handle: int | None, items: list[Any], *,
            exclusive: bool) -> None:
        key = str(name)
        if key in t.sets:
            if exclusive:
                raise self.error(f"File exists: {kind} {key}")
            body = t.sets[key][1]
        else:
            body = {"family": t.body["family"], "name": key, "table": t.body["name"]}
            t.sets[key] = ("map" if kind == "map" else "set", body)
        body["handle"] = t.handle(handle) if "handle" not in body or handle else body["handle"]
        for k, v in items:
            if k == "type":
                body["type"] = _str(v[0])
                if len(v) > 1:
                    body["map"] = _str(v[1])
            elif k == "elem":
                body.setdefault("elem", []).extend(_str(v))
            elif k == "stmt":
                body["stmt"] = _str(v)
            else:
                body[k] = _str(v)
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

    def flowtable(self, t: _Table, name: str, handle: int | None, lines: list[list[Any]], *,
                  exclusive: bool) -> None:
        key = str(name)
        if key in t.flowtables and exclusive:
            raise self.error(f"File exists: flowtable {key}")
        body = t.flowtables.setdefault(key, {"family": t.body["family"], "name": key,
                                             "table": t.body["name"]})
        body["handle"] = t.handle(handle)
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
               lines: list[list[Any]], *, exclusive: bool) -> None:
        key = (kind, str(name))
        if key in t.objects and exclusive:
            raise self.error(f"File exists: {kind} {name}")
        body: dict[str, J] = {"family": t.body["family"], "name": str(name),
                              "table": t.body["name"], "handle": t.handle(handle)}
        words = [_word(x) for line in lines for x in line]
        if words[:1] == ["comment"] or "comment" in words:
            i = words.index("comment")
            body["comment"] = words[i + 1]
            del words[i:i + 2]
        body.update(_object_body(kind, words))
        t.objects[key] = body

    # --- helpers ---------------------------------------------------------------------------

    def _find_table(self, o: dict[str, J]) -> tuple[str, str] | None:
        if "handle" in o:
            for key, t in self.tables.items():
                if key[0] == o["family"] and t.body.get("handle") == o["handle"]:
                    return key
            return None
        key = (str(o["family"]), str(o["name"]))
        return key if key in self.tables else None

    @staticmethod
    def _by_handle(objs: dict[str, dict[str, J]], o: dict[str, J]) -> str | None:
        if "handle" in o:
            return next((k for k, v in objs.items() if v.get("handle") == o["handle"]), None)
        return str(o["name"]) if str(o["name"]) in objs else None

    @staticmethod
    def _rule_index(rules: list[dict[str, J]] | None, handle: int) -> int | None:
        if rules is None:
            return None
        return next((i for i, r in enumerate(rules) if r.get("handle") == handle), None)

    @staticmethod
    def _chain_used(t: _Table, name: str) -> bool:
        needle = {"target": name}
        for rules in t.rules.values():
            for r in rules:
                if _contains(r["expr"], needle):
                    return True
        return any(_contains(s.get("elem", []), needle) for _, s in t.sets.values())

    def check_references(self) -> None:
        """Jump targets and ``@set`` references must exist, as the kernel requires."""
        for t in self.tables.values():
            for rules in t.rules.values():
                for r in rules:
                    known = self.refs.get(id(r))
                    refs = known[1] if known is not None else _references(r["expr"])
                    for kind, name in refs:
                        if kind == "chain" and name not in t.chains:
                            self._line = None
                            raise self.error(f"No such file or directory: chain {name} "
                                             f"(jumped to from chain {r['chain']})")
                        if kind == "set" and name not in t.sets:
                            self._line = None
                            raise self.error(f"No such file or directory: set @{name} "
                                             f"(used in chain {r['chain']})")

    def ruleset(self, *, check: bool = True) -> Ruleset:
        """The ruleset as model nodes (``check``: jump targets and @sets must exist)."""
        if check:
            self.check_references()
        direct = direct_ruleset(self)  # the fast path's chains without from_json
        if direct is not None:
            return direct
        doc = self.document()
        try:
            return from_json({"nftables": doc})
        except ParseError as exc:
            self._line = None
            raise self.error(exc.message.replace("<json>: ", "")) from None
        except NftkitError as exc:
            self._line = None
            raise self.error(str(exc)) from None

    def document(self) -> list[dict[str, J]]:
        """The ruleset as ``nft -j list ruleset`` would print it (without metainfo)."""
        doc: list[dict[str, J]] = []
        for t in self.tables.values():
            doc.extend(self.table_document(t))
        return doc

    @staticmethod
    def table_document(t: _Table, *, chains: bool = True) -> list[dict[str, J]]:
        """One table's objects in ``document`` order (``chains``: with chains and rules)."""
        doc: list[dict[str, J]] = [{"table": _str(t.body)}]
        for (kind, _), body in t.objects.items():
            doc.append({kind: body})
        for kind, body in t.sets.values():
            doc.append({kind: body})
        for body in t.flowtables.values():
            doc.append({"flowtable": body})
        if chains:
            for body in t.chains.values():
                doc.append({"chain": body})
            for rules in t.rules.values():
                doc.extend({"rule": r} for r in rules)
        return doc


_SETREF_KEYS = {("match", "right"), ("vmap", "data"), ("map", "data"), ("set", "set"),
                ("map", "map")}


def _references(obj: Any, parent: str = "") -> list[tuple[str, str]]:
    """(``chain``, name) for jump/goto targets and (``set``, name) for ``@name`` uses."""
    out: list[tuple[str, str]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("jump", "goto") and isinstance(v, dict) and "target" in v:
                out.append(("chain", str(v["target"])))
            elif isinstance(v, str) and v.startswith("@") and (parent, k) in _SETREF_KEYS:
                out.append(("set", v[1:]))
            else:
                out.extend(_references(v, k))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(_references(v, parent))
    return out


def _l3(stmt: J) -> str | None:
    """The network protocol a match statement implies (``ip saddr ...`` -> ``ip``)."""
    if not isinstance(stmt, dict) or "match" not in stmt:
        return None
    m = stmt["match"]
    left = m.get("left")
    parts = left["concat"] if isinstance(left, dict) and "concat" in left else [left]
    for p in parts:
        if isinstance(p, dict) and "payload" in p:
            proto = p["payload"].get("protocol")
            if proto in ("ip", "ip6"):
                return str(proto)
        if isinstance(p, dict) and "meta" in p and p["meta"].get("key") == "nfproto" \
                and m.get("right") in ("ipv4", "ipv6"):
            return "ip" if m["right"] == "ipv4" else "ip6"
    return None


def _reject_defaults(stmts: list[J], family: str) -> list[J]:
    """A bare ``reject`` is ``icmp``/``icmpv6``/``icmpx port-unreachable`` in nft's JSON,
    by the table family and what the rule matched before it (as nft's evaluator decides)."""
    if not any(isinstance(s, dict) and "reject" in s and s["reject"] is None for s in stmts):
        return stmts
    l3 = {"ip": "ip", "ip6": "ip6"}.get(family)
    out = []
    for s in stmts:
        l3 = _l3(s) or l3
        if isinstance(s, dict) and "reject" in s and s["reject"] is None:
            kind = {"ip": "icmp", "ip6": "icmpv6"}.get(l3 or "", "icmpx")
            s = {"reject": {"type": kind, "expr": "port-unreachable"}}
        out.append(s)
    return out


def _contains(obj: Any, needle: dict[str, J]) -> bool:
    if isinstance(obj, dict):
        if obj == needle:
            return True
        return any(_contains(v, needle) for v in obj.values())
    if isinstance(obj, list):
        return any(_contains(v, needle) for v in obj)
    return False


def _elem_key(e: Any) -> Any:
    if isinstance(e, list):
        e = e[0]
    if isinstance(e, dict) and "elem" in e:
        return e["elem"]["val"]
    return e


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
        out["bytes"] = int(w[0]) * _UNITS[w[1]]
        used = 0
        if len(w) >= 5 and w[2] == "used":
            used = int(w[3]) * _UNITS[w[4]]
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
