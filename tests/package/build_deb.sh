#!/usr/bin/env bash
# Builds strata's Debian package from a clean copy of the source, lints
# it, installs it on THIS machine, runs it the way its systemd unit does
# behind a real nginx that includes the installed snippets, stores and
# reads a key over HTTP, then purges the package and checks it is gone.
#
#   tests/package/build_deb.sh [--tarball FILE] [--build-only] [--out DIR]
#                              [--keep]
#
#   --tarball FILE  build from this `make dist` tarball (make deb passes
#                   its own); default: copy the checkout (files git tracks
#                   or would track), autoreconf, configure, make dist
#   --build-only    build and lint only: nothing is installed
#   --out DIR       copy the .deb into DIR
#   --keep          keep the work directory (its path is printed)
#
# It changes the machine: apt-get installs the build dependencies and test
# tools that are missing, and the package itself goes into /usr, /etc and
# /var/lib/strata, with a system account `strata` (removed at the end when
# this run created it). That is why this is an explicit command
# (make deb-test), never part of ./test.sh or make check.
# Needs root (or sudo) except with --build-only on a machine that has
# everything. Refuses to run when strata is already installed, since the
# purge at the end would delete its data.
#
# dpkg-buildpackage writes its results beside the source tree, so the
# build happens in a temporary directory: the checkout stays clean.
# Prints one "ok - ..." or "not ok - ..." line per check and ends with
# "N passed, N failed"; exits 1 when a check failed.
set -euo pipefail

STRATA_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export STRATA_PROG=build_deb
# shellcheck source=scripts/lib.sh
. "$STRATA_ROOT/scripts/lib.sh"

tarball=
build_only=no
out_dir=
keep=no
while [ $# -gt 0 ]; do
    case "$1" in
    --tarball) tarball=$(realpath "$2"); shift 2 ;;
    --build-only) build_only=yes; shift ;;
    --out) out_dir=$(realpath "$2"); shift 2 ;;
    --keep) keep=yes; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) strata_say "unknown argument: $1 (see --help)"; exit 2 ;;
    esac
done

passed=0
failed=0
check() { # description, command...
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        echo "ok - $what"
        passed=$((passed + 1))
    else
        echo "not ok - $what"
        failed=$((failed + 1))
    fi
}
# Stops the run on what makes the remaining checks meaningless; it counts
# as one more failure in the closing line.
die() {
    strata_say "$*"
    echo "$passed passed, $((failed + 1)) failed"
    exit 1
}
quiet_success() { # COMMAND...: succeeds and prints nothing at all
    local out
    out=$("$@" 2>&1) && [ -z "$out" ]
}
contains() { # TEXT PATTERN: grep -q PATTERN in TEXT
    printf '%s\n' "$1" | grep -q -- "$2"
}
# Not installed and not known to dpkg any more (no conffiles left).
package_gone() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || return 0
    case "$status" in un*) return 0 ;; *) return 1 ;; esac
}

# --- what this script needs installed -------------------------------

# Tools for building, linting and exercising the package; the build
# dependencies themselves come from debian/control (apt-get build-dep).
TOOLS=(dpkg-dev debhelper lintian git autoconf automake pkg-config
    python3 curl nginx)

