# shellcheck shell=bash
#
# What the tests of tests/build/ that look at an install share: TAP-style
# "ok - NAME" / "not ok - NAME" lines with a count of failures, and make
# run in the build directory under test. Sourced after `set -u`, with
# `builddir` (the build directory) and `tmp` (a private temp directory)
# set by the caller.
# shellcheck disable=SC2154 # builddir and tmp come from the caller

failed=0

ok() { echo "ok - $1"; }
not_ok() {
    echo "not ok - $1"
    failed=$((failed + 1))
}
check() { # name, command...
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# make in the build directory, without the jobserver of the make check
# that runs this test, and one at a time: under make -j these tests run
# side by side, and two makes in one build directory race over the same
# generated files (flock, from util-linux, waits for the other).
mk() {
    flock "$builddir/.strata-build-tests.lock" \
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$builddir" "$@"
}

# The value of a make variable of this build, fully expanded. The value
# line is marked, because make may first bring the Makefile up to date
# and print configure's output on the way.
# shellcheck disable=SC2016 # $($*) is make's, not the shell's
printf 'strata-print-%%:\n\t@printf "strata-value=%%s\\n" "$($*)"\n' \
    >"$tmp/print.mk"
makevar() {
    mk -f Makefile -f "$tmp/print.mk" "strata-print-$1" |
        sed -n 's/^strata-value=//p'
}
