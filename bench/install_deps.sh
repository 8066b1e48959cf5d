#!/usr/bin/env bash
# usage: bench/install_deps.sh PACKAGE...
# Installs the Debian packages the benchmarks need (wrk, libleveldb-dev,
# liblmdb-dev) when they are missing, and only then: a machine that has
# them never runs apt-get. As root directly, otherwise through sudo.
set -euo pipefail

STRATA_PROG=bench
STRATA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$STRATA_ROOT/scripts/lib.sh"

missing=()
for pkg in "$@"; do
    strata_pkg_installed "$pkg" 2>/dev/null && continue
    # wrk built by hand counts as installed.
    [ "$pkg" = wrk ] && command -v wrk >/dev/null 2>&1 && continue
    missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    strata_say "not a Debian system: install by hand: ${missing[*]}"
    exit 1
fi
strata_say "installing missing packages: ${missing[*]}"
strata_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
strata_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
