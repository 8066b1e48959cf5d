/*
 * The storage engine interface: every engine of DDIA chapter 3 (a hash
 * map, a Bitcask log, an LSM tree, later a B-tree) implements this one
 * vtable, and nothing above the engine layer knows which one runs.
 *
 * Threads: every operation may be called from several threads at once;
 * each engine does its own locking. close() is called once, after every
 * other call has returned.
 *
 * Errors: each call returns an st_status and, on failure, fills the
 * optional 'err' with a message naming the file and the cause. Engines
 * never print, exit or abort on bad input or bad disk data.
 */
#ifndef STRATA_ENGINES_ENGINE_H
#define STRATA_ENGINES_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/slice.h"
#include "util/status.h"

/* When a write is durable before it is acknowledged (README, "Sync"). */
enum engine_sync {
    ENGINE_SYNC_ALWAYS,   /* fsync before ST_OK: nothing acknowledged lost */
    ENGINE_SYNC_INTERVAL, /* fsync within sync_interval_ms of a write */
    ENGINE_SYNC_NONE,     /* the OS writes back: survives a process crash */
};

struct engine_options {
    enum engine_sync sync;
    /* ENGINE_SYNC_INTERVAL: the longest a write waits for its fsync, and
     * so the most a power loss can take back (periodic_sync.h). */
    unsigned sync_interval_ms;
    /* file engine: roll the active log at this size (bytes). */
    uint64_t segment_bytes;
    /* file engine: merge closed segments when at least this share of
     * their bytes is dead (percent, 0-100) ... */
    unsigned merge_dead_pct;
    /* ... and at least this many bytes are dead. */
    uint64_t merge_min_dead_bytes;
    /* false: no background threads; work happens only in compact(). Tests
     * use it to place merges deterministically. */
    bool background;
    /* lsm engine: the memtable (and its WAL) is switched and flushed past
     * this many bytes, or past segment_bytes when that is smaller. */
    uint64_t memtable_bytes;
    /* lsm engine: the LRU cache of table blocks shared by all tables. */
    uint64_t block_cache_bytes;
};

/* The defaults of stratad; engines read only the fields they use. */
void engine_options_default(struct engine_options *opt);

/* Every engine's handle starts with this, so the store can reach ops. */
struct engine {
    const struct engine_ops *ops;
};

/* Called by scan() for each live pair in key order. Both slices borrow
 * and are valid only during the call. Return false to stop early. */
typedef bool (*engine_scan_fn)(void *arg, st_slice key, st_slice val);

/* Called by stats() once per figure, e.g. ("keys", 1000). 'name' is a
 * static lower_snake_case string. */
typedef void (*engine_stat_fn)(void *arg, const char *name, uint64_t value);

struct engine_ops {
    const char *name; /* "memory", "file": the --engine value */
    bool sorted;      /* scan() returns keys in order */
    bool persistent;  /* data survives close() and open() */

    /* Opens or creates the engine's files under 'dir' (which exists). On
     * ST_OK the caller owns *out and passes it to close() exactly once. */
    st_status (*open)(const char *dir, const struct engine_options *opt,
                      struct engine **out, struct st_error *err);

    /* Copies the value into 'val' (replacing its contents), which the
     * caller owns and may reuse across calls. ST_NOT_FOUND leaves 'val' as
     * it was. */
    st_status (*get)(struct engine *self, st_slice key, struct st_buf *val,
                     struct st_error *err);

    /* ST_OK means durable under the configured sync policy. Neither slice
     * is kept: the engine copies what it needs. */
    st_status (*set)(struct engine *self, st_slice key, st_slice val,
                     struct st_error *err);

    /* ST_NOT_FOUND when the key did not exist (nothing is written then). */
    st_status (*del)(struct engine *self, st_slice key, struct st_error *err);

    /* Calls fn for each live pair with start <= key < end, in key order
     * ('end' absent when !has_end). NULL on unordered engines. */
    st_status (*scan)(struct engine *self, st_slice start, st_slice end,
                      bool has_end, engine_scan_fn fn, void *arg,
                      struct st_error *err);

    /* Optional: runs the background work (merge, compaction) now and
     * waits for it. NULL when the engine has none. */
    st_status (*compact)(struct engine *self, struct st_error *err);

    /* Optional: reports the engine's figures through fn. */
    void (*stats)(struct engine *self, engine_stat_fn fn, void *arg);

    /* Flushes, releases files and memory. 'self' is gone afterwards, even
     * when the flush failed. close(NULL) does nothing. */
    st_status (*close)(struct engine *self, struct st_error *err);
};

/* The registry (registry.c): NULL when no engine has that name. */
const struct engine_ops *engine_find(const char *name);

/* The registered engines, NULL-terminated, in registry order. */
extern const struct engine_ops *const engine_registry[];

#endif
