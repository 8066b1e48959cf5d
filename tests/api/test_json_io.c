/*
 * Tests for api/json_io.c: the body of POST /set decoded strictly (one
 * object, one string member "value", nothing after it, valid UTF-8, no
 * lone surrogate escapes that json-c would quietly turn into U+FFFD), and
 * the small encoder the responses are built with: escaped strings that
 * json-c parses back to the same bytes, RFC 4648 base64, the UTF-8 check
 * that decides between "key" and "key_b64", and {"error": msg} bodies.
 * Values must round-trip byte-exactly (DESIGN.md, "HTTP contract").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "api/json_io.h"
#include "testutil.h"
#include "util/slice.h"

/* --- json_decode_set_body: accepted bodies --- */

/* Decodes 'body' (body_len bytes) and checks that the value is exactly
 * want[0..want_len). */
static void
assert_decodes_to(const char *body, size_t body_len, const char *want,
                  size_t want_len)
{
    struct st_buf value = {0};
    const char *why = NULL;
    st_status s =
        json_decode_set_body(st_slice_make(body, body_len), &value, &why);
    if (s != ST_OK)
        fail_msg("body %.*s: got %d (%s), want ST_OK", (int)body_len, body,
                 (int)s, why ? why : "no reason");
    assert_int_equal(value.len, want_len);
    if (want_len > 0)
        assert_memory_equal(value.ptr, want, want_len);
    st_buf_free(&value);
}

#define DECODES_TO(body, want)                                                 \
    assert_decodes_to((body), sizeof(body) - 1, (want), sizeof(want) - 1)

static void
test_json_decode_accepts_a_plain_value(void **state)
{
    DECODES_TO("{\"value\":\"x\"}", "x");
    DECODES_TO("{\"value\":\"daniel\"}", "daniel");
    DECODES_TO("{\"value\":\"\"}", "");
}

static void
test_json_decode_accepts_whitespace_around(void **state)
{
    DECODES_TO(" \t\r\n{ \"value\" :\n\"x\" } \t\r\n", "x");
    DECODES_TO("{\"value\": \"daniel\"}", "daniel");
    DECODES_TO("{\"value\":\"x\"}\n", "x");
}

static void
test_json_decode_simple_escapes(void **state)
{
    DECODES_TO("{\"value\":\"a\\nb\"}", "a\nb");
    DECODES_TO("{\"value\":\"\\\"q\\\"\"}", "\"q\"");
    DECODES_TO("{\"value\":\"back\\\\slash\"}", "back\\slash");
    DECODES_TO("{\"value\":\"a\\/b\"}", "a/b");
    DECODES_TO("{\"value\":\"\\t\\r\\b\\f\"}", "\t\r\b\f");
}

static void
test_json_decode_unicode_escapes_become_utf8(void **state)
{
    DECODES_TO("{\"value\":\"caf\\u00e9\"}", "caf\xc3\xa9");
    DECODES_TO("{\"value\":\"\\u20AC\"}", "\xe2\x82\xac");
    /* A surrogate pair is one code point, U+1F600: four UTF-8 bytes. */
    DECODES_TO("{\"value\":\"\\ud83d\\ude00\"}", "\xf0\x9f\x98\x80");
    DECODES_TO("{\"value\":\"<\\uD83D\\uDE00>\"}", "<\xf0\x9f\x98\x80>");
    /* Raw UTF-8 passes through untouched. */
    DECODES_TO("{\"value\":\"\xf0\x9f\x98\x80 \xc3\xa9\"}",
               "\xf0\x9f\x98\x80 \xc3\xa9");
}

static void
test_json_decode_u0000_is_a_nul_byte_inside_the_value(void **state)
{
    DECODES_TO("{\"value\":\"a\\u0000b\"}", "a\0b");
    DECODES_TO("{\"value\":\"\\u0000\"}", "\0");
    DECODES_TO("{\"value\":\"\\u0000\\u0000x\\u0000\"}", "\0\0x\0");
}

