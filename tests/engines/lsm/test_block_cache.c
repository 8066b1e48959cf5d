/*
 * Tests for the block cache (src/engines/lsm/block_cache.c): hits and
 * misses, LRU eviction under the byte bound, values kept alive while a
 * handle holds them, replacement, capacity 0, and many threads at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "engines/lsm/block_cache_internal.h"
#include "testutil.h"

static _Atomic long freed;

static void
count_free(void *p)
{
    atomic_fetch_add(&freed, 1);
    free(p);
}

static uint64_t *
value(uint64_t v)
{
    uint64_t *p = malloc(sizeof *p);
    assert_non_null(p);
    *p = v;
    return p;
}

static void
put(struct lsm_block_cache *c, uint64_t file, uint64_t off, size_t charge)
{
    struct lsm_cache_handle *h = lsm_block_cache_insert(
        c, file, off, value(file * 1000 + off), charge, count_free);
    assert_non_null(h);
    lsm_block_cache_release(c, h);
}

static void
test_block_cache_counts_hits_and_misses(void **state)
{
    (void)state;
    struct lsm_block_cache *c = lsm_block_cache_create(1 << 20);
    assert_null(lsm_block_cache_lookup(c, 1, 0));
    put(c, 1, 0, 100);
    struct lsm_cache_handle *h = lsm_block_cache_lookup(c, 1, 0);
    assert_non_null(h);
    assert_int_equal(*(uint64_t *)lsm_block_cache_value(h), 1000);
    lsm_block_cache_release(c, h);
    assert_null(lsm_block_cache_lookup(c, 2, 0)); /* other file */
    struct lsm_block_cache_stats st;
    lsm_block_cache_stats(c, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.bytes, 100);
    assert_int_equal(st.capacity, 1 << 20);
    lsm_block_cache_destroy(c);
    lsm_block_cache_destroy(NULL);
}

static void
test_block_cache_stays_within_bytes_and_evicts_oldest(void **state)
{
    (void)state;
    atomic_store(&freed, 0);
    /* 16 shards of 1000 bytes: 160 blocks of 100 bytes fit at most. */
    struct lsm_block_cache *c = lsm_block_cache_create(16000);
    for (uint64_t off = 0; off < 1000; off++) {
        put(c, 3, off * 4096, 100);
        /* Keep block 0 hot: LRU must not evict it. */
        struct lsm_cache_handle *h = lsm_block_cache_lookup(c, 3, 0);
        assert_non_null(h);
        lsm_block_cache_release(c, h);
    }
    struct lsm_block_cache_stats st;
    lsm_block_cache_stats(c, &st);
    assert_true(st.bytes <= 16000);
    assert_true(st.evictions >= 1000 - 160);
    assert_int_equal(atomic_load(&freed), (long)st.evictions);
    struct lsm_cache_handle *h = lsm_block_cache_lookup(c, 3, 999 * 4096);
    assert_non_null(h); /* the newest is there */
    lsm_block_cache_release(c, h);
    lsm_block_cache_destroy(c);
    assert_int_equal(atomic_load(&freed), 1000);
}

static void
test_block_cache_keeps_values_alive_while_held(void **state)
{
    (void)state;
    atomic_store(&freed, 0);
    struct lsm_block_cache *c = lsm_block_cache_create(16 * 100);
    struct lsm_cache_handle *held =
        lsm_block_cache_insert(c, 1, 0, value(42), 100, count_free);
    /* Same key again: replaces the entry, the held value survives. */
    put(c, 1, 0, 100);
    for (uint64_t off = 1; off < 100; off++)
        put(c, 1, off, 100); /* pushes everything out */
    assert_int_equal(*(uint64_t *)lsm_block_cache_value(held), 42);
    long before = atomic_load(&freed);
    lsm_block_cache_release(c, held);
    assert_int_equal(atomic_load(&freed), before + 1);
    lsm_block_cache_destroy(c);
    assert_int_equal(atomic_load(&freed), 101);
}

static void
test_block_cache_of_zero_bytes_caches_nothing(void **state)
{
    (void)state;
    atomic_store(&freed, 0);
    struct lsm_block_cache *c = lsm_block_cache_create(0);
    put(c, 1, 0, 10);
    assert_int_equal(atomic_load(&freed), 1);
    assert_null(lsm_block_cache_lookup(c, 1, 0));
    lsm_block_cache_destroy(c);
}

struct worker {
    struct lsm_block_cache *c;
    unsigned id;
    int bad;
};

static void *
worker_main(void *p)
{
    struct worker *w = p;
    struct tu_rng r;
    tu_rng_init(&r, w->id + 1);
    for (int i = 0; i < 100000; i++) {
        uint64_t file = tu_rng_below(&r, 4), off = tu_rng_below(&r, 500);
        struct lsm_cache_handle *h = lsm_block_cache_lookup(w->c, file, off);
        if (h == NULL)
            h = lsm_block_cache_insert(
                w->c, file, off, value(file * 1000 + off), 64, count_free);
        w->bad += *(uint64_t *)lsm_block_cache_value(h) != file * 1000 + off;
        lsm_block_cache_release(w->c, h);
    }
    return NULL;
}

static void
test_block_cache_is_safe_from_many_threads(void **state)
{
    (void)state;
    struct lsm_block_cache *c = lsm_block_cache_create(64 * 1000);
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (struct worker){c, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].bad, 0);
    }
    struct lsm_block_cache_stats st;
    lsm_block_cache_stats(c, &st);
    assert_int_equal(st.hits + st.misses, THREADS * 100000);
    assert_true(st.bytes <= 64 * 1000 && st.evictions > 0);
    lsm_block_cache_destroy(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_cache_counts_hits_and_misses),
        cmocka_unit_test(test_block_cache_stays_within_bytes_and_evicts_oldest),
        cmocka_unit_test(test_block_cache_keeps_values_alive_while_held),
        cmocka_unit_test(test_block_cache_of_zero_bytes_caches_nothing),
        cmocka_unit_test(test_block_cache_is_safe_from_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
