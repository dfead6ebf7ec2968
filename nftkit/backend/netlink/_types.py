"""nft's datatypes and ``typeof`` expressions as the kernel and nft's set userdata see them.

A set's key (and a map's data) is described to the kernel by a type id, a length and, for nft
itself, userdata (``NFTA_SET_USERDATA``): the byte order of key and data, the ``typeof``
expressions, the comment. nft reads that userdata back to print the set, so it must be what
nft writes. ``KeySpec`` computes all of it from the model:

=====================================  =================================================
model                                  kernel / userdata
=====================================  =================================================
``type ipv4_addr``                     type 7, length 4, byte order big endian (2)
``type ipv4_addr . inet_service``      type ``7 << 6 | 13``, length 8 (parts padded to 4
                                       bytes), byte order 0, typeof: an empty concat
``typeof ip daddr . numgen ... mod 2`` type ``7 << 6 | 4``, length 8, typeof: a concat of
                                       (payload ip daddr, numgen random mod 2 offset 0)
=====================================  =================================================

Userdata is a list of ``(type u8, length u8, value)`` records; integers in host order. Set
records (``enum nftnl_udata_set_types``): 0 key byte order, 1 data byte order, 2 merge
adjacent intervals, 3 key typeof, 4 data typeof, 6 data interval, 7 comment. A typeof record
nests ``(0: expression kind, 1: the kind's own records)``; a concatenation lists its parts as
records 0, 1, 2, ... each nesting ``(0: kind, 1: records)``. The ids are nft's (``enum
datatypes``, ``enum expr_types``, ``enum proto_desc_id``, the header field enums: in
``nftkit.nft.datatypes.NETLINK`` and ``nftkit.nft.selectors``) and the kernel's (``enum
nft_meta_keys``, ``enum nft_ct_keys``); checked against what nft 1.0.6 writes by
``tests/test_netlink_objects.py``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from ...errors import UnsupportedError
from ...model.expressions import ConcatExpr, CtExpr, MetaExpr, NumgenExpr, PayloadExpr
from ...model.sets import Map, Set
from ...nft import selectors
from ...nft.datatypes import BIG, HOST, NETLINK, NETLINK_NAMES, NONE
from ...nft.releases import PROFILES, ReleaseProfile

__all__ = [
    "DATATYPES",
    "KeySpec",
    "Part",
    "data_spec",
    "key_spec",
    "key_spec_of_expr",
    "set_udata",
    "udata",
]

#: datatype name -> (nft type id, size in bytes, byte order)
DATATYPES = NETLINK

VERDICT_TYPE = 0xFFFFFF00  # NFT_DATA_VERDICT
_EXPR_PAYLOAD, _EXPR_META, _EXPR_CT, _EXPR_CONCAT, _EXPR_NUMGEN = 7, 9, 12, 13, 23
_EXPR_VALUE = 4
_ORDER = {"big": BIG, "host": HOST}
#: meta keys whose typeof userdata is not checked against nft's: left to libnftables
_UNVERIFIED_META = ("length", "cpu")


def _u32(value: int) -> bytes:
    return struct.pack("=I", value & 0xFFFFFFFF)


def udata(kind: int, value: bytes) -> bytes:
    """One userdata record: type, length (one byte each), value."""
    if len(value) > 255:
        raise UnsupportedError("userdata record longer than 255 bytes")
    return bytes((kind, len(value))) + value


#: What nft >= 1.1 writes as the typeof of a key or data declared with ``type``: a value
#: expression without records; for a concatenation, the concatenation's first part nest
#: left open (length 0) before that part's kind and an empty record 1 (measured bytes).
_VALUE_TYPEOF = udata(0, _u32(_EXPR_VALUE)) + udata(1, b"")
_CONCAT_OF_TYPES = udata(0, _u32(_EXPR_CONCAT)) + udata(1, b"\0\0" + _VALUE_TYPEOF)


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a key or data: datatype name, nft type id, size, byte order, and the
    typeof expression's userdata (kind, records) when given by ``typeof``."""

    name: str
    type_id: int
    size: int
    order: int
    expr: tuple[int, bytes] | None = None


@dataclass(frozen=True, slots=True)
class KeySpec:
    """A key or data type as the kernel sees it: type id, length and parts; ``verdict`` for
    verdict-map data; ``typeof``: the userdata nest (None when nft writes none)."""

    parts: tuple[Part, ...]
    type_id: int
    length: int
    order: int
    typeof: bytes | None
    verdict: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts)


def _kernel_type(name: str, bits: int) -> tuple[str, int, int, int] | None:
    """(nft's name, type id, size, byte order) of datatype ``name`` for a ``bits`` wide
    selector, or None where the kernel type is unknown or of another width."""
    name = NETLINK_NAMES.get(name, name)
    spec = DATATYPES.get(name)
    if spec is None or spec[1] * 8 != bits:
        return None
    return (name, *spec)