static void
test_json_decode_escaped_backslash_before_u_is_not_an_escape(void **state)
{
    /* JSON text "\\ud800": an escaped backslash and the letters u d 8 0 0,
     * no surrogate at all. */
    DECODES_TO("{\"value\":\"\\\\ud800\"}", "\\ud800");
    DECODES_TO("{\"value\":\"\\\\udc00\\\\\"}", "\\udc00\\");
    /* Three backslashes: an escaped one, then a real escape (a pair). */
    DECODES_TO("{\"value\":\"\\\\\\ud83d\\ude00\"}", "\\\xf0\x9f\x98\x80");
}

/* --- json_decode_set_body: rejected bodies --- */

/* Writes 'body' with non-printable bytes as \xNN, for failure messages. */
static void
print_escaped(const char *body, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)body[i];
        if (c >= 0x20 && c < 0x7f)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
}

/* true when the body is refused with ST_INVALID and a reason; otherwise
 * says why on stderr, so one run lists every body that got through. */
static bool
rejected(const char *body, size_t body_len)
{
    struct st_buf value = {0};
    const char *why = NULL;
    st_status s =
        json_decode_set_body(st_slice_make(body, body_len), &value, &why);
    st_buf_free(&value);
    bool ok = s == ST_INVALID && why != NULL && why[0] != '\0';
    if (!ok) {
        fprintf(stderr, "body '");
        print_escaped(body, body_len);
        fprintf(stderr,
                "' (%zu bytes): status %d, reason %s; want "
                "ST_INVALID with a reason\n",
                body_len, (int)s, why ? why : "(none)");
    }
    return ok;
}

struct bad_body {
    const char *text;
    size_t len;
};

#define BAD(lit) ((struct bad_body){(lit), sizeof(lit) - 1})

static void
assert_all_rejected(const struct bad_body *bodies, size_t count)
{
    size_t accepted = 0;
    for (size_t i = 0; i < count; i++)
        accepted += !rejected(bodies[i].text, bodies[i].len);
    if (accepted > 0)
        fail_msg("%zu of %zu bad bodies were not rejected (listed above)",
                 accepted, count);
}

#define ASSERT_ALL_REJECTED(table)                                             \
    assert_all_rejected((table), sizeof(table) / sizeof((table)[0]))

static void
assert_rejects(const char *body, size_t body_len)
{
    if (!rejected(body, body_len))
        fail_msg("a bad body was not rejected (see above)");
}

#define REJECTS(body) assert_rejects((body), sizeof(body) - 1)

static void
test_json_decode_rejects_empty_body(void **state)
{
    assert_rejects("", 0);
    REJECTS(" ");
    REJECTS("\n");
}

static void
test_json_decode_rejects_truncated_json(void **state)
{
    REJECTS("{\"value\":\"x\"");
    REJECTS("{\"value\":\"x");
    REJECTS("{\"value\":");
    REJECTS("{");
    REJECTS("{\"value\":\"\\u00");
}

static void
test_json_decode_rejects_trailing_garbage(void **state)
{
    REJECTS("{\"value\":\"x\"} x");
    REJECTS("{\"value\":\"x\"}x");
    REJECTS("{\"value\":\"x\"}{}");
    REJECTS("{\"value\":\"x\"}{\"value\":\"y\"}");
    REJECTS("{\"value\":\"x\"} \n 1");
    assert_rejects("{\"value\":\"x\"}\0", 14);
}

static void
test_json_decode_rejects_a_non_object(void **state)
{
    REJECTS("\"x\"");
    REJECTS("[]");
    REJECTS("[{\"value\":\"x\"}]");
    REJECTS("1");
    REJECTS("1 ");
    REJECTS("null");
    REJECTS("true");
}

static void
test_json_decode_rejects_missing_value(void **state)
{
    REJECTS("{}");
    REJECTS("{\"Value\":\"x\"}");
    REJECTS("{\"valu\":\"x\"}");
}

