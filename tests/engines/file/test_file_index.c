/*
 * Tests for engines/file/file_index.c, the file engine's hash index:
 * exact lookups, in-place updates, deletes that keep probe runs
 * reachable, growth past the size where slot arrays are mapped, and the
 * read path's probe by hash, all against a plain reference array.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/file/file_index.h"
#include "testutil.h"

static st_slice
cs(const char *s)
{
    return st_slice_from_cstr(s);
}

static struct file_loc
loc_of(uint64_t n)
{
    return (struct file_loc){.seq = n,
                             .seg_id = n * 7 + 1,
                             .off = n * 131,
                             .val_len = (uint32_t)(n % 1000),
                             .tombstone = n % 3 == 0};
}

static void
assert_loc_equal(const struct file_loc *a, const struct file_loc *b)
{
    assert_true(a->seq == b->seq);
    assert_true(a->seg_id == b->seg_id);
    assert_true(a->off == b->off);
    assert_int_equal(a->val_len, b->val_len);
    assert_int_equal(a->tombstone, b->tombstone);
}

/* What the read path sees: a probe by hash yields 'key' (is_key true) with
 * 'want', or, when want is NULL, no candidate that is the key. */
static void
assert_probe(const struct file_index *idx, st_slice key,
             const struct file_loc *want)
{
    struct file_index_probe p;
    const struct file_loc *loc;
    bool found = false;
    file_index_probe_start(idx, key, &p);
    while ((loc = file_index_probe_next(idx, &p)) != NULL) {
        if (!file_index_probe_is_key(idx, &p, key))
            continue;
        assert_false(found);
        assert_non_null(want);
        assert_loc_equal(loc, want);
        found = true;
    }
    assert_int_equal(found, want != NULL);
    /* An exhausted probe stays exhausted. */
    assert_null(file_index_probe_next(idx, &p));
}

static void
assert_has(const struct file_index *idx, st_slice key,
           const struct file_loc *want)
{
    struct file_loc got;
    if (want == NULL) {
        assert_false(file_index_get(idx, key, &got));
    } else {
        assert_true(file_index_get(idx, key, &got));
        assert_loc_equal(&got, want);
    }
    assert_probe(idx, key, want);
}

static void
test_file_index_destroy_null_is_noop(void **state)
{
    (void)state;
    file_index_destroy(NULL);
}

static void
test_file_index_new_index_is_empty(void **state)
{
    (void)state;
    struct file_index *idx = file_index_create();
    assert_non_null(idx);
    assert_int_equal(file_index_count(idx), 0);
    assert_has(idx, cs("k"), NULL);
    assert_null(file_index_find(idx, cs("k")));
    assert_false(file_index_delete(idx, cs("k")));
    size_t pos = 0;
    st_slice k;
    struct file_loc loc;
    assert_false(file_index_next(idx, &pos, &k, &loc));
    file_index_destroy(idx);
}

static void
test_file_index_put_get_delete(void **state)
{
    (void)state;
    struct file_index *idx = file_index_create();
    struct file_loc a = loc_of(1), b = loc_of(2), old;
    bool had_old = true;
    assert_int_equal(file_index_put(idx, cs("alpha"), &a, &old, &had_old),
                     ST_OK);
    assert_false(had_old);
    assert_int_equal(file_index_put(idx, cs("beta"), &b, &old, &had_old),
                     ST_OK);
    assert_false(had_old);
    assert_int_equal(file_index_count(idx), 2);
    assert_has(idx, cs("alpha"), &a);
    assert_has(idx, cs("beta"), &b);
    assert_has(idx, cs("alph"), NULL);

    /* An overwrite hands back the location it replaced. */
    struct file_loc c = loc_of(3);
    assert_int_equal(file_index_put(idx, cs("alpha"), &c, &old, &had_old),
                     ST_OK);
    assert_true(had_old);
    assert_loc_equal(&old, &a);
    assert_has(idx, cs("alpha"), &c);
    assert_int_equal(file_index_count(idx), 2);

    assert_true(file_index_delete(idx, cs("alpha")));
    assert_false(file_index_delete(idx, cs("alpha")));
    assert_has(idx, cs("alpha"), NULL);
    assert_has(idx, cs("beta"), &b);
    assert_int_equal(file_index_count(idx), 1);
    file_index_destroy(idx);
}

/* Merge and replay change a location through file_index_find(). */
static void
test_file_index_find_changes_location_in_place(void **state)
{
    (void)state;
    struct file_index *idx = file_index_create();
    struct file_loc a = loc_of(4), old;
    bool had_old;
    assert_int_equal(file_index_put(idx, cs("k"), &a, &old, &had_old), ST_OK);
    struct file_loc *p = file_index_find(idx, cs("k"));
    assert_non_null(p);
    p->seg_id = 99;
    p->off = 12345;
    a.seg_id = 99;
    a.off = 12345;
    assert_has(idx, cs("k"), &a);
    assert_null(file_index_find(idx, cs("other")));
    file_index_destroy(idx);
}

static void
test_file_index_keys_are_copied_and_binary(void **state)
{
    (void)state;
    struct file_index *idx = file_index_create();
    uint8_t k1[] = {'a', 0, 'b'}, k2[] = {'a', 0, 'c'}, k3[] = {'a'};
    struct file_loc l1 = loc_of(5), l2 = loc_of(6), l3 = loc_of(7), old;
    bool had_old;
    assert_int_equal(
        file_index_put(idx, st_slice_make(k1, 3), &l1, &old, &had_old), ST_OK);
    assert_int_equal(
        file_index_put(idx, st_slice_make(k2, 3), &l2, &old, &had_old), ST_OK);
    assert_int_equal(
        file_index_put(idx, st_slice_make(k3, 1), &l3, &old, &had_old), ST_OK);
    k1[2] = 'z'; /* the index kept its own copy */
    uint8_t orig[] = {'a', 0, 'b'};
    assert_has(idx, st_slice_make(orig, 3), &l1);
    assert_has(idx, st_slice_make(k1, 3), NULL);
    assert_has(idx, st_slice_make(k2, 3), &l2);
    assert_has(idx, st_slice_make(k3, 1), &l3);
    assert_int_equal(file_index_count(idx), 3);
    file_index_destroy(idx);
}

