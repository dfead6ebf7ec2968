#!/usr/bin/env bash
# The release matrix: cached Debian root filesystems (bookworm: nft 1.0.6, trixie: 1.1.3,
# sid: newest), each with its own nft, libnftables and Python, sharing this machine's kernel.
#
#   scripts/releases.sh build [SUITE...]        build (or reuse) roots; default: all three
#   scripts/releases.sh list                    cached, complete roots, one "SUITE ROOT" a line
#   scripts/releases.sh versions [SUITE...]     each cached root's `nft --version`
#   scripts/releases.sh nft SUITE -- ARGS...    that release's nft in a fresh network namespace
#   scripts/releases.sh shell SUITE -- CMD...   a command in the root, set up as for pytest
#   scripts/releases.sh pytest SUITE -- ARGS... the checkout's test suite under that release
#   scripts/releases.sh table                   the table of differences between releases
#                                               (docs/releases.md), from nftkit/nft/releases.py
#
# Roots live in ${NFTKIT_RELEASES_DIR:-/var/cache/nftkit-releases}/SUITE, outside the checkout.
# A root is reused when its stamp file (SUITE/.nftkit-root) matches what this script would
# install; otherwise it is rebuilt in SUITE.new and renamed into place. The Debian mirror is
# the one apt on this machine uses (read from /etc/apt/sources.list{,.d/*.list,.d/*.sources});
# NFTKIT_RELEASES_MIRROR overrides it. Needs root, mmdebstrap (installed with apt-get when
# missing) or else debootstrap (NFTKIT_RELEASES_BOOTSTRAP=debootstrap picks it), and unshare.
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${NFTKIT_RELEASES_DIR:-/var/cache/nftkit-releases}
SUITES_ALL=(bookworm trixie sid)
STAMP=.nftkit-root
VENV=/opt/nftkit-venv  # inside each root: the root's python3, Debian's packages visible
# Inside each root the checkout is /src/nftkit and ../shared is /src/shared (the tests find
# the corpus as the checkout's ../shared).
SRC=/src/nftkit
SHARED=${NFTKIT_SHARED_DIR:-$HERE/../shared}

# Every root: nft and libnftables of the release, what the kernel tests call (ip, unshare,
# capsh, iptables-nft, umount), /etc/protocols and /etc/services (netbase: nft resolves names there),
# and the release's Python with venv and pip.
PACKAGES=(nftables libnftables1 iproute2 util-linux mount procps netbase ca-certificates
  iptables libcap2-bin python3 python3-venv python3-pip python3-nftables)
# The Python dependencies from Debian where the release has them; whatever is missing or too
# old for pyproject.toml is then installed with pip into $VENV (pip skips what is satisfied).
PY_DEBS=(python3-attr python3-lark python3-cffi python3-pytest python3-hypothesis
  python3-pytest-timeout python3-interegular)

die() { echo "releases.sh: $*" >&2; exit 1; }
log() { echo "releases.sh: $*" >&2; }

need_root() { [ "$(id -u)" = 0 ] || die "needs root (chroot, mounts, namespaces)"; }

# The requirements of nftkit and its test extra, read from pyproject.toml.
requirements() {
  python3 - "$HERE/pyproject.toml" <<'EOF'
import sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
for r in p["dependencies"] + p["optional-dependencies"]["test"]:
    print(r)
EOF
}

