"""Anonymous sets and maps of a rule, declared in the rule's batch as nft 1.0.6 declares them.

nft turns ``tcp dport { 80, 443 } accept`` and ``numgen random mod 2 vmap { 0 : goto a,
1 : goto b }`` into three messages: a NEWSET of an anonymous, constant set (named
``__set%d`` or ``__map%d``: the kernel picks the number), a NEWSETELEM with its elements,
both naming the set by ``NFTA_SET_ID``, then the rule, whose lookup names the set by the same
id. ``AnonSets`` collects them while a rule is encoded (``_exprs`` declares one per inline
set) and numbers them from the batch's next set id; ``_objects.anonymous_set_messages``
turns them into messages. What nft 1.0.6 sends (checked byte for byte by
``tests/test_nl_rules.py``)::

    NEWSET     TABLE, NAME "__set%d", FLAGS anonymous|constant[|map][|interval], KEY_TYPE,
               KEY_LEN, [DATA_TYPE, DATA_LEN (0 for verdicts)], ID, DESC {SIZE: element
               count}, USERDATA {0: key byte order, [1: data byte order], [2: auto-merge
               (interval sets)], [3: key typeof], [4: data typeof (verdict)], [6: data
               interval 0]}
    NEWSETELEM TABLE, SET, SET_ID, ELEMENTS {...}    (the order of the rule's text)

The key of a set in a match is the left-hand side itself (its ``typeof`` is in the
userdata); the key of a map is a constant of the key's datatype (no typeof), except a
concatenation, which keeps its ``typeof``. Prefixes and ranges make an interval set
(``_interval_nests``: sorted, merged, interval ends). Refused (``UnsupportedError``):
intervals of concatenations and of host-order keys longer than a byte, element options, nat
maps to an address and a port, keys and data whose datatype the element encoder does not
know. Data maps (``dnat to ip daddr map { 10.0.0.1 : 10.1.0.1 }``, ``meta mark set tcp dport
map { 22 : 1 }``) have a constant key and constant data, no typeof.
"""

from __future__ import annotations

import dataclasses
import itertools
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import UnsupportedError
from ...model.expressions import ElemExpr, PrefixExpr, RangeExpr, VerdictExpr
from ...nft.datatypes import BIG, HOST, NETLINK_NAMES, NONE
from ...nft.symbols import SET_FLAGS
from ._elements import ElementPacker, encode_value, verdict_data
from ._tlv import NLA_F_NESTED, _attr, _nest
from ._types import DATATYPES, VERDICT_TYPE, KeySpec, Part, key_spec_of_expr, udata

__all__ = ["AnonSet", "AnonSets"]

_ANON_CONST = SET_FLAGS["anonymous"] | SET_FLAGS["constant"]
_ORDER = {"big": BIG, "host": HOST}
_EXPR_VERDICT = 1
#: a verdict map's data: type NFT_DATA_VERDICT, length 0, typeof a verdict expression
_VERDICT_DATA = KeySpec((), VERDICT_TYPE, 0, NONE,
                        udata(0, struct.pack("=I", _EXPR_VERDICT)) + udata(1, b""),
                        verdict=True)


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack(">I", value))


def _str(kind: int, value: str) -> bytes:
    return _attr(kind, value.encode() + b"\0")


def _unsupported(what: str) -> UnsupportedError:
    return UnsupportedError(f"netlink rule encoder: {what} is not supported "
                            "(use the libnftables path)")


@dataclass(slots=True)
class AnonSet:
    """One anonymous set or map: its name template, batch id, flags, key and data specs,
    and its elements already encoded as ``NFTA_LIST_ELEM`` nests."""

    name: str
    id: int
    flags: int
    key: KeySpec
    data: KeySpec | None
    nests: list[bytes]
    size: int

    def set_body(self, table: str) -> bytes:
        """The attributes of its NEWSET."""
        key, data = self.key, self.data
        body = _str(1, table) + _str(2, self.name) + _u32(3, self.flags)
        body += _u32(4, key.type_id) + _u32(5, key.length)
        if data is not None:
            body += _u32(6, data.type_id) + _u32(7, data.length)
        body += _u32(10, self.id) + _nest(9, _u32(1, self.size))
        return body + _attr(13, self.udata())

    def element_bodies(self, table: str) -> list[bytes]:
        """The attributes of its NEWSETELEM messages, split as libnftnl splits them: as many
        elements as fit in the 16-bit length of the ELEMENTS nest, numbered 1, 2, ... (the
        nest type; the kernel ignores it), the number of the element that did not fit
        skipped in the next message."""
        head = _str(1, table) + _str(2, self.name) + _u32(4, self.id)
        out: list[bytes] = []
        part = bytearray()
        i = 0
        for nest in self.nests:
            i += 1
            if part and 4 + len(part) + len(nest) > 0xFFFF:
                out.append(head + _nest(3, bytes(part)))
                part = bytearray()
                i += 1
            start = len(part)
            part += nest
            struct.pack_into("=H", part, start + 2, (i | NLA_F_NESTED) & 0xFFFF)
        out.append(head + _nest(3, bytes(part)))
        return out

    def udata(self) -> bytes:
        """``NFTA_SET_USERDATA`` as nft 1.0.6 writes it for an anonymous set."""
        key, data = self.key, self.data
        out = udata(0, struct.pack("=I", key.order))
        if data is not None:
            out += udata(1, struct.pack("=I", data.order))
        elif self.flags & SET_FLAGS["interval"]:
            out += udata(2, struct.pack("=I", 1))  # merge adjacent intervals (auto-merge)
        if key.typeof is not None:
            out += udata(3, key.typeof)
        if data is not None:
            if data.typeof is not None:
                out += udata(4, data.typeof)
            out += udata(6, struct.pack("=I", 0))
        return out


