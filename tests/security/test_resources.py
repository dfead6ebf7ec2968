"""Resources and privileges (issue 12, item 5), beyond tests/backend: handles to many
namespaces dropped without ``close()`` keep neither an fd nor the namespace; without
CAP_NET_ADMIN every way in (element-only transactions on libnftables too, reads, text
commands) raises ``PermissionDeniedError`` naming the capability.
"""

from __future__ import annotations

import ctypes
import gc
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import nftkit
from tests._backend_netns import backend_skip_reason, netns

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
CLONE_NEWNET = 0x40000000


@pytest.fixture(scope="module")
def kernel() -> None:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)


def _new_netns_fd() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    box: dict[str, int] = {}

    def work() -> None:  # unshare() moves only this thread, which ends right after
        if libc.unshare(CLONE_NEWNET) == 0:
            box["fd"] = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    if "fd" not in box:
        pytest.skip("cannot create a network namespace")
    return box["fd"]


def _open_namespaces() -> set[str]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("net:["):
            out.add(target)
    return out


def test_handles_to_many_namespaces_release_them(kernel: None) -> None:
    """300 namespaces, one handle each (some with a netlink socket), dropped without
    close(): no fd is left, and no fd keeps one of those namespaces alive."""
    warm = _new_netns_fd()  # the first handle loads libnftables and opens what it keeps
    nftkit.Nftables(netns=warm).run(nftkit.Transaction().add(nftkit.Table(family="inet",
                                                                          name="t")))
    os.close(warm)
    gc.collect()
    before_fds = len(os.listdir("/proc/self/fd"))
    before = _open_namespaces()
    made = set()
    for i in range(300):
        fd = _new_netns_fd()
        made.add(os.readlink(f"/proc/self/fd/{fd}"))
        nft = nftkit.Nftables(netns=fd)  # the handle duplicates the fd
        os.close(fd)
        if i % 30 == 0:
            nft.run(nftkit.Transaction().add(nftkit.Table(family="inet", name="t")))
        del nft
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= before_fds
    assert not (_open_namespaces() - before) & made


CHILD = r"""
import sys
import nftkit
from nftkit import Set, Table, Transaction
mode = sys.argv[2]
try:
    nft = nftkit.Nftables(netns=sys.argv[1])
    s = Set(name="s", type="inet_service")
    if mode == "elements-libnftables":
        nft.run(Transaction().add_elements(s, [1], table=("inet", "x")), netlink=False)
    elif mode == "elements-netlink":
        nft.run(Transaction().add_elements(s, [1], table=("inet", "x")), netlink=True)
    elif mode == "list_ruleset":
        nft.list_ruleset()
    elif mode == "run_text":
        nft.run_text("add table inet x")
    elif mode == "check":
        nft.check(Transaction().add(Table(family="inet", name="x")))
except nftkit.PermissionDeniedError as exc:
    print("PermissionDeniedError:", exc)
    sys.exit(0)
except Exception as exc:
    print("other error:", type(exc).__name__, exc)
    sys.exit(2)
print("no error")
sys.exit(1)
"""


@pytest.mark.parametrize("mode", ["elements-libnftables", "elements-netlink", "list_ruleset",
                                  "run_text", "check"])
def test_every_way_in_without_cap_net_admin(kernel: None, mode: str) -> None:
    capsh = shutil.which("capsh") or shutil.which("capsh", path="/usr/sbin:/sbin")
    if capsh is None:
        pytest.skip("capsh not installed (Debian: libcap2-bin)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with netns() as name:
        r = subprocess.run([capsh, "--drop=cap_net_admin", "--", "-c", 'exec "$0" "$@"',
                            sys.executable, "-c", CHILD, name, mode], env=env,
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CAP_NET_ADMIN" in r.stdout
