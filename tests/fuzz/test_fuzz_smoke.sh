#!/bin/sh
# The fuzz smoke test (issue 5, "Fuzzing"): builds every libFuzzer target
# of fuzz/ with clang in build-fuzz/ and runs each one over its seeds and
# its regression inputs (every crash found so far), then fuzzes it for a
# few seconds. Fails, never skips, when clang's fuzzer runtime is
# missing. STRATA_FUZZ_SECONDS sets the seconds per target (default 4).
# Exit 0 pass, 1 fail.
srcdir=${STRATA_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# A fixed seed: the gate explores the same inputs on every run, so a
# failure here is a regression, reproducible with the same command; new
# ground is for the long runs (make fuzz-long), which seed at random.
export FUZZ_ARGS="${FUZZ_ARGS:--seed=1}"
# make distcheck builds from a read-only source tree: build beside the
# test instead.
if [ ! -w "$srcdir" ]; then
    export STRATA_FUZZ_BUILD="${STRATA_FUZZ_BUILD:-$PWD/build-fuzz}"
fi
if "$srcdir/fuzz/run.sh" --seconds "${STRATA_FUZZ_SECONDS:-4}"; then
    exit 0
fi
echo "test_fuzz_smoke: FAIL (see above; inputs in build-fuzz/fuzz/artifacts/)" >&2
exit 1
