/*
 * The store (see store.h): the one place where limits are enforced, so
 * every engine can assume keys and values of sane size, and where the
 * engine's directory is locked, so two workers never share a log.
 */
#include "store.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/io.h"

struct store {
    struct engine *engine;
    const struct engine_ops *ops;
    struct store_limits limits;
    int lock_fd;
    atomic_bool writable;
    /* Operation counters, for /stats; relaxed atomics are enough since
     * nobody orders other memory by them. */
    atomic_uint_fast64_t gets, get_misses, sets, deletes, scans, errors;
};

void
store_limits_default(struct store_limits *lim)
{
    lim->max_key_len = STORE_DEFAULT_MAX_KEY;
    lim->max_value_len = STORE_DEFAULT_MAX_VALUE;
}

static st_status
check_limits(const struct store_limits *lim, struct st_error *err)
{
    if (lim->max_key_len < 1 || lim->max_key_len > STORE_MAX_KEY_CEILING)
        return st_error_set(err, ST_INVALID, 0,
                            "max key length must be 1..%d bytes",
                            STORE_MAX_KEY_CEILING);
    if (lim->max_value_len > STORE_MAX_VALUE_CEILING)
        return st_error_set(err, ST_INVALID, 0,
                            "max value length must be at most %d bytes",
                            STORE_MAX_VALUE_CEILING);
    return ST_OK;
}

st_status
store_open(const char *engine_name, const char *data_dir,
           const struct engine_options *opt, const struct store_limits *lim,
           struct store **out, struct st_error *err)
{
    const struct engine_ops *ops = engine_find(engine_name);
    if (ops == NULL)
        return st_error_set(err, ST_INVALID, 0, "unknown engine '%s'",
                            engine_name);
    st_status s = check_limits(lim, err);
    if (s != ST_OK)
        return s;
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/%s", data_dir, engine_name) >=
        (int)sizeof dir)
        return st_error_set(err, ST_INVALID, 0, "data dir path too long");

    struct store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return st_error_set(err, ST_NOMEM, 0, "store: no memory");
    st->ops = ops;
    st->limits = *lim;
    st->lock_fd = -1;
    atomic_init(&st->writable, true);

    s = io_mkdir_p(dir, err);
    if (s == ST_OK)
        s = io_lock_dir(dir, &st->lock_fd, err);
    if (s == ST_OK)
        s = ops->open(dir, opt, &st->engine, err);
    if (s != ST_OK) {
        io_close(st->lock_fd, "LOCK", NULL);
        free(st);
        return s;
    }
    *out = st;
    return ST_OK;
}

st_status
store_close(struct store *st, struct st_error *err)
{
    if (st == NULL)
        return ST_OK;
    st_status s = st->ops->close(st->engine, err);
    /* Release the lock only after the engine has let go of its files. */
    io_close(st->lock_fd, "LOCK", NULL);
    free(st);
    return s;
}

static st_status
check_key(const struct store *st, st_slice key, struct st_error *err)
{
    if (key.len == 0)
        return st_error_set(err, ST_INVALID, 0, "empty key");
    if (key.len > st->limits.max_key_len)
        return st_error_set(err, ST_INVALID, 0,
                            "key too long: %zu bytes, limit %zu", key.len,
                            st->limits.max_key_len);
    return ST_OK;
}

/* Counts failures and notices the engine turning read-only. */
static st_status
note_result(struct store *st, st_status s)
{
    if (s != ST_OK && s != ST_NOT_FOUND && s != ST_INVALID)
        atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
    if (s == ST_READONLY)
        atomic_store(&st->writable, false);
    return s;
}

st_status
store_get(struct store *st, st_slice key, struct st_buf *val,
          struct st_error *err)
{
    st_status s = check_key(st, key, err);
    if (s != ST_OK)
        return s;
    atomic_fetch_add_explicit(&st->gets, 1, memory_order_relaxed);
    s = st->ops->get(st->engine, key, val, err);
    if (s == ST_NOT_FOUND)
        atomic_fetch_add_explicit(&st->get_misses, 1, memory_order_relaxed);
    return note_result(st, s);
}

st_status
store_set(struct store *st, st_slice key, st_slice val, struct st_error *err)
{
    st_status s = check_key(st, key, err);
    if (s != ST_OK)
        return s;
    if (val.len > st->limits.max_value_len)
        return st_error_set(err, ST_INVALID, 0,
                            "value too long: %zu bytes, limit %zu", val.len,
                            st->limits.max_value_len);
    atomic_fetch_add_explicit(&st->sets, 1, memory_order_relaxed);
    return note_result(st, st->ops->set(st->engine, key, val, err));
}

st_status
store_delete(struct store *st, st_slice key, struct st_error *err)
{
    st_status s = check_key(st, key, err);
    if (s != ST_OK)
        return s;
    atomic_fetch_add_explicit(&st->deletes, 1, memory_order_relaxed);
    return note_result(st, st->ops->del(st->engine, key, err));
}

st_status
store_scan(struct store *st, st_slice start, st_slice end, bool has_end,
           engine_scan_fn fn, void *arg, struct st_error *err)
{
    if (st->ops->scan == NULL)
        return st_error_set(err, ST_UNSUPPORTED, 0,
                            "engine '%s' keeps no key order: range scans "
                            "need a sorted engine",
                            st->ops->name);
    atomic_fetch_add_explicit(&st->scans, 1, memory_order_relaxed);
    return note_result(
        st, st->ops->scan(st->engine, start, end, has_end, fn, arg, err));
}

st_status
store_compact(struct store *st, struct st_error *err)
{
    if (st->ops->compact == NULL)
        return ST_OK;
    return note_result(st, st->ops->compact(st->engine, err));
}

void
store_stats(struct store *st, engine_stat_fn fn, void *arg)
{
    fn(arg, "gets", atomic_load(&st->gets));
    fn(arg, "get_misses", atomic_load(&st->get_misses));
    fn(arg, "sets", atomic_load(&st->sets));
    fn(arg, "deletes", atomic_load(&st->deletes));
    fn(arg, "scans", atomic_load(&st->scans));
    fn(arg, "errors", atomic_load(&st->errors));
    /* Process-wide, which with one store per worker is this store's. */
    fn(arg, "fsyncs", io_sync_calls());
    if (st->ops->stats != NULL)
        st->ops->stats(st->engine, fn, arg);
}

const char *
store_engine_name(const struct store *st)
{
    return st->ops->name;
}

bool
store_is_sorted(const struct store *st)
{
    return st->ops->sorted;
}

const struct store_limits *
store_get_limits(const struct store *st)
{
    return &st->limits;
}

bool
store_is_writable(const struct store *st)
{
    return atomic_load(&st->writable);
}
