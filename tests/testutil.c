/* Test helpers (see testutil.h). */
#include "testutil.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/io.h"

static void
die(const char *what)
{
    perror(what);
    abort();
}

char *
tu_tmpdir_create(void)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    char *path = NULL;
    if (asprintf(&path, "%s/strata-test-XXXXXX", base) < 0)
        die("asprintf");
    if (mkdtemp(path) == NULL)
        die("mkdtemp");
    return path;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void
tu_tmpdir_remove(char *path)
{
    if (path == NULL)
        return;
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
}

struct tu_dir_fixture *
tu_dir_fixture_new(const char *file)
{
    struct tu_dir_fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        die("calloc");
    fx->dir = tu_tmpdir_create();
    fx->path = file != NULL ? tu_path_join(fx->dir, file) : NULL;
    io_fault_reset();
    return fx;
}

void
tu_dir_fixture_free(struct tu_dir_fixture *fx)
{
    if (fx == NULL)
        return;
    io_fault_reset();
    free(fx->path);
    tu_tmpdir_remove(fx->dir);
    free(fx);
}

size_t
tu_binary_key(uint8_t *buf, uint32_t i)
{
    buf[0] = (uint8_t)i;
    buf[1] = 0;
    buf[2] = (uint8_t)(i >> 8);
    buf[3] = (uint8_t)(i >> 16);
    memset(buf + 4, 0, i % 5);
    return 4 + i % 5;
}

char *
tu_path_join(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        die("asprintf");
    return p;
}

uint8_t *
tu_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die(path);
    struct stat st;
    if (fstat(fd, &st) != 0)
        die("fstat");
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL)
        die("malloc");
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
        if (n <= 0)
            die("read");
        done += (size_t)n;
    }
    close(fd);
    *len = done;
    return buf;
}

void
tu_write_file(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die(path);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n <= 0)
            die("write");
        done += (size_t)n;
    }
    close(fd);
}

uint64_t
tu_seed(const char *what, uint64_t dflt)
{
    uint64_t seed = dflt;
    const char *env = getenv("STRATA_SEED");
    if (env != NULL && env[0] != '\0')
        seed = strtoull(env, NULL, 10);
    fprintf(stderr, "%s: seed=%llu (replay with STRATA_SEED=%llu)\n", what,
            (unsigned long long)seed, (unsigned long long)seed);
    return seed;
}

void
tu_rng_init(struct tu_rng *r, uint64_t seed)
{
    r->s = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t
tu_rng_next(struct tu_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

uint64_t
tu_rng_below(struct tu_rng *r, uint64_t n)
{
    return tu_rng_next(r) % n;
}

void
tu_rng_fill(struct tu_rng *r, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(tu_rng_next(r) >> 56);
}

void
tu_assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}
