/*
 * Tests for engines/memory/memory.c through its vtable, the way the store
 * calls it: the hash map of DDIA 3.1 with binary-safe keys and values,
 * the engine_ops contract (ST_NOT_FOUND leaves the caller's buffer as it
 * was, close(NULL) does nothing), its figures for /stats, and parallel
 * readers and writers under its rwlock.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/memory/memory.h"
#include "testutil.h"
#include "util/slice.h"

static const struct engine_ops *const ops = &memory_engine_ops;

struct fixture {
    char *dir;
    struct engine *e;
};

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = tu_tmpdir_create();
    struct engine_options opt;
    engine_options_default(&opt);
    struct st_error err = {0};
    if (ops->open(fx->dir, &opt, &fx->e, &err) != ST_OK)
        fail_msg("memory open: %s", err.msg);
    assert_ptr_equal(fx->e->ops, ops);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(ops->close(fx->e, NULL), ST_OK);
    tu_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static st_slice
s(const char *text)
{
    return st_slice_from_cstr(text);
}

static void
assert_get(struct engine *e, st_slice key, const void *want, size_t want_len)
{
    struct st_buf val = {0};
    assert_int_equal(ops->get(e, key, &val, NULL), ST_OK);
    assert_int_equal(val.len, want_len);
    if (want_len > 0)
        assert_memory_equal(val.ptr, want, want_len);
    st_buf_free(&val);
}

static void
assert_missing(struct engine *e, st_slice key)
{
    struct st_buf val = {0};
    assert_int_equal(ops->get(e, key, &val, NULL), ST_NOT_FOUND);
    st_buf_free(&val);
}

/* --- stats --- */

struct figures {
    uint64_t keys, live_data_bytes;
    unsigned seen;
};

static void
collect(void *arg, const char *name, uint64_t value)
{
    struct figures *f = arg;
    if (strcmp(name, "keys") == 0)
        f->keys = value;
    else if (strcmp(name, "live_data_bytes") == 0)
        f->live_data_bytes = value;
    f->seen++;
}

static struct figures
figures_of(struct engine *e)
{
    struct figures f = {0, 0, 0};
    assert_non_null(ops->stats);
    ops->stats(e, collect, &f);
    assert_true(f.seen >= 2);
    return f;
}

/* --- tests --- */

static void
test_memory_describes_itself(void **state)
{
    assert_string_equal(ops->name, "memory");
    assert_false(ops->sorted);
    assert_false(ops->persistent);
    assert_null(ops->scan);
    assert_non_null(ops->get);
    assert_non_null(ops->set);
    assert_non_null(ops->del);
    assert_non_null(ops->close);
}

static void
test_memory_set_get_overwrite_delete(void **state)
{
    struct fixture *fx = *state;
    assert_missing(fx->e, s("k"));
    assert_int_equal(ops->set(fx->e, s("k"), s("v1"), NULL), ST_OK);
    assert_get(fx->e, s("k"), "v1", 2);

    assert_int_equal(ops->set(fx->e, s("k"), s("a longer value"), NULL), ST_OK);
    assert_get(fx->e, s("k"), "a longer value", 14);
    assert_int_equal(ops->set(fx->e, s("k"), s("x"), NULL), ST_OK);
    assert_get(fx->e, s("k"), "x", 1);

    assert_int_equal(ops->set(fx->e, s("other"), s("o"), NULL), ST_OK);
    assert_int_equal(ops->del(fx->e, s("k"), NULL), ST_OK);
    assert_missing(fx->e, s("k"));
    assert_get(fx->e, s("other"), "o", 1);
    assert_int_equal(ops->del(fx->e, s("k"), NULL), ST_NOT_FOUND);
    assert_int_equal(ops->del(fx->e, s("never"), NULL), ST_NOT_FOUND);

    /* A deleted key can come back. */
    assert_int_equal(ops->set(fx->e, s("k"), s("again"), NULL), ST_OK);
    assert_get(fx->e, s("k"), "again", 5);
}

static void
test_memory_not_found_leaves_the_buffer_untouched(void **state)
{
    struct fixture *fx = *state;
    struct st_buf val = {0};
    assert_true(st_buf_set(&val, s("sentinel")));
    uint8_t *ptr = val.ptr;
    size_t cap = val.cap;

    assert_int_equal(ops->get(fx->e, s("missing"), &val, NULL), ST_NOT_FOUND);
    assert_ptr_equal(val.ptr, ptr);
    assert_int_equal(val.cap, cap);
    assert_int_equal(val.len, 8);
    assert_memory_equal(val.ptr, "sentinel", 8);

    /* Also after the key existed once. */
    assert_int_equal(ops->set(fx->e, s("gone"), s("g"), NULL), ST_OK);
    assert_int_equal(ops->del(fx->e, s("gone"), NULL), ST_OK);
    assert_int_equal(ops->get(fx->e, s("gone"), &val, NULL), ST_NOT_FOUND);
    assert_int_equal(val.len, 8);
    assert_memory_equal(val.ptr, "sentinel", 8);
    st_buf_free(&val);
}

