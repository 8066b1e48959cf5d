/*
 * Tests for api/stat_metrics.c: store and engine figures become typed
 * Prometheus families (counters with _total), numbered figures become one
 * labelled family, the group-commit figures a histogram, and figures the
 * table does not know still appear, as gauges. Checked on hand-made
 * figures and on what each real engine reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/stat_metrics.h"
#include "store.h"
#include "testutil.h"
#include "util/slice.h"

static char *
page_of(const struct stat_figure *f, size_t count)
{
    struct st_buf b = {0};
    assert_true(stat_metrics_write(&b, f, count));
    assert_true(st_buf_reserve(&b, 1));
    b.ptr[b.len] = '\0';
    return (char *)b.ptr; /* the caller frees */
}

/* How many lines of 'page' are exactly 'line'. */
static int
lines_equal(const char *page, const char *line)
{
    int n = 0;
    size_t len = strlen(line);
    for (const char *p = page; *p;) {
        const char *end = strchr(p, '\n');
        assert_non_null(end);
        if ((size_t)(end - p) == len && strncmp(p, line, len) == 0)
            n++;
        p = end + 1;
    }
    return n;
}

static void
assert_line(const char *page, const char *line)
{
    int n = lines_equal(page, line);
    if (n != 1)
        fail_msg("line \"%s\" appears %d times in:\n%s", line, n, page);
}

static void
test_stat_metrics_known_figures_are_typed(void **state)
{
    const struct stat_figure f[] = {
        {"gets", 5},    {"keys", 3},          {"fsyncs", 9},
        {"flushes", 2}, {"disk_bytes", 4096},
    };
    char *page = page_of(f, sizeof f / sizeof f[0]);
    assert_line(page, "# TYPE strata_gets_total counter");
    assert_line(page, "strata_gets_total 5");
    assert_line(page, "# TYPE strata_keys gauge");
    assert_line(page, "strata_keys 3");
    assert_line(page, "# TYPE strata_fsyncs_total counter");
    assert_line(page, "strata_fsyncs_total 9");
    assert_line(page, "# TYPE strata_lsm_flushes_total counter");
    assert_line(page, "strata_lsm_flushes_total 2");
    assert_line(page, "strata_disk_bytes 4096");
    /* Families without figures are left out, header and all. */
    assert_null(strstr(page, "strata_lsm_level_tables"));
    assert_null(strstr(page, "strata_group_commit"));
    free(page);
}

static void
test_stat_metrics_numbered_figures_become_labels(void **state)
{
    const struct stat_figure f[] = {
        {"level0_tables", 3},  {"level0_bytes", 300}, {"level1_tables", 1},
        {"level1_bytes", 100}, {"level12_tables", 0},
    };
    char *page = page_of(f, sizeof f / sizeof f[0]);
    assert_line(page, "# TYPE strata_lsm_level_tables gauge");
    assert_line(page, "strata_lsm_level_tables{level=\"0\"} 3");
    assert_line(page, "strata_lsm_level_tables{level=\"1\"} 1");
    assert_line(page, "strata_lsm_level_tables{level=\"12\"} 0");
    assert_line(page, "strata_lsm_level_bytes{level=\"0\"} 300");
    assert_line(page, "strata_lsm_level_bytes{level=\"1\"} 100");
    /* One family: its samples follow one header. */
    const char *head = strstr(page, "# TYPE strata_lsm_level_tables gauge\n");
    const char *next = strstr(page, "# HELP strata_lsm_level_bytes");
    assert_non_null(head);
    assert_non_null(next);
    assert_true(head < strstr(page, "strata_lsm_level_tables{level=\"12\"}"));
    assert_true(strstr(page, "strata_lsm_level_tables{level=\"12\"}") < next);
    free(page);
}

static void
test_stat_metrics_scaled_figure(void **state)
{
    const struct stat_figure f[] = {{"write_amplification_x100", 250}};
    char *page = page_of(f, 1);
    assert_line(page, "# TYPE strata_lsm_write_amplification gauge");
    assert_line(page, "strata_lsm_write_amplification 2.5");
    free(page);
}

