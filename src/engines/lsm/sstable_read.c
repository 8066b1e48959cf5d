/*
 * The SSTable reader (sstable.h; docs/sstable-format.md, "Reading"):
 * DDIA 3.1's sparse in-memory index over a sorted file, with a bloom
 * filter in front so absent keys cost no disk read.
 *
 * Invariants: the index, filter and props are read, checked and kept in
 * memory at open and never change; a block that fails a check gives
 * ST_CORRUPT naming the file and offset, never a value.
 *
 * Data blocks come one of two ways (docs/performance.md, "lsm"):
 * - mapped (the default, as LevelDB does on 64-bit): the whole file is
 *   memory-mapped at open and a block is used in place, with no system
 *   call and no copy. Its checksum is verified on first use and the
 *   result remembered in one bit per block, so a hot block costs no CRC,
 *   just as a cached one did; a block that fails is never marked, so
 *   every later read reports it again. The file is immutable and never
 *   truncated while open, so the mapping cannot fault (SIGBUS).
 * - read with pread (no shared file position, so any number of threads
 *   read one table) into a buffer kept by the block cache: the fallback
 *   when mapping fails, and the mode the fault-injection tests use, since
 *   reads through a mapping bypass util/io.c.
 */
#include "engines/lsm/sstable.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engines/lsm/block.h"
#include "engines/lsm/block_cache_internal.h"
#include "engines/lsm/bloom.h"
#include "engines/lsm/sstable_format.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/io.h"
#include "util/mmap_file.h"

struct index_entry {
    st_slice key;   /* internal key, borrowed from index_keys */
    size_t key_off; /* its place in index_keys (used while parsing) */
    uint64_t off, len;
};

/* Immutable after open: shared by every thread without a lock. */
struct lsm_table {
    char *path;
    int fd;
    uint64_t file_number, file_bytes;
    struct lsm_block_cache *cache; /* may be NULL */
    struct mmap_file map;          /* the whole file; empty: use pread */
    _Atomic uint64_t *checked;     /* mapped: bit i set once block i passed */
    struct index_entry *index;     /* one per data block */
    size_t blocks;
    struct st_buf index_keys, filter;
    struct st_buf min_key, max_key;
    uint64_t entries, min_seq, max_seq;
};

/* A data block as read and checked: one allocation, freed by free(). */
struct table_block {
    struct lsm_block blk;
    uint8_t raw[]; /* block bytes + trailer */
};

/* A block in use: owned when there is no cache (or it had no room);
 * 'mapped' decodes a block of the mapping in place. */
struct block_ref {
    struct lsm_cache_handle *h;
    struct table_block *owned;
    const struct lsm_block *blk;
    struct lsm_block mapped;
};

static st_status
corrupt(const struct lsm_table *t, uint64_t off, const char *why,
        struct st_error *err)
{
    return st_error_set(err, ST_CORRUPT, 0,
                        "%s: corrupt block at offset %llu (%s)", t->path,
                        (unsigned long long)off, why);
}

/* Reads exactly 'len' bytes at 'off': a short read means the file is
 * shorter than its footer says. */
static st_status
read_exact(const struct lsm_table *t, void *buf, size_t len, uint64_t off,
           struct st_error *err)
{
    size_t got;
    st_status s = io_pread(t->fd, buf, len, off, &got, t->path, err);
    if (s == ST_OK && got != len)
        return corrupt(t, off, "file cut short", err);
    return s;
}

/* Reads the block at (off, len) into 'raw' (len + trailer bytes) and
 * checks its trailer; *contents borrows 'raw'. */
static st_status
read_block(const struct lsm_table *t, uint64_t off, uint64_t len, uint8_t *raw,
           st_slice *contents, struct st_error *err)
{
    size_t total = (size_t)len + LSM_BLOCK_TRAILER_LEN;
    st_status s = read_exact(t, raw, total, off, err);
    if (s != ST_OK)
        return s;
    const char *why;
    if (lsm_block_trailer_check(st_slice_make(raw, total), contents, &why) !=
        ST_OK)
        return corrupt(t, off, why, err);
    return ST_OK;
}

/* --- data blocks: mapped, or read into the cache --- */

static bool
block_checked(const struct lsm_table *t, size_t i)
{
    uint64_t w = atomic_load_explicit(&t->checked[i / 64], memory_order_relaxed);
    return (w >> (i % 64)) & 1;
}

static void
mark_checked(struct lsm_table *t, size_t i)
{
    atomic_fetch_or_explicit(&t->checked[i / 64], UINT64_C(1) << (i % 64),
                             memory_order_relaxed);
}

