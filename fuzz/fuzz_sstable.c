/*
 * Fuzz target: reading an SSTable (src/engines/lsm/sstable.h): the
 * fuzzed bytes are written as a table file, opened with lsm_table_open()
 * (footer, index, filter, properties), iterated, and every key it holds
 * is looked up with lsm_table_get(). Flag bit 0 of the first byte puts a
 * block cache under the table.
 *
 * Open, iteration and gets must return statuses, never crash. When the
 * table opens and iterates cleanly:
 *   - entries come in internal order, strictly (user key ascending, seq
 *     descending) and within the table's min and max user key;
 *   - the bloom filter says "may contain" for every key present (a false
 *     negative would be a lost key);
 *   - a get of each user key answers its newest version (the first in
 *     iteration order): same type, same value, or ST_CORRUPT.
 */
#include "fuzz_common.h"

#include "engines/lsm/block_cache.h"
#include "engines/lsm/sstable.h"

enum { MAX_ENTRIES = 2000 };

static char path[300];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(path, sizeof path, "%s/000005.sst", fuzz_scratch_dir());
    return 0;
}

struct entry {
    struct st_buf key, val;
    uint64_t seq;
    enum lsm_value_type type;
};

static size_t
collect(struct lsm_table *t, struct entry *e, st_status *status)
{
    struct lsm_iter *it = lsm_table_iter_create(t);
    FUZZ_SETUP(it != NULL);
    size_t n = 0;
    for (it->ops->seek_first(it); it->ops->valid(it) && n < MAX_ENTRIES;
         it->ops->next(it)) {
        e[n] = (struct entry){.seq = it->ops->seq(it),
                              .type = it->ops->type(it)};
        FUZZ_CHECK(e[n].type == LSM_TYPE_PUT || e[n].type == LSM_TYPE_DELETE);
        FUZZ_SETUP(st_buf_set(&e[n].key, it->ops->key(it)) &&
                   st_buf_set(&e[n].val, it->ops->value(it)));
        n++;
    }
    *status = it->ops->status(it, NULL);
    lsm_iter_destroy(it);
    return n;
}

static void
check_order(struct lsm_table *t, const struct entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        st_slice k = st_buf_slice(&e[i].key);
        FUZZ_CHECK(st_slice_compare(lsm_table_min_key(t), k) <= 0);
        FUZZ_CHECK(st_slice_compare(k, lsm_table_max_key(t)) <= 0);
        FUZZ_CHECK(lsm_table_may_contain(t, k));
        if (i > 0)
            FUZZ_CHECK(lsm_entry_compare(st_buf_slice(&e[i - 1].key),
                                         e[i - 1].seq, k, e[i].seq) < 0);
    }
}

static void
check_gets(struct lsm_table *t, const struct entry *e, size_t n)
{
    struct st_buf val = {0};
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && st_slice_equal(st_buf_slice(&e[i - 1].key),
                                    st_buf_slice(&e[i].key)))
            continue; /* an older version: the get answers the newest */
        enum lsm_value_type type;
        val.len = 0;
        st_status s =
            lsm_table_get(t, st_buf_slice(&e[i].key), &type, &val, NULL);
        FUZZ_CHECK(s == ST_OK || s == ST_CORRUPT || s == ST_IO);
        if (s != ST_OK)
            continue;
        FUZZ_CHECK(type == e[i].type);
        if (type == LSM_TYPE_PUT)
            FUZZ_CHECK(st_slice_equal(st_buf_slice(&val),
                                      st_buf_slice(&e[i].val)));
    }
    st_buf_free(&val);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    fuzz_write_file(path, data + 1, size - 1);
    struct lsm_block_cache *cache =
        data[0] & 1 ? lsm_block_cache_create(1 << 16) : NULL;
    struct lsm_table *t = NULL;
    st_status s = lsm_table_open(path, 5, cache, &t, NULL);
    FUZZ_CHECK(s == ST_OK || s == ST_CORRUPT || s == ST_NOMEM);
    if (s == ST_OK) {
        FUZZ_CHECK(lsm_table_file_bytes(t) == size - 1);
        struct entry *e = calloc(MAX_ENTRIES, sizeof *e);
        FUZZ_SETUP(e != NULL);
        st_status it_status;
        size_t n = collect(t, e, &it_status);
        FUZZ_CHECK(it_status == ST_OK || it_status == ST_CORRUPT);
        if (it_status == ST_OK) {
            check_order(t, e, n);
            check_gets(t, e, n);
        }
        for (size_t i = 0; i < n; i++) {
            st_buf_free(&e[i].key);
            st_buf_free(&e[i].val);
        }
        free(e);
        lsm_table_close(t);
    }
    lsm_block_cache_destroy(cache);
    unlink(path);
    return 0;
}
