/*
 * Tests for api/router.c: the HTTP contract of DESIGN.md, checked on the
 * pure request -> response function with a real store on the memory
 * engine. Each test builds requests as nginx would pass them (method,
 * REQUEST_URI still encoded, body), and checks the status, the Allow
 * header and the JSON body, parsed with json-c member by member.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "api/json_io.h"
#include "api/router.h"
#include "store.h"
#include "testutil.h"
#include "util/slice.h"

struct fixture {
    char *dir;
    struct store *st;
    struct api_context ctx;
};

static int
open_fixture(void **state, size_t max_value_len)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = tu_tmpdir_create();
    struct engine_options opt;
    struct store_limits lim;
    engine_options_default(&opt);
    store_limits_default(&lim);
    if (max_value_len > 0)
        lim.max_value_len = max_value_len;
    struct st_error err = {0};
    st_status s = store_open("memory", fx->dir, &opt, &lim, &fx->st, &err);
    if (s != ST_OK)
        fail_msg("store_open: %s", err.msg);
    api_context_init(&fx->ctx, fx->st);
    *state = fx;
    return 0;
}

static int
setup(void **state)
{
    return open_fixture(state, 0);
}

/* A store whose values may be at most 16 bytes. */
static int
setup_small_values(void **state)
{
    return open_fixture(state, 16);
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    api_context_deinit(&fx->ctx);
    assert_int_equal(store_close(fx->st, NULL), ST_OK);
    tu_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* --- requests and responses --- */

static const struct api_response *
request_bytes(struct fixture *fx, const char *method, st_slice uri,
              st_slice body)
{
    struct api_request req = {method, uri, body, (st_slice){0}};
    const struct api_response *resp = api_handle(&fx->ctx, &req);
    assert_non_null(resp);
    return resp;
}

/* 'body' may be NULL for none. */
static const struct api_response *
request(struct fixture *fx, const char *method, const char *uri,
        const char *body)
{
    return request_bytes(fx, method, st_slice_from_cstr(uri),
                         body ? st_slice_from_cstr(body) : (st_slice){0});
}

/* Parses the response body strictly; it must be exactly one JSON object.
 * The caller puts the result. */
static json_object *
parse_body(const struct api_response *resp)
{
    json_tokener *tok = json_tokener_new();
    assert_non_null(tok);
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj = json_tokener_parse_ex(tok, (const char *)resp->body.ptr,
                                             (int)resp->body.len);
    if (obj == NULL)
        fail_msg("response body is not JSON (%s): %.*s",
                 json_tokener_error_desc(json_tokener_get_error(tok)),
                 (int)resp->body.len, (const char *)resp->body.ptr);
    assert_int_equal(json_tokener_get_parse_end(tok), resp->body.len);
    json_tokener_free(tok);
    assert_true(json_object_is_type(obj, json_type_object));
    return obj;
}

/* The string member 'name' of 'obj', borrowed from it. */
static const char *
string_member(json_object *obj, const char *name, size_t *len)
{
    json_object *m = NULL;
    if (!json_object_object_get_ex(obj, name, &m))
        fail_msg("no member \"%s\" in %s", name, json_object_get_string(obj));
    assert_true(json_object_is_type(m, json_type_string));
    if (len != NULL)
        *len = (size_t)json_object_get_string_len(m);
    return json_object_get_string(m);
}

static uint64_t
u64_member(json_object *obj, const char *name)
{
    json_object *m = NULL;
    if (!json_object_object_get_ex(obj, name, &m))
        fail_msg("no member \"%s\" in %s", name, json_object_get_string(obj));
    assert_true(json_object_is_type(m, json_type_int));
    return json_object_get_uint64(m);
}

/* The response is 'status' with body {"error": msg} and no other member
 * ('msg' NULL: any non-empty message). */
static void
assert_error(const struct api_response *resp, int status, const char *msg)
{
    if (resp->status != status)
        fail_msg("status %d, want %d; body %.*s", resp->status, status,
                 (int)resp->body.len, (const char *)resp->body.ptr);
    if (status != 405)
        assert_null(resp->allow);
    assert_string_equal(resp->content_type, API_JSON_CONTENT_TYPE);
    json_object *obj = parse_body(resp);
    assert_int_equal(json_object_object_length(obj), 1);
    const char *got = string_member(obj, "error", NULL);
    if (msg != NULL)
        assert_string_equal(got, msg);
    else
        assert_true(got[0] != '\0');
    json_object_put(obj);
}

/* The response is 200 {"status":"ok"}. */
static void
assert_status_ok(const struct api_response *resp)
{
    if (resp->status != 200)
        fail_msg("status %d, want 200; body %.*s", resp->status,
                 (int)resp->body.len, (const char *)resp->body.ptr);
    assert_null(resp->allow);
    json_object *obj = parse_body(resp);
    assert_int_equal(json_object_object_length(obj), 1);
    assert_string_equal(string_member(obj, "status", NULL), "ok");
    json_object_put(obj);
}

/* The response is 200 {"value": want[0..want_len)}. */
static void
assert_value(const struct api_response *resp, const void *want, size_t want_len)
{
    if (resp->status != 200)
        fail_msg("status %d, want 200; body %.*s", resp->status,
                 (int)resp->body.len, (const char *)resp->body.ptr);
    assert_null(resp->allow);
    json_object *obj = parse_body(resp);
    assert_int_equal(json_object_object_length(obj), 1);
    size_t len = 0;
    const char *got = string_member(obj, "value", &len);
    assert_int_equal(len, want_len);
    if (want_len > 0)
        assert_memory_equal(got, want, want_len);
    json_object_put(obj);
}

static void
assert_stored(struct fixture *fx, const char *uri, const char *want)
{
    assert_value(request(fx, "GET", uri, NULL), want, strlen(want));
}

/* A set body {"value":"<text>"} for plain text (no escapes needed). */
static char *
set_body(const char *text)
{
    char *body = NULL;
    assert_true(asprintf(&body, "{\"value\":\"%s\"}", text) > 0);
    return body;
}

/* --- set, get, delete --- */

static void
test_router_set_get_delete_round_trip(void **state)
{
    struct fixture *fx = *state;
    assert_status_ok(
        request(fx, "POST", "/set/name", "{\"value\": \"daniel\"}"));
    assert_stored(fx, "/get/name", "daniel");

    assert_status_ok(request(fx, "POST", "/set/name", "{\"value\":\"dan\"}"));
    assert_stored(fx, "/get/name", "dan");

    assert_status_ok(request(fx, "DELETE", "/delete/name", NULL));
    assert_error(request(fx, "GET", "/get/name", NULL), 404, "key not found");
}

static void
test_router_get_missing_key_is_404(void **state)
{
    struct fixture *fx = *state;
    const struct api_response *resp = request(fx, "GET", "/get/nope", NULL);
    assert_error(resp, 404, "key not found");
    /* The exact body of DESIGN.md. */
    const char *want = "{\"error\":\"key not found\"}";
    assert_int_equal(resp->body.len, strlen(want));
    assert_memory_equal(resp->body.ptr, want, resp->body.len);
}

static void
test_router_delete_missing_key_is_404(void **state)
{
    struct fixture *fx = *state;
    assert_error(request(fx, "DELETE", "/delete/nope", NULL), 404,
                 "key not found");
    assert_status_ok(request(fx, "POST", "/set/k", "{\"value\":\"v\"}"));
    assert_status_ok(request(fx, "DELETE", "/delete/k", NULL));
    assert_error(request(fx, "DELETE", "/delete/k", NULL), 404,
                 "key not found");
}

static void
test_router_empty_value_round_trips(void **state)
{
    struct fixture *fx = *state;
    assert_status_ok(request(fx, "POST", "/set/e", "{\"value\":\"\"}"));
    assert_value(request(fx, "GET", "/get/e", NULL), "", 0);
}

static void
test_router_head_is_served_as_get(void **state)
{
    struct fixture *fx = *state;
    assert_status_ok(request(fx, "POST", "/set/k", "{\"value\":\"v\"}"));
    assert_value(request(fx, "HEAD", "/get/k", NULL), "v", 1);
    assert_error(request(fx, "HEAD", "/get/missing", NULL), 404,
                 "key not found");
    const struct api_response *resp = request(fx, "HEAD", "/health", NULL);
    assert_int_equal(resp->status, 200);
    assert_null(resp->allow);
    assert_int_equal(request(fx, "HEAD", "/stats", NULL)->status, 200);
}

/* --- keys --- */

static void
test_router_key_is_percent_decoded(void **state)
{
    struct fixture *fx = *state;
    assert_status_ok(request(fx, "POST", "/set/a%2Fb", "{\"value\":\"1\"}"));
    assert_stored(fx, "/get/a%2Fb", "1");
    assert_stored(fx, "/get/a%2fb", "1"); /* same key, other hex case */
    assert_stored(fx, "/get/%61%2F%62", "1");

    /* Decoded exactly once: %252F is the key "a%2Fb", a different one. */
    assert_error(request(fx, "GET", "/get/a%252Fb", NULL), 404,
                 "key not found");
    assert_status_ok(request(fx, "POST", "/set/a%252Fb", "{\"value\":\"2\"}"));
    assert_stored(fx, "/get/a%252Fb", "2");
    assert_stored(fx, "/get/a%2Fb", "1");

    /* '+' is a literal plus, not a space. */
    assert_status_ok(request(fx, "POST", "/set/a+b", "{\"value\":\"plus\"}"));
    assert_stored(fx, "/get/a%2Bb", "plus");
    assert_error(request(fx, "GET", "/get/a%20b", NULL), 404, "key not found");
}

static void
test_router_key_with_nul_and_high_bytes(void **state)
{
    struct fixture *fx = *state;
    assert_status_ok(request(fx, "POST", "/set/a%00b", "{\"value\":\"nul\"}"));
    assert_status_ok(
        request(fx, "POST", "/set/a%00c", "{\"value\":\"other\"}"));
    assert_status_ok(request(fx, "POST", "/set/%FF%FE", "{\"value\":\"ff\"}"));
    assert_stored(fx, "/get/a%00b", "nul");
    assert_stored(fx, "/get/a%00c", "other");
    assert_stored(fx, "/get/%ff%fe", "ff");
    assert_error(request(fx, "GET", "/get/a", NULL), 404, "key not found");

    /* The store sees the decoded bytes. */
    struct st_buf val = {0};
    assert_int_equal(store_get(fx->st, st_slice_make("a\0b", 3), &val, NULL),
                     ST_OK);
    assert_int_equal(val.len, 3);
    assert_memory_equal(val.ptr, "nul", 3);
    st_buf_free(&val);
}

static void
test_router_key_must_be_one_segment(void **state)
{
    struct fixture *fx = *state;
    assert_error(request(fx, "GET", "/get/a/b", NULL), 400, NULL);
    assert_error(request(fx, "POST", "/set/a/b", "{\"value\":\"x\"}"), 400,
                 NULL);
    assert_error(request(fx, "DELETE", "/delete/a/", NULL), 400, NULL);
    assert_error(request(fx, "GET", "/get//", NULL), 400, NULL);
    /* Nothing was stored under any part of it. */
    assert_error(request(fx, "GET", "/get/a", NULL), 404, "key not found");
    assert_error(request(fx, "GET", "/get/a%2Fb", NULL), 404, "key not found");
}

static void
test_router_dot_keys_are_refused(void **state)
{
    struct fixture *fx = *state;
    static const char *const uris[] = {
        "/get/.",    "/get/..", "/get/%2E", "/get/%2e",  "/get/%2E%2E",
        "/get/.%2e", "/set/..", "/set/%2E", "/delete/.", "/delete/%2E%2E",
    };
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        const char *method = uris[i][1] == 'g'   ? "GET"
                             : uris[i][1] == 's' ? "POST"
                                                 : "DELETE";
        assert_error(request(fx, method, uris[i], "{\"value\":\"x\"}"), 400,
                     NULL);
    }
    /* Dots inside a longer key are fine. */
    assert_status_ok(request(fx, "POST", "/set/...", "{\"value\":\"3\"}"));
    assert_stored(fx, "/get/...", "3");
    assert_status_ok(request(fx, "POST", "/set/.a", "{\"value\":\"a\"}"));
    assert_stored(fx, "/get/%2Ea", "a");
}

