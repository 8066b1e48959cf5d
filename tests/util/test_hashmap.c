/*
 * Tests for util/hashmap.c: the index of the memory and file engines
 * (DDIA 3.1, "Hash Indexes"). Besides the single operations, a seeded
 * model check runs random put/get/delete over key spaces sized to keep
 * the table at its highest load (3/4), where probe runs are long and
 * wrap around the end, so backward-shift deletion is exercised in every
 * shape; every key is checked against a plain array afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "util/hashmap.h"

static st_slice
cs(const char *s)
{
    return st_slice_from_cstr(s);
}

static void
assert_get(const struct hashmap *map, st_slice key, st_slice expect)
{
    st_slice got = {NULL, 0};
    assert_true(hashmap_get(map, key, &got));
    assert_int_equal(got.len, expect.len);
    if (expect.len)
        assert_memory_equal(got.ptr, expect.ptr, expect.len);
}

static void
assert_absent(const struct hashmap *map, st_slice key)
{
    st_slice got = {NULL, 0};
    assert_false(hashmap_get(map, key, &got));
}

static void
test_hashmap_destroy_null_is_noop(void **state)
{
    hashmap_destroy(NULL);
}

static void
test_hashmap_new_map_is_empty(void **state)
{
    struct hashmap *map = hashmap_create();
    assert_non_null(map);
    assert_int_equal(hashmap_count(map), 0);
    assert_int_equal(hashmap_data_bytes(map), 0);
    assert_absent(map, cs("k"));
    assert_absent(map, cs(""));
    assert_false(hashmap_delete(map, cs("k")));

    size_t pos = 0;
    st_slice k, v;
    assert_false(hashmap_next(map, &pos, &k, &v));
    hashmap_destroy(map);
}

static void
test_hashmap_put_get_delete(void **state)
{
    struct hashmap *map = hashmap_create();
    assert_int_equal(hashmap_put(map, cs("alpha"), cs("1")), ST_OK);
    assert_int_equal(hashmap_put(map, cs("beta"), cs("22")), ST_OK);
    assert_int_equal(hashmap_count(map), 2);
    assert_get(map, cs("alpha"), cs("1"));
    assert_get(map, cs("beta"), cs("22"));
    assert_absent(map, cs("gamma"));
    assert_absent(map, cs("alph"));   /* a prefix is another key */
    assert_absent(map, cs("alphaa")); /* and so is an extension */

    assert_true(hashmap_delete(map, cs("alpha")));
    assert_false(hashmap_delete(map, cs("alpha")));
    assert_absent(map, cs("alpha"));
    assert_get(map, cs("beta"), cs("22"));
    assert_int_equal(hashmap_count(map), 1);
    assert_int_equal(hashmap_data_bytes(map), 4 + 2);
    hashmap_destroy(map);
}

/* The map copies: changing the caller's bytes afterwards changes
 * nothing stored. */
static void
test_hashmap_put_copies_key_and_value(void **state)
{
    struct hashmap *map = hashmap_create();
    char key[] = "key", val[] = "value";
    assert_int_equal(hashmap_put(map, cs(key), cs(val)), ST_OK);
    key[0] = 'X';
    val[0] = 'X';
    assert_get(map, cs("key"), cs("value"));
    assert_absent(map, cs(key));
    hashmap_destroy(map);
}

static void
test_hashmap_overwrite_same_length_in_place(void **state)
{
    struct hashmap *map = hashmap_create();
    assert_int_equal(hashmap_put(map, cs("k"), cs("aaaa")), ST_OK);
    st_slice before;
    assert_true(hashmap_get(map, cs("k"), &before));

    assert_int_equal(hashmap_put(map, cs("k"), cs("bbbb")), ST_OK);
    st_slice after;
    assert_true(hashmap_get(map, cs("k"), &after));
    assert_ptr_equal(after.ptr, before.ptr); /* no new allocation */
    assert_get(map, cs("k"), cs("bbbb"));
    assert_int_equal(hashmap_count(map), 1);
    assert_int_equal(hashmap_data_bytes(map), 1 + 4);
    hashmap_destroy(map);
}