# The Debian archive URI apt on this machine uses: the first "deb" source whose suite is a
# plain release name (not -security, -updates, -backports), from one-line .list files and
# deb822 .sources files alike. Disabled (Enabled: no) stanzas are skipped.
apt_mirror() {
  if [ -n "${NFTKIT_RELEASES_MIRROR:-}" ]; then echo "$NFTKIT_RELEASES_MIRROR"; return; fi
  local files=()
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || die "no apt sources found; set NFTKIT_RELEASES_MIRROR"
  python3 - "${files[@]}" <<'EOF' || die "no Debian mirror in apt's sources; set NFTKIT_RELEASES_MIRROR"
import re, sys

def entries(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields, key = {}, None
            for line in stanza.splitlines():
                if line.lstrip().startswith("#") or not line.strip():
                    continue
                if line[0] in " \t" and key:
                    fields[key] += " " + line.strip()
                    continue
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            if "deb" not in fields.get("types", "").split():
                continue
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    yield uri, suite
    else:
        for line in text.splitlines():
            line = line.split("#", 1)[0].split()
            if not line or line[0] != "deb":
                continue
            line = line[1:]
            if line and line[0].startswith("["):  # options: [arch=amd64 signed-by=...]
                while line and not line[0].endswith("]"):
                    line = line[1:]
                line = line[1:]
            if len(line) >= 2:
                yield line[0], line[1]

found = [(u, s) for f in sys.argv[1:] for u, s in entries(f)]
for uri, suite in found:
    if "-" not in suite and "/" not in suite and uri.startswith(("http:", "https:", "file:")):
        # A Debian archive has dists/<suite>; other vendors' repositories (nodistro, ...)
        # do not name a Debian suite.
        if suite in ("bookworm", "trixie", "forky", "sid", "unstable", "testing", "stable",
                     "oldstable", "bullseye", "duke"):
            print(uri.rstrip("/"))
            sys.exit(0)
sys.exit(1)
EOF
}

# What a complete root of SUITE holds; the stamp file must match it byte for byte.
stamp_text() {
  local suite=$1
  printf 'suite %s\n' "$suite"
  printf 'deb %s\n' "${PACKAGES[@]}" "${PY_DEBS[@]}"
  requirements | sed 's/^/pip /'
  printf 'layout 1\n'  # bump when the set-up inside a root changes
}

root_of() { echo "$CACHE/$1"; }

is_complete() {
  local root; root=$(root_of "$1")
  [ -f "$root/$STAMP" ] && [ "$(cat "$root/$STAMP")" = "$(stamp_text "$1")" ]
}

clean_env() {
  # A fixed, minimal environment: the host's PATH, locale and pip settings mean nothing in the
  # root (C.UTF-8 is built into Debian's libc, no locales package needed).
  echo env -i PATH="$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC TERM="${TERM:-dumb}" \
    PYTHONDONTWRITEBYTECODE=1 XDG_CACHE_HOME=/tmp/.cache HYPOTHESIS_STORAGE_DIRECTORY=/tmp/.hypothesis \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
}

# _enter ROOT CHECKOUT CMD...: runs in the private mount namespace made by shell/pytest.
enter() {
  local root=$1 checkout=$2; shift 2
  mount --bind "$root" "$root"  # the root a mount point of its own (chroot, ip netns)
  mount --rbind /proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs -o mode=0755 tmpfs "$root/run"
  mkdir -p "$root/run/netns" "$root/run/lock"
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
  # Host names resolve as on the host (nft resolves them: `ip saddr localhost`); Debian's
  # default /etc/hosts in a fresh root also maps ::1 to localhost, which nft then refuses.
  [ -f /etc/hosts ] && mount --bind /etc/hosts "$root/etc/hosts" \
    && mount -o remount,bind,ro "$root/etc/hosts"
  if [ -n "$checkout" ]; then
    mkdir -p "$root$SRC" "$root/src/shared"
    mount --bind "$checkout" "$root$SRC"
    mount -o remount,bind,ro "$root$SRC"
    if [ -d "$SHARED" ]; then
      mount --bind "$SHARED" "$root/src/shared"
      mount -o remount,bind,ro "$root/src/shared"
    fi
  fi
  # pivot_root, not chroot: the kernel refuses user namespaces (unshare -U, which the tests
  # use) to a chrooted process. The host's tree is unmounted from the namespace.
  mkdir -p "$root/.oldroot"
  cd "$root"
  pivot_root . .oldroot
  # shellcheck disable=SC2046
  exec $(clean_env) sh -c 'umount -l /.oldroot && cd / && exec "$@"' sh "$@"
}

# Inside a fresh root (chroot, mounts up): the release's Python packages and the venv.
finish_root() {
  local root=$1
  local run=(chroot "$root" $(clean_env) DEBIAN_FRONTEND=noninteractive)
  local i
  for i in 1 2 3 4 5; do  # a fresh root's first update fails now and then: retry
    "${run[@]}" apt-get update -qq && break
    [ "$i" = 5 ] && die "apt-get update keeps failing in $root"
    sleep $((i * 3))
  done
  local have=() pkg policy
  for pkg in "${PACKAGES[@]}" "${PY_DEBS[@]}"; do
    policy=$("${run[@]}" apt-cache policy "$pkg" 2>/dev/null || true)
    if [[ $policy == *"Candidate: "[0-9]* ]]; then
      have+=("$pkg")
    else
      log "$pkg: not in this release, pip installs what it provides"
    fi
  done
  "${run[@]}" apt-get install -y -qq --no-install-recommends "${have[@]}" >/dev/null
  "${run[@]}" apt-get clean
  "${run[@]}" python3 -m venv --system-site-packages "$VENV"
  local reqs; mapfile -t reqs < <(requirements)
  # pip trusts what pip on this machine trusts (a proxy's CA, say): the host's bundle is
  # copied in for the install only and not kept in the root.
  local ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}} cert=()
  if [ -f "$ca" ]; then
    cp "$ca" "$root/run/nftkit-host-ca.crt"; cert=(--cert /run/nftkit-host-ca.crt)
  fi
  "${run[@]}" "$VENV/bin/pip" install -q "${cert[@]}" "${reqs[@]}"
  rm -f "$root/run/nftkit-host-ca.crt"
  # Drop apt's lists (they are a third of a minimal root) - apt-get update brings them back.
  rm -rf "$root"/var/lib/apt/lists/*
}

build_one() {
  local suite=$1 root new mirror t0
  root=$(root_of "$suite")
  if is_complete "$suite"; then
    log "$suite: cached in $root"
    return
  fi
  mirror=$(apt_mirror)
  new="$root.new"
  rm -rf --one-file-system "$new"
  mkdir -p "$CACHE"
  t0=$(date +%s)
  log "$suite: building in $new from $mirror"
  local include
  include=$(IFS=,; echo "${PACKAGES[*]}")
  if [ "${NFTKIT_RELEASES_BOOTSTRAP:-mmdebstrap}" = mmdebstrap ] && command -v mmdebstrap >/dev/null
  then
    # --variant=apt: Essential + apt; --include resolves dependencies (virtual ones too).
    # Check-Valid-Until: the mirror apt uses may be a snapshot whose sid Release file is past
    # its Valid-Until date; signatures are still checked.
    mmdebstrap --quiet --mode=root --variant=apt --include="$include" \
      --aptopt='Acquire::Retries "3"' --aptopt='Acquire::Check-Valid-Until "false"' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --customize-hook="\"$HERE/scripts/releases.sh\" _finish \"\$1\"" \
      "$suite" "$new" "deb $mirror $suite main" >&2
  else
    # debootstrap does not resolve virtual packages: only the base here, the rest with
    # apt-get inside the root (finish_root).
    debootstrap --variant=minbase "$suite" "$new" "$mirror" >&2
    printf 'Acquire::Retries "3";\nAcquire::Check-Valid-Until "false";\n' \
      >"$new/etc/apt/apt.conf.d/99nftkit"
    unshare -m --propagation private -- "$HERE/scripts/releases.sh" _finish_mounted "$new"
  fi
  stamp_text "$suite" >"$new/$STAMP"
  rm -rf --one-file-system "$root"
  mv "$new" "$root"
  log "$suite: built in $(( $(date +%s) - t0 )) s, $(du -sh --one-file-system "$root" | cut -f1)"
}

# debootstrap path: mount what apt and pip need, then finish_root.
finish_mounted() {
  local root=$1
  mount --bind "$root" "$root"
  mount --rbind /proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/tmp"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  finish_root "$root"
}

ensure_tools() {
  command -v unshare >/dev/null || die "needs util-linux's unshare"
  if ! command -v mmdebstrap >/dev/null && ! command -v debootstrap >/dev/null; then
    log "installing mmdebstrap with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap \
      >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null; } \
      || die "install mmdebstrap or debootstrap"
  fi
}

suite_arg() {
  local s=$1
  case " ${SUITES_ALL[*]} " in *" $s "*) ;; *) die "unknown suite $s (${SUITES_ALL[*]})";; esac
  echo "$s"
}

require_built() {
  is_complete "$1" || die "$1: no complete root in $(root_of "$1"); run: $0 build $1"
}

# "SUITE -- ARGS..." -> SUITE, then ARGS in the global array ARGS.
split_args() {
  SUITE=$(suite_arg "${1:-}"); shift || true
  [ "${1:-}" = -- ] && shift
  ARGS=("$@")
}

main() {
cmd=${1:-}; shift || true
case "$cmd" in
  build)
    need_root; ensure_tools
    [ $# -gt 0 ] || set -- "${SUITES_ALL[@]}"
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9  # two builds at once (two CI jobs) would share SUITE.new
    for s in "$@"; do build_one "$(suite_arg "$s")"; done
    for s in "$@"; do
      printf '%-9s %s\n' "$s" "$(unshare -n chroot "$(root_of "$s")" nft --version)"
    done
    ;;
  list)
    for s in "${SUITES_ALL[@]}"; do is_complete "$s" && echo "$s $(root_of "$s")"; done
    true
    ;;
  versions)
    need_root
    [ $# -gt 0 ] || set -- "${SUITES_ALL[@]}"
    for s in "$@"; do
      is_complete "$s" || continue
      printf '%-9s %s\n' "$s" "$(unshare -n chroot "$(root_of "$s")" nft --version)"
    done
    ;;
  nft)
    need_root; split_args "$@"; require_built "$SUITE"
    # shellcheck disable=SC2046
    exec unshare -n chroot "$(root_of "$SUITE")" $(clean_env) nft "${ARGS[@]}"
    ;;
  shell)
    need_root; split_args "$@"; require_built "$SUITE"
    [ ${#ARGS[@]} -gt 0 ] || ARGS=(bash)
    exec unshare -m -n --propagation private -- "$0" _enter "$(root_of "$SUITE")" "$HERE" \
      sh -c 'ip link set lo up; cd "$0" && exec "$@"' "$SRC" "${ARGS[@]}"
    ;;
  pytest)
    need_root; split_args "$@"; require_built "$SUITE"
    # A private mount namespace and, for safety, a network namespace of its own: the suite
    # makes its throwaway namespaces from there, so nothing can reach the host's ruleset.
    exec unshare -m -n --propagation private -- "$0" _enter "$(root_of "$SUITE")" "$HERE" \
      sh -c 'ip link set lo up; cd "$0" && exec python3 -m pytest -p no:cacheprovider "$@"' \
      "$SRC" "${ARGS[@]}"
    ;;
  table)
    cd "$HERE" && exec python3 -c 'import sys; from nftkit.nft.releases import markdown
sys.stdout.write(markdown())'
    ;;
  _enter) enter "$@" ;;
  _finish) finish_root "$1" ;;
  _finish_mounted) finish_mounted "$1" ;;
  ""|-h|--help|help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *) die "unknown command $cmd (build, list, versions, nft, shell, pytest, table)" ;;
esac
}

# One line, read before main runs: editing this file while it runs cannot change a running build.
{ main "$@"; exit $?; }