static void
test_router_empty_key_is_400(void **state)
{
    struct fixture *fx = *state;
    assert_error(request(fx, "GET", "/get/", NULL), 400, NULL);
    assert_error(request(fx, "POST", "/set/", "{\"value\":\"x\"}"), 400, NULL);
    assert_error(request(fx, "DELETE", "/delete/", NULL), 400, NULL);
    assert_error(request(fx, "GET", "/get/?x=1", NULL), 400, NULL);
}

static void
test_router_bad_percent_encoding_in_key_is_400(void **state)
{
    struct fixture *fx = *state;
    assert_error(request(fx, "GET", "/get/a%zz", NULL), 400, NULL);
    assert_error(request(fx, "GET", "/get/a%4", NULL), 400, NULL);
    assert_error(request(fx, "GET", "/get/%", NULL), 400, NULL);
    assert_error(request(fx, "POST", "/set/%%", "{\"value\":\"x\"}"), 400,
                 NULL);
}

static char *
repeat(const char *unit, size_t times)
{
    size_t n = strlen(unit);
    char *s = malloc(n * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

static char *
uri_with_key(const char *route, const char *key)
{
    char *uri = NULL;
    assert_true(asprintf(&uri, "%s%s", route, key) > 0);
    return uri;
}

/* A key of 1024 copies of 'unit' is stored and read back; one more copy
 * is refused with 400 on every keyed route. */
static void
check_key_limit(struct fixture *fx, const char *unit)
{
    char *at = repeat(unit, 1024), *over = repeat(unit, 1025);
    char *set_at = uri_with_key("/set/", at);
    char *get_at = uri_with_key("/get/", at);
    char *set_over = uri_with_key("/set/", over);
    char *get_over = uri_with_key("/get/", over);
    char *del_over = uri_with_key("/delete/", over);

    assert_status_ok(request(fx, "POST", set_at, "{\"value\":\"max\"}"));
    assert_stored(fx, get_at, "max");
    assert_error(request(fx, "POST", set_over, "{\"value\":\"x\"}"), 400, NULL);
    assert_error(request(fx, "GET", get_over, NULL), 400, NULL);
    assert_error(request(fx, "DELETE", del_over, NULL), 400, NULL);

    char *all[] = {at, over, set_at, get_at, set_over, get_over, del_over};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

static void
test_router_key_length_limit_is_1024_bytes(void **state)
{
    check_key_limit(*state, "k");
}

static void
test_router_key_limit_counts_decoded_bytes(void **state)
{
    /* 1024 bytes sent as 3072 characters of %XX are still 1024 bytes. */
    check_key_limit(*state, "%2F");
}

static void
test_router_query_is_not_part_of_the_key(void **state)
{
    struct fixture *fx = *state;
    assert_status_ok(request(fx, "POST", "/set/k?x=1", "{\"value\":\"v\"}"));
    assert_stored(fx, "/get/k", "v");
    assert_stored(fx, "/get/k?x=1", "v");
    assert_stored(fx, "/get/k?", "v");
    assert_status_ok(request(fx, "DELETE", "/delete/k?y=2", NULL));
    assert_error(request(fx, "GET", "/get/k", NULL), 404, "key not found");

    /* An encoded '?' is part of the key. */
    assert_status_ok(request(fx, "POST", "/set/a%3Fb", "{\"value\":\"q\"}"));
    assert_stored(fx, "/get/a%3Fb", "q");
    assert_error(request(fx, "GET", "/get/a", NULL), 404, "key not found");
}

/* --- values --- */

static void
test_router_value_with_escapes_round_trips(void **state)
{
    struct fixture *fx = *state;
    assert_status_ok(request(
        fx, "POST", "/set/u",
        "{\"value\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\n\"}"));
    const char want[] = "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\ / \n";
    assert_value(request(fx, "GET", "/get/u", NULL), want, sizeof want - 1);
}

static void
test_router_value_with_nul_bytes_round_trips(void **state)
{
    struct fixture *fx = *state;
    assert_status_ok(request(fx, "POST", "/set/n",
                             "{\"value\":\"\\u0000a\\u0000\\u0000b\\u0000\"}"));
    const struct api_response *resp = request(fx, "GET", "/get/n", NULL);
    assert_value(resp, "\0a\0\0b\0", 6);
    /* On the wire the NULs are escapes, never raw bytes. */
    assert_null(memchr(resp->body.ptr, '\0', resp->body.len));

    struct st_buf val = {0};
    assert_int_equal(store_get(fx->st, st_slice_from_cstr("n"), &val, NULL),
                     ST_OK);
    assert_int_equal(val.len, 6);
    assert_memory_equal(val.ptr, "\0a\0\0b\0", 6);
    st_buf_free(&val);
}

static void
test_router_value_of_every_control_character_round_trips(void **state)
{
    struct fixture *fx = *state;
    char body[64 * 6 + 32];
    char want[32];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"value\":\"");
    for (int c = 0; c < 32; c++) {
        n += (size_t)snprintf(body + n, sizeof body - n, "\\u%04x", c);
        want[c] = (char)c;
    }
    snprintf(body + n, sizeof body - n, "\"}");
    assert_status_ok(request(fx, "POST", "/set/ctl", body));
    assert_value(request(fx, "GET", "/get/ctl", NULL), want, sizeof want);
}

static void
test_router_value_limit_answers_413(void **state)
{
    struct fixture *fx = *state; /* max_value_len 16 */
    assert_status_ok(
        request(fx, "POST", "/set/k", "{\"value\":\"0123456789abcdef\"}"));
    assert_stored(fx, "/get/k", "0123456789abcdef");

    assert_error(
        request(fx, "POST", "/set/k", "{\"value\":\"0123456789abcdefg\"}"), 413,
        NULL);
    assert_stored(fx, "/get/k", "0123456789abcdef");
    assert_error(
        request(fx, "POST", "/set/new", "{\"value\":\"0123456789abcdefg\"}"),
        413, NULL);
    assert_error(request(fx, "GET", "/get/new", NULL), 404, "key not found");
}

static void
test_router_value_limit_counts_decoded_bytes(void **state)
{
    struct fixture *fx = *state; /* max_value_len 16 */
    /* 8 x U+00E9 is 48 characters of JSON but 16 bytes of value. */
    char *esc = repeat("\\u00e9", 8);
    char *body = set_body(esc);
    assert_status_ok(request(fx, "POST", "/set/e", body));
    char *want = repeat("\xc3\xa9", 8);
    assert_stored(fx, "/get/e", want);
    free(esc);
    free(body);
    free(want);

    /* 9 x U+00E9 is 18 bytes. */
    esc = repeat("\\u00e9", 9);
    body = set_body(esc);
    assert_error(request(fx, "POST", "/set/e", body), 413, NULL);
    free(esc);
    free(body);
}

static void
test_router_default_value_limit_is_1_mib(void **state)
{
    struct fixture *fx = *state;
    char *mib = repeat("v", 1 << 20);
    char *body = set_body(mib);
    assert_status_ok(request(fx, "POST", "/set/big", body));
    const struct api_response *resp = request(fx, "GET", "/get/big", NULL);
    assert_value(resp, mib, (size_t)1 << 20);
    free(body);

    char *over = malloc(((size_t)1 << 20) + 2);
    assert_non_null(over);
    memcpy(over, mib, (size_t)1 << 20);
    memcpy(over + ((size_t)1 << 20), "w", 2);
    body = set_body(over);
    assert_error(request(fx, "POST", "/set/big", body), 413, NULL);
    assert_value(request(fx, "GET", "/get/big", NULL), mib, (size_t)1 << 20);
    free(body);
    free(over);
    free(mib);
}

static void
test_router_bad_bodies_are_400_and_change_nothing(void **state)
{
    struct fixture *fx = *state;
    static const char *const bodies[] = {
        "",
        "{\"value\":\"x\"",
        "{\"value\":\"x\"} x",
        "\"x\"",
        "[]",
        "1",
        "{}",
        "{\"value\":1}",
        "{\"value\":null}",
        "{\"value\":{}}",
        "{\"value\":[]}",
        "{\"value\":true}",
        "{\"value\":\"a\",\"value\":\"b\"}",
        "{\"value\":\"x\",\"other\":1}",
        "{\"value\":\"\\ud800\"}",
        "{\"value\":\"\\udc00\"}",
        "{\"value\":\"\\ud800\\u0041\"}",
        "{\"value\":\"\xff\"}",
        "{\"value\":\"\xed\xa0\x80\"}",
        "{\"value\":\"\xc0\x80\"}",
        "{'value':'x'}",
        "{\"value\":\"x\",}",
        "{\"value\":\"x\"/**/}",
    };
    assert_status_ok(request(fx, "POST", "/set/k", "{\"value\":\"orig\"}"));
    size_t accepted = 0;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        const struct api_response *resp =
            request(fx, "POST", "/set/k", bodies[i]);
        if (resp->status != 400) {
            fprintf(stderr, "body #%zu: status %d, want 400\n", i,
                    resp->status);
            accepted++;
            /* Put the original back so the next case is independent. */
            assert_status_ok(
                request(fx, "POST", "/set/k", "{\"value\":\"orig\"}"));
            continue;
        }
        assert_error(resp, 400, NULL);
        assert_stored(fx, "/get/k", "orig");
        /* A new key is not created either. */
        assert_error(request(fx, "POST", "/set/fresh", bodies[i]), 400, NULL);
        assert_error(request(fx, "GET", "/get/fresh", NULL), 404,
                     "key not found");
    }
    if (accepted > 0)
        fail_msg("%zu bad bodies were not answered 400 (listed above)",
                 accepted);
}

static void
test_router_get_of_any_stored_value_is_valid_json(void **state)
{
    /* Whatever bytes reach the store through /set, /get must answer with
     * JSON text, which RFC 8259 (section 8.1) requires to be UTF-8.
     * json-c's own UTF-8 check lets overlongs and surrogates through, so
     * the body is checked with the strict json_utf8_valid as well. */
    struct fixture *fx = *state;
    static const char *const bodies[] = {
        "{\"value\":\"\xc0\x80\"}",
        "{\"value\":\"\xed\xa0\x80\"}",
        "{\"value\":\"\xf4\x90\x80\x80\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        const struct api_response *resp =
            request(fx, "POST", "/set/k", bodies[i]);
        if (resp->status != 200)
            continue;
        resp = request(fx, "GET", "/get/k", NULL);
        json_object *obj = parse_body(resp);
        json_object_put(obj);
        if (!json_utf8_valid(st_buf_slice(&resp->body)))
            fail_msg("body #%zu was stored and /get answers with bytes "
                     "that are not UTF-8",
                     i);
    }
}

/* --- methods and paths --- */

static void
assert_405(struct fixture *fx, const char *method, const char *uri,
           const char *allow)
{
    const struct api_response *resp = request(fx, method, uri, NULL);
    if (resp->status != 405)
        fail_msg("%s %s: status %d, want 405", method, uri, resp->status);
    assert_non_null(resp->allow);
    assert_string_equal(resp->allow, allow);
    assert_error(resp, 405, NULL);
}

static void
test_router_wrong_method_is_405_with_allow(void **state)
{
    struct fixture *fx = *state;
    assert_405(fx, "POST", "/get/x", "GET, HEAD");
    assert_405(fx, "DELETE", "/get/x", "GET, HEAD");
    assert_405(fx, "PUT", "/get/x", "GET, HEAD");
    assert_405(fx, "GET", "/set/x", "POST");
    assert_405(fx, "HEAD", "/set/x", "POST");
    assert_405(fx, "PUT", "/set/x", "POST");
    assert_405(fx, "DELETE", "/set/x", "POST");
    assert_405(fx, "GET", "/delete/x", "DELETE");
    assert_405(fx, "POST", "/delete/x", "DELETE");
    assert_405(fx, "HEAD", "/delete/x", "DELETE");
    assert_405(fx, "POST", "/health", "GET, HEAD");
    assert_405(fx, "DELETE", "/health", "GET, HEAD");
    assert_405(fx, "POST", "/stats", "GET, HEAD");
    assert_405(fx, "POST", "/range", "GET, HEAD");
}

static void
test_router_method_must_match_whole(void **state)
{
    /* A prefix of an allowed method ("GE"), a longer word or another case
     * is not that method. */
    struct fixture *fx = *state;
    assert_405(fx, "GE", "/get/x", "GET, HEAD");
    assert_405(fx, "GETS", "/get/x", "GET, HEAD");
    assert_405(fx, "get", "/get/x", "GET, HEAD");
    assert_405(fx, "", "/get/x", "GET, HEAD");
    assert_405(fx, "HEA", "/get/x", "GET, HEAD");
    assert_405(fx, "POS", "/set/x", "POST");
    assert_405(fx, "DELETEX", "/delete/x", "DELETE");
}

static void
test_router_405_changes_nothing(void **state)
{
    struct fixture *fx = *state;
    assert_status_ok(request(fx, "POST", "/set/k", "{\"value\":\"orig\"}"));
    const struct api_response *resp =
        request(fx, "PUT", "/set/k", "{\"value\":\"new\"}");
    assert_int_equal(resp->status, 405);
    resp = request(fx, "GET", "/delete/k", NULL);
    assert_int_equal(resp->status, 405);
    assert_stored(fx, "/get/k", "orig");
}

static void
test_router_unknown_path_is_404(void **state)
{
    struct fixture *fx = *state;
    static const char *const uris[] = {
        "/",       "",         "/nope",    "/set",     "/get",
        "/delete", "/healthz", "/health/", "/stats/x", "/GET/x",
        "get/x",   "//get/x",  "/range/x", "/rangex",  "/set%2Fx",
    };
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        const struct api_response *resp = request(fx, "GET", uris[i], NULL);
        if (resp->status != 404)
            fail_msg("GET '%s': status %d, want 404", uris[i], resp->status);
        assert_error(resp, 404, NULL);
    }
}

