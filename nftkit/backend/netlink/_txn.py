"""A whole ``Transaction`` as one nfnetlink batch, without libnftables (``Nftables``' netlink
path).

``NetlinkPath.apply`` runs (or dry-runs) a transaction: ``encode`` turns the ops of its batch
into nf_tables messages (``_objects``) and raises ``UnsupportedError`` for anything it cannot
reproduce exactly as nft would send it; ``apply`` then returns None and ``Nftables`` uses
libnftables for the whole transaction. ``send`` applies the messages as one atomic batch (or
validates them, for a dry run) and maps the first refused message back to the op of the
transaction it came from.

Element ops name their set; its key and data types come from a set op earlier in the same
batch, else from what this path remembers of sets it has seen, else from the kernel (one
``GETSET``: type ids, lengths and nft's userdata, decoded back into a ``KeySpec``). What is
remembered is dropped for a table as soon as a transaction deletes or flushes it or one of
its sets, whichever path ran it.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Sequence

from ...check import set_refs, set_use_problem
from ...errors import ConflictError, InvalidError, NotFoundError, UnsupportedError
from ...model.ruleset import Chain, Rule, Table
from ...model.sets import Map, Set
from ...nft.objects import OBJECTS
from ...transaction import (
    Kind,
    Op,
    Transaction,
    TransactionResult,
    Verb,
    result_without_handles,
)
from .._kinds import first_mismatch
from ._anon import AnonSets
from ._facts import SetFacts, read_set
from ._objects import (
    FAMILIES,
    Msg,
    SetInfo,
    anonymous_set_messages,
    chain_message,
    delete_message,
    element_messages,
    errno_error,
    flush_message,
    rule_message,
    set_info,
    set_message,
    table_message,
)
from ._rules import names_no_set
from ._socket import NetlinkSocket
from ._tlv import _attr

__all__ = ["MissingSet", "NetlinkPath"]

_GETTABLE, _GETCHAIN, _GETRULE, _GETSET, _GETOBJ, _GETFLOWTABLE = 1, 4, 7, 10, 19, 23
#: each GET message's name and handle attributes (NFTA_TABLE_NAME/HANDLE, NFTA_CHAIN_*, ...)
_GET_ATTRS = {_GETTABLE: (1, 4), _GETCHAIN: (3, 2), _GETSET: (2, 16), _GETFLOWTABLE: (2, 5),
              _GETOBJ: (2, 6)}
#: NFT_OBJECT_* type ids of the named objects
_OBJ_TYPES = {k: kind.nl_type for k, kind in OBJECTS.items() if kind.model is not None}
_NEWTABLE, _NEWCHAIN, _NEWRULE, _NEWSET = 0, 3, 6, 9
_NLM_F_ECHO = 0x8
_Where = tuple[str, str]
#: The kernel's refusals reported as they are; others (EINVAL...) make libnftables run the
#: transaction again, so that the error carries nft's own explanation.
_REPORTED = frozenset({errno.ENOENT, errno.EEXIST, errno.EBUSY, errno.EPERM, errno.EACCES})


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode(errors="replace")


def _u64(raw: bytes) -> int:
    value: int = struct.unpack(">Q", raw)[0]
    return value


class _Stale(Exception):
    """What is known about a set is of an older generation than the kernel's."""


def _mismatch(op: Op, info: SetInfo) -> tuple[int, str] | None:
    model = info.model
    return first_mismatch(op.elements, model.type,
                          model.data_type if isinstance(model, Map) else None)


def _check_kinds(index: int, op: Op, info: SetInfo) -> None:
    """InvalidError when an element of ``op`` does not fit the kernel's set (``info``, read
    at the batch's generation): encoded for that set's type, it would land as another value."""
    model = info.model
    bad = _mismatch(op, info)
    if bad is not None:
        raise InvalidError(f"{op.describe()}: element {bad[0]}: {bad[1]} (the kernel's "
                           f"set {model.name} has type {' . '.join(model.type)})",
                           index=index, operation=op)


