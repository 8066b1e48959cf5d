/*
 * The in-memory hash index of the file engine (DDIA 3.1: "keep an
 * in-memory hash map where every key is mapped to a byte offset in the
 * data file"): key -> where its newest record lies. The location is a
 * small fixed-size struct stored as the hashmap's value bytes, so an
 * overwrite changes it in place without an allocation.
 *
 * Not thread-safe: the engine's rwlock guards the map.
 */
#ifndef STRATA_ENGINES_FILE_INDEX_H
#define STRATA_ENGINES_FILE_INDEX_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "engines/file/file_record.h"
#include "util/hashmap.h"

struct file_loc {
    uint64_t seq;    /* of the record: the same seq is the same version */
    uint64_t seg_id; /* segment holding it */
    uint64_t off;    /* of the record in the segment */
    uint32_t val_len;
    bool tombstone; /* only while replaying; never after open */
};

/* Bytes a location takes as a hashmap value. */
enum { FILE_LOC_LEN = 29 };

static inline void
file_loc_encode(uint8_t *p, const struct file_loc *loc)
{
    memcpy(p, &loc->seq, 8);
    memcpy(p + 8, &loc->seg_id, 8);
    memcpy(p + 16, &loc->off, 8);
    memcpy(p + 24, &loc->val_len, 4);
    p[28] = loc->tombstone;
}

static inline void
file_loc_decode(const uint8_t *p, struct file_loc *loc)
{
    memcpy(&loc->seq, p, 8);
    memcpy(&loc->seg_id, p + 8, 8);
    memcpy(&loc->off, p + 16, 8);
    memcpy(&loc->val_len, p + 24, 4);
    loc->tombstone = p[28] != 0;
}

/* The bytes of the record 'loc' points at, for a key of 'key_len'. */
static inline uint64_t
file_loc_rec_len(const struct file_loc *loc, size_t key_len)
{
    return file_record_len(key_len, loc->val_len);
}

/* true and *loc filled when 'key' is in the index. */
static inline bool
file_index_get(const struct hashmap *map, st_slice key, struct file_loc *loc)
{
    st_slice v;
    if (!hashmap_get(map, key, &v))
        return false;
    file_loc_decode(v.ptr, loc);
    return true;
}

/* Points 'key' at 'loc'. When the key was there, *old gets its previous
 * location and *had_old is set. ST_NOMEM leaves the map as it was. */
static inline st_status
file_index_put(struct hashmap *map, st_slice key, const struct file_loc *loc,
               struct file_loc *old, bool *had_old)
{
    uint8_t *p;
    size_t len;
    *had_old = hashmap_get_mut(map, key, &p, &len);
    if (*had_old) {
        file_loc_decode(p, old);
        file_loc_encode(p, loc);
        return ST_OK;
    }
    uint8_t buf[FILE_LOC_LEN];
    file_loc_encode(buf, loc);
    return hashmap_put(map, key, st_slice_make(buf, sizeof buf));
}

#endif
