/*
 * The file engine through its vtable: set/get/delete, binary bytes,
 * persistence across close and open, CRC checks on every read, segment
 * rolls, write and fsync failures (docs/file-format.md, "After a failed
 * write or fsync"), and many threads at once with a background merge.
 */
#include <errno.h>
#include <pthread.h>

#include "file_fixture.h"

static void
test_file_set_get_delete_overwrite(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(fx_open(fx), ST_OK);
    assert_int_equal(fx_get(fx, "a"), ST_NOT_FOUND);
    assert_int_equal(fx_set(fx, "a", "1"), ST_OK);
    fx_assert_value(fx, "a", "1");
    assert_int_equal(fx_set(fx, "a", "two"), ST_OK);
    fx_assert_value(fx, "a", "two");
    assert_int_equal(fx_set(fx, "a", ""), ST_OK);
    fx_assert_value(fx, "a", "");
    assert_int_equal(fx_del(fx, "a"), ST_OK);
    assert_int_equal(fx_get(fx, "a"), ST_NOT_FOUND);
    assert_int_equal(fx_del(fx, "a"), ST_NOT_FOUND);
    assert_int_equal(fx_stat(fx, "keys"), 0);
}

static void
test_file_binary_keys_and_values_round_trip(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(fx_open(fx), ST_OK);
    const uint8_t k[] = {0, 'a', 0, 0xff};
    const uint8_t v[] = {0, 0, 'x', 0, 0x80, 0};
    st_slice key = st_slice_make(k, sizeof k);
    st_slice key2 = st_slice_make(k, 2); /* a prefix is another key */
    assert_int_equal(
        fx->e->ops->set(fx->e, key, st_slice_make(v, sizeof v), NULL), ST_OK);
    assert_int_equal(fx->e->ops->set(fx->e, key2, st_slice_make(v, 1), NULL),
                     ST_OK);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(fx->e->ops->get(fx->e, key, &fx->val, NULL), ST_OK);
        assert_int_equal(fx->val.len, sizeof v);
        assert_memory_equal(fx->val.ptr, v, sizeof v);
        assert_int_equal(fx->e->ops->get(fx->e, key2, &fx->val, NULL), ST_OK);
        assert_int_equal(fx->val.len, 1);
        fx_reopen(fx);
    }
}

static void
test_file_data_and_tombstones_survive_reopen(void **state)
{
    struct fx *fx = *state;
    fx->opt.segment_bytes = 256; /* several segments */
    assert_int_equal(fx_open(fx), ST_OK);
    char k[16], v[32];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "key%d", i);
        snprintf(v, sizeof v, "value%d", i);
        assert_int_equal(fx_set(fx, k, v), ST_OK);
    }
    for (int i = 0; i < 100; i += 3) {
        snprintf(k, sizeof k, "key%d", i);
        assert_int_equal(fx_del(fx, k), ST_OK);
    }
    /* Deleted in an older segment, then the put replayed after the
     * tombstone must still lose: replay is by seq, not file order. */
    fx_reopen(fx);
    fx_reopen(fx);
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "key%d", i);
        snprintf(v, sizeof v, "value%d", i);
        if (i % 3 == 0)
            assert_int_equal(fx_get(fx, k), ST_NOT_FOUND);
        else
            fx_assert_value(fx, k, v);
    }
    assert_int_equal(fx_stat(fx, "keys"), 66);
    assert_true(fx_stat(fx, "replayed_records") >= 134);
}