static void
test_hashmap_overwrite_different_length(void **state)
{
    struct hashmap *map = hashmap_create();
    assert_int_equal(hashmap_put(map, cs("k"), cs("aaaa")), ST_OK);
    assert_int_equal(hashmap_put(map, cs("k"), cs("bbbbbbbbb")), ST_OK);
    assert_get(map, cs("k"), cs("bbbbbbbbb"));
    assert_int_equal(hashmap_count(map), 1);
    assert_int_equal(hashmap_data_bytes(map), 1 + 9);

    assert_int_equal(hashmap_put(map, cs("k"), cs("c")), ST_OK);
    assert_get(map, cs("k"), cs("c"));
    assert_int_equal(hashmap_count(map), 1);
    assert_int_equal(hashmap_data_bytes(map), 1 + 1);

    assert_int_equal(hashmap_put(map, cs("k"), cs("")), ST_OK);
    assert_get(map, cs("k"), cs(""));
    assert_int_equal(hashmap_data_bytes(map), 1);
    hashmap_destroy(map);
}

static void
test_hashmap_binary_keys_with_nul_are_distinct(void **state)
{
    struct hashmap *map = hashmap_create();
    st_slice k1 = st_slice_make("a\0b", 3);
    st_slice k2 = st_slice_make("a\0c", 3);
    st_slice k3 = st_slice_make("a", 1);
    st_slice k4 = st_slice_make("a\0", 2);
    st_slice k5 = st_slice_make("\0", 1);
    st_slice v1 = st_slice_make("\0\0\1", 3);

    assert_int_equal(hashmap_put(map, k1, v1), ST_OK);
    assert_int_equal(hashmap_put(map, k2, cs("two")), ST_OK);
    assert_int_equal(hashmap_put(map, k3, cs("three")), ST_OK);
    assert_int_equal(hashmap_put(map, k4, cs("four")), ST_OK);
    assert_int_equal(hashmap_count(map), 4);
    assert_get(map, k1, v1);
    assert_get(map, k2, cs("two"));
    assert_get(map, k3, cs("three"));
    assert_get(map, k4, cs("four"));
    assert_absent(map, k5);
    assert_absent(map, st_slice_make("a\0b\0", 4));

    assert_true(hashmap_delete(map, k4));
    assert_get(map, k3, cs("three"));
    assert_get(map, k1, v1);
    hashmap_destroy(map);
}

static void
test_hashmap_empty_key_and_empty_value(void **state)
{
    struct hashmap *map = hashmap_create();
    assert_int_equal(hashmap_put(map, cs(""), cs("")), ST_OK);
    assert_int_equal(hashmap_count(map), 1);
    assert_int_equal(hashmap_data_bytes(map), 0);
    assert_get(map, cs(""), cs(""));
    assert_get(map, st_slice_make(NULL, 0), cs(""));
    assert_absent(map, st_slice_make("\0", 1));

    assert_int_equal(hashmap_put(map, cs(""), cs("v")), ST_OK);
    assert_get(map, cs(""), cs("v"));
    assert_int_equal(hashmap_put(map, cs("k"), st_slice_make(NULL, 0)), ST_OK);
    assert_get(map, cs("k"), cs(""));
    assert_int_equal(hashmap_count(map), 2);
    assert_int_equal(hashmap_data_bytes(map), 1 + 1);

    assert_true(hashmap_delete(map, cs("")));
    assert_absent(map, cs(""));
    assert_get(map, cs("k"), cs(""));
    assert_int_equal(hashmap_count(map), 1);
    hashmap_destroy(map);
}

