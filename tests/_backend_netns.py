"""Throwaway named network namespaces for the libnftables backend tests.

``netns()`` makes ``nftkit-test-<random>`` with ``ip netns add`` and removes it afterwards;
nothing here ever touches the host's own ruleset. ``backend_skip_reason()`` says what the
machine lacks, if anything (root, ``ip``, nf_tables, libnftables.so.1).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["backend_skip_reason", "netns"]


@functools.cache
def backend_skip_reason() -> str | None:
    """None when kernel backend tests can run here, else why not."""
    if os.geteuid() != 0:
        return "needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for network namespaces)"
    if not shutil.which("ip"):
        return "needs iproute2's ip (apt-get install iproute2)"
    try:
        import nftkit.backend.router  # noqa: F401
    except ImportError as exc:
        return str(exc)
    with netns() as name:
        r = subprocess.run(["ip", "netns", "exec", name, "nft", "list", "ruleset"],
                           capture_output=True, text=True)
        if r.returncode != 0 and shutil.which("nft"):
            return f"nf_tables is not usable in a network namespace: {r.stderr.strip()}"
    return None


@contextmanager
def netns() -> Iterator[str]:
    """A fresh named network namespace, removed on exit."""
    name = f"nftkit-test-{uuid.uuid4().hex[:10]}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
