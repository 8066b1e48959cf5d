/*
 * Helpers shared by the file engine's tests: a fresh directory per test,
 * the engine opened through its vtable, and short ways to set, get and
 * read a statistic. Header-only (static inline) so each test program
 * takes what it uses.
 */
#ifndef STRATA_TESTS_ENGINES_FILE_FIXTURE_H
#define STRATA_TESTS_ENGINES_FILE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/file/file_engine.h"
#include "testutil.h"
#include "util/io.h"

struct fx {
    char *dir;
    struct engine_options opt;
    struct engine *e;
    struct st_buf val;
};

static inline int
fx_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    fx->dir = tu_tmpdir_create();
    engine_options_default(&fx->opt);
    fx->opt.sync = ENGINE_SYNC_NONE;
    fx->opt.background = false;
    *state = fx;
    return 0;
}

static inline int
fx_teardown(void **state)
{
    struct fx *fx = *state;
    io_fault_reset();
    if (fx->e != NULL)
        fx->e->ops->close(fx->e, NULL);
    st_buf_free(&fx->val);
    tu_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static inline st_status
fx_open(struct fx *fx)
{
    struct st_error err = {0};
    fx->e = NULL;
    st_status s = file_engine_ops.open(fx->dir, &fx->opt, &fx->e, &err);
    if (s != ST_OK)
        fprintf(stderr, "open: %s\n", err.msg);
    return s;
}

static inline void
fx_close(struct fx *fx)
{
    if (fx->e != NULL)
        fx->e->ops->close(fx->e, NULL);
    fx->e = NULL;
}

static inline void
fx_reopen(struct fx *fx)
{
    fx_close(fx);
    assert_int_equal(fx_open(fx), ST_OK);
}

static inline st_status
fx_set(struct fx *fx, const char *k, const char *v)
{
    return fx->e->ops->set(fx->e, st_slice_from_cstr(k), st_slice_from_cstr(v),
                           NULL);
}

static inline st_status
fx_del(struct fx *fx, const char *k)
{
    return fx->e->ops->del(fx->e, st_slice_from_cstr(k), NULL);
}

/* ST_OK and the value in fx->val, or the status. */
static inline st_status
fx_get(struct fx *fx, const char *k)
{
    return fx->e->ops->get(fx->e, st_slice_from_cstr(k), &fx->val, NULL);
}

static inline void
fx_assert_value(struct fx *fx, const char *k, const char *want)
{
    assert_int_equal(fx_get(fx, k), ST_OK);
    assert_int_equal(fx->val.len, strlen(want));
    assert_memory_equal(fx->val.ptr, want, fx->val.len);
}

struct fx_stat {
    const char *name;
    uint64_t value;
    int found;
};

static inline void
fx_stat_cb(void *arg, const char *name, uint64_t value)
{
    struct fx_stat *st = arg;
    if (strcmp(name, st->name) == 0) {
        st->value = value;
        st->found = 1;
    }
}

static inline uint64_t
fx_stat(struct fx *fx, const char *name)
{
    struct fx_stat st = {name, 0, 0};
    fx->e->ops->stats(fx->e, fx_stat_cb, &st);
    assert_true(st.found);
    return st.value;
}

/* Path of segment or hint 'id' in the fixture's directory; caller frees. */
static inline char *
fx_file(struct fx *fx, uint64_t id, const char *suffix)
{
    char name[64];
    snprintf(name, sizeof name, "%012llu%s", (unsigned long long)id, suffix);
    return tu_path_join(fx->dir, name);
}

static inline int
fx_exists(struct fx *fx, uint64_t id, const char *suffix)
{
    char *p = fx_file(fx, id, suffix);
    FILE *f = fopen(p, "rb");
    free(p);
    if (f != NULL)
        fclose(f);
    return f != NULL;
}

#endif