@dataclass(slots=True)
class AnonSets:
    """The anonymous sets declared while encoding rules, numbered from ``next_id`` (set ids
    are unique in a batch: named sets of the batch take theirs from the same counter)."""

    next_id: int = 1
    sets: list[AnonSet] = field(default_factory=list)

    def _add(self, prefix: str, flags: int, key: KeySpec, data: KeySpec | None,
             elements: Sequence[Any]) -> AnonSet:
        keys = [el[0] if isinstance(el, tuple) else el for el in elements]
        if any(isinstance(k, ElemExpr) for k in keys):
            raise _unsupported("element options in anonymous sets")
        if any(isinstance(k, PrefixExpr | RangeExpr) for k in keys):
            nests, size = _interval_nests(key, data, elements)
            flags |= SET_FLAGS["interval"]
            if key.order == HOST and data is None:
                # a 1-byte key matched in a set: nft's userdata says network order
                key = dataclasses.replace(key, order=BIG)
        else:
            nests = ElementPacker(key, data).pack(elements)
            size = len(nests)
        s = AnonSet(prefix, self.next_id, flags, key, data, nests, size)
        self.next_id += 1
        self.sets.append(s)
        return s

    def declare_set(self, left: Any, widths: Sequence[int], elements: Sequence[Any]
                    ) -> AnonSet:
        """``left { e1, e2 }``: the key is ``left`` itself (``widths``: the bit width of
        each of its parts, as loaded)."""
        if any(isinstance(el, tuple) for el in elements):
            raise _unsupported("map elements in a set")
        key = key_spec_of_expr(left)
        _check_widths(key, widths)
        return self._add("__set%d", _ANON_CONST, key, None, elements)

    def declare_vmap(self, key_expr: Any, dtype: str, order: str, widths: Sequence[int],
                     elements: Sequence[Any]) -> AnonSet:
        """``key vmap { k : verdict, ... }``: a constant key of ``dtype`` (a concatenation
        keeps its typeof)."""
        return self.declare_map(key_expr, dtype, order, widths, elements, None)

    def declare_map(self, key_expr: Any, dtype: str, order: str, widths: Sequence[int],
                    elements: Sequence[Any], data: tuple[str, str, int] | None
                    ) -> AnonSet:
        """``key map { k : v, ... }`` into a value of ``data`` (datatype, byte order, bits),
        or a verdict map (``data`` None). The key is a constant of ``dtype`` (a
        concatenation keeps its typeof); the data is a constant (no typeof)."""
        for el in elements:
            if not (isinstance(el, tuple) and len(el) == 2) or (
                    isinstance(el[1], VerdictExpr) != (data is None)):
                raise _unsupported(f"the map element {el!r}")
        key = key_spec_of_expr(key_expr) if len(widths) > 1 else _constant(dtype, order)
        _check_widths(key, widths)
        if data is None:
            value = _VERDICT_DATA
        else:
            value = _constant(data[0], data[1])
            _check_widths(value, [data[2]])
        flags = _ANON_CONST | SET_FLAGS["map"]
        return self._add("__map%d", flags, key, value, elements)


def _constant(dtype: str, order: str) -> KeySpec:
    """A map's key or data as nft declares a constant of ``dtype`` (no typeof)."""
    name = NETLINK_NAMES.get(dtype, dtype)
    spec = DATATYPES.get(name)
    if spec is None:
        raise _unsupported(f"anonymous map keys or data of type {dtype}")
    tid, size, natural = spec
    if natural not in (NONE, _ORDER[order]) and size > 1:
        raise _unsupported(f"a {order}-endian {dtype} in an anonymous map")
    return KeySpec((Part(name, tid, size, natural),), tid, size, _ORDER[order], None)


