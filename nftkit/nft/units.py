"""Byte, rate and time units.

``quota over 25 mbytes``, ``limit rate 10 mbytes/second``, ``limit rate 400/minute``,
``ct expiration 1m30s``: sizes scale by 1024, rates are per ``second`` ... ``week``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BYTE_UNITS",
    "DURATION_UNITS",
    "PRINTED_BYTE_UNITS",
    "RATE_BYTE_UNITS",
    "TIME_UNITS",
    "byte_unit",
]

#: Byte units nft reads (``25 mbytes``) -> bytes.
BYTE_UNITS: Final[dict[str, int]] = {"bytes": 1, "kbytes": 1024, "mbytes": 1024**2,
                                     "gbytes": 1024**3}
#: The units nft prints, smallest first: the largest that divides the value evenly.
PRINTED_BYTE_UNITS: Final = ("bytes", "kbytes", "mbytes")
#: The units of a byte rate in JSON (``"rate_unit": "mbytes"``; nft's ``rate_to_bytes()``).
RATE_BYTE_UNITS: Final[dict[str, int]] = {u: BYTE_UNITS[u] for u in PRINTED_BYTE_UNITS}
#: The ``per`` units of a limit rate (``rate 10/minute``) -> seconds.
TIME_UNITS: Final[dict[str, int]] = {"second": 1, "minute": 60, "hour": 3600, "day": 86400,
                                     "week": 604800}
#: Duration suffixes nft prints and reads (``1d2h3m4s500ms``), largest first -> milliseconds.
DURATION_UNITS: Final = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000),
                         ("ms", 1))


def byte_unit(value: int) -> tuple[int, str]:
    """``value`` bytes in the largest unit nft prints that divides it evenly.

    ``2048`` -> ``(2, "kbytes")``, ``1025`` -> ``(1025, "bytes")``."""
    unit = PRINTED_BYTE_UNITS[0]
    for name in PRINTED_BYTE_UNITS[1:]:
        if value == 0 or value % 1024:
            break
        value //= 1024
        unit = name
    return value, unit
