/*
 * Tests for the memtable skiplist (src/engines/lsm/memtable.c): order and
 * lookups against a plain sorted array (the reference), seek semantics,
 * newest-version and tombstone answers, big and empty entries, and
 * readers that walk the list while one writer adds to it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/lsm/memtable.h"
#include "testutil.h"

struct ref_entry {
    uint8_t key[8];
    size_t key_len;
    uint64_t seq;
    enum lsm_value_type type;
    uint8_t val[16];
    size_t val_len;
};

static st_slice
ref_key(const struct ref_entry *e)
{
    return st_slice_make(e->key, e->key_len);
}

static int
ref_cmp(const void *a, const void *b)
{
    const struct ref_entry *x = a, *y = b;
    return lsm_entry_compare(ref_key(x), x->seq, ref_key(y), y->seq);
}

/* Short keys over a 3-letter alphabet with NUL, so keys repeat (several
 * versions each), prefixes of each other abound, and NULs are inside. */
static void
random_entry(struct tu_rng *r, uint64_t seq, struct ref_entry *e)
{
    static const uint8_t alphabet[] = {0, 'a', 0xff};
    e->key_len = tu_rng_below(r, 5);
    for (size_t i = 0; i < e->key_len; i++)
        e->key[i] = alphabet[tu_rng_below(r, 3)];
    e->seq = seq;
    e->type = tu_rng_below(r, 4) == 0 ? LSM_TYPE_DELETE : LSM_TYPE_PUT;
    e->val_len = e->type == LSM_TYPE_PUT ? tu_rng_below(r, 17) : 0;
    tu_rng_fill(r, e->val, e->val_len);
}

/* Builds a memtable and a sorted reference of 'n' random entries. */
static struct lsm_memtable *
build_random(uint64_t seed, size_t n, struct ref_entry **out)
{
    struct tu_rng r;
    tu_rng_init(&r, seed);
    struct ref_entry *ref = calloc(n, sizeof *ref);
    assert_non_null(ref);
    struct lsm_memtable *m = lsm_memtable_create();
    assert_non_null(m);
    for (size_t i = 0; i < n; i++) {
        random_entry(&r, i + 1, &ref[i]);
        assert_int_equal(
            lsm_memtable_add(m, ref[i].seq, ref[i].type, ref_key(&ref[i]),
                             st_slice_make(ref[i].val, ref[i].val_len)),
            ST_OK);
    }
    qsort(ref, n, sizeof *ref, ref_cmp);
    *out = ref;
    return m;
}

static void
assert_iter_at(struct lsm_iter *it, const struct ref_entry *e)
{
    assert_true(it->ops->valid(it));
    assert_true(st_slice_equal(it->ops->key(it), ref_key(e)));
    assert_int_equal(it->ops->seq(it), e->seq);
    assert_int_equal(it->ops->type(it), e->type);
    assert_true(
        st_slice_equal(it->ops->value(it), st_slice_make(e->val, e->val_len)));
}

static void
test_memtable_empty_has_nothing(void **state)
{
    (void)state;
    struct lsm_memtable *m = lsm_memtable_create();
    assert_non_null(m);
    enum lsm_value_type type;
    st_slice val;
    assert_false(lsm_memtable_get(m, st_slice_from_cstr("a"), &type, &val));
    assert_int_equal(lsm_memtable_count(m), 0);
    struct lsm_iter *it = lsm_memtable_iter_create(m);
    it->ops->seek_first(it);
    assert_false(it->ops->valid(it));
    it->ops->seek(it, st_slice_make("", 0));
    assert_false(it->ops->valid(it));
    assert_int_equal(it->ops->status(it, NULL), ST_OK);
    lsm_iter_destroy(it);
    lsm_memtable_destroy(m);
    lsm_memtable_destroy(NULL);
}

