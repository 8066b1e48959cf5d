/*
 * Command-line helpers shared by stratad and strata-bench: strict number
 * parsing and the one-line usage errors every tool prints the same way,
 * for a flag and for a line of a configuration file.
 */
#ifndef STRATA_UTIL_CLI_H
#define STRATA_UTIL_CLI_H

#include <stdbool.h>

enum { CLI_EXIT_USAGE = 2 };

/* Parses a whole decimal number in [min, max]: digits only, no sign, no
 * trailing text, no overflow. false otherwise (*out untouched). */
bool cli_parse_number(const char *s, unsigned long long min,
                      unsigned long long max, unsigned long long *out);

/* Prints "PROG: <message>" and "Try 'PROG --help'." to stderr and returns
 * CLI_EXIT_USAGE, for 'return cli_usage_error(...)'. */
int cli_usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "PROG: FILE:LINE: <message>" to stderr ("PROG: FILE: <message>"
 * when 'line' is 0: the file as a whole) and returns CLI_EXIT_USAGE, as
 * a bad configuration file is bad usage too. No "Try --help" line: the
 * file, not the command, needs fixing. */
int cli_file_error(const char *prog, const char *file, unsigned line,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
