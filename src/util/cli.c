/* Command-line helpers (see cli.h). */
#include "util/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

bool
cli_parse_number(const char *s, unsigned long long min, unsigned long long max,
                 unsigned long long *out)
{
    /* strtoull would accept leading blanks and a minus sign. */
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int
cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int
cli_file_error(const char *prog, const char *file, unsigned line,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (line > 0)
        fprintf(stderr, "%s: %s:%u: ", prog, file, line);
    else
        fprintf(stderr, "%s: %s: ", prog, file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_EXIT_USAGE;
}
