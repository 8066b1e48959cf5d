/*
 * Fuzz target: the JSON side of the API (src/api/json_io.h).
 *
 *   1. json_decode_set_body() on the input: ST_OK or ST_INVALID with a
 *      message, never anything else. When it accepts, json-c (strict)
 *      must agree that the body is an object whose one member "value" is
 *      exactly the decoded bytes, and the value re-encoded with
 *      json_append_string() must decode back to the same bytes, through
 *      json-c and through json_decode_set_body() itself.
 *   2. json_append_string() on the raw input, when json_utf8_valid()
 *      says the bytes may go into a JSON string: json-c must read the
 *      exact bytes back. json_append_base64() must give a quoted string
 *      of the right length from the base64 alphabet.
 */
#include <json-c/json.h>

#include "fuzz_common.h"

#include "api/json_io.h"

/* The string json-c reads from 'text', as a slice of *obj (NULL when
 * it is not a strict JSON string). */
static bool
parse_string(st_slice text, json_object **obj, st_slice *out)
{
    json_tokener *tok = json_tokener_new();
    FUZZ_SETUP(tok != NULL);
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    *obj = json_tokener_parse_ex(tok, (const char *)text.ptr, (int)text.len);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (*obj == NULL || end != text.len ||
        !json_object_is_type(*obj, json_type_string))
        return false;
    *out = st_slice_make(json_object_get_string(*obj),
                         (size_t)json_object_get_string_len(*obj));
    return true;
}

/* Encodes 's' and checks json-c reads the same bytes back. */
static void
check_string_round_trip(st_slice s, struct st_buf *enc)
{
    enc->len = 0;
    FUZZ_SETUP(json_append_string(enc, s));
    FUZZ_CHECK(json_utf8_valid(st_buf_slice(enc)));
    json_object *obj = NULL;
    st_slice back;
    FUZZ_CHECK(parse_string(st_buf_slice(enc), &obj, &back));
    FUZZ_CHECK(st_slice_equal(back, s));
    json_object_put(obj);
}

static void
check_decoded(st_slice body, st_slice value, struct st_buf *enc)
{
    /* json-c on the accepted body: {"value": <the same bytes>}. */
    json_tokener *tok = json_tokener_new();
    FUZZ_SETUP(tok != NULL);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *obj =
        json_tokener_parse_ex(tok, (const char *)body.ptr, (int)body.len);
    json_tokener_free(tok);
    json_object *v = NULL;
    FUZZ_CHECK(obj != NULL && json_object_is_type(obj, json_type_object));
    FUZZ_CHECK(json_object_object_length(obj) == 1);
    FUZZ_CHECK(json_object_object_get_ex(obj, "value", &v));
    FUZZ_CHECK(json_object_is_type(v, json_type_string));
    FUZZ_CHECK(st_slice_equal(
        st_slice_make(json_object_get_string(v),
                      (size_t)json_object_get_string_len(v)),
        value));
    json_object_put(obj);

    check_string_round_trip(value, enc);

    /* {"value": <encoded>} must decode to the same bytes again. */
    struct st_buf wrapped = {0}, again = {0};
    FUZZ_SETUP(json_append_raw(&wrapped, "{\"value\":") &&
               st_buf_append(&wrapped, st_buf_slice(enc)) &&
               json_append_raw(&wrapped, "}"));
    const char *why = NULL;
    FUZZ_CHECK(json_decode_set_body(st_buf_slice(&wrapped), &again, &why) ==
               ST_OK);
    FUZZ_CHECK(st_slice_equal(st_buf_slice(&again), value));
    st_buf_free(&wrapped);
    st_buf_free(&again);
}

static void
check_base64(st_slice s, struct st_buf *enc)
{
    enc->len = 0;
    FUZZ_SETUP(json_append_base64(enc, s));
    FUZZ_CHECK(enc->len == 2 + (s.len + 2) / 3 * 4);
    FUZZ_CHECK(enc->ptr[0] == '"' && enc->ptr[enc->len - 1] == '"');
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    for (size_t i = 1; i + 1 < enc->len; i++)
        FUZZ_CHECK(memchr(alphabet, enc->ptr[i], sizeof alphabet - 1));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_slice in = st_slice_make(data, size);
    struct st_buf value = {0}, enc = {0};
    const char *why = NULL;
    st_status s = json_decode_set_body(in, &value, &why);
    FUZZ_CHECK(s == ST_OK || s == ST_INVALID);
    if (s == ST_OK)
        check_decoded(in, st_buf_slice(&value), &enc);
    else
        FUZZ_CHECK(why != NULL && why[0] != '\0');

    if (json_utf8_valid(in))
        check_string_round_trip(in, &enc);
    check_base64(in, &enc);
    st_buf_free(&value);
    st_buf_free(&enc);
    return 0;
}
