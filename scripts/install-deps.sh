#!/usr/bin/env bash
# Install what sluice needs to build, test, bench and demo.  Idempotent.
#
#  1. Debian packages (apt-get), only the missing ones; `apt-get update` runs
#     once, and only when something is missing.  As root, or through sudo.
#  2. The pinned npm test tools (s3rver, @duckdb/node-api) from
#     scripts/package.json + scripts/package-lock.json into .deps/node
#     (git-ignored), with `npm ci`.  Skipped when already installed from the
#     same lockfile (stamp file .deps/node/.stamp).
#
# Environment:
#   SLUICE_SKIP_APT=1   skip step 1 (e.g. on a machine you manage yourself)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

# --- 1. Debian packages ------------------------------------------------------
PKGS=(
  build-essential pkg-config
  libpq-dev libjansson-dev libcurl4-openssl-dev libssl-dev libarchive-dev
  liblua5.4-dev lua5.4 libmicrohttpd-dev libavro-dev
  postgresql-15 postgresql-client
  awscli
  clang libclang-rt-14-dev
  zstd xz-utils bzip2 gzip time
  curl ca-certificates
)
# Node.js comes with the machine image (with its own npm); only fall back to
# Debian's packages when it is missing.
if ! command -v node >/dev/null 2>&1; then
  PKGS+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
  PKGS+=(npm)
fi

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

apt_pkgs() {
  local missing=() p
  if ! command -v dpkg-query >/dev/null 2>&1; then
    die "dpkg-query not found: this script expects Debian 12 (bookworm); install these by hand: ${PKGS[*]}"
  fi
  for p in "${PKGS[@]}"; do
    is_installed "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    say "all Debian packages present"
    return 0
  fi
  say "installing Debian packages: ${missing[*]}"

  local -a sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -v; then
      sudo=(sudo)
    else
      die "not root and sudo is not available (or refused): run as root, or install by hand: apt-get install ${missing[*]}"
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q ||
    die "apt-get update failed (is the Debian mirror reachable?)"
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]}"
  for p in "${missing[@]}"; do
    is_installed "$p" || die "package $p is still not installed after apt-get install"
  done
}

if [ "${SLUICE_SKIP_APT:-0}" = 1 ]; then
  say "SLUICE_SKIP_APT=1: skipping Debian packages"
else
  apt_pkgs
fi

# --- 2. pinned npm test tools -------------------------------------------------
NODE_DIR="$ROOT/.deps/node"
STAMP="$NODE_DIR/.stamp"
SRC_JSON="$ROOT/scripts/package.json"
SRC_LOCK="$ROOT/scripts/package-lock.json"

command -v node >/dev/null 2>&1 || die "node not found (needed for s3rver and DuckDB test tools)"
command -v npm >/dev/null 2>&1 || die "npm not found (needed to install the test tools)"
if [ ! -f "$SRC_JSON" ] || [ ! -f "$SRC_LOCK" ]; then
  die "missing $SRC_JSON or $SRC_LOCK"
fi

want_stamp="$(cat "$SRC_JSON" "$SRC_LOCK" | sha256sum | cut -d' ' -f1) node-$(node -p 'process.versions.modules')-$(uname -m)"
have_stamp="$(cat "$STAMP" 2>/dev/null || true)"

if [ -x "$NODE_DIR/node_modules/.bin/s3rver" ] && [ "$want_stamp" = "$have_stamp" ]; then
  say "npm test tools up to date in .deps/node"
else
  say "installing pinned npm test tools into .deps/node (npm ci)"
  mkdir -p "$NODE_DIR"
  rm -f "$STAMP"
  cp "$SRC_JSON" "$NODE_DIR/package.json"
  cp "$SRC_LOCK" "$NODE_DIR/package-lock.json"
  if ! (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error); then
    die "npm ci failed in $NODE_DIR (is the npm registry reachable? does scripts/package-lock.json match scripts/package.json?)"
  fi
  [ -x "$NODE_DIR/node_modules/.bin/s3rver" ] ||
    die "npm ci finished but $NODE_DIR/node_modules/.bin/s3rver is missing"
  if ! (cd "$NODE_DIR" && node -e '
      const duckdb = require("@duckdb/node-api");
      (async () => {
        const c = await (await duckdb.DuckDBInstance.create(":memory:")).connect();
        const r = await c.runAndReadAll("select 42 as x");
        if (Number(r.getRows()[0][0]) !== 42) throw new Error("unexpected result");
      })().catch((e) => { console.error(e); process.exit(1); });'); then
    die "@duckdb/node-api was installed but its native binding does not load on node $(node --version) ($(uname -m))"
  fi
  printf '%s\n' "$want_stamp" >"$STAMP"
  say "npm test tools installed: $(cd "$NODE_DIR" && node -p '["s3rver", "@duckdb/node-api"].map((n) => n + " " + require(n + "/package.json").version).join(", ")')"
fi
