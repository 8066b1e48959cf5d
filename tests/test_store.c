/*
 * Tests for store.c: the engine-agnostic layer. It creates and locks
 * DATA_DIR/<engine>/ (one worker per directory), refuses keys and values
 * over the documented limits before the engine sees them, counts the
 * operations for /stats, and reports what the engine cannot do. Run on the
 * memory engine, so nothing here depends on files other than the lock;
 * only the count of fsync calls is checked on the file engine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "store.h"
#include "testutil.h"
#include "util/io.h"
#include "util/slice.h"
#include "util/status.h"

struct fixture {
    char *dir;
    struct store *st;
};

static st_status
open_store(const char *dir, const struct store_limits *lim, struct store **out,
           struct st_error *err)
{
    struct engine_options opt;
    engine_options_default(&opt);
    return store_open("memory", dir, &opt, lim, out, err);
}

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = tu_tmpdir_create();
    struct store_limits lim;
    store_limits_default(&lim);
    struct st_error err = {0};
    if (open_store(fx->dir, &lim, &fx->st, &err) != ST_OK)
        fail_msg("store_open: %s", err.msg);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(store_close(fx->st, NULL), ST_OK);
    tu_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* Only the temp dir, for tests that open stores themselves. */
static int
setup_dir(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = tu_tmpdir_create();
    *state = fx;
    return 0;
}

static int
teardown_dir(void **state)
{
    struct fixture *fx = *state;
    tu_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* --- stats collected into a small table --- */

enum { MAX_STATS = 64 };

struct stat_table {
    size_t count;
    struct {
        const char *name;
        uint64_t value;
    } row[MAX_STATS];
};

static void
collect_stat(void *arg, const char *name, uint64_t value)
{
    struct stat_table *t = arg;
    assert_true(t->count < MAX_STATS);
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->row[i].name, name) == 0)
            fail_msg("stat \"%s\" reported twice", name);
    t->row[t->count].name = name;
    t->row[t->count].value = value;
    t->count++;
}

static uint64_t
stat_of(struct store *st, const char *name)
{
    struct stat_table t = {0};
    store_stats(st, collect_stat, &t);
    for (size_t i = 0; i < t.count; i++)
        if (strcmp(t.row[i].name, name) == 0)
            return t.row[i].value;
    fail_msg("no stat named \"%s\"", name);
    return 0;
}

static st_slice
s(const char *text)
{
    return st_slice_from_cstr(text);
}

/* --- limits --- */

static void
test_store_empty_key_is_invalid(void **state)
{
    struct fixture *fx = *state;
    struct st_error err = {0};
    struct st_buf val = {0};
    assert_int_equal(store_set(fx->st, s(""), s("v"), &err), ST_INVALID);
    assert_non_null(strstr(err.msg, "empty key"));
    assert_int_equal(store_get(fx->st, s(""), &val, &err), ST_INVALID);
    assert_int_equal(store_delete(fx->st, s(""), &err), ST_INVALID);
    assert_int_equal(stat_of(fx->st, "keys"), 0);
    assert_int_equal(stat_of(fx->st, "sets"), 0);
    st_buf_free(&val);
}

static void
test_store_key_over_the_limit_is_invalid_and_not_stored(void **state)
{
    struct fixture *fx = *state;
    uint8_t key[STORE_DEFAULT_MAX_KEY + 1];
    memset(key, 'k', sizeof key);
    struct st_error err = {0};
    struct st_buf val = {0};

    assert_int_equal(
        store_set(fx->st, st_slice_make(key, sizeof key), s("v"), &err),
        ST_INVALID);
    assert_int_equal(err.code, ST_INVALID);
    /* The message names the limit, so the client knows what to change. */
    assert_non_null(strstr(err.msg, "key too long"));
    assert_non_null(strstr(err.msg, "1024"));
    assert_int_equal(stat_of(fx->st, "keys"), 0);

    assert_int_equal(
        store_get(fx->st, st_slice_make(key, sizeof key), &val, &err),
        ST_INVALID);
    assert_int_equal(store_delete(fx->st, st_slice_make(key, sizeof key), &err),
                     ST_INVALID);

    /* Exactly at the limit is fine. */
    assert_int_equal(
        store_set(fx->st, st_slice_make(key, sizeof key - 1), s("v"), NULL),
        ST_OK);
    assert_int_equal(
        store_get(fx->st, st_slice_make(key, sizeof key - 1), &val, NULL),
        ST_OK);
    assert_int_equal(stat_of(fx->st, "keys"), 1);
    st_buf_free(&val);
}

