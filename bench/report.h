/*
 * The output of strata-bench: one row per (engine, workload), as a
 * readable table or as TSV for scripts and plots (bench/plot.sh).
 */
#ifndef STRATA_BENCH_REPORT_H
#define STRATA_BENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "workloads.h"

/* disk_bytes or reopen_ns of a row that was not measured. */
#define REPORT_NOT_MEASURED UINT64_MAX

/* One result. Every pointer borrows and must outlive the print call. */
struct report_row {
    const char *engine;
    const char *workload;
    const struct workload_result *res;
    uint64_t disk_bytes; /* allocated after a clean close, or not measured */
    uint64_t live_bytes; /* live keys x (key + value) bytes */
    uint64_t reopen_ns;  /* time of the open after the close */
    const char *note;    /* or NULL */
};

/* The table's column names, one line. */
void report_table_columns(FILE *out);

void report_table_row(FILE *out, const struct report_row *r);

/* engine<TAB>workload<TAB>ops_per_sec<TAB>micros_per_op<TAB>bytes_on_disk,
 * '-' where nothing was measured (a skipped workload: all three). */
void report_tsv_row(FILE *out, const struct report_row *r);

#endif
