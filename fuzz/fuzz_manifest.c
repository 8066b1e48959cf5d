/*
 * Fuzz target: manifest replay (src/engines/lsm/manifest.h): a directory
 * whose CURRENT names MANIFEST-000001, holding the fuzzed bytes, opened
 * with lsm_manifest_open().
 *
 * Input: flags:1 | bytes. Flag bit 0 prepends a valid file header and
 * rewrites each frame's CRC where the lengths fit, so the edit decoder
 * and the live-set checks behind the checksum are reached.
 *
 * Open must return a status, never crash. When it succeeds it has
 * written a fresh manifest holding a snapshot of the state; opening
 * again must give the same state (same tables with the same metadata,
 * log number and last seq; a next file number no smaller): the encoder
 * and the decoder agree on everything the decoder accepted.
 */
#include "fuzz_common.h"

#include "engines/lsm/log_record.h"
#include "engines/lsm/manifest.h"
#include "engines/lsm/manifest_format.h"
#include "util/coding.h"
#include "util/crc32c.h"

static char dir[300];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(dir, sizeof dir, "%s/lsm", fuzz_scratch_dir());
    return 0;
}

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

static int
by_number(const void *a, const void *b)
{
    const struct lsm_table_meta *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

static void
check_same_state(struct lsm_manifest_state *a, struct lsm_manifest_state *b)
{
    FUZZ_CHECK(a->count == b->count);
    FUZZ_CHECK(a->log_number == b->log_number);
    FUZZ_CHECK(a->last_seq == b->last_seq);
    FUZZ_CHECK(b->next_file >= a->next_file);
    qsort(a->tables, a->count, sizeof *a->tables, by_number);
    qsort(b->tables, b->count, sizeof *b->tables, by_number);
    for (size_t i = 0; i < a->count; i++) {
        const struct lsm_table_meta *x = &a->tables[i], *y = &b->tables[i];
        FUZZ_CHECK(x->number == y->number && x->level == y->level);
        FUZZ_CHECK(x->level >= 0 && x->level < LSM_LEVELS);
        FUZZ_CHECK(x->file_bytes == y->file_bytes && x->entries == y->entries);
        FUZZ_CHECK(x->min_seq == y->min_seq && x->max_seq == y->max_seq);
        FUZZ_CHECK(st_slice_equal(st_buf_slice(&x->min_key),
                                  st_buf_slice(&y->min_key)));
        FUZZ_CHECK(st_slice_equal(st_buf_slice(&x->max_key),
                                  st_buf_slice(&y->max_key)));
        FUZZ_CHECK(x->number < a->next_file);
    }
}

static void
write_dir(const uint8_t *data, size_t size, bool fix)
{
    char path[400];
    fuzz_empty_dir(dir);
    rmdir(dir);
    FUZZ_SETUP(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/" LSM_MANIFEST_CURRENT, dir);
    static const char current[] = LSM_MANIFEST_PREFIX "000001\n";
    fuzz_write_file(path, (const uint8_t *)current, sizeof current - 1);

    size_t len = size + (fix ? LSM_LOG_FILE_HEADER_LEN : 0);
    uint8_t *file = malloc(len + 1);
    FUZZ_SETUP(file != NULL);
    if (fix) {
        memcpy(file, LSM_MANIFEST_MAGIC, 4);
        memcpy(file + 4, "\x01\x00\x00\x00", 4);
        memcpy(file + LSM_LOG_FILE_HEADER_LEN, data, size);
        fix_crcs(file, len);
    } else {
        memcpy(file, data, size);
    }
    snprintf(path, sizeof path, "%s/" LSM_MANIFEST_PREFIX "000001", dir);
    fuzz_write_file(path, file, len);
    free(file);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    write_dir(data + 1, size - 1, data[0] & 1);

    struct lsm_manifest *m = NULL;
    struct lsm_manifest_state first, second;
    st_status s = lsm_manifest_open(dir, &m, &first, NULL);
    FUZZ_CHECK(s == ST_OK || s == ST_CORRUPT);
    if (s != ST_OK) {
        FUZZ_CHECK(m == NULL);
        return 0;
    }
    lsm_manifest_close(m);
    m = NULL;
    s = lsm_manifest_open(dir, &m, &second, NULL);
    FUZZ_CHECK(s == ST_OK);
    check_same_state(&first, &second);
    lsm_manifest_close(m);
    lsm_manifest_state_free(&first);
    lsm_manifest_state_free(&second);
    return 0;
}
