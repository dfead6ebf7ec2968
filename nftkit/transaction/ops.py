"""The operations of a transaction: ``Verb`` x ``Kind`` (``ALLOWED``), one ``Op`` per nft
command, and what a backend returns for a batch (``TransactionResult``).

``Op(verb=Verb.ADD, kind=Kind.RULE, family="inet", table="t", chain="c", obj=rule)`` is
``add rule inet t c ...``; see ``nftkit.transaction`` for the whole table of verbs and kinds.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Literal

import attrs

from .._node import Node
from ..errors import ValidationError
from ..model._validate import check_name
from ..model.datatypes import format_addr
from ..model.enums import Family
from ..model.objects import NamedObject
from ..model.ruleset import Chain, Flowtable, Rule, Table
from ..model.sets import Map, Set
from ..render.json import to_json as _node_json

__all__ = [
    "ALLOWED",
    "OBJECT_KINDS",
    "Kind",
    "Op",
    "TableRef",
    "TransactionPath",
    "TransactionResult",
    "Verb",
    "element_json",
    "result_without_handles",
]


class Verb(StrEnum):
    """What an operation does; the value is the libnftables JSON command name."""

    ADD = "add"
    CREATE = "create"
    INSERT = "insert"
    REPLACE = "replace"
    DELETE = "delete"
    DESTROY = "destroy"
    FLUSH = "flush"
    RESET = "reset"
    RENAME = "rename"


class Kind(StrEnum):
    """What an operation acts on; the value is the libnftables JSON object name."""

    RULESET = "ruleset"
    TABLE = "table"
    CHAIN = "chain"
    RULE = "rule"
    SET = "set"
    MAP = "map"
    ELEMENT = "element"
    FLOWTABLE = "flowtable"
    COUNTER = "counter"
    QUOTA = "quota"
    LIMIT = "limit"
    CT_HELPER = "ct helper"
    CT_TIMEOUT = "ct timeout"
    CT_EXPECTATION = "ct expectation"
    SYNPROXY = "synproxy"
    SECMARK = "secmark"
    COUNTERS = "counters"
    QUOTAS = "quotas"
    RULES = "rules"


#: Named stateful object kinds (``Counter``, ``Quota``, ... in nftkit.model.objects).
OBJECT_KINDS = frozenset({Kind.COUNTER, Kind.QUOTA, Kind.LIMIT, Kind.CT_HELPER, Kind.CT_TIMEOUT,
                          Kind.CT_EXPECTATION, Kind.SYNPROXY, Kind.SECMARK})
_NAMED = frozenset({Kind.CHAIN, Kind.SET, Kind.MAP, Kind.FLOWTABLE}) | OBJECT_KINDS
_CREATABLE = frozenset({Kind.TABLE, Kind.ELEMENT}) | _NAMED

#: The closed set of operations: every (verb, kind) pair a backend must implement.
ALLOWED: dict[Verb, frozenset[Kind]] = {
    Verb.ADD: _CREATABLE | {Kind.RULE},
    Verb.CREATE: _CREATABLE,
    Verb.INSERT: frozenset({Kind.RULE}),
    Verb.REPLACE: frozenset({Kind.RULE}),
    Verb.DELETE: _CREATABLE | {Kind.RULE},
    Verb.DESTROY: _CREATABLE | {Kind.RULE},
    Verb.FLUSH: frozenset({Kind.RULESET, Kind.TABLE, Kind.CHAIN, Kind.SET, Kind.MAP}),
    Verb.RESET: frozenset({Kind.COUNTER, Kind.QUOTA, Kind.COUNTERS, Kind.QUOTAS, Kind.RULES}),
    Verb.RENAME: frozenset({Kind.CHAIN}),
}

#: Where an object lives: a ``Table`` or a ``(family, table name)`` pair.
TableRef = Table | tuple[Family | str, str]
#: How ``Nftables.run`` sent a transaction (``TransactionResult.path``).
TransactionPath = Literal["netlink", "libnftables-json", "libnftables-text"]


# Converters that return members as they are: calling an enum class costs about a
# microsecond, and an ``Op`` is built per element update.
def _verb(value: Verb | str) -> Verb:
    return value if value.__class__ is Verb else Verb(value)


def _kind_value(value: Kind | str) -> Kind:
    return value if value.__class__ is Kind else Kind(value)


def _optional_family(value: Family | str | None) -> Family | None:
    if value is None or value.__class__ is Family:
        return value
    return Family(value)


def _as_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return value if value.__class__ is tuple else tuple(value)


@attrs.frozen(kw_only=True, repr=False)
class Op:
    """One operation = one libnftables JSON command.

    Fields (unused ones are None or empty):
        verb, kind: what is done to what (``Verb.ADD``, ``Kind.CHAIN``).
        family, table: the table the object lives in (the table itself for ``Kind.TABLE``);
            None for ruleset-wide flush/reset.
        name: the chain, set, map, flowtable or named object (the set or map for elements).
        chain: the chain of a rule (or of ``reset rules``).
        obj: the complete model object for add/create/insert/replace (only that object: no
            chains in a table, no rules in a chain).
        handle: identifies the object for delete/destroy/replace (``delete rule ... handle 5``).
        position: for rules, the handle to add after (add) or insert before (insert).
        index: for rules, the 0-based position to add after (add) or insert before (insert).
        new_name: the new name of a renamed chain.
        elements: the elements of an element operation (``(key, data)`` pairs for maps).
    """

    verb: Verb = attrs.field(converter=_verb)
    kind: Kind = attrs.field(converter=_kind_value)
    family: Family | None = attrs.field(default=None, converter=_optional_family)
    table: str | None = None
    name: str | None = None
    chain: str | None = None
    obj: Node | None = None
    handle: int | None = None
    position: int | None = None
    index: int | None = None
    new_name: str | None = None
    elements: tuple[Any, ...] = attrs.field(default=(), converter=_as_tuple)

    def __attrs_post_init__(self) -> None:
        if self.kind not in ALLOWED[self.verb]:
            raise ValidationError("Op", "kind", f"cannot {self.verb} a {self.kind}")
        for field in ("table", "name", "chain", "new_name"):
            if (value := getattr(self, field)) is not None:
                _check_name(field, value)

    def __repr__(self) -> str:
        return f"<Op {self.describe()}>"

    @property
    def creates(self) -> bool:
        """Whether the kernel assigns a handle to something this op makes."""
        return (self.verb in (Verb.ADD, Verb.CREATE, Verb.INSERT, Verb.REPLACE)
                and self.kind is not Kind.ELEMENT)

    def describe(self) -> str:
        """A short nft-like description: ``delete chain inet t c``."""
        words = [self.verb.value, self.kind.value]
        if self.family is not None:
            words.append(self.family.value)
        words += [w for w in (self.table, self.chain, self.name) if w is not None]
        for label, value in (("handle", self.handle), ("position", self.position),
                             ("index", self.index)):
            if value is not None:
                words += [label, str(value)]
        if self.new_name is not None:
            words.append(self.new_name)
        if self.elements:
            words.append(f"{{ {len(self.elements)} element(s) }}")
        return " ".join(words)

    def to_json(self, *, version: str | tuple[int, ...] | None = None) -> dict[str, Any]:
        """This op as one libnftables JSON command: ``{"delete": {"chain": {...}}}``."""
        return {self.verb.value: {self.kind.value: self._body(version)}}

    def _body(self, version: str | tuple[int, ...] | None) -> Any:
        where: dict[str, Any] = {}
        if self.family is not None:
            where["family"] = self.family.value
        if self.kind is Kind.RULESET:
            return None
        if self.kind is Kind.TABLE:
            if self.obj is not None:
                doc = _node_json(self.obj, version=version)
                return _as_input(self.obj, dict(doc["nftables"][1]["table"]))
            where["name"] = self.table
            return _with_handle(where, self.handle)
        if self.table is not None:
            where["table"] = self.table
        if self.kind in (Kind.COUNTERS, Kind.QUOTAS, Kind.RULES):
            if self.chain is not None:
                where["chain"] = self.chain
            return where
        if self.obj is not None:
            body: dict[str, Any] = _node_json(self.obj, version=version,
                                              family=where.get("family", "inet"),
                                              table=self.table or "",
                                              chain=self.chain or "")
            ((_key, inner),) = body.items()
            out = _as_input(self.obj, dict(inner))
            if self.kind is Kind.RULE:
                for key in ("handle", "index"):
                    out.pop(key, None)
                if self.verb is Verb.REPLACE:
                    out["handle"] = self.handle
                elif self.position is not None:
                    out["handle"] = self.position
                elif self.index is not None:
                    out["index"] = self.index
            return out
        if self.kind is Kind.RULE:
            where["chain"] = self.chain
            return _with_handle(where, self.handle)
        if self.kind is Kind.ELEMENT:
            where["name"] = self.name
            where["elem"] = [element_json(e, where.get("family", "inet"), version)
                             for e in self.elements]
            return where
        if self.name is not None:
            where["name"] = self.name
        if self.new_name is not None:
            where["newname"] = self.new_name
        return _with_handle(where, self.handle)


def _as_input(obj: Node, out: dict[str, Any]) -> dict[str, Any]:
    """Turn ``to_json``'s listing form into a command nft can read back.

    nft 1.0.6 lists concatenated map data as one string (``"ipv4_addr . inet_service"``),
    which it cannot read; a command needs the list form. (``to_json`` leaves out the
    ``dynamic`` set flag for 1.0.6, which that version cannot read either.)
    """
    if isinstance(obj, Set):
        for member in ("type", "map"):
            value = out.get(member)
            if isinstance(value, str) and " . " in value:
                out[member] = value.split(" . ")
    return out


def _with_handle(body: dict[str, Any], handle: int | None) -> dict[str, Any]:
    if handle is not None:
        body["handle"] = handle
    return body


def element_json(element: Any, family: str, version: str | tuple[int, ...] | None) -> Any:
    """One set element, or a map element ``(key, data)`` as the JSON pair ``[key, data]``.

    (The libnftables backend writes the common shapes directly, in
    ``nftkit/backend/libnftables/_element_json.py``: what it writes must stay what this gives.)
    """
    if isinstance(element, tuple):
        return [element_json(e, family, version) for e in element]
    if isinstance(element, Node):
        return _node_json(element, version=version, family=family)
    if isinstance(element, bool | int | str):
        return element
    if isinstance(element, IPv4Address | IPv6Address):
        return format_addr(element)  # as inside a concatenation (``::ffff:1.2.3.4``)
    return str(element)


@attrs.frozen(kw_only=True)
class TransactionResult:
    """What a backend's ``run`` returns.

    ``handles[i]`` is the handle the kernel assigned to what ``ops[i]`` created (a table,
    chain, rule, set, map, flowtable or named object), None for other ops.

    ``path`` is how ``Nftables.run`` sent the batch: ``"netlink"`` (nfnetlink messages built
    from the model) or ``"libnftables-json"`` (one JSON command batch); None from a backend
    without paths (``FakeNftables``); left out of equality, so results compare the same
    whichever path ran. See docs/architecture.md, "Backends".
    """

    ops: tuple[Op, ...]
    handles: tuple[int | None, ...]
    path: TransactionPath | None = attrs.field(default=None, eq=False)

    def created(self) -> list[tuple[Op, int]]:
        """``(op, handle)`` for every op that created something."""
        return [(op, h) for op, h in zip(self.ops, self.handles, strict=True) if h is not None]


_set_result_ops = TransactionResult.__dict__["ops"].__set__
_set_result_handles = TransactionResult.__dict__["handles"].__set__
_set_result_path = TransactionResult.__dict__["path"].__set__


def result_without_handles(ops: tuple[Op, ...],
                           path: TransactionPath | None = None) -> TransactionResult:
    """``TransactionResult(ops=ops, handles=(None,) * len(ops), path=path)``, built without
    attrs' ``__init__`` (a third of the cost; the fast path of an element update returns
    this)."""
    result: TransactionResult = object.__new__(TransactionResult)
    _set_result_ops(result, ops)
    _set_result_handles(result, (None,) * len(ops))
    _set_result_path(result, path)
    return result


#: Validated ``(family, name)`` pairs and names: an agent names the same table and sets in
#: every update, and checking a name character by character costs more than the rest of an
#: element op. Only exact ``str`` (and ``Family``) values are remembered; bounded.
_TABLE_REFS: dict[tuple[str, str], tuple[Family, str]] = {}
_GOOD_NAMES: set[str] = set()
_CACHE_MAX = 4096


def _table_ref(table: TableRef | None, what: str) -> tuple[Family, str]:
    """``Table`` or ``(family, name)`` -> ``(Family, name)``; ValidationError otherwise."""
    if table.__class__ is tuple and len(table) == 2:
        family, name = table
        if name.__class__ is str and family.__class__ in (str, Family):
            ref = _TABLE_REFS.get(table)
            if ref is not None:
                return ref
            ref = _checked_table_ref(family, name)
            if len(_TABLE_REFS) >= _CACHE_MAX:
                _TABLE_REFS.clear()
            _TABLE_REFS[(family, name)] = ref
            return ref
    return _checked_table_ref_of(table, what)


def _checked_table_ref(family: Family | str, name: str) -> tuple[Family, str]:
    try:
        fam = Family(family)
    except ValueError:
        raise ValidationError("Transaction", "table",
                              f"unknown family {family!r}") from None
    _check_name("table", name)
    return fam, name


def _checked_table_ref_of(table: TableRef | None, what: str) -> tuple[Family, str]:
    if table is None:
        raise ValidationError("Transaction", "table", f"{what} needs table=")
    if isinstance(table, Table):
        return table.family, table.name
    if isinstance(table, tuple) and len(table) == 2:
        return _checked_table_ref(*table)
    raise ValidationError("Transaction", "table",
                          f"expected a Table or (family, name), got {table!r}")


def _check_name(field: str, value: object) -> str:
    if value.__class__ is str and value in _GOOD_NAMES and field != "new_name":
        return value
    # the model's rule for names (an nft identifier): nft prints names bare. A new name must
    # also not be a keyword (nft could not list it back); a name referring to an existing
    # object may be one, as another program can create it through JSON.
    check_name("Transaction", field, value, keywords=field == "new_name")
    assert isinstance(value, str)  # check_name refuses anything else
    if value.__class__ is str:
        if len(_GOOD_NAMES) >= _CACHE_MAX:
            _GOOD_NAMES.clear()
        _GOOD_NAMES.add(value)
    return value


def _check_handle(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError("Transaction", field, f"a handle is a positive int, got {value!r}")
    return value


def _chain_name(chain: Chain | str | None, what: str) -> str:
    if chain is None:
        raise ValidationError("Transaction", "chain", f"{what} needs chain=")
    return chain.name if isinstance(chain, Chain) else _check_name("chain", chain)


def _kind_of(obj: Node) -> Kind:
    if isinstance(obj, Map):
        return Kind.MAP
    for cls, kind in ((Table, Kind.TABLE), (Chain, Kind.CHAIN), (Rule, Kind.RULE),
                      (Set, Kind.SET), (Flowtable, Kind.FLOWTABLE)):
        if isinstance(obj, cls):
            return kind
    if isinstance(obj, NamedObject):
        return Kind(obj.json_key)
    raise ValidationError("Transaction", None, f"{type(obj).__name__} is not a kernel object")


def _kind(target: Node | Kind | str) -> Kind:
    if isinstance(target, Node):
        return _kind_of(target)
    try:
        return Kind(target)
    except ValueError:
        kinds = ", ".join(k.value for k in Kind)
        raise ValidationError("Transaction", "kind",
                              f"unknown kind {target!r} (one of: {kinds})") from None
