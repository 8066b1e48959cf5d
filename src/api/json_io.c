/* JSON decoding and encoding for the API (see json_io.h). */
#include "api/json_io.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* What a single pass over the raw body learns that json-c hides: how many
 * members the top-level object has (json-c keeps only the last of two
 * equal names) and whether a \uD800-\uDFFF escape stands unpaired. */
struct body_shape {
    size_t members;
    bool lone_surrogate;
    bool raw_control; /* json-c lets unescaped U+0000-U+001F through */
};

static int
hex4(const uint8_t *p, size_t avail)
{
    if (avail < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* Checks the \u escape at p[0..5] ("\uXXXX"); returns how many bytes the
 * escape (and a following low surrogate) covers. */
static size_t
check_unicode_escape(const uint8_t *p, size_t avail, bool *lone)
{
    int u = hex4(p + 2, avail - 2);
    if (u < 0xd800 || u > 0xdfff)
        return 6;
    if (u >= 0xdc00) {
        *lone = true; /* a low surrogate with no high one before it */
        return 6;
    }
    int next = avail >= 12 && p[6] == '\\' && p[7] == 'u'
                   ? hex4(p + 8, avail - 8)
                   : -1;
    if (next < 0xdc00 || next > 0xdfff) {
        *lone = true;
        return 6;
    }
    return 12;
}

/* REQUIRES: json-c accepted 'body', so strings and brackets balance. */
static struct body_shape
scan_body(st_slice body)
{
    struct body_shape shape = {0, false, false};
    int depth = 0;
    bool in_string = false, empty_object = true;
    for (size_t i = 0; i < body.len; i++) {
        uint8_t c = body.ptr[i];
        if (in_string) {
            if (c < 0x20)
                shape.raw_control = true;
            else if (c == '"')
                in_string = false;
            else if (c == '\\' && i + 1 < body.len && body.ptr[i + 1] == 'u')
                i += check_unicode_escape(body.ptr + i, body.len - i,
                                          &shape.lone_surrogate) -
                     1;
            else if (c == '\\')
                i++;
            continue;
        }
        if (c == '"')
            in_string = true;
        if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        else if (c == ',' && depth == 1)
            shape.members++;
        if (depth == 1 && c == '"')
            empty_object = false;
    }
    if (!empty_object)
        shape.members++;
    return shape;
}

static bool
only_whitespace(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return false;
    return true;
}

/* Parses strictly; NULL with *why set on any error. */
static json_object *
parse_strict(st_slice body, const char **why)
{
    if (body.len == 0 || body.len > INT32_MAX) {
        *why = body.len ? "body too large" : "empty body: expected JSON";
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    if (tok == NULL) {
        *why = "out of memory";
        return NULL;
    }
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj =
        json_tokener_parse_ex(tok, (const char *)body.ptr, (int)body.len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (obj == NULL) {
        *why =
            jerr == json_tokener_continue ? "truncated JSON" : "invalid JSON";
        return NULL;
    }
    if (end > body.len || !only_whitespace(body.ptr + end, body.len - end)) {
        json_object_put(obj);
        *why = "trailing data after the JSON value";
        return NULL;
    }
    return obj;
}

static st_status
check_set_object(json_object *obj, st_slice body, const char **why)
{
    if (!json_object_is_type(obj, json_type_object)) {
        *why = "body must be a JSON object {\"value\": \"...\"}";
        return ST_INVALID;
    }
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, "value", &v)) {
        *why = "missing member \"value\"";
        return ST_INVALID;
    }
    if (!json_object_is_type(v, json_type_string)) {
        *why = "\"value\" must be a JSON string";
        return ST_INVALID;
    }
    struct body_shape shape = scan_body(body);
    if (shape.members != (size_t)json_object_object_length(obj)) {
        *why = "duplicate member in the JSON object";
        return ST_INVALID;
    }
    if (json_object_object_length(obj) != 1) {
        *why = "unknown member: the body takes only \"value\"";
        return ST_INVALID;
    }
    if (shape.lone_surrogate) {
        *why = "lone UTF-16 surrogate escape in a string";
        return ST_INVALID;
    }
    if (shape.raw_control) {
        *why = "unescaped control character in a string";
        return ST_INVALID;
    }
    return ST_OK;
}

st_status
json_decode_set_body(st_slice body, struct st_buf *value, const char **why)
{
    /* json-c's UTF-8 check lets overlongs, encoded surrogates and code
     * points past U+10FFFF through; such bytes could not be sent back as
     * JSON, so the whole body is checked first. */
    if (!json_utf8_valid(body)) {
        *why = "body is not valid UTF-8";
        return ST_INVALID;
    }
    json_object *obj = parse_strict(body, why);
    if (obj == NULL)
        return ST_INVALID;
    st_status s = check_set_object(obj, body, why);
    if (s == ST_OK) {
        json_object *v = json_object_object_get(obj, "value");
        st_slice bytes = {(const uint8_t *)json_object_get_string(v),
                          (size_t)json_object_get_string_len(v)};
        if (!st_buf_set(value, bytes)) {
            *why = "out of memory";
            s = ST_NOMEM;
        }
    }
    json_object_put(obj);
    return s;
}

bool
json_append_raw(struct st_buf *out, const char *text)
{
    return st_buf_append(out, st_slice_from_cstr(text));
}

bool
json_append_u64(struct st_buf *out, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRIu64, v);
    return st_buf_append(out, st_slice_make(num, (size_t)n));
}

bool
json_append_string(struct st_buf *out, st_slice s)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX: reserve once, then write. */
    if (s.len > (SIZE_MAX - 2) / 6 || !st_buf_reserve(out, s.len * 6 + 2))
        return false;
    uint8_t *p = out->ptr + out->len;
    *p++ = '"';
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *p++ = c;
            continue;
        }
        *p++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *p++ = c;
            break;
        case '\n':
            *p++ = 'n';
            break;
        case '\t':
            *p++ = 't';
            break;
        case '\r':
            *p++ = 'r';
            break;
        default:
            memcpy(p, "u00", 3);
            p[3] = (uint8_t)hex[c >> 4];
            p[4] = (uint8_t)hex[c & 15];
            p += 5;
        }
    }
    *p++ = '"';
    out->len = (size_t)(p - out->ptr);
    return true;
}

