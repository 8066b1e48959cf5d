/*
 * Versions (LevelDB's Version): the set of live SSTables per level as an
 * immutable, reference-counted snapshot. A reader or a scan takes a
 * reference on the current version and reads a consistent set of tables
 * while a flush or a compaction builds the next version and swaps it in;
 * a table file whose last reference goes away after it was made obsolete
 * (removed by a durable manifest edit) is closed and deleted then.
 *
 *   level 0:  [000012] [000011] [000009]      newest first, may overlap
 *   level 1:  [a..f] [g..m] [n..z]             sorted, disjoint
 *   level 2:  [a..b] [c..d] ... (10x the bytes of level 1)
 *
 * Threads: a version never changes after lsm_version_edit() returns it, so
 * any number of threads may read it; ref/unref are atomic.
 */
#ifndef STRATA_ENGINES_LSM_VERSION_H
#define STRATA_ENGINES_LSM_VERSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/lsm/manifest.h"
#include "engines/lsm/sstable.h"
#include "util/slice.h"
#include "util/status.h"

/* One open table, shared by every version that lists it. */
struct lsm_tref {
    atomic_int refs;
    atomic_bool obsolete; /* delete the file at the last unref */
    struct lsm_table *table;
    char *path;
    uint64_t number;
    uint64_t file_bytes, entries, min_seq, max_seq;
    struct st_buf min_key, max_key; /* user keys */
};

/* Takes ownership of 'table' and 'path' (also on failure: both are then
 * closed/freed); copies the keys. One reference, owned by the caller.
 * NULL when out of memory. */
struct lsm_tref *lsm_tref_create(struct lsm_table *table, char *path,
                                 uint64_t number, uint64_t file_bytes,
                                 uint64_t entries, uint64_t min_seq,
                                 uint64_t max_seq, st_slice min_key,
                                 st_slice max_key);
void lsm_tref_ref(struct lsm_tref *t);
/* Drops a reference; at zero closes the table, and deletes the file when
 * it was marked obsolete. NULL does nothing. */
void lsm_tref_unref(struct lsm_tref *t);

/* Fills 'm' so that it borrows the keys of 't' (do not deinit it): the
 * form a manifest edit takes. */
void lsm_tref_meta(const struct lsm_tref *t, int level,
                   struct lsm_table_meta *m);

struct lsm_version {
    atomic_int refs;
    struct lsm_tref **files[LSM_LEVELS];
    size_t count[LSM_LEVELS];
};

/* An empty version with one reference. NULL when out of memory. */
struct lsm_version *lsm_version_create(void);
void lsm_version_ref(struct lsm_version *v);
void lsm_version_unref(struct lsm_version *v); /* NULL does nothing */

/* One table added to or removed from a level. */
struct lsm_version_change {
    int level;
    struct lsm_tref *table; /* added: referenced by the new version */
    uint64_t number;        /* removed: found by number */
};

/* A new version: 'base' minus 'removed' plus 'added', each level sorted
 * (level 0 newest first by file number, deeper levels by min key). The
 * caller owns the result (one reference). NULL when out of memory. */
struct lsm_version *lsm_version_edit(const struct lsm_version *base,
                                     const struct lsm_version_change *added,
                                     size_t added_count,
                                     const struct lsm_version_change *removed,
                                     size_t removed_count);

uint64_t lsm_version_level_bytes(const struct lsm_version *v, int level);
size_t lsm_version_tables(const struct lsm_version *v);

/* Level >= 1: the index of the first table whose max key is >= 'key'
 * (count[level] when none). */
size_t lsm_version_find(const struct lsm_version *v, int level, st_slice key);

/* Whether [lo, hi] (user keys) meets any table of 'level'. */
bool lsm_version_overlaps(const struct lsm_version *v, int level, st_slice lo,
                          st_slice hi);

/* Whether 'key' lies in the key range of some table of a level deeper
 * than 'level' (so a tombstone for it must be kept). */
bool lsm_version_key_may_be_below(const struct lsm_version *v, int level,
                                  st_slice key);

#endif