static void
test_json_decode_rejects_non_string_value(void **state)
{
    REJECTS("{\"value\":1}");
    REJECTS("{\"value\":1.5}");
    REJECTS("{\"value\":null}");
    REJECTS("{\"value\":{}}");
    REJECTS("{\"value\":{\"value\":\"x\"}}");
    REJECTS("{\"value\":[]}");
    REJECTS("{\"value\":[\"x\"]}");
    REJECTS("{\"value\":true}");
    REJECTS("{\"value\":false}");
}

static void
test_json_decode_rejects_duplicate_value(void **state)
{
    REJECTS("{\"value\":\"a\",\"value\":\"b\"}");
    REJECTS("{\"value\":\"a\",\"value\":\"a\"}");
    REJECTS("{\"value\":\"a\" , \"value\" : \"b\"}");
}

static void
test_json_decode_rejects_unknown_member(void **state)
{
    REJECTS("{\"value\":\"x\",\"other\":1}");
    REJECTS("{\"other\":1,\"value\":\"x\"}");
    REJECTS("{\"value\":\"x\",\"nested\":{\"a\":1,\"b\":[1,2]}}");
}

static void
test_json_decode_rejects_lone_surrogates(void **state)
{
    REJECTS("{\"value\":\"\\ud800\"}");
    REJECTS("{\"value\":\"a\\ud800b\"}");
    REJECTS("{\"value\":\"\\udc00\"}");
    REJECTS("{\"value\":\"\\uDFFF\"}");
    /* A high surrogate followed by something other than a low one. */
    REJECTS("{\"value\":\"\\ud800\\u0041\"}");
    REJECTS("{\"value\":\"\\ud800\\ud800\"}");
    REJECTS("{\"value\":\"\\ud800\\n\"}");
    /* A pair in the wrong order. */
    REJECTS("{\"value\":\"\\ude00\\ud83d\"}");
    /* An escaped backslash, then a real lone escape. */
    REJECTS("{\"value\":\"\\\\\\ud800\"}");
}

static void
test_json_decode_rejects_invalid_utf8(void **state)
{
    const struct bad_body bad[] = {
        BAD("{\"value\":\"\xff\"}"),
        BAD("{\"value\":\"a\x80z\"}"),           /* stray continuation */
        BAD("{\"value\":\"\xc3\"}"),             /* truncated 2-byte */
        BAD("{\"value\":\"\xe2\x82\"}"),         /* truncated 3-byte */
        BAD("{\"value\":\"\xc0\x80\"}"),         /* overlong NUL */
        BAD("{\"value\":\"\xc1\xbf\"}"),         /* overlong '\x7f' */
        BAD("{\"value\":\"\xe0\x80\x80\"}"),     /* overlong 3-byte */
        BAD("{\"value\":\"\xf0\x80\x80\x80\"}"), /* overlong 4-byte */
        BAD("{\"value\":\"\xed\xa0\x80\"}"),     /* encoded surrogate */
        BAD("{\"value\":\"\xf4\x90\x80\x80\"}"), /* past U+10FFFF */
        BAD("{\"value\":\"\xf5\x80\x80\x80\"}"),
        BAD("{\"value\":\"x\"}\xff"),
        BAD("{\"val\xffue\":\"x\"}"),
    };
    ASSERT_ALL_REJECTED(bad);
}

static void
test_json_decode_rejects_single_quotes(void **state)
{
    REJECTS("{'value':'x'}");
    REJECTS("{\"value\":'x'}");
}

static void
test_json_decode_rejects_trailing_comma(void **state)
{
    REJECTS("{\"value\":\"x\",}");
    REJECTS("{\"value\":\"x\" , }");
}

static void
test_json_decode_rejects_comments(void **state)
{
    REJECTS("{\"value\":\"x\"/* c */}");
    REJECTS("/* c */{\"value\":\"x\"}");
    REJECTS("{\"value\":\"x\"} // c");
    REJECTS("{\"value\":\"x\"}\n# c");
}

static void
test_json_decode_rejects_raw_control_characters_in_strings(void **state)
{
    /* RFC 8259, section 7: U+0000 to U+001F must be escaped in strings. */
    const struct bad_body bad[] = {
        BAD("{\"value\":\"a\nb\"}"),
        BAD("{\"value\":\"a\tb\"}"),
        BAD("{\"value\":\"a\x01\"}"),
        {"{\"value\":\"a\0b\"}", 15}, /* ends at the raw NUL */
    };
    ASSERT_ALL_REJECTED(bad);
}