def _check_widths(key: KeySpec, widths: Sequence[int]) -> None:
    """The element encoder writes each part at its datatype's size: it must be the width
    the rule loads (``ip ttl`` is an 8-bit ``integer``, which is 32 bits elsewhere)."""
    if [p.size * 8 for p in key.parts] != list(widths):
        raise _unsupported("anonymous set keys of this width")
    for p in key.parts:
        # the element encoder writes a datatype in its natural byte order
        if p.size > 1 and DATATYPES[p.name][2] not in (NONE, p.order):
            raise _unsupported(f"anonymous set keys of a {p.name} in another byte order")


# --- intervals ------------------------------------------------------------------------------

_ELEM_FLAGS, _ELEM_USERDATA = 3, 6
_INTERVAL_END = 1  # NFT_SET_ELEM_INTERVAL_END
_UDATA_ELEM_FLAGS, _ELEM_F_INTERVAL_OPEN = 1, 1  # nftnl_udata_set_elem_types, nft's flag


def _bounds(k: Any, names: tuple[str, ...], bits: int) -> tuple[int, int]:
    """The first and last value of element ``k`` (a value, a range, a prefix) as integers
    in network byte order."""
    top = (1 << bits) - 1
    if isinstance(k, RangeExpr):
        lo = int.from_bytes(encode_value(k.low, names), "big")
        hi = int.from_bytes(encode_value(k.high, names), "big")
        if lo > hi:
            raise _unsupported(f"the range {k!r}")
        return lo, hi
    if isinstance(k, PrefixExpr):
        addr = int.from_bytes(encode_value(k.addr, names), "big")
        if not 0 <= k.len <= bits:
            raise _unsupported(f"the prefix {k!r}")
        host = top >> k.len
        if addr & host:
            raise _unsupported(f"a prefix with host bits set: {k!r}")
        return addr, addr | host
    value = int.from_bytes(encode_value(k, names), "big")
    return value, value


def _interval_elem(value: int, size: int, *, end: bool = False, data: Any = None,
                   open_end: bool = False) -> bytes:
    items = [_u32(_ELEM_FLAGS, _INTERVAL_END)] if end else []
    items.append(_nest(1, _attr(1, value.to_bytes(size, "big"))))  # KEY { VALUE }
    if isinstance(data, VerdictExpr):
        items.append(verdict_data(data))
    elif data is not None:
        items.append(data)  # the DATA nest, already encoded
    if open_end:
        items.append(_attr(_ELEM_USERDATA, udata(_UDATA_ELEM_FLAGS, struct.pack(
            "=I", _ELEM_F_INTERVAL_OPEN))))
    return _nest(1, *items)


def _interval_nests(key: KeySpec, data: KeySpec | None, elements: Sequence[Any]
                    ) -> tuple[list[bytes], int]:
    """The elements of an anonymous interval set as nft 1.0.6 sends them, and the size it
    declares. Sorted; a set's overlapping or adjacent intervals merged (a map's refused:
    nft reports "conflicting intervals"); ``0`` as an interval end first unless the first
    interval starts at 0; each interval ``a-b`` as ``a`` and ``b+1`` flagged as an interval
    end, left out where the next interval starts at ``b+1`` and, for ``b`` the largest
    value, replaced by an "open interval" flag in ``a``'s userdata. The size counts every
    end, also those left out: ``{ 22-25, 80 }`` sends 0 (end), 22, 26 (end), 80, 81 (end)."""
    if len(key.parts) != 1:
        raise _unsupported("concatenated intervals in anonymous sets")
    part = key.parts[0]
    if part.order != BIG and part.size > 1:
        # nft converts such keys to network order with a byteorder expression first
        raise _unsupported(f"intervals of a host-order {part.name}")
    size, bits = part.size, part.size * 8
    top = (1 << bits) - 1
    spans: list[list[Any]] = []
    for el in elements:
        k, d = el if isinstance(el, tuple) else (el, None)
        if d is not None and data is not None and not data.verdict:
            d = _nest(2, _attr(1, encode_value(d, data.names)))  # DATA { VALUE }
        spans.append([*_bounds(k, key.names, bits), d])
    spans.sort(key=lambda span: (span[0], span[1]))
    if data is None:  # auto-merge
        merged: list[list[Any]] = []
        for lo, hi, _ in spans:
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi, None])
        spans = merged
    elif any(b[0] <= a[1] for a, b in itertools.pairwise(spans)):
        raise _unsupported("conflicting intervals in an anonymous map")
    nests = [] if spans[0][0] == 0 else [_interval_elem(0, size, end=True)]
    for i, (lo, hi, d) in enumerate(spans):
        nests.append(_interval_elem(lo, size, data=d, open_end=hi == top))
        if hi != top and not (i + 1 < len(spans) and spans[i + 1][0] == hi + 1):
            nests.append(_interval_elem(hi + 1, size, end=True))
    return nests, 2 * len(spans) + (spans[0][0] != 0)
