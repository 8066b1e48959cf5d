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
# that runs this test.
mk() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$builddir" "$@"
}

# The value of a make variable of this build, fully expanded.
# shellcheck disable=SC2016 # $($*) is make's, not the shell's
printf 'strata-print-%%:\n\t@printf "%%s\\n" "$($*)"\n' >"$tmp/print.mk"
makevar() { mk -f Makefile -f "$tmp/print.mk" "strata-print-$1"; }
