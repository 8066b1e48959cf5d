# shellcheck shell=bash
#
# What run.sh and test.sh share: install the Debian packages strata needs,
# bootstrap autotools, configure and build an out-of-tree build directory.
# Sourced, never run; expects `set -euo pipefail` and STRATA_ROOT (the
# source tree) from the caller. Every function returns non-zero on failure
# and prints why on stderr.

STRATA_PACKAGES=(
    build-essential autoconf automake libtool pkg-config
    libfcgi-dev libjson-c-dev libcmocka-dev libxxhash-dev libsystemd-dev
    python3 curl clang libclang-rt-dev wrk valgrind
    python3-prometheus-client
    # systemd-analyze and groff check the units and the man page
    systemd groff-base
)

strata_say() {
    printf '%s: %s\n' "${STRATA_PROG:-strata}" "$*" >&2
}

# Runs "$@" as root: directly when we are root, through sudo otherwise.
strata_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        strata_say "need root to run '$*' and sudo is not installed"
        return 1
    fi
}

strata_pkg_installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [ "$status" = "install ok installed" ]
}

strata_have_nginx() {
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]
}

# Installs the packages that are missing, and only those: a machine that
# has everything never runs apt-get (no root, no network needed).
strata_install_deps() {
    local missing=() pkg log
    if ! command -v dpkg-query >/dev/null 2>&1; then
        strata_say "not a Debian system: install by hand:" \
            "${STRATA_PACKAGES[*]} nginx"
        return 0
    fi
    for pkg in "${STRATA_PACKAGES[@]}"; do
        if [ "$pkg" = build-essential ] &&
            command -v "${CC:-cc}" >/dev/null 2>&1 &&
            command -v make >/dev/null 2>&1; then
            continue # a compiler and make, without the meta-package
        fi
        strata_pkg_installed "$pkg" || missing+=("$pkg")
    done
    # Any nginx flavour will do (nginx, nginx-light, nginx-full ...); ask
    # for the smallest only when there is none, so as not to fight over
    # the conflicting flavours.
    strata_have_nginx || missing+=(nginx-light)
    [ "${#missing[@]}" -eq 0 ] && return 0

    strata_say "installing missing packages: ${missing[*]}"
    log=$(mktemp)
    if ! strata_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get update -qq >"$log" 2>&1 ||
        ! strata_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" \
            >>"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        strata_say "package installation failed"
        return 1
    fi
    rm -f "$log"
}

# Regenerates configure only when it is missing or older than its inputs.
strata_bootstrap() {
    local f need=no
    if [ ! -x "$STRATA_ROOT/configure" ]; then
        need=yes
    else
        for f in configure.ac Makefile.am; do
            if [ "$STRATA_ROOT/$f" -nt "$STRATA_ROOT/configure" ]; then
                need=yes
            fi
        done
    fi
    [ "$need" = no ] && return 0

    strata_say "running autoreconf -fi"
    mkdir -p "$STRATA_ROOT/m4"
    local log
    log=$(mktemp)
    if ! (cd "$STRATA_ROOT" && autoreconf -fi) >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        strata_say "autoreconf failed"
        return 1
    fi
    rm -f "$log"
}

# strata_configure DIR [CONFIGURE_ARGS...]
# Configures an out-of-tree build in $STRATA_ROOT/DIR when it has never
# been configured, when configure is newer than the last run, or when the
# compiler, the flags or the arguments changed (CC=clang ./test.sh after a
# gcc build must not reuse the gcc objects). The environment (CC, CFLAGS,
# LDFLAGS, CPPFLAGS) reaches configure as usual.
# A build directory: absolute as given, else relative to the source tree.
strata_dir() {
    case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$STRATA_ROOT/$1" ;;
    esac
}

strata_configure() {
    local dir
    dir=$(strata_dir "$1")
    shift
    local stamp="$dir/.strata-configure"
    local want
    want=$(printf 'CC=%s\nCFLAGS=%s\nCPPFLAGS=%s\nLDFLAGS=%s\nARGS=%s\n' \
        "${CC-}" "${CFLAGS-}" "${CPPFLAGS-}" "${LDFLAGS-}" "$*")

    if [ -f "$dir/Makefile" ] && [ -f "$dir/config.status" ] &&
        [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
        ! [ "$STRATA_ROOT/configure" -nt "$dir/config.status" ]; then
        return 0
    fi
    if [ -f "$STRATA_ROOT/config.status" ]; then
        strata_say "the source tree is configured in place;" \
            "run 'make distclean' there first (builds go to build*/)"
        return 1
    fi

    # Objects depend on sources, not on the compiler or the flags: after
    # a change of either (or flags unknown: no stamp), rebuild them all.
    local clean=no
    if [ -f "$dir/Makefile" ] &&
        { [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; }; then
        clean=yes
    fi

    strata_say "configuring ${dir#"$STRATA_ROOT"/}/ ${CC:+(CC=$CC)}"
    mkdir -p "$dir"
    rm -f "$stamp"
    if ! (cd "$dir" && "$STRATA_ROOT/configure" "$@" >configure.out 2>&1); then
        tail -n 30 "$dir/configure.out" >&2
        strata_say "configure failed in ${dir#"$STRATA_ROOT"/}/ (see config.log there)"
        return 1
    fi
    if [ "$clean" = yes ]; then
        make -s -C "$dir" clean >/dev/null
    fi
    printf '%s\n' "$want" >"$stamp"
}

# Drops the one-line-per-file progress of silent rules ("  CC  x.o") and
# ar's ARFLAGS=cru notice; warnings and errors pass through.
strata_quiet() {
    grep --line-buffered -v -E \
        '^  (CC|CCLD|AR|GEN) |modifier ignored since .D. is the default' ||
        true
}

# strata_make DIR [TARGET...]: make -j2 in DIR, quietly; make's status.
strata_make() {
    local dir=$1
    shift
    make -s -C "$(strata_dir "$dir")" -j2 "$@" 2>&1 | strata_quiet
}

# strata_build DIR: builds everything (stratad and the library).
strata_build() {
    strata_make "$1"
}
