/*
 * The store: the engine-agnostic middle layer between the HTTP side and
 * the engines. It owns the engine's directory (DATA_DIR/<engine>/ and its
 * lock), enforces the documented limits on keys and values, counts
 * operations, and delegates everything else to the engine's vtable.
 *
 * Threads: every function except store_open and store_close may be called
 * from any number of threads at once.
 */
#ifndef STRATA_STORE_H
#define STRATA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/engine.h"
#include "util/slice.h"
#include "util/status.h"

struct store_limits {
    size_t max_key_len;   /* bytes; default 1024 */
    size_t max_value_len; /* bytes; default 1 MiB */
};

enum {
    STORE_DEFAULT_MAX_KEY = 1024,
    STORE_DEFAULT_MAX_VALUE = 1 << 20,
    /* Hard ceilings for the configurable limits: a key must fit in the
     * request line nginx accepts (percent-encoded, 3 bytes per byte, in
     * its 8 KiB large_client_header_buffers), and on-disk formats hold
     * lengths in 32 bits. */
    STORE_MAX_KEY_CEILING = 2048,
    STORE_MAX_VALUE_CEILING = 64 << 20,
};

void store_limits_default(struct store_limits *lim);

struct store;

/* Opens engine 'engine_name' on DATA_DIR/<engine_name>/ (created when
 * missing), after taking that directory's lock: ST_BUSY when another
 * process holds it. On ST_OK the caller owns *out; free with
 * store_close(). */
st_status store_open(const char *engine_name, const char *data_dir,
                     const struct engine_options *opt,
                     const struct store_limits *lim, struct store **out,
                     struct st_error *err);

/* Flushes and closes the engine, releases the lock. 'st' is gone
 * afterwards even on error. store_close(NULL) does nothing. */
st_status store_close(struct store *st, struct st_error *err);

/* ST_INVALID for an empty key or one over the limit. The value is copied
 * into 'val', which the caller owns. */
st_status store_get(struct store *st, st_slice key, struct st_buf *val,
                    struct st_error *err);

/* ST_INVALID (with a message saying which limit) for an empty or too long
 * key or too long value; nothing is written then. */
st_status store_set(struct store *st, st_slice key, st_slice val,
                    struct st_error *err);

/* ST_NOT_FOUND when the key did not exist. */
st_status store_delete(struct store *st, st_slice key, struct st_error *err);

/* Ordered scan of start <= key < end (see engine_ops.scan).
 * ST_UNSUPPORTED on an unordered engine. */
st_status store_scan(struct store *st, st_slice start, st_slice end,
                     bool has_end, engine_scan_fn fn, void *arg,
                     struct st_error *err);

/* Runs the engine's background work now (tests, admin). */
st_status store_compact(struct store *st, struct st_error *err);

/* Reports the store's counters (gets, sets, deletes, errors ..., and the
 * process's fsync calls as "fsyncs") and then the engine's figures
 * through fn. */
void store_stats(struct store *st, engine_stat_fn fn, void *arg);

const char *store_engine_name(const struct store *st);
bool store_is_sorted(const struct store *st);
const struct store_limits *store_get_limits(const struct store *st);

/* false once the engine refused writes after a storage error
 * (ST_READONLY): /health answers 503 then. */
bool store_is_writable(const struct store *st);

#endif
