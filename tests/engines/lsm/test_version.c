/*
 * Versions (src/engines/lsm/version.c): edits make new immutable
 * versions with each level in order; lookups find the one table of a
 * level that can hold a key; a tombstone is kept while a deeper level may
 * hold its key; an obsolete table file is deleted only when the last
 * version holding it goes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engines/lsm/version.h"
#include "testutil.h"

/* A table reference without an open table (lsm_table_close(NULL) does
 * nothing), enough for everything but reads. */
static struct lsm_tref *
tref(uint64_t number, const char *min, const char *max, const char *path)
{
    char *p = strdup(path != NULL ? path : "/nonexistent/table");
    struct lsm_tref *t =
        lsm_tref_create(NULL, p, number, 1000 * number, 10, 1, 2,
                        st_slice_from_cstr(min), st_slice_from_cstr(max));
    assert_non_null(t);
    return t;
}

static struct lsm_version *
with(struct lsm_version *base, int level, struct lsm_tref *t)
{
    struct lsm_version_change add = {.level = level, .table = t};
    struct lsm_version *v = lsm_version_edit(base, &add, 1, NULL, 0);
    assert_non_null(v);
    lsm_tref_unref(t); /* the version holds it now */
    lsm_version_unref(base);
    return v;
}

static void
test_version_orders_levels(void **state)
{
    (void)state;
    struct lsm_version *v = lsm_version_create();
    v = with(v, 0, tref(3, "a", "z", NULL));
    v = with(v, 0, tref(9, "c", "d", NULL));
    v = with(v, 0, tref(5, "b", "y", NULL));
    v = with(v, 1, tref(7, "m", "p", NULL));
    v = with(v, 1, tref(4, "a", "c", NULL));
    v = with(v, 1, tref(6, "e", "g", NULL));
    /* Level 0 newest first; level 1 by key. */
    assert_int_equal(v->files[0][0]->number, 9);
    assert_int_equal(v->files[0][1]->number, 5);
    assert_int_equal(v->files[0][2]->number, 3);
    assert_int_equal(v->files[1][0]->number, 4);
    assert_int_equal(v->files[1][1]->number, 6);
    assert_int_equal(v->files[1][2]->number, 7);
    assert_int_equal(lsm_version_tables(v), 6);
    assert_int_equal(lsm_version_level_bytes(v, 1), 17000);

    /* find: the first table whose max key is >= the key. */
    assert_int_equal(lsm_version_find(v, 1, st_slice_from_cstr("b")), 0);
    assert_int_equal(lsm_version_find(v, 1, st_slice_from_cstr("d")), 1);
    assert_int_equal(lsm_version_find(v, 1, st_slice_from_cstr("h")), 2);
    assert_int_equal(lsm_version_find(v, 1, st_slice_from_cstr("q")), 3);
    assert_true(lsm_version_overlaps(v, 1, st_slice_from_cstr("d"),
                                     st_slice_from_cstr("e")));
    assert_false(lsm_version_overlaps(v, 1, st_slice_from_cstr("h"),
                                      st_slice_from_cstr("l")));
    /* A tombstone at level 0 for "n" must stay (level 1 may hold "n");
     * one at level 1 may go (nothing deeper). */
    assert_true(lsm_version_key_may_be_below(v, 0, st_slice_from_cstr("n")));
    assert_false(lsm_version_key_may_be_below(v, 0, st_slice_from_cstr("h")));
    assert_false(lsm_version_key_may_be_below(v, 1, st_slice_from_cstr("n")));
    lsm_version_unref(v);
}

/* Removing and adding in one edit moves a table; the old version is
 * unchanged. */
static void
test_version_edit_leaves_the_base_alone(void **state)
{
    (void)state;
    struct lsm_version *v1 =
        with(lsm_version_create(), 1, tref(4, "a", "c", NULL));
    struct lsm_version_change rem = {.level = 1, .number = 4};
    struct lsm_version_change add = {.level = 2, .table = v1->files[1][0]};
    struct lsm_version *v2 = lsm_version_edit(v1, &add, 1, &rem, 1);
    assert_non_null(v2);
    assert_int_equal(v1->count[1], 1);
    assert_int_equal(v1->count[2], 0);
    assert_int_equal(v2->count[1], 0);
    assert_int_equal(v2->count[2], 1);
    assert_ptr_equal(v2->files[2][0], v1->files[1][0]);
    lsm_version_unref(v1);
    assert_int_equal(v2->files[2][0]->number, 4); /* still alive */
    lsm_version_unref(v2);
}

/* An obsolete table's file goes with the last version naming it, not
 * before: a scan holding an old version can still read it. */
static void
test_version_deletes_obsolete_file_at_last_reference(void **state)
{
    (void)state;
    char *dir = tu_tmpdir_create();
    char *path = tu_path_join(dir, "000004.sst");
    tu_write_file(path, (const uint8_t *)"x", 1);
    struct lsm_version *v1 =
        with(lsm_version_create(), 1, tref(4, "a", "c", path));
    struct lsm_version_change rem = {.level = 1, .number = 4};
    struct lsm_version *v2 = lsm_version_edit(v1, NULL, 0, &rem, 1);
    atomic_store(&v1->files[1][0]->obsolete, true);
    lsm_version_unref(v2);
    assert_int_equal(access(path, F_OK), 0); /* v1 still holds it */
    lsm_version_unref(v1);
    assert_int_equal(access(path, F_OK), -1);
    free(path);
    tu_tmpdir_remove(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_orders_levels),
        cmocka_unit_test(test_version_edit_leaves_the_base_alone),
        cmocka_unit_test(test_version_deletes_obsolete_file_at_last_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