static void
test_stat_metrics_unknown_figures_are_gauges(void **state)
{
    const struct stat_figure f[] = {
        {"shiny_new_figure", 7}, {"gets", 1}, {"odd-name.x", 2}};
    char *page = page_of(f, sizeof f / sizeof f[0]);
    assert_line(page, "# TYPE strata_engine_shiny_new_figure gauge");
    assert_line(page, "strata_engine_shiny_new_figure 7");
    assert_line(page, "# TYPE strata_engine_odd_name_x gauge");
    assert_line(page, "strata_engine_odd_name_x 2");
    assert_line(page, "strata_gets_total 1");
    free(page);
}

static void
test_stat_metrics_group_commit_histogram(void **state)
{
    /* Out of order on purpose: the buckets are sorted by their bound. */
    const struct stat_figure f[] = {
        {"write_batches", 10},     {"write_batches_le_4", 9},
        {"write_batches_le_1", 6}, {"write_batches_le_2", 8},
        {"batched_writes", 30},    {"write_batches_le_128", 10},
    };
    char *page = page_of(f, sizeof f / sizeof f[0]);
    assert_line(page, "# TYPE strata_group_commit_batch_size histogram");
    assert_line(page, "strata_group_commit_batch_size_bucket{le=\"1\"} 6");
    assert_line(page, "strata_group_commit_batch_size_bucket{le=\"2\"} 8");
    assert_line(page, "strata_group_commit_batch_size_bucket{le=\"4\"} 9");
    assert_line(page, "strata_group_commit_batch_size_bucket{le=\"128\"} 10");
    assert_line(page, "strata_group_commit_batch_size_bucket{le=\"+Inf\"} 10");
    assert_line(page, "strata_group_commit_batch_size_sum 30");
    assert_line(page, "strata_group_commit_batch_size_count 10");
    const char *b1 = strstr(page, "{le=\"1\"}"),
               *b2 = strstr(page, "{le=\"2\"}"),
               *b4 = strstr(page, "{le=\"4\"}");
    assert_true(b1 < b2 && b2 < b4);
    /* Used by the histogram: not repeated as unknown gauges. */
    assert_null(strstr(page, "strata_engine_"));
    free(page);
}

static void
test_stat_metrics_histogram_needs_its_count(void **state)
{
    const struct stat_figure f[] = {{"write_batches_le_1", 6}};
    char *page = page_of(f, 1);
    assert_null(strstr(page, "strata_group_commit_batch_size"));
    assert_line(page, "strata_engine_write_batches_le_1 6");
    free(page);
}

static void
test_stat_metrics_one_series_per_name(void **state)
{
    const struct stat_figure f[] = {{"gets", 1},     {"gets", 2},
                                    {"readonly", 0}, {"read_only", 1},
                                    {"mystery", 3},  {"mystery", 4}};
    char *page = page_of(f, sizeof f / sizeof f[0]);
    assert_line(page, "strata_gets_total 1");
    assert_int_equal(lines_equal(page, "strata_gets_total 2"), 0);
    assert_line(page, "# TYPE strata_read_only gauge");
    assert_int_equal(lines_equal(page, "strata_read_only 0") +
                         lines_equal(page, "strata_read_only 1"),
                     1);
    assert_line(page, "strata_engine_mystery 3");
    assert_int_equal(lines_equal(page, "strata_engine_mystery 4"), 0);
    free(page);
}

/* --- what the real engines report --- */

struct collected {
    struct stat_figure f[STAT_METRICS_MAX_FIGURES];
    size_t count;
};

static void
collect(void *arg, const char *name, uint64_t value)
{
    struct collected *c = arg;
    assert_true(c->count < STAT_METRICS_MAX_FIGURES);
    c->f[c->count++] = (struct stat_figure){name, value};
}

/* Every family has one HELP and one TYPE line, just before its samples,
 * and every sample line belongs to the family above it. */
