/*
 * Tests for the power-loss model of util/io.c (io_crash.c,
 * docs/crash-testing.md): what each mode leaves of unsynced bytes, which
 * directory changes a power loss undoes, and the crash point that makes
 * every later call fail. Each test runs in a fresh temp dir with the
 * model enabled, and disables it afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "util/io.h"

static int
setup(void **state)
{
    *state = tu_dir_fixture_new("f");
    io_crash_enable();
    return 0;
}

static int
teardown(void **state)
{
    io_crash_disable();
    tu_dir_fixture_free(*state);
    return 0;
}

static bool
exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int
create(const char *path)
{
    int fd = -1;
    assert_int_equal(
        io_open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644, &fd, NULL),
        ST_OK);
    return fd;
}

static void
put(int fd, const char *path, const char *s)
{
    assert_int_equal(io_write_all(fd, s, strlen(s), path, NULL), ST_OK);
}

static void
sync_fd(int fd, const char *path)
{
    assert_int_equal(io_fsync(fd, path, NULL), ST_OK);
}

static void
sync_dir(const char *dir)
{
    assert_int_equal(io_fsync_dir(dir, NULL), ST_OK);
}

static void
simulate(uint64_t seed, enum io_crash_mode mode)
{
    struct st_error err = {0};
    assert_int_equal(io_crash_simulate(seed, mode, NULL, &err), ST_OK);
}

/* Asserts the file holds exactly 's'. */
static void
assert_file(const char *path, const char *s)
{
    size_t len;
    uint8_t *got = tu_read_file(path, &len);
    assert_int_equal(len, strlen(s));
    assert_memory_equal(got, s, len);
    free(got);
}

/* A durable file "synced" plus an unsynced "+tail". */
static void
synced_then_tail(struct tu_dir_fixture *fx)
{
    int fd = create(fx->path);
    sync_dir(fx->dir);
    put(fd, fx->path, "synced");
    sync_fd(fd, fx->path);
    put(fd, fx->path, "+tail-that-was-never-synced");
    assert_int_equal(io_close(fd, fx->path, NULL), ST_OK);
}

static void
test_io_crash_drop_cuts_back_to_the_last_fsync(void **state)
{
    struct tu_dir_fixture *fx = *state;
    synced_then_tail(fx);
    simulate(1, IO_CRASH_DROP);
    assert_file(fx->path, "synced");
}

static void
test_io_crash_keep_keeps_everything(void **state)
{
    struct tu_dir_fixture *fx = *state;
    synced_then_tail(fx);
    simulate(1, IO_CRASH_KEEP);
    assert_file(fx->path, "synced+tail-that-was-never-synced");
}

static void
test_io_crash_torn_keeps_a_prefix_of_the_tail(void **state)
{
    struct tu_dir_fixture *fx = *state;
    const char *all = "synced+tail-that-was-never-synced";
    bool shorter = false;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        synced_then_tail(fx);
        simulate(seed, IO_CRASH_TORN);
        size_t len;
        uint8_t *got = tu_read_file(fx->path, &len);
        assert_true(len >= strlen("synced") && len <= strlen(all));
        assert_memory_equal(got, all, len);
        shorter |= len < strlen(all);
        free(got);
    }
    assert_true(shorter);
}

static void
test_io_crash_garble_keeps_size_and_synced_bytes(void **state)
{
    struct tu_dir_fixture *fx = *state;
    const char *all = "synced+tail-that-was-never-synced";
    bool changed = false;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        synced_then_tail(fx);
        simulate(seed, IO_CRASH_GARBLE);
        size_t len;
        uint8_t *got = tu_read_file(fx->path, &len);
        assert_int_equal(len, strlen(all));
        assert_memory_equal(got, "synced", 6);
        changed |= memcmp(got, all, len) != 0;
        free(got);
    }
    assert_true(changed);
}

static void
test_io_crash_fsync_makes_bytes_durable_across_reopen(void **state)
{
    struct tu_dir_fixture *fx = *state;
    synced_then_tail(fx);
    /* The model follows the path, not the fd: a later fd's fsync makes
     * the earlier fd's bytes durable, as on a real disk. */
    int fd = -1;
    assert_int_equal(io_open(fx->path, O_RDWR | O_APPEND, 0, &fd, NULL), ST_OK);
    sync_fd(fd, fx->path);
    assert_int_equal(io_close(fd, fx->path, NULL), ST_OK);
    simulate(1, IO_CRASH_DROP);
    assert_file(fx->path, "synced+tail-that-was-never-synced");
}

static void
test_io_crash_create_without_dir_fsync_disappears(void **state)
{
    struct tu_dir_fixture *fx = *state;
    int fd = create(fx->path);
    put(fd, fx->path, "data");
    sync_fd(fd, fx->path); /* the bytes, not the name */
    assert_int_equal(io_close(fd, fx->path, NULL), ST_OK);
    simulate(1, IO_CRASH_DROP);
    assert_false(exists(fx->path));
}

