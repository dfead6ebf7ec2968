#!/usr/bin/env bash
# nftkit's demo in one command (as root, on Debian 12 or 13): installs what it needs, then
# builds a kube-proxy-shaped service proxy with the model, applies and updates it in a
# throwaway network namespace, reads it back, and removes the namespace. The host's own
# ruleset is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: run as root (network namespaces and nftables need CAP_SYS_ADMIN/CAP_NET_ADMIN)" >&2
  exit 1
fi
need=()
for pkg in nftables libnftables1 iproute2; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "demo.sh: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
PY=${PYTHON:-python3}
if ! "$PY" -c 'import attrs, lark, cffi' 2>/dev/null; then
  echo "demo.sh: installing nftkit and its Python dependencies (pip install -e .)"
  "$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore -e .
fi
"$PY" build_ffi.py >/dev/null  # the cffi ABI module (nftkit would also make it on first use)
# Run this checkout's nftkit, installed or not.
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" examples/demo.py "$@"
