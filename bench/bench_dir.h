/*
 * The directories strata-bench works in: a fresh temporary root (removed
 * afterwards), one empty directory per engine under it, and what the
 * engine's files take on disk.
 */
#ifndef STRATA_BENCH_BENCH_DIR_H
#define STRATA_BENCH_BENCH_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Makes a fresh directory under $TMPDIR, else /var/tmp, and writes its
 * path to 'out'. false (with a message on stderr) on failure. */
bool bench_dir_make_temp(char *out, size_t cap);

/* Makes 'root'/'name' (and 'root'); false (with a message on stderr)
 * when it cannot, or when it already holds files: an earlier run's data
 * would make every figure and every check wrong. */
bool bench_dir_make_engine(const char *root, const char *name, char *out,
                           size_t cap);

/* Allocated bytes (st_blocks) of every regular file under 'dir',
 * subdirectories included. */
uint64_t bench_dir_disk_bytes(const char *dir);

/* Removes 'dir' and everything under it; complains on stderr about what
 * it could not remove. */
void bench_dir_remove(const char *dir);

/* Warns on stderr when 'dir' is on a tmpfs, where fsync costs nothing. */
void bench_dir_warn_if_tmpfs(const char *dir);

#endif
