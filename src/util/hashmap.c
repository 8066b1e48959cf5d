/*
 * Open-addressing hash map (see hashmap.h). Keys are hashed with XXH3 from
 * libxxhash: fast on short keys and well distributed, which linear
 * probing needs, since clustered hashes make long probe runs.
 *
 *   slots: [h|e][h|e][ 0|-][h|e] ...   power-of-two count, load <= 3/4
 *   entry: key_len:4 val_len:4 key bytes.. val bytes..
 */
#include "util/hashmap.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util/linear_probe.h"

struct entry {
    uint32_t key_len;
    uint32_t val_len;
    uint8_t bytes[]; /* key, then value */
};

struct slot {
    uint64_t hash;
    struct entry *e; /* NULL: empty */
};

struct hashmap {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t count;
    uint64_t data_bytes;
};

static const size_t INITIAL_SLOTS = 16;

static uint64_t
hash_key(st_slice key)
{
    return XXH3_64bits(key.ptr, key.len);
}

static bool
entry_has_key(const struct entry *e, st_slice key)
{
    return e->key_len == key.len &&
           (key.len == 0 || memcmp(e->bytes, key.ptr, key.len) == 0);
}

struct hashmap *
hashmap_create(void)
{
    struct hashmap *map = calloc(1, sizeof *map);
    if (map == NULL)
        return NULL;
    map->slots = calloc(INITIAL_SLOTS, sizeof *map->slots);
    if (map->slots == NULL) {
        free(map);
        return NULL;
    }
    map->cap = INITIAL_SLOTS;
    return map;
}

void
hashmap_destroy(struct hashmap *map)
{
    if (map == NULL)
        return;
    for (size_t i = 0; i < map->cap; i++)
        free(map->slots[i].e);
    free(map->slots);
    free(map);
}

/* Index of the slot holding 'key', or of the empty slot ending its run. */
static size_t
find_slot(const struct hashmap *map, st_slice key, uint64_t h)
{
    size_t mask = map->cap - 1;
    size_t i = (size_t)h & mask;
    while (map->slots[i].e != NULL) {
        if (map->slots[i].hash == h && entry_has_key(map->slots[i].e, key))
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static bool
grow(struct hashmap *map)
{
    size_t cap = map->cap * 2;
    struct slot *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < map->cap; i++) {
        if (map->slots[i].e == NULL)
            continue;
        size_t j = (size_t)map->slots[i].hash & (cap - 1);
        while (slots[j].e != NULL)
            j = (j + 1) & (cap - 1);
        slots[j] = map->slots[i];
    }
    free(map->slots);
    map->slots = slots;
    map->cap = cap;
    return true;
}

static struct entry *
entry_create(st_slice key, st_slice val)
{
    struct entry *e = malloc(sizeof *e + key.len + val.len);
    if (e == NULL)
        return NULL;
    e->key_len = (uint32_t)key.len;
    e->val_len = (uint32_t)val.len;
    if (key.len)
        memcpy(e->bytes, key.ptr, key.len);
    if (val.len)
        memcpy(e->bytes + key.len, val.ptr, val.len);
    return e;
}

st_status
hashmap_put(struct hashmap *map, st_slice key, st_slice val)
{
    uint64_t h = hash_key(key);
    size_t i = find_slot(map, key, h);
    struct entry *old = map->slots[i].e;
    if (old != NULL && old->val_len == val.len) {
        if (val.len)
            memcpy(old->bytes + old->key_len, val.ptr, val.len);
        return ST_OK;
    }
    struct entry *e = entry_create(key, val);
    if (e == NULL)
        return ST_NOMEM;
    if (old != NULL) {
        map->data_bytes += val.len;
        map->data_bytes -= old->val_len;
        free(old);
        map->slots[i].e = e;
        return ST_OK;
    }
    /* Grow before inserting so the load stays at most 3/4. */
    if ((map->count + 1) * 4 > map->cap * 3) {
        if (!grow(map)) {
            free(e);
            return ST_NOMEM;
        }
        i = find_slot(map, key, h);
    }
    map->slots[i] = (struct slot){h, e};
    map->count++;
    map->data_bytes += key.len + val.len;
    return ST_OK;
}

bool
hashmap_get(const struct hashmap *map, st_slice key, st_slice *val)
{
    size_t i = find_slot(map, key, hash_key(key));
    const struct entry *e = map->slots[i].e;
    if (e == NULL)
        return false;
    *val = (st_slice){e->bytes + e->key_len, e->val_len};
    return true;
}

bool
hashmap_get_mut(struct hashmap *map, st_slice key, uint8_t **val,
                size_t *val_len)
{
    size_t i = find_slot(map, key, hash_key(key));
    struct entry *e = map->slots[i].e;
    if (e == NULL)
        return false;
    *val = e->bytes + e->key_len;
    *val_len = e->val_len;
    return true;
}

/* Backward-shift deletion (util/linear_probe.h). */
static void
close_hole(struct hashmap *map, size_t hole)
{
    size_t mask = map->cap - 1;
    size_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (map->slots[j].e == NULL)
            break;
        size_t home = (size_t)map->slots[j].hash & mask;
        if (linear_probe_must_move(hole, j, home)) {
            map->slots[hole] = map->slots[j];
            hole = j;
        }
    }
    map->slots[hole] = (struct slot){0, NULL};
}

bool
hashmap_delete(struct hashmap *map, st_slice key)
{
    size_t i = find_slot(map, key, hash_key(key));
    struct entry *e = map->slots[i].e;
    if (e == NULL)
        return false;
    map->data_bytes -= (uint64_t)e->key_len + e->val_len;
    free(e);
    map->count--;
    close_hole(map, i);
    return true;
}

size_t
hashmap_count(const struct hashmap *map)
{
    return map->count;
}

uint64_t
hashmap_data_bytes(const struct hashmap *map)
{
    return map->data_bytes;
}

bool
hashmap_next(const struct hashmap *map, size_t *pos, st_slice *key,
             st_slice *val)
{
    while (*pos < map->cap) {
        const struct entry *e = map->slots[(*pos)++].e;
        if (e != NULL) {
            *key = (st_slice){e->bytes, e->key_len};
            *val = (st_slice){e->bytes + e->key_len, e->val_len};
            return true;
        }
    }
    return false;
}
