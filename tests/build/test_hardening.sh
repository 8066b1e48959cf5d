#!/usr/bin/env bash
# The worker is built hardened (configure.ac, "Hardening"): a
# position-independent executable, full RELRO (BIND_NOW), a stack
# protector, and fortified libc calls unless this is a sanitizer or -O0
# build. Reads the binary with readelf (binutils); prints ok / not ok.
set -u
stratad=${STRATAD:?STRATAD names the stratad binary}
failed=0
check() { # name, command...
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then
        echo "ok - $name"
    else
        echo "not ok - $name"
        failed=$((failed + 1))
    fi
}
check "stratad is a position-independent executable" \
    sh -c "readelf -h '$stratad' | grep -q 'DYN (Position-Independent'"
check "stratad has full RELRO (BIND_NOW)" \
    sh -c "readelf -d '$stratad' | grep -q 'BIND_NOW'"
check "stratad has a stack protector" \
    sh -c "readelf -s --wide '$stratad' | grep -q '__stack_chk_fail'"
case "${STRATA_CFLAGS-}" in
*-fsanitize=* | *-O0*) echo "# no _FORTIFY_SOURCE in this build: ${STRATA_CFLAGS}" ;;
*)
    check "stratad calls fortified libc functions" \
        sh -c "readelf -s --wide '$stratad' | grep -q '__[a-z_]*_chk'"
    ;;
esac
[ "$failed" -eq 0 ]
