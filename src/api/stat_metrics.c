/*
 * Store and engine figures as Prometheus families (see stat_metrics.h).
 *
 * The engines report flat (name, number) pairs through engine_stat_fn;
 * this file is the one place that knows what each number means to a
 * monitoring system: a counter (only grows until a restart, so rate()
 * works on it) or a gauge (a level that goes up and down), its unit, and
 * which figures are one family with a label. Names follow Prometheus'
 * conventions: base units (bytes, seconds), _total on counters.
 */
#include "api/stat_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/prom_text.h"

enum {
    MAX_FIGURES = STAT_METRICS_MAX_FIGURES,
    MAX_DIGITS = 19, /* a '#' matches at most this many (< 2^64) */
    MAX_NAME = 96,   /* an unknown figure's name, past which it is cut */
    MAX_BUCKETS = 32,
};

struct family {
    const char *metric;
    enum prom_type type;
    /* Counters and gauges: the figure feeding the family, and another
     * engine's spelling of the same idea (stat2). A '#' in a name stands
     * for a decimal number, which becomes the value of 'label'.
     * Histograms: the cumulative buckets ("x_le_#", the number is the
     * bound), the count (stat2) and the sum (stat3). */
    const char *stat, *stat2, *stat3;
    const char *label;
    /* The figure counts 10^-decimals of the metric's unit
     * (write_amplification_x100 is hundredths). */
    unsigned decimals;
    const char *help;
};

/* In the order of the page. docs/metrics.md has the same list. */
static const struct family families[] = {
    /* The store: every engine. */
    {.metric = "strata_gets_total",
     .type = PROM_COUNTER,
     .stat = "gets",
     .help = "GETs the store ran (hits and misses)."},
    {.metric = "strata_get_misses_total",
     .type = PROM_COUNTER,
     .stat = "get_misses",
     .help = "GETs of a key that did not exist."},
    {.metric = "strata_sets_total",
     .type = PROM_COUNTER,
     .stat = "sets",
     .help = "SETs the store ran."},
    {.metric = "strata_deletes_total",
     .type = PROM_COUNTER,
     .stat = "deletes",
     .help = "DELETEs the store ran (of existing keys or not)."},
    {.metric = "strata_scans_total",
     .type = PROM_COUNTER,
     .stat = "scans",
     .help = "Range scans the store ran."},
    {.metric = "strata_storage_errors_total",
     .type = PROM_COUNTER,
     .stat = "errors",
     .help =
         "Store calls that failed with a storage error (I/O, corruption, out "
         "of memory, engine read-only)."},
    {.metric = "strata_fsyncs_total",
     .type = PROM_COUNTER,
     .stat = "fsyncs",
     .help = "fsync and fdatasync system calls the worker made, on files and "
             "directories."},

    /* Every engine, where it applies. */
    {.metric = "strata_keys",
     .type = PROM_GAUGE,
     .stat = "keys",
     .help = "Live keys (memory and file engines)."},
    {.metric = "strata_live_data_bytes",
     .type = PROM_GAUGE,
     .stat = "live_data_bytes",
     .help = "Bytes of live records (memory: keys and values)."},
    {.metric = "strata_disk_bytes",
     .type = PROM_GAUGE,
     .stat = "disk_bytes",
     .help = "Bytes the engine's files take on disk."},
    {.metric = "strata_read_only",
     .type = PROM_GAUGE,
     .stat = "read_only",
     .stat2 = "readonly",
     .help =
         "1 once the engine refuses writes after a storage error (until the "
         "worker restarts)."},
    {.metric = "strata_group_commit_batch_size",
     .type = PROM_HISTOGRAM,
     .stat = "write_batches_le_#",
     .stat2 = "write_batches",
     .stat3 = "batched_writes",
     .help =
         "Writes per group-commit batch: each batch is one write and, under "
         "--sync always, one fsync."},
    {.metric = "strata_interval_syncs_total",
     .type = PROM_COUNTER,
     .stat = "interval_syncs",
     .help = "Syncs of the --sync interval background thread."},

    /* file engine (Bitcask). */
    {.metric = "strata_file_segments",
     .type = PROM_GAUGE,
     .stat = "segments",
     .help = "Log segments on disk."},
    {.metric = "strata_file_dead_bytes",
     .type = PROM_GAUGE,
     .stat = "dead_bytes",
     .help =
         "Bytes of overwritten or deleted records that a merge would reclaim."},
    {.metric = "strata_file_merges_total",
     .type = PROM_COUNTER,
     .stat = "merges",
     .help = "Merges of closed segments."},
    {.metric = "strata_file_replayed_records",
     .type = PROM_GAUGE,
     .stat = "replayed_records",
     .help = "Log records replayed at start-up."},
    {.metric = "strata_file_hint_files_used",
     .type = PROM_GAUGE,
     .stat = "hint_files_used",
     .help = "Hint files read at start-up instead of replaying their segment."},

    /* lsm engine. */
    {.metric = "strata_lsm_level_tables",
     .type = PROM_GAUGE,
     .stat = "level#_tables",
     .label = "level",
     .help = "SSTables per level."},
    {.metric = "strata_lsm_level_bytes",
     .type = PROM_GAUGE,
     .stat = "level#_bytes",
     .label = "level",
     .help = "Bytes of SSTables per level."},
    {.metric = "strata_lsm_tables",
     .type = PROM_GAUGE,
     .stat = "tables",
     .help = "SSTables in all levels."},
    {.metric = "strata_lsm_table_bytes",
     .type = PROM_GAUGE,
     .stat = "table_bytes",
     .help = "Bytes of SSTables in all levels."},
    {.metric = "strata_lsm_entries",
     .type = PROM_GAUGE,
     .stat = "entries",
     .help = "Entries in the memtables and tables (overwritten versions and "
             "tombstones included)."},
    {.metric = "strata_lsm_memtable_bytes",
     .type = PROM_GAUGE,
     .stat = "memtable_bytes",
     .help = "Bytes in the active memtable."},
    {.metric = "strata_lsm_immutable_memtables",
     .type = PROM_GAUGE,
     .stat = "immutable_memtables",
     .help = "Full memtables waiting for their flush (0 or 1)."},
    {.metric = "strata_lsm_wal_bytes",
     .type = PROM_GAUGE,
     .stat = "wal_bytes",
     .help = "Bytes of the write-ahead log."},
    {.metric = "strata_lsm_last_sequence",
     .type = PROM_GAUGE,
     .stat = "last_seq",
     .help = "Sequence number of the newest write."},
    {.metric = "strata_lsm_flushes_total",
     .type = PROM_COUNTER,
     .stat = "flushes",
     .help = "Memtables flushed to level 0."},
    {.metric = "strata_lsm_compactions_total",
     .type = PROM_COUNTER,
     .stat = "compactions",
     .help = "Compactions run."},
    {.metric = "strata_lsm_flush_bytes_total",
     .type = PROM_COUNTER,
     .stat = "flush_bytes_written",
     .help = "Bytes of SSTables written by flushes."},
    {.metric = "strata_lsm_compaction_bytes_total",
     .type = PROM_COUNTER,
     .stat = "compaction_bytes_written",
     .help = "Bytes of SSTables written by compactions."},
    {.metric = "strata_lsm_user_bytes_total",
     .type = PROM_COUNTER,
     .stat = "user_bytes_written",
     .help = "Bytes of keys and values users wrote."},
    {.metric = "strata_lsm_write_amplification",
     .type = PROM_GAUGE,
     .stat = "write_amplification_x100",
     .decimals = 2,
     .help =
         "Table bytes written (flushes and compactions) per byte users wrote, "
         "since start-up."},
    {.metric = "strata_lsm_bloom_negatives_total",
     .type = PROM_COUNTER,
     .stat = "bloom_negatives",
     .help = "Table reads a bloom filter saved."},
    {.metric = "strata_lsm_block_cache_hits_total",
     .type = PROM_COUNTER,
     .stat = "block_cache_hits",
     .help = "Block reads served by the block cache."},
    {.metric = "strata_lsm_block_cache_misses_total",
     .type = PROM_COUNTER,
     .stat = "block_cache_misses",
     .help = "Block reads that went to the disk."},
    {.metric = "strata_lsm_block_cache_bytes",
     .type = PROM_GAUGE,
     .stat = "block_cache_bytes",
     .help = "Bytes held by the block cache."},
    {.metric = "strata_lsm_write_stalls_total",
     .type = PROM_COUNTER,
     .stat = "write_stalls",
     .help = "Writes slowed or stopped by too many level-0 tables."},
};

