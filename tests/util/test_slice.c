/*
 * Tests for util/slice.h, util/slice.c and util/status.c: the byte order
 * every sorted engine and /range rely on (memcmp, then length; NUL is an
 * ordinary byte), owned buffers that grow geometrically from a zeroed
 * start, and the status names and error records every layer reports.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "util/slice.h"
#include "util/status.h"

static int
sign(int x)
{
    return (x > 0) - (x < 0);
}

static void
assert_order(st_slice a, st_slice b, int expect)
{
    assert_int_equal(sign(st_slice_compare(a, b)), expect);
    assert_int_equal(sign(st_slice_compare(b, a)), -expect);
    assert_int_equal(st_slice_equal(a, b), expect == 0);
}

static void
test_slice_compare_orders_by_bytes_then_length(void **state)
{
    assert_order(st_slice_from_cstr("abc"), st_slice_from_cstr("abd"), -1);
    assert_order(st_slice_from_cstr("abc"), st_slice_from_cstr("abc"), 0);
    /* A prefix sorts first, whatever the longer slice's next byte. */
    assert_order(st_slice_from_cstr("ab"), st_slice_from_cstr("abc"), -1);
    assert_order(st_slice_from_cstr("b"), st_slice_from_cstr("abc"), 1);
}

static void
test_slice_compare_treats_nul_as_an_ordinary_byte(void **state)
{
    st_slice a0b = st_slice_make("a\0b", 3);
    st_slice a0c = st_slice_make("a\0c", 3);
    st_slice a = st_slice_make("a", 1);
    st_slice a0 = st_slice_make("a\0", 2);
    st_slice a1 = st_slice_make("a\1", 2);

    assert_order(a0b, a0c, -1); /* strcmp would call these equal */
    assert_order(a, a0, -1);    /* "a" is a prefix of "a\0" */
    assert_order(a0, a1, -1);
    assert_order(a0b, a0, 1);
    assert_order(st_slice_make("\0", 1), st_slice_make("\0\0", 2), -1);
}

static void
test_slice_compare_is_unsigned(void **state)
{
    assert_order(st_slice_make("\x7f", 1), st_slice_make("\x80", 1), -1);
    assert_order(st_slice_make("\xff", 1), st_slice_make("\x00\xff", 2), 1);
}

static void
test_slice_empty_sorts_first_and_equals_empty(void **state)
{
    st_slice null_empty = st_slice_make(NULL, 0);
    st_slice lit_empty = st_slice_make("", 0);

    assert_order(null_empty, lit_empty, 0);
    assert_order(null_empty, null_empty, 0);
    assert_order(null_empty, st_slice_make("\0", 1), -1);
    assert_order(lit_empty, st_slice_from_cstr("a"), -1);
}

/* Byte-at-a-time lexicographic order, the definition written out. */
static int
reference_compare(st_slice a, st_slice b)
{
    for (size_t i = 0; i < a.len && i < b.len; i++)
        if (a.ptr[i] != b.ptr[i])
            return a.ptr[i] < b.ptr[i] ? -1 : 1;
    return a.len < b.len ? -1 : a.len > b.len;
}

static void
test_slice_compare_matches_reference_on_random_slices(void **state)
{
    static const uint8_t alphabet[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("slice compare", 23));
    uint8_t x[6], y[6];

    for (int i = 0; i < 50000; i++) {
        size_t xl = tu_rng_below(&rng, sizeof x + 1);
        size_t yl = tu_rng_below(&rng, sizeof y + 1);
        for (size_t k = 0; k < sizeof x; k++) {
            x[k] = alphabet[tu_rng_below(&rng, sizeof alphabet)];
            y[k] = alphabet[tu_rng_below(&rng, sizeof alphabet)];
        }
        st_slice a = st_slice_make(x, xl), b = st_slice_make(y, yl);
        assert_int_equal(sign(st_slice_compare(a, b)), reference_compare(a, b));
    }
}

static void
test_slice_from_cstr_and_buf_slice_borrow(void **state)
{
    const char *s = "hello";
    st_slice sl = st_slice_from_cstr(s);
    assert_ptr_equal(sl.ptr, s);
    assert_int_equal(sl.len, 5);

    struct st_buf b = {0};
    assert_true(st_buf_set(&b, sl));
    st_slice bs = st_buf_slice(&b);
    assert_ptr_equal(bs.ptr, b.ptr);
    assert_int_equal(bs.len, 5);
    st_buf_free(&b);
}