static void
test_memory_get_replaces_the_buffer_contents(void **state)
{
    struct fixture *fx = *state;
    struct st_buf val = {0};
    assert_true(st_buf_set(&val, s("a much longer previous value")));
    assert_int_equal(ops->set(fx->e, s("k"), s("v"), NULL), ST_OK);
    assert_int_equal(ops->get(fx->e, s("k"), &val, NULL), ST_OK);
    assert_int_equal(val.len, 1);
    assert_memory_equal(val.ptr, "v", 1);
    st_buf_free(&val);
}

static void
test_memory_keys_and_values_are_binary(void **state)
{
    struct fixture *fx = *state;
    st_slice a0b = st_slice_make("a\0b", 3);
    st_slice a0c = st_slice_make("a\0c", 3);
    st_slice a = st_slice_make("a", 1);
    st_slice nul = st_slice_make("\0", 1);
    st_slice nul2 = st_slice_make("\0\0", 2);
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;

    assert_int_equal(ops->set(fx->e, a0b, st_slice_make("1\0", 2), NULL),
                     ST_OK);
    assert_int_equal(ops->set(fx->e, a0c, st_slice_make("\0002", 2), NULL),
                     ST_OK);
    assert_int_equal(ops->set(fx->e, nul, st_slice_make(all, 256), NULL),
                     ST_OK);
    assert_int_equal(ops->set(fx->e, nul2, nul, NULL), ST_OK);
    assert_int_equal(ops->set(fx->e, st_slice_make(all, 256), a, NULL), ST_OK);

    /* Keys that strcmp would call equal stay apart. */
    assert_get(fx->e, a0b, "1\0", 2);
    assert_get(fx->e, a0c, "\0002", 2);
    assert_missing(fx->e, a);
    assert_get(fx->e, nul, all, 256);
    assert_get(fx->e, nul2, "\0", 1);
    assert_get(fx->e, st_slice_make(all, 256), "a", 1);
    assert_missing(fx->e, st_slice_make(all, 255));

    assert_int_equal(ops->del(fx->e, nul, NULL), ST_OK);
    assert_missing(fx->e, nul);
    assert_get(fx->e, nul2, "\0", 1);
}

static void
test_memory_empty_value_is_a_value(void **state)
{
    struct fixture *fx = *state;
    struct st_buf val = {0};
    assert_true(st_buf_set(&val, s("junk")));
    assert_int_equal(ops->set(fx->e, s("e"), (st_slice){NULL, 0}, NULL), ST_OK);
    assert_int_equal(ops->get(fx->e, s("e"), &val, NULL), ST_OK);
    assert_int_equal(val.len, 0);
    assert_int_equal(figures_of(fx->e).keys, 1);
    assert_int_equal(ops->del(fx->e, s("e"), NULL), ST_OK);
    assert_int_equal(ops->get(fx->e, s("e"), &val, NULL), ST_NOT_FOUND);
    st_buf_free(&val);
}

static void
test_memory_stats_count_keys_and_live_bytes(void **state)
{
    struct fixture *fx = *state;
    struct figures f = figures_of(fx->e);
    assert_int_equal(f.keys, 0);
    assert_int_equal(f.live_data_bytes, 0);

    assert_int_equal(ops->set(fx->e, s("ab"), s("123"), NULL), ST_OK);
    assert_int_equal(ops->set(fx->e, s("c"), s(""), NULL), ST_OK);
    f = figures_of(fx->e);
    assert_int_equal(f.keys, 2);
    assert_int_equal(f.live_data_bytes, 2 + 3 + 1 + 0);

    /* An overwrite changes the bytes by the difference, not the keys. */
    assert_int_equal(ops->set(fx->e, s("ab"), s("1234567"), NULL), ST_OK);
    f = figures_of(fx->e);
    assert_int_equal(f.keys, 2);
    assert_int_equal(f.live_data_bytes, 2 + 7 + 1);
    assert_int_equal(ops->set(fx->e, s("ab"), s("1"), NULL), ST_OK);
    assert_int_equal(figures_of(fx->e).live_data_bytes, 2 + 1 + 1);

    assert_int_equal(ops->del(fx->e, s("ab"), NULL), ST_OK);
    f = figures_of(fx->e);
    assert_int_equal(f.keys, 1);
    assert_int_equal(f.live_data_bytes, 1);
    assert_int_equal(ops->del(fx->e, s("missing"), NULL), ST_NOT_FOUND);
    assert_int_equal(figures_of(fx->e).keys, 1);
    assert_int_equal(ops->del(fx->e, s("c"), NULL), ST_OK);
    f = figures_of(fx->e);
    assert_int_equal(f.keys, 0);
    assert_int_equal(f.live_data_bytes, 0);
}

