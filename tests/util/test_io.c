/*
 * Tests for util/io.c, the one module that touches files: round trips,
 * short reads at end of file, directory operations, the data-dir lock,
 * error messages that name the call, the path and the errno, and the
 * fault injection every crash and error test of the engines builds on.
 * Each test runs in a fresh temp dir with every fault disarmed.
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
    *state = tu_dir_fixture_new(NULL);
    return 0;
}

static int
teardown(void **state)
{
    tu_dir_fixture_free(*state);
    return 0;
}

/* Opens dir/name for read and write, creating it empty. */
static int
open_new(const char *dir, const char *name, char **path)
{
    *path = tu_path_join(dir, name);
    int fd = -1;
    assert_int_equal(
        io_open(*path, O_RDWR | O_CREAT | O_TRUNC, 0644, &fd, NULL), ST_OK);
    assert_true(fd >= 0);
    return fd;
}

static bool
exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void
test_io_write_all_then_pread_round_trips(void **state)
{
    struct tu_dir_fixture *fx = *state;
    enum { LEN = 100000 };
    static uint8_t data[LEN], back[LEN];
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("io round trip", 41));
    tu_rng_fill(&rng, data, LEN);

    char *path;
    int fd = open_new(fx->dir, "data", &path);
    assert_int_equal(io_write_all(fd, data, 1000, path, NULL), ST_OK);
    assert_int_equal(io_write_all(fd, data + 1000, LEN - 1000, path, NULL),
                     ST_OK);
    assert_int_equal(io_write_all(fd, data, 0, path, NULL), ST_OK);

    size_t got = 0;
    assert_int_equal(io_pread(fd, back, LEN, 0, &got, path, NULL), ST_OK);
    assert_int_equal(got, LEN);
    assert_memory_equal(back, data, LEN);

    memset(back, 0, 100);
    assert_int_equal(io_pread(fd, back, 100, 12345, &got, path, NULL), ST_OK);
    assert_int_equal(got, 100);
    assert_memory_equal(back, data + 12345, 100);

    assert_int_equal(io_fsync(fd, path, NULL), ST_OK);
    assert_int_equal(io_close(fd, path, NULL), ST_OK);

    /* What another reader sees on disk is the same bytes. */
    size_t flen;
    uint8_t *onfile = tu_read_file(path, &flen);
    assert_int_equal(flen, LEN);
    assert_memory_equal(onfile, data, LEN);
    free(onfile);
    free(path);
}

static void
test_io_pread_is_short_only_at_eof(void **state)
{
    struct tu_dir_fixture *fx = *state;
    uint8_t data[100], back[64];
    for (int i = 0; i < 100; i++)
        data[i] = (uint8_t)(i + 1);

    char *path;
    int fd = open_new(fx->dir, "short", &path);
    assert_int_equal(io_write_all(fd, data, sizeof data, path, NULL), ST_OK);

    size_t got = 999;
    assert_int_equal(io_pread(fd, back, 50, 80, &got, path, NULL), ST_OK);
    assert_int_equal(got, 20);
    assert_memory_equal(back, data + 80, 20);

    got = 999;
    assert_int_equal(io_pread(fd, back, 50, 100, &got, path, NULL), ST_OK);
    assert_int_equal(got, 0);

    got = 999;
    assert_int_equal(io_pread(fd, back, 50, 1u << 20, &got, path, NULL), ST_OK);
    assert_int_equal(got, 0);

    io_close(fd, path, NULL);
    free(path);
}

static void
test_io_file_size_follows_writes_and_ftruncate(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *path;
    int fd = open_new(fx->dir, "trunc", &path);
    uint64_t size = 999;
    assert_int_equal(io_file_size(fd, &size, path, NULL), ST_OK);
    assert_true(size == 0);

    assert_int_equal(io_write_all(fd, "0123456789abcdef", 16, path, NULL),
                     ST_OK);
    assert_int_equal(io_file_size(fd, &size, path, NULL), ST_OK);
    assert_true(size == 16);

    /* Cutting a torn tail: the prefix stays, the rest is gone. */
    assert_int_equal(io_ftruncate(fd, 10, path, NULL), ST_OK);
    assert_int_equal(io_file_size(fd, &size, path, NULL), ST_OK);
    assert_true(size == 10);
    uint8_t back[16];
    size_t got;
    assert_int_equal(io_pread(fd, back, 16, 0, &got, path, NULL), ST_OK);
    assert_int_equal(got, 10);
    assert_memory_equal(back, "0123456789", 10);

    /* Extending fills with zeros. */
    assert_int_equal(io_ftruncate(fd, 4096, path, NULL), ST_OK);
    assert_int_equal(io_file_size(fd, &size, path, NULL), ST_OK);
    assert_true(size == 4096);
    assert_int_equal(io_pread(fd, back, 6, 10, &got, path, NULL), ST_OK);
    assert_int_equal(got, 6);
    static const uint8_t zeros[6];
    assert_memory_equal(back, zeros, 6);

    io_close(fd, path, NULL);
    free(path);
}