static void
test_hashmap_get_mut_changes_value_in_place(void **state)
{
    struct hashmap *map = hashmap_create();
    assert_int_equal(hashmap_put(map, cs("pos"), cs("00000000")), ST_OK);

    uint8_t *val = NULL;
    size_t len = 0;
    assert_true(hashmap_get_mut(map, cs("pos"), &val, &len));
    assert_int_equal(len, 8);
    assert_memory_equal(val, "00000000", 8);
    memcpy(val, "12345678", 8);
    assert_get(map, cs("pos"), cs("12345678"));
    assert_int_equal(hashmap_data_bytes(map), 3 + 8);

    assert_false(hashmap_get_mut(map, cs("nope"), &val, &len));
    hashmap_destroy(map);
}

/* A caller may pass back slices the map lent it (e.g. re-putting what
 * it just read): the map must copy before it frees. */
static void
test_hashmap_put_accepts_slices_borrowed_from_itself(void **state)
{
    struct hashmap *map = hashmap_create();
    assert_int_equal(hashmap_put(map, cs("key"), cs("value")), ST_OK);

    size_t pos = 0;
    st_slice k, v;
    assert_true(hashmap_next(map, &pos, &k, &v));
    assert_int_equal(hashmap_put(map, k, v), ST_OK); /* same length */
    assert_get(map, cs("key"), cs("value"));

    pos = 0;
    assert_true(hashmap_next(map, &pos, &k, &v));
    assert_int_equal(hashmap_put(map, k, st_slice_make(v.ptr, 2)), ST_OK);
    assert_get(map, cs("key"), cs("va"));
    assert_int_equal(hashmap_count(map), 1);
    assert_int_equal(hashmap_data_bytes(map), 3 + 2);
    hashmap_destroy(map);
}

static void
test_hashmap_grows_past_many_resizes(void **state)
{
    enum { N = 100000 };
    struct hashmap *map = hashmap_create();
    uint8_t k[16];
    uint64_t bytes = 0;

    for (uint32_t i = 0; i < N; i++) {
        size_t kl = tu_binary_key(k, i);
        uint32_t v = i * 2654435761u;
        assert_int_equal(
            hashmap_put(map, st_slice_make(k, kl), st_slice_make(&v, 4)),
            ST_OK);
        bytes += kl + 4;
    }
    assert_int_equal(hashmap_count(map), N);
    assert_true(hashmap_data_bytes(map) == bytes);

    for (uint32_t i = 0; i < N; i++) {
        size_t kl = tu_binary_key(k, i);
        uint32_t v = i * 2654435761u;
        assert_get(map, st_slice_make(k, kl), st_slice_make(&v, 4));
    }

    /* Delete the odd keys: the even ones stay reachable. */
    for (uint32_t i = 1; i < N; i += 2) {
        size_t kl = tu_binary_key(k, i);
        assert_true(hashmap_delete(map, st_slice_make(k, kl)));
        bytes -= kl + 4;
    }
    assert_int_equal(hashmap_count(map), N / 2);
    assert_true(hashmap_data_bytes(map) == bytes);
    for (uint32_t i = 0; i < N; i++) {
        size_t kl = tu_binary_key(k, i);
        uint32_t v = i * 2654435761u;
        if (i % 2)
            assert_absent(map, st_slice_make(k, kl));
        else
            assert_get(map, st_slice_make(k, kl), st_slice_make(&v, 4));
    }
    hashmap_destroy(map);
}

/* The reference: key i of a small key space, present or not, and its
 * value. */
struct model {
    size_t nkeys;
    bool *present;
    struct st_buf *vals;
    size_t count;
    uint64_t bytes;
};

static void
model_init(struct model *m, size_t nkeys)
{
    m->nkeys = nkeys;
    m->present = calloc(nkeys, sizeof *m->present);
    m->vals = calloc(nkeys, sizeof *m->vals);
    assert_non_null(m->present);
    assert_non_null(m->vals);
    m->count = 0;
    m->bytes = 0;
}

static void
model_deinit(struct model *m)
{
    for (size_t i = 0; i < m->nkeys; i++)
        st_buf_free(&m->vals[i]);
    free(m->vals);
    free(m->present);
}