static void
test_memory_many_keys_survive_growth(void **state)
{
    struct fixture *fx = *state;
    enum { N = 5000 };
    char key[32], val[32];
    for (int i = 0; i < N; i++) {
        int kn = snprintf(key, sizeof key, "key-%d", i);
        int vn = snprintf(val, sizeof val, "val-%d", i * 7);
        assert_int_equal(ops->set(fx->e, st_slice_make(key, (size_t)kn),
                                  st_slice_make(val, (size_t)vn), NULL),
                         ST_OK);
    }
    assert_int_equal(figures_of(fx->e).keys, N);
    for (int i = 0; i < N; i += 2) {
        int kn = snprintf(key, sizeof key, "key-%d", i);
        assert_int_equal(ops->del(fx->e, st_slice_make(key, (size_t)kn), NULL),
                         ST_OK);
    }
    for (int i = 0; i < N; i++) {
        int kn = snprintf(key, sizeof key, "key-%d", i);
        int vn = snprintf(val, sizeof val, "val-%d", i * 7);
        if (i % 2 == 0)
            assert_missing(fx->e, st_slice_make(key, (size_t)kn));
        else
            assert_get(fx->e, st_slice_make(key, (size_t)kn), val, (size_t)vn);
    }
    assert_int_equal(figures_of(fx->e).keys, N / 2);
}

static void
test_memory_close_null_is_fine(void **state)
{
    assert_int_equal(ops->close(NULL, NULL), ST_OK);
    struct st_error err = {0};
    assert_int_equal(ops->close(NULL, &err), ST_OK);
}

static void
test_memory_close_frees_a_full_engine(void **state)
{
    /* Closing with data inside releases it (ASan reports any leak). */
    struct engine_options opt;
    engine_options_default(&opt);
    struct engine *e = NULL;
    assert_int_equal(ops->open(".", &opt, &e, NULL), ST_OK);
    assert_int_equal(ops->set(e, s("k1"), s("v1"), NULL), ST_OK);
    assert_int_equal(ops->set(e, s("k2"), s("v2"), NULL), ST_OK);
    assert_int_equal(ops->close(e, NULL), ST_OK);
}

/* --- concurrency --- */

enum {
    THREADS = 8,
    KEYS_PER_THREAD = 200,
    OPS_PER_THREAD = 4000,
};

struct worker {
    pthread_t tid;
    struct engine *e;
    unsigned id;
    uint64_t seed;
    /* The thread's own reference: version of each of its keys, 0 when
     * absent. Read by the main thread only after join. */
    uint32_t version[KEYS_PER_THREAD];
    unsigned failures; /* cmocka asserts are not thread-safe */
    char first_failure[128];
};

static size_t
make_key(char *buf, size_t cap, unsigned thread, unsigned i)
{
    return (size_t)snprintf(buf, cap, "t%u\x01k%u", thread, i);
}

/* The value of a key at a version: the key, '=', the version, and a tail
 * whose length varies with it, so overwrites change the size. */
static size_t
make_value(char *buf, size_t cap, const char *key, uint32_t version)
{
    int n = snprintf(buf, cap, "%s=%u:", key, version);
    size_t len = (size_t)n;
    size_t tail = version % 40;
    for (size_t i = 0; i < tail && len < cap; i++)
        buf[len++] = (char)('a' + (version + i) % 26);
    return len;
}

static void
note_failure(struct worker *w, const char *what, const char *key)
{
    if (w->failures++ == 0)
        snprintf(w->first_failure, sizeof w->first_failure,
                 "thread %u: %s on key %s", w->id, what, key);
}

