/*
 * The merging iterator (src/engines/lsm/merge_iter.c): k sorted sources
 * come out as one stream in internal order (key ascending, newest first),
 * whatever their number, sizes and overlaps; a failing source stops the
 * merge with its error instead of silently showing older versions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/lsm/merge_iter.h"
#include "testutil.h"

/* --- a sorted array as an lsm_iter --- */

struct entry {
    uint8_t key[8];
    size_t key_len;
    uint64_t seq;
    int source;
};

struct array_iter {
    struct lsm_iter base;
    const struct entry *e;
    size_t count, pos;
    bool fail_at_end; /* reports ST_CORRUPT when it runs off the end */
};

static void
arr_seek_first(struct lsm_iter *it)
{
    ((struct array_iter *)it)->pos = 0;
}

static st_slice
entry_key(const struct entry *e)
{
    return st_slice_make(e->key, e->key_len);
}

static void
arr_seek(struct lsm_iter *it, st_slice key)
{
    struct array_iter *a = (struct array_iter *)it;
    a->pos = 0;
    while (a->pos < a->count &&
           st_slice_compare(entry_key(&a->e[a->pos]), key) < 0)
        a->pos++;
}

static void
arr_next(struct lsm_iter *it)
{
    ((struct array_iter *)it)->pos++;
}

static bool
arr_valid(const struct lsm_iter *it)
{
    const struct array_iter *a = (const struct array_iter *)it;
    return a->pos < a->count;
}

static st_slice
arr_key(const struct lsm_iter *it)
{
    const struct array_iter *a = (const struct array_iter *)it;
    return entry_key(&a->e[a->pos]);
}

static uint64_t
arr_seq(const struct lsm_iter *it)
{
    const struct array_iter *a = (const struct array_iter *)it;
    return a->e[a->pos].seq;
}

static enum lsm_value_type
arr_type(const struct lsm_iter *it)
{
    (void)it;
    return LSM_TYPE_PUT;
}

static st_slice
arr_value(const struct lsm_iter *it)
{
    const struct array_iter *a = (const struct array_iter *)it;
    return st_slice_make(&a->e[a->pos].source, sizeof(int));
}

static st_status
arr_status(const struct lsm_iter *it, struct st_error *err)
{
    const struct array_iter *a = (const struct array_iter *)it;
    if (a->fail_at_end && a->pos >= a->count)
        return st_error_set(err, ST_CORRUPT, 0, "bad block in source");
    return ST_OK;
}

static void
arr_destroy(struct lsm_iter *it)
{
    free(it);
}

static const struct lsm_iter_ops arr_ops = {
    arr_seek_first, arr_seek, arr_next,  arr_valid,  arr_key,
    arr_seq,        arr_type, arr_value, arr_status, arr_destroy,
};

static struct lsm_iter *
arr_create(const struct entry *e, size_t count)
{
    struct array_iter *a = calloc(1, sizeof *a);
    assert_non_null(a);
    a->base.ops = &arr_ops;
    a->e = e;
    a->count = count;
    return &a->base;
}

static int
by_internal_order(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    int c = lsm_entry_compare(entry_key(a), a->seq, entry_key(b), b->seq);
    return c != 0 ? c : a->source - b->source;
}

static struct entry
mk(const char *key, uint64_t seq, int source)
{
    struct entry e = {.seq = seq, .source = source};
    e.key_len = strlen(key);
    memcpy(e.key, key, e.key_len);
    return e;
}

/* Versions of one key from several sources come out newest first, and
 * a seek lands on the newest version of the first key >= the target. */
static void
test_merge_iter_orders_versions_newest_first(void **state)
{
    (void)state;
    struct entry a[] = {mk("a", 9, 0), mk("c", 7, 0), mk("e", 1, 0)};
    struct entry b[] = {mk("a", 3, 1), mk("b", 8, 1), mk("c", 2, 1)};
    struct entry c[] = {mk("c", 5, 2), mk("d", 4, 2)};
    struct lsm_iter *kids[] = {arr_create(a, 3), arr_create(b, 3),
                               arr_create(c, 2), arr_create(NULL, 0)};
    struct lsm_iter *it = lsm_merge_iter_create(kids, 4);
    assert_non_null(it);
    static const char *const want_key[] = {"a", "a", "b", "c",
                                           "c", "c", "d", "e"};
    static const uint64_t want_seq[] = {9, 3, 8, 7, 5, 2, 4, 1};
    size_t n = 0;
    for (it->ops->seek_first(it); it->ops->valid(it); it->ops->next(it), n++) {
        assert_true(n < 8);
        assert_true(
            st_slice_equal(it->ops->key(it), st_slice_from_cstr(want_key[n])));
        assert_int_equal(it->ops->seq(it), want_seq[n]);
    }
    assert_int_equal(n, 8);
    assert_int_equal(it->ops->status(it, NULL), ST_OK);

    it->ops->seek(it, st_slice_from_cstr("bb"));
    assert_true(it->ops->valid(it));
    assert_true(st_slice_equal(it->ops->key(it), st_slice_from_cstr("c")));
    assert_int_equal(it->ops->seq(it), 7);
    it->ops->seek(it, st_slice_from_cstr("f"));
    assert_false(it->ops->valid(it));
    lsm_iter_destroy(it);
}

