/*
 * The block cache (block_cache.h): 16 independent shards, each an LRU
 * list plus a chained hash table under its own mutex, so that readers on
 * different blocks rarely wait for one another (LevelDB's ShardedLRUCache).
 *
 *   shard:  table[hash & mask] -> entry -> entry      (chains)
 *           lru: head(newest) <-> entry <-> ... <-> tail(oldest)
 *
 * Invariants, per shard and under its mutex:
 * - an entry is "in the cache" when it is in the table and the list;
 *   then it holds one reference for the cache, and 'bytes' counts it;
 * - every handle given out holds one more reference; an evicted or
 *   replaced entry leaves table and list at once and is freed when its
 *   last reference goes, so a reader's block never vanishes under it;
 * - after every insert 'bytes' <= the shard's capacity: eviction takes
 *   the oldest entries, in use or not (an in-use one lives on outside
 *   the cache until released), so memory beyond the bound is only what
 *   readers hold at that moment.
 *
 * Each shard holds a sixteenth of the capacity, so a block bigger than
 * that is handed back but never kept.
 */
#include "engines/lsm/block_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "engines/lsm/block_cache_internal.h"

enum { SHARD_BITS = 4, SHARDS = 1 << SHARD_BITS, MIN_BUCKETS = 16 };

struct lsm_cache_handle {
    struct lsm_cache_handle *chain;       /* next in the hash bucket */
    struct lsm_cache_handle *prev, *next; /* LRU list, newest at head */
    uint64_t file, off, hash;
    void *value;
    void (*free_fn)(void *);
    size_t charge;
    uint32_t refs;
    bool in_cache;
};

struct shard {
    pthread_mutex_t mu;
    struct lsm_cache_handle **table; /* guarded by mu, like all below */
    size_t buckets, count;
    struct lsm_cache_handle lru; /* sentinel: lru.next newest */
    size_t bytes, capacity;
    uint64_t hits, misses, evictions;
};

struct lsm_block_cache {
    struct shard shards[SHARDS];
    size_t capacity;
    /* Blocks of mapped tables: counted only, never stored. */
    _Atomic uint64_t mapped_hits, mapped_misses;
};

static uint64_t
hash_key(uint64_t file, uint64_t off)
{
    /* splitmix64 finaliser: offsets are multiples of ~4 KiB, so the low
     * bits need mixing before they pick a shard or a bucket. */
    uint64_t x = file * UINT64_C(0x9e3779b97f4a7c15) ^ off;
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

struct lsm_block_cache *
lsm_block_cache_create(size_t capacity_bytes)
{
    struct lsm_block_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->capacity = capacity_bytes;
    atomic_init(&c->mapped_hits, 0);
    atomic_init(&c->mapped_misses, 0);
    for (int i = 0; i < SHARDS; i++) {
        struct shard *s = &c->shards[i];
        s->capacity = (capacity_bytes + SHARDS - 1) / SHARDS;
        s->buckets = MIN_BUCKETS;
        s->table = calloc(s->buckets, sizeof *s->table);
        s->lru.next = s->lru.prev = &s->lru;
        if (s->table == NULL || pthread_mutex_init(&s->mu, NULL) != 0) {
            free(s->table);
            for (int j = 0; j < i; j++) {
                pthread_mutex_destroy(&c->shards[j].mu);
                free(c->shards[j].table);
            }
            free(c);
            return NULL;
        }
    }
    return c;
}

static void
unref(struct lsm_cache_handle *h)
{
    if (--h->refs == 0) {
        h->free_fn(h->value);
        free(h);
    }
}

void
lsm_block_cache_destroy(struct lsm_block_cache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < SHARDS; i++) {
        struct shard *s = &c->shards[i];
        /* REQUIRES (header): every table closed, so no handle is out and
         * each entry holds only the cache's reference. */
        for (struct lsm_cache_handle *h = s->lru.next; h != &s->lru;) {
            struct lsm_cache_handle *next = h->next;
            unref(h);
            h = next;
        }
        free(s->table);
        pthread_mutex_destroy(&s->mu);
    }
    free(c);
}

static struct shard *
shard_of(struct lsm_block_cache *c, uint64_t hash)
{
    return &c->shards[hash >> (64 - SHARD_BITS)];
}

/* The slot that points at the entry for (file, off), or at the NULL
 * ending its chain. */
static struct lsm_cache_handle **
find_slot(struct shard *s, uint64_t hash, uint64_t file, uint64_t off)
{
    struct lsm_cache_handle **p = &s->table[hash & (s->buckets - 1)];
    while (*p != NULL && ((*p)->file != file || (*p)->off != off))
        p = &(*p)->chain;
    return p;
}

static void
lru_unlink(struct lsm_cache_handle *h)
{
    h->prev->next = h->next;
    h->next->prev = h->prev;
}

