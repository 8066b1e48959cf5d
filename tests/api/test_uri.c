/*
 * Tests for api/uri.c: the request URI as nginx hands it over (still
 * encoded) split at '?', keys percent-decoded exactly once ('+' is a
 * literal plus, '%' must be followed by two hex digits), and query
 * parameters found by exact name, with repeats refused as ambiguous
 * (DESIGN.md, "HTTP contract" and "/range").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/uri.h"
#include "testutil.h"
#include "util/slice.h"

static void
assert_slice_is(st_slice got, const char *want, size_t want_len)
{
    assert_int_equal(got.len, want_len);
    if (want_len > 0)
        assert_memory_equal(got.ptr, want, want_len);
}

#define assert_slice_str(got, lit)                                             \
    assert_slice_is((got), (lit), sizeof(lit) - 1)

/* --- uri_split --- */

static void
test_uri_split_without_query_keeps_the_whole_path(void **state)
{
    st_slice uri = st_slice_from_cstr("/get/abc");
    st_slice path, query;
    uri_split(uri, &path, &query);
    assert_ptr_equal(path.ptr, uri.ptr);
    assert_slice_str(path, "/get/abc");
    assert_int_equal(query.len, 0);
}

static void
test_uri_split_at_the_first_question_mark(void **state)
{
    st_slice uri = st_slice_from_cstr("/range?start=a?b&end=c");
    st_slice path, query;
    uri_split(uri, &path, &query);
    assert_slice_str(path, "/range");
    assert_slice_str(query, "start=a?b&end=c");
    /* Both borrow from the URI. */
    assert_ptr_equal(path.ptr, uri.ptr);
    assert_ptr_equal(query.ptr, uri.ptr + 7);
}

static void
test_uri_split_with_empty_query(void **state)
{
    st_slice path, query;
    uri_split(st_slice_from_cstr("/stats?"), &path, &query);
    assert_slice_str(path, "/stats");
    assert_int_equal(query.len, 0);

    uri_split(st_slice_from_cstr("?a=1"), &path, &query);
    assert_int_equal(path.len, 0);
    assert_slice_str(query, "a=1");
}

static void
test_uri_split_of_empty_uri(void **state)
{
    st_slice path, query;
    uri_split((st_slice){NULL, 0}, &path, &query);
    assert_int_equal(path.len, 0);
    assert_int_equal(query.len, 0);
}

/* --- uri_decode --- */

static st_status
decode(const char *in, struct st_buf *out)
{
    return uri_decode(st_slice_from_cstr(in), out);
}

