/*
 * SSTables (DDIA 3.1 "SSTables and LSM-Trees"; format byte by byte in
 * docs/sstable-format.md): immutable files of entries sorted by internal
 * key, cut into checksummed data blocks, with a sparse index (one entry
 * per block), a bloom filter over the user keys, the min/max user key and
 * a footer with a magic number.
 *
 * Writing: a builder takes entries in increasing internal order and
 * writes the file once; nothing ever changes it afterwards. Reading: a
 * table handle answers point lookups (bloom filter, then index, then one
 * block) and gives iterators. Every block's checksum is verified before
 * use; damage is ST_CORRUPT naming the file and offset, never a wrong
 * value.
 */
#ifndef STRATA_ENGINES_LSM_SSTABLE_H
#define STRATA_ENGINES_LSM_SSTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/lsm/block_cache.h"
#include "engines/lsm/internal_key.h"
#include "engines/lsm/iterator.h"
#include "util/slice.h"
#include "util/status.h"

struct lsm_table_options {
    size_t block_size;           /* target data block size; default 4096 */
    unsigned bloom_bits_per_key; /* default 10 (~1% false positives) */
    bool sync;                   /* fsync the file in finish() */
};

void lsm_table_options_default(struct lsm_table_options *opt);

/* What a finished table holds; the engine records it in the manifest. */
struct lsm_table_props {
    uint64_t entries;    /* tombstones included */
    uint64_t file_bytes; /* size of the file */
    struct st_buf min_key, max_key; /* user keys; owned, free both */
    uint64_t min_seq, max_seq;
};

void lsm_table_props_free(struct lsm_table_props *p);

/* --- writing --- */

struct lsm_table_builder;

/* Creates 'path' (must not exist). On ST_OK the caller owns *out and ends
 * it with exactly one of finish() or abandon(). */
st_status lsm_table_builder_open(const char *path,
                                 const struct lsm_table_options *opt,
                                 struct lsm_table_builder **out,
                                 struct st_error *err);

/* REQUIRES: (key, seq) sorts strictly after the previous entry added. */
st_status lsm_table_builder_add(struct lsm_table_builder *b, st_slice key,
                                uint64_t seq, enum lsm_value_type type,
                                st_slice val, struct st_error *err);

/* Bytes written so far (for cutting compaction output at a size). */
uint64_t lsm_table_builder_file_bytes(const struct lsm_table_builder *b);

/* Entries added so far. */
uint64_t lsm_table_builder_entries(const struct lsm_table_builder *b);

/* Writes the filter, index and footer, fsyncs when opt->sync, closes the
 * file and frees 'b' (also on error, after which the caller removes the
 * file). On ST_OK fills *props (the caller frees it). The caller makes the
 * new name durable (fsync of the directory) before a manifest names it. */
st_status lsm_table_builder_finish(struct lsm_table_builder *b,
                                   struct lsm_table_props *props,
                                   struct st_error *err);

/* Closes and removes the partial file, frees 'b'. NULL does nothing. */
void lsm_table_builder_abandon(struct lsm_table_builder *b);

/* --- reading --- */

struct lsm_table;

/* How data blocks are read (sstable_read.c explains both). */
enum lsm_table_mode {
    LSM_TABLE_MAPPED, /* memory-mapped, pread when mapping fails */
    LSM_TABLE_PREAD,  /* pread through util/io.c, cached in 'cache' */
};

/* Opens a finished table: reads and checks the footer, index and filter.
 * 'file_number' keys the block cache ('cache' may be NULL: no caching;
 * it must outlive the table). Mapped: the cache holds no mapped block,
 * but counts a block served already checked as a hit and one checked
 * on first use as a miss. On ST_OK the caller owns *out. */
st_status lsm_table_open(const char *path, uint64_t file_number,
                         struct lsm_block_cache *cache,
                         struct lsm_table **out, struct st_error *err);

/* lsm_table_open with the read mode chosen (lsm_table_open: MAPPED). */
st_status lsm_table_open_mode(const char *path, uint64_t file_number,
                              struct lsm_block_cache *cache,
                              enum lsm_table_mode mode, struct lsm_table **out,
                              struct st_error *err);

/* Closes the file and frees the handle; iterators over it must be gone.
 * NULL does nothing. */
void lsm_table_close(struct lsm_table *t);

/* false when the bloom filter proves 'key' is not in the table (no disk
 * read); true when it may be. */
bool lsm_table_may_contain(const struct lsm_table *t, st_slice key);

/* The same for a key whose lsm_bloom_hash() the caller computed once for
 * every table it asks. */
bool lsm_table_may_contain_hash(const struct lsm_table *t, uint64_t hash);

/* The newest version of 'key' in this table. ST_NOT_FOUND when there is
 * none; ST_OK with *type PUT (value copied into 'val', which the caller
 * owns) or DELETE (a tombstone: 'val' untouched). Checks the bloom filter
 * first. Thread-safe: many gets may run on one table at once. */
st_status lsm_table_get(struct lsm_table *t, st_slice key,
                        enum lsm_value_type *type, struct st_buf *val,
                        struct st_error *err);

/* lsm_table_get without the bloom filter: for a caller that just asked
 * it (lsm_table_may_contain_hash), so a lookup checks it once. */
st_status lsm_table_get_unfiltered(struct lsm_table *t, st_slice key,
                                   enum lsm_value_type *type,
                                   struct st_buf *val, struct st_error *err);

/* An iterator over every entry. The caller owns it (lsm_iter_destroy)
 * and destroys it before closing the table. NULL when out of memory. */
struct lsm_iter *lsm_table_iter_create(struct lsm_table *t);

/* Borrowed, valid while the table is open. */
st_slice lsm_table_min_key(const struct lsm_table *t);
st_slice lsm_table_max_key(const struct lsm_table *t);
uint64_t lsm_table_file_bytes(const struct lsm_table *t);
uint64_t lsm_table_entries(const struct lsm_table *t);

#endif
