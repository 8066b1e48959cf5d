/*
 * Record framing for the LSM engine's logs (WAL and manifest), in one
 * place so both cut a torn tail and report corruption by the same rules.
 * DDIA 3.1 ("Crash recovery", "Partially written records"): checksums find
 * a record the crash cut short; docs/wal-format.md gives the bytes.
 *
 * Invariants:
 * - A frame is trusted only after its length was checked against the
 *   bytes really there and its CRC matched.
 * - A bad frame is a torn tail only when no valid frame starts at any
 *   later byte: a crash tears only the last write, so anything valid
 *   behind the damage means the damage is not a torn write.
 * - A writer that saw one failed write or fsync never writes again.
 */
#include "engines/lsm/log_record.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/coding.h"
#include "util/crc32c.h"
#include "util/io.h"
#include "util/log.h"

void
lsm_log_file_header_encode(const struct lsm_log_kind *kind, uint8_t *out)
{
    memcpy(out, kind->magic, 4);
    out[4] = (uint8_t)LSM_LOG_VERSION;
    out[5] = (uint8_t)(LSM_LOG_VERSION >> 8);
    out[6] = 0; /* reserved */
    out[7] = 0;
}

void
lsm_log_frame_seal(uint8_t *frame, size_t payload_len, uint8_t type)
{
    le32_write(frame + 4, (uint32_t)payload_len);
    frame[8] = type;
    uint32_t crc = crc32c(frame + 4, 5 + payload_len);
    le32_write(frame, crc32c_mask(crc));
}

/* True when a whole, valid frame of any known type starts at 'off'. The
 * cheap checks (type byte, length) come first: the torn-tail scan calls
 * this at every byte offset, and most offsets fail them. */
static bool
frame_valid_at(const uint8_t *buf, size_t len, size_t off, uint8_t *type,
               size_t *frame_len)
{
    if (len - off < LSM_LOG_FRAME_HEADER_LEN)
        return false;
    const uint8_t *p = buf + off;
    if (p[8] != LSM_LOG_FRAME_WAL_BATCH && p[8] != LSM_LOG_FRAME_MANIFEST_EDIT)
        return false;
    uint32_t plen = le32_read(p + 4);
    if (plen > LSM_LOG_MAX_PAYLOAD ||
        plen > len - off - LSM_LOG_FRAME_HEADER_LEN)
        return false;
    uint32_t want = crc32c_unmask(le32_read(p));
    if (crc32c(p + 4, 5 + (size_t)plen) != want)
        return false;
    *type = p[8];
    *frame_len = LSM_LOG_FRAME_HEADER_LEN + (size_t)plen;
    return true;
}

enum lsm_log_read
lsm_log_frame_read(const uint8_t *buf, size_t len, size_t off, uint8_t type,
                   st_slice *payload, size_t *frame_len)
{
    if (off >= len)
        return LSM_LOG_END;
    uint8_t got;
    size_t flen;
    if (frame_valid_at(buf, len, off, &got, &flen)) {
        if (got != type)
            return LSM_LOG_CORRUPT;
        *payload = st_slice_make(buf + off + LSM_LOG_FRAME_HEADER_LEN,
                                 flen - LSM_LOG_FRAME_HEADER_LEN);
        *frame_len = flen;
        return LSM_LOG_FRAME;
    }
    for (size_t y = off + 1; y < len; y++)
        if (frame_valid_at(buf, len, y, &got, &flen))
            return LSM_LOG_CORRUPT;
    return LSM_LOG_TORN;
}

bool
lsm_log_dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    const char *dir = slash == NULL ? "." : path;
    size_t n = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (n + 1 > cap)
        return false;
    memcpy(out, dir, n);
    out[n] = '\0';
    return true;
}

/* --- replay --- */

/* Reads the whole file: a WAL is bounded by the memtable size and a
 * manifest by its roll size, so one buffer is simpler than a window. */
