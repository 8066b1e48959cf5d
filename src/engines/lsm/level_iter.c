/*
 * A concatenating iterator over one level (docs/lsm-design.md,
 * "Iterators"). Because the tables of a level >= 1 are sorted by key and
 * disjoint, the level is one sorted run: seek picks the one table whose
 * range can hold the key by binary search, and running off the end of a
 * table moves to the first entry of the next.
 */
#include "engines/lsm/level_iter.h"

#include <stdlib.h>

struct level_iter {
    struct lsm_iter base;
    struct lsm_version *v;
    int level;
    size_t index;         /* table under 'cur' */
    struct lsm_iter *cur; /* NULL when past the end or out of memory */
    st_status status;
    struct st_error err;
};

/* Opens the table iterator of table 'i' (closing the previous one). */
static bool
open_table(struct level_iter *li, size_t i)
{
    lsm_iter_destroy(li->cur);
    li->cur = NULL;
    li->index = i;
    if (i >= li->v->count[li->level])
        return false;
    li->cur = lsm_table_iter_create(li->v->files[li->level][i]->table);
    if (li->cur == NULL) {
        li->status = st_error_set(&li->err, ST_NOMEM, 0,
                                  "lsm: no memory for a table iterator");
        return false;
    }
    return true;
}

/* While the current table is exhausted without error, moves on to the
 * next table's first entry. */
static void
skip_empty_tables(struct level_iter *li)
{
    while (li->cur != NULL && !li->cur->ops->valid(li->cur)) {
        st_status s = li->cur->ops->status(li->cur, &li->err);
        if (s != ST_OK) {
            li->status = s;
            return;
        }
        if (!open_table(li, li->index + 1))
            return;
        li->cur->ops->seek_first(li->cur);
    }
}

static void
level_seek_first(struct lsm_iter *it)
{
    struct level_iter *li = (struct level_iter *)it;
    li->status = ST_OK;
    if (open_table(li, 0))
        li->cur->ops->seek_first(li->cur);
    skip_empty_tables(li);
}

static void
level_seek(struct lsm_iter *it, st_slice key)
{
    struct level_iter *li = (struct level_iter *)it;
    li->status = ST_OK;
    if (open_table(li, lsm_version_find(li->v, li->level, key)))
        li->cur->ops->seek(li->cur, key);
    skip_empty_tables(li);
}

static void
level_next(struct lsm_iter *it)
{
    struct level_iter *li = (struct level_iter *)it;
    li->cur->ops->next(li->cur);
    skip_empty_tables(li);
}

static bool
level_valid(const struct lsm_iter *it)
{
    const struct level_iter *li = (const struct level_iter *)it;
    return li->status == ST_OK && li->cur != NULL &&
           li->cur->ops->valid(li->cur);
}

static st_slice
level_key(const struct lsm_iter *it)
{
    const struct level_iter *li = (const struct level_iter *)it;
    return li->cur->ops->key(li->cur);
}

static uint64_t
level_seq(const struct lsm_iter *it)
{
    const struct level_iter *li = (const struct level_iter *)it;
    return li->cur->ops->seq(li->cur);
}

static enum lsm_value_type
level_type(const struct lsm_iter *it)
{
    const struct level_iter *li = (const struct level_iter *)it;
    return li->cur->ops->type(li->cur);
}

static st_slice
level_value(const struct lsm_iter *it)
{
    const struct level_iter *li = (const struct level_iter *)it;
    return li->cur->ops->value(li->cur);
}

static st_status
level_status(const struct lsm_iter *it, struct st_error *err)
{
    const struct level_iter *li = (const struct level_iter *)it;
    if (li->status != ST_OK && err != NULL)
        *err = li->err;
    return li->status;
}

static void
level_destroy(struct lsm_iter *it)
{
    struct level_iter *li = (struct level_iter *)it;
    lsm_iter_destroy(li->cur);
    lsm_version_unref(li->v);
    free(li);
}

static const struct lsm_iter_ops level_ops = {
    .seek_first = level_seek_first,
    .seek = level_seek,
    .next = level_next,
    .valid = level_valid,
    .key = level_key,
    .seq = level_seq,
    .type = level_type,
    .value = level_value,
    .status = level_status,
    .destroy = level_destroy,
};

struct lsm_iter *
lsm_level_iter_create(struct lsm_version *v, int level)
{
    struct level_iter *li = calloc(1, sizeof *li);
    if (li == NULL)
        return NULL;
    lsm_version_ref(v);
    li->v = v;
    li->level = level;
    li->base.ops = &level_ops;
    return &li->base;
}