/* Key 0 is the empty key; the rest are binary with NULs. */
static st_slice
model_key(uint8_t *buf, size_t i)
{
    if (i == 0)
        return st_slice_make(NULL, 0);
    return st_slice_make(buf, tu_binary_key(buf, (uint32_t)i));
}

static void
model_check_all(const struct hashmap *map, const struct model *m)
{
    uint8_t kb[16];
    assert_int_equal(hashmap_count(map), m->count);
    assert_true(hashmap_data_bytes(map) == m->bytes);
    for (size_t i = 0; i < m->nkeys; i++) {
        st_slice key = model_key(kb, i);
        if (m->present[i])
            assert_get(map, key, st_buf_slice(&m->vals[i]));
        else
            assert_absent(map, key);
    }
}

static void
model_put(struct hashmap *map, struct model *m, struct tu_rng *rng, size_t i)
{
    uint8_t kb[16], vb[100];
    st_slice key = model_key(kb, i);
    /* Mostly short values, so same-length overwrites are common. */
    size_t vl = tu_rng_below(rng, 10) ? tu_rng_below(rng, 6)
                                      : tu_rng_below(rng, sizeof vb);
    tu_rng_fill(rng, vb, vl);
    assert_int_equal(hashmap_put(map, key, st_slice_make(vb, vl)), ST_OK);
    if (m->present[i]) {
        m->bytes -= m->vals[i].len;
    } else {
        m->present[i] = true;
        m->count++;
        m->bytes += key.len;
    }
    assert_true(st_buf_set(&m->vals[i], st_slice_make(vb, vl)));
    m->bytes += vl;
}

static void
model_delete(struct hashmap *map, struct model *m, size_t i)
{
    uint8_t kb[16];
    st_slice key = model_key(kb, i);
    assert_int_equal(hashmap_delete(map, key), m->present[i]);
    if (m->present[i]) {
        m->present[i] = false;
        m->count--;
        m->bytes -= key.len + m->vals[i].len;
    }
}

static void
model_get(const struct hashmap *map, const struct model *m, size_t i)
{
    uint8_t kb[16];
    st_slice key = model_key(kb, i);
    if (m->present[i])
        assert_get(map, key, st_buf_slice(&m->vals[i]));
    else
        assert_absent(map, key);
}

static void
run_model(struct tu_rng *rng, size_t nkeys, int ops)
{
    struct hashmap *map = hashmap_create();
    struct model m;
    model_init(&m, nkeys);

    for (int op = 0; op < ops; op++) {
        size_t i = tu_rng_below(rng, nkeys);
        uint64_t r = tu_rng_below(rng, 100);
        if (r < 50)
            model_put(map, &m, rng, i);
        else if (r < 85)
            model_delete(map, &m, i);
        else
            model_get(map, &m, i);
        assert_int_equal(hashmap_count(map), m.count);
        assert_true(hashmap_data_bytes(map) == m.bytes);
        if (op % 997 == 0)
            model_check_all(map, &m);
    }
    model_check_all(map, &m);

    /* Drain: deleting everything in random order leaves every other
     * key reachable at each step. */
    for (size_t n = 0; n < nkeys * 2 && m.count > 0; n++) {
        model_delete(map, &m, tu_rng_below(rng, nkeys));
        model_check_all(map, &m);
    }
    model_deinit(&m);
    hashmap_destroy(map);
}

/* Key spaces of 3/4 of a power of two fill the table to its maximum load
 * without growing it, so probe runs collide and wrap; the larger ones
 * make the table grow mid-run. */
static void
test_hashmap_matches_reference_under_random_ops(void **state)
{
    static const size_t key_spaces[] = {3, 12, 24, 48, 96, 192, 1000};
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("hashmap model", 31));
    for (size_t s = 0; s < sizeof key_spaces / sizeof key_spaces[0]; s++)
        run_model(&rng, key_spaces[s], 30000);
}

/* Fill a fresh table to its maximum load, then delete in random order,
 * checking after every delete that the rest is still found: a wrong
 * backward shift strands a key behind an empty slot. */