static void
test_store_value_over_the_limit_is_invalid_and_not_stored(void **state)
{
    struct fixture *fx = *state;
    struct store_limits lim = {.max_key_len = 8, .max_value_len = 16};
    struct store *st = NULL;
    assert_int_equal(open_store(fx->dir, &lim, &st, NULL), ST_OK);
    struct st_error err = {0};
    struct st_buf val = {0};

    assert_int_equal(store_set(st, s("k"), s("0123456789abcdef"), NULL), ST_OK);
    assert_int_equal(store_set(st, s("k"), s("0123456789abcdefg"), &err),
                     ST_INVALID);
    assert_non_null(strstr(err.msg, "value too long"));
    assert_non_null(strstr(err.msg, "16"));
    assert_int_equal(store_set(st, s("new"), s("0123456789abcdefg"), NULL),
                     ST_INVALID);

    /* The old value stands and no new key appeared. */
    assert_int_equal(store_get(st, s("k"), &val, NULL), ST_OK);
    assert_int_equal(val.len, 16);
    assert_memory_equal(val.ptr, "0123456789abcdef", 16);
    assert_int_equal(store_get(st, s("new"), &val, NULL), ST_NOT_FOUND);
    assert_int_equal(stat_of(st, "keys"), 1);
    assert_int_equal(stat_of(st, "sets"), 1);

    /* And the key limit is the configured one. */
    assert_int_equal(store_set(st, s("12345678"), s("v"), NULL), ST_OK);
    assert_int_equal(store_set(st, s("123456789"), s("v"), &err), ST_INVALID);
    assert_non_null(strstr(err.msg, "8"));
    assert_int_equal(store_get_limits(st)->max_key_len, 8);
    assert_int_equal(store_get_limits(st)->max_value_len, 16);

    st_buf_free(&val);
    assert_int_equal(store_close(st, NULL), ST_OK);
}

static void
test_store_limits_default_values(void **state)
{
    struct store_limits lim;
    store_limits_default(&lim);
    assert_int_equal(lim.max_key_len, 1024);
    assert_int_equal(lim.max_value_len, 1 << 20);
}

static void
test_store_open_checks_the_limits(void **state)
{
    struct fixture *fx = *state;
    struct store *st = NULL;
    struct st_error err = {0};
    struct store_limits lim;

    store_limits_default(&lim);
    lim.max_key_len = 0;
    assert_int_equal(open_store(fx->dir, &lim, &st, &err), ST_INVALID);
    assert_non_null(strstr(err.msg, "key"));

    lim.max_key_len = STORE_MAX_KEY_CEILING + 1;
    assert_int_equal(open_store(fx->dir, &lim, &st, &err), ST_INVALID);
    assert_non_null(strstr(err.msg, "2048"));

    store_limits_default(&lim);
    lim.max_value_len = (size_t)STORE_MAX_VALUE_CEILING + 1;
    assert_int_equal(open_store(fx->dir, &lim, &st, &err), ST_INVALID);
    assert_non_null(strstr(err.msg, "value"));

    /* The ceilings themselves are allowed. */
    lim.max_key_len = STORE_MAX_KEY_CEILING;
    lim.max_value_len = STORE_MAX_VALUE_CEILING;
    assert_int_equal(open_store(fx->dir, &lim, &st, &err), ST_OK);
    assert_int_equal(store_get_limits(st)->max_key_len, 2048);
    assert_int_equal(store_close(st, NULL), ST_OK);
}

/* --- open, lock, close --- */

static bool
is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void
test_store_open_creates_the_engine_directory(void **state)
{
    struct fixture *fx = *state;
    char *data = tu_path_join(fx->dir, "data");
    char *engine_dir = tu_path_join(data, "memory");
    char *lock = tu_path_join(engine_dir, "LOCK");
    assert_false(is_dir(data));

    struct store_limits lim;
    store_limits_default(&lim);
    struct store *st = NULL;
    struct st_error err = {0};
    if (open_store(data, &lim, &st, &err) != ST_OK)
        fail_msg("store_open: %s", err.msg);
    assert_true(is_dir(engine_dir));
    struct stat sb;
    assert_int_equal(stat(lock, &sb), 0);
    assert_string_equal(store_engine_name(st), "memory");
    assert_int_equal(store_close(st, NULL), ST_OK);

    free(data);
    free(engine_dir);
    free(lock);
}

