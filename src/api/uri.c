/* Request URI handling (see uri.h). */
#include "api/uri.h"

#include <string.h>

void
uri_split(st_slice uri, st_slice *path, st_slice *query)
{
    const uint8_t *q = uri.len ? memchr(uri.ptr, '?', uri.len) : NULL;
    if (q == NULL) {
        *path = uri;
        *query = (st_slice){uri.ptr + uri.len, 0};
        return;
    }
    size_t at = (size_t)(q - uri.ptr);
    *path = (st_slice){uri.ptr, at};
    *query = (st_slice){q + 1, uri.len - at - 1};
}

static int
hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

st_status
uri_decode(st_slice in, struct st_buf *out)
{
    out->len = 0;
    if (!st_buf_reserve(out, in.len))
        return ST_NOMEM; /* decoding never grows the input */
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.ptr[i];
        if (c == '%') {
            if (in.len - i < 3)
                return ST_INVALID; /* '%' cut short at the end */
            int hi = hex_value(in.ptr[i + 1]);
            int lo = hex_value(in.ptr[i + 2]);
            if (hi < 0 || lo < 0)
                return ST_INVALID;
            c = (uint8_t)(hi << 4 | lo);
            i += 2;
        }
        out->ptr[out->len++] = c;
    }
    return ST_OK;
}

/* Finds the next "name=value" pair starting at *pos. */
static bool
next_param(st_slice query, size_t *pos, st_slice *name, st_slice *value)
{
    while (*pos < query.len) {
        size_t start = *pos;
        const uint8_t *amp = memchr(query.ptr + start, '&', query.len - start);
        size_t end = amp ? (size_t)(amp - query.ptr) : query.len;
        *pos = end + 1;
        if (end == start)
            continue; /* "a=1&&b=2": skip the empty pair */
        st_slice pair = {query.ptr + start, end - start};
        const uint8_t *eq = memchr(pair.ptr, '=', pair.len);
        size_t name_len = eq ? (size_t)(eq - pair.ptr) : pair.len;
        *name = (st_slice){pair.ptr, name_len};
        *value = eq ? (st_slice){eq + 1, pair.len - name_len - 1}
                    : (st_slice){pair.ptr + pair.len, 0};
        return true;
    }
    return false;
}

st_status
uri_query_param(st_slice query, const char *name, struct st_buf *out)
{
    st_slice want = st_slice_from_cstr(name);
    st_slice n, v, found = {NULL, 0};
    bool seen = false;
    size_t pos = 0;
    while (next_param(query, &pos, &n, &v)) {
        if (!st_slice_equal(n, want))
            continue;
        if (seen)
            return ST_INVALID; /* ambiguous: which one did the client mean? */
        seen = true;
        found = v;
    }
    if (!seen)
        return ST_NOT_FOUND;
    return uri_decode(found, out);
}
