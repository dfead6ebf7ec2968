"""Facts read from the kernel over netlink: the ruleset generation, one set's type, chain
devices and table flags.

What the netlink path remembers about sets is valid for one generation only (``genid``, from
``NFT_MSG_GETGEN``: every commit, by any process, increments it). The reads (``Nftables``'
``list_*``) use ``chain_devices`` and ``table_flags`` where nft's JSON listing leaves them out
or prints them wrong (nft 1.0.6: no chain ``dev``, broken table flags).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ...errors import NotFoundError, UnsupportedError, ValidationError
from ...model.enums import SetFlag
from ...model.sets import Map, Set
from ...nft.families import NFPROTO
from ._socket import NetlinkSocket, parse_attrs
from ._tlv import _attr
from ._types import DATATYPES, VERDICT_TYPE, KeySpec, Part

__all__ = [
    "ListingFacts",
    "SetFacts",
    "chain_devices",
    "listing_facts",
    "read_set",
    "table_flags",
    "table_flags_of",
]

_GETTABLE, _GETCHAIN, _GETSET = 1, 4, 10
_BY_ID = {tid: (name, size, order) for name, (tid, size, order) in DATATYPES.items()}
_EXPR_NUMGEN = 23
_F_INTERVAL, _F_MAP, _F_OBJECT = 0x4, 0x8, 0x40
_FLAG_NAMES = {0x2: SetFlag.CONSTANT, 0x4: SetFlag.INTERVAL, 0x10: SetFlag.TIMEOUT,
               0x20: SetFlag.DYNAMIC}


def _udata_records(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    i = 0
    while i + 2 <= len(data):
        kind, length = data[i], data[i + 1]
        out[kind] = data[i + 2:i + 2 + length]
        i += 2 + length
    return out


def _kind(typeof: bytes) -> int | None:
    """The expression kind of one typeof nest (record 0, a u32), or None."""
    raw = _udata_records(typeof).get(0)
    return struct.unpack("=I", raw)[0] if raw is not None and len(raw) == 4 else None


def _decode_spec(type_id: int, length: int, typeof: bytes | None) -> KeySpec:
    """A kernel set's key or data type back as a ``KeySpec`` (only what the element encoders
    need: part datatypes and sizes). ``integer`` parts are accepted only where nft's userdata
    says they come from ``numgen`` (4 bytes, host order)."""
    if type_id == VERDICT_TYPE:
        return KeySpec((), type_id, length, 0, None, verdict=True)
    ids: list[int] = []
    rest = type_id
    while rest:
        ids.insert(0, rest & 0x3F)
        rest >>= 6
    kinds: list[int | None] = [None] * len(ids)
    if typeof is not None:
        if len(ids) == 1:
            kinds[0] = _kind(typeof)
        else:
            # nft >= 1.1 writes a concatenation of types with its first part's nest left
            # unterminated (an empty record 0, then that part's kind): read no kind from it
            subs = _udata_records(_udata_records(typeof).get(1, b""))
            for j in range(len(ids)):
                kinds[j] = _kind(subs.get(j, b""))
    parts = []
    for tid, kind in zip(ids, kinds, strict=True):
        if tid not in _BY_ID or (tid == 4 and kind != _EXPR_NUMGEN):
            raise UnsupportedError(f"set datatype id {tid} is not supported by the netlink path")
        name, size, order = _BY_ID[tid]
        parts.append(Part(name, tid, size, order))
    expected = parts[0].size if len(parts) == 1 else sum((p.size + 3) & ~3 for p in parts)
    if expected != length:
        raise UnsupportedError("set key length does not match its datatypes")
    return KeySpec(tuple(parts), type_id, length, 0, None)


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode(errors="replace")


@dataclass(frozen=True)
class SetFacts:
    """One kernel set as the element encoders and checks need it.

    ``key``/``data`` are None where this module cannot decode the type (the set exists, but
    only libnftables knows how to write its elements); ``model`` is a stand-in with the
    set's name, flags and types (None then too).
    """

    flags: int
    handle: int
    key: KeySpec | None
    data: KeySpec | None
    model: Set | None
    #: key type id, key length, data type id, data length, as the kernel has them
    types: tuple[int, int, int, int] = (0, 0, 0, 0)
    #: default element timeout and garbage collection interval, in ms (0: none)
    timeout: int = 0
    gc_interval: int = 0
    #: whether the set has statements (``counter`` per element...)
    exprs: bool = False

    def same_type(self, other: SetFacts) -> bool:
        """Whether elements written for ``other`` mean the same in this set."""
        mask = _F_INTERVAL | _F_MAP | _F_OBJECT
        return self.types == other.types and self.flags & mask == other.flags & mask

    @property
    def interval(self) -> bool:
        return bool(self.flags & _F_INTERVAL)

    @property
    def object_map(self) -> bool:
        return bool(self.flags & _F_OBJECT)


def read_set(sock: NetlinkSocket, family: int, table: str, name: str) -> SetFacts | None:
    """The set as the kernel has it now (one GETSET), or None if it (or its table) is
    missing."""
    try:
        found = sock.request(_GETSET, family, _attr(1, table.encode() + b"\0")
                             + _attr(2, name.encode() + b"\0"))
    except NotFoundError:
        return None
    attrs = dict(found)
    flags = struct.unpack(">I", attrs.get(3, b"\0\0\0\0"))[0]
    handle = struct.unpack(">Q", attrs.get(16, b"\0" * 8))[0]
    rec = _udata_records(attrs.get(13, b""))
    kt, kl, dt, dl = (struct.unpack(">I", attrs.get(k, b"\0\0\0\0"))[0] for k in (4, 5, 6, 7))
    types = (kt, kl, dt, dl)
    extra = {"timeout": struct.unpack(">Q", attrs.get(11, b"\0" * 8))[0],
             "gc_interval": struct.unpack(">I", attrs.get(12, b"\0" * 4))[0],
             "exprs": 17 in attrs or 18 in attrs}
    try:
        key = _decode_spec(struct.unpack(">I", attrs[4])[0], struct.unpack(">I", attrs[5])[0],
                           rec.get(3))
        data = None
        if flags & _F_MAP and not flags & _F_OBJECT:
            data = _decode_spec(struct.unpack(">I", attrs[6])[0],
                                struct.unpack(">I", attrs.get(7, b"\0\0\0\x10"))[0],
                                rec.get(4))
    except UnsupportedError:
        return SetFacts(flags, handle, None, None, None, types, **extra)
    set_flags = frozenset(f for bit, f in _FLAG_NAMES.items() if flags & bit)
    try:
        model: Set = (Map(name=name, type=key.names, flags=set_flags,
                          data_type=data.names if not data.verdict else ("verdict",))
                      if data is not None else Set(name=name, type=key.names, flags=set_flags))
    except ValidationError:  # e.g. a name nft text cannot spell
        return SetFacts(flags, handle, None, None, None, types, **extra)
    return SetFacts(flags, handle, key, data, model, types, **extra)


def chain_devices(sock: NetlinkSocket, family: int) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(table, chain) -> devices`` of every chain of ``family`` hooked to devices
    (``NFTA_CHAIN_HOOK``: ``NFTA_HOOK_DEV`` or ``NFTA_HOOK_DEVS``). The kernel keeps the
    names, so nothing is resolved here."""
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for attrs in sock.dump(_GETCHAIN, family):
        d = dict(attrs)
        hook = dict(_nested(d.get(4, b"")))
        devs: tuple[str, ...] = ()
        if 3 in hook:
            devs = (_text(hook[3]),)
        elif 4 in hook:
            devs = tuple(_text(v) for _k, v in _nested(hook[4]))
        if devs:
            out[(_text(d[1]), _text(d[3]))] = devs
    return out


