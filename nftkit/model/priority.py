"""Base chain and flowtable priorities: a number, or a standard name with an offset.

nft prints a priority by name when it lies within 10 of a standard priority that is valid for
the family and hook (``priority filter + 10``), and as a number otherwise (``priority 42``).
"""

from __future__ import annotations

import re

import attrs

from .._node import Node, invalid
from ..nft.families import BRIDGE_PRIORITIES, STANDARD_PRIORITIES
from .enums import Family, Hook

__all__ = ["BRIDGE_PRIORITIES", "STANDARD_PRIORITIES", "Priority"]

_PRIO = re.compile(r"^\s*([a-z]+)\s*(?:([+-])\s*(\d+))?\s*$")


def _name_fits(name: str, family: Family, hook: Hook | None, dstnat_output: bool = False
               ) -> bool:
    """Whether nft prints this standard name for the family and hook (rule.c
    std_prio_family_hook_compat): ``filter`` everywhere but bridge; ``raw``, ``mangle`` and
    ``security`` only in ip/ip6/inet; ``dstnat`` only on prerouting and ``srcnat`` only on
    postrouting; bridge ``out`` only on output. A flowtable's priority is spelled as netdev's."""
    if family is Family.BRIDGE:
        return {
            "dstnat": hook in (None, Hook.PREROUTING),
            "filter": True,
            "out": hook in (None, Hook.OUTPUT),
            "srcnat": hook in (None, Hook.POSTROUTING),
        }.get(name, False)
    if family in (Family.ARP, Family.NETDEV):
        return name == "filter"
    if name == "dstnat":
        return hook in (None, Hook.PREROUTING) or (dstnat_output and hook is Hook.OUTPUT)
    if name == "srcnat":
        return hook in (None, Hook.POSTROUTING)
    return name in STANDARD_PRIORITIES


@attrs.frozen(kw_only=True)
class Priority(Node):
    """A base chain or flowtable priority.

    ``Priority(value=-100)`` is numeric; ``Priority(name="dstnat", value=-10)`` is
    ``dstnat - 10``, resolved per family (bridge ``dstnat`` is -300, ip's is -100).

    Text: ``priority dstnat - 10``; JSON: ``"prio": -110``.
    """

    name: str | None = None
    value: int = 0

    def __attrs_post_init__(self) -> None:
        if self.name is not None and self.name not in STANDARD_PRIORITIES | BRIDGE_PRIORITIES:
            raise invalid(self, "name", f"unknown standard priority {self.name!r}")
        if not -(2**31) <= self.value < 2**31:
            raise invalid(self, "value", f"{self.value} is outside the 32-bit signed range")

    @classmethod
    def parse(cls, text: str | int) -> Priority:
        """``"dstnat - 10"``, ``"filter"``, ``"-150"`` or an int -> Priority."""
        if isinstance(text, int):
            return cls(value=text)
        stripped = text.strip()
        if re.fullmatch(r"-?\d+", stripped):
            return cls(value=int(stripped))
        m = _PRIO.match(stripped)
        if not m:
            raise invalid(cls, None, f"cannot read priority {text!r}")
        offset = int(m.group(3) or 0) * (-1 if m.group(2) == "-" else 1)
        return cls(name=m.group(1), value=offset)

    def resolve(self, family: Family | str) -> int:
        """The numeric priority in ``family`` (what the kernel and JSON see)."""
        if self.name is None:
            return self.value
        table = BRIDGE_PRIORITIES if Family(family) is Family.BRIDGE else STANDARD_PRIORITIES
        if self.name not in table:
            raise invalid(self, "name", f"{self.name!r} is not a priority of family {family}")
        return table[self.name] + self.value

    def spelling(self, family: Family | str, hook: Hook | str | None, *,
                 dstnat_output: bool = False) -> str:
        """How ``nft list ruleset`` prints this priority (by name within 10 of a standard one).
        ``dstnat_output``: ``dstnat`` is also a name on the output hook (nft >= 1.1)."""
        fam = Family(family)
        hk = Hook(hook) if hook is not None else None
        prio = self.resolve(fam)
        table = BRIDGE_PRIORITIES if fam is Family.BRIDGE else STANDARD_PRIORITIES
        for name, std in table.items():
            if abs(prio - std) <= 10 and _name_fits(name, fam, hk, dstnat_output):
                offset = prio - std
                if offset > 0:
                    return f"{name} + {offset}"
                if offset < 0:
                    return f"{name} - {-offset}"
                return name
        return str(prio)