class MissingSet(Exception):
    """An element op names a set that neither the batch nor the kernel has. The kernel
    would refuse an earlier message first if one fails: ``messages``/``owners`` are the batch
    up to this op, for a dry run that decides which op the error belongs to."""

    def __init__(self, index: int, op: Op, messages: list[Msg], owners: list[int]) -> None:
        super().__init__(op.describe())
        self.index = index
        self.op = op
        self.messages = messages
        self.owners = owners

    def error(self) -> NotFoundError:
        return NotFoundError(f"{self.op.describe()}: no such set or map",
                             nft_message="No such file or directory", index=self.index,
                             operation=self.op)


class NetlinkPath:
    """The netlink socket of one ``Nftables`` and what it knows about sets.

    What is known about sets (``_sets``) is valid at ruleset generation ``_genid``: a batch
    encoded with any of it carries that generation (``NFNL_BATCH_GENID``), and the kernel
    refuses it (ERESTART) when another writer committed since; ``apply`` then forgets
    everything, re-reads what it needs and encodes the batch again (``RETRIES`` times in all).
    """

    #: How many times ``apply`` builds and sends a batch that meets another writer's commit.
    RETRIES = 3

    def __init__(self, netns: int | None) -> None:
        self.sock = NetlinkSocket(netns)
        self._sets: dict[tuple[str, str, str], SetInfo] = {}
        self._pending: dict[tuple[str, str, str], SetInfo] = {}
        self._genid: int | None = None
        self._depends = False  # whether the batch being encoded used what is known
        self._facts: dict[tuple[str, str, str], tuple[int, SetFacts | None]] = {}
        #: batches sent again after another writer's commit (ERESTART), over the handle's life
        self.restarts = 0

    def close(self) -> None:
        self.sock.close()

    # --- what is known about sets ---------------------------------------------------------

    def forget(self, ops: Sequence[Op]) -> None:
        """Drop what is remembered of the tables that ``ops`` delete or flush (or of all of
        them, for a ruleset flush), and the facts of the sets they delete, flush or
        (re)create: a later batch must not be checked against a set this one replaced."""
        for op in ops:
            if op.verb in (Verb.DELETE, Verb.DESTROY, Verb.FLUSH) and op.kind in (
                    Kind.RULESET, Kind.TABLE, Kind.SET, Kind.MAP):
                if op.kind is Kind.RULESET or op.family is None:
                    self._sets.clear()
                    self._facts.clear()
                    return
                where = (op.family.value, op.table or "")
                self._sets = {k: v for k, v in self._sets.items() if k[:2] != where}
                self._facts = {k: v for k, v in self._facts.items() if k[:2] != where}
            elif op.kind in (Kind.SET, Kind.MAP) and op.family is not None:
                name = op.name or getattr(op.obj, "name", None) or ""
                self._facts.pop((op.family.value, op.table or "", name), None)

    def forget_all(self) -> None:
        self._sets.clear()
        self._facts.clear()
        self._genid = None

    def _known(self, key: tuple[str, str, str]) -> SetInfo | None:
        """The set ``key`` as known at generation ``_genid`` (read now if unknown), or None
        if the kernel has no such set; marks the batch as depending on it."""
        if self._genid is None:
            self._sets.clear()
            self._genid = self.sock.genid()  # read before the facts: never newer than them
        self._depends = True
        return self._sets.get(key) or self._kernel_set(*key)

    def _kernel_set(self, family: str, table: str, name: str) -> SetInfo | None:
        """The set as the kernel has it (one GETSET), or None if it (or the table) is
        missing."""
        facts = read_set(self.sock, FAMILIES[family], table, name)
        if facts is None:
            return None
        if facts.interval or facts.object_map:
            raise UnsupportedError("interval sets and object maps are left to libnftables")
        if facts.key is None or facts.model is None:
            raise UnsupportedError(f"set {name}: a type the netlink path cannot write")
        key, data = facts.key, facts.data
        # a stand-in model without flags: the encoders read only its name and types
        model: Set = (Map(name=name, type=key.names,
                          data_type=data.names if not data.verdict else ("verdict",))
                      if data is not None else Set(name=name, type=key.names))
        info = SetInfo(model, key, data)
        self._sets[(family, table, name)] = info
        return info

    def set_facts(self, family: str, table: str, name: str, *, fresh: bool = True
                  ) -> tuple[int, SetFacts | None]:
        """``(generation, facts)`` of a kernel set, for checks made outside this path (the
        libnftables path's element checks): the facts read at that generation, or remembered
        from it when the ruleset has not changed since (one GETGEN). ``fresh=False``: what
        is remembered, of whatever generation (for a batch the kernel checks itself)."""
        key = (family, table, name)
        known = self._facts.get(key)
        if not fresh and known is not None:
            return known
        gen = self.sock.genid()
        if known is not None and known[0] == gen:
            return known
        facts = read_set(self.sock, FAMILIES[family], table, name)
        if len(self._facts) > 4096:
            self._facts.clear()
        self._facts[key] = (gen, facts)
        return gen, facts

    def confirm(self, family: str, table: str, name: str, gen: int, facts: SetFacts) -> bool:
        """After one batch went out that was checked against ``facts`` (read at generation
        ``gen`` by ``set_facts``): whether its elements meant what they were checked for.
        True when the generation is now ``gen + 1`` (nobody else committed in between), or
        when the set has the same type now; False when another writer replaced it with a set
        of another type meanwhile."""
        now = self.sock.genid()
        key = (family, table, name)
        if now == gen + 1:
            self._facts[key] = (now, facts)
            return True
        fresh = read_set(self.sock, FAMILIES[family], table, name)
        self._facts[key] = (now, fresh)
        return fresh is None or fresh.same_type(facts)

    def invalidate(self) -> None:
        """Another path committed: what is known about sets is of an older generation."""
        self._sets.clear()
        self._genid = None

    # --- encoding -------------------------------------------------------------------------

    def encode(self, ops: Sequence[Op], batch: Sequence[tuple[int, Op]], *,
               echo: bool = False) -> tuple[list[Msg], list[int]]:
        """The messages of ``batch`` and, for each, the index in ``ops`` of its op.

        ``echo``: ask the kernel to echo what each creating message makes (NLM_F_ECHO), for
        ``handles``. Raises UnsupportedError (nothing sent) for what only libnftables can
        do, and MissingSet for an element op whose set does not exist."""
        messages: list[Msg] = []
        owners: list[int] = []
        self._depends = False
        new_sets: dict[tuple[str, str, str], SetInfo] = {}
        tables: dict[_Where, list[Set]] = {}
        models: dict[tuple[object, ...], Table] = {}
        next_id = 1
        for i, op in batch:
            family = op.family
            verb, kind = op.verb, op.kind
            out: list[Msg]
            if verb is Verb.FLUSH and kind is Kind.RULESET:
                # libnftables skips its cache for such a batch and then fails ops that need
                # it (FakeNftables models that); keep its semantics: let it run the batch
                raise UnsupportedError("flush ruleset is left to libnftables")
            if verb is Verb.FLUSH:
                out = [flush_message(kind.value, family, op.table, op.name)]
            elif family is None or op.table is None:
                raise UnsupportedError(f"{op.describe()} is left to libnftables")
            elif verb in (Verb.DELETE, Verb.DESTROY) and kind is not Kind.ELEMENT:
                out = [delete_message(kind.value, family, op.table, op.name, op.handle,
                                      op.chain, destroy=verb is Verb.DESTROY)]
            elif kind is Kind.TABLE and verb in (Verb.ADD, Verb.CREATE):
                assert isinstance(op.obj, Table)
                out = [table_message(verb.value, op.obj)]
            elif kind is Kind.CHAIN and verb in (Verb.ADD, Verb.CREATE):
                assert isinstance(op.obj, Chain)
                out = [chain_message(verb.value, family, op.table, op.obj)]
            elif kind in (Kind.SET, Kind.MAP) and verb in (Verb.ADD, Verb.CREATE):
                assert isinstance(op.obj, Set)
                info = set_info(op.obj, next_id)
                next_id += 1
                new_sets[(family.value, op.table, op.obj.name)] = info
                tables.setdefault((family.value, op.table), []).append(op.obj)
                out = [set_message(verb.value, family, op.table, info)]
                if op.obj.elements:
                    out += element_messages(verb.value, FAMILIES[family.value], op.table, info,
                                            op.obj.elements)
            elif kind is Kind.ELEMENT and verb in (Verb.ADD, Verb.CREATE, Verb.DELETE,
                                                   Verb.DESTROY):
                key = (family.value, op.table, op.name or "")
                info_or_none = new_sets.get(key)
                if info_or_none is None:
                    info_or_none = self._known(key)
                    if info_or_none is not None and _mismatch(op, info_or_none) is not None:
                        if self.sock.genid() != self._genid:
                            raise _Stale  # what is known is old: read it again
                        _check_kinds(i, op, info_or_none)
                if info_or_none is None and verb is Verb.DESTROY:
                    raise UnsupportedError("destroy elements of a missing set: libnftables")
                if info_or_none is None:
                    raise MissingSet(i, op, messages, owners)
                out = element_messages(verb.value, FAMILIES[family.value], op.table,
                                       info_or_none, op.elements)
            elif kind is Kind.RULE and verb in (Verb.ADD, Verb.INSERT, Verb.REPLACE):
                if (op.index is not None or op.position is not None
                        or not isinstance(op.obj, Rule) or op.chain is None):
                    # libnftables places these by index, with its own checks (e.g. refusing
                    # a position after a delete in the same batch): keep its semantics
                    raise UnsupportedError("rules by index or position are left to libnftables")
                sets = list(tables.get((family.value, op.table), []))
                sets += self._used_sets(op.obj, family.value, op.table, new_sets, sets)
                model = None
                if sets:  # one stand-in table per set of sets, not one per rule
                    where_sets = (family, op.table, *map(id, sets))
                    model = models.get(where_sets)
                    if model is None:
                        model = models[where_sets] = Table(family=family, name=op.table,
                                                           sets=sets)
                anon = AnonSets(next_id)
                out = [rule_message(verb.value, family, op.table, op.chain, op.obj, model,
                                    position=op.position, handle=op.handle, anon=anon)]
                if anon.sets:  # declared in the batch before the rule that binds them
                    next_id = anon.next_id
                    out[:0] = anonymous_set_messages(family, op.table, anon)
            else:
                raise UnsupportedError(f"{op.describe()} is left to libnftables")
            if echo and op.creates:
                # the object itself, not its elements (nor a rule's anonymous sets)
                at = len(out) - 1 if kind is Kind.RULE else 0
                kind_, flags, fam, body = out[at]
                out[at] = (kind_, flags | _NLM_F_ECHO, fam, body)
            messages += out
            owners += [i] * len(out)
        self._pending = new_sets
        return messages, owners

    def _used_sets(self, rule: Rule, family: str, table: str,
                   new_sets: dict[tuple[str, str, str], SetInfo], have: list[Set]) -> list[Set]:
        """The sets ``rule`` names that are not in this batch (from memory or the kernel).
        A missing one, or one the rule cannot use (a key of another type, a set where a map
        is needed), is left to libnftables, whose evaluation reports it as nft does."""
        if names_no_set(rule):  # most rules of a full load: no walk of the whole rule
            return []
        out: list[Set] = []
        names = {s.name for s in have}
        for name, use, key in set_refs(rule):
            where = (family, table, name)
            info = new_sets.get(where) or self._known(where)
            if info is None:
                raise UnsupportedError(f"rule uses @{name}, which does not exist")
            if set_use_problem(info.model, use, key) is not None:
                raise UnsupportedError(f"rule cannot use @{name}: libnftables reports it")
            if name not in names:
                names.add(name)
                out.append(info.model)
        return out

    def committed(self, ops: Sequence[Op], genid: int | None) -> None:
        """After a successful batch (sent with ``genid``, or without one): forget deleted
        tables and sets, remember new sets, and move what is known to the generation the
        batch made, when no other writer can have committed in between."""
        self.forget(ops)
        for key, info in self._pending.items():
            info.id = None
            self._sets[key] = info
        self._pending = {}
        if self._genid is None:
            return
        if genid is not None:
            self._genid = genid + 1  # the kernel refuses a batch that is not the next one
        elif self._sets:
            now = self.sock.genid()
            if now == self._genid + 1:
                self._genid = now
            else:
                self.forget_all()  # someone else may have changed what is known
        else:
            self._genid = None

    def handles(self, ops: Sequence[Op], batch: Sequence[tuple[int, Op]]
                ) -> list[int | None]:
        """The kernel handles of what ``ops`` created, per op, after a batch encoded with
        ``echo``: from the objects the kernel echoed (rules in their chain's order), and for
        tables, chains and sets that existed already (``add`` makes nothing: no echo) from a
        GET of each by name."""
        named: dict[tuple[int, int, str, str], int] = {}
        rules: dict[tuple[int, str, str], list[int]] = {}
        for kind, fam, attrs in self.sock.echoed:
            d = dict(attrs)
            if kind == _NEWTABLE and 4 in d:
                named[(kind, fam, "", _text(d[1]))] = _u64(d[4])
            elif kind == _NEWCHAIN and 2 in d:
                named[(kind, fam, _text(d[1]), _text(d[3]))] = _u64(d[2])
            elif kind == _NEWSET and 16 in d:
                named[(kind, fam, _text(d[1]), _text(d[2]))] = _u64(d[16])
            elif kind == _NEWRULE and 3 in d:
                rules.setdefault((fam, _text(d[1]), _text(d[2])), []).append(_u64(d[3]))
        out: list[int | None] = [None] * len(ops)
        for i, op in batch:
            if not op.creates or op.family is None or op.table is None:
                continue
            fam = FAMILIES[op.family.value]
            if op.kind is Kind.RULE:
                queue = rules.get((fam, op.table, op.chain or ""), [])
                out[i] = queue.pop(0) if queue else None
                continue
            kind, get, where = {
                Kind.TABLE: (_NEWTABLE, _GETTABLE, ""),
                Kind.CHAIN: (_NEWCHAIN, _GETCHAIN, op.table),
                Kind.SET: (_NEWSET, _GETSET, op.table),
                Kind.MAP: (_NEWSET, _GETSET, op.table),
            }[op.kind]
            name = op.table if op.kind is Kind.TABLE else (op.name or "")
            handle = named.get((kind, fam, where, name))
            out[i] = handle if handle is not None else self._get_handle(get, fam, where, name)
        return out

    def handles_by_name(self, ops: Sequence[Op]) -> list[int | None]:
        """The kernel handles of what ``ops`` created, looked up after the batch: tables,
        chains, sets, maps, flowtables and named objects by name (one GET each), rules
        appended to a chain as the last ones of its dump, in order (for batches that only
        append rules). None where the object is missing."""
        out: list[int | None] = [None] * len(ops)
        appended: dict[tuple[int, str, str], list[int]] = {}
        for i, op in enumerate(ops):
            if not op.creates or op.family is None or op.table is None:
                continue
            fam = FAMILIES[op.family.value]
            if op.kind is Kind.RULE and op.chain is not None:
                appended.setdefault((fam, op.table, op.chain), []).append(i)
            elif op.kind is Kind.TABLE:
                out[i] = self._get_handle(_GETTABLE, fam, "", op.table)
            elif op.name is not None:
                out[i] = self._named_handle(op.kind, fam, op.table, op.name)
        for (fam, table, chain), indexes in appended.items():
            if any(ops[i].verb is not Verb.ADD or ops[i].position is not None
                   or ops[i].index is not None for i in indexes):
                continue  # placed by position: not found by where they are
            body = _attr(1, table.encode() + b"\0") + _attr(2, chain.encode() + b"\0")
            found = [_u64(h) for r in self.sock.dump(_GETRULE, fam, body)
                     if (h := dict(r).get(3)) is not None]
            for i, handle in zip(indexes, found[-len(indexes):], strict=False):
                out[i] = handle
        return out

    def _named_handle(self, kind: Kind, family: int, table: str, name: str) -> int | None:
        if kind in (Kind.CHAIN, Kind.SET, Kind.MAP):
            return self._get_handle(_GETCHAIN if kind is Kind.CHAIN else _GETSET, family,
                                    table, name)
        if kind is Kind.FLOWTABLE:
            return self._get_handle(_GETFLOWTABLE, family, table, name)
        if kind.value in _OBJ_TYPES:
            return self._get_handle(_GETOBJ, family, table, name, _OBJ_TYPES[kind.value])
        return None

    def _get_handle(self, get: int, family: int, table: str, name: str,
                    obj_type: int | None = None) -> int | None:
        name_attr, handle_attr = _GET_ATTRS[get]
        body = b"" if get == _GETTABLE else _attr(1, table.encode() + b"\0")
        body += _attr(name_attr, name.encode() + b"\0")
        if obj_type is not None:  # NFTA_OBJ_TYPE
            body += struct.pack("=HH", 8, 3) + struct.pack(">I", obj_type)
        try:
            found = dict(self.sock.request(get, family, body))
        except NotFoundError:
            return None
        raw = found.get(handle_attr)
        return _u64(raw) if raw is not None else None

    def send(self, messages: list[Msg], *, commit: bool, genid: int | None = None
             ) -> tuple[int, int] | None:
        """See ``NetlinkSocket.batch``."""
        return self.sock.batch(messages, commit=commit, genid=genid)

    # --- running a transaction ------------------------------------------------------------

    def apply(self, txn: Transaction, *, dry: bool, want_handles: bool, ordered: bool,
              refuse: bool = False) -> TransactionResult | None:
        """Apply (or dry-run) ``txn`` as one batch; None when libnftables must do it instead
        (nothing was changed then).

        Handles: the creating messages carry NLM_F_ECHO and the kernel echoes each object it
        makes, with its handle, at commit (``handles``); ``want_handles=False`` skips that.
        The kernel's first refusal is reported against the op that sent the refused message:
        ENOENT, EEXIST, EBUSY and EPERM as NotFoundError, ExistsError, BusyError and
        PermissionDeniedError; other errors (EINVAL...) return None, so that libnftables runs
        the transaction again, atomically and from scratch, and the error carries nft's own
        explanation. ``refuse``: raise the encoders' UnsupportedError (nothing sent) instead
        of returning None for what only libnftables can do.
        """
        ops = txn.ops
        echo = want_handles and not dry and any(op.creates for op in ops)
        batch = txn.batch(ordered=ordered)
        for _attempt in range(self.RETRIES):
            try:
                messages, owners = self.encode(ops, batch, echo=echo)
            except UnsupportedError:
                if refuse:
                    raise
                return None
            except _Stale:
                self.restarts += 1
                self.forget_all()
                continue
            except MissingSet as missing:
                # an earlier op may fail first: the kernel decides, with a dry run of the
                # batch up to the element op
                messages, owners = missing.messages, missing.owners
                failed = self.send(messages, commit=False) if messages else None
                if failed is None:
                    raise missing.error() from None
                break
            genid = self._genid if self._depends else None
            failed = self.send(messages, commit=not dry, genid=genid)
            if failed == (0, errno.ERESTART) and genid is not None:
                # another writer committed since what the batch was built from was read:
                # read it again, build the batch again
                self.restarts += 1
                self.forget_all()
                continue
            if failed is None:
                if not dry:
                    self.committed(ops, genid)
                if not echo:
                    return result_without_handles(ops, "netlink")
                return TransactionResult(ops=ops, handles=tuple(self.handles(ops, batch)),
                                         path="netlink")
            break
        else:
            raise ConflictError(
                f"{len(ops)} operation(s): another process changed the ruleset each time this "
                f"batch was built ({self.RETRIES} attempts); nothing was applied")
        pos, err = failed
        if err not in _REPORTED:
            return None
        index = owners[min(pos, len(owners) - 1)]
        raise errno_error(err, ops[index].describe(), index=index, operation=ops[index])
