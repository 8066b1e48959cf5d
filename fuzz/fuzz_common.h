/*
 * What the libFuzzer targets of fuzz/ share: a scratch directory per
 * process, writing an input to a file there, and a loud stop when an
 * invariant breaks. Header-only (static functions), because every target
 * is one .c file linked with libstrata.a and nothing else of ours.
 *
 * A target must never crash, leak, hit undefined behaviour or answer a
 * wrong value: ASan and UBSan catch the first three, FUZZ_CHECK the last.
 * On a failed check the input is saved by libFuzzer (abort() counts as a
 * crash) and becomes a file in fuzz/regressions/<target>/.
 */
#ifndef STRATA_FUZZ_COMMON_H
#define STRATA_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(): the check must hold in every build. */
#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Setup failures (no temp dir, full disk) are not findings: stop loudly. */
#define FUZZ_SETUP(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: fuzz setup failed: %s: %s\n", __FILE__,    \
                    __LINE__, #cond, strerror(errno));                         \
            exit(2);                                                           \
        }                                                                      \
    } while (0)

static char fuzz_root[256];

/* Removes everything below 'dir', keeping 'dir' itself. */
static inline void
fuzz_empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            fuzz_empty_dir(path);
            rmdir(path);
        } else {
            unlink(path);
        }
    }
    closedir(d);
}

static inline void
fuzz_remove_root(void)
{
    if (fuzz_root[0] != '\0') {
        fuzz_empty_dir(fuzz_root);
        rmdir(fuzz_root);
    }
}

/* Creates this process's scratch directory, on tmpfs when there is one
 * (the engines fsync, and a disk would make each input cost
 * milliseconds), and removes it at exit. Engines' warnings about the
 * damaged files we feed them are expected: they are silenced. */
static inline const char *
fuzz_scratch_dir(void)
{
    if (fuzz_root[0] != '\0')
        return fuzz_root;
    const char *base = getenv("TMPDIR");
    struct stat st;
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
        if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
            access("/dev/shm", W_OK) == 0)
            base = "/dev/shm";
    }
    snprintf(fuzz_root, sizeof fuzz_root, "%s/strata-fuzz-XXXXXX", base);
    FUZZ_SETUP(mkdtemp(fuzz_root) != NULL);
    atexit(fuzz_remove_root);
    log_set_level(LOG_OFF);
    return fuzz_root;
}

/* Writes 'len' bytes of 'data' as the whole file 'path'. */
static inline void
fuzz_write_file(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    FUZZ_SETUP(fd >= 0);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        FUZZ_SETUP(n > 0 || (n < 0 && errno == EINTR));
        if (n > 0)
            done += (size_t)n;
    }
    FUZZ_SETUP(close(fd) == 0);
}

/* Reads a whole small file into a malloc'ed buffer; NULL when absent. */
static inline uint8_t *
fuzz_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    FUZZ_SETUP(buf != NULL);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            FUZZ_SETUP(buf != NULL);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* A cursor that hands out the input in pieces, so one byte string can
 * drive several parameters. */
struct fuzz_input {
    const uint8_t *p;
    size_t left;
};

static inline uint8_t
fuzz_take_byte(struct fuzz_input *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

/* The bytes up to the next 'sep' (which is consumed), or all the rest. */
static inline const uint8_t *
fuzz_take_until(struct fuzz_input *in, uint8_t sep, size_t *len)
{
    const uint8_t *start = in->p;
    const uint8_t *end = in->left ? memchr(in->p, sep, in->left) : NULL;
    size_t n = end != NULL ? (size_t)(end - start) : in->left;
    *len = n;
    in->p += n;
    in->left -= n;
    if (end != NULL) {
        in->p++;
        in->left--;
    }
    return start;
}

#endif