static void
lru_push_front(struct shard *s, struct lsm_cache_handle *h)
{
    h->next = s->lru.next;
    h->prev = &s->lru;
    s->lru.next->prev = h;
    s->lru.next = h;
}

/* Takes 'h' out of the cache (table and list) and drops the cache's
 * reference. *slot must be h's slot. */
static void
remove_locked(struct shard *s, struct lsm_cache_handle **slot)
{
    struct lsm_cache_handle *h = *slot;
    *slot = h->chain;
    lru_unlink(h);
    h->in_cache = false;
    s->count--;
    s->bytes -= h->charge;
    unref(h);
}

struct lsm_cache_handle *
lsm_block_cache_lookup(struct lsm_block_cache *c, uint64_t file, uint64_t off)
{
    uint64_t hash = hash_key(file, off);
    struct shard *s = shard_of(c, hash);
    pthread_mutex_lock(&s->mu);
    struct lsm_cache_handle *h = *find_slot(s, hash, file, off);
    if (h != NULL) {
        h->refs++;
        lru_unlink(h); /* used now: move to the newest end */
        lru_push_front(s, h);
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return h;
}

/* Doubles the bucket array when chains grow past one entry on average;
 * on allocation failure the table just stays longer-chained. */
static void
grow_locked(struct shard *s)
{
    size_t n = s->buckets * 2;
    struct lsm_cache_handle **t = calloc(n, sizeof *t);
    if (t == NULL)
        return;
    for (size_t i = 0; i < s->buckets; i++) {
        struct lsm_cache_handle *h = s->table[i];
        while (h != NULL) {
            struct lsm_cache_handle *chain = h->chain;
            h->chain = t[h->hash & (n - 1)];
            t[h->hash & (n - 1)] = h;
            h = chain;
        }
    }
    free(s->table);
    s->table = t;
    s->buckets = n;
}

static void
evict_locked(struct shard *s)
{
    while (s->bytes > s->capacity && s->lru.prev != &s->lru) {
        struct lsm_cache_handle *old = s->lru.prev;
        remove_locked(s, find_slot(s, old->hash, old->file, old->off));
        s->evictions++;
    }
}

struct lsm_cache_handle *
lsm_block_cache_insert(struct lsm_block_cache *c, uint64_t file, uint64_t off,
                       void *value, size_t charge, void (*free_fn)(void *))
{
    struct lsm_cache_handle *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    *h = (struct lsm_cache_handle){.file = file,
                                   .off = off,
                                   .hash = hash_key(file, off),
                                   .value = value,
                                   .free_fn = free_fn,
                                   .charge = charge,
                                   .refs = 1};
    struct shard *s = shard_of(c, h->hash);
    pthread_mutex_lock(&s->mu);
    if (s->capacity > 0) {
        /* Two readers may miss on one block at once: the later insert
         * replaces the earlier, whose holders keep their copy. */
        struct lsm_cache_handle **slot = find_slot(s, h->hash, file, off);
        if (*slot != NULL)
            remove_locked(s, slot);
        h->refs++; /* the cache's own reference */
        h->in_cache = true;
        h->chain = NULL;
        *find_slot(s, h->hash, file, off) = h;
        lru_push_front(s, h);
        s->count++;
        s->bytes += charge;
        if (s->count > s->buckets)
            grow_locked(s);
        evict_locked(s);
    }
    pthread_mutex_unlock(&s->mu);
    return h;
}

void *
lsm_block_cache_value(const struct lsm_cache_handle *h)
{
    return h->value;
}

void
lsm_block_cache_release(struct lsm_block_cache *c, struct lsm_cache_handle *h)
{
    struct shard *s = shard_of(c, h->hash);
    pthread_mutex_lock(&s->mu);
    unref(h);
    pthread_mutex_unlock(&s->mu);
}

void
lsm_block_cache_stats(struct lsm_block_cache *c,
                      struct lsm_block_cache_stats *out)
{
    *out = (struct lsm_block_cache_stats){.capacity = c->capacity};
    for (int i = 0; i < SHARDS; i++) {
        struct shard *s = &c->shards[i];
        pthread_mutex_lock(&s->mu);
        out->hits += s->hits;
        out->misses += s->misses;
        out->evictions += s->evictions;
        out->bytes += s->bytes;
        pthread_mutex_unlock(&s->mu);
    }
    out->hits += atomic_load_explicit(&c->mapped_hits, memory_order_relaxed);
    out->misses +=
        atomic_load_explicit(&c->mapped_misses, memory_order_relaxed);
}

void
lsm_block_cache_count_mapped(struct lsm_block_cache *c, bool hit)
{
    atomic_fetch_add_explicit(hit ? &c->mapped_hits : &c->mapped_misses, 1,
                              memory_order_relaxed);
}
