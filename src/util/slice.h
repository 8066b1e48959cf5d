/*
 * Byte slices: keys and values are arbitrary bytes, NUL included, so every
 * layer passes (pointer, length) pairs and never a C string.
 *
 * st_slice borrows: it never owns its bytes, and is valid only as long as
 * whoever lent it says. st_buf owns: its bytes are freed by st_buf_free().
 */
#ifndef STRATA_UTIL_SLICE_H
#define STRATA_UTIL_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const uint8_t *ptr;
    size_t len;
} st_slice;

/* Owned, growable bytes. A zeroed st_buf is a valid empty buffer. */
struct st_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
};

static inline st_slice
st_slice_make(const void *ptr, size_t len)
{
    return (st_slice){(const uint8_t *)ptr, len};
}

/* For literals and test code only: never for keys or values from outside. */
static inline st_slice
st_slice_from_cstr(const char *s)
{
    return (st_slice){(const uint8_t *)s, strlen(s)};
}

static inline st_slice
st_buf_slice(const struct st_buf *b)
{
    return (st_slice){b->ptr, b->len};
}

/* Orders as raw bytes: memcmp on the shorter length, then the shorter
 * slice first. This is the order of /range and of every sorted engine. */
static inline int
st_slice_compare(st_slice a, st_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

static inline bool
st_slice_equal(st_slice a, st_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Makes room for at least 'extra' more bytes. false on allocation failure,
 * with the buffer unchanged. */
bool st_buf_reserve(struct st_buf *b, size_t extra);

/* Replaces the contents with a copy of 's'. false on allocation failure. */
bool st_buf_set(struct st_buf *b, st_slice s);

/* Appends a copy of 's'. false on allocation failure. */
bool st_buf_append(struct st_buf *b, st_slice s);

/* Frees the bytes and leaves an empty buffer. */
void st_buf_free(struct st_buf *b);

#endif
