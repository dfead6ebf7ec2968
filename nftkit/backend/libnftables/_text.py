"""The text path: nft commands and scripts as text (``nft -f``), through libnftables.

It carries scripts, not transactions: ``Nftables.run_text`` (``"list ruleset"``, a whole
``nft -f`` script as a string) and ``Nftables.run_file`` (a script file: the only input where
libnftables applies ``define`` variables and include paths). Errors are mapped like the JSON
path's, without an operation index.
"""

from __future__ import annotations

import os

from ._context import Context, OutputFlag
from ._errors import raise_for

__all__ = ["run_file", "run_text"]


def run_text(ctx: Context, commands: str, *, handles: bool = False, json_output: bool = False,
             dry: bool = False) -> str:
    """Run nft text commands; their output."""
    flags = (OutputFlag.HANDLE if handles else 0) | (OutputFlag.JSON if json_output else 0)
    rc, out, err = ctx.exec(commands, flags=flags, dry=dry)
    if rc != 0:
        raise_for(err, "nft")
    return out


def run_file(ctx: Context, path: str | os.PathLike[str], *, dry: bool = False) -> str:
    """Run an nft script file; its output."""
    rc, out, err = ctx.exec_file(os.fspath(path), dry=dry)
    if rc != 0:
        raise_for(err, f"nft -f {path}")
    return out