/* --- json_append_string --- */

/* Parses 'text' strictly with json-c; it must be exactly one JSON string,
 * whose bytes must equal want[0..want_len). */
static void
assert_json_string_is(st_slice text, const uint8_t *want, size_t want_len)
{
    json_tokener *tok = json_tokener_new();
    assert_non_null(tok);
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj =
        json_tokener_parse_ex(tok, (const char *)text.ptr, (int)text.len);
    if (obj == NULL)
        fail_msg("json-c rejects %.*s: %s", (int)text.len,
                 (const char *)text.ptr,
                 json_tokener_error_desc(json_tokener_get_error(tok)));
    assert_int_equal(json_tokener_get_parse_end(tok), text.len);
    json_tokener_free(tok);
    assert_true(json_object_is_type(obj, json_type_string));
    assert_int_equal((size_t)json_object_get_string_len(obj), want_len);
    if (want_len > 0)
        assert_memory_equal(json_object_get_string(obj), want, want_len);
    json_object_put(obj);
}

static void
assert_appends_as(const char *in, size_t in_len, const char *want)
{
    struct st_buf out = {0};
    assert_true(json_append_string(&out, st_slice_make(in, in_len)));
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.ptr, want, out.len);
    assert_json_string_is(st_buf_slice(&out), (const uint8_t *)in, in_len);
    st_buf_free(&out);
}

#define APPENDS_AS(in, want) assert_appends_as((in), sizeof(in) - 1, (want))

static void
test_json_append_string_escapes_quote_and_backslash(void **state)
{
    APPENDS_AS("", "\"\"");
    APPENDS_AS("abc", "\"abc\"");
    APPENDS_AS("a\"b", "\"a\\\"b\"");
    APPENDS_AS("a\\b", "\"a\\\\b\"");
    APPENDS_AS("\\\"", "\"\\\\\\\"\"");
    /* '/' needs no escape. */
    APPENDS_AS("a/b", "\"a/b\"");
}

static void
test_json_append_string_escapes_control_bytes(void **state)
{
    APPENDS_AS("\n\t\r", "\"\\n\\t\\r\"");
    APPENDS_AS("\0", "\"\\u0000\"");
    APPENDS_AS("a\0b", "\"a\\u0000b\"");
    APPENDS_AS("\x01\x08\x0c\x1f", "\"\\u0001\\u0008\\u000c\\u001f\"");
    /* DEL is not a control character for JSON. */
    APPENDS_AS("\x7f", "\"\x7f\"");
    APPENDS_AS(" ", "\" \"");
}

static void
test_json_append_string_leaves_utf8_untouched(void **state)
{
    APPENDS_AS("caf\xc3\xa9", "\"caf\xc3\xa9\"");
    APPENDS_AS("\xe2\x82\xac", "\"\xe2\x82\xac\"");
    APPENDS_AS("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");
    APPENDS_AS("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");
}

static void
test_json_append_string_appends_after_existing_bytes(void **state)
{
    struct st_buf out = {0};
    assert_true(json_append_raw(&out, "{\"value\":"));
    assert_true(json_append_string(&out, st_slice_from_cstr("x\"y")));
    assert_true(json_append_raw(&out, "}"));
    const char *want = "{\"value\":\"x\\\"y\"}";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.ptr, want, out.len);
    st_buf_free(&out);
}

