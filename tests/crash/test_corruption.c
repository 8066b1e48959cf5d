/*
 * Damage anywhere in a data file never turns into a wrong answer.
 *
 * For every persistent engine: write keys (with overwrites, deletes, a
 * merge or compaction, so every kind of file exists), close, then for
 * every file of the engine and many byte positions flip a byte (or cut
 * the file there) in a copy of the directory and reopen. Open may refuse
 * with ST_CORRUPT, naming the file; if it opens, every get answers the
 * value last written, or ST_CORRUPT naming the file, or an earlier state
 * of the key: damage at the tail of a log looks like a torn write and is
 * cut, which takes back the last writes (a value, "not found", or a
 * deleted key's last value). What never happens is a value that was
 * never written for that key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/engine.h"
#include "testutil.h"
#include "util/io.h"

enum { KEYS = 150, MAX_FILES = 64, POSITIONS = 40 };

struct expect {
    char key[16];
    char val[160];
    bool live;
};

struct tally {
    unsigned opens_refused, opens_ok, gets_ok, gets_older, gets_corrupt;
};

enum { ROUNDS = 3 };

static void
make_value(char *out, size_t cap, int key, int round)
{
    snprintf(out, cap, "value-%d-round-%d-%0*d", key, round,
             20 + (key * 7 + round) % 100, 0);
}

/* Writes the data set; returns the expected state. */
static void
fill(const struct engine_ops *ops, const char *dir,
     const struct engine_options *opt, struct expect *want)
{
    struct engine *e = NULL;
    assert_int_equal(ops->open(dir, opt, &e, NULL), ST_OK);
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < KEYS; k++) {
            snprintf(want[k].key, sizeof want[k].key, "key-%03d", k);
            make_value(want[k].val, sizeof want[k].val, k, round);
            assert_int_equal(e->ops->set(e, st_slice_from_cstr(want[k].key),
                                         st_slice_from_cstr(want[k].val), NULL),
                             ST_OK);
            want[k].live = true;
        }
        if (round == 1 && ops->compact != NULL)
            assert_int_equal(ops->compact(e, NULL), ST_OK);
    }
    for (int k = 0; k < KEYS; k += 9) {
        assert_int_equal(e->ops->del(e, st_slice_from_cstr(want[k].key), NULL),
                         ST_OK);
        want[k].live = false;
    }
    assert_int_equal(ops->close(e, NULL), ST_OK);
}

struct listing {
    char names[MAX_FILES][64];
    size_t count;
};

static st_status
collect_name(const char *name, void *arg)
{
    struct listing *l = arg;
    if (strcmp(name, "LOCK") != 0 && l->count < MAX_FILES &&
        strlen(name) < sizeof l->names[0])
        strcpy(l->names[l->count++], name);
    return ST_OK;
}

/* Copies every file of 'from' into 'to' (which exists). */
static void
copy_dir(const char *from, const char *to, const struct listing *l)
{
    for (size_t i = 0; i < l->count; i++) {
        char *src = tu_path_join(from, l->names[i]);
        char *dst = tu_path_join(to, l->names[i]);
        size_t len;
        uint8_t *data = tu_read_file(src, &len);
        tu_write_file(dst, data, len);
        free(data);
        free(src);
        free(dst);
    }
}

/* Damages 'path': flips byte 'pos', or cuts the file there. */
static void
damage(const char *path, size_t pos, bool cut)
{
    size_t len;
    uint8_t *data = tu_read_file(path, &len);
    if (pos < len) {
        if (cut)
            len = pos;
        else
            data[pos] ^= 0x5a;
    }
    tu_write_file(path, data, len);
    free(data);
}

/* Was 'v' written for key k in some round? */
static bool
ever_written(int k, st_slice v)
{
    char val[160];
    for (int round = 0; round < ROUNDS; round++) {
        make_value(val, sizeof val, k, round);
        if (st_slice_equal(v, st_slice_from_cstr(val)))
            return true;
    }
    return false;
}

