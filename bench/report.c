/*
 * Rows of strata-bench's output (report.h). Throughput is the mean over
 * the whole loop; the percentiles come from the per-operation histogram,
 * because a mean hides the stalls (a compaction, an fsync) that the tail
 * shows.
 */
#include "report.h"

static double
mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static bool
measured(const struct workload_result *res)
{
    return !res->skipped && res->ops > 0 && res->elapsed_ns > 0;
}

static double
ops_per_sec(const struct workload_result *res)
{
    return (double)res->ops * 1e9 / (double)res->elapsed_ns;
}

static double
micros_per_op(const struct workload_result *res)
{
    return (double)res->elapsed_ns / 1e3 / (double)res->ops;
}

void
report_table_columns(FILE *out)
{
    fprintf(out, "%-8s %-15s %10s %9s %9s %9s %9s %10s %10s %9s  %s\n",
            "engine", "workload", "ops/s", "us/op", "p50 us", "p99 us",
            "p99.9 us", "disk MiB", "live MiB", "reopen ms", "note");
}

void
report_table_row(FILE *out, const struct report_row *r)
{
    const struct workload_result *res = r->res;
    const struct histogram *h = &res->hist;
    fprintf(out, "%-8s %-15s ", r->engine, r->workload);
    if (measured(res))
        fprintf(out, "%10.0f %9.3f %9.2f %9.2f %9.2f ", ops_per_sec(res),
                micros_per_op(res), (double)histogram_percentile(h, 50) / 1e3,
                (double)histogram_percentile(h, 99) / 1e3,
                (double)histogram_percentile(h, 99.9) / 1e3);
    else
        fprintf(out, "%10s %9s %9s %9s %9s ", "-", "-", "-", "-", "-");
    if (r->disk_bytes == REPORT_NOT_MEASURED)
        fprintf(out, "%10s ", "-");
    else
        fprintf(out, "%10.1f ", mib(r->disk_bytes));
    fprintf(out, "%10.1f ", mib(r->live_bytes));
    if (r->reopen_ns == REPORT_NOT_MEASURED)
        fprintf(out, "%9s ", "-");
    else
        fprintf(out, "%9.1f ", (double)r->reopen_ns / 1e6);
    fprintf(out, " %s\n", r->note ? r->note : "");
}

void
report_tsv_row(FILE *out, const struct report_row *r)
{
    const struct workload_result *res = r->res;
    fprintf(out, "%s\t%s\t", r->engine, r->workload);
    if (measured(res))
        fprintf(out, "%.0f\t%.3f\t", ops_per_sec(res), micros_per_op(res));
    else
        fprintf(out, "-\t-\t");
    if (r->disk_bytes == REPORT_NOT_MEASURED || res->skipped)
        fprintf(out, "-\n");
    else
        fprintf(out, "%llu\n", (unsigned long long)r->disk_bytes);
}
