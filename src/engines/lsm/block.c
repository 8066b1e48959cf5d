/*
 * Block encoding and decoding (block.h; docs/sstable-format.md, "Blocks").
 *
 * Invariants: entry 0 and every interval-th entry after it are restart
 * points with shared = 0, listed in ascending order after the entries; a
 * reader trusts nothing it decodes until it has checked it against the
 * bytes really there, so a damaged block gives ST_CORRUPT, never a read
 * out of bounds or a wrong key.
 */
#include "engines/lsm/block.h"

#include <stdlib.h>
#include <string.h>

#include "engines/lsm/sstable_format.h"
#include "util/coding.h"
#include "util/crc32c.h"

enum { VARINT32_MAX_LEN = 5 };

/* --- internal keys --- */

bool
lsm_ikey_encode(struct st_buf *out, st_slice user_key, uint64_t seq,
                enum lsm_value_type type)
{
    out->len = 0;
    if (!st_buf_reserve(out, user_key.len + LSM_IKEY_TRAILER_LEN))
        return false;
    if (user_key.len)
        memcpy(out->ptr, user_key.ptr, user_key.len);
    le64_write(out->ptr + user_key.len, lsm_trailer_pack(seq, type));
    out->len = user_key.len + LSM_IKEY_TRAILER_LEN;
    return true;
}

int
lsm_ikey_compare(st_slice a, st_slice b)
{
    size_t ua = a.len - LSM_IKEY_TRAILER_LEN, ub = b.len - LSM_IKEY_TRAILER_LEN;
    uint64_t ta = le64_read(a.ptr + ua), tb = le64_read(b.ptr + ub);
    return lsm_entry_compare((st_slice){a.ptr, ua}, lsm_trailer_seq(ta),
                             (st_slice){b.ptr, ub}, lsm_trailer_seq(tb));
}

/* --- building --- */

void
lsm_block_builder_init(struct lsm_block_builder *b, unsigned interval)
{
    memset(b, 0, sizeof *b);
    b->interval = interval;
    b->since_restart = interval; /* the first entry is a restart point */
}

void
lsm_block_builder_deinit(struct lsm_block_builder *b)
{
    st_buf_free(&b->buf);
    st_buf_free(&b->restarts);
    st_buf_free(&b->last_key);
}

void
lsm_block_builder_reset(struct lsm_block_builder *b)
{
    b->buf.len = 0;
    b->restarts.len = 0;
    b->last_key.len = 0;
    b->since_restart = b->interval;
    b->entries = 0;
}

static size_t
shared_prefix(st_slice a, st_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len, i = 0;
    while (i < n && a.ptr[i] == b.ptr[i])
        i++;
    return i;
}

st_status
lsm_block_builder_add(struct lsm_block_builder *b, st_slice key, st_slice val)
{
    size_t shared = 0;
    if (b->since_restart < b->interval) {
        shared = shared_prefix(st_buf_slice(&b->last_key), key);
    } else {
        uint8_t off[4];
        le32_write(off, (uint32_t)b->buf.len);
        if (!st_buf_append(&b->restarts, st_slice_make(off, 4)))
            return ST_NOMEM;
        b->since_restart = 0;
    }
    size_t non_shared = key.len - shared;
    if (!st_buf_reserve(&b->buf, 3 * VARINT32_MAX_LEN + non_shared + val.len))
        return ST_NOMEM;
    uint8_t *p = b->buf.ptr + b->buf.len;
    p += varint64_write(p, shared);
    p += varint64_write(p, non_shared);
    p += varint64_write(p, val.len);
    memcpy(p, key.ptr + shared, non_shared);
    p += non_shared;
    if (val.len)
        memcpy(p, val.ptr, val.len);
    p += val.len;
    /* Commit only once last_key is saved, so ST_NOMEM changes nothing. */
    if (!st_buf_set(&b->last_key, key))
        return ST_NOMEM;
    b->buf.len = (size_t)(p - b->buf.ptr);
    b->since_restart++;
    b->entries++;
    return ST_OK;
}

size_t
lsm_block_builder_size(const struct lsm_block_builder *b)
{
    return b->buf.len + b->restarts.len + 4;
}

