# strata-bench figures as a PNG: ops/s per workload (log scale), one bar
# per engine, strata's engines beside the LevelDB and LMDB anchors.
# Driven by bench/plot.sh, which turns strata-bench's TSV into a matrix:
#   gnuplot -e "datafile='m.dat'; outfile='docs/bench.png'; subtitle='...'" bench/plot.gp
# datafile: a header line "workload engine1 engine2 ...", then one line
# per workload with ops/s per engine, "-" where not measured.
if (!exists("datafile")) datafile = "bench-matrix.dat"
if (!exists("outfile")) outfile = "bench.png"
if (!exists("subtitle")) subtitle = ""

set terminal pngcairo size 1100,560 font "sans,10"
set output outfile
set title "strata-bench: operations per second (higher is better)\n".subtitle
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set format y "%.0s%c"
set ylabel "ops/s (log scale)"
set grid ytics
set key outside right top
set xtics rotate by -30 nomirror
columns = system("head -1 '".datafile."' | wc -w") + 0
plot for [c=2:columns] datafile using c:xtic(1) title columnheader(c)
