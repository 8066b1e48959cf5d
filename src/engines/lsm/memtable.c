/*
 * The memtable (DDIA 3.1, "Constructing and maintaining SSTables"): a
 * skiplist over internal keys, as in LevelDB (Pugh, "Skip Lists: A
 * Probabilistic Alternative to Balanced Trees", 1990).
 *
 *   level 2: head --------------> 5 ------------------> 17 -------> NULL
 *   level 1: head --------------> 5 --------> 11 -----> 17 -> 23 -> NULL
 *   level 0: head -> 2 -> 3 ----> 5 -> 7 ---> 11 -> 13 -> 17 -> 23 -> NULL
 *
 * Invariants:
 * - Level 0 holds every node in internal order (user key ascending, seq
 *   descending); level i+1 is a subsequence of level i.
 * - A node never changes after it is linked and is never freed before the
 *   memtable: nodes live in an arena that is freed in one go.
 * - One writer links a node bottom-up; each link is a release store of a
 *   fully built node and readers load next pointers with acquire, so a
 *   reader that sees a node sees its key and value. A reader may miss a
 *   node linked while it walks; it never sees half of one.
 */
#include "engines/lsm/memtable.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum {
    /* 4^12 = 16M entries before the top level gets crowded: far more
     * than a memtable of a few MiB holds. */
    MAX_HEIGHT = 12,
    /* p = 1/4: 1.33 pointers per node on average, and a search still
     * visits about 4 * log4(n) nodes (LevelDB's choice). */
    BRANCHING = 4,
    /* Big blocks so that an insert is a pointer bump, not a malloc. */
    ARENA_BLOCK = 256 * 1024,
};

struct node {
    const uint8_t *key; /* key bytes, then value bytes, after next[] */
    size_t key_len, val_len;
    uint64_t seq;
    enum lsm_value_type type;
    _Atomic(struct node *) next[]; /* height entries */
};

struct arena_block {
    struct arena_block *prev; /* chained for freeing only */
};

/* Used by the writer only, except 'bytes', which readers may load. */
struct arena {
    struct arena_block *blocks;
    uint8_t *ptr;         /* free space in the current block */
    size_t left;          /* bytes free at ptr */
    _Atomic size_t bytes; /* every block allocated */
};

struct lsm_memtable {
    struct arena arena;
    struct node *head;      /* sentinel, MAX_HEIGHT tall, no key */
    _Atomic int height;     /* levels in use, 1..MAX_HEIGHT */
    _Atomic uint64_t count; /* entries added */
    uint64_t rng;           /* writer only: xorshift64 state */
};

/* --- arena --- */

static uint8_t *
arena_new_block(struct arena *a, size_t size)
{
    /* The header is padded to 16 bytes so that node data stays aligned
     * for pointers and uint64_t. */
    const size_t hdr = 16;
    struct arena_block *b = malloc(hdr + size);
    if (b == NULL)
        return NULL;
    b->prev = a->blocks;
    a->blocks = b;
    atomic_fetch_add_explicit(&a->bytes, hdr + size, memory_order_relaxed);
    return (uint8_t *)b + hdr;
}

/* 'size' bytes aligned to 8, or NULL when out of memory (the arena is
 * unchanged then). */
static void *
arena_alloc(struct arena *a, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    if (size <= a->left) {
        uint8_t *p = a->ptr;
        a->ptr += size;
        a->left -= size;
        return p;
    }
    /* A large entry gets a block of its own, so the current block's free
     * tail is not thrown away for it (waste stays below 1/4 block). */
    if (size > ARENA_BLOCK / 4)
        return arena_new_block(a, size);
    uint8_t *p = arena_new_block(a, ARENA_BLOCK);
    if (p == NULL)
        return NULL;
    a->ptr = p + size;
    a->left = ARENA_BLOCK - size;
    return p;
}

