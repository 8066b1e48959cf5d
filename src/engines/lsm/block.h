/*
 * Blocks of an SSTable (docs/sstable-format.md, "Blocks"): sorted entries
 * with shared-prefix compression and restart points, the binary encoding
 * of DDIA chapter 4 applied to DDIA 3.1's sorted segments. Data blocks and
 * the index block use this one encoding; keys are internal keys (user key
 * + 8-byte trailer, internal_key.h).
 *
 * Threads: a builder or an iterator is used by one thread; a decoded
 * struct lsm_block is read-only and may be shared by any number of
 * iterators on any threads.
 */
#ifndef STRATA_ENGINES_LSM_BLOCK_H
#define STRATA_ENGINES_LSM_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/lsm/internal_key.h"
#include "util/slice.h"
#include "util/status.h"

/* --- internal keys as bytes --- */

/* Writes user key + trailer into 'out' (replacing its contents). */
bool lsm_ikey_encode(struct st_buf *out, st_slice user_key, uint64_t seq,
                     enum lsm_value_type type);

/* Orders two encoded internal keys. REQUIRES: both at least 8 bytes. */
int lsm_ikey_compare(st_slice a, st_slice b);

/* --- building --- */

/* The caller's storage (init/deinit). Buffers grow and are reused from
 * block to block, so adding an entry allocates only while a block is
 * bigger than every block before it. */
struct lsm_block_builder {
    struct st_buf buf;      /* entries so far, then restarts at finish */
    struct st_buf restarts; /* u32 LE offsets */
    struct st_buf last_key; /* the previous entry's key */
    unsigned interval;      /* restart every 'interval' entries */
    unsigned since_restart; /* entries since the last restart point */
    size_t entries;
};

void lsm_block_builder_init(struct lsm_block_builder *b, unsigned interval);
void lsm_block_builder_deinit(struct lsm_block_builder *b);

/* Empties the builder for the next block, keeping its buffers. */
void lsm_block_builder_reset(struct lsm_block_builder *b);

/* Appends an entry. REQUIRES: 'key' sorts after the previous key. */
st_status lsm_block_builder_add(struct lsm_block_builder *b, st_slice key,
                                st_slice val);

/* Bytes the block will have once finished (no trailer). */
size_t lsm_block_builder_size(const struct lsm_block_builder *b);

/* Appends the restart array and returns the block's bytes, borrowed from
 * the builder until its next reset/deinit. The caller may append the
 * trailer to b->buf (lsm_block_trailer_append). */
st_status lsm_block_builder_finish(struct lsm_block_builder *b,
                                   st_slice *contents);

/* Appends the 5-byte trailer of the block bytes b->buf holds. */
st_status lsm_block_trailer_append(struct st_buf *buf);

/* Checks a block read with its trailer ('raw' = block + 5 bytes): on ST_OK
 * *contents borrows the block bytes of 'raw'. ST_CORRUPT with *why set to
 * a static reason when the checksum or compression byte is wrong. */
st_status lsm_block_trailer_check(st_slice raw, st_slice *contents,
                                  const char **why);

/* --- reading --- */

/* A checked block: the bytes it borrows must outlive it. */
struct lsm_block {
    const uint8_t *data;
    size_t entries_len; /* where the restart array starts */
    uint32_t restarts;  /* number of restart points */
};

/* Validates the restart array. ST_CORRUPT (reason in *why) on damage. */
st_status lsm_block_decode(st_slice contents, struct lsm_block *out,
                           const char **why);

enum { LSM_BLOCK_ITER_INLINE_KEY = 64 };

/* A cursor over one block (the caller's storage). key/value borrow from
 * the iterator and the block until the next move. Keys up to 64 bytes
 * live inline, so a point lookup mallocs nothing. */
struct lsm_block_iter {
    const struct lsm_block *b;
    size_t off;      /* current entry; entries_len when past the end */
    size_t next_off; /* the entry after it */
    st_slice value;
    uint8_t *key; /* inline_key or a heap buffer */
    size_t key_len, key_cap;
    st_status status; /* ST_OK or ST_CORRUPT (reason in 'why') */
    const char *why;
    uint8_t inline_key[LSM_BLOCK_ITER_INLINE_KEY];
};

void lsm_block_iter_init(struct lsm_block_iter *it, const struct lsm_block *b);
void lsm_block_iter_deinit(struct lsm_block_iter *it);
void lsm_block_iter_seek_first(struct lsm_block_iter *it);
/* The first entry >= the internal key 'target' (encoded). */
void lsm_block_iter_seek(struct lsm_block_iter *it, st_slice target);
void lsm_block_iter_next(struct lsm_block_iter *it);

/* false past the end or after an error (see it->status). */
static inline bool
lsm_block_iter_valid(const struct lsm_block_iter *it)
{
    return it->status == ST_OK && it->off < it->b->entries_len;
}

static inline st_slice
lsm_block_iter_key(const struct lsm_block_iter *it)
{
    return (st_slice){it->key, it->key_len};
}

#endif
