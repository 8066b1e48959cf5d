/* Owned byte buffers (see slice.h). Growth doubles so that appending n
 * bytes one record at a time costs O(n) copies in total. */
#include "util/slice.h"

#include <stdlib.h>

bool
st_buf_reserve(struct st_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return true;
    if (extra > SIZE_MAX - b->len)
        return false;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->ptr, cap);
    if (p == NULL)
        return false;
    b->ptr = p;
    b->cap = cap;
    return true;
}

bool
st_buf_set(struct st_buf *b, st_slice s)
{
    b->len = 0;
    return st_buf_append(b, s);
}

bool
st_buf_append(struct st_buf *b, st_slice s)
{
    if (!st_buf_reserve(b, s.len))
        return false;
    if (s.len)
        memcpy(b->ptr + b->len, s.ptr, s.len);
    b->len += s.len;
    return true;
}

void
st_buf_free(struct st_buf *b)
{
    free(b->ptr);
    *b = (struct st_buf){0};
}