st_status
lsm_block_builder_finish(struct lsm_block_builder *b, st_slice *contents)
{
    uint8_t count[4];
    le32_write(count, (uint32_t)(b->restarts.len / 4));
    if (!st_buf_reserve(&b->buf, b->restarts.len + 4 + LSM_BLOCK_TRAILER_LEN))
        return ST_NOMEM;
    st_buf_append(&b->buf, st_buf_slice(&b->restarts));
    st_buf_append(&b->buf, st_slice_make(count, 4));
    *contents = st_buf_slice(&b->buf);
    return ST_OK;
}

st_status
lsm_block_trailer_append(struct st_buf *buf)
{
    if (!st_buf_reserve(buf, LSM_BLOCK_TRAILER_LEN))
        return ST_NOMEM;
    uint8_t *t = buf->ptr + buf->len;
    t[0] = LSM_BLOCK_NO_COMPRESSION;
    /* The CRC covers the compression byte too: a flipped type byte must
     * not turn a block into something else silently. */
    le32_write(t + 1, crc32c_mask(crc32c(buf->ptr, buf->len + 1)));
    buf->len += LSM_BLOCK_TRAILER_LEN;
    return ST_OK;
}

st_status
lsm_block_trailer_check(st_slice raw, st_slice *contents, const char **why)
{
    if (raw.len < LSM_BLOCK_TRAILER_LEN) {
        *why = "cut block";
        return ST_CORRUPT;
    }
    size_t len = raw.len - LSM_BLOCK_TRAILER_LEN;
    uint32_t stored = crc32c_unmask(le32_read(raw.ptr + len + 1));
    if (crc32c(raw.ptr, len + 1) != stored) {
        *why = "bad checksum";
        return ST_CORRUPT;
    }
    if (raw.ptr[len] != LSM_BLOCK_NO_COMPRESSION) {
        *why = "unknown compression";
        return ST_CORRUPT;
    }
    *contents = (st_slice){raw.ptr, len};
    return ST_OK;
}

/* --- reading --- */

static inline uint32_t
restart_at(const struct lsm_block *b, uint32_t i)
{
    return le32_read(b->data + b->entries_len + 4 * (size_t)i);
}

st_status
lsm_block_decode(st_slice contents, struct lsm_block *out, const char **why)
{
    *why = "bad restart array";
    if (contents.len < 4)
        return ST_CORRUPT;
    uint32_t r = le32_read(contents.ptr + contents.len - 4);
    if (r > (contents.len - 4) / 4)
        return ST_CORRUPT;
    struct lsm_block b = {contents.ptr, contents.len - 4 - 4 * (size_t)r, r};
    if ((r == 0) != (b.entries_len == 0))
        return ST_CORRUPT;
    /* Checked once here, so a seek may binary-search without bounds
     * checks on the offsets themselves. */
    for (uint32_t i = 0; i < r; i++) {
        uint32_t off = restart_at(&b, i);
        if (off >= b.entries_len || (i == 0 && off != 0) ||
            (i > 0 && off <= restart_at(&b, i - 1)))
            return ST_CORRUPT;
    }
    *out = b;
    return ST_OK;
}

void
lsm_block_iter_init(struct lsm_block_iter *it, const struct lsm_block *b)
{
    it->b = b;
    it->off = it->next_off = b->entries_len;
    it->value = (st_slice){NULL, 0};
    it->key = it->inline_key;
    it->key_len = 0;
    it->key_cap = sizeof it->inline_key;
    it->status = ST_OK;
    it->why = NULL;
}

void
lsm_block_iter_deinit(struct lsm_block_iter *it)
{
    if (it->key != it->inline_key)
        free(it->key);
    it->key = it->inline_key;
}

static void
iter_fail(struct lsm_block_iter *it, st_status s, const char *why)
{
    it->status = s;
    it->why = why;
    it->off = it->next_off = it->b->entries_len;
}

/* Reads one varint32 at *p (< end); false when cut or too long. */
static inline bool
read_varint32(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
    if (*p < end && **p < 0x80) { /* the common case: one byte */
        *v = *(*p)++;
        return true;
    }
    uint64_t v64;
    size_t n = varint64_read(*p, (size_t)(end - *p), &v64);
    if (n == 0 || n > VARINT32_MAX_LEN || v64 > UINT32_MAX)
        return false;
    *p += n;
    *v = (uint32_t)v64;
    return true;
}

