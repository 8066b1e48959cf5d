/*
 * Bitcask merge (docs/file-format.md, "Merge"): compaction brings the
 * disk back near the live data, hint files are used at open (and a
 * damaged one is not trusted), and a merge stopped at any rename, unlink
 * or fsync loses nothing and resurrects nothing after a reopen.
 */
#include <errno.h>
#include <time.h>

#include "file_fixture.h"

enum { KEYS = 200, OVERWRITES = 10 };

/* Overwrites KEYS keys OVERWRITES times and deletes every fifth; the
 * answer for key i is expect(i). */
static void
fill(struct fx *fx)
{
    char k[16], v[64];
    for (int r = 0; r < OVERWRITES; r++)
        for (int i = 0; i < KEYS; i++) {
            snprintf(k, sizeof k, "key-%d", i);
            snprintf(v, sizeof v, "value-%d-round-%d-xxxxxxxxxxxxxxxx", i, r);
            assert_int_equal(fx_set(fx, k, v), ST_OK);
        }
    for (int i = 0; i < KEYS; i += 5) {
        snprintf(k, sizeof k, "key-%d", i);
        assert_int_equal(fx_del(fx, k), ST_OK);
    }
}

static void
check(struct fx *fx)
{
    char k[16], v[64];
    for (int i = 0; i < KEYS; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        snprintf(v, sizeof v, "value-%d-round-%d-xxxxxxxxxxxxxxxx", i,
                 OVERWRITES - 1);
        if (i % 5 == 0)
            assert_int_equal(fx_get(fx, k), ST_NOT_FOUND);
        else
            fx_assert_value(fx, k, v);
    }
    assert_int_equal(fx_stat(fx, "keys"), KEYS - KEYS / 5);
}

static void
test_file_compact_brings_disk_near_live_data(void **state)
{
    struct fx *fx = *state;
    fx->opt.segment_bytes = 4096;
    assert_int_equal(fx_open(fx), ST_OK);
    fill(fx);
    uint64_t before = fx_stat(fx, "disk_bytes");
    assert_int_equal(fx->e->ops->compact(fx->e, NULL), ST_OK);
    uint64_t live = fx_stat(fx, "live_data_bytes");
    uint64_t after = fx_stat(fx, "disk_bytes");
    /* 160 records of ~63 bytes live; headers and hints on top. */
    assert_true(live >= 160 * 60 && live <= 160 * 70);
    assert_true(after < before / 5);
    assert_true(after < live * 2);
    assert_int_equal(fx_stat(fx, "dead_bytes"), 0);
    assert_int_equal(fx_stat(fx, "merges"), 1);
    check(fx);
    fx_reopen(fx);
    check(fx);
    assert_int_equal(fx_stat(fx, "disk_bytes"), after);
    /* Merging again finds nothing to drop and keeps everything. */
    assert_int_equal(fx->e->ops->compact(fx->e, NULL), ST_OK);
    fx_reopen(fx);
    check(fx);
}

