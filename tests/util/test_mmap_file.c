/*
 * Tests for util/mmap_file.c: a mapping shows the file's bytes, writes
 * appended after mapping show through a mapping made longer than the
 * file (how the file engine maps a growing segment), empty lengths map
 * nothing, a bad fd is a clear ST_IO, and covers() bounds every read.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "util/io.h"
#include "util/mmap_file.h"

struct fixture {
    char *dir, *path;
    int fd;
};

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    fx->dir = tu_tmpdir_create();
    fx->path = tu_path_join(fx->dir, "f");
    fx->fd = -1;
    if (io_open(fx->path, O_RDWR | O_CREAT | O_TRUNC, 0644, &fx->fd, NULL) !=
        ST_OK)
        return -1;
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    io_close(fx->fd, fx->path, NULL);
    tu_tmpdir_remove(fx->dir);
    free(fx->path);
    free(fx);
    return 0;
}

static void
test_mmap_file_shows_the_files_bytes(void **state)
{
    struct fixture *fx = *state;
    uint8_t data[10000];
    struct tu_rng r;
    tu_rng_init(&r, tu_seed("mmap bytes", 5));
    tu_rng_fill(&r, data, sizeof data);
    assert_int_equal(io_write_all(fx->fd, data, sizeof data, fx->path, NULL),
                     ST_OK);
    struct mmap_file m;
    assert_int_equal(mmap_file_map(fx->fd, sizeof data, fx->path, &m, NULL),
                     ST_OK);
    assert_non_null(m.ptr);
    assert_int_equal(m.len, sizeof data);
    assert_memory_equal(m.ptr, data, sizeof data);
    mmap_file_unmap(&m);
    assert_null(m.ptr);
    assert_int_equal(m.len, 0);
    mmap_file_unmap(&m); /* twice does nothing */
}

static void
test_mmap_file_longer_than_the_file_sees_later_appends(void **state)
{
    struct fixture *fx = *state;
    const char *first = "written before the map, ";
    const char *later = "appended after it";
    assert_int_equal(
        io_write_all(fx->fd, first, strlen(first), fx->path, NULL), ST_OK);
    struct mmap_file m;
    assert_int_equal(mmap_file_map(fx->fd, 1 << 20, fx->path, &m, NULL),
                     ST_OK);
    assert_int_equal(m.len, 1 << 20);
    assert_memory_equal(m.ptr, first, strlen(first));
    assert_int_equal(
        io_write_all(fx->fd, later, strlen(later), fx->path, NULL), ST_OK);
    /* Only written bytes are read: the rest of the map is past EOF. */
    assert_memory_equal(m.ptr + strlen(first), later, strlen(later));
    mmap_file_unmap(&m);
}

static void
test_mmap_file_empty_length_maps_nothing(void **state)
{
    struct fixture *fx = *state;
    struct mmap_file m = {(const uint8_t *)"x", 1};
    assert_int_equal(mmap_file_map(fx->fd, 0, fx->path, &m, NULL), ST_OK);
    assert_null(m.ptr);
    assert_false(mmap_file_covers(&m, 0, 0));
    mmap_file_unmap(&m);
}

static void
test_mmap_file_bad_fd_is_an_io_error_naming_the_path(void **state)
{
    (void)state;
    struct mmap_file m;
    struct st_error err = {0};
    assert_int_equal(mmap_file_map(-1, 4096, "some/table.sst", &m, &err),
                     ST_IO);
    assert_int_equal(err.errnum, EBADF);
    tu_assert_contains(err.msg, "mmap some/table.sst");
    assert_null(m.ptr);
}

static void
test_mmap_file_covers_checks_both_ends(void **state)
{
    struct fixture *fx = *state;
    uint8_t data[100] = {0};
    assert_int_equal(io_write_all(fx->fd, data, sizeof data, fx->path, NULL),
                     ST_OK);
    struct mmap_file m;
    assert_int_equal(mmap_file_map(fx->fd, 100, fx->path, &m, NULL), ST_OK);
    assert_true(mmap_file_covers(&m, 0, 100));
    assert_true(mmap_file_covers(&m, 99, 1));
    assert_true(mmap_file_covers(&m, 100, 0));
    assert_false(mmap_file_covers(&m, 99, 2));
    assert_false(mmap_file_covers(&m, 101, 0));
    assert_false(mmap_file_covers(&m, 1, UINT64_MAX)); /* no wrap-around */
    mmap_file_unmap(&m);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_mmap_file_shows_the_files_bytes),
        T(test_mmap_file_longer_than_the_file_sees_later_appends),
        T(test_mmap_file_empty_length_maps_nothing),
        T(test_mmap_file_bad_fd_is_an_io_error_naming_the_path),
        T(test_mmap_file_covers_checks_both_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
