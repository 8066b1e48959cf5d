/*
 * Writes the seed corpora of fuzz/corpus/<target>/ from real inputs:
 * request bodies and URIs as clients send them, and files written by the
 * engines themselves (a file-engine segment and a merged segment with its
 * hint, a WAL, a manifest, a block and an SSTable). Each seed starts with
 * the flag byte its target reads (see the target's header comment); 0
 * means "the bytes as they are on disk".
 *
 * Run by `fuzz/run.sh --make-seeds`; the output is committed, so rerun it
 * only when a format changes. Deterministic: the same build writes the
 * same bytes.
 */
#include "fuzz_common.h"

#include "engines/engine.h"
#include "engines/file/file_engine.h"
#include "engines/lsm/block.h"
#include "engines/lsm/manifest.h"
#include "engines/lsm/sstable.h"
#include "engines/lsm/wal.h"

static const char *out_root;

static void
seed(const char *target, const char *name, uint8_t flags, const void *data,
     size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_root, target);
    FUZZ_SETUP(mkdir(path, 0755) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/%s/%s", out_root, target, name);
    uint8_t *buf = malloc(len + 1);
    FUZZ_SETUP(buf != NULL);
    buf[0] = flags;
    if (len)
        memcpy(buf + 1, data, len);
    fuzz_write_file(path, buf, len + 1);
    free(buf);
}

static void
seed_text(const char *target, const char *name, uint8_t flags,
          const char *text)
{
    seed(target, name, flags, text, strlen(text));
}

/* The whole file 'dir/name', which must exist. */
static uint8_t *
must_read(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *p = fuzz_read_file(path, len);
    if (p == NULL) {
        fprintf(stderr, "make_seeds: %s is missing\n", path);
        exit(1);
    }
    return p;
}

static void
http_seeds(void)
{
    /* api: method byte (0 GET, 1 POST, 2 DELETE, 3 HEAD), URI up to '\n',
     * body up to 0xff; several requests per seed. */
    static const char set_get[] = "\x01/set/user%3A42\n{\"value\":\"Ada\"}\xff"
                                  "\x00/get/user%3A42\n\xff"
                                  "\x02/delete/user%3A42\n\xff"
                                  "\x00/get/user%3A42\n";
    seed("api", "set-get-delete", 1, set_get + 1, sizeof set_get - 2);
    static const char misc[] = "\x00/health\n\xff\x00/stats\n\xff"
                               "\x00/range?start=a&end=z&limit=10\n\xff"
                               "\x04/set/k\n{}\xff\x03/get/k\n\xff"
                               "\x00/nope\n";
    seed("api", "health-stats-range", 0, misc + 1, sizeof misc - 2);
    static const char bad[] =
        "\x01/set/%zz\n{\"value\":\"x\"}\xff\x01/set/a%2Fb\n{\"value\":"
        "\"\\u00e9\\u0000\\ud83d\\ude00\"}\xff\x00/get/a%2Fb\n\xff"
        "\x01/set/..\n{\"value\":1}\xff\x01/set/k\n{\"value\":\"a\","
        "\"value\":\"b\"}";
    seed("api", "bad-keys-bodies", 1, bad + 1, sizeof bad - 2);

    seed_text("json", "plain", 0, "{\"value\":\"hello\"}");
    seed_text("json", "escapes", 0,
              "{ \"value\" : \"tab\\t nl\\n q\\\" bs\\\\ \\u0000 \\u00e9 "
              "\\ud83d\\ude00 \\/\" }\n");
    seed_text("json", "utf8", 0, "{\"value\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f"
                                 "\x98\x80\"}");
    seed_text("json", "dup", 0, "{\"value\":\"a\",\"value\":\"b\"}");
    seed_text("json", "surrogate", 0, "{\"value\":\"\\ud800\"}");
    seed_text("json", "nested", 0, "{\"value\":[1,{\"a\":null}],\"x\":true}");

    seed_text("uri", "key", 0, "/get/user%3A42");
    seed_text("uri", "range", 0, "/range?start=a%20b&end=z&limit=100");
    seed_text("uri", "repeat", 1, "/range?end=a&end=b&&start");
    seed_text("uri", "bad", 2, "/set/%4%zz+%41?limit=%");
}