static void
test_store_second_open_on_the_same_dir_is_busy(void **state)
{
    struct fixture *fx = *state;
    struct store_limits lim;
    store_limits_default(&lim);
    struct store *first = NULL, *second = NULL;
    struct st_error err = {0};

    assert_int_equal(open_store(fx->dir, &lim, &first, &err), ST_OK);
    assert_int_equal(open_store(fx->dir, &lim, &second, &err), ST_BUSY);
    assert_int_equal(err.code, ST_BUSY);
    assert_null(second);
    /* The message names the lock file, so an operator knows what holds
     * the directory. */
    assert_non_null(strstr(err.msg, "LOCK"));
    assert_non_null(strstr(err.msg, "locked"));

    /* The first store is unharmed. */
    assert_int_equal(store_set(first, s("k"), s("v"), NULL), ST_OK);
    assert_int_equal(store_close(first, NULL), ST_OK);

    /* Once the first lets go, the directory can be opened again. */
    assert_int_equal(open_store(fx->dir, &lim, &second, &err), ST_OK);
    assert_int_equal(store_close(second, NULL), ST_OK);
}

static void
test_store_unknown_engine_is_invalid(void **state)
{
    struct fixture *fx = *state;
    struct engine_options opt;
    engine_options_default(&opt);
    struct store_limits lim;
    store_limits_default(&lim);
    struct store *st = NULL;
    struct st_error err = {0};
    assert_int_equal(store_open("nosuch", fx->dir, &opt, &lim, &st, &err),
                     ST_INVALID);
    assert_null(st);
    assert_non_null(strstr(err.msg, "nosuch"));
    assert_int_equal(store_open("", fx->dir, &opt, &lim, &st, NULL),
                     ST_INVALID);
    assert_int_equal(store_open("Memory", fx->dir, &opt, &lim, &st, NULL),
                     ST_INVALID);
    /* Nothing was created for it. */
    char *p = tu_path_join(fx->dir, "nosuch");
    assert_false(is_dir(p));
    free(p);
}

static void
test_store_close_null_is_fine(void **state)
{
    assert_int_equal(store_close(NULL, NULL), ST_OK);
    struct st_error err = {0};
    assert_int_equal(store_close(NULL, &err), ST_OK);
}

/* --- operations --- */

static void
test_store_set_get_delete(void **state)
{
    struct fixture *fx = *state;
    struct st_buf val = {0};
    assert_int_equal(store_set(fx->st, s("k"), s("v1"), NULL), ST_OK);
    assert_int_equal(store_get(fx->st, s("k"), &val, NULL), ST_OK);
    assert_int_equal(val.len, 2);
    assert_memory_equal(val.ptr, "v1", 2);
    assert_int_equal(store_set(fx->st, s("k"), s(""), NULL), ST_OK);
    assert_int_equal(store_get(fx->st, s("k"), &val, NULL), ST_OK);
    assert_int_equal(val.len, 0);
    assert_int_equal(store_delete(fx->st, s("k"), NULL), ST_OK);
    assert_int_equal(store_get(fx->st, s("k"), &val, NULL), ST_NOT_FOUND);
    assert_int_equal(store_delete(fx->st, s("k"), NULL), ST_NOT_FOUND);
    st_buf_free(&val);
}

static bool
count_pair(void *arg, st_slice key, st_slice val)
{
    (*(size_t *)arg)++;
    return true;
}

static void
test_store_scan_on_memory_is_unsupported(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(store_set(fx->st, s("k"), s("v"), NULL), ST_OK);
    size_t seen = 0;
    struct st_error err = {0};
    assert_int_equal(
        store_scan(fx->st, s(""), s(""), false, count_pair, &seen, &err),
        ST_UNSUPPORTED);
    assert_int_equal(err.code, ST_UNSUPPORTED);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(seen, 0);
    /* Not counted as a scan, nor as an error of the engine. */
    assert_int_equal(stat_of(fx->st, "scans"), 0);
    assert_int_equal(stat_of(fx->st, "errors"), 0);
}

