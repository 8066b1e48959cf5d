/*
 * Directories of strata-bench (bench_dir.h). Disk usage counts allocated
 * blocks, not file sizes: what a preallocated log or a sparse file really
 * takes is what space amplification is about (DDIA 3.1, "Comparing
 * B-Trees and LSM-Trees").
 */
#include "bench_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "util/io.h"

static const long TMPFS_MAGIC_NUMBER = 0x01021994;

/* Allocated bytes of every regular file under 'dir', subdirectories
 * included (an engine may keep its tables in one). */
uint64_t
bench_dir_disk_bytes(const char *dir)
{
    uint64_t total = io_dir_disk_bytes(dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return total;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        char sub[PATH_MAX];
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode) &&
            snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) <
                (int)sizeof(sub))
            total += bench_dir_disk_bytes(sub);
    }
    closedir(d);
    return total;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (remove(path) != 0)
        fprintf(stderr, "strata-bench: remove %s: %s\n", path, strerror(errno));
    return 0;
}

void
bench_dir_remove(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory under $TMPDIR, else /var/tmp: /tmp is a tmpfs on
 * many systems, where fsync costs nothing and nothing is on a disk. */
bool
bench_dir_make_temp(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/var/tmp";
    if (snprintf(out, cap, "%s/strata-bench-XXXXXX", base) >= (int)cap)
        return false;
    if (mkdtemp(out) == NULL) {
        fprintf(stderr, "strata-bench: mkdtemp %s: %s\n", out, strerror(errno));
        return false;
    }
    return true;
}

void
bench_dir_warn_if_tmpfs(const char *dir)
{
    struct statfs fs;
    if (statfs(dir, &fs) == 0 && (long)fs.f_type == TMPFS_MAGIC_NUMBER)
        fprintf(stderr,
                "strata-bench: warning: %s is on tmpfs: fsync is "
                "free and nothing reaches a disk\n",
                dir);
}

/* Makes DIR/<engine>/; refuses one that holds files (an earlier run's
 * data would make every figure and check wrong). */
bool
bench_dir_make_engine(const char *root, const char *name, char *out, size_t cap)
{
    if (snprintf(out, cap, "%s/%s", root, name) >= (int)cap) {
        fprintf(stderr, "strata-bench: path too long: %s/%s\n", root, name);
        return false;
    }
    struct st_error err;
    if (io_mkdir_p(out, &err) != ST_OK) {
        fprintf(stderr, "strata-bench: %s\n", err.msg);
        return false;
    }
    DIR *d = opendir(out);
    if (d == NULL)
        return false;
    struct dirent *de;
    bool empty = true;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            empty = false;
    closedir(d);
    if (!empty)
        fprintf(stderr,
                "strata-bench: %s is not empty: remove it or "
                "choose another --db\n",
                out);
    return empty;
}