static void
test_file_segments_roll_at_segment_bytes(void **state)
{
    struct fx *fx = *state;
    fx->opt.segment_bytes = 1000;
    assert_int_equal(fx_open(fx), ST_OK);
    assert_int_equal(fx_stat(fx, "segments"), 1);
    char v[100];
    memset(v, 'x', sizeof v - 1);
    v[sizeof v - 1] = 0;
    /* Each record is 21 + 2 + 99 = 122 bytes; a segment takes records
     * until it reaches 1000 bytes: 20 + 8 * 122 = 996, then one more. */
    for (int i = 0; i < 9; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(fx_set(fx, k, v), ST_OK);
    }
    assert_int_equal(fx_stat(fx, "segments"), 1);
    assert_int_equal(fx_set(fx, "k9", v), ST_OK);
    assert_int_equal(fx_stat(fx, "segments"), 2);
    assert_true(fx_exists(fx, 1, ".log"));
    assert_true(fx_exists(fx, 2, ".log"));
    fx_reopen(fx);
    assert_int_equal(fx_stat(fx, "segments"), 2);
    fx_assert_value(fx, "k0", v);
    fx_assert_value(fx, "k9", v);
}

/* Gets read records through the segments' mappings: the active segment
 * (appends after it was mapped show through) and sealed ones after a
 * roll and a reopen, all without a pread (docs/performance.md). */
static void
test_file_gets_read_mapped_segments_without_pread(void **state)
{
    struct fx *fx = *state;
    fx->opt.segment_bytes = 1000;
    assert_int_equal(fx_open(fx), ST_OK);
    char v[100];
    memset(v, 'y', sizeof v - 1);
    v[sizeof v - 1] = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 20; i++) {
            char k[16];
            snprintf(k, sizeof k, "m%d", i);
            if (round == 0)
                assert_int_equal(fx_set(fx, k, v), ST_OK);
            uint64_t reads = io_op_count(IO_OP_READ);
            fx_assert_value(fx, k, v);
            assert_true(io_op_count(IO_OP_READ) == reads);
        }
        assert_true(fx_stat(fx, "segments") >= 3);
        fx_reopen(fx);
    }
}

static void
test_file_flipped_value_byte_is_corrupt_not_served(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(fx_open(fx), ST_OK);
    assert_int_equal(fx_set(fx, "k", "hello"), ST_OK);
    assert_int_equal(fx_set(fx, "other", "fine"), ST_OK);
    char *path = fx_file(fx, 1, ".log");
    size_t len;
    uint8_t *bytes = tu_read_file(path, &len);
    /* Header 20, record header 21, key 1: "hello" starts at 42. */
    assert_memory_equal(bytes + 42, "hello", 5);
    bytes[43] ^= 0x20;
    tu_write_file(path, bytes, len);
    struct st_error err = {0};
    assert_int_equal(
        fx->e->ops->get(fx->e, st_slice_from_cstr("k"), &fx->val, &err),
        ST_CORRUPT);
    assert_non_null(strstr(err.msg, "000000000001.log"));
    assert_non_null(strstr(err.msg, "offset 20"));
    fx_assert_value(fx, "other", "fine");
    free(bytes);
    free(path);
}

static void
test_file_too_long_key_or_value_is_invalid(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(fx_open(fx), ST_OK);
    static const uint8_t b[1];
    /* The lengths are checked before the bytes are touched. */
    st_slice huge = st_slice_make(b, (size_t)UINT32_MAX + 1);
    st_slice one = st_slice_make(b, 1);
    assert_int_equal(fx->e->ops->set(fx->e, one, huge, NULL), ST_INVALID);
    assert_int_equal(fx->e->ops->set(fx->e, huge, one, NULL), ST_INVALID);
    assert_int_equal(fx->e->ops->set(fx->e, st_slice_make(b, 0), one, NULL),
                     ST_INVALID);
    assert_int_equal(fx_stat(fx, "disk_bytes"), 20);
}