static void
check_answers(struct engine *e, const struct expect *want, struct tally *t,
              const char *what)
{
    struct st_buf got = {0};
    for (int k = 0; k < KEYS; k++) {
        struct st_error err = {0};
        st_status s =
            e->ops->get(e, st_slice_from_cstr(want[k].key), &got, &err);
        bool latest = s == ST_OK
                          ? want[k].live &&
                                st_slice_equal(st_buf_slice(&got),
                                               st_slice_from_cstr(want[k].val))
                          : s == ST_NOT_FOUND && !want[k].live;
        if (s == ST_OK && !ever_written(k, st_buf_slice(&got)))
            fail_msg("%s: %s answered a value never written for it", what,
                     want[k].key);
        if (latest) {
            t->gets_ok++;
        } else if (s == ST_OK || s == ST_NOT_FOUND) {
            t->gets_older++;
        } else if (s == ST_CORRUPT) {
            if (err.msg[0] == '\0')
                fail_msg("%s: corruption reported without a message", what);
            t->gets_corrupt++;
        } else {
            fail_msg("%s: get %s: unexpected status %s (%s)", what, want[k].key,
                     st_status_str(s), err.msg);
        }
    }
    st_buf_free(&got);
}

static void
try_damaged(const struct engine_ops *ops, const char *clean,
            const struct listing *l, size_t file, size_t pos, bool cut,
            const struct engine_options *opt, const struct expect *want,
            struct tally *t)
{
    char *dir = tu_tmpdir_create();
    copy_dir(clean, dir, l);
    char *path = tu_path_join(dir, l->names[file]);
    damage(path, pos, cut);
    char what[160];
    snprintf(what, sizeof what, "%s: %s byte %zu of %s", ops->name,
             cut ? "cut at" : "flipped", pos, l->names[file]);
    struct engine *e = NULL;
    struct st_error err = {0};
    st_status s = ops->open(dir, opt, &e, &err);
    if (s != ST_OK) {
        if (s != ST_CORRUPT || err.msg[0] == '\0')
            fail_msg("%s: open failed with %s (%s), not a clear ST_CORRUPT",
                     what, st_status_str(s), err.msg);
        t->opens_refused++;
    } else {
        t->opens_ok++;
        check_answers(e, want, t, what);
        ops->close(e, NULL);
    }
    free(path);
    tu_tmpdir_remove(dir);
}

static void
test_damage_never_becomes_a_wrong_answer(void **state)
{
    const struct engine_ops *ops = *state;
    struct engine_options opt;
    engine_options_default(&opt);
    opt.sync = ENGINE_SYNC_NONE;
    opt.background = false;
    opt.segment_bytes = 8 << 10;
    opt.memtable_bytes = 64 << 10;
    char *clean = tu_tmpdir_create();
    static struct expect want[KEYS];
    fill(ops, clean, &opt, want);

    struct listing l = {.count = 0};
    assert_int_equal(io_list_dir(clean, collect_name, &l, NULL), ST_OK);
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed(ops->name, 4242));
    struct tally t = {0};
    for (size_t f = 0; f < l.count; f++) {
        char *path = tu_path_join(clean, l.names[f]);
        size_t len;
        free(tu_read_file(path, &len));
        free(path);
        for (size_t i = 0; i < POSITIONS && len > 0; i++) {
            /* The first bytes (headers), the last (tails), and random. */
            size_t pos = i < 8    ? i * 3 % len
                         : i < 16 ? len - 1 - (i - 8) * 5 % len
                                  : tu_rng_below(&rng, len);
            try_damaged(ops, clean, &l, f, pos, i % 4 == 3, &opt, want, &t);
        }
    }
    fprintf(stderr,
            "%s: %zu files damaged at %d places each: %u opens refused, %u "
            "opened; gets: %u latest, %u an earlier state (a cut tail), %u "
            "corrupt, 0 never written\n",
            ops->name, l.count, POSITIONS, t.opens_refused, t.opens_ok,
            t.gets_ok, t.gets_older, t.gets_corrupt);
    assert_true(l.count >= 2);
    tu_tmpdir_remove(clean);
}

int
main(void)
{
    struct CMUnitTest tests[16];
    static char names[16][64];
    size_t n = 0;
    for (size_t i = 0; engine_registry[i] != NULL && n < 16; i++) {
        if (!engine_registry[i]->persistent)
            continue;
        snprintf(names[n], sizeof names[n],
                 "%s: damage never gives a wrong "
                 "answer",
                 engine_registry[i]->name);
        tests[n++] = (struct CMUnitTest){
            .name = names[n - 1],
            .test_func = test_damage_never_becomes_a_wrong_answer,
            .initial_state = (void *)engine_registry[i],
        };
    }
    return _cmocka_run_group_tests("corruption", tests, n, NULL, NULL);
}