static void
test_memtable_scan_matches_sorted_reference(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct ref_entry *ref;
    struct lsm_memtable *m = build_random(tu_seed("memtable scan", 1), N, &ref);
    assert_int_equal(lsm_memtable_count(m), N);

    struct lsm_iter *it = lsm_memtable_iter_create(m);
    size_t i = 0;
    for (it->ops->seek_first(it); it->ops->valid(it); it->ops->next(it))
        assert_iter_at(it, &ref[i++]);
    assert_int_equal(i, N);
    lsm_iter_destroy(it);
    lsm_memtable_destroy(m);
    free(ref);
}

/* seek(k) lands on the first entry whose user key is >= k, newest first. */
static void
test_memtable_seek_lands_on_newest_version_at_or_after(void **state)
{
    (void)state;
    enum { N = 3000, PROBES = 2000 };
    struct ref_entry *ref;
    uint64_t seed = tu_seed("memtable seek", 2);
    struct lsm_memtable *m = build_random(seed, N, &ref);
    struct lsm_iter *it = lsm_memtable_iter_create(m);
    struct tu_rng r;
    tu_rng_init(&r, seed + 1);

    for (int p = 0; p < PROBES; p++) {
        struct ref_entry probe;
        random_entry(&r, 0, &probe);
        size_t lo = 0;
        while (lo < N &&
               st_slice_compare(ref_key(&ref[lo]), ref_key(&probe)) < 0)
            lo++;
        it->ops->seek(it, ref_key(&probe));
        if (lo == N)
            assert_false(it->ops->valid(it));
        else
            assert_iter_at(it, &ref[lo]);
    }
    lsm_iter_destroy(it);
    lsm_memtable_destroy(m);
    free(ref);
}

/* get() returns the newest version, tombstones included. */
static void
test_memtable_get_returns_newest_version_or_tombstone(void **state)
{
    (void)state;
    enum { N = 3000 };
    struct ref_entry *ref;
    struct lsm_memtable *m = build_random(tu_seed("memtable get", 3), N, &ref);
    size_t tombstones = 0;
    for (size_t i = 0; i < N; i++) {
        if (i > 0 && st_slice_equal(ref_key(&ref[i - 1]), ref_key(&ref[i])))
            continue; /* an older version: the newest came first */
        enum lsm_value_type type;
        st_slice val;
        assert_true(lsm_memtable_get(m, ref_key(&ref[i]), &type, &val));
        assert_int_equal(type, ref[i].type);
        assert_true(
            st_slice_equal(val, st_slice_make(ref[i].val, ref[i].val_len)));
        tombstones += type == LSM_TYPE_DELETE;
    }
    assert_true(tombstones > 0);
    enum lsm_value_type type;
    st_slice val;
    assert_false(
        lsm_memtable_get(m, st_slice_from_cstr("abcdef"), &type, &val));
    lsm_memtable_destroy(m);
    free(ref);
}

static void
test_memtable_keeps_big_and_empty_entries(void **state)
{
    (void)state;
    enum { BIG = 1 << 20 };
    uint8_t *big = malloc(BIG);
    assert_non_null(big);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (uint8_t)(i * 7);
    struct lsm_memtable *m = lsm_memtable_create();
    size_t before = lsm_memtable_bytes(m);
    assert_int_equal(lsm_memtable_add(m, 1, LSM_TYPE_PUT, st_slice_make("", 0),
                                      st_slice_make("", 0)),
                     ST_OK);
    assert_int_equal(lsm_memtable_add(m, 2, LSM_TYPE_PUT,
                                      st_slice_from_cstr("big"),
                                      st_slice_make(big, BIG)),
                     ST_OK);
    assert_true(lsm_memtable_bytes(m) >= before + BIG);

    enum lsm_value_type type;
    st_slice val;
    assert_true(lsm_memtable_get(m, st_slice_make("", 0), &type, &val));
    assert_int_equal(val.len, 0);
    assert_true(lsm_memtable_get(m, st_slice_from_cstr("big"), &type, &val));
    assert_int_equal(val.len, BIG);
    assert_memory_equal(val.ptr, big, BIG);
    lsm_memtable_destroy(m);
    free(big);
}