static void
test_file_failed_write_returns_io_and_keeps_index_and_file(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(fx_open(fx), ST_OK);
    assert_int_equal(fx_set(fx, "k", "old"), ST_OK);
    uint64_t disk = fx_stat(fx, "disk_bytes");
    io_fault_arm(IO_OP_WRITE, 1, ENOSPC, 0);
    struct st_error err = {0};
    assert_int_equal(fx->e->ops->set(fx->e, st_slice_from_cstr("k"),
                                     st_slice_from_cstr("new"), &err),
                     ST_IO);
    assert_int_equal(err.errnum, ENOSPC);
    assert_int_equal(fx_set(fx, "k2", "x"), ST_OK);
    fx_assert_value(fx, "k", "old");
    assert_int_equal(fx_stat(fx, "disk_bytes"), disk + 21 + 2 + 1);
    io_fault_arm(IO_OP_WRITE, 1, EIO, 0);
    assert_int_equal(fx_del(fx, "k"), ST_IO);
    fx_assert_value(fx, "k", "old");
    fx_reopen(fx);
    fx_assert_value(fx, "k", "old");
    fx_assert_value(fx, "k2", "x");
    assert_int_equal(fx_stat(fx, "keys"), 2);
}

static void
test_file_failed_fsync_makes_engine_read_only_until_reopen(void **state)
{
    struct fx *fx = *state;
    fx->opt.sync = ENGINE_SYNC_ALWAYS;
    assert_int_equal(fx_open(fx), ST_OK);
    assert_int_equal(fx_set(fx, "k", "v"), ST_OK);
    io_fault_arm(IO_OP_FSYNC, 1, EIO, 0);
    struct st_error err = {0};
    assert_int_equal(fx->e->ops->set(fx->e, st_slice_from_cstr("k"),
                                     st_slice_from_cstr("w"), &err),
                     ST_IO);
    /* The fault is gone, but the engine must not trust the file again. */
    assert_int_equal(fx->e->ops->set(fx->e, st_slice_from_cstr("x"),
                                     st_slice_from_cstr("y"), &err),
                     ST_READONLY);
    assert_non_null(strstr(err.msg, "fsync"));
    assert_int_equal(fx_del(fx, "k"), ST_READONLY);
    assert_int_equal(fx->e->ops->compact(fx->e, NULL), ST_READONLY);
    fx_assert_value(fx, "k", "v");
    assert_int_equal(fx_stat(fx, "read_only"), 1);
    fx_reopen(fx);
    /* The unacknowledged write may or may not be there; it is whole. */
    assert_int_equal(fx_get(fx, "k"), ST_OK);
    assert_true(fx->val.len == 1 &&
                (fx->val.ptr[0] == 'v' || fx->val.ptr[0] == 'w'));
    assert_int_equal(fx_set(fx, "x", "y"), ST_OK);
    fx_assert_value(fx, "x", "y");
}

/* --- many threads --- */

enum { THREADS = 4, KEYS_PER_THREAD = 200, ROUNDS = 20 };

struct worker {
    struct fx *fx;
    int id;
    int failures;
};

/* Each writer owns its keys, so after each of its own writes it knows
 * the exact answer; readers check that every value is one a writer could
 * have written (never torn, never foreign). */
static void *
writer(void *arg)
{
    struct worker *w = arg;
    struct engine *e = w->fx->e;
    struct st_buf val = {0};
    char k[32], v[64];
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < KEYS_PER_THREAD; i++) {
            snprintf(k, sizeof k, "t%d-k%d", w->id, i);
            snprintf(v, sizeof v, "t%d-k%d-r%d-padding-padding", w->id, i, r);
            st_slice key = st_slice_from_cstr(k);
            bool del = (i + r) % 7 == 0;
            st_status s =
                del ? e->ops->del(e, key, NULL)
                    : e->ops->set(e, key, st_slice_from_cstr(v), NULL);
            if (s != ST_OK && !(del && s == ST_NOT_FOUND))
                w->failures++;
            s = e->ops->get(e, key, &val, NULL);
            if (del ? s != ST_NOT_FOUND
                    : s != ST_OK || val.len != strlen(v) ||
                          memcmp(val.ptr, v, val.len) != 0)
                w->failures++;
        }
    }
    st_buf_free(&val);
    return NULL;
}

