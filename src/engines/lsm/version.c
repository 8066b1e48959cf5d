/*
 * Versions: the live tables per level as an immutable snapshot with a
 * reference count (DDIA 3.1, "SSTables and LSM-Trees": readers go on
 * while compaction replaces tables). docs/lsm-design.md, "Versions".
 *
 * Invariants: a version never changes once built; levels >= 1 are sorted
 * by min key and their tables do not overlap; level 0 is newest first.
 * A table file is deleted only when it was made obsolete by a durable
 * manifest edit AND no version or reader refers to it any more.
 */
#include "engines/lsm/version.h"

#include <stdlib.h>
#include <string.h>

#include "util/io.h"
#include "util/log.h"

struct lsm_tref *
lsm_tref_create(struct lsm_table *table, char *path, uint64_t number,
                uint64_t file_bytes, uint64_t entries, uint64_t min_seq,
                uint64_t max_seq, st_slice min_key, st_slice max_key)
{
    struct lsm_tref *t = calloc(1, sizeof *t);
    if (t == NULL || !st_buf_set(&t->min_key, min_key) ||
        !st_buf_set(&t->max_key, max_key)) {
        if (t != NULL) {
            st_buf_free(&t->min_key);
            free(t);
        }
        lsm_table_close(table);
        free(path);
        return NULL;
    }
    atomic_init(&t->refs, 1);
    atomic_init(&t->obsolete, false);
    t->table = table;
    t->path = path;
    t->number = number;
    t->file_bytes = file_bytes;
    t->entries = entries;
    t->min_seq = min_seq;
    t->max_seq = max_seq;
    return t;
}

void
lsm_tref_ref(struct lsm_tref *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void
lsm_tref_unref(struct lsm_tref *t)
{
    if (t == NULL ||
        atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    lsm_table_close(t->table);
    if (atomic_load(&t->obsolete)) {
        /* The manifest edit that removed it is durable (the flag is set
         * only after it), so no restart can ask for this file again. */
        struct st_error err = {0};
        if (io_unlink(t->path, &err) != ST_OK)
            log_warn("lsm: cannot delete obsolete table error=%s", err.msg);
    }
    st_buf_free(&t->min_key);
    st_buf_free(&t->max_key);
    free(t->path);
    free(t);
}

void
lsm_tref_meta(const struct lsm_tref *t, int level, struct lsm_table_meta *m)
{
    *m = (struct lsm_table_meta){
        .number = t->number,
        .level = level,
        .file_bytes = t->file_bytes,
        .entries = t->entries,
        .min_seq = t->min_seq,
        .max_seq = t->max_seq,
        .min_key = t->min_key,
        .max_key = t->max_key,
    };
}

struct lsm_version *
lsm_version_create(void)
{
    struct lsm_version *v = calloc(1, sizeof *v);
    if (v != NULL)
        atomic_init(&v->refs, 1);
    return v;
}

void
lsm_version_ref(struct lsm_version *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

void
lsm_version_unref(struct lsm_version *v)
{
    if (v == NULL ||
        atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int l = 0; l < LSM_LEVELS; l++) {
        for (size_t i = 0; i < v->count[l]; i++)
            lsm_tref_unref(v->files[l][i]);
        free(v->files[l]);
    }
    free(v);
}

static int
by_number_desc(const void *a, const void *b)
{
    const struct lsm_tref *x = *(const struct lsm_tref *const *)a;
    const struct lsm_tref *y = *(const struct lsm_tref *const *)b;
    return (x->number < y->number) - (x->number > y->number);
}

static int
by_min_key(const void *a, const void *b)
{
    const struct lsm_tref *x = *(const struct lsm_tref *const *)a;
    const struct lsm_tref *y = *(const struct lsm_tref *const *)b;
    return st_slice_compare(st_buf_slice(&x->min_key),
                            st_buf_slice(&y->min_key));
}

static bool
is_removed(const struct lsm_tref *t, int level,
           const struct lsm_version_change *removed, size_t removed_count)
{
    for (size_t i = 0; i < removed_count; i++)
        if (removed[i].level == level && removed[i].number == t->number)
            return true;
    return false;
}

struct lsm_version *
lsm_version_edit(const struct lsm_version *base,
                 const struct lsm_version_change *added, size_t added_count,
                 const struct lsm_version_change *removed, size_t removed_count)
{
    struct lsm_version *v = lsm_version_create();
    if (v == NULL)
        return NULL;
    for (int l = 0; l < LSM_LEVELS; l++) {
        size_t cap = base->count[l];
        for (size_t i = 0; i < added_count; i++)
            cap += added[i].level == l;
        if (cap == 0)
            continue;
        v->files[l] = malloc(cap * sizeof *v->files[l]);
        if (v->files[l] == NULL) {
            lsm_version_unref(v);
            return NULL;
        }
        for (size_t i = 0; i < base->count[l]; i++) {
            struct lsm_tref *t = base->files[l][i];
            if (is_removed(t, l, removed, removed_count))
                continue;
            lsm_tref_ref(t);
            v->files[l][v->count[l]++] = t;
        }
        for (size_t i = 0; i < added_count; i++) {
            if (added[i].level != l)
                continue;
            lsm_tref_ref(added[i].table);
            v->files[l][v->count[l]++] = added[i].table;
        }
        qsort(v->files[l], v->count[l], sizeof *v->files[l],
              l == 0 ? by_number_desc : by_min_key);
    }
    return v;
}

uint64_t
lsm_version_level_bytes(const struct lsm_version *v, int level)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < v->count[level]; i++)
        sum += v->files[level][i]->file_bytes;
    return sum;
}

size_t
lsm_version_tables(const struct lsm_version *v)
{
    size_t n = 0;
    for (int l = 0; l < LSM_LEVELS; l++)
        n += v->count[l];
    return n;
}

size_t
lsm_version_find(const struct lsm_version *v, int level, st_slice key)
{
    size_t lo = 0, hi = v->count[level];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st_slice_compare(st_buf_slice(&v->files[level][mid]->max_key),
                             key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool
table_meets(const struct lsm_tref *t, st_slice lo, st_slice hi)
{
    return st_slice_compare(st_buf_slice(&t->max_key), lo) >= 0 &&
           st_slice_compare(st_buf_slice(&t->min_key), hi) <= 0;
}

bool
lsm_version_overlaps(const struct lsm_version *v, int level, st_slice lo,
                     st_slice hi)
{
    if (level == 0) {
        for (size_t i = 0; i < v->count[0]; i++)
            if (table_meets(v->files[0][i], lo, hi))
                return true;
        return false;
    }
    size_t i = lsm_version_find(v, level, lo);
    return i < v->count[level] && table_meets(v->files[level][i], lo, hi);
}

bool
lsm_version_key_may_be_below(const struct lsm_version *v, int level,
                             st_slice key)
{
    for (int l = level + 1; l < LSM_LEVELS; l++)
        if (lsm_version_overlaps(v, l, key, key))
            return true;
    return false;
}