static void
test_io_rename_replaces_target(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *a = tu_path_join(fx->dir, "a.tmp");
    char *b = tu_path_join(fx->dir, "b");
    tu_write_file(a, (const uint8_t *)"new", 3);
    tu_write_file(b, (const uint8_t *)"old!", 4);

    assert_int_equal(io_rename(a, b, NULL), ST_OK);
    assert_false(exists(a));
    size_t len;
    uint8_t *got = tu_read_file(b, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(got, "new", 3);
    free(got);

    /* Renaming what is not there names both paths and the reason. */
    struct st_error err;
    assert_int_equal(io_rename(a, b, &err), ST_IO);
    assert_int_equal(err.code, ST_IO);
    assert_int_equal(err.errnum, ENOENT);
    tu_assert_contains(err.msg, a);
    tu_assert_contains(err.msg, b);
    tu_assert_contains(err.msg, strerror(ENOENT));
    free(a);
    free(b);
}

static void
test_io_unlink_removes_and_missing_file_is_ok(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *path = tu_path_join(fx->dir, "gone");
    tu_write_file(path, (const uint8_t *)"x", 1);

    assert_int_equal(io_unlink(path, NULL), ST_OK);
    assert_false(exists(path));
    struct st_error err;
    st_error_clear(&err);
    assert_int_equal(io_unlink(path, &err), ST_OK);
    assert_int_equal(err.code, ST_OK);

    /* A real failure (a directory is not unlinked) is reported. */
    char *sub = tu_path_join(fx->dir, "subdir");
    assert_int_equal(mkdir(sub, 0750), 0);
    assert_int_equal(io_unlink(sub, &err), ST_IO);
    assert_true(err.errnum != 0);
    tu_assert_contains(err.msg, sub);
    free(sub);
    free(path);
}

static void
test_io_open_missing_file_names_path_and_reason(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *path = tu_path_join(fx->dir, "missing/000003.log");
    struct st_error err;
    int fd = -7;
    assert_int_equal(io_open(path, O_RDONLY, 0, &fd, &err), ST_IO);
    assert_int_equal(fd, -7);
    assert_int_equal(err.code, ST_IO);
    assert_int_equal(err.errnum, ENOENT);
    tu_assert_contains(err.msg, "open");
    tu_assert_contains(err.msg, path);
    tu_assert_contains(err.msg, strerror(ENOENT));
    free(path);
}

static void
test_io_close_negative_fd_is_noop(void **state)
{
    assert_int_equal(io_close(-1, "nothing", NULL), ST_OK);
}

static void
test_io_mkdir_p_creates_nested_dirs(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *deep = tu_path_join(fx->dir, "a/b/c/d");
    assert_int_equal(io_mkdir_p(deep, NULL), ST_OK);
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* Again: existing directories are fine, with or without a slash. */
    assert_int_equal(io_mkdir_p(deep, NULL), ST_OK);
    char *slash = tu_path_join(fx->dir, "a/b/e/");
    assert_int_equal(io_mkdir_p(slash, NULL), ST_OK);
    char *e = tu_path_join(fx->dir, "a/b/e");
    assert_int_equal(stat(e, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    free(e);
    free(slash);
    free(deep);
}

static void
test_io_mkdir_p_fails_on_file_in_the_way(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *file = tu_path_join(fx->dir, "plain");
    tu_write_file(file, (const uint8_t *)"x", 1);
    struct st_error err;

    assert_int_equal(io_mkdir_p(file, &err), ST_IO);
    tu_assert_contains(err.msg, file);

    char *below = tu_path_join(file, "sub");
    assert_int_equal(io_mkdir_p(below, &err), ST_IO);
    assert_int_equal(err.errnum, ENOTDIR);
    tu_assert_contains(err.msg, "plain");

    assert_int_equal(io_mkdir_p("", &err), ST_INVALID);
    free(below);
    free(file);
}

struct listing {
    int calls;
    int stop_at; /* return ST_CORRUPT on this call; 0: never */
    int seen[8];
    int others;
};

static st_status
collect(const char *name, void *arg)
{
    struct listing *l = arg;
    l->calls++;
    if (strncmp(name, "f", 1) == 0 && name[1] >= '0' && name[1] <= '7' &&
        name[2] == '\0')
        l->seen[name[1] - '0']++;
    else
        l->others++;
    return l->calls == l->stop_at ? ST_CORRUPT : ST_OK;
}

static void
make_files(const char *dir, int n)
{
    for (int i = 0; i < n; i++) {
        char name[3] = {'f', (char)('0' + i), '\0'};
        char *p = tu_path_join(dir, name);
        tu_write_file(p, (const uint8_t *)name, 2);
        free(p);
    }
}

static void
test_io_list_dir_sees_every_created_entry(void **state)
{
    struct tu_dir_fixture *fx = *state;
    make_files(fx->dir, 8);
    char *sub = tu_path_join(fx->dir, "subdir");
    assert_int_equal(mkdir(sub, 0750), 0);

    struct listing l = {0};
    assert_int_equal(io_list_dir(fx->dir, collect, &l, NULL), ST_OK);
    for (int i = 0; i < 8; i++)
        assert_int_equal(l.seen[i], 1);
    assert_int_equal(l.others, 1); /* subdir; never "." or ".." */
    assert_int_equal(l.calls, 9);
    free(sub);
}

static void
test_io_list_dir_stops_when_callback_fails(void **state)
{
    struct tu_dir_fixture *fx = *state;
    make_files(fx->dir, 8);
    struct listing l = {.stop_at = 3};
    assert_int_equal(io_list_dir(fx->dir, collect, &l, NULL), ST_CORRUPT);
    assert_int_equal(l.calls, 3);
}

static void
test_io_list_dir_missing_dir_names_it(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *missing = tu_path_join(fx->dir, "nope");
    struct listing l = {0};
    struct st_error err;
    assert_int_equal(io_list_dir(missing, collect, &l, &err), ST_IO);
    assert_int_equal(l.calls, 0);
    assert_int_equal(err.errnum, ENOENT);
    tu_assert_contains(err.msg, missing);
    free(missing);
}

static void
test_io_fsync_dir_on_real_and_missing_dir(void **state)
{
    struct tu_dir_fixture *fx = *state;
    assert_int_equal(io_fsync_dir(fx->dir, NULL), ST_OK);

    char *missing = tu_path_join(fx->dir, "nope");
    struct st_error err;
    assert_int_equal(io_fsync_dir(missing, &err), ST_IO);
    assert_int_equal(err.errnum, ENOENT);
    tu_assert_contains(err.msg, missing);
    free(missing);
}

/* flock locks belong to the open file description, so even this same
 * process is refused by a second open of LOCK: the check that keeps two
 * stratad off one data dir. */
static void
test_io_lock_dir_second_lock_is_busy_until_first_closed(void **state)
{
    struct tu_dir_fixture *fx = *state;
    int first = -1, second = -1;
    assert_int_equal(io_lock_dir(fx->dir, &first, NULL), ST_OK);
    assert_true(first >= 0);
    char *lock = tu_path_join(fx->dir, "LOCK");
    assert_true(exists(lock));

    struct st_error err;
    st_error_clear(&err);
    assert_int_equal(io_lock_dir(fx->dir, &second, &err), ST_BUSY);
    assert_int_equal(second, -1);
    assert_int_equal(err.code, ST_BUSY);
    tu_assert_contains(err.msg, fx->dir);

    assert_int_equal(io_close(first, lock, NULL), ST_OK);
    assert_int_equal(io_lock_dir(fx->dir, &second, NULL), ST_OK);
    assert_true(second >= 0);
    assert_int_equal(io_close(second, lock, NULL), ST_OK);
    free(lock);
}

static void
test_io_lock_dir_missing_dir_is_io_error(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *missing = tu_path_join(fx->dir, "nope");
    int fd = -1;
    struct st_error err;
    assert_int_equal(io_lock_dir(missing, &fd, &err), ST_IO);
    assert_int_equal(fd, -1);
    tu_assert_contains(err.msg, missing);
    free(missing);
}

static void
test_io_fault_fails_exactly_the_nth_write(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *path;
    int fd = open_new(fx->dir, "faulty", &path);
    struct st_error err;

    io_fault_arm(IO_OP_WRITE, 2, ENOSPC, 0);
    assert_int_equal(io_write_all(fd, "one", 3, path, &err), ST_OK);

    st_error_clear(&err);
    assert_int_equal(io_write_all(fd, "two", 3, path, &err), ST_IO);
    assert_int_equal(err.code, ST_IO);
    assert_int_equal(err.errnum, ENOSPC);
    tu_assert_contains(err.msg, "write");
    tu_assert_contains(err.msg, path);
    tu_assert_contains(err.msg, strerror(ENOSPC));

    /* A failing write wrote nothing, and later writes work again. */
    assert_int_equal(io_write_all(fd, "three", 5, path, &err), ST_OK);
    assert_int_equal(io_write_all(fd, "four", 4, path, &err), ST_OK);
    io_close(fd, path, NULL);

    size_t len;
    uint8_t *got = tu_read_file(path, &len);
    assert_int_equal(len, 12);
    assert_memory_equal(got, "onethreefour", 12);
    free(got);
    free(path);
}

static void
test_io_sticky_fault_fails_until_reset(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *path;
    int fd = open_new(fx->dir, "sticky", &path);
    struct st_error err;

    io_fault_arm(IO_OP_FSYNC, 1, EIO, 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(io_fsync(fd, path, &err), ST_IO);
        assert_int_equal(err.errnum, EIO);
        tu_assert_contains(err.msg, path);
    }
    /* io_fsync_dir counts as an fsync too. */
    assert_int_equal(io_fsync_dir(fx->dir, &err), ST_IO);
    tu_assert_contains(err.msg, fx->dir);

    io_fault_reset();
    assert_int_equal(io_fsync(fd, path, NULL), ST_OK);
    assert_int_equal(io_fsync_dir(fx->dir, NULL), ST_OK);
    io_close(fd, path, NULL);
    free(path);
}

static void
test_io_fault_arm_zero_disarms(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *path;
    int fd = open_new(fx->dir, "disarm", &path);
    io_fault_arm(IO_OP_WRITE, 1, EIO, 1);
    io_fault_arm(IO_OP_WRITE, 0, EIO, 1);
    assert_int_equal(io_write_all(fd, "ok", 2, path, NULL), ST_OK);
    io_close(fd, path, NULL);
    free(path);
}

/* Every injectable operation fails with the armed errno and a message
 * naming the path, and leaves the file system as it was. */
static void
test_io_fault_applies_to_every_operation(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *path;
    int fd = open_new(fx->dir, "ops", &path);
    char *other = tu_path_join(fx->dir, "other");
    assert_int_equal(io_write_all(fd, "abcdef", 6, path, NULL), ST_OK);
    struct st_error err;
    uint8_t buf[8];
    size_t got;
    uint64_t size;

    io_fault_arm(IO_OP_READ, 1, EIO, 0);
    assert_int_equal(io_pread(fd, buf, 6, 0, &got, path, &err), ST_IO);
    assert_int_equal(err.errnum, EIO);
    tu_assert_contains(err.msg, path);

    io_fault_arm(IO_OP_TRUNCATE, 1, EIO, 0);
    assert_int_equal(io_ftruncate(fd, 2, path, &err), ST_IO);
    assert_int_equal(err.errnum, EIO);
    tu_assert_contains(err.msg, path);
    assert_int_equal(io_file_size(fd, &size, path, NULL), ST_OK);
    assert_true(size == 6);

    io_fault_arm(IO_OP_RENAME, 1, EXDEV, 0);
    assert_int_equal(io_rename(path, other, &err), ST_IO);
    assert_int_equal(err.errnum, EXDEV);
    tu_assert_contains(err.msg, path);
    assert_true(exists(path));
    assert_false(exists(other));

    io_fault_arm(IO_OP_UNLINK, 1, EACCES, 0);
    assert_int_equal(io_unlink(path, &err), ST_IO);
    assert_int_equal(err.errnum, EACCES);
    tu_assert_contains(err.msg, path);
    assert_true(exists(path));

    int fd2 = -5;
    io_fault_arm(IO_OP_OPEN, 1, EMFILE, 0);
    assert_int_equal(io_open(path, O_RDONLY, 0, &fd2, &err), ST_IO);
    assert_int_equal(err.errnum, EMFILE);
    tu_assert_contains(err.msg, path);
    assert_int_equal(fd2, -5);

    /* Each was one-shot: all work now. */
    assert_int_equal(io_pread(fd, buf, 6, 0, &got, path, NULL), ST_OK);
    assert_int_equal(got, 6);
    assert_int_equal(io_open(path, O_RDONLY, 0, &fd2, NULL), ST_OK);
    io_close(fd2, path, NULL);
    io_close(fd, path, NULL);
    assert_int_equal(io_rename(path, other, NULL), ST_OK);
    assert_int_equal(io_unlink(other, NULL), ST_OK);
    free(other);
    free(path);
}

static void
test_io_op_count_counts_calls(void **state)
{
    struct tu_dir_fixture *fx = *state;
    char *path;
    uint64_t opens = io_op_count(IO_OP_OPEN);
    int fd = open_new(fx->dir, "count", &path);
    assert_true(io_op_count(IO_OP_OPEN) == opens + 1);

    uint64_t writes = io_op_count(IO_OP_WRITE);
    uint64_t fsyncs = io_op_count(IO_OP_FSYNC);
    for (int i = 0; i < 3; i++)
        assert_int_equal(io_write_all(fd, "x", 1, path, NULL), ST_OK);
    assert_true(io_op_count(IO_OP_WRITE) == writes + 3);

    /* Calls that fail by injection count as calls too. */
    io_fault_arm(IO_OP_WRITE, 1, EIO, 0);
    assert_int_equal(io_write_all(fd, "x", 1, path, NULL), ST_IO);
    assert_true(io_op_count(IO_OP_WRITE) == writes + 4);

    assert_int_equal(io_fsync(fd, path, NULL), ST_OK);
    assert_int_equal(io_fsync_dir(fx->dir, NULL), ST_OK);
    assert_true(io_op_count(IO_OP_FSYNC) == fsyncs + 2);
    io_close(fd, path, NULL);
    free(path);
}

static void
test_io_dir_disk_bytes_grows_after_writing(void **state)
{
    struct tu_dir_fixture *fx = *state;
    uint64_t before = io_dir_disk_bytes(fx->dir);

    enum { LEN = 256 * 1024 };
    static uint8_t data[LEN];
    memset(data, 0x5a, sizeof data);
    char *path;
    int fd = open_new(fx->dir, "big", &path);
    assert_int_equal(io_write_all(fd, data, LEN, path, NULL), ST_OK);
    assert_int_equal(io_fsync(fd, path, NULL), ST_OK);
    io_close(fd, path, NULL);

    uint64_t after = io_dir_disk_bytes(fx->dir);
    assert_true(after >= before + LEN);

    char *missing = tu_path_join(fx->dir, "nope");
    assert_true(io_dir_disk_bytes(missing) == 0);
    free(missing);
    free(path);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_io_write_all_then_pread_round_trips),
        T(test_io_pread_is_short_only_at_eof),
        T(test_io_file_size_follows_writes_and_ftruncate),
        T(test_io_rename_replaces_target),
        T(test_io_unlink_removes_and_missing_file_is_ok),
        T(test_io_open_missing_file_names_path_and_reason),
        T(test_io_close_negative_fd_is_noop),
        T(test_io_mkdir_p_creates_nested_dirs),
        T(test_io_mkdir_p_fails_on_file_in_the_way),
        T(test_io_list_dir_sees_every_created_entry),
        T(test_io_list_dir_stops_when_callback_fails),
        T(test_io_list_dir_missing_dir_names_it),
        T(test_io_fsync_dir_on_real_and_missing_dir),
        T(test_io_lock_dir_second_lock_is_busy_until_first_closed),
        T(test_io_lock_dir_missing_dir_is_io_error),
        T(test_io_fault_fails_exactly_the_nth_write),
        T(test_io_sticky_fault_fails_until_reset),
        T(test_io_fault_arm_zero_disarms),
        T(test_io_fault_applies_to_every_operation),
        T(test_io_op_count_counts_calls),
        T(test_io_dir_disk_bytes_grows_after_writing),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
