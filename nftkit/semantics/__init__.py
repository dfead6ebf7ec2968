"""nft's command semantics: one engine applying commands to a model ruleset.

``add``, ``create``, ``insert``, ``replace``, ``delete``, ``destroy``, ``flush``, ``reset``,
``rename`` and the element commands, with the kernel's checks in its order: handles numbered
per table, ``add`` of an existing table or chain adding to it, ``create`` failing on an
existing object, ``delete`` on a missing one, references that must exist, ... Two users run
it, and tests/test_semantics.py checks they agree:

- ``nftkit.FakeNftables`` (``nftkit.backend.fake``), differential-tested against the kernel;
- ``nftkit.parse`` and ``nftkit.parse_script`` (``script``), for the commands of a script.

Modules: ``state`` (the mutable ruleset), ``elements`` (set element identity and intervals),
``apply`` (one op), ``engine`` (a batch), ``script`` (nft text through the engine).
"""

from __future__ import annotations

from .engine import BatchAborted, run_batch, run_op
from .script import apply_script, parse, parse_script
from .state import State

__all__ = ["BatchAborted", "State", "apply_script", "parse", "parse_script", "run_batch",
           "run_op"]