/* A file engine directory: small segments, overwrites, deletes, and a
 * merge (which writes hint files). */
static void
file_seeds(const char *tmp)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/file", tmp);
    FUZZ_SETUP(mkdir(dir, 0755) == 0);
    struct engine_options opt;
    engine_options_default(&opt);
    opt.sync = ENGINE_SYNC_NONE;
    opt.background = false;
    opt.segment_bytes = 400;
    opt.merge_dead_pct = 1;
    opt.merge_min_dead_bytes = 1;
    struct engine *e = NULL;
    FUZZ_SETUP(file_engine_ops.open(dir, &opt, &e, NULL) == ST_OK);
    char key[32], val[64];
    for (int i = 0; i < 40; i++) {
        int k = i % 13;
        snprintf(key, sizeof key, "key-%02d", k);
        snprintf(val, sizeof val, "value %d of key %d", i, k);
        if (i % 7 == 6)
            e->ops->del(e, st_slice_from_cstr(key), NULL);
        else
            FUZZ_SETUP(e->ops->set(e, st_slice_from_cstr(key),
                                   st_slice_from_cstr(val), NULL) == ST_OK);
    }
    /* The active segment now: before the merge, for the plain seed. */
    e->ops->close(e, NULL);

    size_t len;
    uint8_t *seg = must_read(dir, "000000000001.log", &len);
    seed("file_record", "segment", 0, seg, len);
    seed("file_engine", "one-segment", 0, seg, len);
    free(seg);

    FUZZ_SETUP(file_engine_ops.open(dir, &opt, &e, NULL) == ST_OK);
    FUZZ_SETUP(e->ops->compact(e, NULL) == ST_OK);
    e->ops->close(e, NULL);
}

/* Finds the first file of 'dir' ending in 'suffix'; false when none. */
static bool
find_file(const char *dir, const char *suffix, char *name, size_t cap)
{
    DIR *d = opendir(dir);
    FUZZ_SETUP(d != NULL);
    struct dirent *de;
    bool found = false;
    size_t sl = strlen(suffix);
    char best[256] = "";
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n >= sl && strcmp(de->d_name + n - sl, suffix) == 0 &&
            (!found || strcmp(de->d_name, best) < 0)) {
            snprintf(best, sizeof best, "%s", de->d_name);
            found = true;
        }
    }
    closedir(d);
    snprintf(name, cap, "%s", best);
    return found;
}

/* After the merge: a merged segment, its hint and the active segment. */
static void
merged_seeds(const char *tmp)
{
    char dir[512], hint[256], seg[256], active[256];
    snprintf(dir, sizeof dir, "%s/file", tmp);
    if (!find_file(dir, ".hint", hint, sizeof hint)) {
        fprintf(stderr, "make_seeds: the merge wrote no hint file\n");
        exit(1);
    }
    snprintf(seg, sizeof seg, "%.*s.log", (int)(strlen(hint) - 5), hint);
    size_t hl, sl, al;
    uint8_t *h = must_read(dir, hint, &hl);
    uint8_t *s = must_read(dir, seg, &sl);
    seed("file_record", "hint", 1, h, hl);
    /* The newest segment is the active one. */
    DIR *d = opendir(dir);
    FUZZ_SETUP(d != NULL);
    active[0] = '\0';
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".log") == 0 &&
            strcmp(de->d_name, active) > 0)
            snprintf(active, sizeof active, "%s", de->d_name);
    }
    closedir(d);
    uint8_t *a = must_read(dir, active, &al);
    /* file_engine's layout: segment 1 SEP its hint SEP segment 2, each
     * with its own header (flag 0: the headers are the real ones, but
     * they name the merge's ids, so replay refuses them; flag 1 replaces
     * them with headers for ids 1, 1 and 2). */
    static const uint8_t sep[4] = {'\n', '-', '-', '\n'};
    size_t total = sl + hl + al + 8;
    uint8_t *all = malloc(total);
    FUZZ_SETUP(all != NULL);
    size_t off = 0;
    memcpy(all + off, s + 20, sl - 20);
    off += sl - 20;
    memcpy(all + off, sep, 4);
    off += 4;
    memcpy(all + off, h + 20, hl - 20);
    off += hl - 20;
    memcpy(all + off, sep, 4);
    off += 4;
    memcpy(all + off, a + 20, al - 20);
    off += al - 20;
    seed("file_engine", "merged-hint-active", 1, all, off);
    free(all);
    free(h);
    free(s);
    free(a);
}