struct page {
    struct st_buf *out;
    const struct stat_figure *figures;
    size_t count;
    bool used[MAX_FIGURES]; /* written, or a duplicate name */
};

/* Whether 'name' matches 'pattern', in which one '#' stands for 1 to
 * MAX_DIGITS decimal digits, copied NUL-terminated into 'digits'
 * (empty when the pattern has no '#'). */
static bool
match(const char *pattern, const char *name, char digits[MAX_DIGITS + 1])
{
    digits[0] = '\0';
    const char *hash = strchr(pattern, '#');
    if (hash == NULL)
        return strcmp(pattern, name) == 0;
    size_t head = (size_t)(hash - pattern);
    if (strncmp(pattern, name, head) != 0)
        return false;
    size_t n = strspn(name + head, "0123456789");
    if (n == 0 || n > MAX_DIGITS)
        return false;
    if (strcmp(hash + 1, name + head + n) != 0)
        return false;
    memcpy(digits, name + head, n);
    digits[n] = '\0';
    return true;
}

/* The first figure at or after 'from' that matches and is not used, or
 * -1. */
static long
find(const struct page *pg, size_t from, const char *pattern,
     char digits[MAX_DIGITS + 1])
{
    if (pattern == NULL)
        return -1;
    for (size_t i = from; i < pg->count; i++)
        if (!pg->used[i] && match(pattern, pg->figures[i].name, digits))
            return (long)i;
    return -1;
}