static st_status
read_whole(int fd, const char *path, uint8_t **out, size_t *len,
           struct st_error *err)
{
    uint64_t size;
    st_status s = io_file_size(fd, &size, path, err);
    if (s != ST_OK)
        return s;
    if (size > SIZE_MAX - 1)
        return st_error_set(err, ST_NOMEM, 0, "%s too large to replay", path);
    uint8_t *buf = malloc(size ? (size_t)size : 1);
    if (buf == NULL)
        return st_error_set(err, ST_NOMEM, ENOMEM, "replay %s", path);
    size_t got = 0;
    s = io_pread(fd, buf, (size_t)size, 0, &got, path, err);
    if (s != ST_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    *len = got; /* a concurrent shrink cannot happen: we hold the dir lock */
    return ST_OK;
}

/* Cuts the file at 'off' and makes the cut durable before anything new
 * is appended, so the torn bytes can never reappear behind new records. */
static st_status
cut_tail(int fd, const char *path, const struct lsm_log_kind *kind,
         uint64_t off, size_t size, struct st_error *err)
{
    log_warn("%s: cut torn tail file=%s off=%" PRIu64
             " dropped_bytes=%" PRIu64,
             kind->name, path, off, (uint64_t)size - off);
    st_status s = io_ftruncate(fd, off, path, err);
    if (s == ST_OK)
        s = io_fsync(fd, path, err);
    return s;
}

/* Checks the file header. *cut_all is set when the file is an unfinished
 * create: no longer than the header and not a valid one. The create
 * writes the header and fsyncs it before any frame exists, so a power
 * cut inside it can leave the name and the size with junk bytes; a file
 * holding frames after its header has no such excuse. */
static st_status
check_header(const uint8_t *buf, size_t len, const char *path,
             const struct lsm_log_kind *kind, bool *cut_all,
             struct st_error *err)
{
    uint8_t want[LSM_LOG_FILE_HEADER_LEN];
    lsm_log_file_header_encode(kind, want);
    *cut_all = false;
    bool whole = len >= LSM_LOG_FILE_HEADER_LEN &&
                 memcmp(buf, want, LSM_LOG_FILE_HEADER_LEN) == 0;
    if (whole)
        return ST_OK;
    if (len <= LSM_LOG_FILE_HEADER_LEN && kind->cut_short_header) {
        *cut_all = true;
        return ST_OK;
    }
    if (len < LSM_LOG_FILE_HEADER_LEN)
        return st_error_set(err, ST_CORRUPT, 0,
                            "%s: %s is %zu bytes, shorter than its header",
                            kind->name, path, len);
    if (memcmp(buf, want, 4) != 0)
        return st_error_set(err, ST_CORRUPT, 0, "%s: %s: bad magic", kind->name,
                            path);
    return st_error_set(err, ST_CORRUPT, 0,
                        "%s: %s: unknown version %u (reserved %u)", kind->name,
                        path, (unsigned)(buf[4] | buf[5] << 8),
                        (unsigned)(buf[6] | buf[7] << 8));
}

/* Hands every frame of buf to fn; cuts or reports what follows them. */
static st_status
replay_frames(int fd, const char *path, const struct lsm_log_kind *kind,
              const uint8_t *buf, size_t len, lsm_log_payload_fn fn, void *arg,
              uint64_t *frames, struct st_error *err)
{
    size_t off = LSM_LOG_FILE_HEADER_LEN;
    for (;;) {
        st_slice payload;
        size_t flen;
        switch (lsm_log_frame_read(buf, len, off, kind->frame_type, &payload,
                                   &flen)) {
        case LSM_LOG_FRAME: {
            st_status s = fn(arg, payload, path, off, err);
            if (s != ST_OK)
                return s;
            (*frames)++;
            off += flen;
            break;
        }
        case LSM_LOG_END:
            return ST_OK;
        case LSM_LOG_TORN:
            return cut_tail(fd, path, kind, off, len, err);
        case LSM_LOG_CORRUPT:
            return st_error_set(err, ST_CORRUPT, 0,
                                "%s: corrupt frame in %s at offset %zu (bad "
                                "checksum, length or type, with valid data "
                                "after it)",
                                kind->name, path, off);
        }
    }
}

st_status
lsm_log_replay(const char *path, const struct lsm_log_kind *kind,
               lsm_log_payload_fn fn, void *arg, uint64_t *frames,
               struct st_error *err)
{
    uint64_t count = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    int fd = -1;
    st_status s = io_open(path, O_RDWR, 0, &fd, err);
    if (s == ST_OK)
        s = read_whole(fd, path, &buf, &len, err);
    bool cut_all = false;
    if (s == ST_OK)
        s = check_header(buf, len, path, kind, &cut_all, err);
    if (s == ST_OK && cut_all && len > 0)
        s = cut_tail(fd, path, kind, 0, len, err);
    else if (s == ST_OK && !cut_all)
        s = replay_frames(fd, path, kind, buf, len, fn, arg, &count, err);
    free(buf);
    st_status c = io_close(fd, path, s == ST_OK ? err : NULL);
    if (s == ST_OK)
        s = c;
    if (frames != NULL)
        *frames = count;
    return s;
}

/* --- writing --- */

/* Remembers the first failure; every later write is refused with it. */
static st_status
writer_fail(struct lsm_log_writer *w, st_status s, const struct st_error *e,
            struct st_error *err)
{
    w->failed = true;
    w->failure = *e;
    if (err != NULL)
        *err = *e;
    return s;
}

static st_status
writer_refuse(const struct lsm_log_writer *w, struct st_error *err)
{
    return st_error_set(err, ST_READONLY, 0,
                        "%s: refusing writes after an earlier failure (%s)",
                        w->path, w->failure.msg);
}

st_status
lsm_log_writer_create(struct lsm_log_writer *w, const char *path,
                      const struct lsm_log_kind *kind, struct st_error *err)
{
    char dir[PATH_MAX];
    *w = (struct lsm_log_writer){.fd = -1};
    if (!lsm_log_dir_of(path, dir, sizeof dir))
        return st_error_set(err, ST_INVALID, 0, "path too long: %s", path);
    w->path = strdup(path);
    if (w->path == NULL)
        return st_error_set(err, ST_NOMEM, ENOMEM, "create %s", path);
    uint8_t header[LSM_LOG_FILE_HEADER_LEN];
    lsm_log_file_header_encode(kind, header);
    st_status s = io_open(path, O_WRONLY | O_CREAT | O_EXCL, 0644, &w->fd, err);
    if (s != ST_OK)
        goto fail_open;
    /* The header and the name are durable before any frame is
     * acknowledged, so replay never meets a named, headerless file
     * except after a crash inside this function. */
    s = io_write_all(w->fd, header, sizeof header, path, err);
    if (s == ST_OK)
        s = io_fsync(w->fd, path, err);
    if (s == ST_OK)
        s = io_fsync_dir(dir, err);
    if (s != ST_OK)
        goto fail;
    w->bytes = sizeof header;
    return ST_OK;
fail:
    io_close(w->fd, path, NULL);
    io_unlink(path, NULL);
fail_open:
    free(w->path);
    *w = (struct lsm_log_writer){.fd = -1};
    return s;
}

st_status
lsm_log_writer_append(struct lsm_log_writer *w, uint8_t *frame,
                      size_t payload_len, uint8_t type, bool sync,
                      struct st_error *err)
{
    if (w->failed)
        return writer_refuse(w, err);
    if (payload_len > LSM_LOG_MAX_PAYLOAD)
        return st_error_set(err, ST_INVALID, 0,
                            "%s: record of %zu bytes exceeds the %d limit",
                            w->path, payload_len, LSM_LOG_MAX_PAYLOAD);
    lsm_log_frame_seal(frame, payload_len, type);
    size_t n = LSM_LOG_FRAME_HEADER_LEN + payload_len;
    struct st_error e = {0};
    /* One write call per frame: a crash tears at most this frame. */
    st_status s = io_write_all(w->fd, frame, n, w->path, &e);
    if (s != ST_OK)
        return writer_fail(w, s, &e, err);
    w->bytes += n;
    return sync ? lsm_log_writer_sync(w, err) : ST_OK;
}

st_status
lsm_log_writer_sync(struct lsm_log_writer *w, struct st_error *err)
{
    if (w->failed)
        return writer_refuse(w, err);
    struct st_error e = {0};
    st_status s = io_fsync(w->fd, w->path, &e);
    if (s != ST_OK)
        return writer_fail(w, s, &e, err);
    return ST_OK;
}

st_status
lsm_log_writer_deinit(struct lsm_log_writer *w, struct st_error *err)
{
    st_status s = io_close(w->fd, w->path ? w->path : "log", err);
    free(w->path);
    w->path = NULL;
    w->fd = -1;
    return s;
}
