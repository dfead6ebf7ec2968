"""nf_tables messages built from the model: tables, chains, sets and maps, elements, rules,
and the deletes and flushes of a resync. Each builder returns ``(message type, netlink
flags, nfproto family, body)`` for ``NetlinkSocket.batch``.

What nft 1.0.6 sends, and so what these send (attribute numbers from
<linux/netfilter/nf_tables.h>; integers big-endian unless said otherwise):

================  =========================================================================
message           attributes
================  =========================================================================
NEWTABLE          NAME, FLAGS, USERDATA (comment: userdata record 0)
NEWCHAIN          TABLE, NAME, HOOK {HOOKNUM, PRIORITY, DEV | DEVS}, POLICY, TYPE, USERDATA
NEWSET            TABLE, NAME, FLAGS, KEY_TYPE, KEY_LEN, DATA_TYPE, DATA_LEN, POLICY,
                  DESC {SIZE, CONCAT {ELEM {FIELD_LEN}...}}, ID, TIMEOUT, GC_INTERVAL,
                  USERDATA (see ``_types``)
NEWSETELEM        TABLE, SET, SET_ID (a set created in the same batch), ELEMENTS {ELEM...}:
                  split over several messages so that no ELEMENTS nest passes 64 KiB
NEWRULE           TABLE, CHAIN, POSITION, EXPRESSIONS (``_rules``), USERDATA
DEL*              TABLE, NAME or HANDLE; ``flush table``/``flush chain`` are a DELRULE of
                  the table (or chain) without a handle, ``flush set`` a DELSETELEM without
                  elements, ``flush ruleset`` a DELTABLE without a name
================  =========================================================================

``add`` sends ``NLM_F_CREATE``, ``create`` also ``NLM_F_EXCL`` (EEXIST if present), as nft.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Sequence
from typing import Any

from ...check import chain_problems
from ...errors import (
    BackendError,
    BusyError,
    ExistsError,
    InvalidError,
    NftkitError,
    NotFoundError,
    PermissionDeniedError,
    UnsupportedError,
)
from ...model.enums import ChainPolicy, Family, Hook, SetFlag, SetPolicy, TableFlag
from ...model.ruleset import Chain, Rule, Table
from ...model.sets import Map, Set
from ...nft.families import NFPROTO
from ...nft.releases import profile
from ...render.context import installed_nft_version
from .._netns import PERMISSION_HINT
from ._anon import AnonSets
from ._elements import ElementPacker, chunks
from ._rules import rule_expressions, rule_userdata
from ._tlv import _attr, _nest
from ._types import KeySpec, data_spec, key_spec, set_udata, udata

__all__ = [
    "FAMILIES",
    "Msg",
    "SetInfo",
    "anonymous_set_messages",
    "chain_message",
    "delete_message",
    "element_messages",
    "errno_error",
    "flush_message",
    "rule_message",
    "set_info",
    "set_message",
    "table_message",
]

Msg = tuple[int, int, int, bytes]

NEWTABLE, DELTABLE, NEWCHAIN, DELCHAIN, NEWRULE, DELRULE = 0, 2, 3, 5, 6, 8
NEWSET, DELSET, NEWSETELEM, DELSETELEM = 9, 11, 12, 14
F_REPLACE, F_EXCL, F_CREATE, F_APPEND = 0x100, 0x200, 0x400, 0x800
FAMILIES = NFPROTO

_HOOKS = {Hook.PREROUTING: 0, Hook.INPUT: 1, Hook.FORWARD: 2, Hook.OUTPUT: 3,
          Hook.POSTROUTING: 4, Hook.INGRESS: 5}
_ARP_HOOKS = {Hook.INPUT: 0, Hook.OUTPUT: 1, Hook.FORWARD: 2}
_NETDEV_HOOKS = {Hook.INGRESS: 0, Hook.EGRESS: 1}
_TABLE_FLAGS = {TableFlag.DORMANT: 1, TableFlag.PERSIST: 4}
_SET_FLAGS = {SetFlag.CONSTANT: 0x2, SetFlag.INTERVAL: 0x4, SetFlag.TIMEOUT: 0x10,
              SetFlag.DYNAMIC: 0x20}
_SET_MAP, _SET_CONCAT = 0x8, 0x80


def _str(kind: int, value: str) -> bytes:
    return _attr(kind, value.encode() + b"\0")


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack(">I", value & 0xFFFFFFFF))


def _u64(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack(">Q", value))


def _verb_flags(verb: str) -> int:
    return F_CREATE | (F_EXCL if verb == "create" else 0)


def table_message(verb: str, table: Table) -> Msg:
    """NEWTABLE for ``add``/``create table``."""
    if TableFlag.OWNER in table.flags:
        # the owner would be this socket, not libnftables': keep the one path that has it
        raise UnsupportedError("table flag owner is left to libnftables")
    flags = 0
    for f in table.flags:
        flags |= _TABLE_FLAGS[f]
    body = _str(1, table.name) + _u32(2, flags)
    if table.comment is not None:
        body += _attr(6, udata(0, table.comment.encode() + b"\0"))
    return NEWTABLE, _verb_flags(verb), FAMILIES[table.family.value], body


def _hooknum(family: Family, hook: Hook) -> int:
    table = (_ARP_HOOKS if family is Family.ARP else
             _NETDEV_HOOKS if family is Family.NETDEV else _HOOKS)
    if hook not in table or (hook is Hook.INGRESS and family is not Family.INET
                             and family is not Family.NETDEV):
        raise UnsupportedError(f"hook {hook} in family {family}")
    return table[hook]


def chain_message(verb: str, family: Family, table: str, chain: Chain) -> Msg:
    """NEWCHAIN: a base chain (hook, priority, type, policy, devices) or a regular one.

    What nft itself refuses before the kernel sees it (a type/hook/family combination that
    does not exist, a missing device) is left to libnftables, for nft's error."""
    if chain.hook is not None and chain_problems(family, chain):
        raise UnsupportedError(f"chain {chain.name}: nft refuses it: libnftables reports it")
    body = _str(1, table) + _str(3, chain.name)
    if chain.hook is not None:
        if chain.type is None or chain.priority is None:
            raise UnsupportedError(f"base chain {chain.name} without type or priority")
        hook = _u32(1, _hooknum(family, chain.hook)) + _u32(2, chain.priority.resolve(family))
        if len(chain.devices) == 1:
            hook += _str(3, chain.devices[0])
        elif chain.devices:
            hook += _nest(4, *(_str(1, d) for d in chain.devices))
        body += _nest(4, hook)
        if chain.policy is not None:
            body += _u32(5, 1 if chain.policy is ChainPolicy.ACCEPT else 0)
        body += _str(7, chain.type.value)
    if chain.comment is not None:
        body += _attr(12, udata(0, chain.comment.encode() + b"\0"))
    return NEWCHAIN, _verb_flags(verb), FAMILIES[family.value], body