struct entry {
    uint32_t shared, non_shared, val_len;
    const uint8_t *delta; /* key delta; the value follows it */
};

/* Decodes the entry header at 'off' and checks its lengths against the
 * entries region. */
static bool
decode_entry(const struct lsm_block *b, size_t off, struct entry *e)
{
    const uint8_t *p = b->data + off, *end = b->data + b->entries_len;
    if (!read_varint32(&p, end, &e->shared) ||
        !read_varint32(&p, end, &e->non_shared) ||
        !read_varint32(&p, end, &e->val_len))
        return false;
    e->delta = p;
    return (uint64_t)e->non_shared + e->val_len <= (size_t)(end - p);
}

static bool
grow_key(struct lsm_block_iter *it, size_t need)
{
    size_t cap = it->key_cap * 2 > need ? it->key_cap * 2 : need;
    uint8_t *k = malloc(cap);
    if (k == NULL)
        return false;
    memcpy(k, it->key, it->key_len);
    lsm_block_iter_deinit(it);
    it->key = k;
    it->key_cap = cap;
    return true;
}

/* Moves to the entry at it->next_off, rebuilding its key from the
 * previous one. */
static void
parse_next(struct lsm_block_iter *it)
{
    const struct lsm_block *b = it->b;
    if (it->next_off >= b->entries_len) {
        it->off = b->entries_len;
        return;
    }
    struct entry e;
    if (!decode_entry(b, it->next_off, &e) || e.shared > it->key_len) {
        iter_fail(it, ST_CORRUPT, "bad entry");
        return;
    }
    size_t key_len = (size_t)e.shared + e.non_shared;
    if (key_len < LSM_IKEY_TRAILER_LEN) {
        iter_fail(it, ST_CORRUPT, "key shorter than its trailer");
        return;
    }
    if (key_len > it->key_cap && !grow_key(it, key_len)) {
        iter_fail(it, ST_NOMEM, "no memory");
        return;
    }
    memcpy(it->key + e.shared, e.delta, e.non_shared);
    it->key_len = key_len;
    it->value = (st_slice){e.delta + e.non_shared, e.val_len};
    it->off = it->next_off;
    it->next_off = (size_t)(it->value.ptr + e.val_len - b->data);
}

static void
seek_restart(struct lsm_block_iter *it, uint32_t i)
{
    it->key_len = 0; /* a restart entry shares nothing */
    it->next_off = restart_at(it->b, i);
    parse_next(it);
}

void
lsm_block_iter_seek_first(struct lsm_block_iter *it)
{
    it->status = ST_OK;
    if (it->b->restarts == 0) {
        it->off = it->next_off = it->b->entries_len;
        return;
    }
    seek_restart(it, 0);
}

void
lsm_block_iter_next(struct lsm_block_iter *it)
{
    parse_next(it);
}

/* The whole key stored at restart point i; false on damage. */
static bool
restart_key(const struct lsm_block *b, uint32_t i, st_slice *key)
{
    struct entry e;
    if (!decode_entry(b, restart_at(b, i), &e) || e.shared != 0 ||
        e.non_shared < LSM_IKEY_TRAILER_LEN)
        return false;
    *key = (st_slice){e.delta, e.non_shared};
    return true;
}

void
lsm_block_iter_seek(struct lsm_block_iter *it, st_slice target)
{
    it->status = ST_OK;
    if (it->b->restarts == 0) {
        it->off = it->next_off = it->b->entries_len;
        return;
    }
    /* Binary search for the last restart point whose key < target; the
     * target is then within the next 'interval' entries from it. */
    uint32_t lo = 0, hi = it->b->restarts - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        st_slice key;
        if (!restart_key(it->b, mid, &key)) {
            iter_fail(it, ST_CORRUPT, "bad restart entry");
            return;
        }
        if (lsm_ikey_compare(key, target) < 0)
            lo = mid;
        else
            hi = mid - 1;
    }
    for (seek_restart(it, lo); lsm_block_iter_valid(it); parse_next(it)) {
        if (lsm_ikey_compare(lsm_block_iter_key(it), target) >= 0)
            return;
    }
}