/* 100,000 keys take the slot array past 2 MiB, where it is mapped
 * rather than allocated, and through many resizes. */
static void
test_file_index_grows_past_many_resizes(void **state)
{
    (void)state;
    enum { N = 100000 };
    struct file_index *idx = file_index_create();
    uint8_t k[16];
    struct file_loc old;
    bool had_old;
    for (uint32_t i = 0; i < N; i++) {
        struct file_loc l = loc_of(i);
        assert_int_equal(file_index_put(idx, st_slice_make(k, tu_binary_key(k, i)),
                                        &l, &old, &had_old),
                         ST_OK);
        assert_false(had_old);
    }
    assert_int_equal(file_index_count(idx), N);
    for (uint32_t i = 0; i < N; i++) {
        struct file_loc l = loc_of(i);
        assert_has(idx, st_slice_make(k, tu_binary_key(k, i)), &l);
    }
    /* Delete the odd keys: the even ones stay reachable. */
    for (uint32_t i = 1; i < N; i += 2)
        assert_true(file_index_delete(idx, st_slice_make(k, tu_binary_key(k, i))));
    assert_int_equal(file_index_count(idx), N / 2);
    for (uint32_t i = 0; i < N; i++) {
        struct file_loc l = loc_of(i);
        assert_has(idx, st_slice_make(k, tu_binary_key(k, i)), i % 2 ? NULL : &l);
    }
    file_index_destroy(idx);
}

/* The reference: key i of a small key space, present or not, and its
 * location. */
struct model {
    size_t nkeys;
    bool *present;
    struct file_loc *locs;
    size_t count;
};

static void
model_check_all(const struct file_index *idx, const struct model *m)
{
    uint8_t kb[16];
    assert_int_equal(file_index_count(idx), m->count);
    for (size_t i = 0; i < m->nkeys; i++)
        assert_has(idx, st_slice_make(kb, tu_binary_key(kb, (uint32_t)i)),
                   m->present[i] ? &m->locs[i] : NULL);

    /* Iteration visits every key once, with its location. */
    bool *seen = calloc(m->nkeys, sizeof *seen);
    assert_non_null(seen);
    size_t pos = 0, visits = 0;
    st_slice key;
    struct file_loc loc;
    while (file_index_next(idx, &pos, &key, &loc)) {
        size_t i = 0;
        while (
            i < m->nkeys &&
            !st_slice_equal(key, st_slice_make(kb, tu_binary_key(kb, (uint32_t)i))))
            i++;
        assert_true(i < m->nkeys);
        assert_true(m->present[i]);
        assert_false(seen[i]);
        seen[i] = true;
        assert_loc_equal(&loc, &m->locs[i]);
        visits++;
    }
    assert_int_equal(visits, m->count);
    free(seen);
}

static void
run_model(struct tu_rng *rng, size_t nkeys, int ops)
{
    struct file_index *idx = file_index_create();
    struct model m = {nkeys, calloc(nkeys, sizeof(bool)),
                      calloc(nkeys, sizeof(struct file_loc)), 0};
    assert_non_null(m.present);
    assert_non_null(m.locs);
    uint8_t kb[16];
    for (int op = 0; op < ops; op++) {
        size_t i = tu_rng_below(rng, nkeys);
        st_slice key = st_slice_make(kb, tu_binary_key(kb, (uint32_t)i));
        uint64_t r = tu_rng_below(rng, 100);
        if (r < 50) {
            struct file_loc l = loc_of(tu_rng_next(rng) >> 20), old;
            bool had_old;
            assert_int_equal(file_index_put(idx, key, &l, &old, &had_old),
                             ST_OK);
            assert_int_equal(had_old, m.present[i]);
            if (had_old)
                assert_loc_equal(&old, &m.locs[i]);
            m.count += !m.present[i];
            m.present[i] = true;
            m.locs[i] = l;
        } else if (r < 85) {
            assert_int_equal(file_index_delete(idx, key), m.present[i]);
            m.count -= m.present[i];
            m.present[i] = false;
        } else {
            assert_has(idx, key, m.present[i] ? &m.locs[i] : NULL);
        }
        if (op % 997 == 0)
            model_check_all(idx, &m);
    }
    model_check_all(idx, &m);
    free(m.present);
    free(m.locs);
    file_index_destroy(idx);
}

/* Key spaces of 3/4 of a power of two fill the table to its maximum load
 * without growing it, so probe runs collide and wrap; the larger ones
 * make the table grow mid-run. */
static void
test_file_index_matches_reference_under_random_ops(void **state)
{
    (void)state;
    static const size_t key_spaces[] = {3, 12, 24, 48, 96, 1000};
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("file index model", 41));
    for (size_t s = 0; s < sizeof key_spaces / sizeof key_spaces[0]; s++)
        run_model(&rng, key_spaces[s], 20000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_index_destroy_null_is_noop),
        cmocka_unit_test(test_file_index_new_index_is_empty),
        cmocka_unit_test(test_file_index_put_get_delete),
        cmocka_unit_test(test_file_index_find_changes_location_in_place),
        cmocka_unit_test(test_file_index_keys_are_copied_and_binary),
        cmocka_unit_test(test_file_index_grows_past_many_resizes),
        cmocka_unit_test(test_file_index_matches_reference_under_random_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
