"""What nft *is*, written once: datatypes, symbols, selectors, families, units, object kinds,
reserved keywords and one profile per nft release.

Pure data and tiny lookups. It sits below the model (the model imports from it) and imports
nothing from nftkit except ``nftkit.errors``. Renderers, readers, the parser, the netlink
encoder and the testing strategies read their tables from here; a test
(``tests/test_nft_facts.py``) fails when a table of nft keywords appears anywhere else.

==================  ==============================================================
module              holds
==================  ==============================================================
``datatypes``       datatype names, print kinds, widths, kernel type ids
``symbols``         symbol and bitmask tables (``ct state established`` is 2)
``selectors``       payload/meta/ct/... fields: datatype, netlink encoding
``families``        address families and their NFPROTO numbers
``units``           byte, rate and time units
``objects``         named object kinds (``counter``, ``ct helper``, ...)
``keywords``        words nft's scanner reserves
``releases``        one ``ReleaseProfile`` per nft release, ``profile(version)``
==================  ==============================================================
"""

from __future__ import annotations

__all__ = [
    "datatypes",
    "families",
    "keywords",
    "objects",
    "releases",
    "selectors",
    "symbols",
    "units",
]

from . import datatypes, families, keywords, objects, releases, selectors, symbols, units
