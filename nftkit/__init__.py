"""nftkit: a typed nftables model that round-trips with the real nft.

Build rulesets in Python, compile them to libnftables JSON or nft text, read them back::

    import nftkit
    rs = nftkit.from_json(json_text)
    print(nftkit.to_text(rs))
"""

from __future__ import annotations

from .errors import (
    BackendError,
    BusyError,
    ExistsError,
    InvalidError,
    NftkitError,
    NotFoundError,
    ParseError,
    PermissionDeniedError,
    UnsupportedError,
    ValidationError,
)
from .model import *  # noqa: F403
from .model import __all__ as _model_all
from .parse.json import from_json
from .render.json import to_json
from .render.text import to_text

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "BusyError",
    "ExistsError",
    "InvalidError",
    "NftkitError",
    "NotFoundError",
    "ParseError",
    "PermissionDeniedError",
    "UnsupportedError",
    "ValidationError",
    "from_json",
    "to_json",
    "to_text",
    *_model_all,
]
