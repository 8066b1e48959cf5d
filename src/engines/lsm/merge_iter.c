/*
 * A k-way merge with a binary heap (DDIA 3.1: merging sorted segments
 * "is like the mergesort algorithm"). Each step costs O(log k) compares;
 * the heap's top is always the smallest (key, -seq) among the sources, so
 * the output is in internal order. docs/lsm-design.md, "Iterators".
 *
 * Invariants: heap[0 .. heap_len) holds the indexes of the valid
 * children; an error in any child ends the merge (valid() false, status()
 * says why), because skipping a damaged source would silently show older
 * versions of its keys.
 */
#include "engines/lsm/merge_iter.h"

#include <stdlib.h>

struct merge_iter {
    struct lsm_iter base;
    struct lsm_iter **child;
    size_t count;
    size_t *heap; /* indexes into child */
    size_t heap_len;
    st_status status;
    struct st_error err;
};

static bool
less(const struct merge_iter *m, size_t a, size_t b)
{
    const struct lsm_iter *x = m->child[a], *y = m->child[b];
    int c = lsm_entry_compare(x->ops->key(x), x->ops->seq(x), y->ops->key(y),
                              y->ops->seq(y));
    return c < 0 || (c == 0 && a < b);
}

static void
sift_down(struct merge_iter *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < m->heap_len && less(m, m->heap[l], m->heap[min]))
            min = l;
        if (r < m->heap_len && less(m, m->heap[r], m->heap[min]))
            min = r;
        if (min == i)
            return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[min];
        m->heap[min] = t;
        i = min;
    }
}

/* Records the first child error; the merge then stops. */
static bool
child_failed(struct merge_iter *m, size_t i)
{
    struct lsm_iter *c = m->child[i];
    if (c->ops->valid(c))
        return false;
    struct st_error err = {0};
    st_status s = c->ops->status(c, &err);
    if (s != ST_OK && m->status == ST_OK) {
        m->status = s;
        m->err = err;
    }
    return s != ST_OK;
}

static void
build_heap(struct merge_iter *m)
{
    m->heap_len = 0;
    for (size_t i = 0; i < m->count; i++) {
        if (m->child[i]->ops->valid(m->child[i]))
            m->heap[m->heap_len++] = i;
        else
            child_failed(m, i);
    }
    for (size_t i = m->heap_len / 2; i-- > 0;)
        sift_down(m, i);
}

static void
merge_seek_first(struct lsm_iter *it)
{
    struct merge_iter *m = (struct merge_iter *)it;
    m->status = ST_OK;
    for (size_t i = 0; i < m->count; i++)
        m->child[i]->ops->seek_first(m->child[i]);
    build_heap(m);
}

static void
merge_seek(struct lsm_iter *it, st_slice key)
{
    struct merge_iter *m = (struct merge_iter *)it;
    m->status = ST_OK;
    for (size_t i = 0; i < m->count; i++)
        m->child[i]->ops->seek(m->child[i], key);
    build_heap(m);
}

static void
merge_next(struct lsm_iter *it)
{
    struct merge_iter *m = (struct merge_iter *)it;
    size_t top = m->heap[0];
    struct lsm_iter *c = m->child[top];
    c->ops->next(c);
    if (!c->ops->valid(c)) {
        child_failed(m, top);
        m->heap[0] = m->heap[--m->heap_len];
    }
    if (m->heap_len > 0)
        sift_down(m, 0);
}

static bool
merge_valid(const struct lsm_iter *it)
{
    const struct merge_iter *m = (const struct merge_iter *)it;
    return m->status == ST_OK && m->heap_len > 0;
}

static const struct lsm_iter *
top(const struct lsm_iter *it)
{
    const struct merge_iter *m = (const struct merge_iter *)it;
    return m->child[m->heap[0]];
}

static st_slice
merge_key(const struct lsm_iter *it)
{
    const struct lsm_iter *c = top(it);
    return c->ops->key(c);
}

static uint64_t
merge_seq(const struct lsm_iter *it)
{
    const struct lsm_iter *c = top(it);
    return c->ops->seq(c);
}

static enum lsm_value_type
merge_type(const struct lsm_iter *it)
{
    const struct lsm_iter *c = top(it);
    return c->ops->type(c);
}

static st_slice
merge_value(const struct lsm_iter *it)
{
    const struct lsm_iter *c = top(it);
    return c->ops->value(c);
}

static st_status
merge_status(const struct lsm_iter *it, struct st_error *err)
{
    const struct merge_iter *m = (const struct merge_iter *)it;
    if (m->status != ST_OK && err != NULL)
        *err = m->err;
    return m->status;
}

static void
merge_destroy(struct lsm_iter *it)
{
    struct merge_iter *m = (struct merge_iter *)it;
    for (size_t i = 0; i < m->count; i++)
        lsm_iter_destroy(m->child[i]);
    free(m->child);
    free(m->heap);
    free(m);
}

static const struct lsm_iter_ops merge_ops = {
    .seek_first = merge_seek_first,
    .seek = merge_seek,
    .next = merge_next,
    .valid = merge_valid,
    .key = merge_key,
    .seq = merge_seq,
    .type = merge_type,
    .value = merge_value,
    .status = merge_status,
    .destroy = merge_destroy,
};

struct lsm_iter *
lsm_merge_iter_create(struct lsm_iter *const *children, size_t count)
{
    struct merge_iter *m = calloc(1, sizeof *m);
    if (m != NULL) {
        m->child = calloc(count ? count : 1, sizeof *m->child);
        m->heap = calloc(count ? count : 1, sizeof *m->heap);
    }
    if (m == NULL || m->child == NULL || m->heap == NULL) {
        for (size_t i = 0; i < count; i++)
            lsm_iter_destroy(children[i]);
        if (m != NULL) {
            free(m->child);
            free(m->heap);
            free(m);
        }
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        m->child[i] = children[i];
    m->count = count;
    m->base.ops = &merge_ops;
    return &m->base;
}
