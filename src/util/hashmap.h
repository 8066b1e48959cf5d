/*
 * A hash map from byte keys to byte values, both copied in: the index of
 * the memory engine (key -> value) and of the file engine (key -> where
 * the value lies on disk), DDIA 3.1 "Hash Indexes".
 *
 * Open addressing with linear probing and backward-shift deletion, so a
 * lookup touches one contiguous run of slots and deletes leave no
 * tombstones behind. Each entry is one allocation holding key and value.
 *
 * Not thread-safe: the owner guards it (the engines use a rwlock; any
 * number of concurrent hashmap_get calls are fine when no writer runs).
 */
#ifndef STRATA_UTIL_HASHMAP_H
#define STRATA_UTIL_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"
#include "util/status.h"

struct hashmap;

/* Returns a new empty map, or NULL when out of memory. The caller owns it
 * and frees it with hashmap_destroy(). */
struct hashmap *hashmap_create(void);

/* Frees the map and every entry. hashmap_destroy(NULL) does nothing. */
void hashmap_destroy(struct hashmap *map);

/* Inserts or replaces. Copies both slices. REQUIRES: key.len and val.len
 * below 4 GiB. ST_NOMEM leaves the map as it was. */
st_status hashmap_put(struct hashmap *map, st_slice key, st_slice val);

/* On true, *val borrows the stored value, valid until the next put or
 * delete on this map. */
bool hashmap_get(const struct hashmap *map, st_slice key, st_slice *val);

/* Like hashmap_get, but the value's bytes may be changed in place (same
 * length), which saves the file engine an allocation per overwrite. */
bool hashmap_get_mut(struct hashmap *map, st_slice key, uint8_t **val,
                     size_t *val_len);

/* Removes the key; false when it was absent. */
bool hashmap_delete(struct hashmap *map, st_slice key);

size_t hashmap_count(const struct hashmap *map);

/* Bytes of keys plus values held (not counting the map's own overhead). */
uint64_t hashmap_data_bytes(const struct hashmap *map);

/* Iterates in no particular order: start with *pos = 0, call until false.
 * The map must not change during the iteration; slices borrow. */
bool hashmap_next(const struct hashmap *map, size_t *pos, st_slice *key,
                  st_slice *val);

#endif