static void
test_buf_zeroed_is_valid_empty_buffer(void **state)
{
    struct st_buf b = {0};
    assert_int_equal(st_buf_slice(&b).len, 0);
    assert_true(st_buf_reserve(&b, 0));
    assert_true(st_buf_append(&b, st_slice_make(NULL, 0)));
    assert_int_equal(b.len, 0);
    st_buf_free(&b); /* freeing a never-used buffer is fine */
    st_buf_free(&b); /* and so is freeing twice */
    assert_null(b.ptr);

    assert_true(st_buf_append(&b, st_slice_make("\0x", 2)));
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.ptr, "\0x", 2);
    st_buf_free(&b);
}

static void
test_buf_set_replaces_contents(void **state)
{
    struct st_buf b = {0};
    assert_true(st_buf_set(&b, st_slice_from_cstr("a longer first value")));
    assert_true(st_buf_set(&b, st_slice_make("x\0y", 3)));
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.ptr, "x\0y", 3);

    assert_true(st_buf_set(&b, st_slice_make("", 0)));
    assert_int_equal(b.len, 0);
    st_buf_free(&b);
}

static void
test_buf_append_concatenates_across_growth(void **state)
{
    enum { TOTAL = 100000 };
    struct st_buf b = {0};
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("buf append", 29));
    static uint8_t expect[TOTAL];
    tu_rng_fill(&rng, expect, sizeof expect);

    size_t done = 0;
    while (done < TOTAL) {
        size_t n = tu_rng_below(&rng, 300);
        if (n > TOTAL - done)
            n = TOTAL - done;
        assert_true(st_buf_append(&b, st_slice_make(expect + done, n)));
        done += n;
        assert_int_equal(b.len, done);
        assert_true(b.cap >= b.len);
    }
    assert_memory_equal(b.ptr, expect, TOTAL);
    st_buf_free(&b);
    assert_null(b.ptr);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

/* Doubling keeps the total copying O(n): a million one-byte appends
 * may change the capacity only a logarithmic number of times. */
static void
test_buf_append_grows_geometrically(void **state)
{
    struct st_buf b = {0};
    size_t changes = 0, last_cap = 0;
    for (int i = 0; i < 1000000; i++) {
        uint8_t c = (uint8_t)i;
        assert_true(st_buf_append(&b, st_slice_make(&c, 1)));
        if (b.cap != last_cap) {
            changes++;
            last_cap = b.cap;
        }
    }
    assert_int_equal(b.len, 1000000);
    assert_in_range(changes, 1, 25);
    for (int i = 0; i < 1000000; i += 4099)
        assert_int_equal(b.ptr[i], (uint8_t)i);
    st_buf_free(&b);
}

static void
test_buf_reserve_makes_room_and_keeps_contents(void **state)
{
    struct st_buf b = {0};
    assert_true(st_buf_set(&b, st_slice_from_cstr("keep")));
    assert_true(st_buf_reserve(&b, 5000));
    assert_true(b.cap - b.len >= 5000);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.ptr, "keep", 4);

    /* Room already there: no reallocation. */
    uint8_t *p = b.ptr;
    size_t cap = b.cap;
    assert_true(st_buf_reserve(&b, cap - b.len));
    assert_ptr_equal(b.ptr, p);
    assert_int_equal(b.cap, cap);

    /* The bytes reserved are writable (ASan checks this). */
    memset(b.ptr + b.len, 'z', b.cap - b.len);
    st_buf_free(&b);
}

static void
test_buf_reserve_refuses_size_overflow_unchanged(void **state)
{
    struct st_buf b = {0};
    assert_true(st_buf_set(&b, st_slice_from_cstr("0123456789")));
    uint8_t *p = b.ptr;
    size_t cap = b.cap;

    assert_false(st_buf_reserve(&b, SIZE_MAX - 5));
    assert_ptr_equal(b.ptr, p);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.ptr, "0123456789", 10);
    st_buf_free(&b);
}

