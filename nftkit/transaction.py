"""Transactions: an ordered list of typed operations that a backend applies as one atomic batch.

A ``Transaction`` is built with methods that validate their arguments at once (bad input raises
``ValidationError`` at the call, not at ``run``). Every method appends one or more ``Op`` s;
each ``Op`` is exactly one libnftables JSON command, so ``txn.ops[i]`` is command ``i`` of
``txn.to_json(ordered=False)`` and errors can name the operation that failed. By default
backends send the batch reordered so that the kernel does the least work (``txn.batch()``,
``txn.to_json()``); errors still name the op's index in ``txn.ops``::

    txn = Transaction()
    txn.add(Table(family="inet", name="t", chains=[Chain(name="c", rules=[rule])]))
    txn.add_elements(vmap, [(80, VerdictExpr(kind="jump", target="svc-http"))], table=("inet", "t"))
    txn.delete("chain", table=("inet", "t"), name="old")
    txn.to_json(ordered=False)
    # {"nftables": [{"add": {"table": {"family": "inet", "name": "t"}}},
    #               {"add": {"chain": {"family": "inet", "table": "t", "name": "c"}}},
    #               {"add": {"rule": {..., "chain": "c", "expr": [...]}}},
    #               {"add": {"element": {"family": "inet", "table": "t", "name": "svc",
    #                                    "elem": [[80, {"jump": {"target": "svc-http"}}]]}}},
    #               {"delete": {"chain": {"family": "inet", "table": "t", "name": "old"}}}]}

The set of operations is closed (``Verb`` x ``Kind``, see ``ALLOWED``), so a backend such as
``FakeNftables`` can implement every one of them:

=========  =================================================================================
verb       kinds (nft command form)
=========  =================================================================================
add        table, chain, rule, set, map, element, flowtable, named objects
           (``add rule inet t c [position H | index N] ...``: after handle H / at index N)
create     table, chain, set, map, element, flowtable, named objects (fails if it exists)
insert     rule (``insert rule ... [position H | index N]``: before handle H / index N,
           or at the top of the chain)
replace    rule, by handle
delete     table, chain, set, map, flowtable, named objects (by name or handle), rule (by
           handle), element
destroy    as delete, but succeeds when the object does not exist. Native (``destroy ...``)
           with nft >= 1.0.7 and a kernel that has it; the libnftables backend emulates it
           otherwise (delete if it exists, decided at run time, just before the batch).
flush      ruleset, table, chain, set, map
reset      counter, quota (one named object), counters, quotas (of a table or all),
           rules (of a chain, a table or all; nft >= 1.0.7). The kernel resets on a read
           request, not in the batch: backends apply resets after the batch commits (and
           not at all when it fails); a dry run only checks that their targets exist.
rename     chain
=========  =================================================================================

Adding (or creating) a ``Table`` adds the table and then everything in it, in an order where
every reference resolves: named objects, flowtables, chains (empty), sets and maps (with their
elements, which may jump to those chains), then each chain's rules (which may use all of
these). A ``Ruleset`` adds each of its tables. Each such object is its
own ``Op`` whose ``obj`` carries only that object (a table op's ``obj`` has no chains, a chain
op's ``obj`` has no rules; a set op's ``obj`` keeps its elements, which nft adds with the set).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Literal

import attrs

from ._node import Node
from .errors import ValidationError
from .model.datatypes import format_addr
from .model.enums import Family
from .model.objects import NamedObject
from .model.ruleset import Chain, Flowtable, Rule, Ruleset, Table
from .model.sets import Map, Set
from .render.json import to_json as _node_json

__all__ = [
    "ALLOWED",
    "Kind",
    "Op",
    "TableRef",
    "Transaction",
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
    if value.__class__ is str and value in _GOOD_NAMES:
        return value
    if not isinstance(value, str) or not value or len(value.encode()) > 255 or any(
            ord(c) < 32 or c == '"' for c in value):
        raise ValidationError("Transaction", field, f"invalid name {value!r}")
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


class Transaction:
    """An ordered list of operations, applied by a backend as one atomic batch.

    Every method validates at once (``ValidationError``) and returns the transaction, so calls
    chain: ``Transaction().add(table).add_elements(...)``.
    """

    def __init__(self, ops: Iterable[Op] = ()) -> None:
        self._ops: list[Op] = list(ops)

    # --- inspection -------------------------------------------------------------------------

    @property
    def ops(self) -> tuple[Op, ...]:
        """The operations, in order; ``ops[i]`` is command ``i`` of
        ``to_json(ordered=False)``."""
        return tuple(self._ops)

    def __len__(self) -> int:
        return len(self._ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self._ops)

    def __repr__(self) -> str:
        return f"Transaction({len(self._ops)} ops)"

    def batch(self, *, ordered: bool = True) -> list[tuple[int, Op]]:
        """The ops as a backend sends them, each with the index in ``ops`` of the op it came
        from (which errors report).

        ``ordered`` (the default) puts each run of ``add``/``create`` ops in the order that
        costs the kernel least without changing the result: tables, named objects and
        flowtables, sets and maps without their elements, chains, rules, then elements (see
        ``nftkit._ordering``). A set given with elements is then sent as two commands, the
        set and an ``add element``, both carrying the set op's index. ``ordered=False``:
        ``[(0, ops[0]), (1, ops[1]), ...]``.
        """
        if not ordered:
            return list(enumerate(self._ops))
        from ._ordering import ordered as order  # _ordering builds on this module

        return order(self._ops)

    def to_json(self, *, version: str | tuple[int, ...] | None = None,
                ordered: bool = True) -> dict[str, Any]:
        """The libnftables JSON command batch ``{"nftables": [{"add": {...}}, ...]}``, as
        ``Nftables.run`` sends it: in batch order (see ``batch``), or with ``ordered=False``
        one command per op in ``ops`` order."""
        return {"nftables": [op.to_json(version=version)
                             for _i, op in self.batch(ordered=ordered)]}

    def append(self, op: Op) -> Transaction:
        """Append a ready-made ``Op``."""
        if not isinstance(op, Op):
            raise ValidationError("Transaction", None, f"expected an Op, got {op!r}")
        self._ops.append(op)
        return self

    def extend(self, other: Iterable[Op]) -> Transaction:
        """Append every op of another transaction (or any iterable of ops)."""
        for op in other:
            self.append(op)
        return self

    # --- add / create -----------------------------------------------------------------------

    def add(self, obj: Node, *, table: TableRef | None = None, chain: Chain | str | None = None,
            after: int | None = None, index: int | None = None) -> Transaction:
        """Add an object; adding what exists is not an error (nft ``add``).

        ``obj`` is a ``Ruleset`` or ``Table`` (everything in it is added), or a chain (with its
        rules), set, map, flowtable or named object (needs ``table=``), or a rule (needs
        ``table=`` and ``chain=``; ``after=handle`` or ``index=n`` place it after that rule).
        """
        return self._add(Verb.ADD, obj, table, chain, after, index)

    def create(self, obj: Node, *, table: TableRef | None = None) -> Transaction:
        """Like ``add`` but fails with ``ExistsError`` if the object exists (nft ``create``).

        Rules have no ``create`` in nft: the rules of a created chain or table are added.
        """
        if isinstance(obj, Rule):
            raise ValidationError("Transaction", None, "nft has no create rule: use add")
        return self._add(Verb.CREATE, obj, table, None, None, None)

    def _add(self, verb: Verb, obj: Node, table: TableRef | None, chain: Chain | str | None,
             after: int | None, index: int | None) -> Transaction:
        if isinstance(obj, Ruleset):
            for t in obj.tables:
                self._add(verb, t, None, None, None, None)
            return self
        kind = _kind_of(obj)
        if kind is not Kind.RULE and (after is not None or index is not None or chain is not None):
            raise ValidationError("Transaction", None, "chain/after/index are for rules only")
        if kind is Kind.TABLE:
            assert isinstance(obj, Table)
            self._add_table(verb, obj)
            return self
        family, tname = _table_ref(table, f"{verb} {kind}")
        if kind is Kind.RULE:
            assert isinstance(obj, Rule)
            cname = _chain_name(chain, f"{verb} rule")
            self._rule_op(verb, obj, family, tname, cname, after, index, "after")
            return self
        if kind is Kind.CHAIN:
            assert isinstance(obj, Chain)
            self._ops.append(Op(verb=verb, kind=kind, family=family, table=tname, name=obj.name,
                                obj=obj.replace(rules=())))
            for rule in obj.rules:
                self._ops.append(Op(verb=Verb.ADD, kind=Kind.RULE, family=family, table=tname,
                                    chain=obj.name, obj=rule))
            return self
        name = getattr(obj, "name", None)
        self._ops.append(Op(verb=verb, kind=kind, family=family, table=tname, name=name, obj=obj))
        return self

    def _add_table(self, verb: Verb, table: Table) -> None:
        bare = table.replace(chains=(), sets=(), flowtables=(), objects=())
        self._ops.append(Op(verb=verb, kind=Kind.TABLE, family=table.family, table=table.name,
                            obj=bare))
        for item in (*table.objects, *table.flowtables):
            self._add(verb, item, table, None, None, None)
        # Chains before sets: verdict map elements (``80 : jump svc``) need their chains.
        for c in table.chains:
            self._ops.append(Op(verb=verb, kind=Kind.CHAIN, family=table.family, table=table.name,
                                name=c.name, obj=c.replace(rules=())))
        for s in table.sets:
            self._add(verb, s, table, None, None, None)
        for c in table.chains:
            for rule in c.rules:
                self._ops.append(Op(verb=Verb.ADD, kind=Kind.RULE, family=table.family,
                                    table=table.name, chain=c.name, obj=rule))

    def _rule_op(self, verb: Verb, rule: Rule, family: Family, table: str, chain: str,
                 position: int | None, index: int | None, label: str) -> None:
        if position is not None and index is not None:
            raise ValidationError("Transaction", label, f"give {label}= or index=, not both")
        if position is not None:
            _check_handle(label, position)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)
                                  or index < 0):
            raise ValidationError("Transaction", "index", f"must be an int >= 0, got {index!r}")
        self._ops.append(Op(verb=verb, kind=Kind.RULE, family=family, table=table, chain=chain,
                            obj=rule, position=position, index=index))

    # --- rules ------------------------------------------------------------------------------

    def insert(self, rule: Rule, *, table: TableRef, chain: Chain | str,
               before: int | None = None, index: int | None = None) -> Transaction:
        """Insert a rule at the top of a chain, before the rule with handle ``before``, or
        before the rule at position ``index`` (nft ``insert rule``)."""
        if not isinstance(rule, Rule):
            raise ValidationError("Transaction", None, f"insert takes a Rule, got {rule!r}")
        family, tname = _table_ref(table, "insert rule")
        self._rule_op(Verb.INSERT, rule, family, tname, _chain_name(chain, "insert rule"),
                      before, index, "before")
        return self

    def replace(self, rule: Rule, *, table: TableRef, chain: Chain | str,
                handle: int) -> Transaction:
        """Replace the rule with handle ``handle`` (nft ``replace rule ... handle N``)."""
        if not isinstance(rule, Rule):
            raise ValidationError("Transaction", None, f"replace takes a Rule, got {rule!r}")
        family, tname = _table_ref(table, "replace rule")
        self._ops.append(Op(verb=Verb.REPLACE, kind=Kind.RULE, family=family, table=tname,
                            chain=_chain_name(chain, "replace rule"), obj=rule,
                            handle=_check_handle("handle", handle)))
        return self

    # --- delete / destroy -------------------------------------------------------------------

    def delete(self, target: Node | Kind | str, *, table: TableRef | None = None,
               chain: Chain | str | None = None, name: str | None = None,
               handle: int | None = None) -> Transaction:
        """Delete an object; ``NotFoundError`` at run time if it does not exist.

        ``target`` is a model object (its name identifies it; a rule needs its handle, from
        ``rule.handle`` or ``handle=``) or a kind (``"chain"``, ``Kind.SET``, ...) with
        ``name=`` or ``handle=``. A table is given by ``table=``: ``delete("table",
        table=("inet", "t"))`` or ``delete(table_obj)``.
        """
        return self._remove(Verb.DELETE, target, table, chain, name, handle)

    def destroy(self, target: Node | Kind | str, *, table: TableRef | None = None,
                chain: Chain | str | None = None, name: str | None = None,
                handle: int | None = None) -> Transaction:
        """Like ``delete`` but not an error when the object does not exist (nft ``destroy``;
        emulated by the libnftables backend where nft < 1.0.7 or the kernel lacks it)."""
        return self._remove(Verb.DESTROY, target, table, chain, name, handle)

    def _remove(self, verb: Verb, target: Node | Kind | str, table: TableRef | None,
                chain: Chain | str | None, name: str | None, handle: int | None) -> Transaction:
        if isinstance(target, Ruleset):
            raise ValidationError("Transaction", None, f"cannot {verb} a ruleset: use flush")
        kind = _kind(target)
        if kind not in ALLOWED[verb] or kind is Kind.ELEMENT:
            what = "use delete_elements" if kind is Kind.ELEMENT else "not a deletable kind"
            raise ValidationError("Transaction", "kind", f"{verb} {kind}: {what}")
        if handle is not None:
            _check_handle("handle", handle)
        if kind is Kind.TABLE:
            if isinstance(target, Table):
                table = target
            family, tname = _table_ref(table, f"{verb} table")
            self._ops.append(Op(verb=verb, kind=kind, family=family, table=tname, handle=handle))
            return self
        family, tname = _table_ref(table, f"{verb} {kind}")
        if kind is Kind.RULE:
            if isinstance(target, Rule) and handle is None:
                handle = target.handle
            if handle is None:
                raise ValidationError("Transaction", "handle", f"{verb} rule needs a handle")
            self._ops.append(Op(verb=verb, kind=kind, family=family, table=tname,
                                chain=_chain_name(chain, f"{verb} rule"), handle=handle))
            return self
        if chain is not None:
            raise ValidationError("Transaction", "chain", "chain= is for rules only")
        if isinstance(target, Node):
            name = getattr(target, "name", None)
        if name is None and handle is None:
            raise ValidationError("Transaction", "name", f"{verb} {kind} needs name= or handle=")
        if name is not None:
            _check_name("name", name)
            handle = None  # nft refuses both; the name is what the caller meant
        self._ops.append(Op(verb=verb, kind=kind, family=family, table=tname, name=name,
                            handle=handle))
        return self

    # --- flush / reset / rename -------------------------------------------------------------

    def flush(self, target: Node | Kind | str = Kind.RULESET, *, table: TableRef | None = None,
              name: str | None = None) -> Transaction:
        """Empty a container without deleting it (nft ``flush``).

        ``flush()`` or ``flush("ruleset")``: every table (the ruleset). ``flush(table_obj)`` or
        ``flush("table", table=...)``: every rule of a table (its chains, sets stay). A chain:
        its rules. A set or map: its elements. Chains, sets and maps are given as model
        objects or as a kind with ``name=``, and need ``table=``.
        """
        kind = _kind(target)
        if kind not in ALLOWED[Verb.FLUSH]:
            raise ValidationError("Transaction", "kind", f"cannot flush a {kind}")
        if kind is Kind.RULESET:
            self._ops.append(Op(verb=Verb.FLUSH, kind=kind))
            return self
        if isinstance(target, Table):
            table = target
        family, tname = _table_ref(table, f"flush {kind}")
        if kind is not Kind.TABLE:
            if isinstance(target, Node):
                name = getattr(target, "name", None)
            name = _check_name("name", name)
        self._ops.append(Op(verb=Verb.FLUSH, kind=kind, family=family, table=tname, name=name))
        return self

    def reset(self, target: Node | Kind | str, *, table: TableRef | None = None,
              chain: Chain | str | None = None, name: str | None = None) -> Transaction:
        """Zero stateful values (nft ``reset``).

        A ``Counter``/``Quota`` (or ``"counter"``/``"quota"`` with ``name=``) in ``table=``;
        ``"counters"``/``"quotas"``: every named counter/quota of ``table=`` (or of the ruleset
        when no table is given); ``"rules"``: the counters and quotas inside rules, of
        ``chain=`` in ``table=``, of ``table=``, or of everything (nft >= 1.0.7).
        """
        kind = _kind(target)
        if kind not in ALLOWED[Verb.RESET]:
            raise ValidationError("Transaction", "kind", f"cannot reset a {kind}")
        if kind in (Kind.COUNTER, Kind.QUOTA):
            family, tname = _table_ref(table, f"reset {kind}")
            if isinstance(target, Node):
                name = getattr(target, "name", None)
            self._ops.append(Op(verb=Verb.RESET, kind=kind, family=family, table=tname,
                                name=_check_name("name", name)))
            return self
        if table is None:
            if chain is not None:
                raise ValidationError("Transaction", "chain", "chain= needs table=")
            self._ops.append(Op(verb=Verb.RESET, kind=kind))
            return self
        family, tname = _table_ref(table, f"reset {kind}")
        cname = None
        if chain is not None:
            if kind is not Kind.RULES:
                raise ValidationError("Transaction", "chain", f"reset {kind} takes no chain")
            cname = _chain_name(chain, "reset rules")
        self._ops.append(Op(verb=Verb.RESET, kind=kind, family=family, table=tname, chain=cname))
        return self

    def rename(self, chain: Chain | str, new_name: str, *, table: TableRef) -> Transaction:
        """Rename a chain (nft ``rename chain inet t old new``)."""
        family, tname = _table_ref(table, "rename chain")
        self._ops.append(Op(verb=Verb.RENAME, kind=Kind.CHAIN, family=family, table=tname,
                            name=_chain_name(chain, "rename"),
                            new_name=_check_name("new_name", new_name)))
        return self

    # --- elements ---------------------------------------------------------------------------

    def add_elements(self, set_or_map: Set | Map | str, elements: Iterable[Any], *,
                     table: TableRef) -> Transaction:
        """Add elements to a set or map (nft ``add element inet t s { ... }``).

        Map elements are ``(key, data)`` pairs. Elements may be values, ``PrefixExpr``,
        ``RangeExpr``, ``ConcatExpr`` or ``ElemExpr`` (with timeout/comment).
        """
        return self._elements(_ADD, set_or_map, elements, table)

    def create_elements(self, set_or_map: Set | Map | str, elements: Iterable[Any], *,
                        table: TableRef) -> Transaction:
        """Like ``add_elements`` but fails with ``ExistsError`` if one exists."""
        return self._elements(_CREATE, set_or_map, elements, table)

    def delete_elements(self, set_or_map: Set | Map | str, elements: Iterable[Any], *,
                        table: TableRef) -> Transaction:
        """Delete elements (nft ``delete element ...``); a missing one is ``NotFoundError``.
        For a map, give the keys or the ``(key, data)`` pairs."""
        return self._elements(_DELETE, set_or_map, elements, table)

    def destroy_elements(self, set_or_map: Set | Map | str, elements: Iterable[Any], *,
                         table: TableRef) -> Transaction:
        """Delete the elements that exist (nft >= 1.0.7 ``destroy element``; emulated)."""
        return self._elements(_DESTROY, set_or_map, elements, table)

    def _elements(self, verb: Verb, set_or_map: Set | Map | str, elements: Iterable[Any],
                  table: TableRef) -> Transaction:
        # The per-element update path (an agent's most frequent call): kept lean, see
        # docs/performance.md "Backend".
        if table is None:
            raise ValidationError("Transaction", "table", f"{verb} element needs table=")
        family, tname = _table_ref(table, "")
        is_set = isinstance(set_or_map, Set)
        name = set_or_map.name if is_set else _check_name("name", set_or_map)  # type: ignore[union-attr]
        if isinstance(elements, (str, bytes, Node)):
            raise ValidationError("Transaction", "elements",
                                  "expected an iterable of elements, got a single value")
        elems = elements if elements.__class__ is tuple else tuple(elements)
        if not elems:
            raise ValidationError("Transaction", "elements", "no elements given")
        is_map = isinstance(set_or_map, Map)
        removing = verb is _DELETE or verb is _DESTROY
        pairs = False
        for e in elems:
            pair = e.__class__ is tuple or isinstance(e, tuple)
            if pair:
                pairs = True
                if len(e) != 2:
                    raise ValidationError("Transaction", "elements",
                                          f"map elements are (key, data) pairs, got {e!r}")
            if is_set and pair != is_map and not (removing and is_map):
                what = "(key, data) pairs" if is_map else "keys, not pairs"
                raise ValidationError("Transaction", "elements",
                                      f"{name} takes {what}, got {e!r}")
            if e is None:
                raise ValidationError("Transaction", "elements", "None is not an element")
        if removing and pairs:
            # nft deletes map elements by key; the data part is not needed.
            elems = tuple(e[0] if isinstance(e, tuple) else e for e in elems)
        self._ops.append(_element_op(verb, family, tname, name, elems))
        return self


# Enum members looked up once: ``Verb.DELETE`` goes through the enum metaclass (~0.2 us).
_ADD, _CREATE, _DELETE, _DESTROY = Verb.ADD, Verb.CREATE, Verb.DELETE, Verb.DESTROY
_ELEMENT = Kind.ELEMENT
_new = object.__new__
# The slots' own setters: what attrs' ``__init__`` does through ``object.__setattr__``, at a
# third of the cost (that lookup is most of building an element op).
# (tests/test_backend_fastpath.py checks that every field is set, as ``Op()`` sets it)
_SET = {f.name: Op.__dict__[f.name].__set__ for f in attrs.fields(Op)}
_set_verb, _set_kind, _set_family, _set_table = (_SET[n] for n in ("verb", "kind", "family",
                                                                   "table"))
_set_name, _set_chain, _set_obj, _set_handle = (_SET[n] for n in ("name", "chain", "obj",
                                                                  "handle"))
_set_position, _set_index, _set_new_name, _set_elements = (
    _SET[n] for n in ("position", "index", "new_name", "elements"))


def _element_op(verb: Verb, family: Family, table: str, name: str,
                elements: tuple[Any, ...]) -> Op:
    """``Op(verb=verb, kind=Kind.ELEMENT, family=..., table=..., name=..., elements=...)``
    for arguments ``Transaction._elements`` has checked (every verb takes elements)."""
    op: Op = _new(Op)
    _set_verb(op, verb)
    _set_kind(op, _ELEMENT)
    _set_family(op, family)
    _set_table(op, table)
    _set_name(op, name)
    _set_chain(op, None)
    _set_obj(op, None)
    _set_handle(op, None)
    _set_position(op, None)
    _set_index(op, None)
    _set_new_name(op, None)
    _set_elements(op, elements)
    return op
