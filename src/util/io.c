/*
 * The one file I/O module (see io.h). Fault injection costs one relaxed
 * atomic load per call when nothing is armed, so it stays in release
 * builds and the code tested is the code shipped. The power-loss model
 * (io_crash.c, docs/crash-testing.md) hooks in the same way: each call
 * brackets its system call with io_crash_enter() and io_crash_leave()
 * only when io_crash_active().
 */
#include "util/io.h"
#include "util/io_crash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct fault {
    atomic_uint_fast64_t calls;
    atomic_uint_fast64_t fail_at; /* 0: disarmed */
    atomic_int errnum;
    atomic_int sticky;
};

static struct fault faults[IO_OP_COUNT_];

/* fsync and fdatasync system calls made, for /metrics. Relaxed: a
 * counter that orders nothing. */
static atomic_uint_fast64_t sync_calls;

uint64_t
io_sync_calls(void)
{
    return atomic_load_explicit(&sync_calls, memory_order_relaxed);
}

static void
count_sync_call(void)
{
    atomic_fetch_add_explicit(&sync_calls, 1, memory_order_relaxed);
}

void
io_fault_arm(enum io_op op, uint64_t n, int errnum, int sticky)
{
    struct fault *f = &faults[op];
    atomic_store(&f->errnum, errnum);
    atomic_store(&f->sticky, sticky);
    atomic_store(&f->fail_at, n ? atomic_load(&f->calls) + n : 0);
}

void
io_fault_reset(void)
{
    for (int i = 0; i < IO_OP_COUNT_; i++)
        atomic_store(&faults[i].fail_at, 0);
}

uint64_t
io_op_count(enum io_op op)
{
    return atomic_load(&faults[op].calls);
}

/* Counts the call toward an armed crash point and notes it in the
 * power-loss model; returns the errno to fake, or 0 to go ahead. */
static int
crash_enter(struct io_crash_call *c)
{
    if (!io_crash_active())
        return 0;
    return io_crash_enter(c);
}

/* Records the call's outcome in the model, when crash_enter() noted it. */
static inline void
crash_leave(struct io_crash_call *c, bool ok, int fd)
{
    if (c->entered)
        io_crash_leave(c, ok, fd);
}

/* Counts the call; returns the errno to fake, or 0 to go ahead. */
static int
injected(enum io_op op)
{
    struct fault *f = &faults[op];
    uint64_t call = atomic_fetch_add(&f->calls, 1) + 1;
    uint64_t at = atomic_load_explicit(&f->fail_at, memory_order_relaxed);
    if (at == 0 || call < at)
        return 0;
    if (call == at || atomic_load(&f->sticky))
        return atomic_load(&f->errnum);
    return 0;
}

st_status
io_open(const char *path, int flags, mode_t mode, int *fd, struct st_error *err)
{
    struct io_crash_call cc = {
        .kind = IO_CRASH_CALL_OPEN, .path = path, .flags = flags};
    int e = injected(IO_OP_OPEN);
    if (e == 0)
        e = crash_enter(&cc);
    if (e)
        return st_error_set(err, ST_IO, e, "open %s", path);
    int f;
    do
        f = open(path, flags | O_CLOEXEC, mode);
    while (f < 0 && errno == EINTR);
    e = errno;
    crash_leave(&cc, f >= 0, f);
    if (f < 0)
        return st_error_set(err, ST_IO, e, "open %s", path);
    *fd = f;
    return ST_OK;
}

st_status
io_close(int fd, const char *path, struct st_error *err)
{
    if (fd < 0)
        return ST_OK;
    struct io_crash_call cc = {.kind = IO_CRASH_CALL_CLOSE, .fd = fd};
    crash_enter(&cc); /* never fails: the fd is released in any case */
    /* On Linux the fd is released even when close fails with EINTR, so
     * retrying could close someone else's fd. */
    int r = close(fd), e = errno;
    crash_leave(&cc, r == 0, fd);
    if (r != 0 && e != EINTR)
        return st_error_set(err, ST_IO, e, "close %s", path);
    return ST_OK;
}

static st_status write_loop(int fd, const void *buf, size_t len,
                            const char *path, struct st_error *err);

st_status
io_write_all(int fd, const void *buf, size_t len, const char *path,
             struct st_error *err)
{
    struct io_crash_call cc = {
        .kind = IO_CRASH_CALL_WRITE, .fd = fd, .len = len};
    int e = injected(IO_OP_WRITE);
    if (e == 0)
        e = crash_enter(&cc);
    if (e)
        return st_error_set(err, ST_IO, e, "write %s", path);
    st_status s = write_loop(fd, buf, len, path, err);
    crash_leave(&cc, s == ST_OK, fd);
    return s;
}

static st_status
write_loop(int fd, const void *buf, size_t len, const char *path,
           struct st_error *err)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return st_error_set(err, ST_IO, errno, "write %s", path);
        if (n == 0) /* no progress and no errno: do not spin */
            return st_error_set(err, ST_IO, EIO, "write %s", path);
        p += n;
        len -= (size_t)n;
    }
    return ST_OK;
}

st_status
io_pread(int fd, void *buf, size_t len, uint64_t off, size_t *got,
         const char *path, struct st_error *err)
{
    struct io_crash_call cc = {.kind = IO_CRASH_CALL_OTHER};
    int e = injected(IO_OP_READ);
    if (e == 0)
        e = crash_enter(&cc);
    if (e)
        return st_error_set(err, ST_IO, e, "read %s", path);
    uint8_t *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return st_error_set(err, ST_IO, errno, "read %s at %llu", path,
                                (unsigned long long)(off + done));
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return ST_OK;
}

