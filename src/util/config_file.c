/* The "key = value" file reader (see config_file.h). getline() reads
 * each line whole, so a NUL byte or an overlong line is seen and named
 * rather than silently split. */
#include "util/config_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fail(struct config_file_error *err, unsigned line, const char *fmt,
                 ...) __attribute__((format(printf, 3, 4)));

static bool
fail(struct config_file_error *err, unsigned line, const char *fmt, ...)
{
    err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return false;
}

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims blanks off both ends of s[0..*len) in place; returns the new
 * start. */
static char *
trim(char *s, size_t *len)
{
    while (*len > 0 && is_blank(s[*len - 1]))
        (*len)--;
    while (*len > 0 && is_blank(*s)) {
        s++;
        (*len)--;
    }
    s[*len] = '\0';
    return s;
}

/* One line, without its newline (and CR). */
static bool
parse_line(char *text, size_t len, unsigned line, config_file_fn fn, void *ctx,
           struct config_file_error *err)
{
    char *s = trim(text, &len);
    if (len == 0 || s[0] == '#')
        return true;
    char *eq = memchr(s, '=', len);
    if (eq == NULL)
        return fail(err, line, "missing '=' (settings read: key = value)");
    size_t key_len = (size_t)(eq - s);
    size_t value_len = len - key_len - 1;
    char *key = trim(s, &key_len);
    char *value = trim(eq + 1, &value_len);
    if (key_len == 0)
        return fail(err, line, "missing key before '='");
    if (value_len == 0)
        return fail(err, line, "key '%s': empty value", key);
    if (value[0] == '"' || value[0] == '\'')
        return fail(err, line,
                    "key '%s': values take no quotes (write the value "
                    "as it is)",
                    key);
    err->msg[0] = '\0';
    if (fn(ctx, key, value, line, err->msg, sizeof err->msg))
        return true;
    err->line = line;
    if (err->msg[0] == '\0')
        snprintf(err->msg, sizeof err->msg, "key '%s': refused", key);
    return false;
}

/* Drops the line end: LF, CRLF, or nothing on a last line. */
static size_t
strip_newline(const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '\n')
        len--;
    if (len > 0 && s[len - 1] == '\r')
        len--;
    return len;
}

static bool
read_lines(FILE *f, config_file_fn fn, void *ctx, struct config_file_error *err)
{
    char *buf = NULL;
    size_t cap = 0;
    unsigned line = 0;
    bool ok = true;
    ssize_t n;
    errno = 0;
    while (ok && (n = getline(&buf, &cap, f)) >= 0) {
        line++;
        size_t len = strip_newline(buf, (size_t)n);
        if (len > CONFIG_FILE_LINE_MAX)
            ok = fail(err, line, "line longer than %d bytes",
                      CONFIG_FILE_LINE_MAX);
        else if (memchr(buf, '\0', len) != NULL)
            ok = fail(err, line, "NUL byte in the line");
        else
            ok = parse_line(buf, len, line, fn, ctx, err);
        errno = 0;
    }
    if (ok && ferror(f))
        ok = fail(err, 0, "cannot read: %s", strerror(errno ? errno : EIO));
    free(buf);
    return ok;
}

bool
config_file_read(const char *path, config_file_fn fn, void *ctx,
                 struct config_file_error *err)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return fail(err, 0, "cannot open: %s", strerror(errno));
    bool ok = read_lines(f, fn, ctx, err);
    fclose(f);
    return ok;
}
