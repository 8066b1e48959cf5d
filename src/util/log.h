/*
 * Logging to stderr (journald under systemd), one line per event:
 *   2026-11-25T14:18:10.123Z WARN file: cut torn tail file=000003.log off=4096
 * Thread-safe; a line is written with one write(2) so lines never mix.
 */
#ifndef STRATA_UTIL_LOG_H
#define STRATA_UTIL_LOG_H

#include <stddef.h>

#include "util/slice.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

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

/* Writes a printable, escaped and cut form of arbitrary bytes into 'out'
 * (always NUL-terminated), for putting keys into log lines safely. */
void log_escape(st_slice bytes, char *out, size_t cap);

#endif