static void
test_hashmap_delete_keeps_probe_run_reachable(void **state)
{
    enum { FULL = 12, ROUNDS = 2000 };
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("hashmap delete", 37));

    for (int round = 0; round < ROUNDS; round++) {
        struct hashmap *map = hashmap_create();
        uint8_t keys[FULL][8];
        for (int i = 0; i < FULL; i++) {
            tu_rng_fill(&rng, keys[i], 7);
            keys[i][7] = (uint8_t)i; /* distinct */
            assert_int_equal(hashmap_put(map, st_slice_make(keys[i], 8),
                                         st_slice_make(&i, sizeof i)),
                             ST_OK);
        }
        int order[FULL];
        for (int i = 0; i < FULL; i++)
            order[i] = i;
        for (int i = FULL - 1; i > 0; i--) {
            int j = (int)tu_rng_below(&rng, (uint64_t)i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int d = 0; d < FULL; d++) {
            assert_true(hashmap_delete(map, st_slice_make(keys[order[d]], 8)));
            for (int r = d + 1; r < FULL; r++) {
                int i = order[r];
                assert_get(map, st_slice_make(keys[i], 8),
                           st_slice_make(&i, sizeof i));
            }
            assert_absent(map, st_slice_make(keys[order[d]], 8));
        }
        assert_int_equal(hashmap_count(map), 0);
        hashmap_destroy(map);
    }
}

static void
test_hashmap_iteration_visits_every_entry_once(void **state)
{
    enum { N = 5000 };
    struct hashmap *map = hashmap_create();
    uint8_t k[16];
    for (uint32_t i = 0; i < N; i++) {
        size_t kl = tu_binary_key(k, i);
        assert_int_equal(
            hashmap_put(map, st_slice_make(k, kl), st_slice_make(&i, 4)),
            ST_OK);
    }
    for (uint32_t i = 0; i < N; i += 3) { /* leave holes */
        size_t kl = tu_binary_key(k, i);
        assert_true(hashmap_delete(map, st_slice_make(k, kl)));
    }

    static int seen[N];
    memset(seen, 0, sizeof seen);
    size_t pos = 0, visits = 0;
    st_slice key, val;
    while (hashmap_next(map, &pos, &key, &val)) {
        uint32_t i;
        assert_int_equal(val.len, 4);
        memcpy(&i, val.ptr, 4);
        assert_true(i < N);
        size_t kl = tu_binary_key(k, i);
        assert_int_equal(key.len, kl);
        assert_memory_equal(key.ptr, k, kl);
        seen[i]++;
        visits++;
    }
    assert_int_equal(visits, hashmap_count(map));
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(seen[i], i % 3 ? 1 : 0);
    /* Once finished, it stays finished. */
    assert_false(hashmap_next(map, &pos, &key, &val));
    hashmap_destroy(map);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashmap_destroy_null_is_noop),
        cmocka_unit_test(test_hashmap_new_map_is_empty),
        cmocka_unit_test(test_hashmap_put_get_delete),
        cmocka_unit_test(test_hashmap_put_copies_key_and_value),
        cmocka_unit_test(test_hashmap_overwrite_same_length_in_place),
        cmocka_unit_test(test_hashmap_overwrite_different_length),
        cmocka_unit_test(test_hashmap_binary_keys_with_nul_are_distinct),
        cmocka_unit_test(test_hashmap_empty_key_and_empty_value),
        cmocka_unit_test(test_hashmap_get_mut_changes_value_in_place),
        cmocka_unit_test(test_hashmap_put_accepts_slices_borrowed_from_itself),
        cmocka_unit_test(test_hashmap_grows_past_many_resizes),
        cmocka_unit_test(test_hashmap_matches_reference_under_random_ops),
        cmocka_unit_test(test_hashmap_delete_keeps_probe_run_reachable),
        cmocka_unit_test(test_hashmap_iteration_visits_every_entry_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
