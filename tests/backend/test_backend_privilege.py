"""Without CAP_NET_ADMIN the backend raises PermissionDeniedError with a helpful message.

Two ways to lack the capability, each in a child process aimed at a throwaway namespace:
- root with CAP_NET_ADMIN dropped from its capability sets (``capsh --drop=cap_net_admin``):
  setns works, libnftables' netlink requests get EPERM;
- a new user namespace (``unshare -U``) without a mapping: the process holds capabilities
  only over its own user namespace, not over the target network namespace, so setns fails.
(``unshare -U -r -n`` would *grant* CAP_NET_ADMIN over a new network namespace, so it is not
a way to lack it.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests._backend_netns import backend_skip_reason, netns

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
CHILD = r"""
import sys
import nftkit
from nftkit import Set, Table, Transaction
mode = sys.argv[2]
try:
    nft = nftkit.Nftables(netns=sys.argv[1], netlink=mode != "libnftables")
    if mode == "netlink-get":  # the netlink path first asks the kernel for the set's types
        done = nft.run(Transaction().add_elements(Set(name="s", type="inet_service"), [1],
                                                  table=("inet", "x")))
    else:
        done = nft.run(Transaction().add(Table(family="inet", name="x")))
    print("path:", done.path)
except nftkit.PermissionDeniedError as exc:
    print("PermissionDeniedError:", exc)
    sys.exit(0)
except Exception as exc:
    print("other error:", type(exc).__name__, exc)
    sys.exit(2)
print("no error")
sys.exit(1)
"""


@pytest.fixture(scope="module")
def kernel() -> None:
    reason = backend_skip_reason()
    if reason:
        pytest.skip(reason)


#: Each way in: libnftables' JSON path, the netlink batch, a netlink GET (an element op on a
#: set the handle has not seen).
MODES = ["libnftables", "netlink", "netlink-get"]


def _child(prefix: list[str], name: str, mode: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*prefix, sys.executable, "-c", CHILD, name, mode], env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


@pytest.mark.parametrize("mode", MODES)
def test_capability_dropped(kernel: None, mode: str) -> None:
    capsh = shutil.which("capsh") or shutil.which("capsh", path="/usr/sbin:/sbin")
    if capsh is None:
        pytest.skip("capsh not installed (Debian: libcap2-bin)")
    with netns() as name:
        r = _child([capsh, "--drop=cap_net_admin", "--", "-c", 'exec "$0" "$@"'], name, mode)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CAP_NET_ADMIN" in r.stdout


@pytest.mark.parametrize("mode", MODES)
def test_user_namespace_without_capability(kernel: None, mode: str) -> None:
    if subprocess.run(["unshare", "-U", "true"], capture_output=True).returncode != 0:
        pytest.skip("unprivileged user namespaces are disabled here")
    with netns() as name:
        r = _child(["unshare", "-U"], name, mode)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CAP_NET_ADMIN" in r.stdout
