#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test twice: a normal
# build in build/ and an ASan + UBSan build in build-asan/. Both run to the
# end even when the first fails; the last line is "N passed, N failed"
# over every test program of both, and the exit status is non-zero when
# anything failed. CC=clang ./test.sh builds with clang.
set -euo pipefail

STRATA_PROG=test.sh
STRATA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$STRATA_ROOT/scripts/lib.sh"

if [ $# -gt 0 ]; then
    case "$1" in
    --help | -h)
        echo "usage: [CC=clang] ./test.sh"
        echo "Builds build/ and build-asan/ and runs 'make check' in both."
        exit 0
        ;;
    *)
        echo "usage: [CC=clang] ./test.sh" >&2
        exit 2
        ;;
    esac
fi

strata_install_deps
strata_bootstrap

SAN_CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
SAN_LDFLAGS="-fsanitize=address,undefined"

passed=0
failed=0

# Adds the counts of DIR/test-suite.log to the totals. XFAIL is an
# expected failure (passed); ERROR and XPASS are failures; SKIP is neither.
count_results() {
    local log=$1 key n
    while read -r key n; do
        case "$key" in
        PASS: | XFAIL:) passed=$((passed + n)) ;;
        FAIL: | ERROR: | XPASS:) failed=$((failed + n)) ;;
        SKIP:) [ "$n" -gt 0 ] && strata_say "$n skipped in $log" ;;
        esac
    # Only the header (up to "# ERROR:"): a test's own output, copied
    # below it, may contain such lines too.
    done < <(sed -n -e '1,/^# ERROR:/s/^# \(PASS\|FAIL\|ERROR\|XFAIL\|XPASS\|SKIP\): *\([0-9][0-9]*\)$/\1: \2/p' "$log")
}

# run_suite NAME DIR: configure (when needed), build and "make check" in
# DIR, with the environment the caller set; never exits the script.
run_suite() {
    local name=$1 dir=$2 log="$STRATA_ROOT/$2/test-suite.log" rc=0
    echo "== $name: $dir/"
    if ! strata_configure "$dir" || ! strata_build "$dir"; then
        strata_say "$name: build failed in $dir/ (counted as one failure)"
        failed=$((failed + 1))
        return 0
    fi
    # A stale log from an earlier run must not be counted.
    rm -f "$log"
    strata_make "$dir" check || rc=$?
    if [ ! -f "$log" ]; then
        strata_say "$name: make check failed (status $rc) before any" \
            "test ran (counted as one failure)"
        failed=$((failed + 1))
        return 0
    fi
    if [ "$rc" -ne 0 ]; then
        echo "== $name: $dir/test-suite.log"
        cat "$log"
    fi
    local before=$failed
    count_results "$log"
    if [ "$rc" -ne 0 ] && [ "$failed" -eq "$before" ]; then
        # make check failed yet the log shows no failing test: say so and
        # count it, a silent pass would hide it.
        strata_say "$name: make check failed (status $rc)" \
            "(counted as one failure)"
        failed=$((failed + 1))
    fi
}

# Plain build: the caller's CC/CFLAGS/LDFLAGS, if any.
run_suite "build" build

# Sanitizer build: leaks, overflows and undefined behaviour stop the
# program (abort_on_error / halt_on_error), so they fail the test. The
# assignments hold for this one call (and reach configure, make and the
# tests through the environment).
CFLAGS="$SAN_CFLAGS" LDFLAGS="$SAN_LDFLAGS" \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite "asan+ubsan build" build-asan

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