class SetInfo:
    """What the element and rule encoders need to know about one set or map."""

    __slots__ = ("id", "key", "model", "packer")

    def __init__(self, model: Set, key: KeySpec, data: KeySpec | None,
                 set_id: int | None = None) -> None:
        self.model = model
        self.key = key
        self.id = set_id
        self.packer = ElementPacker(key, data)


def set_info(s: Set, set_id: int | None = None) -> SetInfo:
    """Key and data specs of ``s`` (UnsupportedError for what this path cannot write)."""
    if s.stmts:
        raise UnsupportedError("set statements (e.g. counter per element) need libnftables")
    data = data_spec(s) if isinstance(s, Map) else None
    return SetInfo(s, key_spec(s), data, set_id)


def set_message(verb: str, family: Family, table: str, info: SetInfo, *,
                version: str | tuple[int, ...] | None = None) -> Msg:
    """NEWSET of ``info.model`` (without its elements: see ``element_messages``), with the
    userdata nft ``version`` writes (default: the installed nft's)."""
    s = info.model
    key, data = info.key, info.packer.data
    flags = _SET_MAP if data is not None else 0
    for f in s.flags:
        flags |= _SET_FLAGS[f]
    if s.timeout:
        flags |= _SET_FLAGS[SetFlag.TIMEOUT]
    interval = SetFlag.INTERVAL in s.flags
    if interval and len(key.parts) > 1:
        flags |= _SET_CONCAT
    body = _str(1, table) + _str(2, s.name) + _u32(3, flags) + _u32(4, key.type_id)
    body += _u32(5, key.length)
    if data is not None:
        # nft sends length 0 for verdict data (the kernel sizes it itself)
        body += _u32(6, data.type_id) + _u32(7, 0 if data.verdict else data.length)
    if info.id is not None:  # libnftnl's order: ID, POLICY, DESC
        body += _u32(10, info.id)
    if s.policy is SetPolicy.MEMORY:
        body += _u32(8, 1)
    release = profile(version if version is not None else installed_nft_version() or (1, 0, 6))
    size = s.size
    if (size is None and SetFlag.CONSTANT in s.flags and s.elements
            and release.constant_set_size):
        if interval:
            raise UnsupportedError("constant interval sets need libnftables")
        size = len(s.elements)
    desc = b""
    if size:
        desc += _u32(1, size)
    if interval and len(key.parts) > 1:
        desc += _nest(2, *(_nest(1, _u32(1, p.size)) for p in key.parts))
    if desc:
        body += _nest(9, desc)
    if s.timeout:
        body += _u64(11, s.timeout)
    if s.gc_interval:
        body += _u32(12, s.gc_interval)
    body += _attr(13, set_udata(s, key, data, release))
    return NEWSET, _verb_flags(verb), FAMILIES[family.value], body