static void
wal_seeds(const char *tmp)
{
    char path[512];
    snprintf(path, sizeof path, "%s/000003.wal", tmp);
    struct lsm_wal *w = NULL;
    FUZZ_SETUP(lsm_wal_create(path, &w, NULL) == ST_OK);
    char key[32], val[64];
    for (int i = 0; i < 12; i++) {
        struct lsm_wal_entry e[3];
        int n = 1 + i % 3;
        for (int j = 0; j < n; j++) {
            snprintf(key, sizeof key, "k%02d-%d", i, j);
            snprintf(val, sizeof val, "v%d", i * 10 + j);
            e[j] = (struct lsm_wal_entry){
                .seq = (uint64_t)(i * 3 + j + 1),
                .type = (i + j) % 5 == 4 ? LSM_TYPE_DELETE : LSM_TYPE_PUT,
                .key = st_slice_from_cstr(key),
                .val = st_slice_from_cstr((i + j) % 5 == 4 ? "" : val)};
        }
        FUZZ_SETUP(lsm_wal_append(w, e, (size_t)n, false, NULL) == ST_OK);
    }
    FUZZ_SETUP(lsm_wal_close(w, false, NULL) == ST_OK);
    size_t len;
    uint8_t *p = must_read(tmp, "000003.wal", &len);
    seed("wal", "batches", 0, p, len);
    /* The same, torn in the middle of the last frame. */
    seed("wal", "torn", 0, p, len - 5);
    /* Frames without the file header, with flag 1 to get it back. */
    seed("wal", "frames", 1, p + 8, len - 8);
    free(p);
}

/* A manifest written by the manifest module: a snapshot, then edits
 * that add tables on two levels, remove one, and move the counters. */
static void
manifest_seeds(const char *tmp)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/lsm", tmp);
    FUZZ_SETUP(mkdir(dir, 0755) == 0);
    struct lsm_manifest *m = NULL;
    struct lsm_manifest_state st;
    FUZZ_SETUP(lsm_manifest_open(dir, &m, &st, NULL) == ST_OK);
    lsm_manifest_state_free(&st);
    for (int i = 0; i < 4; i++) {
        struct lsm_table_meta t = {.number = (uint64_t)(10 + i),
                                   .level = i < 2 ? 0 : 1,
                                   .file_bytes = (uint64_t)(4000 + i),
                                   .entries = (uint64_t)(30 + i),
                                   .min_seq = (uint64_t)(1 + 100 * i),
                                   .max_seq = (uint64_t)(99 + 100 * i)};
        char k[32];
        snprintf(k, sizeof k, "key-%03d", i * 20);
        FUZZ_SETUP(st_buf_set(&t.min_key, st_slice_from_cstr(k)));
        snprintf(k, sizeof k, "key-%03d", i * 20 + 19);
        FUZZ_SETUP(st_buf_set(&t.max_key, st_slice_from_cstr(k)));
        struct lsm_edit e = {.added = &t,
                             .added_count = 1,
                             .has_log_number = true,
                             .log_number = (uint64_t)(20 + i),
                             .has_next_file = true,
                             .next_file = (uint64_t)(30 + i),
                             .has_last_seq = true,
                             .last_seq = (uint64_t)(99 + 100 * i)};
        FUZZ_SETUP(lsm_manifest_apply(m, &e, NULL) == ST_OK);
        lsm_table_meta_deinit(&t);
    }
    struct {
        int level;
        uint64_t number;
    } rm = {0, 10};
    struct lsm_edit e = {.removed = (void *)&rm, .removed_count = 1};
    FUZZ_SETUP(lsm_manifest_apply(m, &e, NULL) == ST_OK);
    lsm_manifest_close(m);

    size_t len;
    char name[256];
    char *cur = (char *)must_read(dir, "CURRENT", &len);
    snprintf(name, sizeof name, "%.*s", (int)(len ? len - 1 : 0), cur);
    free(cur);
    uint8_t *p = must_read(dir, name, &len);
    seed("manifest", "edits", 0, p, len);
    seed("manifest", "edits-only", 1, p + 8, len - 8);
    free(p);
}

