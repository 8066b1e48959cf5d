/*
 * The SSTable builder (sstable.h; docs/sstable-format.md): DDIA 3.1's
 * "write the memtable out to disk as an SSTable file". Entries arrive in
 * internal order and are cut into blocks; the filter, props and index
 * blocks and the footer follow the last data block.
 *
 * Invariants: the file is written front to back, one write(2) per block,
 * never rewritten; the footer is written last, so a file cut anywhere
 * before its end has no valid footer and is refused by the reader. After
 * a failed write the builder only reports that failure.
 */
#include "engines/lsm/sstable.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "engines/lsm/block.h"
#include "engines/lsm/bloom.h"
#include "engines/lsm/sstable_format.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/io.h"

struct handle {
    uint64_t off, len; /* len without the trailer */
};

struct lsm_table_builder {
    char *path;
    int fd;
    struct lsm_table_options opt;
    st_status failed; /* ST_OK, or the first error: the file is lost */
    uint64_t off;     /* bytes written so far */
    struct lsm_block_builder data, index;
    struct st_buf ikey, last_ikey; /* the entry being added, the last one */
    struct st_buf scratch;         /* filter, props and footer bytes */
    uint64_t *hashes;              /* one per distinct user key */
    size_t hash_count, hash_cap;
    struct st_buf min_key;
    uint64_t entries, min_seq, max_seq;
};

void
lsm_table_options_default(struct lsm_table_options *opt)
{
    opt->block_size = LSM_DEFAULT_BLOCK_SIZE;
    opt->bloom_bits_per_key = LSM_DEFAULT_BLOOM_BITS;
    opt->sync = true;
}

void
lsm_table_props_free(struct lsm_table_props *p)
{
    st_buf_free(&p->min_key);
    st_buf_free(&p->max_key);
}

static void
builder_free(struct lsm_table_builder *b)
{
    lsm_block_builder_deinit(&b->data);
    lsm_block_builder_deinit(&b->index);
    st_buf_free(&b->ikey);
    st_buf_free(&b->last_ikey);
    st_buf_free(&b->scratch);
    st_buf_free(&b->min_key);
    free(b->hashes);
    free(b->path);
    free(b);
}

st_status
lsm_table_builder_open(const char *path, const struct lsm_table_options *opt,
                       struct lsm_table_builder **out, struct st_error *err)
{
    struct lsm_table_builder *b = calloc(1, sizeof *b);
    if (b == NULL || (b->path = strdup(path)) == NULL) {
        free(b);
        return st_error_set(err, ST_NOMEM, 0, "table builder: no memory");
    }
    b->opt = *opt;
    if (b->opt.block_size == 0)
        b->opt.block_size = LSM_DEFAULT_BLOCK_SIZE;
    lsm_block_builder_init(&b->data, LSM_DATA_RESTART_INTERVAL);
    lsm_block_builder_init(&b->index, LSM_INDEX_RESTART_INTERVAL);
    /* O_EXCL: a table file is written once; an existing name means a
     * file number was reused, which would corrupt the cache's keys. */
    st_status s = io_open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644,
                          &b->fd, err);
    if (s != ST_OK) {
        builder_free(b);
        return s;
    }
    *out = b;
    return ST_OK;
}

/* Appends the trailer to 'buf' (a finished block), writes both with one
 * write and returns where they went. */
static st_status
write_block(struct lsm_table_builder *b, struct st_buf *buf, struct handle *h,
            struct st_error *err)
{
    h->off = b->off;
    h->len = buf->len;
    if (lsm_block_trailer_append(buf) != ST_OK)
        return st_error_set(err, ST_NOMEM, 0, "table builder: no memory");
    st_status s = io_write_all(b->fd, buf->ptr, buf->len, b->path, err);
    if (s != ST_OK)
        return s;
    b->off += buf->len;
    return ST_OK;
}

/* Writes the pending data block and adds its index entry: the block's
 * last key, which is >= every key in it and < the next block's first. */