/* Appends the UTF-8 encoding of code point 'cp' (not a surrogate). */
static size_t
put_utf8(uint8_t *p, uint32_t cp)
{
    if (cp < 0x80) {
        p[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (uint8_t)(0xc0 | cp >> 6);
        p[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (uint8_t)(0xe0 | cp >> 12);
        p[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        p[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    p[0] = (uint8_t)(0xf0 | cp >> 18);
    p[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    p[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    p[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* A random code point, weighted towards the bytes that need escaping. */
static uint32_t
random_code_point(struct tu_rng *r)
{
    static const uint32_t specials[] = {'"', '\\', '/', 0x7f, 0};
    switch (tu_rng_below(r, 6)) {
    case 0:
        return (uint32_t)tu_rng_below(r, 0x20); /* NUL and controls */
    case 1:
        return specials[tu_rng_below(r, 5)];
    case 2:
        return 0x20 + (uint32_t)tu_rng_below(r, 0x5f);
    case 3:
        return 0x80 + (uint32_t)tu_rng_below(r, 0x800 - 0x80);
    case 4: {
        uint32_t cp = 0x800 + (uint32_t)tu_rng_below(r, 0x10000 - 0x800);
        return cp >= 0xd800 && cp <= 0xdfff ? cp - 0x800 : cp;
    }
    default:
        return 0x10000 + (uint32_t)tu_rng_below(r, 0x110000 - 0x10000);
    }
}

static void
test_json_append_string_round_trips_random_utf8_through_json_c(void **state)
{
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("json_append_string", 20240601));
    uint8_t in[4 * 64];
    struct st_buf out = {0};
    for (int round = 0; round < 2000; round++) {
        size_t len = 0, count = (size_t)tu_rng_below(&rng, 65);
        for (size_t i = 0; i < count; i++)
            len += put_utf8(in + len, random_code_point(&rng));
        assert_true(json_utf8_valid(st_slice_make(in, len)));

        /* Append after some bytes already there, as responses do. */
        out.len = 0;
        assert_true(json_append_raw(&out, "xyz"));
        assert_true(json_append_string(&out, st_slice_make(in, len)));
        st_slice text = {out.ptr + 3, out.len - 3};
        assert_memory_equal(out.ptr, "xyz", 3);
        assert_json_string_is(text, in, len);
    }
    st_buf_free(&out);
}

/* --- json_append_base64 --- */

static void
assert_base64(const char *in, size_t in_len, const char *want)
{
    struct st_buf out = {0};
    assert_true(json_append_base64(&out, st_slice_make(in, in_len)));
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.ptr, want, out.len);
    st_buf_free(&out);
}

static void
test_json_append_base64_rfc4648_vectors(void **state)
{
    /* RFC 4648, section 10. */
    assert_base64("", 0, "\"\"");
    assert_base64("f", 1, "\"Zg==\"");
    assert_base64("fo", 2, "\"Zm8=\"");
    assert_base64("foo", 3, "\"Zm9v\"");
    assert_base64("foob", 4, "\"Zm9vYg==\"");
    assert_base64("fooba", 5, "\"Zm9vYmE=\"");
    assert_base64("foobar", 6, "\"Zm9vYmFy\"");
}

static void
test_json_append_base64_uses_plus_and_slash_and_binary(void **state)
{
    assert_base64("\xfb\xef\xbe", 3, "\"++++\"");
    assert_base64("\xff\xfe\xfd", 3, "\"//79\"");
    assert_base64("\0", 1, "\"AA==\"");
    assert_base64("\0\0\0", 3, "\"AAAA\"");
    assert_base64("\xff", 1, "\"/w==\"");
}

static void
test_json_append_base64_appends(void **state)
{
    struct st_buf out = {0};
    assert_true(json_append_raw(&out, "{\"key_b64\":"));
    assert_true(json_append_base64(&out, st_slice_make("foo", 3)));
    const char *want = "{\"key_b64\":\"Zm9v\"";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.ptr, want, out.len);
    st_buf_free(&out);
}

/* --- json_utf8_valid --- */

static void
assert_utf8(const char *s, size_t len, bool valid)
{
    if (json_utf8_valid(st_slice_make(s, len)) != valid) {
        char hex[64] = "";
        for (size_t i = 0; i < len && i < 16; i++)
            snprintf(hex + 3 * i, 4, "%02x ", (uint8_t)s[i]);
        fail_msg("json_utf8_valid(%s) should be %s", hex,
                 valid ? "true" : "false");
    }
}

#define UTF8_OK(s) assert_utf8((s), sizeof(s) - 1, true)
#define UTF8_BAD(s) assert_utf8((s), sizeof(s) - 1, false)

static void
test_json_utf8_valid_accepts_well_formed_sequences(void **state)
{
    UTF8_OK("");
    UTF8_OK("plain ascii ~\x7f");
    UTF8_OK("a\0b");
    UTF8_OK("\xc2\x80");         /* U+0080 */
    UTF8_OK("\xc3\xa9");         /* U+00E9 */
    UTF8_OK("\xdf\xbf");         /* U+07FF */
    UTF8_OK("\xe0\xa0\x80");     /* U+0800 */
    UTF8_OK("\xe2\x82\xac");     /* U+20AC */
    UTF8_OK("\xed\x9f\xbf");     /* U+D7FF, just below the surrogates */
    UTF8_OK("\xee\x80\x80");     /* U+E000, just above */
    UTF8_OK("\xef\xbf\xbf");     /* U+FFFF */
    UTF8_OK("\xf0\x90\x80\x80"); /* U+10000 */
    UTF8_OK("\xf0\x9f\x98\x80"); /* U+1F600 */
    UTF8_OK("\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    UTF8_OK("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z");
}

static void
test_json_utf8_valid_rejects_overlongs(void **state)
{
    UTF8_BAD("\xc0\x80");
    UTF8_BAD("\xc1\xbf");
    UTF8_BAD("\xe0\x80\x80");
    UTF8_BAD("\xe0\x9f\xbf");
    UTF8_BAD("\xf0\x80\x80\x80");
    UTF8_BAD("\xf0\x8f\xbf\xbf");
}

static void
test_json_utf8_valid_rejects_surrogates(void **state)
{
    UTF8_BAD("\xed\xa0\x80");             /* U+D800 */
    UTF8_BAD("\xed\xbf\xbf");             /* U+DFFF */
    UTF8_BAD("\xed\xa0\xbd\xed\xb8\x80"); /* CESU-8 pair */
}

static void
test_json_utf8_valid_rejects_past_u10ffff(void **state)
{
    UTF8_BAD("\xf4\x90\x80\x80");
    UTF8_BAD("\xf5\x80\x80\x80");
    UTF8_BAD("\xf7\xbf\xbf\xbf");
    UTF8_BAD("\xf8\x88\x80\x80\x80");
    UTF8_BAD("\xfe");
    UTF8_BAD("\xff");
}

static void
test_json_utf8_valid_rejects_truncated_sequences(void **state)
{
    UTF8_BAD("\xc3");
    UTF8_BAD("\xe2\x82");
    UTF8_BAD("\xf0\x9f\x98");
    UTF8_BAD("a\xc3");
    UTF8_BAD("\xe2\x82z");
    UTF8_BAD("\xf0\x9f\x98z");
    UTF8_BAD("\xc3\xc3\xa9");
}

static void
test_json_utf8_valid_rejects_stray_continuation_bytes(void **state)
{
    UTF8_BAD("\x80");
    UTF8_BAD("\xbf");
    UTF8_BAD("a\x80");
    UTF8_BAD("\xc3\xa9\xa9");
    UTF8_BAD("\xe2\x82\xac\x80");
}

/* --- json_error_body --- */

static void
assert_error_body(const struct st_buf *out, const char *msg)
{
    json_tokener *tok = json_tokener_new();
    assert_non_null(tok);
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj =
        json_tokener_parse_ex(tok, (const char *)out->ptr, (int)out->len);
    assert_non_null(obj);
    assert_int_equal(json_tokener_get_parse_end(tok), out->len);
    json_tokener_free(tok);
    assert_true(json_object_is_type(obj, json_type_object));
    assert_int_equal(json_object_object_length(obj), 1);
    json_object *e = NULL;
    assert_true(json_object_object_get_ex(obj, "error", &e));
    assert_true(json_object_is_type(e, json_type_string));
    assert_string_equal(json_object_get_string(e), msg);
    json_object_put(obj);
}

static void
test_json_error_body_is_an_error_object(void **state)
{
    struct st_buf out = {0};
    assert_true(json_error_body(&out, "key not found"));
    const char *want = "{\"error\":\"key not found\"}";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.ptr, want, out.len);
    assert_error_body(&out, "key not found");
    st_buf_free(&out);
}

static void
test_json_error_body_replaces_contents_and_escapes(void **state)
{
    struct st_buf out = {0};
    assert_true(json_append_raw(&out, "{\"status\":\"ok\"} left over"));
    const char *msg = "bad \"key\"\n\\ with caf\xc3\xa9";
    assert_true(json_error_body(&out, msg));
    assert_error_body(&out, msg);
    assert_true(json_error_body(&out, ""));
    assert_error_body(&out, "");
    st_buf_free(&out);
}

/* --- json_append_u64 --- */

static void
test_json_append_u64_writes_decimal(void **state)
{
    struct st_buf out = {0};
    assert_true(json_append_u64(&out, 0));
    assert_true(json_append_raw(&out, ","));
    assert_true(json_append_u64(&out, UINT64_MAX));
    const char *want = "0,18446744073709551615";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.ptr, want, out.len);
    st_buf_free(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_decode_accepts_a_plain_value),
        cmocka_unit_test(test_json_decode_accepts_whitespace_around),
        cmocka_unit_test(test_json_decode_simple_escapes),
        cmocka_unit_test(test_json_decode_unicode_escapes_become_utf8),
        cmocka_unit_test(test_json_decode_u0000_is_a_nul_byte_inside_the_value),
        cmocka_unit_test(
            test_json_decode_escaped_backslash_before_u_is_not_an_escape),
        cmocka_unit_test(test_json_decode_rejects_empty_body),
        cmocka_unit_test(test_json_decode_rejects_truncated_json),
        cmocka_unit_test(test_json_decode_rejects_trailing_garbage),
        cmocka_unit_test(test_json_decode_rejects_a_non_object),
        cmocka_unit_test(test_json_decode_rejects_missing_value),
        cmocka_unit_test(test_json_decode_rejects_non_string_value),
        cmocka_unit_test(test_json_decode_rejects_duplicate_value),
        cmocka_unit_test(test_json_decode_rejects_unknown_member),
        cmocka_unit_test(test_json_decode_rejects_lone_surrogates),
        cmocka_unit_test(test_json_decode_rejects_invalid_utf8),
        cmocka_unit_test(test_json_decode_rejects_single_quotes),
        cmocka_unit_test(test_json_decode_rejects_trailing_comma),
        cmocka_unit_test(test_json_decode_rejects_comments),
        cmocka_unit_test(
            test_json_decode_rejects_raw_control_characters_in_strings),
        cmocka_unit_test(test_json_append_string_escapes_quote_and_backslash),
        cmocka_unit_test(test_json_append_string_escapes_control_bytes),
        cmocka_unit_test(test_json_append_string_leaves_utf8_untouched),
        cmocka_unit_test(test_json_append_string_appends_after_existing_bytes),
        cmocka_unit_test(
            test_json_append_string_round_trips_random_utf8_through_json_c),
        cmocka_unit_test(test_json_append_base64_rfc4648_vectors),
        cmocka_unit_test(
            test_json_append_base64_uses_plus_and_slash_and_binary),
        cmocka_unit_test(test_json_append_base64_appends),
        cmocka_unit_test(test_json_utf8_valid_accepts_well_formed_sequences),
        cmocka_unit_test(test_json_utf8_valid_rejects_overlongs),
        cmocka_unit_test(test_json_utf8_valid_rejects_surrogates),
        cmocka_unit_test(test_json_utf8_valid_rejects_past_u10ffff),
        cmocka_unit_test(test_json_utf8_valid_rejects_truncated_sequences),
        cmocka_unit_test(test_json_utf8_valid_rejects_stray_continuation_bytes),
        cmocka_unit_test(test_json_error_body_is_an_error_object),
        cmocka_unit_test(test_json_error_body_replaces_contents_and_escapes),
        cmocka_unit_test(test_json_append_u64_writes_decimal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
