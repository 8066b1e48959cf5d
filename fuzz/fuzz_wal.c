/*
 * Fuzz target: the LSM engine's log framing and WAL replay
 * (src/engines/lsm/log_record.h, wal.h).
 *
 * Input: flags:1 | bytes.
 *   - In memory: lsm_log_frame_read() walks the bytes as frames; every
 *     frame it hands out lies inside the buffer, and sealing its payload
 *     again (lsm_log_frame_seal) gives the same bytes.
 *   - On disk: the bytes become a WAL file (flag bit 0 prepends a valid
 *     file header and rewrites each frame's CRC where the lengths fit, so
 *     the batch decoder behind the checksum is reached), and
 *     lsm_wal_replay() runs on it. It may cut a torn tail; then a second
 *     replay must succeed without cutting anything and deliver exactly the
 *     same entries: replay is idempotent, as a restart after a restart is.
 */
#include "fuzz_common.h"

#include "engines/lsm/log_record.h"
#include "engines/lsm/wal.h"
#include "engines/lsm/wal_format.h"
#include "util/coding.h"
#include "util/crc32c.h"

static char path[300];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(path, sizeof path, "%s/000001.wal", fuzz_scratch_dir());
    return 0;
}

static void
check_frames(const uint8_t *buf, size_t len)
{
    uint8_t *again = NULL;
    for (size_t off = 0;;) {
        st_slice payload;
        size_t flen = 0;
        enum lsm_log_read r = lsm_log_frame_read(
            buf, len, off, LSM_LOG_FRAME_WAL_BATCH, &payload, &flen);
        FUZZ_CHECK(r == LSM_LOG_FRAME || r == LSM_LOG_END ||
                   r == LSM_LOG_TORN || r == LSM_LOG_CORRUPT);
        if (r != LSM_LOG_FRAME)
            break;
        FUZZ_CHECK(flen == LSM_LOG_FRAME_HEADER_LEN + payload.len);
        FUZZ_CHECK(flen <= len - off);
        FUZZ_CHECK(payload.ptr == buf + off + LSM_LOG_FRAME_HEADER_LEN);
        again = realloc(again, flen);
        FUZZ_SETUP(again != NULL);
        memcpy(again + LSM_LOG_FRAME_HEADER_LEN, payload.ptr, payload.len);
        lsm_log_frame_seal(again, payload.len, LSM_LOG_FRAME_WAL_BATCH);
        FUZZ_CHECK(memcmp(again, buf + off, flen) == 0);
        off += flen;
    }
    free(again);
}

/* Rewrites the CRC of each frame after the file header. */
static void
fix_crcs(uint8_t *p, size_t len)
{
    size_t off = LSM_LOG_FILE_HEADER_LEN;
    while (off <= len && len - off >= LSM_LOG_FRAME_HEADER_LEN) {
        uint32_t plen = le32_read(p + off + 4);
        if (plen > len - off - LSM_LOG_FRAME_HEADER_LEN)
            return;
        size_t n = LSM_LOG_FRAME_HEADER_LEN + plen;
        le32_write(p + off, crc32c_mask(crc32c(p + off + 4, n - 4)));
        off += n;
    }
}

/* The entries of one replay, flattened: seq, type, key, value. */
struct record_log {
    struct st_buf bytes;
    uint64_t count;
};

static st_status
record_entry(void *arg, const struct lsm_wal_entry *e)
{
    struct record_log *l = arg;
    FUZZ_CHECK(e->type == LSM_TYPE_PUT || e->type == LSM_TYPE_DELETE);
    FUZZ_CHECK(e->type == LSM_TYPE_PUT || e->val.len == 0);
    FUZZ_CHECK(e->seq <= LSM_MAX_SEQ);
    uint64_t head[4] = {e->seq, e->type, e->key.len, e->val.len};
    FUZZ_SETUP(st_buf_append(&l->bytes, st_slice_make(head, sizeof head)) &&
               st_buf_append(&l->bytes, e->key) &&
               st_buf_append(&l->bytes, e->val));
    l->count++;
    return ST_OK;
}

static off_t
file_size(void)
{
    struct stat st;
    FUZZ_SETUP(stat(path, &st) == 0);
    return st.st_size;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    check_frames(data + 1, size - 1);

    bool fix = data[0] & 1;
    size_t len = size - 1 + (fix ? LSM_LOG_FILE_HEADER_LEN : 0);
    uint8_t *file = malloc(len + 1);
    FUZZ_SETUP(file != NULL);
    if (fix) {
        memcpy(file, LSM_WAL_MAGIC, 4);
        memcpy(file + 4, "\x01\x00\x00\x00", 4);
        memcpy(file + LSM_LOG_FILE_HEADER_LEN, data + 1, size - 1);
        fix_crcs(file, len);
    } else {
        memcpy(file, data + 1, size - 1);
    }
    fuzz_write_file(path, file, len);
    free(file);

    struct record_log first = {{0}, 0}, second = {{0}, 0};
    uint64_t n1 = 0, n2 = 0;
    st_status s = lsm_wal_replay(path, record_entry, &first, &n1, NULL);
    FUZZ_CHECK(s == ST_OK || s == ST_CORRUPT);
    FUZZ_CHECK(n1 == first.count);
    if (s == ST_OK) {
        off_t after = file_size();
        FUZZ_CHECK((size_t)after <= len);
        s = lsm_wal_replay(path, record_entry, &second, &n2, NULL);
        FUZZ_CHECK(s == ST_OK);
        FUZZ_CHECK(file_size() == after);
        FUZZ_CHECK(n2 == n1);
        FUZZ_CHECK(st_slice_equal(st_buf_slice(&first.bytes),
                                  st_buf_slice(&second.bytes)));
    }
    st_buf_free(&first.bytes);
    st_buf_free(&second.bytes);
    unlink(path);
    return 0;
}