bool
json_append_base64(struct st_buf *out, st_slice s)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!st_buf_reserve(out, (s.len + 2) / 3 * 4 + 2))
        return false;
    uint8_t *p = out->ptr + out->len;
    *p++ = '"';
    for (size_t i = 0; i < s.len; i += 3) {
        uint32_t n = (uint32_t)s.ptr[i] << 16;
        if (i + 1 < s.len)
            n |= (uint32_t)s.ptr[i + 1] << 8;
        if (i + 2 < s.len)
            n |= s.ptr[i + 2];
        *p++ = (uint8_t)alphabet[n >> 18];
        *p++ = (uint8_t)alphabet[(n >> 12) & 63];
        *p++ = i + 1 < s.len ? (uint8_t)alphabet[(n >> 6) & 63] : '=';
        *p++ = i + 2 < s.len ? (uint8_t)alphabet[n & 63] : '=';
    }
    *p++ = '"';
    out->len = (size_t)(p - out->ptr);
    return true;
}

/* Length of the UTF-8 sequence at p, or 0 when it is malformed. */
static size_t
utf8_sequence_len(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xc2 && c <= 0xdf   ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
    if (n == 0 || n > avail)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    /* Overlongs, surrogates and values past U+10FFFF. */
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
        (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

bool
json_utf8_valid(st_slice s)
{
    size_t i = 0;
    while (i < s.len) {
        size_t n = utf8_sequence_len(s.ptr + i, s.len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

bool
json_error_body(struct st_buf *out, const char *msg)
{
    out->len = 0;
    return json_append_raw(out, "{\"error\":") &&
           json_append_string(out, st_slice_from_cstr(msg)) &&
           json_append_raw(out, "}");
}
