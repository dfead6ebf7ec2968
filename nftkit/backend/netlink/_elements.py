"""Set and map elements as ``NFTA_LIST_ELEM`` nests, fast: one packer per set.

A full sync of 30k grouped services is ~150k elements; a generic per-element encoder
(dispatch on the datatype of each part, nest building per attribute) costs ~10 us each. All
elements of one set have the same layout, so ``ElementPacker`` builds, once per set, a small
Python function specialised for it: the nest headers are constant byte strings (every part
has a fixed size), and each part is one cached lookup or one ``.packed``/``to_bytes``::

    LIST_ELEM { KEY { VALUE <key bytes> } DATA { VALUE <data bytes> } }
    = HEAD + key bytes + MID + data bytes          (HEAD, MID: constants per set)

Anything the fast function does not expect (a string address, an ``ElemExpr``, a verdict, a
wrong type) makes it hand the whole list to the generic encoder of ``_netlink``, which either
encodes it or raises ``UnsupportedError`` naming the value.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from ..errors import UnsupportedError
from ..model.expressions import ConcatExpr
from ._netlink import (
    DATA_VALUE,
    ELEM_DATA,
    ELEM_KEY,
    ENCODERS,
    LIST_ELEM,
    NLA_F_NESTED,
    element_nest,
)
from ._nl_types import KeySpec

__all__ = ["FAST_MIN", "MAX_NEST", "ElementPacker", "chunks"]

#: From this many elements on, a set's elements go through its compiled packer.
FAST_MIN = 32
#: Largest payload of one ``NFTA_SET_ELEM_LIST_ELEMENTS`` nest (the length field is 16 bits).
MAX_NEST = 65_000


class _Cache(dict[Any, bytes]):
    """value -> encoded bytes, filled on first use by the generic encoder (which validates)."""

    def __init__(self, encode: Callable[[Any], bytes], pad: int) -> None:
        super().__init__()
        self._encode = encode
        self._pad = pad

    def __missing__(self, value: Any) -> bytes:
        if isinstance(value, bool):
            raise UnsupportedError(f"expected an integer or name, got {value!r}")
        raw = self._encode(value)
        raw += b"\0" * (-len(raw) % self._pad if self._pad > 1 else 0)
        self[value] = raw
        return raw


def _hdr(length: int, kind: int) -> bytes:
    return struct.pack("=HH", length, kind)


def _part_code(name: str, var: str, padded: bool, env: dict[str, Any], i: str,
               checks: list[str]) -> str:
    """Python source for one part's bytes (``checks``: type checks to run first)."""
    if name in ("ipv4_addr", "ipv6_addr"):
        env["V4"], env["V6"] = IPv4Address, IPv6Address
        checks.append(f"type({var}) is not {'V4' if name == 'ipv4_addr' else 'V6'}")
    if name == "ipv4_addr":
        # IPv4Address keeps its value in ``_ip`` (CPython's ipaddress since 3.3): 3x faster
        # than the ``packed`` property; anything else fails here and takes the generic path
        return f"{var}._ip.to_bytes(4, 'big')"
    if name == "ipv6_addr":
        return f"{var}._ip.to_bytes(16, 'big')"
    if name in ("inet_service", "inet_proto", "ether_addr", "ifname"):
        cache = f"C{i}"
        env[cache] = _Cache(ENCODERS[name], 4 if padded else 1)
        return f"{cache}[{var}]"
    if name in ("mark", "integer"):
        env["ORDER"] = "little" if struct.pack("=I", 1)[0] == 1 else "big"
        return f"{var}.to_bytes(4, ORDER)"
    raise UnsupportedError(f"datatype {name} is not supported by the netlink path")