static bool
write_scalar(struct page *pg, const struct family *f)
{
    char digits[MAX_DIGITS + 1];
    bool header = false, ok = true;
    const char *const spellings[] = {f->stat, f->stat2};
    for (size_t s = 0; ok && s < 2 && spellings[s] != NULL; s++) {
        for (long i = find(pg, 0, spellings[s], digits); ok && i >= 0;
             i = find(pg, (size_t)i + 1, spellings[s], digits)) {
            struct prom_label label = {f->label, digits};
            bool labelled = f->label != NULL && digits[0] != '\0';
            pg->used[i] = true;
            /* Two engines' spellings of one unlabelled figure would be
             * one series twice; there is one engine, but keep the first. */
            if (header && !labelled)
                continue;
            if (!header)
                ok = prom_write_family(pg->out, f->metric, f->type, f->help);
            header = true;
            ok = ok &&
                 prom_write_sample(
                     pg->out, f->metric, &label, labelled,
                     (struct prom_number){pg->figures[i].value, f->decimals});
        }
    }
    return ok;
}

struct bucket {
    uint64_t bound, cumulative;
};

static int
compare_buckets(const void *a, const void *b)
{
    uint64_t x = ((const struct bucket *)a)->bound;
    uint64_t y = ((const struct bucket *)b)->bound;
    return (x > y) - (x < y);
}

/* A histogram needs its count; without it the family is left out (and
 * its buckets, then unused, appear as unknown gauges). */
static bool
write_histogram(struct page *pg, const struct family *f)
{
    char digits[MAX_DIGITS + 1];
    long count = find(pg, 0, f->stat2, digits);
    if (count < 0)
        return true;
    long sum = find(pg, 0, f->stat3, digits);
    struct bucket b[MAX_BUCKETS];
    size_t n = 0;
    for (long i = find(pg, 0, f->stat, digits); i >= 0 && n < MAX_BUCKETS;
         i = find(pg, (size_t)i + 1, f->stat, digits)) {
        b[n++] =
            (struct bucket){strtoull(digits, NULL, 10), pg->figures[i].value};
        pg->used[i] = true;
    }
    qsort(b, n, sizeof b[0], compare_buckets);
    uint64_t bounds[MAX_BUCKETS], cumulative[MAX_BUCKETS];
    for (size_t i = 0; i < n; i++) {
        bounds[i] = b[i].bound;
        cumulative[i] = b[i].cumulative;
    }
    struct prom_histogram h = {
        .bound_count = n,
        .bounds = bounds,
        .cumulative = cumulative,
        .count = pg->figures[count].value,
        .sum = sum >= 0 ? pg->figures[sum].value : 0,
        .decimals = f->decimals,
    };
    pg->used[count] = true;
    if (sum >= 0)
        pg->used[sum] = true;
    return prom_write_family(pg->out, f->metric, f->type, f->help) &&
           prom_write_histogram(pg->out, f->metric, NULL, 0, &h);
}

/* strata_engine_<name>, with any byte a metric name cannot hold as '_'. */
static bool
write_unknown(struct page *pg, size_t i)
{
    static const char prefix[] = "strata_engine_";
    char metric[sizeof prefix + MAX_NAME];
    const char *name = pg->figures[i].name;
    size_t n = strlen(name);
    n = n < MAX_NAME ? n : MAX_NAME;
    memcpy(metric, prefix, sizeof prefix - 1);
    for (size_t k = 0; k < n; k++) {
        char c = name[k];
        bool valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || c == '_';
        metric[sizeof prefix - 1 + k] = valid ? c : '_';
    }
    metric[sizeof prefix - 1 + n] = '\0';
    char help[sizeof metric + 64];
    snprintf(help, sizeof help,
             "The engine's figure '%s' (not described yet; see /stats).",
             metric + sizeof prefix - 1);
    pg->used[i] = true;
    return prom_write_family(pg->out, metric, PROM_GAUGE, help) &&
           prom_write_sample(pg->out, metric, NULL, 0,
                             prom_int(pg->figures[i].value));
}

/* A name reported twice would make two samples of one series, which a
 * Prometheus server rejects: keep the first. */
static void
mark_duplicates(struct page *pg)
{
    for (size_t i = 1; i < pg->count; i++)
        for (size_t j = 0; j < i && !pg->used[i]; j++)
            if (strcmp(pg->figures[i].name, pg->figures[j].name) == 0)
                pg->used[i] = true;
}

bool
stat_metrics_write(struct st_buf *out, const struct stat_figure *figures,
                   size_t count)
{
    struct page pg = {
        out, figures, count < MAX_FIGURES ? count : MAX_FIGURES, {false}};
    mark_duplicates(&pg);
    bool ok = true;
    for (size_t f = 0; ok && f < sizeof families / sizeof families[0]; f++)
        ok = families[f].type == PROM_HISTOGRAM
                 ? write_histogram(&pg, &families[f])
                 : write_scalar(&pg, &families[f]);
    for (size_t i = 0; ok && i < pg.count; i++)
        if (!pg.used[i])
            ok = write_unknown(&pg, i);
    return ok;
}