static void
test_io_crash_create_with_dir_fsync_stays_empty_without_data_fsync(void **state)
{
    struct tu_dir_fixture *fx = *state;
    int fd = create(fx->path);
    sync_dir(fx->dir);
    put(fd, fx->path, "data");
    assert_int_equal(io_close(fd, fx->path, NULL), ST_OK);
    simulate(1, IO_CRASH_DROP);
    assert_file(fx->path, "");
}

static void
test_io_crash_unlink_without_dir_fsync_comes_back(void **state)
{
    struct tu_dir_fixture *fx = *state;
    synced_then_tail(fx);
    assert_int_equal(io_unlink(fx->path, NULL), ST_OK);
    assert_false(exists(fx->path));
    simulate(1, IO_CRASH_DROP);
    /* Back with its synced bytes; the unsynced tail is lost. */
    assert_file(fx->path, "synced");
}

static void
test_io_crash_unlink_with_dir_fsync_stays_gone(void **state)
{
    struct tu_dir_fixture *fx = *state;
    synced_then_tail(fx);
    assert_int_equal(io_unlink(fx->path, NULL), ST_OK);
    sync_dir(fx->dir);
    simulate(1, IO_CRASH_DROP);
    assert_false(exists(fx->path));
}

static void
test_io_crash_rename_without_dir_fsync_is_reverted(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *tmp = tu_path_join(fx->dir, "f.tmp");
    /* An old durable "f", replaced by "f.tmp" through a rename. */
    int fd = create(fx->path);
    put(fd, fx->path, "old");
    sync_fd(fd, fx->path);
    sync_dir(fx->dir);
    io_close(fd, fx->path, NULL);
    fd = create(tmp);
    put(fd, tmp, "new");
    sync_fd(fd, tmp);
    io_close(fd, tmp, NULL);
    assert_int_equal(io_rename(tmp, fx->path, NULL), ST_OK);
    assert_file(fx->path, "new");

    simulate(1, IO_CRASH_DROP);
    assert_file(fx->path, "old");
    assert_false(exists(tmp)); /* its create was not durable either */
    free(tmp);
}

static void
test_io_crash_rename_with_dir_fsync_stays(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *tmp = tu_path_join(fx->dir, "f.tmp");
    int fd = create(tmp);
    put(fd, tmp, "new");
    sync_fd(fd, tmp);
    io_close(fd, tmp, NULL);
    assert_int_equal(io_rename(tmp, fx->path, NULL), ST_OK);
    sync_dir(fx->dir);
    simulate(1, IO_CRASH_DROP);
    assert_file(fx->path, "new");
    assert_false(exists(tmp));
    free(tmp);
}

static void
test_io_crash_torn_dir_keeps_a_prefix_of_changes(void **state)
{
    struct tu_dir_fixture *fx = *state;
    /* a, b, c created in that order: a power loss keeps a prefix, so
     * "c without b" or "b without a" never appears. */
    char *p[3] = {tu_path_join(fx->dir, "a"), tu_path_join(fx->dir, "b"),
                  tu_path_join(fx->dir, "c")};
    bool some_kept = false, some_lost = false;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        for (int i = 0; i < 3; i++)
            io_close(create(p[i]), p[i], NULL);
        simulate(seed, IO_CRASH_TORN);
        bool e0 = exists(p[0]), e1 = exists(p[1]), e2 = exists(p[2]);
        assert_true(e0 || !e1);
        assert_true(e1 || !e2);
        some_kept |= e0;
        some_lost |= !e2;
        for (int i = 0; i < 3; i++) {
            unlink(p[i]);
        }
        io_crash_enable(); /* forget the manual unlinks */
    }
    assert_true(some_kept && some_lost);
    for (int i = 0; i < 3; i++)
        free(p[i]);
}

static void
test_io_crash_garble_dir_reorders_unrelated_changes_only(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *a = tu_path_join(fx->dir, "a"), *x = tu_path_join(fx->dir, "x"),
         *y = tu_path_join(fx->dir, "y");
    bool reordered = false;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        io_close(create(a), a, NULL);
        sync_dir(fx->dir);
        /* create x, rename x -> y, unlink a: the rename depends on the
         * create; the unlink depends on neither. */
        io_close(create(x), x, NULL);
        assert_int_equal(io_rename(x, y, NULL), ST_OK);
        assert_int_equal(io_unlink(a, NULL), ST_OK);
        simulate(seed, IO_CRASH_GARBLE);
        assert_false(exists(x) && exists(y));
        reordered |= !exists(a) && !exists(y);
        unlink(a);
        unlink(x);
        unlink(y);
        io_crash_enable();
    }
    assert_true(reordered); /* the unlink survived, the rename did not */
    free(a);
    free(x);
    free(y);
}

