/*
 * One iterator interface for every sorted source of the LSM engine: the
 * memtable, an SSTable, a level, and the merge of all of them. Entries
 * come in internal order (user key ascending, newest version first; see
 * internal_key.h), tombstones included: hiding them is the job of the
 * engine's scan, because a tombstone must hide older versions below it.
 *
 * Slices returned by key() and value() borrow and stay valid until the
 * iterator moves or is destroyed. An iterator is used by one thread.
 */
#ifndef STRATA_ENGINES_LSM_ITERATOR_H
#define STRATA_ENGINES_LSM_ITERATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "engines/lsm/internal_key.h"
#include "util/slice.h"
#include "util/status.h"

struct lsm_iter;

struct lsm_iter_ops {
    /* Positions at the first entry. */
    void (*seek_first)(struct lsm_iter *it);
    /* Positions at the first entry whose user key is >= 'key' (its newest
     * version). */
    void (*seek)(struct lsm_iter *it, st_slice key);
    /* REQUIRES: valid(). */
    void (*next)(struct lsm_iter *it);
    /* false past the end, and after an error (see status). */
    bool (*valid)(const struct lsm_iter *it);
    /* REQUIRES: valid() for these four. */
    st_slice (*key)(const struct lsm_iter *it);
    uint64_t (*seq)(const struct lsm_iter *it);
    enum lsm_value_type (*type)(const struct lsm_iter *it);
    st_slice (*value)(const struct lsm_iter *it);
    /* ST_OK, or the error that made the iterator invalid (ST_CORRUPT for
     * a block failing its checksum, ST_IO ...), with 'err' filled. */
    st_status (*status)(const struct lsm_iter *it, struct st_error *err);
    /* Frees the iterator. destroy(NULL) is not allowed: use
     * lsm_iter_destroy(), which accepts NULL. */
    void (*destroy)(struct lsm_iter *it);
};

/* Every iterator struct starts with this. */
struct lsm_iter {
    const struct lsm_iter_ops *ops;
};

static inline void
lsm_iter_destroy(struct lsm_iter *it)
{
    if (it != NULL)
        it->ops->destroy(it);
}

#endif
