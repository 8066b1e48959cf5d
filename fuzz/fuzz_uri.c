/*
 * Fuzz target: REQUEST_URI parsing of src/api/uri.h: uri_split,
 * uri_decode and uri_query_param, each checked against a plain reference
 * written here from the header's contract (a different shape of code, so
 * a shared mistake is unlikely):
 *
 *   - split: path is everything before the first '?', query after it;
 *   - decode: "%XY" with two hex digits is one byte, '+' stays '+', any
 *     other '%' is ST_INVALID; the output never exceeds the input;
 *   - query_param: pairs split at '&', name up to the first '=' compared
 *     raw; absent is ST_NOT_FOUND, twice is ST_INVALID.
 *
 * Input: name-selector:1 | uri. The selector picks the parameter name
 * looked up ("start", "end", "limit", "" or "a").
 */
#include "fuzz_common.h"

#include "api/uri.h"

static int
hex_digit(uint8_t c)
{
    static const char digits[] = "0123456789abcdef0123456789ABCDEF";
    const char *p = c ? memchr(digits, c, 32) : NULL;
    return p == NULL ? -1 : (int)((p - digits) % 16);
}

/* Reference decoder: -1 on a bad escape, else the decoded length. */
static long
ref_decode(st_slice in, uint8_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < in.len;) {
        if (in.ptr[i] != '%') {
            out[n++] = in.ptr[i++];
            continue;
        }
        if (i + 3 > in.len || hex_digit(in.ptr[i + 1]) < 0 ||
            hex_digit(in.ptr[i + 2]) < 0)
            return -1;
        out[n++] = (uint8_t)(hex_digit(in.ptr[i + 1]) * 16 +
                             hex_digit(in.ptr[i + 2]));
        i += 3;
    }
    return (long)n;
}

/* Reference lookup: the raw value of the only pair named 'name'. */
static st_status
ref_param(st_slice q, const char *name, st_slice *raw)
{
    size_t want = strlen(name), hits = 0;
    size_t start = 0;
    while (start <= q.len) {
        size_t end = start;
        while (end < q.len && q.ptr[end] != '&')
            end++;
        if (end > start) {
            size_t eq = start;
            while (eq < end && q.ptr[eq] != '=')
                eq++;
            if (eq - start == want && memcmp(q.ptr + start, name, want) == 0) {
                hits++;
                *raw = eq < end ? st_slice_make(q.ptr + eq + 1, end - eq - 1)
                                : st_slice_make(q.ptr + end, 0);
            }
        }
        start = end + 1;
    }
    if (hits == 0)
        return ST_NOT_FOUND;
    return hits == 1 ? ST_OK : ST_INVALID;
}

static void
check_decode(st_slice in, struct st_buf *out, uint8_t *ref)
{
    long want = ref_decode(in, ref);
    st_status s = uri_decode(in, out);
    FUZZ_CHECK(s == ST_OK || s == ST_INVALID);
    FUZZ_CHECK((s == ST_OK) == (want >= 0));
    if (s == ST_OK) {
        FUZZ_CHECK(out->len == (size_t)want && out->len <= in.len);
        FUZZ_CHECK(out->len == 0 || memcmp(out->ptr, ref, out->len) == 0);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"start", "end", "limit", "", "a"};
    if (size == 0)
        return 0;
    const char *name = names[data[0] % 5];
    st_slice uri = st_slice_make(data + 1, size - 1);

    st_slice path, query;
    uri_split(uri, &path, &query);
    const uint8_t *q = uri.len ? memchr(uri.ptr, '?', uri.len) : NULL;
    size_t plen = q ? (size_t)(q - uri.ptr) : uri.len;
    FUZZ_CHECK(path.ptr == uri.ptr && path.len == plen);
    FUZZ_CHECK(q ? query.ptr == q + 1 && query.len == uri.len - plen - 1
                 : query.len == 0);

    uint8_t *ref = malloc(uri.len + 1);
    FUZZ_SETUP(ref != NULL);
    struct st_buf out = {0};
    check_decode(uri, &out, ref);
    check_decode(path, &out, ref);

    st_slice raw = {0};
    st_status want = ref_param(query, name, &raw);
    st_status s = uri_query_param(query, name, &out);
    if (want == ST_OK) {
        long n = ref_decode(raw, ref);
        FUZZ_CHECK(s == (n >= 0 ? ST_OK : ST_INVALID));
        if (s == ST_OK)
            FUZZ_CHECK(out.len == (size_t)n &&
                       (n == 0 || memcmp(out.ptr, ref, out.len) == 0));
    } else {
        FUZZ_CHECK(s == want);
    }
    st_buf_free(&out);
    free(ref);
    return 0;
}