static void
test_store_stats_count_operations(void **state)
{
    struct fixture *fx = *state;
    struct st_buf val = {0};

    assert_int_equal(store_set(fx->st, s("a"), s("1"), NULL), ST_OK);
    assert_int_equal(store_set(fx->st, s("b"), s("22"), NULL), ST_OK);
    assert_int_equal(store_set(fx->st, s("a"), s("333"), NULL), ST_OK);
    assert_int_equal(store_get(fx->st, s("a"), &val, NULL), ST_OK);
    assert_int_equal(store_get(fx->st, s("x"), &val, NULL), ST_NOT_FOUND);
    assert_int_equal(store_get(fx->st, s("y"), &val, NULL), ST_NOT_FOUND);
    assert_int_equal(store_delete(fx->st, s("b"), NULL), ST_OK);
    assert_int_equal(store_delete(fx->st, s("b"), NULL), ST_NOT_FOUND);
    /* Refused by the limits: counted nowhere. */
    assert_int_equal(store_set(fx->st, s(""), s("v"), NULL), ST_INVALID);
    assert_int_equal(store_get(fx->st, s(""), &val, NULL), ST_INVALID);
    assert_int_equal(store_delete(fx->st, s(""), NULL), ST_INVALID);

    struct stat_table t = {0};
    store_stats(fx->st, collect_stat, &t);
    assert_true(t.count >= 8);
    assert_int_equal(stat_of(fx->st, "sets"), 3);
    assert_int_equal(stat_of(fx->st, "gets"), 3);
    assert_int_equal(stat_of(fx->st, "get_misses"), 2);
    assert_int_equal(stat_of(fx->st, "deletes"), 2);
    assert_int_equal(stat_of(fx->st, "scans"), 0);
    assert_int_equal(stat_of(fx->st, "errors"), 0);
    /* Then the engine's figures: only "a" -> "333" is left. */
    assert_int_equal(stat_of(fx->st, "keys"), 1);
    assert_int_equal(stat_of(fx->st, "live_data_bytes"), 4);
    st_buf_free(&val);
}

/* "fsyncs" counts the process's fsync calls (util/io.c): one per write
 * at least under --sync always, none under --sync none nor on the memory
 * engine. */
static void
test_store_stats_count_fsync_calls(void **state)
{
    struct fixture *fx = *state;
    struct engine_options opt;
    struct store_limits lim;
    engine_options_default(&opt);
    store_limits_default(&lim);
    struct store *st = NULL;

    opt.sync = ENGINE_SYNC_ALWAYS;
    assert_int_equal(store_open("file", fx->dir, &opt, &lim, &st, NULL), ST_OK);
    uint64_t before = stat_of(st, "fsyncs");
    assert_int_equal(before, io_sync_calls());
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_set(st, s("k"), s("v"), NULL), ST_OK);
    assert_int_equal(store_delete(st, s("k"), NULL), ST_OK);
    uint64_t after = stat_of(st, "fsyncs");
    if (after < before + 4)
        fail_msg("%llu fsyncs for 4 durable writes",
                 (unsigned long long)(after - before));
    assert_int_equal(after, io_sync_calls());
    assert_int_equal(store_close(st, NULL), ST_OK);

    opt.sync = ENGINE_SYNC_NONE;
    assert_int_equal(store_open("file", fx->dir, &opt, &lim, &st, NULL), ST_OK);
    before = stat_of(st, "fsyncs");
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_set(st, s("k"), s("v"), NULL), ST_OK);
    assert_int_equal(stat_of(st, "fsyncs"), before);
    assert_int_equal(store_close(st, NULL), ST_OK);

    assert_int_equal(store_open("memory", fx->dir, &opt, &lim, &st, NULL),
                     ST_OK);
    before = stat_of(st, "fsyncs");
    assert_int_equal(store_set(st, s("k"), s("v"), NULL), ST_OK);
    assert_int_equal(stat_of(st, "fsyncs"), before);
    assert_int_equal(store_close(st, NULL), ST_OK);
}

static void
test_store_properties_of_the_memory_engine(void **state)
{
    struct fixture *fx = *state;
    assert_false(store_is_sorted(fx->st));
    assert_true(store_is_writable(fx->st));
    assert_string_equal(store_engine_name(fx->st), "memory");
    /* Compaction is a no-op for an engine without background work. */
    assert_int_equal(store_compact(fx->st, NULL), ST_OK);
    assert_true(store_is_writable(fx->st));
}

#define STORE_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define DIR_TEST(fn)                                                           \
    cmocka_unit_test_setup_teardown(fn, setup_dir, teardown_dir)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_store_empty_key_is_invalid),
        STORE_TEST(test_store_key_over_the_limit_is_invalid_and_not_stored),
        DIR_TEST(test_store_value_over_the_limit_is_invalid_and_not_stored),
        cmocka_unit_test(test_store_limits_default_values),
        DIR_TEST(test_store_open_checks_the_limits),
        DIR_TEST(test_store_open_creates_the_engine_directory),
        DIR_TEST(test_store_second_open_on_the_same_dir_is_busy),
        DIR_TEST(test_store_unknown_engine_is_invalid),
        cmocka_unit_test(test_store_close_null_is_fine),
        STORE_TEST(test_store_set_get_delete),
        STORE_TEST(test_store_scan_on_memory_is_unsupported),
        STORE_TEST(test_store_stats_count_operations),
        DIR_TEST(test_store_stats_count_fsync_calls),
        STORE_TEST(test_store_properties_of_the_memory_engine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
