/*
 * The LSM engine's write-ahead log (DDIA 3.1, "Making an LSM-tree out of
 * SSTables"): every write is appended here before it enters the
 * memtable, so a crash loses nothing acknowledged. Bytes:
 * docs/wal-format.md; framing, torn-tail cutting and the read-only rule
 * after a failed write or fsync: engines/lsm/log_record.c.
 *
 * Invariants:
 * - One lsm_wal_append is one frame, written with one write call, so a
 *   batch replays all or nothing.
 * - Replay decodes a whole batch before handing out its first entry: a
 *   batch that does not decode is reported, never half applied.
 */
#include "engines/lsm/wal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engines/lsm/log_record.h"
#include "engines/lsm/wal_format.h"
#include "util/coding.h"

struct lsm_wal {
    struct lsm_log_writer log;
    struct st_buf frame; /* reused encode buffer: frame header + batch */
};

/* A buffer that grew for one big batch is not kept forever. */
enum { WAL_KEEP_BUF_BYTES = 1 << 20 };

static const struct lsm_log_kind wal_kind = {
    .name = "wal",
    .magic = LSM_WAL_MAGIC,
    .frame_type = LSM_LOG_FRAME_WAL_BATCH,
    .cut_short_header = true, /* a create that crashed before its fsync */
};

static size_t
varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

st_status
lsm_wal_create(const char *path, struct lsm_wal **out, struct st_error *err)
{
    struct lsm_wal *w = calloc(1, sizeof *w);
    if (w == NULL)
        return st_error_set(err, ST_NOMEM, ENOMEM, "create %s", path);
    st_status s = lsm_log_writer_create(&w->log, path, &wal_kind, err);
    if (s != ST_OK) {
        free(w);
        return s;
    }
    *out = w;
    return ST_OK;
}

/* Checks one entry and adds its encoded size to *total, refusing before
 * the sum can pass the frame limit (so it cannot overflow either). */
static st_status
measure_entry(const struct lsm_wal_entry *e, size_t *total,
              struct st_error *err)
{
    if (e->type != LSM_TYPE_PUT && e->type != LSM_TYPE_DELETE)
        return st_error_set(err, ST_INVALID, 0, "wal: bad entry type %d",
                            (int)e->type);
    if (e->seq > LSM_MAX_SEQ)
        return st_error_set(err, ST_INVALID, 0,
                            "wal: seq %" PRIu64 " above 2^56-1", e->seq);
    if (e->type == LSM_TYPE_DELETE && e->val.len != 0)
        return st_error_set(err, ST_INVALID, 0, "wal: delete with a value");
    size_t room = LSM_LOG_MAX_PAYLOAD - *total;
    if (e->key.len > room || e->val.len > room - e->key.len)
        return st_error_set(err, ST_INVALID, 0,
                            "wal: batch larger than %d bytes",
                            LSM_LOG_MAX_PAYLOAD);
    size_t n = 1 + varint_len(e->seq) + varint_len(e->key.len) + e->key.len +
               varint_len(e->val.len) + e->val.len;
    if (n > room)
        return st_error_set(err, ST_INVALID, 0,
                            "wal: batch larger than %d bytes",
                            LSM_LOG_MAX_PAYLOAD);
    *total += n;
    return ST_OK;
}

static uint8_t *
encode_entry(uint8_t *p, const struct lsm_wal_entry *e)
{
    *p++ = e->type == LSM_TYPE_PUT ? LSM_WAL_KIND_PUT : LSM_WAL_KIND_DELETE;
    p += varint64_write(p, e->seq);
    p += varint64_write(p, e->key.len);
    if (e->key.len)
        memcpy(p, e->key.ptr, e->key.len);
    p += e->key.len;
    p += varint64_write(p, e->val.len);
    if (e->val.len)
        memcpy(p, e->val.ptr, e->val.len);
    return p + e->val.len;
}

/* Encodes the batch after LSM_LOG_FRAME_HEADER_LEN bytes of room for the
 * frame header; *payload_len is the batch's size. */
static st_status
encode_batch(struct lsm_wal *w, const struct lsm_wal_entry *e, size_t count,
             size_t *payload_len, struct st_error *err)
{
    if (count == 0)
        return st_error_set(err, ST_INVALID, 0, "wal: empty batch");
    size_t total = varint_len(count);
    for (size_t i = 0; i < count; i++) {
        st_status s = measure_entry(&e[i], &total, err);
        if (s != ST_OK)
            return s;
    }
    w->frame.len = 0;
    if (!st_buf_reserve(&w->frame, LSM_LOG_FRAME_HEADER_LEN + total))
        return st_error_set(err, ST_NOMEM, ENOMEM, "wal: batch of %zu bytes",
                            total);
    uint8_t *p = w->frame.ptr + LSM_LOG_FRAME_HEADER_LEN;
    p += varint64_write(p, count);
    for (size_t i = 0; i < count; i++)
        p = encode_entry(p, &e[i]);
    *payload_len = total;
    return ST_OK;
}

