"""nft text and libnftables JSON -> model: ``nft`` (text, lark), ``json`` (``from_json``).

Importing the package imports ``nft``, which registers the text parser with the JSON reader
(``_json_decoder.set_text_reader``: nft prints some statements as text inside its JSON).
"""

from __future__ import annotations

from . import json, nft

__all__ = ["json", "nft"]
