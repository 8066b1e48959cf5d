/*
 * A configuration file of "key = value" lines, read line by line and
 * handed to a callback; what the keys mean is the caller's business
 * (stratad's options, src/options.c).
 *
 * The syntax, kept small on purpose:
 *   - one setting per line: key, '=', value; blanks (spaces and tabs)
 *     around the key and the value are dropped; the value is the rest of
 *     the line after the first '=', so it may hold '=', '#' and inner
 *     blanks;
 *   - a line whose first non-blank character is '#' is a comment, and
 *     blank lines are skipped; there are no trailing comments
 *     ("threads = 8 # more" has the value "8 # more");
 *   - no quotes and no escapes: a value starting with a quote is refused
 *     rather than taken with its quotes;
 *   - lines end with LF or CRLF; the last one needs no newline; at most
 *     CONFIG_FILE_LINE_MAX bytes each, and no NUL bytes.
 */
#ifndef STRATA_UTIL_CONFIG_FILE_H
#define STRATA_UTIL_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>

enum { CONFIG_FILE_LINE_MAX = 4096, CONFIG_FILE_MSG_LEN = 512 };

/* Receives one setting: 'key' and 'value' are trimmed, non-empty and
 * borrowed for the call only. Returns true to go on; false stops the
 * reading, with the reason written into 'why' (NUL-terminated, at most
 * 'why_cap' bytes), e.g. "key 'threads': takes a number from 1 to 1024,
 * not 'x'". */
typedef bool (*config_file_fn)(void *ctx, const char *key, const char *value,
                               unsigned line, char *why, size_t why_cap);

struct config_file_error {
    unsigned line; /* 1-based; 0 when about the file as a whole */
    char msg[CONFIG_FILE_MSG_LEN];
};

/* Reads 'path' and calls 'fn' for each setting, in file order. Returns
 * true when the whole file was read and every call returned true;
 * otherwise false with 'err' filled: a line that breaks the syntax
 * ("missing '='", "key 'threads': empty value", "line longer than 4096
 * bytes"), the callback's reason, or a file that cannot be opened or
 * read (line 0, "cannot open: No such file or directory"). */
bool config_file_read(const char *path, config_file_fn fn, void *ctx,
                      struct config_file_error *err);

#endif