st_status
lsm_wal_append(struct lsm_wal *w, const struct lsm_wal_entry *e, size_t count,
               bool sync, struct st_error *err)
{
    if (w->log.failed)
        return lsm_log_writer_sync(&w->log, err); /* ST_READONLY, why */
    size_t payload_len = 0;
    st_status s = encode_batch(w, e, count, &payload_len, err);
    if (s != ST_OK)
        return s;
    s = lsm_log_writer_append(&w->log, w->frame.ptr, payload_len,
                              LSM_LOG_FRAME_WAL_BATCH, sync, err);
    if (w->frame.cap > WAL_KEEP_BUF_BYTES)
        st_buf_free(&w->frame);
    return s;
}

st_status
lsm_wal_sync(struct lsm_wal *w, struct st_error *err)
{
    return lsm_log_writer_sync(&w->log, err);
}

uint64_t
lsm_wal_bytes(const struct lsm_wal *w)
{
    return w->log.bytes;
}

st_status
lsm_wal_close(struct lsm_wal *w, bool sync, struct st_error *err)
{
    if (w == NULL)
        return ST_OK;
    st_status s = sync ? lsm_log_writer_sync(&w->log, err) : ST_OK;
    st_status c = lsm_log_writer_deinit(&w->log, s == ST_OK ? err : NULL);
    st_buf_free(&w->frame);
    free(w);
    return s != ST_OK ? s : c;
}

/* --- replay --- */

/* Decodes the entry at [p, end) into *e (slices borrow from p). Returns
 * the bytes used, or 0 when the bytes are not an entry. */
static size_t
decode_entry(const uint8_t *p, const uint8_t *end, struct lsm_wal_entry *e)
{
    const uint8_t *start = p;
    uint64_t seq, klen, vlen;
    size_t n;
    if (p == end || (*p != LSM_WAL_KIND_PUT && *p != LSM_WAL_KIND_DELETE))
        return 0;
    e->type = *p++ == LSM_WAL_KIND_PUT ? LSM_TYPE_PUT : LSM_TYPE_DELETE;
    if ((n = varint64_read(p, (size_t)(end - p), &seq)) == 0 ||
        seq > LSM_MAX_SEQ)
        return 0;
    p += n;
    if ((n = varint64_read(p, (size_t)(end - p), &klen)) == 0 ||
        klen > (uint64_t)(end - p - (ptrdiff_t)n))
        return 0;
    p += n;
    e->key = st_slice_make(p, (size_t)klen);
    p += klen;
    if ((n = varint64_read(p, (size_t)(end - p), &vlen)) == 0 ||
        vlen > (uint64_t)(end - p - (ptrdiff_t)n))
        return 0;
    p += n;
    if (e->type == LSM_TYPE_DELETE && vlen != 0)
        return 0;
    e->val = st_slice_make(p, (size_t)vlen);
    e->seq = seq;
    return (size_t)(p + vlen - start);
}

/* Walks the batch; hands entries to fn only when 'deliver'. The first
 * walk checks every byte, the second delivers: all or nothing. */
static st_status
walk_batch(st_slice payload, bool deliver, lsm_wal_replay_fn fn, void *arg,
           uint64_t *delivered)
{
    const uint8_t *p = payload.ptr, *end = payload.ptr + payload.len;
    uint64_t count;
    size_t n = varint64_read(p, payload.len, &count);
    if (n == 0 || count == 0 ||
        count > (payload.len - n) / LSM_WAL_MIN_ENTRY_LEN)
        return ST_CORRUPT;
    p += n;
    for (uint64_t i = 0; i < count; i++) {
        struct lsm_wal_entry e;
        if ((n = decode_entry(p, end, &e)) == 0)
            return ST_CORRUPT;
        p += n;
        if (deliver) {
            st_status s = fn(arg, &e);
            if (s != ST_OK)
                return s;
            (*delivered)++;
        }
    }
    return p == end ? ST_OK : ST_CORRUPT;
}

struct replay_ctx {
    lsm_wal_replay_fn fn;
    void *arg;
    uint64_t delivered;
};

static st_status
replay_batch(void *arg, st_slice payload, const char *path, uint64_t off,
             struct st_error *err)
{
    struct replay_ctx *ctx = arg;
    if (walk_batch(payload, false, NULL, NULL, NULL) != ST_OK)
        return st_error_set(err, ST_CORRUPT, 0,
                            "wal: undecodable batch in %s at offset %" PRIu64,
                            path, off);
    st_status s = walk_batch(payload, true, ctx->fn, ctx->arg, &ctx->delivered);
    if (s != ST_OK)
        return st_error_set(err, s, 0,
                            "wal: replay of %s stopped at offset %" PRIu64
                            " by the caller (%s)",
                            path, off, st_status_str(s));
    return ST_OK;
}

st_status
lsm_wal_replay(const char *path, lsm_wal_replay_fn fn, void *arg,
               uint64_t *records, struct st_error *err)
{
    struct replay_ctx ctx = {.fn = fn, .arg = arg};
    st_status s =
        lsm_log_replay(path, &wal_kind, replay_batch, &ctx, NULL, err);
    if (records != NULL)
        *records = ctx.delivered;
    return s;
}
