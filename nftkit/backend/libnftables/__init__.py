"""The libnftables paths: nft's own library (cffi, ABI mode), in any network namespace.

``Nftables`` (``nftkit.backend.router``) uses these when a transaction cannot go by netlink,
and for scripts and reads. The modules, from the bottom up::

    _cdef, _ffi   the C declarations and the cffi module (generated on first use)
    _errors       nft's error output -> nftkit errors
    _context      ``Context``: one libnftables context bound to a namespace (every call
                  into libnftables goes through it)
    _bisect       the op of a failed JSON batch, by dry runs of its prefixes
    _handles      handles from nft's echo output, read back where the echo left them out
    _rewrite      destroy emulation (nft < 1.0.7) and ``add rule ... position`` as an index
    _element_json the JSON of element-only transactions, written directly
    _json         the JSON path: ``run_json`` (a transaction as one JSON command batch)
    _text         the text path: ``run_text``/``run_file`` (nft commands and scripts)
    _reads        ``list_*``: model objects from JSON listings

Importing this package loads nothing: ``_context`` loads libnftables.so.1, and raises
``BackendUnavailableError`` (an ``ImportError``) naming the Debian package when it is missing.
"""

from __future__ import annotations

from ._ffi import LIBRARY, BackendUnavailableError

__all__ = ["LIBRARY", "BackendUnavailableError"]