/* The very same (key, seq) in two sources: the source given first wins,
 * so a caller can rank sources when it must. */
static void
test_merge_iter_breaks_ties_by_source_order(void **state)
{
    (void)state;
    struct entry a[] = {mk("k", 4, 0)};
    struct entry b[] = {mk("k", 4, 1)};
    struct lsm_iter *kids[] = {arr_create(b, 1), arr_create(a, 1)};
    struct lsm_iter *it = lsm_merge_iter_create(kids, 2);
    it->ops->seek_first(it);
    int src;
    memcpy(&src, it->ops->value(it).ptr, sizeof src);
    assert_int_equal(src, 1); /* 'b' was given first */
    lsm_iter_destroy(it);
}

/* A source that fails ends the merge with its error. */
static void
test_merge_iter_stops_at_a_failing_source(void **state)
{
    (void)state;
    struct entry a[] = {mk("a", 1, 0), mk("b", 2, 0), mk("z", 3, 0)};
    struct entry b[] = {mk("c", 5, 1)};
    struct lsm_iter *bad = arr_create(b, 1);
    ((struct array_iter *)bad)->fail_at_end = true;
    struct lsm_iter *kids[] = {arr_create(a, 3), bad};
    struct lsm_iter *it = lsm_merge_iter_create(kids, 2);
    size_t n = 0;
    for (it->ops->seek_first(it); it->ops->valid(it); it->ops->next(it))
        n++;
    assert_int_equal(n, 3); /* a, b, c; then the source fails before z */
    struct st_error err = {0};
    assert_int_equal(it->ops->status(it, &err), ST_CORRUPT);
    assert_non_null(strstr(err.msg, "bad block"));
    lsm_iter_destroy(it);
}

/* Many random sources against a sort of their union. */
static void
test_merge_iter_matches_a_sort_of_all_sources(void **state)
{
    (void)state;
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("merge_iter random", 7));
    enum { SOURCES = 9, PER = 300 };
    for (int round = 0; round < 20; round++) {
        struct entry *src[SOURCES], all[SOURCES * PER];
        size_t counts[SOURCES], total = 0;
        uint64_t seq = 1;
        for (int s = 0; s < SOURCES; s++) {
            counts[s] = tu_rng_below(&rng, PER);
            src[s] = calloc(counts[s] + 1, sizeof *src[s]);
            for (size_t i = 0; i < counts[s]; i++) {
                struct entry *e = &src[s][i];
                e->key_len = 1 + tu_rng_below(&rng, 3);
                for (size_t k = 0; k < e->key_len; k++)
                    e->key[k] = (uint8_t)('a' + tu_rng_below(&rng, 4));
                e->seq = seq++; /* unique: a key's versions never tie */
                e->source = s;
            }
            qsort(src[s], counts[s], sizeof *src[s], by_internal_order);
            memcpy(&all[total], src[s], counts[s] * sizeof *src[s]);
            total += counts[s];
        }
        qsort(all, total, sizeof *all, by_internal_order);
        struct lsm_iter *kids[SOURCES];
        for (int s = 0; s < SOURCES; s++)
            kids[s] = arr_create(src[s], counts[s]);
        struct lsm_iter *it = lsm_merge_iter_create(kids, SOURCES);
        size_t n = 0;
        for (it->ops->seek_first(it); it->ops->valid(it);
             it->ops->next(it), n++) {
            assert_true(n < total);
            assert_true(st_slice_equal(it->ops->key(it), entry_key(&all[n])));
            assert_int_equal(it->ops->seq(it), all[n].seq);
        }
        assert_int_equal(n, total);
        lsm_iter_destroy(it);
        for (int s = 0; s < SOURCES; s++)
            free(src[s]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_iter_orders_versions_newest_first),
        cmocka_unit_test(test_merge_iter_breaks_ties_by_source_order),
        cmocka_unit_test(test_merge_iter_stops_at_a_failing_source),
        cmocka_unit_test(test_merge_iter_matches_a_sort_of_all_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
