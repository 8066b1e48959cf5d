#!/bin/sh
# usage: bench/plot.sh RESULTS.tsv OUT.png [SUBTITLE]
# Plots the output of `strata-bench --format tsv` (engines x workloads,
# ops/s) with bench/plot.gp; needs gnuplot (Debian: gnuplot-nox).
set -eu
[ $# -ge 2 ] || { echo "usage: bench/plot.sh RESULTS.tsv OUT.png [SUBTITLE]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
matrix=$(mktemp)
trap 'rm -f "$matrix"' EXIT
# Pivot "engine workload ops ..." lines into one row per workload, one
# column per engine, both in order of first appearance.
awk -F '\t' '
    !($1 in seen_e) { seen_e[$1] = 1; engines[ne++] = $1 }
    !($2 in seen_w) { seen_w[$2] = 1; workloads[nw++] = $2 }
    { ops[$2, $1] = $3 }
    END {
        line = "workload"
        for (e = 0; e < ne; e++) line = line " " engines[e]
        print line
        for (w = 0; w < nw; w++) {
            line = workloads[w]
            for (e = 0; e < ne; e++) {
                v = ops[workloads[w], engines[e]]
                line = line " " (v == "" ? "-" : v)
            }
            print line
        }
    }' "$1" >"$matrix"
gnuplot -e "datafile='$matrix'; outfile='$2'; subtitle='${3:-}'" "$here/plot.gp"
