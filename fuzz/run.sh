#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ and runs each one for a bounded
# time: first over its seeds (fuzz/corpus/<name>/) and its regression
# inputs (fuzz/regressions/<name>/, every crash found so far), then on
# new inputs. Prints the executions per target; exits non-zero when any
# target crashed, leaked, timed out or ran out of memory.
#
# The library is built with clang in its own directory, build-fuzz/
# (-fsanitize=fuzzer-no-link,address,undefined), never in another build's
# directory; the targets link it with -fsanitize=fuzzer,address,undefined.
# A lock on build-fuzz/ lets two runs (make check in build/ and
# build-asan/, two engineers) wait for each other instead of racing.
set -euo pipefail

STRATA_PROG=fuzz/run.sh
STRATA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/lib.sh
. "$STRATA_ROOT/scripts/lib.sh"

usage() {
    cat <<'EOF'
usage: fuzz/run.sh [--seconds N] [--target NAME]... [--build-only]
                   [--make-seeds] [--list]
  --seconds N    fuzz each target for N seconds (default 5; 0 replays the
                 seeds and regressions only)
  --target NAME  run only this target (fuzz/fuzz_NAME.c); repeatable
  --build-only   build the targets and stop
  --make-seeds   rewrite fuzz/corpus/ from files the engines write
                 (fuzz/make_seeds.c), then stop
  --list         print the target names and stop
Environment: FUZZ_CC (default clang), FUZZ_ARGS (more libFuzzer flags).
Crash inputs go to build-fuzz/fuzz/artifacts/<name>/; minimise one with
  build-fuzz/fuzz/fuzz_NAME -minimize_crash=1 -runs=100000 FILE
and commit it as fuzz/regressions/NAME/<what-it-does>.
EOF
}

seconds=5
build_only=no
make_seeds=no
list=no
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        seconds=$2
        shift 2
        ;;
    --target)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        targets+=("$2")
        shift 2
        ;;
    --build-only) build_only=yes; shift ;;
    --make-seeds) make_seeds=yes; shift ;;
    --list) list=yes; shift ;;
    --help | -h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
case "$seconds" in
'' | *[!0-9]*) strata_say "--seconds takes a whole number"; exit 2 ;;
esac

FUZZ_DIR="$STRATA_ROOT/fuzz"
# STRATA_FUZZ_BUILD: where to build (default build-fuzz/ in the source
# tree; make distcheck's source tree is read-only).
BUILD=${STRATA_FUZZ_BUILD:-build-fuzz}
BUILD_DIR=$(strata_dir "$BUILD")
OUT="$BUILD_DIR/fuzz"

