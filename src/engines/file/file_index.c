/*
 * The file engine's hash index (see file_index.h; DDIA 3.1 "Hash
 * Indexes"). Keys are hashed with XXH3, as in util/hashmap.c.
 *
 *   slots: [hash | seq seg_id off val_len tomb | key*] ...  48 bytes each,
 *          power-of-two count, load <= 3/4, key* NULL: empty
 *   key:   len:4 bytes..                                   one allocation
 *
 * A get reads one slot (its hash and location are in the same few
 * bytes) and then the record; the key allocation is read only to write,
 * merge, replay, iterate, or to settle a 64-bit hash collision.
 */
#include "engines/file/file_index.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "util/linear_probe.h"

struct file_key {
    uint32_t len;
    uint8_t bytes[];
};

struct slot {
    uint64_t hash;
    struct file_loc loc;
    struct file_key *key; /* owned; NULL: empty */
};

struct file_index {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t count;
};

static const size_t INITIAL_SLOTS = 16;

/* Slot arrays from this size up are mapped on their own and asked for
 * transparent huge pages: a get's slot is a random address in an array
 * of ~100 MiB per million keys, and with 4 KiB pages nearly every one
 * is also a TLB miss (a page walk, slower still under a hypervisor). */
static const size_t HUGE_BYTES = 2u << 20;

/* 'cap' zeroed slots, or NULL. */
static struct slot *
slots_alloc(size_t cap)
{
    size_t bytes = cap * sizeof(struct slot);
    if (bytes < HUGE_BYTES)
        return calloc(cap, sizeof(struct slot));
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Only a hint: without huge pages the array works the same. */
    (void)madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

static void
slots_free(struct slot *slots, size_t cap)
{
    size_t bytes = cap * sizeof(struct slot);
    if (bytes < HUGE_BYTES)
        free(slots);
    else if (slots != NULL)
        munmap(slots, bytes);
}

static uint64_t
hash_key(st_slice key)
{
    return XXH3_64bits(key.ptr, key.len);
}

static bool
key_equal(const struct file_key *k, st_slice key)
{
    return k->len == key.len &&
           (key.len == 0 || memcmp(k->bytes, key.ptr, key.len) == 0);
}

struct file_index *
file_index_create(void)
{
    struct file_index *idx = calloc(1, sizeof *idx);
    if (idx == NULL)
        return NULL;
    idx->slots = slots_alloc(INITIAL_SLOTS);
    if (idx->slots == NULL) {
        free(idx);
        return NULL;
    }
    idx->cap = INITIAL_SLOTS;
    return idx;
}

void
file_index_destroy(struct file_index *idx)
{
    if (idx == NULL)
        return;
    for (size_t i = 0; i < idx->cap; i++)
        free(idx->slots[i].key);
    slots_free(idx->slots, idx->cap);
    free(idx);
}

size_t
file_index_count(const struct file_index *idx)
{
    return idx->count;
}

/* Index of the slot holding 'key', or of the empty slot ending its run. */
static size_t
find_slot(const struct file_index *idx, st_slice key, uint64_t h)
{
    size_t mask = idx->cap - 1;
    size_t i = (size_t)h & mask;
    while (idx->slots[i].key != NULL) {
        if (idx->slots[i].hash == h && key_equal(idx->slots[i].key, key))
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static bool
grow(struct file_index *idx)
{
    size_t cap = idx->cap * 2;
    struct slot *slots = slots_alloc(cap);
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < idx->cap; i++) {
        if (idx->slots[i].key == NULL)
            continue;
        size_t j = (size_t)idx->slots[i].hash & (cap - 1);
        while (slots[j].key != NULL)
            j = (j + 1) & (cap - 1);
        slots[j] = idx->slots[i];
    }
    slots_free(idx->slots, idx->cap);
    idx->slots = slots;
    idx->cap = cap;
    return true;
}

struct file_loc *
file_index_find(struct file_index *idx, st_slice key)
{
    size_t i = find_slot(idx, key, hash_key(key));
    return idx->slots[i].key != NULL ? &idx->slots[i].loc : NULL;
}

bool
file_index_get(const struct file_index *idx, st_slice key, struct file_loc *loc)
{
    size_t i = find_slot(idx, key, hash_key(key));
    if (idx->slots[i].key == NULL)
        return false;
    *loc = idx->slots[i].loc;
    return true;
}

st_status
file_index_put(struct file_index *idx, st_slice key, const struct file_loc *loc,
               struct file_loc *old, bool *had_old)
{
    uint64_t h = hash_key(key);
    size_t i = find_slot(idx, key, h);
    *had_old = idx->slots[i].key != NULL;
    if (*had_old) {
        *old = idx->slots[i].loc;
        idx->slots[i].loc = *loc;
        return ST_OK;
    }
    struct file_key *k = malloc(sizeof *k + key.len);
    if (k == NULL)
        return ST_NOMEM;
    k->len = (uint32_t)key.len;
    if (key.len)
        memcpy(k->bytes, key.ptr, key.len);
    /* Grow before inserting so the load stays at most 3/4. */
    if ((idx->count + 1) * 4 > idx->cap * 3) {
        if (!grow(idx)) {
            free(k);
            return ST_NOMEM;
        }
        i = find_slot(idx, key, h);
    }
    idx->slots[i] = (struct slot){h, *loc, k};
    idx->count++;
    return ST_OK;
}

/* Backward-shift deletion (util/linear_probe.h). */
static void
close_hole(struct file_index *idx, size_t hole)
{
    size_t mask = idx->cap - 1;
    size_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (idx->slots[j].key == NULL)
            break;
        size_t home = (size_t)idx->slots[j].hash & mask;
        if (linear_probe_must_move(hole, j, home)) {
            idx->slots[hole] = idx->slots[j];
            hole = j;
        }
    }
    idx->slots[hole] = (struct slot){0};
}

bool
file_index_delete(struct file_index *idx, st_slice key)
{
    size_t i = find_slot(idx, key, hash_key(key));
    if (idx->slots[i].key == NULL)
        return false;
    free(idx->slots[i].key);
    idx->count--;
    close_hole(idx, i);
    return true;
}

bool
file_index_next(const struct file_index *idx, size_t *pos, st_slice *key,
                struct file_loc *loc)
{
    while (*pos < idx->cap) {
        const struct slot *s = &idx->slots[(*pos)++];
        if (s->key != NULL) {
            *key = st_slice_make(s->key->bytes, s->key->len);
            *loc = s->loc;
            return true;
        }
    }
    return false;
}

void
file_index_probe_start(const struct file_index *idx, st_slice key,
                       struct file_index_probe *p)
{
    p->hash = hash_key(key);
    p->next = (size_t)p->hash & (idx->cap - 1);
    p->at = p->next;
}

const struct file_loc *
file_index_probe_next(const struct file_index *idx, struct file_index_probe *p)
{
    size_t mask = idx->cap - 1;
    size_t i = p->next;
    while (idx->slots[i].key != NULL) {
        if (idx->slots[i].hash == p->hash) {
            p->at = i;
            p->next = (i + 1) & mask;
            return &idx->slots[i].loc;
        }
        i = (i + 1) & mask;
    }
    p->next = i;
    return NULL;
}

bool
file_index_probe_is_key(const struct file_index *idx,
                        const struct file_index_probe *p, st_slice key)
{
    const struct file_key *k = idx->slots[p->at].key;
    return k != NULL && idx->slots[p->at].hash == p->hash && key_equal(k, key);
}