def table_flags(sock: NetlinkSocket, family: int) -> dict[str, int]:
    """``table -> NFTA_TABLE_FLAGS`` of every table of ``family`` (0: of all families;
    dormant 0x1, owner 0x2, persist 0x4)."""
    out: dict[str, int] = {}
    for attrs in sock.dump(_GETTABLE, family):
        d = dict(attrs)
        out[_text(d[1])] = struct.unpack(">I", d.get(2, b"\0\0\0\0"))[0]
    return out


def table_flags_of(sock: NetlinkSocket, family: int, table: str) -> int | None:
    """``NFTA_TABLE_FLAGS`` of one table (one GETTABLE), None if it is missing."""
    try:
        d = dict(sock.request(_GETTABLE, family, _attr(1, table.encode() + b"\0")))
    except NotFoundError:
        return None
    flags: int = struct.unpack(">I", d.get(2, b"\0\0\0\0"))[0]
    return flags


_FAMILY_NAMES = {number: name for name, number in NFPROTO.items()}
_SET_EVAL = 0x20
_UDATA_COMMENT, _UDATA_SET_MERGE, _UDATA_SET_COMMENT = 0, 2, 7


def _comment(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    value = _udata_records(raw).get(_UDATA_COMMENT)
    return None if value is None else _text(value)


@dataclass
class ListingFacts:
    """What nft 1.0.6's JSON listings leave out, as the kernel has it: table and chain
    comments (``"family table" -> comment``, ``"family table chain" -> comment``), and per
    set whether it is ``dynamic`` and has ``auto-merge``."""

    tables: dict[tuple[str, str], str | None]
    chains: dict[tuple[str, str, str], str | None]
    sets: dict[tuple[str, str, str], tuple[bool, bool]]


def listing_facts(sock: NetlinkSocket, family: int = 0, table: str | None = None, *,
                  kinds: frozenset[str] = frozenset({"table", "chain", "set"}),
                  name: str | None = None) -> ListingFacts:
    """The facts of every table, chain and set of ``family`` (0: all), or of one table:
    GETTABLE, GETCHAIN and GETSET dumps (filtered by table when given), of ``kinds`` only;
    ``name``: of that one chain or set only (one GET)."""
    where = b"" if table is None else _attr(1, table.encode() + b"\0")
    facts = ListingFacts({}, {}, {})

    def objects(get: int, name_attr: int) -> list[tuple[int, list[tuple[int, bytes]]]]:
        if name is None or table is None:
            return sock.dump_families(get, family, where)
        try:
            return [(family, sock.request(get, family,
                                          where + _attr(name_attr, name.encode() + b"\0")))]
        except NotFoundError:
            return []

    if "table" in kinds:
        for fam, attrs in sock.dump_families(_GETTABLE, family):
            d = dict(attrs)
            tname = _text(d[1])
            if table is None or tname == table:
                facts.tables[(_FAMILY_NAMES.get(fam, str(fam)), tname)] = _comment(d.get(6))
    if "chain" in kinds:
        for fam, attrs in objects(_GETCHAIN, 3):
            d = dict(attrs)
            facts.chains[(_FAMILY_NAMES.get(fam, str(fam)), _text(d[1]), _text(d[3]))] = \
                _comment(d.get(12))
    if "set" in kinds:
        for fam, attrs in objects(_GETSET, 2):
            d = dict(attrs)
            flags = struct.unpack(">I", d.get(3, b"\0\0\0\0"))[0]
            merge = any(_udata_records(d.get(13, b"")).get(_UDATA_SET_MERGE, b""))
            facts.sets[(_FAMILY_NAMES.get(fam, str(fam)), _text(d[1]), _text(d[2]))] = (
                bool(flags & _SET_EVAL), merge)
    return facts


def _nested(raw: bytes) -> list[tuple[int, bytes]]:
    return parse_attrs(raw)