/* --- one writer, concurrent readers --- */

enum { CONC_KEYS = 60000, CONC_READERS = 3 };

struct conc {
    struct lsm_memtable *m;
    _Atomic size_t added; /* keys 0..added-1 are in the memtable */
    _Atomic int failures;
};

static void
conc_key(size_t i, uint8_t out[8])
{
    /* A bit-reversal-like spread, so inserts land all over the list. */
    uint64_t k = (uint64_t)i * UINT64_C(0x9e3779b97f4a7c15);
    for (int b = 0; b < 8; b++)
        out[b] = (uint8_t)(k >> (56 - 8 * b));
}

/* Walks the whole list: it must be sorted, and hold at least every key
 * that was added before the walk started. */
static int
conc_check_scan(struct conc *c, struct lsm_iter *it)
{
    size_t floor = atomic_load(&c->added), seen = 0;
    uint8_t prev[8];
    for (it->ops->seek_first(it); it->ops->valid(it); it->ops->next(it)) {
        st_slice k = it->ops->key(it);
        if (k.len != 8 || (seen > 0 && memcmp(prev, k.ptr, 8) >= 0))
            return 1;
        memcpy(prev, k.ptr, 8);
        seen++;
    }
    return seen < floor;
}

static void *
conc_reader(void *arg)
{
    struct conc *c = arg;
    struct lsm_iter *it = lsm_memtable_iter_create(c->m);
    int bad = 0;
    for (uint64_t round = 0; atomic_load(&c->added) < CONC_KEYS; round++) {
        bad += conc_check_scan(c, it);
        size_t added = atomic_load(&c->added);
        for (size_t i = 0; added > 0 && i < 200; i++) {
            uint8_t key[8];
            size_t pick = (size_t)(round * 7919 + i * 104729) % added;
            conc_key(pick, key);
            enum lsm_value_type type;
            st_slice val;
            bad +=
                !lsm_memtable_get(c->m, st_slice_make(key, 8), &type, &val) ||
                val.len != 8 || memcmp(val.ptr, key, 8) != 0;
        }
    }
    bad += conc_check_scan(c, it);
    lsm_iter_destroy(it);
    atomic_fetch_add(&c->failures, bad);
    return NULL;
}

static void
test_memtable_readers_see_sorted_list_while_writer_adds(void **state)
{
    (void)state;
    struct conc c = {.m = lsm_memtable_create()};
    atomic_init(&c.added, 0);
    atomic_init(&c.failures, 0);
    pthread_t readers[CONC_READERS];
    for (int i = 0; i < CONC_READERS; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, conc_reader, &c), 0);
    for (size_t i = 0; i < CONC_KEYS; i++) {
        uint8_t key[8];
        conc_key(i, key);
        assert_int_equal(lsm_memtable_add(c.m, i + 1, LSM_TYPE_PUT,
                                          st_slice_make(key, 8),
                                          st_slice_make(key, 8)),
                         ST_OK);
        atomic_store(&c.added, i + 1);
    }
    for (int i = 0; i < CONC_READERS; i++)
        assert_int_equal(pthread_join(readers[i], NULL), 0);
    assert_int_equal(atomic_load(&c.failures), 0);
    lsm_memtable_destroy(c.m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memtable_empty_has_nothing),
        cmocka_unit_test(test_memtable_scan_matches_sorted_reference),
        cmocka_unit_test(
            test_memtable_seek_lands_on_newest_version_at_or_after),
        cmocka_unit_test(test_memtable_get_returns_newest_version_or_tombstone),
        cmocka_unit_test(test_memtable_keeps_big_and_empty_entries),
        cmocka_unit_test(
            test_memtable_readers_see_sorted_list_while_writer_adds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