static st_status
flush_data_block(struct lsm_table_builder *b, struct st_error *err)
{
    st_slice contents;
    struct handle h;
    if (lsm_block_builder_finish(&b->data, &contents) != ST_OK)
        return st_error_set(err, ST_NOMEM, 0, "table builder: no memory");
    st_status s = write_block(b, &b->data.buf, &h, err);
    if (s != ST_OK)
        return s;
    uint8_t enc[2 * VARINT64_MAX_LEN];
    size_t n = varint64_write(enc, h.off);
    n += varint64_write(enc + n, h.len);
    if (lsm_block_builder_add(&b->index, st_buf_slice(&b->last_ikey),
                              st_slice_make(enc, n)) != ST_OK)
        return st_error_set(err, ST_NOMEM, 0, "table builder: no memory");
    lsm_block_builder_reset(&b->data);
    return ST_OK;
}

/* Keeps the user key's hash for the filter, once per distinct key. */
static bool
remember_hash(struct lsm_table_builder *b, st_slice key)
{
    if (b->entries > 0) {
        st_slice last = {b->last_ikey.ptr,
                         b->last_ikey.len - LSM_IKEY_TRAILER_LEN};
        if (st_slice_equal(last, key))
            return true; /* an older version of the same key */
    }
    if (b->hash_count == b->hash_cap) {
        size_t cap = b->hash_cap ? 2 * b->hash_cap : 1024;
        uint64_t *h = realloc(b->hashes, cap * sizeof *h);
        if (h == NULL)
            return false;
        b->hashes = h;
        b->hash_cap = cap;
    }
    b->hashes[b->hash_count++] = lsm_bloom_hash(key);
    return true;
}

static void
note_props(struct lsm_table_builder *b, uint64_t seq)
{
    if (b->entries == 0 || seq < b->min_seq)
        b->min_seq = seq;
    if (b->entries == 0 || seq > b->max_seq)
        b->max_seq = seq;
    b->entries++;
}

st_status
lsm_table_builder_add(struct lsm_table_builder *b, st_slice key, uint64_t seq,
                      enum lsm_value_type type, st_slice val,
                      struct st_error *err)
{
    if (b->failed != ST_OK)
        return st_error_set(err, b->failed, 0, "%s: earlier write failed",
                            b->path);
    if (!lsm_ikey_encode(&b->ikey, key, seq, type))
        return st_error_set(err, ST_NOMEM, 0, "table builder: no memory");
    if (b->entries > 0 && lsm_ikey_compare(st_buf_slice(&b->ikey),
                                           st_buf_slice(&b->last_ikey)) <= 0)
        return st_error_set(err, ST_INVALID, 0,
                            "%s: entries added out of order", b->path);
    if (b->entries == 0 && !st_buf_set(&b->min_key, key))
        return st_error_set(err, ST_NOMEM, 0, "table builder: no memory");
    if (!remember_hash(b, key) ||
        lsm_block_builder_add(&b->data, st_buf_slice(&b->ikey), val) != ST_OK)
        return st_error_set(err, ST_NOMEM, 0, "table builder: no memory");

    struct st_buf tmp = b->last_ikey; /* swap: no copy of the key */
    b->last_ikey = b->ikey;
    b->ikey = tmp;
    note_props(b, seq);

    if (lsm_block_builder_size(&b->data) >= b->opt.block_size) {
        st_status s = flush_data_block(b, err);
        if (s != ST_OK)
            b->failed = s;
        return s;
    }
    return ST_OK;
}

uint64_t
lsm_table_builder_file_bytes(const struct lsm_table_builder *b)
{
    return b->off;
}

uint64_t
lsm_table_builder_entries(const struct lsm_table_builder *b)
{
    return b->entries;
}

static bool
put_varint(struct st_buf *buf, uint64_t v)
{
    uint8_t enc[VARINT64_MAX_LEN];
    return st_buf_append(buf, st_slice_make(enc, varint64_write(enc, v)));
}

/* The props block ("Props block"), encoded into b->scratch. */
static bool
encode_props(struct lsm_table_builder *b)
{
    st_slice max_key = {b->last_ikey.ptr,
                        b->entries ? b->last_ikey.len - LSM_IKEY_TRAILER_LEN
                                   : 0};
    b->scratch.len = 0;
    return put_varint(&b->scratch, b->entries) &&
           put_varint(&b->scratch, b->min_seq) &&
           put_varint(&b->scratch, b->max_seq) &&
           put_varint(&b->scratch, b->min_key.len) &&
           st_buf_append(&b->scratch, st_buf_slice(&b->min_key)) &&
           put_varint(&b->scratch, max_key.len) &&
           st_buf_append(&b->scratch, max_key);
}