def element_messages(verb: str, family: int, table: str, s: Set | SetInfo,
                     elements: Sequence[Any]) -> list[Msg]:
    """NEWSETELEM (``add``, ``create``), DELSETELEM (``delete``) or DESTROYSETELEM
    (``destroy``) messages for ``elements`` of ``s``, as many as needed to keep each ELEMENTS
    nest under 64 KiB."""
    info = s if isinstance(s, SetInfo) else set_info(s)
    if SetFlag.INTERVAL in info.model.flags:
        raise UnsupportedError("interval set elements need libnftables")
    delete = verb in ("delete", "destroy")
    nests = info.packer.pack(elements, with_data=not delete)
    head = _str(1, table) + _str(2, info.model.name)
    if info.id is not None:
        head += _u32(4, info.id)
    kind, flags = (DELSETELEM, 0) if delete else (NEWSETELEM, _verb_flags(verb))
    if verb == "destroy":
        kind = _DESTROY[DELSETELEM]
    return [(kind, flags, family, head + _nest(3, payload)) for payload in chunks(nests)]


def anonymous_set_messages(family: Family, table: str, anon: AnonSets) -> list[Msg]:
    """NEWSET and NEWSETELEM of each anonymous set or map the rules encoded with ``anon``
    declared (``tcp dport { 80, 443 }``: see ``_anon``); they precede the rule."""
    fam = FAMILIES[family.value]
    out: list[Msg] = []
    for s in anon.sets:
        out.append((NEWSET, F_CREATE, fam, s.set_body(table)))
        out += [(NEWSETELEM, F_CREATE, fam, body) for body in s.element_bodies(table)]
    return out


def rule_message(verb: str, family: Family, table: str, chain: str, rule: Rule,
                 model: Table | None, *, position: int | None = None,
                 handle: int | None = None, anon: AnonSets | None = None) -> Msg:
    """NEWRULE: ``add`` appends (after ``position``), ``insert`` prepends (before
    ``position``), ``replace`` replaces rule ``handle``. ``anon`` collects the anonymous
    sets the rule declares (``anonymous_set_messages``); without it they are refused."""
    try:
        exprs = rule_expressions(rule, family=family.value, table=model, anon=anon)
        user = rule_userdata(rule)
    except NftkitError:
        raise
    except (LookupError, TypeError, ValueError, AttributeError, OverflowError,
            struct.error) as exc:  # a bug there must not break run(): libnftables takes over
        raise UnsupportedError(f"the netlink rule encoder failed: {exc!r}") from exc
    body = _str(1, table) + _str(2, chain)
    flags = F_CREATE
    if verb == "replace":
        if handle is None:
            raise UnsupportedError("replace rule needs a handle")
        body += _u64(3, handle)
        flags = F_REPLACE
    elif verb == "add":
        flags |= F_APPEND
    if position is not None:
        body += _u64(6, position)
    body += _attr(4, exprs)
    if user:
        body += _attr(7, user)
    return NEWRULE, flags, FAMILIES[family.value], body