/* Block i straight from the mapping; its checksum only on first use. The
 * relaxed bit is enough: the bytes it vouches for never change. */
static st_status
map_block(struct lsm_table *t, size_t i, struct block_ref *ref,
          struct st_error *err)
{
    const struct index_entry *e = &t->index[i];
    const uint8_t *raw = t->map.ptr + e->off;
    st_slice contents = {raw, (size_t)e->len};
    const char *why;
    bool hit = block_checked(t, i);
    if (!hit && lsm_block_trailer_check(
                     st_slice_make(raw, (size_t)e->len + LSM_BLOCK_TRAILER_LEN),
                     &contents, &why) != ST_OK)
        return corrupt(t, e->off, why, err);
    if (lsm_block_decode(contents, &ref->mapped, &why) != ST_OK)
        return corrupt(t, e->off, why, err);
    if (!hit)
        mark_checked(t, i);
    if (t->cache != NULL)
        lsm_block_cache_count_mapped(t->cache, hit);
    ref->blk = &ref->mapped;
    return ST_OK;
}

static st_status
load_block(struct lsm_table *t, size_t i, struct block_ref *ref,
           struct st_error *err)
{
    const struct index_entry *e = &t->index[i];
    *ref = (struct block_ref){0};
    if (t->map.ptr != NULL)
        return map_block(t, i, ref, err);
    if (t->cache != NULL &&
        (ref->h = lsm_block_cache_lookup(t->cache, t->file_number, e->off))) {
        ref->blk = &((struct table_block *)lsm_block_cache_value(ref->h))->blk;
        return ST_OK;
    }
    struct table_block *tb =
        malloc(sizeof *tb + e->len + LSM_BLOCK_TRAILER_LEN);
    if (tb == NULL)
        return st_error_set(err, ST_NOMEM, 0, "%s: no memory", t->path);
    st_slice contents;
    const char *why;
    st_status s = read_block(t, e->off, e->len, tb->raw, &contents, err);
    if (s == ST_OK && lsm_block_decode(contents, &tb->blk, &why) != ST_OK)
        s = corrupt(t, e->off, why, err);
    if (s != ST_OK) {
        free(tb); /* never cached: a later read tries the disk again */
        return s;
    }
    if (t->cache != NULL)
        ref->h = lsm_block_cache_insert(t->cache, t->file_number, e->off, tb,
                                        sizeof *tb + e->len, free);
    if (ref->h == NULL)
        ref->owned = tb;
    ref->blk = &tb->blk;
    return ST_OK;
}

static void
release_block(struct lsm_table *t, struct block_ref *ref)
{
    if (ref->h != NULL)
        lsm_block_cache_release(t->cache, ref->h);
    free(ref->owned);
    *ref = (struct block_ref){0};
}

