"""The lark transformer: nft text -> model nodes.

Each rule comes out of ``rule`` as a ``Rule`` node (``_rules.RuleItem``), and the blocks as
the items ``_decode`` builds tables, chains, sets and objects from. Within a rule, the value
and selector callbacks still build libnftables JSON-shaped values (``{"match": {"op": "==",
"left": {"payload": {...}}, "right": 22}}``), typed by context in that shape (``_values``),
and ``rule`` hands the statements that are not nodes yet to the statement decoder of
``nftkit.parse.json``: an adapter while the statement callbacks move to building their nodes
themselves, family by family (a bound chain, ``jump { ... }``, is built as a node already).

Values are converted the way nft's JSON spells them: ``0x0000000a`` -> ``10``, ``1024-65535``
-> ``{"range": [1024, 65535]}``, ``10.0.0.0/8`` -> ``{"prefix": ...}``, ``"lo"`` -> ``"lo"``;
addresses stay strings here and become ``ipaddress`` objects in the statement decoder.

The callbacks are layered by what they build: ``_transform_base`` (shared helpers and the
script's items), ``_transform_expressions`` (values, selectors), ``_transform_statements``
(statements, rules) and, here, ``NftTransformer``: table/chain/set/object blocks and commands.
"""

from __future__ import annotations

from typing import Any

from lark import Token

from ..errors import ParseError, ValidationError
from ..model.priority import Priority
from . import _values
from ._transform_base import (
    Cmd,
    Define,
    J,
    TableBlock,
    TransformerBase,
    handle_of,
    maybe_list,
    milliseconds,
    plain,
    seconds,
    unquote,
    word_value,
)
from ._transform_statements import StatementRules

__all__ = ["Cmd", "Define", "NftTransformer", "TableBlock", "milliseconds", "plain", "seconds",
           "word_value"]


class _Index:
    """``index N``: a 0-based rule position (``position N``/``handle N`` name a handle)."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


class NftTransformer(StatementRules):
    """Inline transformer: each grammar rule reduces to a JSON-shaped value.

    ``defines`` holds ``define`` values in scope; ``include`` is called for ``include``
    commands and returns the commands of the included file.
    """

    # keyword rules whose value is the word itself
    family = set_kw = ct_obj = prio_op = obj_kw = obj_sign = TransformerBase.word

    # --- blocks ----------------------------------------------------------------------------
    # (see nftkit/parse/nft.py for how these items become tables, chains and sets)

    def obj_kind(self, c: list[Any]) -> str:
        return " ".join(str(x) for x in c)

    def table_body(self, c: list[Any]) -> tuple[int | None, list[Any]]:
        handle = handle_of(c[0]) if c and isinstance(c[0], Token) else None
        items = [x for x in c if not isinstance(x, (Token, Cmd))]
        if len(items) != len(c) - (handle is not None):
            self._close_scope(c)
            items = []
            for x in c:
                if isinstance(x, Cmd):
                    if x.verb == "include":
                        items.extend(x.extra)
                elif not isinstance(x, Token):
                    items.append(x)
        return handle, items

    def _close_scope(self, c: list[Any]) -> None:
        """The block's closing brace: its ``define``s go out of scope, outer values return."""
        defines = self.defines()
        for cmd in reversed(c):
            if isinstance(cmd, Cmd) and cmd.verb == "define":
                name = cmd.obj["name"]
                if cmd.extra is None:
                    defines.pop(name, None)
                else:
                    defines[name] = cmd.extra

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
        return ("comment", unquote(c[0]))

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

    def prio_spec(self, c: list[Any]) -> J:
        if len(c) == 1 and isinstance(c[0], Token) and c[0].type == "VARIABLE":
            v = self._var(c[0])
            return v if isinstance(v, int) else str(v)
        text = " ".join(str(x) for x in c)
        try:
            return Priority.parse(text)
        except ValidationError as exc:  # a bad name or number
            raise ParseError(str(exc), line=c[0].line, column=c[0].column) from None

    def chain_policy(self, c: list[Token]) -> tuple[str, J]:
        tok = c[0]
        return ("policy", str(self._var(tok)) if tok.type == "VARIABLE" else str(tok))

    def chain_comment(self, c: list[Token]) -> tuple[str, J]:
        return ("comment", unquote(c[0]))

    def chain_devices(self, c: list[Any]) -> tuple[str, J]:
        return ("dev", c[0])

    def chain_flags(self, c: list[list[str]]) -> tuple[str, J]:
        return ("flags", c[0])

    def set_type(self, c: list[Token]) -> J:
        return maybe_list([str(x) for x in c])

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
        return ("comment", unquote(c[0]))

    def set_elements(self, c: list[J]) -> tuple[str, J]:
        return ("elem", c[0]["set"])

    def set_stmts(self, c: list[J]) -> tuple[str, J]:
        return ("stmt", [s for s in c])

    def obj_line(self, c: list[Any]) -> list[Any]:
        return c

    def obj_eq(self, c: list[Any]) -> str:
        return "="

    def obj_set(self, c: list[Any]) -> J:
        return {"objset": c}

    def obj_set_item(self, c: list[Token]) -> list[str]:
        if c[0].type == "VARIABLE":  # a flowtable's `devices = { $WAN, $LAN }`
            v = self._var(c[0])
            if not isinstance(v, (str, int)):
                raise ParseError(f"{c[0]} is not a single value here", line=c[0].line,
                                 column=c[0].column)
            return [str(v)]
        return [unquote(x) for x in c]

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
                             "chain": cid["name"], "rule": rule}
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
        defines = self.defines()
        prev = defines.get(name)
        defines[name] = Define(value)
        return Cmd("define", "define", {"name": name}, prev)

    def redefine_cmd(self, c: list[Any]) -> Cmd:
        return self.define_cmd(c)

    def undefine_cmd(self, c: list[Any]) -> Cmd:
        prev = self.defines().pop(c[0], None)
        return Cmd("define", "undefine", {"name": c[0]}, prev)

    def include_cmd(self, c: list[Token]) -> Cmd:
        return Cmd("include", "include", {}, self.include_file(unquote(c[0]), c[0]))

    def include_table_item(self, c: list[Token]) -> Cmd:
        """``include "chains.nft"`` in a table block: the file's chains, sets, ... join it."""
        return Cmd("include", "table", {}, self.include_file(unquote(c[0]), c[0], "table"))

    def include_chain_item(self, c: list[Token]) -> Cmd:
        """``include "rules.nft"`` in a chain block: the file's rules join it."""
        return Cmd("include", "chain", {}, self.include_file(unquote(c[0]), c[0], "chain"))

    def start(self, c: list[Any]) -> list[Any]:
        return c
