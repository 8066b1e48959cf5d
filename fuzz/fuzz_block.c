/*
 * Fuzz target: SSTable blocks (src/engines/lsm/block.h): the trailer
 * check, the restart-array decoder and the block iterator.
 *
 * Input: flags:1 | bytes. Flag bit 0 treats the bytes as block contents
 * and appends a valid trailer (so the decoder behind the checksum is
 * reached); otherwise they are a block as read from disk, trailer
 * included.
 *
 * Checks: every entry the iterator yields borrows from the block and has
 * an internal key (>= 8 bytes); a damaged entry stops it with
 * ST_CORRUPT, never a crash. When the entries come out strictly sorted,
 * a seek to each key lands on that entry with its value or reports
 * ST_CORRUPT (when every restart offset is an entry's start; otherwise
 * only no crash), and a seek
 * past the last key is the end: a wrong answer from the binary search
 * over restarts fails here.
 */
#include "fuzz_common.h"

#include "engines/lsm/block.h"
#include "engines/lsm/sstable_format.h"

enum { MAX_ENTRIES = 512 };

struct entry {
    struct st_buf key;
    st_slice val;
    size_t off; /* where the entry starts in the block */
};

/* Every restart offset is the start of an entry the forward walk met.
 * Otherwise the block is damaged in a way only a checksum can see (a
 * restart into the middle of an entry can parse as a different entry), so
 * a seek may answer ST_CORRUPT, the end, or an entry the walk did not
 * see. */
static bool
restarts_on_entries(const struct lsm_block *b, const struct entry *e, size_t n)
{
    for (uint32_t i = 0; i < b->restarts; i++) {
        const uint8_t *p = b->data + b->entries_len + 4 * (size_t)i;
        size_t off = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
                     (size_t)p[3] << 24;
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = e[j].off == off;
        if (!found)
            return false;
    }
    return true;
}

static size_t
collect(const struct lsm_block *b, struct entry *out, bool *sorted)
{
    struct lsm_block_iter it;
    lsm_block_iter_init(&it, b);
    size_t n = 0;
    *sorted = true;
    for (lsm_block_iter_seek_first(&it); lsm_block_iter_valid(&it) &&
                                         n < MAX_ENTRIES;
         lsm_block_iter_next(&it)) {
        st_slice k = lsm_block_iter_key(&it);
        FUZZ_CHECK(k.len >= LSM_IKEY_TRAILER_LEN);
        FUZZ_CHECK(it.value.len == 0 ||
                   (it.value.ptr >= b->data &&
                    it.value.ptr + it.value.len <= b->data + b->entries_len));
        out[n].key = (struct st_buf){0};
        FUZZ_SETUP(st_buf_set(&out[n].key, k));
        out[n].val = it.value;
        out[n].off = it.off;
        if (n > 0 && lsm_ikey_compare(st_buf_slice(&out[n - 1].key), k) >= 0)
            *sorted = false;
        n++;
    }
    FUZZ_CHECK(it.status == ST_OK || it.status == ST_CORRUPT);
    if (it.status == ST_CORRUPT)
        FUZZ_CHECK(it.why != NULL);
    if (it.status != ST_OK)
        *sorted = false; /* the seeks could meet the damage */
    lsm_block_iter_deinit(&it);
    return n;
}

static void
check_seeks(const struct lsm_block *b, const struct entry *e, size_t n)
{
    struct lsm_block_iter it;
    lsm_block_iter_init(&it, b);
    bool exact = restarts_on_entries(b, e, n);
    for (size_t i = 0; i < n; i++) {
        lsm_block_iter_seek(&it, st_buf_slice(&e[i].key));
        if (!exact)
            continue; /* any answer but a crash: see restarts_on_entries */
        if (it.status == ST_CORRUPT)
            continue; /* a restart entry that shares a prefix: detected */
        FUZZ_CHECK(lsm_block_iter_valid(&it));
        FUZZ_CHECK(st_slice_equal(lsm_block_iter_key(&it),
                                  st_buf_slice(&e[i].key)));
        FUZZ_CHECK(st_slice_equal(it.value, e[i].val));
    }
    if (n > 0 && exact) {
        /* The last user key with seq 0 sorts after all its versions. */
        struct st_buf past = {0};
        st_slice last = st_buf_slice(&e[n - 1].key);
        FUZZ_SETUP(st_buf_set(&past, last));
        memset(past.ptr + past.len - LSM_IKEY_TRAILER_LEN, 0,
               LSM_IKEY_TRAILER_LEN);
        if (lsm_ikey_compare(st_buf_slice(&past), last) > 0) {
            lsm_block_iter_seek(&it, st_buf_slice(&past));
            FUZZ_CHECK(!lsm_block_iter_valid(&it));
        }
        st_buf_free(&past);
    }
    lsm_block_iter_deinit(&it);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct st_buf raw = {0};
    FUZZ_SETUP(st_buf_set(&raw, st_slice_make(data + 1, size - 1)));
    if (data[0] & 1)
        FUZZ_SETUP(lsm_block_trailer_append(&raw) == ST_OK);

    st_slice contents;
    const char *why = NULL;
    struct lsm_block b;
    if (lsm_block_trailer_check(st_buf_slice(&raw), &contents, &why) == ST_OK &&
        lsm_block_decode(contents, &b, &why) == ST_OK) {
        FUZZ_CHECK(b.data == raw.ptr && b.entries_len <= contents.len);
        struct entry *e = calloc(MAX_ENTRIES, sizeof *e);
        FUZZ_SETUP(e != NULL);
        bool sorted;
        size_t n = collect(&b, e, &sorted);
        if (sorted)
            check_seeks(&b, e, n);
        for (size_t i = 0; i < n; i++)
            st_buf_free(&e[i].key);
        free(e);
    } else {
        FUZZ_CHECK(why != NULL);
    }
    st_buf_free(&raw);
    return 0;
}