static void
assert_well_formed(const char *page)
{
    char family[128] = "";
    for (const char *p = page; *p;) {
        const char *end = strchr(p, '\n');
        assert_non_null(end);
        char line[512];
        size_t len = (size_t)(end - p);
        assert_true(len < sizeof line);
        memcpy(line, p, len);
        line[len] = '\0';
        if (strncmp(line, "# HELP ", 7) == 0) {
            assert_true(sscanf(line + 7, "%127s", family) == 1);
            char type_line[160];
            snprintf(type_line, sizeof type_line, "# TYPE %s ", family);
            assert_int_equal(strncmp(end + 1, type_line, strlen(type_line)), 0);
            char help_line[160];
            snprintf(help_line, sizeof help_line, "# HELP %s ", family);
            assert_ptr_equal(strstr(page, help_line), p); /* only once */
        } else if (strncmp(line, "# TYPE ", 7) != 0) {
            if (strncmp(line, family, strlen(family)) != 0)
                fail_msg("sample \"%s\" outside its family %s", line, family);
        }
        p = end + 1;
    }
}

static void
check_engine_page(const char *engine, const char *const *want_lines)
{
    char *dir = tu_tmpdir_create();
    struct engine_options opt;
    struct store_limits lim;
    engine_options_default(&opt);
    opt.sync = ENGINE_SYNC_NONE;
    store_limits_default(&lim);
    struct store *st = NULL;
    struct st_error err = {0};
    if (store_open(engine, dir, &opt, &lim, &st, &err) != ST_OK)
        fail_msg("store_open %s: %s", engine, err.msg);
    assert_int_equal(
        store_set(st, st_slice_from_cstr("k"), st_slice_from_cstr("v"), NULL),
        ST_OK);
    struct collected *c = calloc(1, sizeof *c);
    assert_non_null(c);
    store_stats(st, collect, c);
    char *page = page_of(c->f, c->count);
    assert_well_formed(page);
    for (size_t i = 0; want_lines[i] != NULL; i++)
        assert_line(page, want_lines[i]);
    free(page);
    free(c);
    assert_int_equal(store_close(st, NULL), ST_OK);
    tu_tmpdir_remove(dir);
}

static void
test_stat_metrics_memory_engine_page(void **state)
{
    static const char *const want[] = {"strata_sets_total 1", "strata_keys 1",
                                       "# TYPE strata_fsyncs_total counter",
                                       NULL};
    check_engine_page("memory", want);
}

static void
test_stat_metrics_file_engine_page(void **state)
{
    static const char *const want[] = {
        "strata_sets_total 1",
        "strata_keys 1",
        "# TYPE strata_file_merges_total counter",
        "# TYPE strata_file_dead_bytes gauge",
        "strata_group_commit_batch_size_count 1",
        "strata_group_commit_batch_size_sum 1",
        "strata_group_commit_batch_size_bucket{le=\"1\"} 1",
        "strata_read_only 0",
        NULL};
    check_engine_page("file", want);
}

static void
test_stat_metrics_lsm_engine_page(void **state)
{
    static const char *const want[] = {
        "strata_sets_total 1",
        "strata_lsm_level_tables{level=\"0\"} 0",
        "strata_lsm_level_tables{level=\"6\"} 0",
        "# TYPE strata_lsm_compactions_total counter",
        "# TYPE strata_lsm_bloom_negatives_total counter",
        "# TYPE strata_lsm_block_cache_hits_total counter",
        "# TYPE strata_lsm_write_amplification gauge",
        "strata_group_commit_batch_size_count 1",
        "strata_read_only 0",
        NULL};
    check_engine_page("lsm", want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stat_metrics_known_figures_are_typed),
        cmocka_unit_test(test_stat_metrics_numbered_figures_become_labels),
        cmocka_unit_test(test_stat_metrics_scaled_figure),
        cmocka_unit_test(test_stat_metrics_unknown_figures_are_gauges),
        cmocka_unit_test(test_stat_metrics_group_commit_histogram),
        cmocka_unit_test(test_stat_metrics_histogram_needs_its_count),
        cmocka_unit_test(test_stat_metrics_one_series_per_name),
        cmocka_unit_test(test_stat_metrics_memory_engine_page),
        cmocka_unit_test(test_stat_metrics_file_engine_page),
        cmocka_unit_test(test_stat_metrics_lsm_engine_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
