/*
 * The in-memory hash index of the file engine (DDIA 3.1: "keep an
 * in-memory hash map where every key is mapped to a byte offset in the
 * data file"): key -> where its newest record lies.
 *
 * Unlike util/hashmap.c (the memory engine's map), each slot holds the
 * key's 64-bit hash and its location inline; the key bytes live in a
 * separate allocation that only writers, the merge and replay look at. A
 * get finds its location without touching the key: the record it reads
 * carries the key, which the get compares anyway (docs/file-format.md,
 * "Reading a value"). That saves one cache miss per get, at the price of
 * larger slots (docs/performance.md).
 *
 * Open addressing, linear probing, backward-shift deletion, load <= 3/4.
 *
 * Not thread-safe: the engine's rwlock guards the index; any number of
 * readers (get, probe, next) may run at once when no writer runs.
 */
#ifndef STRATA_ENGINES_FILE_INDEX_H
#define STRATA_ENGINES_FILE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/file/file_record.h"
#include "util/slice.h"
#include "util/status.h"

struct file_loc {
    uint64_t seq;    /* of the record: the same seq is the same version */
    uint64_t seg_id; /* segment holding it */
    uint64_t off;    /* of the record in the segment */
    uint32_t val_len;
    bool tombstone; /* only while replaying; never after open */
};

/* The bytes of the record 'loc' points at, for a key of 'key_len'. */
static inline uint64_t
file_loc_rec_len(const struct file_loc *loc, size_t key_len)
{
    return file_record_len(key_len, loc->val_len);
}

struct file_index;

/* A new empty index, or NULL when out of memory. The caller owns it and
 * frees it with file_index_destroy(). */
struct file_index *file_index_create(void);

/* Frees the index and its keys. file_index_destroy(NULL) does nothing. */
void file_index_destroy(struct file_index *idx);

size_t file_index_count(const struct file_index *idx);

/* The location of 'key', compared byte for byte, or NULL. Borrowed: its
 * fields may be changed in place (merge, replay); valid until the next
 * put or delete. */
struct file_loc *file_index_find(struct file_index *idx, st_slice key);

/* true and *loc filled when 'key' is in the index. */
bool file_index_get(const struct file_index *idx, st_slice key,
                    struct file_loc *loc);

/* Points 'key' at 'loc' (the key is copied). When the key was there,
 * *old gets its previous location and *had_old is set. ST_NOMEM leaves
 * the index as it was. REQUIRES: key.len below 4 GiB. */
st_status file_index_put(struct file_index *idx, st_slice key,
                         const struct file_loc *loc, struct file_loc *old,
                         bool *had_old);

/* Removes 'key'; false when it was absent. */
bool file_index_delete(struct file_index *idx, st_slice key);

/* Iterates in no particular order: start with *pos = 0, call until
 * false. The index must not change during the iteration; 'key' borrows. */
bool file_index_next(const struct file_index *idx, size_t *pos, st_slice *key,
                     struct file_loc *loc);

/* A lookup by hash alone, for the read path: it yields every location
 * whose key has the same 64-bit hash as the key asked for, without
 * reading any key. The caller checks the key in the record it reads;
 * when that is not the key, file_index_probe_is_key() tells a hash
 * collision (go on probing) from an index pointing at the wrong record.
 * Valid while the index does not change. */
struct file_index_probe {
    uint64_t hash;
    size_t at;   /* slot of the last candidate */
    size_t next; /* slot to look at next */
};

void file_index_probe_start(const struct file_index *idx, st_slice key,
                            struct file_index_probe *p);

/* The next candidate's location (borrowed), or NULL when none is left. */
const struct file_loc *file_index_probe_next(const struct file_index *idx,
                                             struct file_index_probe *p);

/* Is the last candidate's key exactly 'key'? Reads the key. */
bool file_index_probe_is_key(const struct file_index *idx,
                             const struct file_index_probe *p, st_slice key);

#endif
