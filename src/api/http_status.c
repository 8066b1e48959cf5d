/* Storage results as HTTP statuses (see http_status.h). A read-only
 * engine is 503, not 500: the condition is the server's, it is lasting
 * until a restart, and a client may retry elsewhere. */
#include "api/http_status.h"

int
http_status_for(st_status s)
{
    switch (s) {
    case ST_OK:
        return 200;
    case ST_NOT_FOUND:
        return 404;
    case ST_INVALID:
        return 400;
    case ST_UNSUPPORTED:
        return 501;
    case ST_READONLY:
    case ST_BUSY:
        return 503;
    case ST_CORRUPT:
    case ST_IO:
    case ST_NOMEM:
        return 500;
    }
    return 500;
}

const char *
http_reason(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    }
    return "Unknown";
}