static void
test_uri_decode_plain_text_is_copied(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(decode("abc-_.~", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "abc-_.~");
    st_buf_free(&out);
}

static void
test_uri_decode_slash_in_either_case(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(decode("a%2Fb", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "a/b");
    assert_int_equal(decode("a%2fb", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "a/b");
    assert_int_equal(decode("%41%62%7e%7E", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "Ab~~");
    st_buf_free(&out);
}

static void
test_uri_decode_percent_00_gives_a_nul_byte(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(decode("a%00b", &out), ST_OK);
    assert_slice_is(st_buf_slice(&out), "a\0b", 3);
    assert_int_equal(decode("%00", &out), ST_OK);
    assert_slice_is(st_buf_slice(&out), "\0", 1);
    st_buf_free(&out);
}

static void
test_uri_decode_high_bytes(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(decode("%C3%A9%ff", &out), ST_OK);
    assert_slice_is(st_buf_slice(&out), "\xc3\xa9\xff", 3);
    st_buf_free(&out);
}

static void
test_uri_decode_plus_stays_a_plus(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(decode("a+b", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "a+b");
    assert_int_equal(decode("%2B", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "+");
    st_buf_free(&out);
}

static void
test_uri_decode_rejects_bad_percent_escapes(void **state)
{
    static const char *const bad[] = {
        "%",  "abc%", "%4",  "a%4", "%zz", "%4z", "%z4",
        "%%", "%%41", "%-1", "%+1", "% 1", "%0x", "a%2Fb%",
    };
    struct st_buf out = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (decode(bad[i], &out) != ST_INVALID)
            fail_msg("uri_decode(\"%s\") should be ST_INVALID", bad[i]);
    }
    st_buf_free(&out);
}

static void
test_uri_decode_decodes_exactly_once(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(decode("%252F", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "%2F");
    assert_int_equal(decode("%2525", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "%25");
    st_buf_free(&out);
}

static void
test_uri_decode_replaces_previous_contents(void **state)
{
    struct st_buf out = {0};
    assert_true(st_buf_set(&out, st_slice_from_cstr("left over text")));
    assert_int_equal(decode("x", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "x");
    assert_int_equal(decode("", &out), ST_OK);
    assert_int_equal(out.len, 0);
    st_buf_free(&out);
}

static void
test_uri_decode_every_byte_round_trips(void **state)
{
    /* Encode all 256 byte values as %XX and decode them back. */
    static const char hex[] = "0123456789ABCDEF";
    char enc[256 * 3];
    uint8_t want[256];
    for (int b = 0; b < 256; b++) {
        enc[b * 3] = '%';
        enc[b * 3 + 1] = hex[b >> 4];
        enc[b * 3 + 2] = hex[b & 15];
        want[b] = (uint8_t)b;
    }
    struct st_buf out = {0};
    assert_int_equal(uri_decode(st_slice_make(enc, sizeof enc), &out), ST_OK);
    assert_int_equal(out.len, 256);
    assert_memory_equal(out.ptr, want, 256);
    st_buf_free(&out);
}

/* --- uri_query_param --- */

static st_status
param(const char *query, const char *name, struct st_buf *out)
{
    return uri_query_param(st_slice_from_cstr(query), name, out);
}

static void
test_uri_query_param_finds_a_present_parameter(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(param("start=a&end=z&limit=10", "start", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "a");
    assert_int_equal(param("start=a&end=z&limit=10", "end", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "z");
    assert_int_equal(param("start=a&end=z&limit=10", "limit", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "10");
    st_buf_free(&out);
}

static void
test_uri_query_param_absent_is_not_found(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(param("start=a&end=z", "limit", &out), ST_NOT_FOUND);
    assert_int_equal(param("", "limit", &out), ST_NOT_FOUND);
    /* A value that looks like the name does not count. */
    assert_int_equal(param("a=limit", "limit", &out), ST_NOT_FOUND);
    st_buf_free(&out);
}

static void
test_uri_query_param_repeated_is_invalid(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(param("start=a&start=b", "start", &out), ST_INVALID);
    assert_int_equal(param("start=a&start=a", "start", &out), ST_INVALID);
    assert_int_equal(param("start&start=b", "start", &out), ST_INVALID);
    /* Another parameter repeated does not matter. */
    assert_int_equal(param("end=1&end=2&start=s", "start", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "s");
    st_buf_free(&out);
}

static void
test_uri_query_param_without_equals_has_empty_value(void **state)
{
    struct st_buf out = {0};
    assert_true(st_buf_set(&out, st_slice_from_cstr("junk")));
    assert_int_equal(param("start&end=z", "start", &out), ST_OK);
    assert_int_equal(out.len, 0);
    assert_int_equal(param("end=z&start", "start", &out), ST_OK);
    assert_int_equal(out.len, 0);
    assert_int_equal(param("start=", "start", &out), ST_OK);
    assert_int_equal(out.len, 0);
    st_buf_free(&out);
}

static void
test_uri_query_param_skips_empty_pairs(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(param("a=1&&b=2", "a", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "1");
    assert_int_equal(param("a=1&&b=2", "b", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "2");
    assert_int_equal(param("&&&b=2&", "b", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "2");
    assert_int_equal(param("&&", "b", &out), ST_NOT_FOUND);
    st_buf_free(&out);
}

static void
test_uri_query_param_name_must_match_exactly(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(param("starts=1", "start", &out), ST_NOT_FOUND);
    assert_int_equal(param("star=1", "start", &out), ST_NOT_FOUND);
    assert_int_equal(param("xstart=1", "start", &out), ST_NOT_FOUND);
    assert_int_equal(param("Start=1", "start", &out), ST_NOT_FOUND);
    /* The longer name does not count as a repeat either. */
    assert_int_equal(param("starts=1&start=2", "start", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "2");
    assert_int_equal(param("start=2&starts=1", "start", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "2");
    st_buf_free(&out);
}

static void
test_uri_query_param_value_is_percent_decoded(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(param("start=a%2Fb%26c%3Dd", "start", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "a/b&c=d");
    assert_int_equal(param("start=a+b", "start", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "a+b");
    assert_int_equal(param("start=%00x", "start", &out), ST_OK);
    assert_slice_is(st_buf_slice(&out), "\0x", 2);
    /* Only the first '=' splits name from value. */
    assert_int_equal(param("start=a=b", "start", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "a=b");
    assert_int_equal(param("start=%252F", "start", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "%2F");
    st_buf_free(&out);
}

static void
test_uri_query_param_bad_encoding_is_invalid(void **state)
{
    struct st_buf out = {0};
    assert_int_equal(param("start=%zz", "start", &out), ST_INVALID);
    assert_int_equal(param("start=ab%", "start", &out), ST_INVALID);
    /* A bad escape in some other parameter is not this one's problem. */
    assert_int_equal(param("end=%zz&start=ok", "start", &out), ST_OK);
    assert_slice_str(st_buf_slice(&out), "ok");
    st_buf_free(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_split_without_query_keeps_the_whole_path),
        cmocka_unit_test(test_uri_split_at_the_first_question_mark),
        cmocka_unit_test(test_uri_split_with_empty_query),
        cmocka_unit_test(test_uri_split_of_empty_uri),
        cmocka_unit_test(test_uri_decode_plain_text_is_copied),
        cmocka_unit_test(test_uri_decode_slash_in_either_case),
        cmocka_unit_test(test_uri_decode_percent_00_gives_a_nul_byte),
        cmocka_unit_test(test_uri_decode_high_bytes),
        cmocka_unit_test(test_uri_decode_plus_stays_a_plus),
        cmocka_unit_test(test_uri_decode_rejects_bad_percent_escapes),
        cmocka_unit_test(test_uri_decode_decodes_exactly_once),
        cmocka_unit_test(test_uri_decode_replaces_previous_contents),
        cmocka_unit_test(test_uri_decode_every_byte_round_trips),
        cmocka_unit_test(test_uri_query_param_finds_a_present_parameter),
        cmocka_unit_test(test_uri_query_param_absent_is_not_found),
        cmocka_unit_test(test_uri_query_param_repeated_is_invalid),
        cmocka_unit_test(test_uri_query_param_without_equals_has_empty_value),
        cmocka_unit_test(test_uri_query_param_skips_empty_pairs),
        cmocka_unit_test(test_uri_query_param_name_must_match_exactly),
        cmocka_unit_test(test_uri_query_param_value_is_percent_decoded),
        cmocka_unit_test(test_uri_query_param_bad_encoding_is_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