class ElementPacker:
    """Encodes the elements of one set or map (``key``: its key spec, ``data``: a map's data
    spec, None for a set) as ``NFTA_LIST_ELEM`` nests."""

    def __init__(self, key: KeySpec, data: KeySpec | None) -> None:
        self.key = key
        self.data = data
        self._fast: Callable[[Sequence[Any], list[bytes]], None] | None = None
        self._compiled = False
        self.size = 0

    def _ensure_compiled(self) -> None:
        """Build the fast function on first use with many elements (building it costs about
        as much as encoding a few dozen elements generically)."""
        if not self._compiled:
            self._compiled = True
            try:
                self._fast = self._compile()
            except UnsupportedError:
                self._fast = None

    def _compile(self) -> Callable[[Sequence[Any], list[bytes]], None]:
        env: dict[str, Any] = {"Concat": ConcatExpr}
        lines = ["def pack(elements, out):", "    app = out.append"]
        is_map = self.data is not None
        if self.data is not None and self.data.verdict:
            raise UnsupportedError("verdict data use the generic encoder")
        lines.append("    for el in elements:")
        if is_map:
            lines.append("        k, d = el")
        else:
            lines.append("        k = el")
        exprs: list[str] = []
        sizes: list[int] = []
        for label, spec, var in (("k", self.key, "k"), ("d", self.data, "d")):
            if spec is None:
                continue
            concat = len(spec.parts) > 1
            names = [f"{label}{j}" for j in range(len(spec.parts))]
            if concat:
                lines.append(f"        if type({var}) is not Concat: raise TypeError")
                lines.append(f"        {', '.join(names)}, = {var}.exprs")
            else:
                names = [var]
            # addresses and 4-byte integers need no padding in a concatenation; the cached
            # parts carry theirs
            checks: list[str] = []
            codes = [_part_code(p.name, n, concat, env, f"{label}{j}", checks)
                     for j, (p, n) in enumerate(zip(spec.parts, names, strict=True))]
            if checks:
                lines.append(f"        if {' or '.join(checks)}: raise TypeError")
            exprs.append(" + ".join(codes))
            sizes.append(spec.length)
        klen = sizes[0]
        kpad = -klen % 4
        key_nest = 4 + 4 + klen + kpad
        total = 4 + key_nest
        mid = b""
        if is_map:
            dlen = sizes[1]
            dpad = -dlen % 4
            data_nest = 4 + 4 + dlen + dpad
            total += data_nest
            mid = (b"\0" * kpad + _hdr(data_nest, ELEM_DATA | NLA_F_NESTED)
                   + _hdr(4 + dlen, DATA_VALUE))
            tail = b"\0" * dpad
        else:
            tail = b"\0" * kpad
        head = (_hdr(total, LIST_ELEM | NLA_F_NESTED) + _hdr(key_nest, ELEM_KEY | NLA_F_NESTED)
                + _hdr(4 + klen, DATA_VALUE))
        env.update(HEAD=head, MID=mid, TAIL=tail, N=total)
        body = "HEAD + " + exprs[0]
        if is_map:
            body += " + MID + " + exprs[1]
        body += " + TAIL" if tail else ""
        lines.append(f"        b = {body}")
        lines.append("        if len(b) != N: raise TypeError")
        lines.append("        app(b)")
        code = "\n".join(lines)
        exec(compile(code, "<nftkit element packer>", "exec"), env)
        self.size = total
        fast: Callable[[Sequence[Any], list[bytes]], None] = env["pack"]
        return fast

    def pack(self, elements: Sequence[Any], *, with_data: bool = True) -> list[bytes]:
        """One ``NFTA_LIST_ELEM`` nest per element (``with_data=False``: keys only, for
        deletes; map elements may then be keys or ``(key, data)`` pairs)."""
        if with_data and len(elements) >= FAST_MIN:
            self._ensure_compiled()
        if self._fast is not None and with_data:
            out: list[bytes] = []
            try:
                self._fast(elements, out)
                return out
            except (TypeError, ValueError, AttributeError, OverflowError, KeyError,
                    UnsupportedError):
                pass
        names = self.key.names
        data = self.data
        return [element_nest(e, names, data, with_data) for e in elements]


def chunks(nests: list[bytes], limit: int = MAX_NEST) -> list[bytes]:
    """The element nests joined into payloads of at most ``limit`` bytes each."""
    lens = list(map(len, nests))
    if lens and min(lens) == max(lens):  # one set's fast path: all the same size
        step = max(1, limit // lens[0])
        return [b"".join(nests[i:i + step]) for i in range(0, len(nests), step)]
    out: list[bytes] = []
    start, size = 0, 0
    for i, n in enumerate(nests):
        if size + len(n) > limit and i > start:
            out.append(b"".join(nests[start:i]))
            start, size = i, 0
        size += len(n)
    if start < len(nests) or not nests:
        out.append(b"".join(nests[start:]))
    return out
