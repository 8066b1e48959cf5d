#!/bin/sh
# usage: bench/have_anchors.sh STRATA_BENCH [--explain]
# Exit 0 when that strata-bench was built with both anchors (leveldb and
# lmdb), 1 otherwise; --explain says which one is missing.
bench=$1
list=$("$bench" --list 2>/dev/null) || list=
status=0
for anchor in leveldb lmdb; do
    if ! printf '%s\n' "$list" | grep -q "^$anchor	"; then
        [ "${2:-}" = --explain ] &&
            echo "bench-anchors: $bench has no $anchor backend (see configure's output)" >&2
        status=1
    fi
done
exit $status