def _typeof_part(e: Any) -> Part:
    if isinstance(e, PayloadExpr) and e.protocol in selectors.PAYLOAD_UDATA and e.base is None:
        desc, fields = selectors.PAYLOAD_UDATA[e.protocol]
        if e.field in fields and getattr(e, "tunnel", None) is None:
            dt = selectors.payload_datatype(e.protocol, e.field)
            name = NETLINK_NAMES.get(dt, dt)
            tid, size, _order = DATATYPES[name]
            return Part(name, tid, size, BIG,
                        (_EXPR_PAYLOAD, udata(0, _u32(desc)) + udata(1, _u32(fields[e.field]))))
    meta = (selectors.META_NETLINK.get(e.key)
            if isinstance(e, MetaExpr) and e.key not in _UNVERIFIED_META else None)
    if meta is not None:
        kt = _kernel_type(selectors.META[e.key], meta[1])
        if kt is not None:
            return Part(kt[0], kt[1], kt[2], _ORDER[meta[2]],
                        (_EXPR_META, udata(0, _u32(meta[0]))))
    ct = selectors.CT_NETLINK.get(e.key) if isinstance(e, CtExpr) else None
    if ct is not None and e.dir is None and e.family is None:
        kt = _kernel_type(selectors.CT[e.key], ct[1])
        if kt is not None:
            return Part(kt[0], kt[1], kt[2], kt[3],
                        (_EXPR_CT, udata(0, _u32(ct[0])) + udata(1, _u32(0xFFFFFFFF))))
    if isinstance(e, NumgenExpr):
        mode = {"inc": 0, "random": 1}[e.mode]
        return Part("integer", 4, 4, HOST,
                    (_EXPR_NUMGEN, udata(0, _u32(mode)) + udata(1, _u32(e.mod))
                     + udata(2, _u32(e.offset))))
    raise UnsupportedError(f"typeof {type(e).__name__} is not supported by the netlink path")


def _type_part(name: str) -> Part:
    if name not in DATATYPES or name == "integer":
        raise UnsupportedError(f"datatype {name} is not supported by the netlink path")
    tid, size, order = DATATYPES[name]
    return Part(name, tid, size, order)


def _spec(names: tuple[str, ...], typeof: Any) -> KeySpec:
    if typeof is not None:
        exprs = typeof.exprs if isinstance(typeof, ConcatExpr) else (typeof,)
        parts = tuple(_typeof_part(e) for e in exprs)
    else:
        parts = tuple(_type_part(n) for n in names)
    if len(parts) == 1:
        p = parts[0]
        nest = None if p.expr is None else udata(0, _u32(p.expr[0])) + udata(1, p.expr[1])
        return KeySpec(parts, p.type_id, p.size, p.order, nest)
    type_id = 0
    for p in parts:
        type_id = (type_id << 6) | p.type_id
    subs = b""
    if typeof is not None:
        for i, p in enumerate(parts):
            assert p.expr is not None
            subs += udata(i, udata(0, _u32(p.expr[0])) + udata(1, p.expr[1]))
    length = sum((p.size + 3) & ~3 for p in parts)
    return KeySpec(parts, type_id, length, NONE,
                   udata(0, _u32(_EXPR_CONCAT)) + udata(1, subs))


def key_spec(s: Set) -> KeySpec:
    """The key of set or map ``s`` (UnsupportedError for types this path cannot write)."""
    return _spec(s.type, s.typeof)


def key_spec_of_expr(e: Any) -> KeySpec:
    """The key of an anonymous set matched by ``e`` (``ip daddr { ... }``): as ``typeof e``."""
    return _spec((), e)


def data_spec(m: Map) -> KeySpec:
    """The data of map ``m``: a verdict, or values (object maps are not supported)."""
    if m.data_type == ("verdict",):
        return KeySpec((), VERDICT_TYPE, 16, NONE, None, verdict=True)
    if m.is_objmap:
        raise UnsupportedError("object maps are not supported by the netlink path")
    return _spec(m.data_type, m.data_typeof)


def _typeof_record(spec: KeySpec, release: ReleaseProfile) -> bytes | None:
    """The typeof record of a key or data as ``release`` writes it (None: none)."""
    if release.set_udata_type_typeof and all(p.expr is None for p in spec.parts):
        return _CONCAT_OF_TYPES if len(spec.parts) > 1 else _VALUE_TYPEOF
    return spec.typeof


def set_udata(s: Set, key: KeySpec, data: KeySpec | None,
              release: ReleaseProfile = PROFILES[0]) -> bytes:
    """``NFTA_SET_USERDATA`` as nft ``release`` writes it (records in nft's order)."""
    out = udata(0, _u32(key.order))
    if data is not None:
        out += udata(1, _u32(data.order))
    if s.auto_merge:
        out += udata(2, _u32(1))
    key_typeof = _typeof_record(key, release)
    if key_typeof is not None:
        out += udata(3, key_typeof)
    data_typeof = None if data is None else _typeof_record(data, release)
    if data_typeof is not None:
        out += udata(4, data_typeof)
    if data is not None:
        out += udata(6, _u32(1 if isinstance(s, Map) and s.data_interval else 0))
    if s.comment is not None:
        out += udata(7, s.comment.encode() + b"\0")
    return out