static void
test_file_background_merge_runs_past_threshold(void **state)
{
    struct fx *fx = *state;
    fx->opt.segment_bytes = 4096;
    fx->opt.background = true;
    fx->opt.merge_dead_pct = 50;
    fx->opt.merge_min_dead_bytes = 1;
    assert_int_equal(fx_open(fx), ST_OK);
    fill(fx);
    for (int i = 0; i < 100 && fx_stat(fx, "merges") == 0; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(fx_stat(fx, "merges") >= 1);
    check(fx);
    fx_reopen(fx);
    check(fx);
}

static void
test_file_hint_files_are_used_on_open(void **state)
{
    struct fx *fx = *state;
    fx->opt.segment_bytes = 4096;
    assert_int_equal(fx_open(fx), ST_OK);
    fill(fx);
    assert_int_equal(fx->e->ops->compact(fx->e, NULL), ST_OK);
    uint64_t segs = fx_stat(fx, "segments");
    assert_true(segs >= 3); /* outputs plus the active segment */
    fx_reopen(fx);
    assert_int_equal(fx_stat(fx, "hint_files_used"), segs - 1);
    check(fx);
}

static void
test_file_damaged_hint_falls_back_to_segment(void **state)
{
    struct fx *fx = *state;
    fx->opt.segment_bytes = 1 << 20; /* one output */
    assert_int_equal(fx_open(fx), ST_OK);
    fill(fx);
    assert_int_equal(fx->e->ops->compact(fx->e, NULL), ST_OK);
    fx_close(fx);
    /* The output took the first reserved id, 2; the active is above. */
    assert_true(fx_exists(fx, 2, ".hint"));
    char *path = fx_file(fx, 2, ".hint");
    size_t len;
    uint8_t *bytes = tu_read_file(path, &len);
    bytes[len / 2] ^= 0x40;
    tu_write_file(path, bytes, len);
    assert_int_equal(fx_open(fx), ST_OK);
    assert_int_equal(fx_stat(fx, "hint_files_used"), 0);
    check(fx);
    fx_close(fx);
    /* A cut hint, too. */
    tu_write_file(path, bytes, len - 29);
    assert_int_equal(fx_open(fx), ST_OK);
    assert_int_equal(fx_stat(fx, "hint_files_used"), 0);
    check(fx);
    free(bytes);
    free(path);
}

/* Stops a merge at the n-th call of 'op', reopens, and checks every
 * answer. Returns false once n is past the calls a merge makes. */
static bool
merge_stopped_at(struct fx *fx, enum io_op op, uint64_t n)
{
    char *dir = tu_tmpdir_create();
    char *old = fx->dir;
    fx->dir = dir;
    assert_int_equal(fx_open(fx), ST_OK);
    fill(fx);
    uint64_t calls = io_op_count(op);
    io_fault_arm(op, n, EIO, 0);
    st_status s = fx->e->ops->compact(fx->e, NULL);
    io_fault_reset();
    /* A failed hint write may let the merge finish (the hint is
     * optional); any other failure stops it. Either way the reopen below
     * must give every answer exactly. */
    bool reached = io_op_count(op) - calls >= n;
    assert_true(s == ST_OK || s == ST_IO || s == ST_READONLY);
    /* Writes after the failed merge must also survive, unless it made
     * the engine read-only. */
    st_status w = fx_set(fx, "key-1", "after");
    assert_true(w == ST_OK || w == ST_READONLY);
    fx_reopen(fx);
    if (w == ST_OK)
        fx_assert_value(fx, "key-1", "after");
    assert_int_equal(fx_set(fx, "key-1", "value-1-round-9-xxxxxxxxxxxxxxxx"),
                     ST_OK);
    check(fx);
    /* A later merge cleans up and still resurrects nothing. */
    assert_int_equal(fx->e->ops->compact(fx->e, NULL), ST_OK);
    fx_reopen(fx);
    check(fx);
    fx_close(fx);
    tu_tmpdir_remove(dir);
    fx->dir = old;
    return reached;
}

static void
test_file_merge_stopped_at_any_step_loses_and_resurrects_nothing(void **state)
{
    struct fx *fx = *state;
    fx->opt.segment_bytes = 2048;
    const enum io_op ops[] = {IO_OP_RENAME, IO_OP_UNLINK, IO_OP_FSYNC,
                              IO_OP_WRITE, IO_OP_OPEN};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        uint64_t n = 1;
        while (merge_stopped_at(fx, ops[i], n))
            n += 1 + n / 8; /* every early step, then a sample */
        assert_true(n > 2);
    }
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_file_compact_brings_disk_near_live_data),
        T(test_file_background_merge_runs_past_threshold),
        T(test_file_hint_files_are_used_on_open),
        T(test_file_damaged_hint_falls_back_to_segment),
        T(test_file_merge_stopped_at_any_step_loses_and_resurrects_nothing),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