static void
arena_free(struct arena *a)
{
    struct arena_block *b = a->blocks;
    while (b != NULL) {
        struct arena_block *prev = b->prev;
        free(b);
        b = prev;
    }
}

/* --- skiplist --- */

static inline struct node *
node_next(const struct node *n, int level)
{
    return atomic_load_explicit(&((struct node *)n)->next[level],
                                memory_order_acquire);
}

/* <0, 0, >0 as the node sorts before, with, after (key, seq). */
static inline int
node_compare(const struct node *n, st_slice key, uint64_t seq)
{
    return lsm_entry_compare((st_slice){n->key, n->key_len}, n->seq, key, seq);
}

static int
random_height(struct lsm_memtable *m)
{
    int h = 1;
    while (h < MAX_HEIGHT) {
        m->rng ^= m->rng << 13;
        m->rng ^= m->rng >> 7;
        m->rng ^= m->rng << 17;
        if (m->rng % BRANCHING != 0)
            break;
        h++;
    }
    return h;
}

/* The first node at or after (key, seq), NULL if none. When 'prev' is
 * given, fills prev[level] with the last node before it on each level:
 * the nodes an insert links from. */
static struct node *
find_ge(const struct lsm_memtable *m, st_slice key, uint64_t seq,
        struct node **prev)
{
    struct node *x = m->head;
    int level = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
    for (;;) {
        struct node *next = node_next(x, level);
        if (next != NULL && node_compare(next, key, seq) < 0) {
            x = next; /* still before the target: move right */
            continue;
        }
        if (prev != NULL)
            prev[level] = x;
        if (level == 0)
            return next;
        level--;
    }
}

struct lsm_memtable *
lsm_memtable_create(void)
{
    struct lsm_memtable *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    size_t head_size = sizeof(struct node) + MAX_HEIGHT * sizeof(void *);
    m->head = arena_alloc(&m->arena, head_size);
    if (m->head == NULL) {
        free(m);
        return NULL;
    }
    memset(m->head, 0, head_size);
    for (int i = 0; i < MAX_HEIGHT; i++)
        atomic_init(&m->head->next[i], NULL);
    atomic_init(&m->height, 1);
    atomic_init(&m->count, 0);
    m->rng = UINT64_C(0x9e3779b97f4a7c15);
    return m;
}

void
lsm_memtable_destroy(struct lsm_memtable *m)
{
    if (m == NULL)
        return;
    arena_free(&m->arena);
    free(m);
}

static struct node *
node_new(struct lsm_memtable *m, int height, uint64_t seq,
         enum lsm_value_type type, st_slice key, st_slice val)
{
    size_t links = sizeof(struct node) + (size_t)height * sizeof(void *);
    struct node *n = arena_alloc(&m->arena, links + key.len + val.len);
    if (n == NULL)
        return NULL;
    uint8_t *bytes = (uint8_t *)n + links;
    if (key.len)
        memcpy(bytes, key.ptr, key.len);
    if (val.len)
        memcpy(bytes + key.len, val.ptr, val.len);
    n->key = bytes;
    n->key_len = key.len;
    n->val_len = val.len;
    n->seq = seq;
    n->type = type;
    return n;
}

st_status
lsm_memtable_add(struct lsm_memtable *m, uint64_t seq, enum lsm_value_type type,
                 st_slice key, st_slice val)
{
    struct node *prev[MAX_HEIGHT];
    find_ge(m, key, seq, prev);

    int height = random_height(m);
    struct node *n = node_new(m, height, seq, type, key, val);
    if (n == NULL)
        return ST_NOMEM;

    int old = atomic_load_explicit(&m->height, memory_order_relaxed);
    for (int i = old; i < height; i++)
        prev[i] = m->head;
    /* A reader that sees the new height before the links finds NULL at
     * head's new levels and drops down: harmless, so relaxed is enough. */
    if (height > old)
        atomic_store_explicit(&m->height, height, memory_order_relaxed);

    for (int i = 0; i < height; i++) {
        /* n is not yet reachable, so its own links need no ordering; the
         * release store into prev publishes n with its bytes. */
        atomic_init(&n->next[i], node_next(prev[i], i));
        atomic_store_explicit(&prev[i]->next[i], n, memory_order_release);
    }
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
    return ST_OK;
}