install_missing_tools() {
    local missing=() pkg
    for pkg in "${TOOLS[@]}"; do
        if [ "$pkg" = nginx ] && strata_have_nginx; then
            continue # any flavour
        fi
        strata_pkg_installed "$pkg" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    strata_say "installing missing tools: ${missing[*]}"
    strata_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    strata_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Installs the Build-Depends of the source tree $1 that are not met.
install_build_deps() {
    if (cd "$1" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
        return 0
    fi
    strata_say "installing missing build dependencies"
    strata_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    strata_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get build-dep -y -qq --no-install-recommends "$1"
}

# --- the work directory and everything started in it ----------------

work=$(mktemp -d "${TMPDIR:-/var/tmp}/strata-deb.XXXXXX")
# Readable by all: lintian runs as nobody, stratad as strata (its notify
# socket is in here). Nothing in it is secret.
chmod 0755 "$work"
installed_by_us=no
account_by_us=no
stratad_pid=
nginx_pid=
notify_pid=

# The package keeps its account on purge (debian/postrm); the test
# removes it when this run created it, leaving the machine as it was.
remove_account() {
    if [ "$account_by_us" = yes ] && id -u strata >/dev/null 2>&1; then
        deluser --system --quiet strata >/dev/null 2>&1 || true
        delgroup --system --quiet strata >/dev/null 2>&1 || true
    fi
    account_by_us=no
}

cleanup() {
    local status=$?
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    if [ -n "$stratad_pid" ] && kill -0 "$stratad_pid" 2>/dev/null; then
        kill -TERM "$stratad_pid" 2>/dev/null || true
        wait "$stratad_pid" 2>/dev/null || true
    fi
    if [ -n "$notify_pid" ] && kill -0 "$notify_pid" 2>/dev/null; then
        kill "$notify_pid" 2>/dev/null || true
        wait "$notify_pid" 2>/dev/null || true
    fi
    if [ "$installed_by_us" = yes ]; then
        strata_say "purging the package installed by this run"
        strata_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get purge -y -qq strata >/dev/null 2>&1 || true
    fi
    remove_account
    if [ "$keep" = yes ]; then
        strata_say "work directory kept: $work"
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. a source tarball --------------------------------------------

# Copies the files git tracks or would track (not build directories, not
# ignored output) into $work/src, and makes the `make dist` tarball there.
make_tarball_from_checkout() {
    if ! git -C "$STRATA_ROOT" rev-parse >/dev/null 2>&1; then
        die "$STRATA_ROOT is not a git checkout: pass --tarball FILE (make dist)"
    fi
    mkdir -p "$work/src" "$work/dist"
    (cd "$STRATA_ROOT" && git ls-files -z -c -o --exclude-standard) |
        tar -C "$STRATA_ROOT" --null --ignore-failed-read -T - -cf - 2>/dev/null |
        tar -C "$work/src" -xf -
    strata_say "making the dist tarball (autoreconf, configure, make dist)"
    if ! (cd "$work/src" && mkdir -p m4 && autoreconf -fi &&
        cd "$work/dist" && ../src/configure && make dist) >"$work/dist.log" 2>&1; then
        tail -n 30 "$work/dist.log" >&2
        die "make dist failed (log above)"
    fi
    tarball=$(ls "$work"/dist/strata-*.tar.gz)
}

install_missing_tools
if [ -z "$tarball" ]; then
    install_build_deps "$STRATA_ROOT" # configure needs them for make dist
    make_tarball_from_checkout
fi
[ -f "$tarball" ] || die "no such tarball: $tarball"

# strata-0.1.0.tar.gz holds strata-0.1.0/; as 3.0 (quilt) wants, it
# becomes strata_0.1.0.orig.tar.gz, unpacked beside it.
name=$(tar -tzf "$tarball" | sed -n '1s|/.*||p')
upstream=${name#strata-}
[ "$name" = "strata-$upstream" ] || die "$tarball does not hold strata-VERSION/"
mkdir -p "$work/pkg"
cp "$tarball" "$work/pkg/strata_$upstream.orig.tar.gz"
tar -C "$work/pkg" -xzf "$tarball"
src="$work/pkg/$name"
[ -d "$src/debian" ] || die "$tarball has no debian/ (EXTRA_DIST in Makefile.am)"
version=$(cd "$src" && dpkg-parsechangelog -S Version)
[ "${version%-*}" = "$upstream" ] ||
    die "debian/changelog says $version but the tarball is $upstream: add a changelog entry (dch -v $upstream-1)"

# --- 2. build and lint ----------------------------------------------

install_build_deps "$src"
arch=$(dpkg --print-architecture)
deb="$work/pkg/strata_${version}_${arch}.deb"
strata_say "dpkg-buildpackage -us -uc -b in $src (log: build.log)"
start=$(date +%s)
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log" >&2
    die "dpkg-buildpackage failed (last lines above)"
fi
strata_say "built $(basename "$deb") in $(($(date +%s) - start)) s"
grep -E '^# (TOTAL|PASS|FAIL|ERROR):' "$work/build.log" | sed 's/^/build tests: /' >&2 || true
check "the package was built" test -f "$deb"
[ -n "$out_dir" ] && cp "$deb" "$out_dir/"

# lintian prints every tag (errors, warnings, info); errors fail the run.
lintian_out="$work/lintian.txt"
lintian_ok=yes
# lintian advises against running as root: as root, it runs as nobody.
unprivileged() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp "$@"
    else
        "$@"
    fi
}
unprivileged lintian --display-info --fail-on error \
    "$work/pkg/strata_${version}_${arch}.changes" >"$lintian_out" 2>&1 || lintian_ok=no
sed 's/^/lintian: /' "$lintian_out"
check "lintian reports no errors" test "$lintian_ok" = yes

if [ "$build_only" = yes ]; then
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

# --- 3. install and inspect -----------------------------------------

[ "$(id -u)" -eq 0 ] || die "installing the package needs root"
if strata_pkg_installed strata; then
    die "strata is already installed; this test ends with a purge, which would delete /var/lib/strata"
fi
if [ -n "$(ls -A /var/lib/strata 2>/dev/null)" ]; then
    die "/var/lib/strata exists and is not empty; the purge at the end would delete it"
fi

id -u strata >/dev/null 2>&1 || account_by_us=yes
strata_say "apt-get install ./$(basename "$deb")"
installed_by_us=yes
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$work/install.log" 2>&1 ||
    {
        cat "$work/install.log" >&2
        die "installing the package failed"
    }

unit=$(dpkg -L strata | grep '/systemd/system/stratad\.service$' || true)
unitdir=$(dirname "${unit:-/lib/systemd/system/stratad.service}")
check "the package is installed" strata_pkg_installed strata
check "system user strata exists" id -u strata
check "user strata is a system account" test "$(id -u strata)" -lt 1000
check "group strata exists" getent group strata
check "strata's home is /var/lib/strata" \
    test "$(getent passwd strata | cut -d: -f6)" = /var/lib/strata
check "/var/lib/strata is owned by strata" \
    test "$(stat -c %U:%G /var/lib/strata)" = strata:strata
check "stratad --version names $upstream" \
    sh -c "/usr/sbin/stratad --version | grep -qx 'stratad $upstream'"
for f in /usr/sbin/stratad /usr/share/man/man8/stratad.8.gz \
    "$unitdir/stratad.service" "$unitdir/stratad@.service" /etc/strata/stratad.conf \
    /usr/share/strata/nginx/strata-upstream.conf \
    /usr/share/strata/nginx/strata-locations.conf \
    /usr/share/doc/strata/copyright; do
    check "installed: $f" test -f "$f"
done
check "/etc/strata/stratad.conf is a conffile" \
    sh -c "dpkg-query -W -f='\${Conffiles}' strata | grep -q '^ /etc/strata/stratad.conf '"
check "systemctl is-enabled stratad says enabled" \
    test "$(systemctl is-enabled stratad.service 2>&1)" = enabled
check "multi-user.target wants stratad.service" \
    test -L /etc/systemd/system/multi-user.target.wants/stratad.service
# As installed: real paths, the binary and the man page of
# Documentation= in place. verify only warns (exit 0) on a bad key.
check "systemd-analyze verify: stratad.service, not a word" \
    quiet_success systemd-analyze verify "$unitdir/stratad.service"
check "systemd-analyze verify: stratad@pkgtest.service, not a word" \
    quiet_success systemd-analyze verify "$unitdir/stratad@pkgtest.service"

# --- 4. run it as the unit does, behind nginx -----------------------

[ -f "$unit" ] || die "the package has no stratad.service: cannot run it as the unit does"

# The unit's own settings, so that the test follows the unit: its lines
# joined where they end in a backslash, and the specifiers it uses
# expanded as the system manager does (%S /var/lib, %t /run).
unit_value() { # KEY: the value of KEY= in the unit (the last one wins)
    sed -e ':a' -e '/\\$/{N; s/\\\n[[:space:]]*/ /; ba' -e '}' "$unit" |
        sed -n "s/^$1=//p" | tail -n 1 |
        sed -e 's|%S|/var/lib|g' -e 's|%t|/run|g' -e 's|%%|%|g'
}
exec_start=$(unit_value ExecStart)
user=$(unit_value User)
group=$(unit_value Group)
groups=$(unit_value SupplementaryGroups)
umask_value=$(unit_value UMask)
check "the unit is Type=notify" test "$(unit_value Type)" = notify
check "the unit runs as strata:strata" test "$user:$group" = strata:strata
check "the unit has www-data as a supplementary group" test "$groups" = www-data
read -r -a argv <<<"$exec_start"
socket=
for ((i = 0; i < ${#argv[@]}; i++)); do
    [ "${argv[$i]}" = --socket ] && socket=${argv[$((i + 1))]}
done
check "ExecStart names a socket ($socket)" test -n "$socket"

# What systemd does before ExecStart: it makes RuntimeDirectory=,
# StateDirectory= and LogsDirectory= the unit user's (checked above to be
# strata), with the modes the unit asks for.
check "the unit's directories are /run/strata, /var/lib/strata, /var/log/strata" \
    test "$(unit_value RuntimeDirectory) $(unit_value StateDirectory) $(unit_value LogsDirectory)" = \
    "strata strata strata"
dir_mode() { # KEY: the unit's mode for that directory, systemd's 0755 else
    local mode
    mode=$(unit_value "$1")
    echo "${mode:-0755}"
}
install -d -o "$user" -g "$group" -m "$(dir_mode RuntimeDirectoryMode)" /run/strata
install -d -o "$user" -g "$group" -m "$(dir_mode StateDirectoryMode)" /var/lib/strata
install -d -o "$user" -g "$group" -m "$(dir_mode LogsDirectoryMode)" /var/log/strata

# NOTIFY_SOCKET as systemd would set it: stratad must send READY=1 there.
notify_dir="$work/notify"
install -d -m 0755 "$notify_dir"
python3 - "$notify_dir/notify" "$work/notify.txt" <<'PY' &
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)
with open(out, "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode(errors="replace")
        f.write(msg.replace("\n", " ") + "\n")
PY
notify_pid=$!
for _ in $(seq 50); do [ -S "$notify_dir/notify" ] && break; sleep 0.1; done

strata_say "starting as the unit does: $exec_start"
(
    umask "${umask_value:-0022}"
    NOTIFY_SOCKET="$notify_dir/notify" exec setpriv --reuid="$user" \
        --regid="$group" --groups="$groups" -- "${argv[@]}"
) 2>"$work/stratad.log" &
stratad_pid=$!
ready=no
for _ in $(seq 100); do
    if grep -q 'READY=1' "$work/notify.txt" 2>/dev/null; then
        ready=yes
        break
    fi
    kill -0 "$stratad_pid" 2>/dev/null || break
    sleep 0.1
done
check "stratad sent READY=1 to NOTIFY_SOCKET" test "$ready" = yes
check "stratad runs as user strata" \
    sh -c "test \"\$(ps -o user= -p $stratad_pid)\" = strata"
check "the socket is group www-data, mode 0660" \
    sh -c "test \"\$(stat -c '%G %a' '$socket')\" = 'www-data 660'"

# nginx as Debian runs it (workers as www-data), with the upstream snippet
# linked into a conf.d-like directory and the locations included in a
# server of our own on a free loopback port.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ngx="$work/nginx"
mkdir -p "$ngx/conf.d"
ln -s /usr/share/strata/nginx/strata-upstream.conf "$ngx/conf.d/"
cat >"$ngx/nginx.conf" <<EOF
user www-data;
worker_processes 1;
pid $ngx/nginx.pid;
error_log $ngx/error.log;
events { worker_connections 64; }
http {
    access_log $ngx/access.log;
    include $ngx/conf.d/*.conf;
    server {
        listen 127.0.0.1:$port;
        include /usr/share/strata/nginx/strata-locations.conf;
    }
}
EOF
check "nginx accepts the configuration with the snippets" \
    nginx -t -q -e "$ngx/error.log" -c "$ngx/nginx.conf"
nginx -e "$ngx/error.log" -c "$ngx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
done

url="http://127.0.0.1:$port"
value="deb test $(date +%s%N)"
set_out=$(curl -s -X POST "$url/set/pkgtest" -H 'Content-Type: application/json' \
    -d "{\"value\": \"$value\"}" || true)
get_out=$(curl -s "$url/get/pkgtest" || true)
health_out=$(curl -s "$url/health" || true)
metrics_out=$(curl -s "$url/metrics" || true)
echo "# set: $set_out"
echo "# get: $get_out"
echo "# health: $health_out"
check "POST /set through nginx answers ok" test "$set_out" = '{"status":"ok"}'
check "GET /get returns the value just set" test "$get_out" = "{\"value\":\"$value\"}"
check "GET /health answers ok" contains "$health_out" '"status":"ok"'
check "GET /metrics has strata_ metrics" contains "$metrics_out" '^strata_'
check "the data went to /var/lib/strata" \
    test -n "$(find /var/lib/strata -type f -user strata)"

# Stop both as systemd would: nginx gracefully, stratad with SIGTERM.
kill -QUIT "$nginx_pid"
wait "$nginx_pid" 2>/dev/null || true
nginx_pid=
kill -TERM "$stratad_pid"
stratad_status=0
wait "$stratad_pid" || stratad_status=$?
stratad_pid=
check "stratad exits 0 on SIGTERM" test "$stratad_status" -eq 0
check "stratad sent STOPPING=1" grep -q 'STOPPING=1' "$work/notify.txt"
kill "$notify_pid" 2>/dev/null || true
wait "$notify_pid" 2>/dev/null || true
notify_pid=
if [ "$failed" -gt 0 ]; then
    sed 's/^/stratad: /' "$work/stratad.log" >&2
    sed 's/^/nginx: /' "$ngx/error.log" >&2 || true
fi

# --- 5. purge -------------------------------------------------------

strata_say "apt-get purge strata"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq strata >"$work/purge.log" 2>&1 ||
    cat "$work/purge.log" >&2
installed_by_us=no
check "the package is gone after purge" package_gone strata
for f in /usr/sbin/stratad /etc/strata /var/lib/strata /run/strata \
    "$unit" /usr/share/strata \
    /etc/systemd/system/multi-user.target.wants/stratad.service; do
    check "removed: $f" test ! -e "$f" -a ! -L "$f"
done
check "purge keeps the system account strata (debian/postrm)" id -u strata
remove_account

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