static void
test_status_str_names_every_code(void **state)
{
    const char *names[ST_BUSY + 1];
    for (int s = ST_OK; s <= ST_BUSY; s++) {
        names[s] = st_status_str((st_status)s);
        assert_non_null(names[s]);
        assert_true(names[s][0] != '\0');
        assert_string_not_equal(names[s], "unknown status");
        for (int t = ST_OK; t < s; t++)
            assert_string_not_equal(names[s], names[t]);
    }
    assert_string_equal(st_status_str(ST_OK), "ok");
    assert_string_equal(st_status_str(ST_NOT_FOUND), "not found");
    assert_string_equal(st_status_str((st_status)(ST_BUSY + 100)),
                        "unknown status");
}

static void
test_error_set_formats_and_appends_strerror(void **state)
{
    struct st_error err;
    st_error_clear(&err);
    st_status s = st_error_set(&err, ST_IO, ENOSPC, "fsync %s at %d",
                               "data/file/000003.log", 42);
    assert_int_equal(s, ST_IO);
    assert_int_equal(err.code, ST_IO);
    assert_int_equal(err.errnum, ENOSPC);

    char expect[ST_ERROR_MSG_LEN];
    snprintf(expect, sizeof expect, "fsync data/file/000003.log at 42: %s",
             strerror(ENOSPC));
    assert_string_equal(err.msg, expect);
}

static void
test_error_set_without_errno_adds_no_suffix(void **state)
{
    struct st_error err;
    assert_int_equal(st_error_set(&err, ST_CORRUPT, 0, "bad crc at %u", 7u),
                     ST_CORRUPT);
    assert_int_equal(err.code, ST_CORRUPT);
    assert_int_equal(err.errnum, 0);
    assert_string_equal(err.msg, "bad crc at 7");
}

static void
test_error_set_with_null_err_returns_code(void **state)
{
    assert_int_equal(st_error_set(NULL, ST_NOMEM, ENOMEM, "malloc %d", 1),
                     ST_NOMEM);
    st_error_clear(NULL);
}

static void
test_error_set_cuts_long_message_and_terminates(void **state)
{
    char longname[600];
    memset(longname, 'p', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';

    struct st_error err;
    memset(&err, 0x55, sizeof err);
    st_error_set(&err, ST_IO, EIO, "open %s", longname);
    assert_int_equal(err.errnum, EIO);
    assert_int_equal(strlen(err.msg), ST_ERROR_MSG_LEN - 1);
    assert_memory_equal(err.msg, "open ppp", 8);

    /* A message that just fits leaves the reason cut, not overflowing. */
    longname[ST_ERROR_MSG_LEN - 10] = '\0';
    st_error_set(&err, ST_IO, EIO, "%s", longname);
    assert_true(strlen(err.msg) <= ST_ERROR_MSG_LEN - 1);
    assert_memory_equal(err.msg, longname, ST_ERROR_MSG_LEN - 10);
}

static void
test_error_clear_resets_to_ok(void **state)
{
    struct st_error err;
    st_error_set(&err, ST_IO, EIO, "write %s", "x");
    st_error_clear(&err);
    assert_int_equal(err.code, ST_OK);
    assert_int_equal(err.errnum, 0);
    assert_string_equal(err.msg, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice_compare_orders_by_bytes_then_length),
        cmocka_unit_test(test_slice_compare_treats_nul_as_an_ordinary_byte),
        cmocka_unit_test(test_slice_compare_is_unsigned),
        cmocka_unit_test(test_slice_empty_sorts_first_and_equals_empty),
        cmocka_unit_test(test_slice_compare_matches_reference_on_random_slices),
        cmocka_unit_test(test_slice_from_cstr_and_buf_slice_borrow),
        cmocka_unit_test(test_buf_zeroed_is_valid_empty_buffer),
        cmocka_unit_test(test_buf_set_replaces_contents),
        cmocka_unit_test(test_buf_append_concatenates_across_growth),
        cmocka_unit_test(test_buf_append_grows_geometrically),
        cmocka_unit_test(test_buf_reserve_makes_room_and_keeps_contents),
        cmocka_unit_test(test_buf_reserve_refuses_size_overflow_unchanged),
        cmocka_unit_test(test_status_str_names_every_code),
        cmocka_unit_test(test_error_set_formats_and_appends_strerror),
        cmocka_unit_test(test_error_set_without_errno_adds_no_suffix),
        cmocka_unit_test(test_error_set_with_null_err_returns_code),
        cmocka_unit_test(test_error_set_cuts_long_message_and_terminates),
        cmocka_unit_test(test_error_clear_resets_to_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