_DESTROY = {DELTABLE: 26, DELCHAIN: 27, DELRULE: 28, DELSET: 29, DELSETELEM: 30}
_DELETE = {"table": DELTABLE, "chain": DELCHAIN, "set": DELSET, "map": DELSET,
           "rule": DELRULE}


def delete_message(kind: str, family: Family, table: str, name: str | None,
                   handle: int | None, chain: str | None = None, *,
                   destroy: bool = False) -> Msg:
    """DELTABLE/DELCHAIN/DELSET/DELRULE, by name or handle; ``destroy``: the DESTROY*
    message instead (kernel >= 6.3: no error when the object is missing; older kernels
    refuse the message type with EINVAL, and libnftables then emulates it)."""
    kind_, flags, fam, body = _delete(kind, family, table, name, handle, chain)
    return (_DESTROY[kind_] if destroy else kind_), flags, fam, body


def _delete(kind: str, family: Family, table: str, name: str | None,
            handle: int | None, chain: str | None) -> Msg:
    fam = FAMILIES[family.value]
    if kind == "table":
        body = _u64(4, handle) if handle is not None and name is None else _str(1, table)
        return DELTABLE, 0, fam, body
    if kind not in _DELETE:
        raise UnsupportedError(f"delete {kind} is left to libnftables")
    body = _str(1, table)
    if kind == "rule":
        if handle is None or chain is None:
            raise UnsupportedError("delete rule needs a chain and a handle")
        return DELRULE, 0, fam, body + _str(2, chain) + _u64(3, handle)
    name_attr = 3 if kind == "chain" else 2
    handle_attr = 2 if kind == "chain" else 16
    if name is not None:
        body += _str(name_attr, name)
    elif handle is not None:
        body += _u64(handle_attr, handle)
    else:
        raise UnsupportedError(f"delete {kind} without name or handle")
    return _DELETE[kind], 0, fam, body


def flush_message(kind: str, family: Family | None, table: str | None,
                  name: str | None) -> Msg:
    """``flush ruleset`` / ``table`` / ``chain`` / ``set`` / ``map``, as nft sends them."""
    if kind == "ruleset":
        return DELTABLE, 0, 0 if family is None else FAMILIES[family.value], b""
    assert family is not None and table is not None
    fam = FAMILIES[family.value]
    if kind == "table":
        return DELRULE, 0, fam, _str(1, table)
    if kind == "chain" and name is not None:
        return DELRULE, 0, fam, _str(1, table) + _str(2, name)
    if kind in ("set", "map") and name is not None:
        return DELSETELEM, 0, fam, _str(1, table) + _str(2, name)
    raise UnsupportedError(f"flush {kind} is left to libnftables")


_CLASSES: dict[int, type[BackendError]] = {
    errno.ENOENT: NotFoundError,
    errno.EEXIST: ExistsError,
    errno.EBUSY: BusyError,
    errno.EPERM: PermissionDeniedError,
    errno.EACCES: PermissionDeniedError,
}


def errno_error(err: int, what: str, **where: Any) -> BackendError:
    """The nftkit error for a kernel errno, worded like nft's ``Could not process rule``."""
    cls = _CLASSES.get(err, InvalidError)
    message = f"Could not process rule: {os.strerror(err)}"
    if cls is PermissionDeniedError:
        return cls(PERMISSION_HINT, nft_message=message, **where)
    return cls(f"{what}: {message}", nft_message=message, **where)
