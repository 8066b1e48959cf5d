/*
 * Logging, one line per event: the level, then key=value fields
 * (logfmt), so that journald, grep and log shippers all read it:
 *
 *   2026-11-25T14:18:10.123Z level=warn module=file msg="cut torn tail"
 *       file=000003.log off=4096                          (one line)
 *
 * Call sites write plain printf text in one convention,
 *
 *   [module: ]message [key=value]...
 *
 * e.g. log_warn("file: cut torn tail file=%s off=%llu", name, off), and
 * the writer turns it into fields: a leading "word: " becomes module=,
 * the text up to the first " key=" becomes msg=, and each value runs up
 * to the next " key=" (key: [a-z_][a-z0-9_]*), so values may hold
 * spaces (an error message) and are quoted and escaped where logfmt
 * needs it. Never put quotes around a %s yourself.
 *
 * Where lines go: stderr by default, or the file of log_open_file(). When
 * stderr is journald's stream (JOURNAL_STREAM names its device and inode;
 * see log_detect_journal), lines carry no timestamp, since journald
 * stamps them, and start with the syslog priority, "<4>level=warn ...",
 * so that journald keeps the level.
 *
 * Threads: log_msg() may run on any number of threads at once, also
 * while log_reopen() runs. Each line is one write(2) (O_APPEND for a
 * file), so lines never mix or tear. The other functions belong to the
 * main thread.
 */
#ifndef STRATA_UTIL_LOG_H
#define STRATA_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/slice.h"
#include "util/status.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

/* The longest line written, newline included; longer ones are cut and
 * end in "..." (and a closing quote when cut inside a quoted value). */
enum { LOG_LINE_MAX = 1024 };

/* Messages below 'level' are dropped. Default LOG_INFO. */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn", "error", "off"; -1 when unknown. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Renders one event as log_msg() would write it, into 'out' (the
 * caller's, at least LOG_LINE_MAX bytes), newline included; returns its
 * length. 'journal' selects journald's form. For tests and for anyone
 * who needs the line itself. */
size_t log_format_line(char *out, enum log_level level, bool journal,
                       const char *text);

/* Appends lines to 'path' from now on, instead of stderr: opened
 * O_APPEND | O_CLOEXEC, created with mode 0640 (less the umask). The
 * path is copied. Calling it again switches to another file. ST_IO with
 * a message naming the path when it cannot be opened (nothing changes
 * then). */
st_status log_open_file(const char *path, struct st_error *err);

/* Opens the log file's path again and puts the new file in place of
 * the old one, for logrotate (which renames the file, then sends
 * SIGHUP). The swap is a dup3() over the descriptor every thread writes
 * to, so a line written meanwhile lands whole in the old file or in the
 * new one, never lost. ST_OK and nothing done when logging to stderr;
 * ST_IO when the path cannot be opened (lines keep going to the old
 * file). */
st_status log_reopen(struct st_error *err);

/* Whether lines go to a file (log_open_file), not stderr. */
bool log_to_file(void);

/* Goes back to stderr and closes the log file. REQUIRES: no other thread
 * logs any more. */
void log_close(void);

/* Looks at JOURNAL_STREAM and stderr once, and from then on writes
 * journald's form to stderr when they match. Returns whether they do. */
bool log_detect_journal(void);

/* Writes a printable, escaped and cut form of arbitrary bytes into 'out'
 * (always NUL-terminated), for putting keys into log lines safely. */
void log_escape(st_slice bytes, char *out, size_t cap);

#endif
