/*
 * Command-line helpers shared by stratad and strata-bench: strict number
 * parsing and the one-line usage error every tool prints the same way.
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

#endif