static void
encode_footer(uint8_t *f, const struct handle *index,
              const struct handle *filter, const struct handle *props)
{
    le64_write(f + LSM_FOOTER_INDEX, index->off);
    le32_write(f + LSM_FOOTER_INDEX + 8, (uint32_t)index->len);
    le64_write(f + LSM_FOOTER_FILTER, filter->off);
    le32_write(f + LSM_FOOTER_FILTER + 8, (uint32_t)filter->len);
    le64_write(f + LSM_FOOTER_PROPS, props->off);
    le32_write(f + LSM_FOOTER_PROPS + 8, (uint32_t)props->len);
    le32_write(f + LSM_FOOTER_VERSION, LSM_TABLE_VERSION);
    le32_write(f + LSM_FOOTER_CRC, crc32c_mask(crc32c(f, LSM_FOOTER_CRC)));
    memcpy(f + LSM_FOOTER_MAGIC, LSM_TABLE_MAGIC, LSM_FOOTER_MAGIC_LEN);
}

/* Filter, props, index and footer, in that order (the file layout). */
static st_status
write_meta(struct lsm_table_builder *b, struct st_error *err)
{
    struct handle filter, props, index;
    st_slice contents;
    b->scratch.len = 0;
    if (lsm_bloom_build(b->hashes, b->hash_count, b->opt.bloom_bits_per_key,
                        &b->scratch) != ST_OK)
        return st_error_set(err, ST_NOMEM, 0, "table builder: no memory");
    st_status s = write_block(b, &b->scratch, &filter, err);
    if (s != ST_OK)
        return s;
    if (!encode_props(b))
        return st_error_set(err, ST_NOMEM, 0, "table builder: no memory");
    if ((s = write_block(b, &b->scratch, &props, err)) != ST_OK)
        return s;
    if (lsm_block_builder_finish(&b->index, &contents) != ST_OK)
        return st_error_set(err, ST_NOMEM, 0, "table builder: no memory");
    if ((s = write_block(b, &b->index.buf, &index, err)) != ST_OK)
        return s;
    if (index.len > UINT32_MAX || filter.len > UINT32_MAX)
        return st_error_set(err, ST_INVALID, 0, "%s: block over 4 GiB",
                            b->path); /* see "Limits" */
    uint8_t footer[LSM_FOOTER_LEN];
    encode_footer(footer, &index, &filter, &props);
    s = io_write_all(b->fd, footer, sizeof footer, b->path, err);
    if (s == ST_OK)
        b->off += sizeof footer;
    return s;
}

static st_status
fill_props(struct lsm_table_builder *b, struct lsm_table_props *p)
{
    st_slice max_key = {b->last_ikey.ptr,
                        b->entries ? b->last_ikey.len - LSM_IKEY_TRAILER_LEN
                                   : 0};
    *p = (struct lsm_table_props){.entries = b->entries,
                                  .file_bytes = b->off,
                                  .min_seq = b->min_seq,
                                  .max_seq = b->max_seq};
    if (!st_buf_set(&p->min_key, st_buf_slice(&b->min_key)) ||
        !st_buf_set(&p->max_key, max_key)) {
        lsm_table_props_free(p);
        return ST_NOMEM;
    }
    return ST_OK;
}

st_status
lsm_table_builder_finish(struct lsm_table_builder *b,
                         struct lsm_table_props *props, struct st_error *err)
{
    st_status s = b->failed;
    if (s != ST_OK)
        st_error_set(err, s, 0, "%s: earlier write failed", b->path);
    if (s == ST_OK && b->data.entries > 0)
        s = flush_data_block(b, err);
    if (s == ST_OK)
        s = write_meta(b, err);
    /* The file must be durable before anyone names it (the caller then
     * fsyncs the directory, docs/sstable-format.md "Durability"). */
    if (s == ST_OK && b->opt.sync)
        s = io_fsync(b->fd, b->path, err);
    st_status cs = io_close(b->fd, b->path, s == ST_OK ? err : NULL);
    if (s == ST_OK)
        s = cs;
    if (s == ST_OK && fill_props(b, props) != ST_OK)
        s = st_error_set(err, ST_NOMEM, 0, "table builder: no memory");
    builder_free(b);
    return s;
}

void
lsm_table_builder_abandon(struct lsm_table_builder *b)
{
    if (b == NULL)
        return;
    io_close(b->fd, b->path, NULL);
    io_unlink(b->path, NULL);
    builder_free(b);
}
