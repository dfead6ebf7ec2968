"""``Transaction``: typed operations built and validated one call at a time, sent by a backend
as one atomic batch (see ``nftkit.transaction`` for the verbs and kinds)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from .._node import Node
from ..errors import ValidationError
from ..model.enums import Family
from ..model.ruleset import Chain, Rule, Ruleset, Table
from ..model.sets import Map, Set
from ._values import typed_elements
from .ops import (
    ALLOWED,
    Kind,
    Op,
    TableRef,
    Verb,
    _chain_name,
    _check_handle,
    _check_name,
    _kind,
    _kind_of,
    _table_ref,
)
from .ordering import ordered as order_batch

__all__ = ["Transaction"]


class Transaction:
    """An ordered list of operations, applied by a backend as one atomic batch.

    Every method validates at once (``ValidationError``) and returns the transaction, so calls
    chain: ``Transaction().add(table).add_elements(...)``.
    """

    def __init__(self, ops: Iterable[Op] = (), *,
                 known: Ruleset | Table | Iterable[Table] | None = None) -> None:
        """``known``: tables (or a ruleset) whose sets and maps are known to exist as given,
        e.g. what ``list_ruleset()`` returned: element values for them are checked against
        their types when added (see ``add_elements``)."""
        self._ops: list[Op] = list(ops)
        #: sets and maps whose type is known, by (family, table, name): element values
        #: given for them are checked (``_values.typed_elements``)
        self._sets: dict[tuple[Family, str, str], Set] = {}
        if known is not None:
            tables = known.tables if isinstance(known, Ruleset) else (
                (known,) if isinstance(known, Table) else known)
            for t in tables:
                for s in t.sets:
                    self._sets[(t.family, t.name, s.name)] = s
        for op in self._ops:
            self._remember(op)

    def _remember(self, op: Op) -> None:
        if isinstance(op.obj, Set) and op.family is not None and op.table is not None:
            self._sets[(op.family, op.table, op.obj.name)] = op.obj

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
        ``nftkit.transaction.ordering``). A set given with elements is then sent as two
        commands, the set and an ``add element``, both carrying the set op's index.
        ``ordered=False``: ``[(0, ops[0]), (1, ops[1]), ...]``.
        """
        if not ordered:
            return list(enumerate(self._ops))
        return order_batch(self._ops)

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
        self._remember(op)
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
        op = Op(verb=verb, kind=kind, family=family, table=tname, name=name, obj=obj)
        self._ops.append(op)
        self._remember(op)
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
                     table: TableRef, resolve: bool = False) -> Transaction:
        """Add elements to a set or map (nft ``add element inet t s { ... }``).

        Map elements are ``(key, data)`` pairs. Elements may be values, ``PrefixExpr``,
        ``RangeExpr``, ``ConcatExpr`` or ``ElemExpr`` (with timeout/comment);
        ``ipaddress`` networks and CIDR strings (``"10.0.0.0/8"``) are prefixes.

        Values are checked against the set's type where it is known: ``set_or_map`` given
        as a model, a set added earlier in this transaction, or one of
        ``Transaction(known=...)`` (``ValidationError`` names the element). Strings that
        the paths would read differently (``"@x"``, ``"$x"``, a NUL byte) are refused.
        A host name where an address belongs is refused unless ``resolve=True``: nft then
        resolves it inside the target network namespace (libnftables; the netlink path
        does not resolve names).
        """
        return self._elements(_ADD, set_or_map, elements, table, resolve)

    def create_elements(self, set_or_map: Set | Map | str, elements: Iterable[Any], *,
                        table: TableRef, resolve: bool = False) -> Transaction:
        """Like ``add_elements`` but fails with ``ExistsError`` if one exists."""
        return self._elements(_CREATE, set_or_map, elements, table, resolve)

    def delete_elements(self, set_or_map: Set | Map | str, elements: Iterable[Any], *,
                        table: TableRef, resolve: bool = False) -> Transaction:
        """Delete elements (nft ``delete element ...``); a missing one is ``NotFoundError``.
        For a map, give the keys or the ``(key, data)`` pairs. Keys are checked as for
        ``add_elements``."""
        return self._elements(_DELETE, set_or_map, elements, table, resolve)

    def destroy_elements(self, set_or_map: Set | Map | str, elements: Iterable[Any], *,
                         table: TableRef, resolve: bool = False) -> Transaction:
        """Delete the elements that exist (nft >= 1.0.7 ``destroy element``; emulated)."""
        return self._elements(_DESTROY, set_or_map, elements, table, resolve)

    def _elements(self, verb: Verb, set_or_map: Set | Map | str, elements: Iterable[Any],
                  table: TableRef, resolve: bool = False) -> Transaction:
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
        known: Set | None = None
        if is_set:
            known = set_or_map  # type: ignore[assignment]
        elif self._sets:
            known = self._sets.get((family, tname, name))
        elems = typed_elements(elems, known, removing=removing, resolve=resolve)
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