bool
lsm_memtable_get(const struct lsm_memtable *m, st_slice key,
                 enum lsm_value_type *type, st_slice *val)
{
    /* LSM_MAX_SEQ sorts first among the key's versions: land on the
     * newest one. */
    struct node *n = find_ge(m, key, LSM_MAX_SEQ, NULL);
    if (n == NULL || !st_slice_equal((st_slice){n->key, n->key_len}, key))
        return false;
    *type = n->type;
    *val = (st_slice){n->key + n->key_len, n->val_len};
    return true;
}

size_t
lsm_memtable_bytes(const struct lsm_memtable *m)
{
    return atomic_load_explicit(&((struct lsm_memtable *)m)->arena.bytes,
                                memory_order_relaxed);
}

uint64_t
lsm_memtable_count(const struct lsm_memtable *m)
{
    return atomic_load_explicit(&((struct lsm_memtable *)m)->count,
                                memory_order_relaxed);
}

/* --- iterator --- */

struct mem_iter {
    struct lsm_iter base;
    const struct lsm_memtable *m;
    const struct node *node; /* NULL: past the end */
};

static void
mem_iter_seek_first(struct lsm_iter *it)
{
    struct mem_iter *mi = (struct mem_iter *)it;
    mi->node = node_next(mi->m->head, 0);
}

static void
mem_iter_seek(struct lsm_iter *it, st_slice key)
{
    struct mem_iter *mi = (struct mem_iter *)it;
    mi->node = find_ge(mi->m, key, LSM_MAX_SEQ, NULL);
}

static void
mem_iter_next(struct lsm_iter *it)
{
    struct mem_iter *mi = (struct mem_iter *)it;
    mi->node = node_next(mi->node, 0);
}

static bool
mem_iter_valid(const struct lsm_iter *it)
{
    return ((const struct mem_iter *)it)->node != NULL;
}

static st_slice
mem_iter_key(const struct lsm_iter *it)
{
    const struct node *n = ((const struct mem_iter *)it)->node;
    return (st_slice){n->key, n->key_len};
}

static uint64_t
mem_iter_seq(const struct lsm_iter *it)
{
    return ((const struct mem_iter *)it)->node->seq;
}

static enum lsm_value_type
mem_iter_type(const struct lsm_iter *it)
{
    return ((const struct mem_iter *)it)->node->type;
}

static st_slice
mem_iter_value(const struct lsm_iter *it)
{
    const struct node *n = ((const struct mem_iter *)it)->node;
    return (st_slice){n->key + n->key_len, n->val_len};
}

static st_status
mem_iter_status(const struct lsm_iter *it, struct st_error *err)
{
    (void)it;
    st_error_clear(err);
    return ST_OK; /* memory cannot be corrupt or fail to read */
}

static void
mem_iter_destroy(struct lsm_iter *it)
{
    free(it);
}

static const struct lsm_iter_ops mem_iter_ops = {
    .seek_first = mem_iter_seek_first,
    .seek = mem_iter_seek,
    .next = mem_iter_next,
    .valid = mem_iter_valid,
    .key = mem_iter_key,
    .seq = mem_iter_seq,
    .type = mem_iter_type,
    .value = mem_iter_value,
    .status = mem_iter_status,
    .destroy = mem_iter_destroy,
};

struct lsm_iter *
lsm_memtable_iter_create(const struct lsm_memtable *m)
{
    struct mem_iter *mi = calloc(1, sizeof *mi);
    if (mi == NULL)
        return NULL;
    mi->base.ops = &mem_iter_ops;
    mi->m = m;
    mi->node = NULL;
    return &mi->base;
}