st_status
io_fsync(int fd, const char *path, struct st_error *err)
{
    struct io_crash_call cc = {.kind = IO_CRASH_CALL_FSYNC, .fd = fd};
    int e = injected(IO_OP_FSYNC);
    if (e == 0)
        e = crash_enter(&cc);
    if (e)
        return st_error_set(err, ST_IO, e, "fsync %s", path);
    /* While the power-loss model tracks, it decides what is durable, so
     * the real (slow) fdatasync is skipped. */
    int r = 0;
    if (!cc.entered) {
        count_sync_call();
        r = fdatasync(fd);
    }
    e = errno;
    crash_leave(&cc, r == 0, fd);
    if (r != 0)
        return st_error_set(err, ST_IO, e, "fsync %s", path);
    return ST_OK;
}

st_status
io_fsync_dir(const char *dir, struct st_error *err)
{
    struct io_crash_call cc = {.kind = IO_CRASH_CALL_FSYNC_DIR, .path = dir};
    int e = injected(IO_OP_FSYNC);
    if (e == 0)
        e = crash_enter(&cc);
    if (e)
        return st_error_set(err, ST_IO, e, "fsync %s", dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    st_status s = ST_OK;
    if (fd < 0)
        s = st_error_set(err, ST_IO, errno, "open %s", dir);
    else if (!cc.entered) { /* as in io_fsync */
        count_sync_call();
        if (fsync(fd) != 0)
            s = st_error_set(err, ST_IO, errno, "fsync %s", dir);
    }
    if (fd >= 0)
        close(fd);
    crash_leave(&cc, s == ST_OK, -1);
    return s;
}

st_status
io_rename(const char *from, const char *to, struct st_error *err)
{
    struct io_crash_call cc = {
        .kind = IO_CRASH_CALL_RENAME, .path = from, .to = to};
    int e = injected(IO_OP_RENAME);
    if (e == 0)
        e = crash_enter(&cc);
    if (e)
        return st_error_set(err, ST_IO, e, "rename %s", from);
    int r = rename(from, to);
    e = errno;
    crash_leave(&cc, r == 0, -1);
    if (r != 0)
        return st_error_set(err, ST_IO, e, "rename %s to %s", from, to);
    return ST_OK;
}

st_status
io_unlink(const char *path, struct st_error *err)
{
    struct io_crash_call cc = {.kind = IO_CRASH_CALL_UNLINK, .path = path};
    int e = injected(IO_OP_UNLINK);
    if (e == 0)
        e = crash_enter(&cc);
    if (e)
        return st_error_set(err, ST_IO, e, "unlink %s", path);
    int r = unlink(path);
    e = errno;
    crash_leave(&cc, r == 0, -1);
    if (r != 0 && e != ENOENT)
        return st_error_set(err, ST_IO, e, "unlink %s", path);
    return ST_OK;
}

st_status
io_ftruncate(int fd, uint64_t len, const char *path, struct st_error *err)
{
    struct io_crash_call cc = {
        .kind = IO_CRASH_CALL_TRUNCATE, .fd = fd, .len = len};
    int e = injected(IO_OP_TRUNCATE);
    if (e == 0)
        e = crash_enter(&cc);
    if (e)
        return st_error_set(err, ST_IO, e, "truncate %s", path);
    int r;
    do
        r = ftruncate(fd, (off_t)len);
    while (r != 0 && errno == EINTR);
    e = errno;
    crash_leave(&cc, r == 0, fd);
    if (r != 0)
        return st_error_set(err, ST_IO, e, "truncate %s", path);
    return ST_OK;
}

st_status
io_file_size(int fd, uint64_t *size, const char *path, struct st_error *err)
{
    struct io_crash_call cc = {.kind = IO_CRASH_CALL_OTHER};
    int e = crash_enter(&cc);
    if (e)
        return st_error_set(err, ST_IO, e, "stat %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0)
        return st_error_set(err, ST_IO, errno, "stat %s", path);
    *size = (uint64_t)st.st_size;
    return ST_OK;
}

st_status
io_mkdir_p(const char *path, struct st_error *err)
{
    struct io_crash_call cc = {.kind = IO_CRASH_CALL_OTHER};
    int e = crash_enter(&cc);
    if (e)
        return st_error_set(err, ST_IO, e, "mkdir %s", path);
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return st_error_set(err, ST_INVALID, 0, "bad directory path");
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return st_error_set(err, ST_IO, errno, "mkdir %s", buf);
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return st_error_set(err, ST_IO, ENOTDIR, "mkdir %s", path);
    return ST_OK;
}

st_status
io_list_dir(const char *dir, io_dir_fn fn, void *arg, struct st_error *err)
{
    struct io_crash_call cc = {.kind = IO_CRASH_CALL_OTHER};
    int e = crash_enter(&cc);
    if (e)
        return st_error_set(err, ST_IO, e, "opendir %s", dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return st_error_set(err, ST_IO, errno, "opendir %s", dir);
    st_status s = ST_OK;
    struct dirent *de;
    while (s == ST_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        s = fn(de->d_name, arg);
    }
    closedir(d);
    return s;
}

st_status
io_lock_dir(const char *dir, int *lock_fd, struct st_error *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/LOCK", dir) >= (int)sizeof path)
        return st_error_set(err, ST_INVALID, 0, "path too long: %s", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return st_error_set(err, ST_IO, errno, "open %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return st_error_set(err, ST_BUSY, 0,
                                "%s is locked: another stratad is using %s",
                                path, dir);
        return st_error_set(err, ST_IO, e, "flock %s", path);
    }
    *lock_fd = fd;
    return ST_OK;
}

uint64_t
io_dir_disk_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    uint64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode))
            total += (uint64_t)st.st_blocks * 512;
    }
    closedir(d);
    return total;
}