static void
test_io_crash_truncate_of_synced_bytes_is_undone_by_drop(void **state)
{
    struct tu_dir_fixture *fx = *state;
    int fd = create(fx->path);
    sync_dir(fx->dir);
    put(fd, fx->path, "0123456789");
    sync_fd(fd, fx->path);
    assert_int_equal(io_ftruncate(fd, 3, fx->path, NULL), ST_OK);
    put(fd, fx->path, "abc");
    io_close(fd, fx->path, NULL);
    assert_file(fx->path, "012abc");
    simulate(1, IO_CRASH_DROP);
    assert_file(fx->path, "0123456789");
}

static void
test_io_crash_o_trunc_of_synced_file_is_undone_by_drop(void **state)
{
    struct tu_dir_fixture *fx = *state;
    synced_then_tail(fx);
    int fd = create(fx->path); /* O_TRUNC */
    put(fd, fx->path, "x");
    io_close(fd, fx->path, NULL);
    simulate(1, IO_CRASH_DROP);
    assert_file(fx->path, "synced");
}

static void
test_io_crash_point_fails_that_call_and_every_later_one(void **state)
{
    struct tu_dir_fixture *fx = *state;
    int fd = create(fx->path);
    sync_dir(fx->dir);
    io_crash_arm(3);
    put(fd, fx->path, "one"); /* 1 */
    sync_fd(fd, fx->path);    /* 2 */
    assert_false(io_crash_happened());
    struct st_error err = {0};
    assert_int_equal(io_write_all(fd, "two", 3, fx->path, &err), ST_IO);
    assert_int_equal(err.errnum, EIO);
    assert_true(io_crash_happened());
    assert_int_equal(io_fsync(fd, fx->path, NULL), ST_IO);
    assert_int_equal(io_fsync_dir(fx->dir, NULL), ST_IO);
    assert_int_equal(io_unlink(fx->path, NULL), ST_IO);
    size_t got;
    char buf[8];
    assert_int_equal(io_pread(fd, buf, 3, 0, &got, fx->path, NULL), ST_IO);
    int fd2 = -1;
    assert_int_equal(io_open(fx->path, O_RDONLY, 0, &fd2, NULL), ST_IO);
    /* A close still releases the fd. */
    assert_int_equal(io_close(fd, fx->path, NULL), ST_OK);
    assert_int_equal(fcntl(fd, F_GETFD), -1);

    simulate(1, IO_CRASH_DROP);
    io_crash_disarm();
    assert_false(io_crash_happened());
    assert_file(fx->path, "one"); /* "two" never reached even the cache */
}

static void
test_io_crash_arm_counts_from_now(void **state)
{
    struct tu_dir_fixture *fx = *state;
    uint64_t before = io_crash_calls();
    int fd = create(fx->path);
    sync_fd(fd, fx->path);
    assert_int_equal(io_crash_calls(), before + 2);
    io_crash_arm(1);
    assert_int_equal(io_fsync(fd, fx->path, NULL), ST_IO);
    io_crash_arm(0);
    assert_int_equal(io_fsync(fd, fx->path, NULL), ST_OK);
    io_close(fd, fx->path, NULL);
}

static void
test_io_crash_mode_names(void **state)
{
    (void)state;
    assert_string_equal(io_crash_mode_str(IO_CRASH_DROP), "drop");
    assert_string_equal(io_crash_mode_str(IO_CRASH_RANDOM), "random");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_io_crash_drop_cuts_back_to_the_last_fsync),
        T(test_io_crash_keep_keeps_everything),
        T(test_io_crash_torn_keeps_a_prefix_of_the_tail),
        T(test_io_crash_garble_keeps_size_and_synced_bytes),
        T(test_io_crash_fsync_makes_bytes_durable_across_reopen),
        T(test_io_crash_create_without_dir_fsync_disappears),
        T(test_io_crash_create_with_dir_fsync_stays_empty_without_data_fsync),
        T(test_io_crash_unlink_without_dir_fsync_comes_back),
        T(test_io_crash_unlink_with_dir_fsync_stays_gone),
        T(test_io_crash_rename_without_dir_fsync_is_reverted),
        T(test_io_crash_rename_with_dir_fsync_stays),
        T(test_io_crash_torn_dir_keeps_a_prefix_of_changes),
        T(test_io_crash_garble_dir_reorders_unrelated_changes_only),
        T(test_io_crash_truncate_of_synced_bytes_is_undone_by_drop),
        T(test_io_crash_o_trunc_of_synced_file_is_undone_by_drop),
        T(test_io_crash_point_fails_that_call_and_every_later_one),
        T(test_io_crash_arm_counts_from_now),
        T(test_io_crash_mode_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
