/*
 * Helpers shared by the unit tests: temporary directories that are
 * removed afterwards, and a small seeded PRNG whose seed is printed so
 * that a failing randomized test can be replayed (STRATA_SEED=N).
 */
#ifndef STRATA_TESTS_TESTUTIL_H
#define STRATA_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"

/* Creates a fresh directory under $TMPDIR (or /tmp) and returns its path;
 * the caller owns it and frees it with tu_tmpdir_remove(). Aborts the
 * test program on failure (tests only). */
char *tu_tmpdir_create(void);

/* Removes the directory and everything below it, then frees 'path'. */
void tu_tmpdir_remove(char *path);

/* The state of a test that works on files: a fresh temporary directory
 * and, when a file name was given, the path of that file in it (not
 * created). tu_dir_fixture_new() also resets util/io.c's fault injection,
 * and tu_dir_fixture_free() resets it again, removes the directory with
 * everything in it and frees the fixture, so no fault or file outlives
 * its test. Aborts the test program on failure. */
struct tu_dir_fixture {
    char *dir;
    char *path; /* dir/<file>, or NULL */
};
struct tu_dir_fixture *tu_dir_fixture_new(const char *file);
void tu_dir_fixture_free(struct tu_dir_fixture *fx);

/* Writes key number 'i' into 'buf' (room for TU_BINARY_KEY_MAX bytes) and
 * returns its length: binary, with NUL bytes, 4 to 8 bytes long, and
 * distinct for every i below 2^24. For tables that must not assume text
 * keys of one length. */
enum { TU_BINARY_KEY_MAX = 8 };
size_t tu_binary_key(uint8_t *buf, uint32_t i);

/* Joins 'dir' and 'name' into a new string the caller frees. */
char *tu_path_join(const char *dir, const char *name);

/* Reads/writes whole files; abort on failure. tu_read_file returns a
 * malloc'd buffer the caller frees and sets *len. */
uint8_t *tu_read_file(const char *path, size_t *len);
void tu_write_file(const char *path, const uint8_t *data, size_t len);

/* Fails the current cmocka test unless 'haystack' contains 'needle'
 * (for error messages that must name a file, an offset, a limit). */
void tu_assert_contains(const char *haystack, const char *needle);

/* The seed for randomized tests: $STRATA_SEED when set, else 'dflt'.
 * Prints "seed=N (replay with STRATA_SEED=N)" to stderr, tagged 'what'. */
uint64_t tu_seed(const char *what, uint64_t dflt);

/* xorshift64*: fast, deterministic for a given seed. */
struct tu_rng {
    uint64_t s;
};
void tu_rng_init(struct tu_rng *r, uint64_t seed);
uint64_t tu_rng_next(struct tu_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t tu_rng_below(struct tu_rng *r, uint64_t n);
void tu_rng_fill(struct tu_rng *r, uint8_t *buf, size_t len);

#endif
