/*
 * One small status enum for every layer, and an optional error record with
 * the detail a person needs ("fsync data/file/000003.log: No space left on
 * device"). Functions take 'struct st_error *err' last; it may be NULL.
 */
#ifndef STRATA_UTIL_STATUS_H
#define STRATA_UTIL_STATUS_H

typedef enum {
    ST_OK = 0,
    ST_NOT_FOUND,   /* an answer, not a failure */
    ST_INVALID,     /* the caller's input is wrong */
    ST_CORRUPT,     /* stored bytes fail their checks */
    ST_IO,          /* the OS refused a file operation */
    ST_NOMEM,       /* an allocation failed */
    ST_UNSUPPORTED, /* this engine cannot do that (e.g. scan on a hash) */
    ST_READONLY,    /* writes refused after a failed fsync, until restart */
    ST_BUSY,        /* the resource is held by someone else (data-dir lock) */
} st_status;

enum { ST_ERROR_MSG_LEN = 256 };

struct st_error {
    st_status code;
    int errnum; /* saved errno, 0 when none */
    char msg[ST_ERROR_MSG_LEN];
};

/* A static name for the code, e.g. "not found". */
const char *st_status_str(st_status s);

/* Fills 'err' (when not NULL) and returns 'code', so callers can write
 * 'return st_error_set(err, ST_IO, errno, "open %s", path);'. The message
 * gets ": strerror(errnum)" appended when errnum is not 0. */
st_status st_error_set(struct st_error *err, st_status code, int errnum,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Resets 'err' (when not NULL) to ST_OK with an empty message. */
void st_error_clear(struct st_error *err);

#endif
