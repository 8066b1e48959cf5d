/*
 * JSON in and out of the HTTP API. Decoding uses json-c in strict mode
 * with UTF-8 validation (PITFALLS.md, "json-c"); encoding is a small
 * escaper of our own that appends to an st_buf, so a response costs no
 * json-c objects and its length is known exactly.
 *
 * Values are bytes that were valid UTF-8 when they came in as JSON, so
 * they can always be written back as a JSON string.
 */
#ifndef STRATA_API_JSON_IO_H
#define STRATA_API_JSON_IO_H

#include <stdbool.h>

#include "util/slice.h"
#include "util/status.h"

/* Decodes the body of POST /set: an object whose only member is "value",
 * a string. On ST_OK 'value' holds the decoded bytes (NULs included).
 * On ST_INVALID *why is a static message for the client; ST_NOMEM when
 * memory runs out. Rejects: bad or truncated JSON, trailing garbage,
 * invalid UTF-8, a non-object, a missing, non-string or duplicate "value",
 * other members, and lone UTF-16 surrogate escapes (json-c would turn them
 * into U+FFFD, so the value would not round-trip). */
st_status json_decode_set_body(st_slice body, struct st_buf *value,
                               const char **why);

/* Appends 's' as a quoted, escaped JSON string. false on ST_NOMEM. */
bool json_append_string(struct st_buf *out, st_slice s);

/* Appends literal JSON text (a C string we wrote ourselves). */
bool json_append_raw(struct st_buf *out, const char *text);

/* Appends an unsigned integer. */
bool json_append_u64(struct st_buf *out, uint64_t v);

/* Appends base64 (RFC 4648, with padding) of 's', quoted. */
bool json_append_base64(struct st_buf *out, st_slice s);

/* true when 's' is well-formed UTF-8 (no overlongs, no surrogates, at most
 * U+10FFFF): only such bytes may go into a JSON string. */
bool json_utf8_valid(st_slice s);

/* Replaces 'out' with {"error":"<msg>"}. */
bool json_error_body(struct st_buf *out, const char *msg);

#endif