/* --- health, stats, range --- */

static void
test_router_health_names_the_engine(void **state)
{
    struct fixture *fx = *state;
    const struct api_response *resp = request(fx, "GET", "/health", NULL);
    assert_int_equal(resp->status, 200);
    assert_null(resp->allow);
    json_object *obj = parse_body(resp);
    assert_int_equal(json_object_object_length(obj), 2);
    assert_string_equal(string_member(obj, "status", NULL), "ok");
    assert_string_equal(string_member(obj, "engine", NULL), "memory");
    json_object_put(obj);

    /* A query string does not change the route. */
    assert_int_equal(request(fx, "GET", "/health?verbose=1", NULL)->status,
                     200);
}

/* Reads one numeric member of /stats. */
static uint64_t
stat_of(struct fixture *fx, const char *name)
{
    const struct api_response *resp = request(fx, "GET", "/stats", NULL);
    assert_int_equal(resp->status, 200);
    json_object *obj = parse_body(resp);
    uint64_t v = u64_member(obj, name);
    json_object_put(obj);
    return v;
}

static void
test_router_stats_is_an_object_of_numbers(void **state)
{
    struct fixture *fx = *state;
    const struct api_response *resp = request(fx, "GET", "/stats", NULL);
    assert_int_equal(resp->status, 200);
    assert_null(resp->allow);
    json_object *obj = parse_body(resp);
    assert_string_equal(string_member(obj, "engine", NULL), "memory");
    static const char *const names[] = {
        "gets",   "get_misses",      "sets", "deletes", "keys",
        "errors", "live_data_bytes",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_int_equal(u64_member(obj, names[i]), 0);
    json_object_put(obj);
}

static void
test_router_stats_change_after_operations(void **state)
{
    struct fixture *fx = *state;
    for (int i = 0; i < 3; i++) {
        char uri[32];
        snprintf(uri, sizeof uri, "/set/k%d", i);
        assert_status_ok(request(fx, "POST", uri, "{\"value\":\"v\"}"));
        assert_int_equal(stat_of(fx, "sets"), (uint64_t)i + 1);
        assert_int_equal(stat_of(fx, "keys"), (uint64_t)i + 1);
    }
    /* An overwrite is a set but not a new key. */
    assert_status_ok(request(fx, "POST", "/set/k0", "{\"value\":\"w\"}"));
    assert_int_equal(stat_of(fx, "sets"), 4);
    assert_int_equal(stat_of(fx, "keys"), 3);

    assert_stored(fx, "/get/k1", "v");
    assert_error(request(fx, "GET", "/get/zz", NULL), 404, "key not found");
    assert_int_equal(stat_of(fx, "gets"), 2);
    assert_int_equal(stat_of(fx, "get_misses"), 1);

    assert_status_ok(request(fx, "DELETE", "/delete/k1", NULL));
    assert_int_equal(stat_of(fx, "deletes"), 1);
    assert_int_equal(stat_of(fx, "keys"), 2);

    /* Refused requests reach no counter. */
    assert_error(request(fx, "POST", "/set/k9", "{\"value\":1}"), 400, NULL);
    assert_405(fx, "GET", "/set/k9", "POST");
    assert_int_equal(stat_of(fx, "sets"), 4);
    assert_int_equal(stat_of(fx, "keys"), 2);
}

static void
test_router_range_on_memory_engine_is_501(void **state)
{
    struct fixture *fx = *state;
    assert_error(request(fx, "GET", "/range", NULL), 501, NULL);
    assert_error(request(fx, "GET", "/range?start=a&end=z&limit=10", NULL), 501,
                 NULL);
    assert_error(request(fx, "HEAD", "/range?limit=1", NULL), 501, NULL);
}

/* --- /metrics --- */

/* The body as a C string, in a buffer the caller frees. */
static char *
body_text(const struct api_response *resp)
{
    char *text = malloc(resp->body.len + 1);
    assert_non_null(text);
    memcpy(text, resp->body.ptr, resp->body.len);
    text[resp->body.len] = '\0';
    return text;
}

/* Whether the page has the line 'line' exactly. */
static bool
has_line(const char *page, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = strstr(page, line); p != NULL; p = strstr(p + 1, line))
        if ((p == page || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

static char *
metrics_page(struct fixture *fx)
{
    const struct api_response *resp = request(fx, "GET", "/metrics", NULL);
    assert_int_equal(resp->status, 200);
    assert_null(resp->allow);
    assert_string_equal(resp->content_type,
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_int_equal(resp->route, HTTP_ROUTE_METRICS);
    return body_text(resp);
}

static void
test_router_metrics_is_prometheus_text(void **state)
{
    struct fixture *fx = *state;
    char *page = metrics_page(fx);
    assert_true(has_line(page, "# TYPE strata_up gauge"));
    assert_true(has_line(page, "strata_up 1"));
    assert_true(has_line(page, "strata_build_info{version=\"" PACKAGE_VERSION
                               "\",engine=\"memory\"} 1"));
    assert_true(has_line(page, "strata_sets_total 0"));
    assert_true(has_line(page, "strata_keys 0"));
    /* No HTTP figures without an http_metrics in the context. */
    assert_null(strstr(page, "strata_http_"));
    free(page);

    assert_status_ok(request(fx, "POST", "/set/a", "{\"value\":\"1\"}"));
    assert_status_ok(request(fx, "POST", "/set/b", "{\"value\":\"2\"}"));
    assert_error(request(fx, "GET", "/get/zz", NULL), 404, "key not found");
    page = metrics_page(fx);
    assert_true(has_line(page, "strata_sets_total 2"));
    assert_true(has_line(page, "strata_keys 2"));
    assert_true(has_line(page, "strata_gets_total 1"));
    assert_true(has_line(page, "strata_get_misses_total 1"));
    free(page);

    assert_int_equal(request(fx, "HEAD", "/metrics", NULL)->status, 200);
    assert_405(fx, "POST", "/metrics", "GET, HEAD");
    assert_405(fx, "DELETE", "/metrics", "GET, HEAD");
}

static void
test_router_metrics_include_http_figures(void **state)
{
    struct fixture *fx = *state;
    struct http_metrics *m = http_metrics_create();
    assert_non_null(m);
    fx->ctx.metrics = m;
    http_metrics_observe(m, HTTP_ROUTE_GET, 200, 70000);
    char *page = metrics_page(fx);
    assert_true(has_line(
        page, "strata_http_requests_total{route=\"get\",status=\"200\"} 1"));
    assert_true(has_line(page, "strata_http_request_duration_seconds_bucket{"
                               "route=\"get\",le=\"0.0001\"} 1"));
    free(page);
    fx->ctx.metrics = NULL;
    http_metrics_destroy(m);
}

/* Each answer names its route, for the request counters. */
static void
test_router_answers_name_their_route(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *method, *uri;
        enum http_route route;
    } cases[] = {
        {"POST", "/set/k", HTTP_ROUTE_SET},
        {"GET", "/get/k", HTTP_ROUTE_GET},
        {"GET", "/get/k?x=1", HTTP_ROUTE_GET},
        {"DELETE", "/delete/k", HTTP_ROUTE_DELETE},
        {"GET", "/range", HTTP_ROUTE_RANGE},
        {"GET", "/health", HTTP_ROUTE_HEALTH},
        {"GET", "/stats", HTTP_ROUTE_STATS},
        {"HEAD", "/metrics", HTTP_ROUTE_METRICS},
        {"POST", "/get/k", HTTP_ROUTE_GET}, /* a 405 still names it */
        {"GET", "/get/", HTTP_ROUTE_GET},   /* so does a 400 */
        {"GET", "/nope", HTTP_ROUTE_OTHER},
        {"GET", "/metrics/x", HTTP_ROUTE_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct api_response *resp =
            request(fx, cases[i].method, cases[i].uri, "{\"value\":\"v\"}");
        if (resp->route != cases[i].route)
            fail_msg("%s %s: route %s, want %s", cases[i].method, cases[i].uri,
                     http_route_name(resp->route),
                     http_route_name(cases[i].route));
    }
}

static void
test_router_refusals_name_their_route(void **state)
{
    struct fixture *fx = *state;
    struct api_request req = {"POST", st_slice_from_cstr("/kv/set/k"),
                              (st_slice){0}, st_slice_from_cstr("/kv")};
    const struct api_response *resp =
        api_refuse(&fx->ctx, &req, 413, "request body too large");
    assert_error(resp, 413, "request body too large");
    assert_int_equal(resp->route, HTTP_ROUTE_SET);

    req = (struct api_request){"GET", st_slice_from_cstr("/elsewhere"),
                               (st_slice){0}, (st_slice){0}};
    resp = api_refuse(&fx->ctx, &req, 503, "shutting down");
    assert_error(resp, 503, "shutting down");
    assert_int_equal(resp->route, HTTP_ROUTE_OTHER);

    /* No REQUEST_URI at all. */
    req =
        (struct api_request){NULL, (st_slice){0}, (st_slice){0}, (st_slice){0}};
    resp = api_refuse(&fx->ctx, &req, 400, "REQUEST_URI needed");
    assert_error(resp, 400, "REQUEST_URI needed");
    assert_int_equal(resp->route, HTTP_ROUTE_OTHER);
}

/* --- STRATA_PREFIX --- */

static const struct api_response *
request_under(struct fixture *fx, const char *prefix, const char *method,
              const char *uri, const char *body)
{
    struct api_request req = {method, st_slice_from_cstr(uri),
                              body ? st_slice_from_cstr(body) : (st_slice){0},
                              st_slice_from_cstr(prefix)};
    const struct api_response *resp = api_handle(&fx->ctx, &req);
    assert_non_null(resp);
    return resp;
}

static void
test_router_prefix_is_stripped_before_routing(void **state)
{
    struct fixture *fx = *state;
    assert_status_ok(
        request_under(fx, "/kv", "POST", "/kv/set/name", "{\"value\":\"d\"}"));
    assert_value(request_under(fx, "/kv", "GET", "/kv/get/name", NULL), "d", 1);
    /* The same store: the key is "name", not "/kv/name". */
    assert_stored(fx, "/get/name", "d");
    /* An encoded slash stays in the key, after the prefix is gone. */
    assert_status_ok(request_under(fx, "/kv", "POST", "/kv/set/a%2Fb",
                                   "{\"value\":\"slash\"}"));
    assert_value(request(fx, "GET", "/get/a%2Fb", NULL), "slash", 5);
    assert_value(request_under(fx, "/kv", "GET", "/kv/get/a%2Fb", NULL),
                 "slash", 5);
    assert_status_ok(
        request_under(fx, "/kv", "DELETE", "/kv/delete/a%2Fb", NULL));
    assert_error(request(fx, "GET", "/get/a%2Fb", NULL), 404, "key not found");
    /* The query after the route survives the strip. */
    assert_error(request_under(fx, "/kv", "GET", "/kv/range?start=a", NULL),
                 501, NULL);
    assert_int_equal(
        request_under(fx, "/kv", "GET", "/kv/health", NULL)->status, 200);
    const struct api_response *resp =
        request_under(fx, "/kv", "GET", "/kv/metrics", NULL);
    assert_int_equal(resp->status, 200);
    assert_int_equal(resp->route, HTTP_ROUTE_METRICS);
    /* A trailing slash on the prefix, and a prefix of two segments. */
    assert_value(request_under(fx, "/kv/", "GET", "/kv/get/name", NULL), "d",
                 1);
    assert_value(request_under(fx, "/a/b", "GET", "/a/b/get/name", NULL), "d",
                 1);
    /* An empty prefix (or "/") is no prefix. */
    assert_value(request_under(fx, "", "GET", "/get/name", NULL), "d", 1);
    assert_value(request_under(fx, "/", "GET", "/get/name", NULL), "d", 1);
}

static void
test_router_uri_outside_the_prefix_is_404(void **state)
{
    struct fixture *fx = *state;
    assert_status_ok(request(fx, "POST", "/set/name", "{\"value\":\"d\"}"));
    static const char *const uris[] = {
        "/get/name",
        "/kvx/get/name",
        "/kv",
        "/kv?x=1",
        "/k/get/name",
        "kv/get/name",
        "",
        "/KV/get/name",
        "/%6Bv/get/name",
        "/x/kv/get/name",
        "/kvget/name",
    };
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        const struct api_response *resp =
            request_under(fx, "/kv", "GET", uris[i], NULL);
        if (resp->status != 404)
            fail_msg("GET '%s' under /kv: status %d, want 404", uris[i],
                     resp->status);
        assert_error(resp, 404, "not found");
        assert_int_equal(resp->route, HTTP_ROUTE_OTHER);
    }
    /* Under the prefix but no route: the router's own 404. */
    assert_error(request_under(fx, "/kv", "GET", "/kv/", NULL), 404,
                 "no such endpoint");
    assert_error(request_under(fx, "/kv", "GET", "/kv/kv/get/name", NULL), 404,
                 "no such endpoint");
    /* A write outside the prefix changes nothing. */
    assert_error(
        request_under(fx, "/kv", "POST", "/set/name", "{\"value\":\"x\"}"), 404,
        "not found");
    assert_error(request_under(fx, "/kv", "DELETE", "/delete/name", NULL), 404,
                 "not found");
    assert_stored(fx, "/get/name", "d");
}

/* --- api_error --- */

static void
test_router_api_error_builds_the_error_body(void **state)
{
    struct fixture *fx = *state;
    /* After a 405, a new error must not keep the old Allow. */
    assert_405(fx, "GET", "/set/x", "POST");
    const struct api_response *resp =
        api_error(&fx->ctx, 413, "body too large: \"limit\" 1 MiB");
    assert_ptr_equal(resp, &fx->ctx.resp);
    assert_error(resp, 413, "body too large: \"limit\" 1 MiB");
    assert_null(resp->allow);

    resp = api_error(&fx->ctx, 400, "body shorter than Content-Length");
    assert_error(resp, 400, "body shorter than Content-Length");
}

static void
test_router_context_is_reused_across_requests(void **state)
{
    /* A long body, then a short one: the reused buffer must not leak the
     * tail of the first into the second. */
    struct fixture *fx = *state;
    char *big = repeat("x", 5000);
    char *body = set_body(big);
    assert_status_ok(request(fx, "POST", "/set/big", body));
    assert_value(request(fx, "GET", "/get/big", NULL), big, 5000);
    assert_status_ok(request(fx, "POST", "/set/s", "{\"value\":\"s\"}"));
    assert_stored(fx, "/get/s", "s");
    assert_error(request(fx, "GET", "/get/none", NULL), 404, "key not found");
    free(body);
    free(big);
}

#define ROUTER_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define SMALL_VALUE_TEST(fn)                                                   \
    cmocka_unit_test_setup_teardown(fn, setup_small_values, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        ROUTER_TEST(test_router_set_get_delete_round_trip),
        ROUTER_TEST(test_router_get_missing_key_is_404),
        ROUTER_TEST(test_router_delete_missing_key_is_404),
        ROUTER_TEST(test_router_empty_value_round_trips),
        ROUTER_TEST(test_router_head_is_served_as_get),
        ROUTER_TEST(test_router_key_is_percent_decoded),
        ROUTER_TEST(test_router_key_with_nul_and_high_bytes),
        ROUTER_TEST(test_router_key_must_be_one_segment),
        ROUTER_TEST(test_router_dot_keys_are_refused),
        ROUTER_TEST(test_router_empty_key_is_400),
        ROUTER_TEST(test_router_bad_percent_encoding_in_key_is_400),
        ROUTER_TEST(test_router_key_length_limit_is_1024_bytes),
        ROUTER_TEST(test_router_key_limit_counts_decoded_bytes),
        ROUTER_TEST(test_router_query_is_not_part_of_the_key),
        ROUTER_TEST(test_router_value_with_escapes_round_trips),
        ROUTER_TEST(test_router_value_with_nul_bytes_round_trips),
        ROUTER_TEST(test_router_value_of_every_control_character_round_trips),
        SMALL_VALUE_TEST(test_router_value_limit_answers_413),
        SMALL_VALUE_TEST(test_router_value_limit_counts_decoded_bytes),
        ROUTER_TEST(test_router_default_value_limit_is_1_mib),
        ROUTER_TEST(test_router_bad_bodies_are_400_and_change_nothing),
        ROUTER_TEST(test_router_get_of_any_stored_value_is_valid_json),
        ROUTER_TEST(test_router_wrong_method_is_405_with_allow),
        ROUTER_TEST(test_router_method_must_match_whole),
        ROUTER_TEST(test_router_405_changes_nothing),
        ROUTER_TEST(test_router_unknown_path_is_404),
        ROUTER_TEST(test_router_health_names_the_engine),
        ROUTER_TEST(test_router_stats_is_an_object_of_numbers),
        ROUTER_TEST(test_router_stats_change_after_operations),
        ROUTER_TEST(test_router_range_on_memory_engine_is_501),
        ROUTER_TEST(test_router_api_error_builds_the_error_body),
        ROUTER_TEST(test_router_context_is_reused_across_requests),
        ROUTER_TEST(test_router_metrics_is_prometheus_text),
        ROUTER_TEST(test_router_metrics_include_http_figures),
        ROUTER_TEST(test_router_answers_name_their_route),
        ROUTER_TEST(test_router_refusals_name_their_route),
        ROUTER_TEST(test_router_prefix_is_stripped_before_routing),
        ROUTER_TEST(test_router_uri_outside_the_prefix_is_404),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
