/*
 * HTTP status codes for strata's answers: which status a storage result
 * becomes, and the reason phrase for the CGI "Status:" header.
 */
#ifndef STRATA_API_HTTP_STATUS_H
#define STRATA_API_HTTP_STATUS_H

#include "util/status.h"

/* The status a failed store call answers with: ST_NOT_FOUND 404,
 * ST_INVALID 400, ST_UNSUPPORTED 501, ST_READONLY and ST_BUSY 503,
 * ST_CORRUPT, ST_IO and ST_NOMEM 500, ST_OK 200. */
int http_status_for(st_status s);

/* "OK", "Not Found" ...; "Unknown" for codes strata does not use. */
const char *http_reason(int code);

#endif