/* A table of our own, with small blocks: several data blocks, index
 * entries, versions of one key, tombstones. */
static void
table_seeds(const char *tmp)
{
    char path[512];
    snprintf(path, sizeof path, "%s/000009.sst", tmp);
    struct lsm_table_options opt;
    lsm_table_options_default(&opt);
    opt.block_size = 256;
    opt.sync = false;
    struct lsm_table_builder *b = NULL;
    FUZZ_SETUP(lsm_table_builder_open(path, &opt, &b, NULL) == ST_OK);
    char key[32], val[64];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "user:%04d", i / 2);
        snprintf(val, sizeof val, "v%d", i);
        bool del = i % 11 == 10;
        FUZZ_SETUP(lsm_table_builder_add(
                       b, st_slice_from_cstr(key), (uint64_t)(100 - i % 2),
                       del ? LSM_TYPE_DELETE : LSM_TYPE_PUT,
                       st_slice_from_cstr(del ? "" : val), NULL) == ST_OK);
    }
    struct lsm_table_props props;
    FUZZ_SETUP(lsm_table_builder_finish(b, &props, NULL) == ST_OK);
    lsm_table_props_free(&props);
    size_t len;
    uint8_t *p = must_read(tmp, "000009.sst", &len);
    seed("sstable", "small-blocks", 1, p, len);
    free(p);

    /* One block, as the table's first data block is laid out. */
    struct lsm_block_builder bb;
    struct st_buf ik = {0};
    lsm_block_builder_init(&bb, 4);
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "user:%04d", i);
        snprintf(val, sizeof val, "value-%d", i);
        FUZZ_SETUP(lsm_ikey_encode(&ik, st_slice_from_cstr(key),
                                   (uint64_t)(50 - i), LSM_TYPE_PUT));
        FUZZ_SETUP(lsm_block_builder_add(&bb, st_buf_slice(&ik),
                                         st_slice_from_cstr(val)) == ST_OK);
    }
    st_slice contents;
    FUZZ_SETUP(lsm_block_builder_finish(&bb, &contents) == ST_OK);
    seed("block", "contents", 1, contents.ptr, contents.len);
    FUZZ_SETUP(lsm_block_trailer_append(&bb.buf) == ST_OK);
    seed("block", "with-trailer", 0, bb.buf.ptr, bb.buf.len);
    lsm_block_builder_deinit(&bb);
    st_buf_free(&ik);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUT_DIR (fuzz/corpus)\n");
        return 2;
    }
    out_root = argv[1];
    FUZZ_SETUP(mkdir(out_root, 0755) == 0 || errno == EEXIST);
    const char *tmp = fuzz_scratch_dir();
    http_seeds();
    file_seeds(tmp);
    merged_seeds(tmp);
    wal_seeds(tmp);
    manifest_seeds(tmp);
    table_seeds(tmp);
    return 0;
}