/* The first block whose index key is >= 'target' (blocks when none). */
static size_t
find_block(const struct lsm_table *t, st_slice target)
{
    size_t lo = 0, hi = t->blocks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lsm_ikey_compare(t->index[mid].key, target) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* --- open: footer, index, filter, props --- */

struct footer {
    struct {
        uint64_t off, len;
    } index, filter, props;
};

static st_status
read_footer(struct lsm_table *t, struct footer *f, struct st_error *err)
{
    uint8_t b[LSM_FOOTER_LEN];
    uint64_t at = t->file_bytes - LSM_FOOTER_LEN;
    st_status s = read_exact(t, b, sizeof b, at, err);
    if (s != ST_OK)
        return s;
    if (memcmp(b + LSM_FOOTER_MAGIC, LSM_TABLE_MAGIC, LSM_FOOTER_MAGIC_LEN))
        return corrupt(t, at, "bad magic in footer", err);
    if (crc32c_unmask(le32_read(b + LSM_FOOTER_CRC)) !=
        crc32c(b, LSM_FOOTER_CRC))
        return corrupt(t, at, "bad footer checksum", err);
    if (le32_read(b + LSM_FOOTER_VERSION) != LSM_TABLE_VERSION)
        return corrupt(t, at, "unknown format version", err);
    f->index.off = le64_read(b + LSM_FOOTER_INDEX);
    f->index.len = le32_read(b + LSM_FOOTER_INDEX + 8);
    f->filter.off = le64_read(b + LSM_FOOTER_FILTER);
    f->filter.len = le32_read(b + LSM_FOOTER_FILTER + 8);
    f->props.off = le64_read(b + LSM_FOOTER_PROPS);
    f->props.len = le32_read(b + LSM_FOOTER_PROPS + 8);
    /* A damaged footer must not make us read past the end or allocate
     * an absurd buffer: every handle lies before the footer. */
    if (f->index.off > at ||
        f->index.len + LSM_BLOCK_TRAILER_LEN > at - f->index.off ||
        f->filter.off > at ||
        f->filter.len + LSM_BLOCK_TRAILER_LEN > at - f->filter.off ||
        f->props.off > at ||
        f->props.len + LSM_BLOCK_TRAILER_LEN > at - f->props.off)
        return corrupt(t, at, "block handle out of range", err);
    return ST_OK;
}

/* Reads the block at (off, len) into 'buf', which then holds the block
 * bytes only (the trailer dropped). */
static st_status
read_meta_block(struct lsm_table *t, uint64_t off, uint64_t len,
                struct st_buf *buf, struct st_error *err)
{
    st_slice contents;
    buf->len = 0;
    if (!st_buf_reserve(buf, (size_t)len + LSM_BLOCK_TRAILER_LEN))
        return st_error_set(err, ST_NOMEM, 0, "%s: no memory", t->path);
    st_status s = read_block(t, off, len, buf->ptr, &contents, err);
    buf->len = s == ST_OK ? contents.len : 0;
    return s;
}

/* Decodes one index entry's value (the block handle) and checks that the
 * block lies before the footer. */
static bool
decode_handle(const struct lsm_table *t, st_slice v, struct index_entry *e)
{
    size_t n = varint64_read(v.ptr, v.len, &e->off);
    size_t m = n ? varint64_read(v.ptr + n, v.len - n, &e->len) : 0;
    uint64_t end = t->file_bytes - LSM_FOOTER_LEN;
    return m != 0 && n + m == v.len && e->off <= end &&
           e->len + LSM_BLOCK_TRAILER_LEN <= end - e->off;
}

static bool
add_index_entry(struct lsm_table *t, st_slice key, struct index_entry *e,
                size_t *cap)
{
    if (t->blocks == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        struct index_entry *p = realloc(t->index, *cap * sizeof *p);
        if (p == NULL)
            return false;
        t->index = p;
    }
    e->key_off = t->index_keys.len;
    e->key = (st_slice){NULL, key.len}; /* ptr set once keys stop moving */
    t->index[t->blocks++] = *e;
    return st_buf_append(&t->index_keys, key);
}

/* Turns the index block into a sorted array of (key, handle), checking
 * every handle and that keys strictly ascend. */
static st_status
parse_index(struct lsm_table *t, st_slice contents, uint64_t at,
            struct st_error *err)
{
    struct lsm_block blk;
    const char *why;
    if (lsm_block_decode(contents, &blk, &why) != ST_OK)
        return corrupt(t, at, why, err);
    struct lsm_block_iter it;
    lsm_block_iter_init(&it, &blk);
    size_t cap = 0;
    st_status s = ST_OK;
    for (lsm_block_iter_seek_first(&it); lsm_block_iter_valid(&it);
         lsm_block_iter_next(&it)) {
        struct index_entry e;
        st_slice key = lsm_block_iter_key(&it);
        if (!decode_handle(t, it.value, &e)) {
            s = corrupt(t, at, "bad block handle in index", err);
            break;
        }
        if (t->blocks > 0) {
            const struct index_entry *p = &t->index[t->blocks - 1];
            st_slice prev = {t->index_keys.ptr + p->key_off, p->key.len};
            if (lsm_ikey_compare(prev, key) >= 0) {
                s = corrupt(t, at, "index keys out of order", err);
                break;
            }
        }
        if (!add_index_entry(t, key, &e, &cap)) {
            s = st_error_set(err, ST_NOMEM, 0, "%s: no memory", t->path);
            break;
        }
    }
    if (s == ST_OK && it.status != ST_OK)
        s = corrupt(t, at, it.why, err);
    lsm_block_iter_deinit(&it);
    for (size_t i = 0; s == ST_OK && i < t->blocks; i++)
        t->index[i].key.ptr = t->index_keys.ptr + t->index[i].key_off;
    return s;
}

static bool
get_varint(st_slice *in, uint64_t *v)
{
    size_t n = varint64_read(in->ptr, in->len, v);
    in->ptr += n;
    in->len -= n;
    return n != 0;
}

static bool
get_bytes(st_slice *in, struct st_buf *out)
{
    uint64_t len;
    if (!get_varint(in, &len) || len > in->len)
        return false;
    if (!st_buf_set(out, (st_slice){in->ptr, (size_t)len}))
        return false;
    in->ptr += len;
    in->len -= len;
    return true;
}

static st_status
parse_props(struct lsm_table *t, st_slice in, uint64_t at, struct st_error *err)
{
    if (!get_varint(&in, &t->entries) || !get_varint(&in, &t->min_seq) ||
        !get_varint(&in, &t->max_seq) || !get_bytes(&in, &t->min_key) ||
        !get_bytes(&in, &t->max_key) || in.len != 0)
        return corrupt(t, at, "bad props block", err);
    return ST_OK;
}

static st_status
read_meta(struct lsm_table *t, struct st_error *err)
{
    struct footer f = {.index = {0, 0}};
    struct st_buf buf = {0};
    st_status s = read_footer(t, &f, err);
    if (s == ST_OK)
        s = read_meta_block(t, f.index.off, f.index.len, &buf, err);
    if (s == ST_OK)
        s = parse_index(t, st_buf_slice(&buf), f.index.off, err);
    if (s == ST_OK)
        s = read_meta_block(t, f.props.off, f.props.len, &buf, err);
    if (s == ST_OK)
        s = parse_props(t, st_buf_slice(&buf), f.props.off, err);
    if (s == ST_OK)
        s = read_meta_block(t, f.filter.off, f.filter.len, &t->filter, err);
    if (s == ST_OK && !lsm_bloom_valid(st_buf_slice(&t->filter)))
        s = corrupt(t, f.filter.off, "bad filter block", err);
    st_buf_free(&buf);
    return s;
}

/* Maps the file for the data blocks; on failure the table keeps using
 * pread (mapping is an optimisation, never a reason to refuse a table). */
static void
map_table(struct lsm_table *t)
{
    size_t words = (t->blocks + 63) / 64;
    if (words == 0)
        return;
    t->checked = calloc(words, sizeof *t->checked);
    if (t->checked == NULL ||
        mmap_file_map(t->fd, t->file_bytes, t->path, &t->map, NULL) != ST_OK) {
        free(t->checked);
        t->checked = NULL;
    }
}

st_status
lsm_table_open(const char *path, uint64_t file_number,
               struct lsm_block_cache *cache, struct lsm_table **out,
               struct st_error *err)
{
    return lsm_table_open_mode(path, file_number, cache, LSM_TABLE_MAPPED,
                               out, err);
}

st_status
lsm_table_open_mode(const char *path, uint64_t file_number,
                    struct lsm_block_cache *cache, enum lsm_table_mode mode,
                    struct lsm_table **out, struct st_error *err)
{
    struct lsm_table *t = calloc(1, sizeof *t);
    if (t == NULL || (t->path = strdup(path)) == NULL) {
        free(t);
        return st_error_set(err, ST_NOMEM, 0, "%s: no memory", path);
    }
    t->fd = -1;
    t->file_number = file_number;
    t->cache = cache;
    st_status s = io_open(path, O_RDONLY | O_CLOEXEC, 0, &t->fd, err);
    if (s == ST_OK)
        s = io_file_size(t->fd, &t->file_bytes, path, err);
    if (s == ST_OK && t->file_bytes < LSM_FOOTER_LEN)
        s = st_error_set(err, ST_CORRUPT, 0,
                         "%s: %llu bytes, too short for a table", path,
                         (unsigned long long)t->file_bytes);
    if (s == ST_OK)
        s = read_meta(t, err);
    if (s == ST_OK && mode == LSM_TABLE_MAPPED)
        map_table(t);
    if (s != ST_OK) {
        lsm_table_close(t);
        return s;
    }
    *out = t;
    return ST_OK;
}

void
lsm_table_close(struct lsm_table *t)
{
    if (t == NULL)
        return;
    mmap_file_unmap(&t->map);
    free(t->checked);
    io_close(t->fd, t->path, NULL);
    free(t->index);
    st_buf_free(&t->index_keys);
    st_buf_free(&t->filter);
    st_buf_free(&t->min_key);
    st_buf_free(&t->max_key);
    free(t->path);
    free(t);
}

/* --- lookups --- */

bool
lsm_table_may_contain(const struct lsm_table *t, st_slice key)
{
    return lsm_table_may_contain_hash(t, lsm_bloom_hash(key));
}

bool
lsm_table_may_contain_hash(const struct lsm_table *t, uint64_t hash)
{
    return lsm_bloom_may_contain(st_buf_slice(&t->filter), hash);
}

/* The internal key that sorts first among 'key''s versions, in 'inline'
 * when it fits (no malloc on the lookup path) or else in 'heap'. */
static bool
seek_target(st_slice key, uint8_t *inline_buf, size_t cap, struct st_buf *heap,
            st_slice *out)
{
    size_t len = key.len + LSM_IKEY_TRAILER_LEN;
    uint8_t *p = inline_buf;
    if (len > cap) {
        if (!lsm_ikey_encode(heap, key, LSM_MAX_SEQ, LSM_TYPE_PUT))
            return false;
        *out = st_buf_slice(heap);
        return true;
    }
    if (key.len)
        memcpy(p, key.ptr, key.len);
    le64_write(p + key.len, lsm_trailer_pack(LSM_MAX_SEQ, LSM_TYPE_PUT));
    *out = (st_slice){p, len};
    return true;
}

/* Looks for 'key' in the block that may hold it; *found false when the
 * block has no version of it. */
static st_status
get_in_block(struct lsm_table *t, size_t i, st_slice key, st_slice target,
             enum lsm_value_type *type, struct st_buf *val,
             struct st_error *err)
{
    struct block_ref ref;
    st_status s = load_block(t, i, &ref, err);
    if (s != ST_OK)
        return s;
    struct lsm_block_iter it;
    lsm_block_iter_init(&it, ref.blk);
    lsm_block_iter_seek(&it, target);
    s = ST_NOT_FOUND;
    if (lsm_block_iter_valid(&it)) {
        st_slice ik = lsm_block_iter_key(&it);
        st_slice user = {ik.ptr, ik.len - LSM_IKEY_TRAILER_LEN};
        if (st_slice_equal(user, key)) {
            *type = lsm_trailer_type(le64_read(ik.ptr + user.len));
            s = ST_OK;
            if (*type == LSM_TYPE_PUT && !st_buf_set(val, it.value))
                s = st_error_set(err, ST_NOMEM, 0, "%s: no memory", t->path);
        }
    } else if (it.status != ST_OK) {
        s = corrupt(t, t->index[i].off, it.why, err);
    }
    lsm_block_iter_deinit(&it);
    release_block(t, &ref);
    return s;
}

st_status
lsm_table_get(struct lsm_table *t, st_slice key, enum lsm_value_type *type,
              struct st_buf *val, struct st_error *err)
{
    if (!lsm_table_may_contain(t, key))
        return ST_NOT_FOUND;
    return lsm_table_get_unfiltered(t, key, type, val, err);
}

st_status
lsm_table_get_unfiltered(struct lsm_table *t, st_slice key,
                         enum lsm_value_type *type, struct st_buf *val,
                         struct st_error *err)
{
    uint8_t buf[128];
    struct st_buf heap = {0};
    st_slice target;
    if (!seek_target(key, buf, sizeof buf, &heap, &target))
        return st_error_set(err, ST_NOMEM, 0, "%s: no memory", t->path);
    /* The first block whose last key >= (key, newest) is the only one
     * that can hold the newest version: every earlier block ends before
     * the key's first version. */
    size_t i = find_block(t, target);
    st_status s = ST_NOT_FOUND;
    if (i < t->blocks)
        s = get_in_block(t, i, key, target, type, val, err);
    st_buf_free(&heap);
    return s;
}

st_slice
lsm_table_min_key(const struct lsm_table *t)
{
    return st_buf_slice(&t->min_key);
}

st_slice
lsm_table_max_key(const struct lsm_table *t)
{
    return st_buf_slice(&t->max_key);
}

uint64_t
lsm_table_file_bytes(const struct lsm_table *t)
{
    return t->file_bytes;
}

uint64_t
lsm_table_entries(const struct lsm_table *t)
{
    return t->entries;
}

/* --- iterator: the index, then one data block at a time --- */

struct table_iter {
    struct lsm_iter base;
    struct lsm_table *t;
    size_t block;         /* current data block; t->blocks past the end */
    struct block_ref ref; /* that block, while ref.blk != NULL */
    struct lsm_block_iter bi;
    struct st_buf target; /* seek key, reused */
    st_status status;
    struct st_error err;
};

static void
ti_unload(struct table_iter *ti)
{
    if (ti->ref.blk != NULL) {
        lsm_block_iter_deinit(&ti->bi);
        release_block(ti->t, &ti->ref);
    }
}

static void
ti_fail(struct table_iter *ti, st_status s)
{
    ti_unload(ti);
    ti->status = s;
    ti->block = ti->t->blocks;
}

/* Loads block i (or goes past the end); false on error. */
static bool
ti_load(struct table_iter *ti, size_t i)
{
    ti_unload(ti);
    ti->block = i;
    if (i >= ti->t->blocks)
        return false;
    st_status s = load_block(ti->t, i, &ti->ref, &ti->err);
    if (s != ST_OK) {
        ti_fail(ti, s);
        return false;
    }
    lsm_block_iter_init(&ti->bi, ti->ref.blk);
    return true;
}

/* Moves on to following blocks while the current one is used up. */
static void
ti_settle(struct table_iter *ti)
{
    while (ti->ref.blk != NULL && !lsm_block_iter_valid(&ti->bi)) {
        if (ti->bi.status != ST_OK) {
            uint64_t off = ti->t->index[ti->block].off;
            ti_fail(ti, corrupt(ti->t, off, ti->bi.why, &ti->err));
            return;
        }
        if (!ti_load(ti, ti->block + 1))
            return;
        lsm_block_iter_seek_first(&ti->bi);
    }
}

static void
ti_seek_first(struct lsm_iter *it)
{
    struct table_iter *ti = (struct table_iter *)it;
    ti->status = ST_OK;
    if (ti_load(ti, 0))
        lsm_block_iter_seek_first(&ti->bi);
    ti_settle(ti);
}

static void
ti_seek(struct lsm_iter *it, st_slice key)
{
    struct table_iter *ti = (struct table_iter *)it;
    ti->status = ST_OK;
    if (!lsm_ikey_encode(&ti->target, key, LSM_MAX_SEQ, LSM_TYPE_PUT)) {
        ti_fail(ti, st_error_set(&ti->err, ST_NOMEM, 0, "%s: no memory",
                                 ti->t->path));
        return;
    }
    st_slice target = st_buf_slice(&ti->target);
    if (ti_load(ti, find_block(ti->t, target)))
        lsm_block_iter_seek(&ti->bi, target);
    ti_settle(ti);
}

static void
ti_next(struct lsm_iter *it)
{
    struct table_iter *ti = (struct table_iter *)it;
    lsm_block_iter_next(&ti->bi);
    ti_settle(ti);
}

static bool
ti_valid(const struct lsm_iter *it)
{
    const struct table_iter *ti = (const struct table_iter *)it;
    return ti->status == ST_OK && ti->ref.blk != NULL &&
           lsm_block_iter_valid(&ti->bi);
}

static st_slice
ti_key(const struct lsm_iter *it)
{
    st_slice ik = lsm_block_iter_key(&((const struct table_iter *)it)->bi);
    return (st_slice){ik.ptr, ik.len - LSM_IKEY_TRAILER_LEN};
}

static uint64_t
ti_trailer(const struct lsm_iter *it)
{
    st_slice ik = lsm_block_iter_key(&((const struct table_iter *)it)->bi);
    return le64_read(ik.ptr + ik.len - LSM_IKEY_TRAILER_LEN);
}

static uint64_t
ti_seq(const struct lsm_iter *it)
{
    return lsm_trailer_seq(ti_trailer(it));
}

static enum lsm_value_type
ti_type(const struct lsm_iter *it)
{
    return lsm_trailer_type(ti_trailer(it));
}

static st_slice
ti_value(const struct lsm_iter *it)
{
    return ((const struct table_iter *)it)->bi.value;
}

static st_status
ti_status(const struct lsm_iter *it, struct st_error *err)
{
    const struct table_iter *ti = (const struct table_iter *)it;
    if (err != NULL)
        *err = ti->err;
    return ti->status;
}

static void
ti_destroy(struct lsm_iter *it)
{
    struct table_iter *ti = (struct table_iter *)it;
    ti_unload(ti);
    st_buf_free(&ti->target);
    free(ti);
}

static const struct lsm_iter_ops table_iter_ops = {
    .seek_first = ti_seek_first,
    .seek = ti_seek,
    .next = ti_next,
    .valid = ti_valid,
    .key = ti_key,
    .seq = ti_seq,
    .type = ti_type,
    .value = ti_value,
    .status = ti_status,
    .destroy = ti_destroy,
};

struct lsm_iter *
lsm_table_iter_create(struct lsm_table *t)
{
    struct table_iter *ti = calloc(1, sizeof *ti);
    if (ti == NULL)
        return NULL;
    ti->base.ops = &table_iter_ops;
    ti->t = t;
    ti->block = t->blocks;
    ti->status = ST_OK;
    return &ti->base;
}
