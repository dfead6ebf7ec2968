"""Rendering options: the nft version whose output to reproduce, and output flags.

nft's text and JSON output drift between releases (1.0.6 prints JSON flags as lists, 1.1 prints
a single flag as a string; 1.1 wraps map elements one per line, ...). Renderers target the
installed nft's version by default; pass ``version=`` to choose another. What differs per
release is read from the release profile (``ctx.release``, see ``nftkit.nft.releases``).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import attrs

from ..nft.releases import DEFAULT_VERSION, ReleaseProfile, parse_version, profile

__all__ = ["DEFAULT_VERSION", "RenderContext", "installed_nft_version", "parse_version"]

@functools.cache
def installed_nft_version() -> tuple[int, int, int] | None:
    """The version of the ``nft`` on PATH (or in /usr/sbin), or None when there is none."""
    exe = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
        return parse_version(out.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def _resolve(version: str | tuple[int, ...] | None) -> tuple[int, int, int]:
    if version is None:
        return installed_nft_version() or DEFAULT_VERSION
    return parse_version(version)


@attrs.frozen(kw_only=True)
class RenderContext:
    """What a renderer needs besides the node.

    ``version``: the nft release whose output to reproduce. ``handles``: print ``# handle N``
    (text) / keep ``handle`` members (JSON). ``stateless``: omit counter and quota values, like
    ``nft -s``. ``family``/``table``/``chain``: where the node being rendered lives.
    """

    version: tuple[int, int, int] = attrs.field(factory=lambda: _resolve(None), converter=_resolve)
    handles: bool = False
    stateless: bool = False
    family: str = "inet"
    table: str = ""
    chain: str = ""
    #: The sets and maps of the table being rendered, by name: a ``map`` statement needs the
    #: map's data type to print its constants (``update @m { ip saddr : 0x00000002 }``).
    sets: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)
    #: What the target release prints differently (derived from ``version``).
    release: ReleaseProfile = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "release", profile(self.version))

    def at_least(self, *version: int) -> bool:
        """Whether the target nft is at least ``version`` (``ctx.at_least(1, 1)``)."""
        return self.version >= parse_version(version)

    def scoped(self, **changes: Any) -> RenderContext:
        """A copy with some fields changed: ``attrs.evolve`` without its cost.

        Renderers take one per table and per chain (``ctx.scoped(chain="input")``); evolve
        runs ``__init__`` (the version converter) again each time, a tenth of a large
        compile. Only ``version`` has a converter, so a change to it still goes through evolve.
        """
        if "version" in changes or not changes.keys() <= _SCOPED:
            return attrs.evolve(self, **changes)
        new = object.__new__(type(self))
        for name in _FIELD_NAMES:
            object.__setattr__(new, name, changes[name] if name in changes
                               else getattr(self, name))
        return new


_FIELD_NAMES: tuple[str, ...] = tuple(a.name for a in attrs.fields(RenderContext))
#: The fields ``scoped`` copies without running ``__init__`` (none has a converter).
_SCOPED = frozenset(_FIELD_NAMES) - {"version", "release"}