all_targets=()
for f in "$FUZZ_DIR"/fuzz_*.c; do
    name=${f##*/fuzz_}
    all_targets+=("${name%.c}")
done
if [ "$list" = yes ]; then
    printf '%s\n' "${all_targets[@]}"
    exit 0
fi
[ "${#targets[@]}" -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    [ -f "$FUZZ_DIR/fuzz_$t.c" ] || { strata_say "no target '$t'"; exit 2; }
done

# Called from 'make check' or 'make fuzz', we inherit that make's flags
# (jobserver descriptors among them) and, under test.sh's sanitizer run,
# its CFLAGS: none of them are meant for this build.
unset MAKEFLAGS MFLAGS MAKELEVEL CPPFLAGS
export CC=${FUZZ_CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
export CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $SAN"
export LDFLAGS="-fsanitize=address,undefined"
# libFuzzer reports leaks itself; abort_on_error makes a UBSan finding a
# crash with a saved input.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

strata_install_deps

# A missing fuzzer runtime must fail, loudly: a fuzz test that skips
# itself tests nothing.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
    '{ return (int)(n && d[0] == 0); }' >"$probe/probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe/probe.c" \
    -o "$probe/probe" >"$probe/log" 2>&1; then
    cat "$probe/log" >&2
    strata_say "FAIL: '$CC -fsanitize=fuzzer' does not link: install clang" \
        "and its runtime (Debian: apt-get install clang libclang-rt-dev)"
    exit 1
fi

strata_bootstrap
mkdir -p "$BUILD_DIR"
exec 9>"$BUILD_DIR/.fuzz-lock"
if ! flock -w 1800 9; then
    strata_say "another fuzz run holds $BUILD/ for too long"
    exit 1
fi

strata_configure "$BUILD"
# Another engineer's half-written file can break the library for a
# moment: retry once after a pause before giving up.
if ! strata_make "$BUILD" libstrata.a; then
    strata_say "libstrata.a failed to build; retrying in 60 s"
    sleep 60
    strata_make "$BUILD" libstrata.a || {
        strata_say "FAIL: libstrata.a does not build in $BUILD/"
        exit 1
    }
fi

# The libraries libstrata.a needs, as configure found them.
libs=$(sed -n -e 's/^\(FCGI\|JSONC\|XXHASH\)_LIBS = //p' \
    "$BUILD_DIR/Makefile" | tr '\n' ' ')
incs=$(sed -n -e 's/^\(JSONC\|XXHASH\)_CFLAGS = //p' \
    "$BUILD_DIR/Makefile" | tr '\n' ' ')
LIB="$BUILD_DIR/libstrata.a"
FUZZ_CFLAGS="-std=c11 -D_GNU_SOURCE -pthread -Wall -Wextra -Wno-unused-parameter
    -I$STRATA_ROOT/src -I$FUZZ_DIR $incs -O1 -g -fno-omit-frame-pointer $SAN"

# compile SOURCE BINARY EXTRA_FLAGS: rebuilds when the binary is older
# than its source, the shared header or the library.
compile() {
    local src=$1 bin=$2 extra=$3
    if [ -x "$bin" ] && [ "$bin" -nt "$src" ] && [ "$bin" -nt "$LIB" ] &&
        [ "$bin" -nt "$FUZZ_DIR/fuzz_common.h" ]; then
        return 0
    fi
    # shellcheck disable=SC2086 # word splitting of flag lists is wanted
    if ! "$CC" $FUZZ_CFLAGS $extra "$src" "$LIB" $libs -o "$bin.tmp"; then
        strata_say "FAIL: ${src#"$STRATA_ROOT"/} does not build"
        return 1
    fi
    mv "$bin.tmp" "$bin"
}

mkdir -p "$OUT"
if [ "$make_seeds" = yes ]; then
    compile "$FUZZ_DIR/make_seeds.c" "$OUT/make_seeds" \
        "-fsanitize=fuzzer-no-link"
    "$OUT/make_seeds" "$FUZZ_DIR/corpus"
    du -sh "$FUZZ_DIR/corpus"
    exit 0
fi
for t in "${targets[@]}"; do
    compile "$FUZZ_DIR/fuzz_$t.c" "$OUT/fuzz_$t" "-fsanitize=fuzzer"
done
[ "$build_only" = yes ] && exit 0

# run_target NAME: one libFuzzer run; prints "NAME EXECS STATUS".
failed=0
summary=()
run_target() {
    local t=$1 log="$OUT/logs/$1.log" dirs=() rc=0
    mkdir -p "$OUT/work/$t" "$OUT/artifacts/$t" "$OUT/logs"
    dirs+=("$OUT/work/$t")
    [ -d "$FUZZ_DIR/corpus/$t" ] && dirs+=("$FUZZ_DIR/corpus/$t")
    [ -d "$FUZZ_DIR/regressions/$t" ] && dirs+=("$FUZZ_DIR/regressions/$t")
    local limit=(-max_total_time="$seconds")
    [ "$seconds" -eq 0 ] && limit=(-runs=0)
    # Bounded memory (rss, any one malloc) and time per input; -timeout
    # is generous because the machine is shared.
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    "$OUT/fuzz_$t" "${limit[@]}" -print_final_stats=1 -rss_limit_mb=1024 \
        -malloc_limit_mb=256 -timeout=20 \
        -artifact_prefix="$OUT/artifacts/$t/" ${FUZZ_ARGS:-} \
        "${dirs[@]}" >"$log" 2>&1 || rc=$?
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" -ne 0 ]; then
        failed=$((failed + 1))
        summary+=("$(printf '%-14s %12s  FAIL (exit %s)' "$t" "${execs:-?}" "$rc")")
        echo "== fuzz_$t failed; the end of $BUILD/fuzz/logs/$t.log:" >&2
        tail -n 60 "$log" >&2
        ls "$OUT/artifacts/$t" >&2 || true
    else
        summary+=("$(printf '%-14s %12s  ok' "$t" "${execs:-?}")")
    fi
}

for t in "${targets[@]}"; do
    run_target "$t"
done
printf '%-14s %12s  %s\n' target executions result
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
    strata_say "FAIL: $failed target(s) failed; inputs in $BUILD/fuzz/artifacts/"
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds} s each: no crash"