static void *
reader(void *arg)
{
    struct worker *w = arg;
    struct engine *e = w->fx->e;
    struct st_buf val = {0};
    char k[32];
    for (int n = 0; n < ROUNDS * KEYS_PER_THREAD * 2; n++) {
        int t = n % THREADS, i = (n / THREADS) % KEYS_PER_THREAD;
        snprintf(k, sizeof k, "t%d-k%d", t, i);
        st_status s = e->ops->get(e, st_slice_from_cstr(k), &val, NULL);
        size_t klen = strlen(k);
        if (s == ST_OK && (val.len < klen + 2 || memcmp(val.ptr, k, klen) != 0))
            w->failures++;
        if (s != ST_OK && s != ST_NOT_FOUND)
            w->failures++;
    }
    st_buf_free(&val);
    return NULL;
}

/* What the writers leave behind: each key holds its last round's value,
 * or is deleted when the last round deleted it. */
static void
assert_final_values(struct fx *fx)
{
    char k[32], v[64];
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < KEYS_PER_THREAD; i++) {
            snprintf(k, sizeof k, "t%d-k%d", t, i);
            snprintf(v, sizeof v, "t%d-k%d-r%d-padding-padding", t, i,
                     ROUNDS - 1);
            if ((i + ROUNDS - 1) % 7 == 0)
                assert_int_equal(fx_get(fx, k), ST_NOT_FOUND);
            else
                fx_assert_value(fx, k, v);
        }
}

static void
test_file_concurrent_readers_and_writers_with_background_merge(void **state)
{
    struct fx *fx = *state;
    fx->opt.segment_bytes = 16 << 10;
    fx->opt.background = true;
    fx->opt.merge_dead_pct = 20;
    fx->opt.merge_min_dead_bytes = 1;
    assert_int_equal(fx_open(fx), ST_OK);
    pthread_t th[2 * THREADS];
    struct worker w[2 * THREADS];
    for (int i = 0; i < 2 * THREADS; i++) {
        w[i] = (struct worker){fx, i % THREADS, 0};
        pthread_create(&th[i], NULL, i < THREADS ? writer : reader, &w[i]);
    }
    /* Explicit merges race with the background one and the writers. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(fx->e->ops->compact(fx->e, NULL), ST_OK);
    for (int i = 0; i < 2 * THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_true(fx_stat(fx, "merges") >= 5);
    fx_reopen(fx);
    assert_final_values(fx);
}

/* Under sync=always concurrent writers share fsyncs (group commit): far
 * fewer write batches than writes, and every writer still reads its own
 * writes back, before and after a reopen. */
static void
test_file_concurrent_durable_writes_share_batches(void **state)
{
    struct fx *fx = *state;
    fx->opt.sync = ENGINE_SYNC_ALWAYS;
    assert_int_equal(fx_open(fx), ST_OK);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){fx, i, 0};
        pthread_create(&th[i], NULL, writer, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    uint64_t writes = fx_stat(fx, "batched_writes");
    uint64_t batches = fx_stat(fx, "write_batches");
    fprintf(stderr, "group commit: %llu writes in %llu batches\n",
            (unsigned long long)writes, (unsigned long long)batches);
    assert_true(writes > 0);
    assert_true(batches * 2 <= writes);
    fx_reopen(fx);
    assert_final_values(fx);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_file_set_get_delete_overwrite),
        T(test_file_binary_keys_and_values_round_trip),
        T(test_file_data_and_tombstones_survive_reopen),
        T(test_file_segments_roll_at_segment_bytes),
        T(test_file_gets_read_mapped_segments_without_pread),
        T(test_file_flipped_value_byte_is_corrupt_not_served),
        T(test_file_too_long_key_or_value_is_invalid),
        T(test_file_failed_write_returns_io_and_keeps_index_and_file),
        T(test_file_failed_fsync_makes_engine_read_only_until_reopen),
        T(test_file_concurrent_readers_and_writers_with_background_merge),
        T(test_file_concurrent_durable_writes_share_batches),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