/* Reads a key of another thread: absent, or a value written for it. */
static void
check_foreign(struct worker *w, struct tu_rng *rng, struct st_buf *val)
{
    char key[32];
    unsigned other =
        (w->id + 1 + (unsigned)tu_rng_below(rng, THREADS - 1)) % THREADS;
    size_t kn = make_key(key, sizeof key, other,
                         (unsigned)tu_rng_below(rng, KEYS_PER_THREAD));
    st_status st = ops->get(w->e, st_slice_make(key, kn), val, NULL);
    if (st == ST_NOT_FOUND)
        return;
    if (st != ST_OK || val->len < kn + 1 || memcmp(val->ptr, key, kn) != 0 ||
        val->ptr[kn] != '=')
        note_failure(w, "foreign read saw a torn or wrong value", key);
}

static void
worker_step(struct worker *w, struct tu_rng *rng, struct st_buf *val)
{
    char key[32], want[96];
    unsigned i = (unsigned)tu_rng_below(rng, KEYS_PER_THREAD);
    size_t kn = make_key(key, sizeof key, w->id, i);
    st_slice k = st_slice_make(key, kn);
    uint64_t op = tu_rng_below(rng, 10);
    if (op < 4) {
        uint32_t v = (uint32_t)tu_rng_below(rng, 1000000) + 1;
        size_t vn = make_value(want, sizeof want, key, v);
        if (ops->set(w->e, k, st_slice_make(want, vn), NULL) != ST_OK)
            note_failure(w, "set failed", key);
        w->version[i] = v;
    } else if (op < 6) {
        st_status st = ops->del(w->e, k, NULL);
        if (st != (w->version[i] ? ST_OK : ST_NOT_FOUND))
            note_failure(w, "delete answered wrongly", key);
        w->version[i] = 0;
    } else if (op < 8) {
        st_status st = ops->get(w->e, k, val, NULL);
        if (w->version[i] == 0) {
            if (st != ST_NOT_FOUND)
                note_failure(w, "deleted key found", key);
            return;
        }
        size_t vn = make_value(want, sizeof want, key, w->version[i]);
        if (st != ST_OK || val->len != vn || memcmp(val->ptr, want, vn) != 0)
            note_failure(w, "own read saw a wrong value", key);
    } else {
        check_foreign(w, rng, val);
    }
}

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    struct tu_rng rng;
    tu_rng_init(&rng, w->seed);
    struct st_buf val = {0};
    for (unsigned n = 0; n < OPS_PER_THREAD; n++)
        worker_step(w, &rng, &val);
    st_buf_free(&val);
    return NULL;
}

static void
test_memory_concurrent_readers_and_writers_end_consistent(void **state)
{
    struct fixture *fx = *state;
    uint64_t seed = tu_seed("memory concurrency", 7301);
    struct worker *w = calloc(THREADS, sizeof *w);
    assert_non_null(w);
    for (unsigned t = 0; t < THREADS; t++) {
        w[t].e = fx->e;
        w[t].id = t;
        w[t].seed = seed * 1000003u + t;
        assert_int_equal(pthread_create(&w[t].tid, NULL, worker_run, &w[t]), 0);
    }
    for (unsigned t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(w[t].tid, NULL), 0);

    uint64_t live = 0, bytes = 0;
    for (unsigned t = 0; t < THREADS; t++) {
        if (w[t].failures > 0)
            fail_msg("%u failures; first: %s", w[t].failures,
                     w[t].first_failure);
        for (unsigned i = 0; i < KEYS_PER_THREAD; i++) {
            char key[32], want[96];
            size_t kn = make_key(key, sizeof key, t, i);
            if (w[t].version[i] == 0) {
                assert_missing(fx->e, st_slice_make(key, kn));
                continue;
            }
            size_t vn = make_value(want, sizeof want, key, w[t].version[i]);
            assert_get(fx->e, st_slice_make(key, kn), want, vn);
            live++;
            bytes += kn + vn;
        }
    }
    struct figures f = figures_of(fx->e);
    assert_int_equal(f.keys, live);
    assert_int_equal(f.live_data_bytes, bytes);
    free(w);
}

#define MEMORY_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_describes_itself),
        MEMORY_TEST(test_memory_set_get_overwrite_delete),
        MEMORY_TEST(test_memory_not_found_leaves_the_buffer_untouched),
        MEMORY_TEST(test_memory_get_replaces_the_buffer_contents),
        MEMORY_TEST(test_memory_keys_and_values_are_binary),
        MEMORY_TEST(test_memory_empty_value_is_a_value),
        MEMORY_TEST(test_memory_stats_count_keys_and_live_bytes),
        MEMORY_TEST(test_memory_many_keys_survive_growth),
        cmocka_unit_test(test_memory_close_null_is_fine),
        cmocka_unit_test(test_memory_close_frees_a_full_engine),
        MEMORY_TEST(test_memory_concurrent_readers_and_writers_end_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
