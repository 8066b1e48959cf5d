/* Logging (see log.h). The level is an atomic so a signal-driven change
 * or a concurrent reader never sees a torn value. */
#include "util/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void
log_set_level(enum log_level level)
{
    atomic_store(&min_level, (int)level);
}

int
log_level_parse(const char *name)
{
    static const char *const names[] = {"debug", "info", "warn", "error",
                                        "off"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&min_level) || level >= LOG_OFF)
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %s ",
                          ts.tv_nsec / 1000000, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : n + (size_t)m;
    if (n > sizeof line - 2)
        n = sizeof line - 2; /* cut long lines, keep the newline */
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nowhere left to report a failed log write */
}

/* Room a byte takes when shown: itself, or \xNN. */
static size_t
shown_len(uint8_t c)
{
    return c >= 0x20 && c < 0x7f && c != '\\' ? 1 : 4;
}

void
log_escape(st_slice bytes, char *out, size_t cap)
{
    static const size_t MAX_SHOWN = 48;
    static const char hex[] = "0123456789abcdef";
    static const char cut_mark[] = "...";
    if (cap == 0)
        return;
    /* Keep room for the mark and the NUL, so a cut key never looks like
     * a whole one. */
    size_t room = cap > sizeof cut_mark ? cap - sizeof cut_mark : 0;
    size_t o = 0, i = 0;
    for (; i < bytes.len && i < MAX_SHOWN; i++) {
        uint8_t c = bytes.ptr[i];
        bool last = i + 1 == bytes.len;
        /* The last byte may use the mark's room: nothing follows it. */
        if (o + shown_len(c) > (last ? cap - 1 : room))
            break;
        if (shown_len(c) == 1) {
            out[o++] = (char)c;
            continue;
        }
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    if (i < bytes.len && o + 3 < cap) { /* too tiny a cap: no mark */
        memcpy(out + o, cut_mark, 3);
        o += 3;
    }
    out[o] = '\0';
}
