/*
 * Request URIs as nginx passes them (REQUEST_URI, still encoded): split
 * off the query, percent-decode a key exactly once, read query params.
 * The key comes from REQUEST_URI and not from DOCUMENT_URI because nginx
 * has already decoded, slash-merged and dot-resolved the latter
 * (PITFALLS.md, "nginx front").
 */
#ifndef STRATA_API_URI_H
#define STRATA_API_URI_H

#include <stdbool.h>

#include "util/slice.h"
#include "util/status.h"

/* Splits 'uri' at the first '?': *path before it, *query after it (empty
 * when there is none). Both borrow from 'uri'. */
void uri_split(st_slice uri, st_slice *path, st_slice *query);

/* Percent-decodes 'in' into 'out' (replacing its contents). '+' stays a
 * literal plus. ST_INVALID for a '%' not followed by two hex digits;
 * ST_NOMEM when 'out' cannot grow. */
st_status uri_decode(st_slice in, struct st_buf *out);

/* Finds parameter 'name' in a query string ("a=1&b=2") and decodes its
 * value into 'out'. ST_NOT_FOUND when absent, ST_INVALID when present
 * twice or badly encoded. A parameter without '=' has an empty value. */
st_status uri_query_param(st_slice query, const char *name, struct st_buf *out);

#endif
