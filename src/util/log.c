/* Logging (see log.h): the logfmt line writer, the log file and its
 * reopening, journald detection, and log_escape for key bytes.
 *
 * The level, the descriptor lines go to and the journald flag are
 * atomics, so that threads logging never see a torn value. The log file
 * keeps one descriptor number for its whole life: a reopen dup3()s the
 * new file over it, so a thread that loaded the number just before
 * still writes to a valid file (the old one or the new one). */
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = LOG_INFO;
static atomic_int log_fd = STDERR_FILENO;
static atomic_bool stderr_is_journal = false;
static char *log_path; /* the log file's path, or NULL: stderr */

static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "off"};

/* sd-daemon(3) priorities: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR. */
static const int journal_priorities[] = {7, 6, 4, 3};

void
log_set_level(enum log_level level)
{
    atomic_store(&min_level, (int)level);
}

int
log_level_parse(const char *name)
{
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

/* --- the line writer ------------------------------------------------ */

/* A line being built. Room for "...", a closing quote and the newline
 * is always kept at the end, so a cut line still ends well-formed. */
struct line {
    char *buf;
    size_t len;
    bool cut;    /* something did not fit: the rest is dropped */
    bool quoted; /* inside a quoted value */
};

enum { TAIL_ROOM = 5 };

/* Appends all of 's' or, when it does not fit, nothing (and from then
 * on nothing else either), so an escape is never split. */
static bool
put(struct line *l, const char *s, size_t n)
{
    if (l->cut || l->len + n > LOG_LINE_MAX - TAIL_ROOM) {
        l->cut = true;
        return false;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

/* Appends as much of 's' as fits: plain text may be cut anywhere. */
static void
put_text(struct line *l, const char *s, size_t n)
{
    size_t room = l->cut ? 0 : LOG_LINE_MAX - TAIL_ROOM - l->len;
    if (n > room) {
        n = room;
        l->cut = true;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static bool
put_str(struct line *l, const char *s)
{
    return put(l, s, strlen(s));
}

static bool
is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* logfmt quotes a value that is empty or holds a blank, a quote, an '='
 * or a control byte; anything else (a backslash too) goes as is. */
static bool
needs_quotes(const char *s, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '"' || c == '=' || is_control(c))
            return true;
    }
    return false;
}

static void
put_escaped_byte(struct line *l, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[4] = {'\\', (char)c, 0, 0};
    size_t n = 2;
    if (c == '\n')
        e[1] = 'n';
    else if (c == '\r')
        e[1] = 'r';
    else if (c == '\t')
        e[1] = 't';
    else if (is_control(c)) {
        e[1] = 'x';
        e[2] = hex[c >> 4];
        e[3] = hex[c & 15];
        n = 4;
    } else if (c != '"' && c != '\\') {
        e[0] = (char)c;
        n = 1;
    }
    put(l, e, n);
}

static void
put_value(struct line *l, const char *s, size_t n)
{
    if (!needs_quotes(s, n)) {
        put_text(l, s, n);
        return;
    }
    if (!put(l, "\"", 1))
        return;
    l->quoted = true;
    for (size_t i = 0; i < n; i++)
        put_escaped_byte(l, (unsigned char)s[i]);
    if (put(l, "\"", 1))
        l->quoted = false;
}

static bool
is_key_start(char c)
{
    return (c >= 'a' && c <= 'z') || c == '_';
}

static bool
is_key_char(char c)
{
    return is_key_start(c) || (c >= '0' && c <= '9');
}

/* Length of the key when 's' starts with "key=", else 0. */
static size_t
field_key_len(const char *s)
{
    if (!is_key_start(s[0]))
        return 0;
    size_t n = 1;
    while (is_key_char(s[n]))
        n++;
    return s[n] == '=' ? n : 0;
}

/* The first field ("key=" after a blank, or at 'p' itself when
 * 'at_start') at or after 'p'; the end of the text when none. */
static const char *
next_field(const char *p, bool at_start)
{
    for (const char *q = p; *q != '\0'; q++)
        if ((q == p ? at_start : q[-1] == ' ') && field_key_len(q) > 0)
            return q;
    return p + strlen(p);
}

/* Length of s[0..n) without its trailing blanks. */
static size_t
trim_end(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        n--;
    return n;
}

/* A leading "module: " (lower-case letters, digits, '_', '-'): its
 * length without the ": ", or 0. */
static size_t
module_len(const char *s)
{
    size_t n = 0;
    if (s[0] < 'a' || s[0] > 'z')
        return 0;
    while (is_key_char(s[n]) || s[n] == '-')
        n++;
    return s[n] == ':' && s[n + 1] == ' ' ? n : 0;
}

static void
put_prefix(struct line *l, enum log_level level, bool journal)
{
    char head[64];
    if (journal) {
        snprintf(head, sizeof head, "<%d>", journal_priorities[level]);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(head + n, sizeof head - n, ".%03ldZ ", ts.tv_nsec / 1000000);
    }
    put_str(l, head);
    put_str(l, "level=");
    put_str(l, level_names[level]);
}

/* " key=value" for every field of 'p' (which starts at a field). */
static void
put_fields(struct line *l, const char *p)
{
    while (*p != '\0') {
        size_t k = field_key_len(p);
        const char *value = p + k + 1;
        const char *next = next_field(value, false);
        put_str(l, " ");
        put(l, p, k + 1);
        put_value(l, value, trim_end(value, (size_t)(next - value)));
        p = next;
    }
}

size_t
log_format_line(char *out, enum log_level level, bool journal, const char *text)
{
    struct line l = {.buf = out};
    if (level >= LOG_OFF)
        level = LOG_ERROR;
    put_prefix(&l, level, journal);
    size_t m = module_len(text);
    if (m > 0) {
        put_str(&l, " module=");
        put(&l, text, m);
        text += m + 2;
    }
    while (*text == ' ')
        text++;
    const char *fields = next_field(text, true);
    size_t msg_len = trim_end(text, (size_t)(fields - text));
    if (msg_len > 0) {
        put_str(&l, " msg=");
        put_value(&l, text, msg_len);
    }
    put_fields(&l, fields);
    if (l.cut) { /* TAIL_ROOM keeps room for these */
        memcpy(out + l.len, "...", 3);
        l.len += 3;
        if (l.quoted)
            out[l.len++] = '"';
    }
    out[l.len++] = '\n';
    return l.len;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&min_level) || level >= LOG_OFF)
        return;
    /* A text cut here is longer than any line, so the line shows the
     * cut too. */
    char text[LOG_LINE_MAX], line[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (m < 0)
        text[0] = '\0';
    int fd = atomic_load(&log_fd);
    bool journal = fd == STDERR_FILENO && atomic_load(&stderr_is_journal);
    size_t n = log_format_line(line, level, journal, text);
    ssize_t w;
    do
        w = write(fd, line, n);
    while (w < 0 && errno == EINTR);
    /* Nowhere left to report a failed log write. */
}

/* --- where lines go --------------------------------------------------- */

/* Opens the log file on a descriptor above stderr: were 0-2 closed, the
 * file could otherwise take number 2 and pass for stderr. */
static int
open_log_path(const char *path)
{
    int fd =
        open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0 || fd > STDERR_FILENO)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    int e = errno;
    close(fd);
    errno = e;
    return high;
}

/* Puts 'fd' in place of the current log file's descriptor (dup3 is
 * atomic: writers never see the number closed) and closes 'fd'. */
static st_status
swap_in(int fd, const char *path, struct st_error *err)
{
    int cur = atomic_load(&log_fd);
    if (dup3(fd, cur, O_CLOEXEC) < 0) {
        int e = errno;
        close(fd);
        return st_error_set(err, ST_IO, e, "dup3 over the log file for %s",
                            path);
    }
    close(fd);
    return ST_OK;
}

st_status
log_open_file(const char *path, struct st_error *err)
{
    int fd = open_log_path(path);
    if (fd < 0)
        return st_error_set(err, ST_IO, errno, "open log file %s", path);
    char *copy = strdup(path);
    if (copy == NULL) {
        close(fd);
        return st_error_set(err, ST_NOMEM, 0, "copy of log path %s", path);
    }
    if (log_path != NULL) {
        st_status s = swap_in(fd, path, err);
        if (s != ST_OK) {
            free(copy);
            return s;
        }
    } else {
        atomic_store(&log_fd, fd);
    }
    free(log_path);
    log_path = copy;
    return ST_OK;
}

st_status
log_reopen(struct st_error *err)
{
    if (log_path == NULL)
        return ST_OK;
    int fd = open_log_path(log_path);
    if (fd < 0)
        return st_error_set(err, ST_IO, errno, "reopen log file %s", log_path);
    return swap_in(fd, log_path, err);
}

bool
log_to_file(void)
{
    return log_path != NULL;
}

void
log_close(void)
{
    if (log_path == NULL)
        return;
    int fd = atomic_exchange(&log_fd, STDERR_FILENO);
    close(fd);
    free(log_path);
    log_path = NULL;
}

bool
log_detect_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    char extra;
    struct stat st;
    bool match = env != NULL &&
                 sscanf(env, "%llu:%llu%c", &dev, &ino, &extra) == 2 &&
                 fstat(STDERR_FILENO, &st) == 0 &&
                 (unsigned long long)st.st_dev == dev &&
                 (unsigned long long)st.st_ino == ino;
    atomic_store(&stderr_is_journal, match);
    return match;
}

/* --- log_escape ------------------------------------------------------- */

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
