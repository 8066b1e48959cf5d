/* Status names and error records (see status.h). */
#include "util/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *
st_status_str(st_status s)
{
    switch (s) {
    case ST_OK:
        return "ok";
    case ST_NOT_FOUND:
        return "not found";
    case ST_INVALID:
        return "invalid argument";
    case ST_CORRUPT:
        return "corrupt data";
    case ST_IO:
        return "i/o error";
    case ST_NOMEM:
        return "out of memory";
    case ST_UNSUPPORTED:
        return "not supported";
    case ST_READONLY:
        return "read-only after a storage error";
    case ST_BUSY:
        return "busy";
    }
    return "unknown status";
}

st_status
st_error_set(struct st_error *err, st_status code, int errnum, const char *fmt,
             ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->errnum = errnum;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (errnum != 0 && n >= 0 && (size_t)n < sizeof err->msg) {
        char reason[128];
        /* The GNU strerror_r may return a static string instead of
         * filling 'reason', so use what it returns. */
        const char *r = strerror_r(errnum, reason, sizeof reason);
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", r);
    }
    return code;
}

void
st_error_clear(struct st_error *err)
{
    if (err == NULL)
        return;
    err->code = ST_OK;
    err->errnum = 0;
    err->msg[0] = '\0';
}
