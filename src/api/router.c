/*
 * Routing and the HTTP contract of DESIGN.md (see router.h). Each route
 * is a small handler; the shared steps are taking the key out of the
 * path, and answering an error as {"error": "..."}.
 */
#include "api/router.h"

#include <stdio.h>
#include <string.h>

#include "api/http_status.h"
#include "api/json_io.h"
#include "api/uri.h"

enum {
    RANGE_DEFAULT_LIMIT = 100,
    RANGE_MAX_LIMIT = 1000,
};

void
api_context_init(struct api_context *ctx, struct store *store)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->store = store;
}

void
api_context_deinit(struct api_context *ctx)
{
    st_buf_free(&ctx->key);
    st_buf_free(&ctx->value);
    st_buf_free(&ctx->param);
    st_buf_free(&ctx->resp.body);
}

const struct api_response *
api_error(struct api_context *ctx, int status, const char *msg)
{
    ctx->resp.status = status;
    ctx->resp.allow = NULL;
    if (!json_error_body(&ctx->resp.body, msg)) {
        /* Even the error did not fit: answer with a body we need not
         * build. The buffer keeps whatever it had, so reset it. */
        ctx->resp.status = 500;
        ctx->resp.body.len = 0;
    }
    return &ctx->resp;
}

static const struct api_response *
storage_error(struct api_context *ctx, st_status s, const struct st_error *e)
{
    const char *msg = e->msg[0] ? e->msg : st_status_str(s);
    return api_error(ctx, http_status_for(s), msg);
}

static const struct api_response *
ok_body(struct api_context *ctx, const char *json)
{
    ctx->resp.status = 200;
    ctx->resp.allow = NULL;
    ctx->resp.body.len = 0;
    if (!json_append_raw(&ctx->resp.body, json))
        return api_error(ctx, 500, "out of memory");
    return &ctx->resp;
}

static const struct api_response *
method_not_allowed(struct api_context *ctx, const char *allow)
{
    char msg[64];
    snprintf(msg, sizeof msg, "method not allowed: use %s", allow);
    api_error(ctx, 405, msg);
    ctx->resp.allow = allow;
    return &ctx->resp;
}

/* Decodes the single path segment after a route prefix into ctx->key.
 * NULL on success, else the error message for a 400. */
static const char *
take_key(struct api_context *ctx, st_slice segment)
{
    if (segment.len == 0)
        return "empty key";
    if (memchr(segment.ptr, '/', segment.len) != NULL)
        return "key must be one path segment: encode '/' as %2F";
    st_status s = uri_decode(segment, &ctx->key);
    if (s == ST_NOMEM)
        return "out of memory";
    if (s != ST_OK)
        return "bad percent-encoding in key";
    st_slice k = st_buf_slice(&ctx->key);
    /* nginx resolves dot segments before it picks a location, so such a
     * key would be routed by a path that differs from it. */
    if (st_slice_equal(k, st_slice_from_cstr(".")) ||
        st_slice_equal(k, st_slice_from_cstr("..")))
        return "the keys '.' and '..' are not allowed";
    if (k.len > store_get_limits(ctx->store)->max_key_len)
        return "key too long";
    return NULL;
}

static const struct api_response *
handle_set(struct api_context *ctx, st_slice body)
{
    const char *why = NULL;
    st_status s = json_decode_set_body(body, &ctx->value, &why);
    if (s != ST_OK)
        return api_error(ctx, s == ST_NOMEM ? 500 : 400, why);
    size_t limit = store_get_limits(ctx->store)->max_value_len;
    if (ctx->value.len > limit) {
        char msg[96];
        snprintf(msg, sizeof msg, "value too large: %zu bytes, limit %zu",
                 ctx->value.len, limit);
        return api_error(ctx, 413, msg);
    }
    struct st_error err = {0};
    s = store_set(ctx->store, st_buf_slice(&ctx->key),
                  st_buf_slice(&ctx->value), &err);
    if (s != ST_OK)
        return storage_error(ctx, s, &err);
    return ok_body(ctx, "{\"status\":\"ok\"}");
}

static const struct api_response *
handle_get(struct api_context *ctx)
{
    struct st_error err = {0};
    st_status s =
        store_get(ctx->store, st_buf_slice(&ctx->key), &ctx->value, &err);
    if (s == ST_NOT_FOUND)
        return api_error(ctx, 404, "key not found");
    if (s != ST_OK)
        return storage_error(ctx, s, &err);
    struct st_buf *out = &ctx->resp.body;
    out->len = 0;
    if (!json_append_raw(out, "{\"value\":") ||
        !json_append_string(out, st_buf_slice(&ctx->value)) ||
        !json_append_raw(out, "}"))
        return api_error(ctx, 500, "out of memory");
    ctx->resp.status = 200;
    ctx->resp.allow = NULL;
    return &ctx->resp;
}

static const struct api_response *
handle_delete(struct api_context *ctx)
{
    struct st_error err = {0};
    st_status s = store_delete(ctx->store, st_buf_slice(&ctx->key), &err);
    if (s == ST_NOT_FOUND)
        return api_error(ctx, 404, "key not found");
    if (s != ST_OK)
        return storage_error(ctx, s, &err);
    return ok_body(ctx, "{\"status\":\"ok\"}");
}

static const struct api_response *
handle_health(struct api_context *ctx)
{
    if (!store_is_writable(ctx->store))
        return api_error(ctx, 503,
                         "engine refuses writes after a storage error; "
                         "restart the worker");
    struct st_buf *out = &ctx->resp.body;
    out->len = 0;
    if (!json_append_raw(out, "{\"status\":\"ok\",\"engine\":") ||
        !json_append_string(
            out, st_slice_from_cstr(store_engine_name(ctx->store))) ||
        !json_append_raw(out, "}"))
        return api_error(ctx, 500, "out of memory");
    ctx->resp.status = 200;
    ctx->resp.allow = NULL;
    return &ctx->resp;
}

struct stats_writer {
    struct st_buf *out;
    bool ok;
};

static void
write_stat(void *arg, const char *name, uint64_t value)
{
    struct stats_writer *w = arg;
    w->ok = w->ok && json_append_raw(w->out, ",") &&
            json_append_string(w->out, st_slice_from_cstr(name)) &&
            json_append_raw(w->out, ":") && json_append_u64(w->out, value);
}

static const struct api_response *
handle_stats(struct api_context *ctx)
{
    struct st_buf *out = &ctx->resp.body;
    out->len = 0;
    struct stats_writer w = {out, true};
    w.ok = json_append_raw(out, "{\"engine\":") &&
           json_append_string(
               out, st_slice_from_cstr(store_engine_name(ctx->store)));
    store_stats(ctx->store, write_stat, &w);
    if (!w.ok || !json_append_raw(out, "}"))
        return api_error(ctx, 500, "out of memory");
    ctx->resp.status = 200;
    ctx->resp.allow = NULL;
    return &ctx->resp;
}

/* --- /range --- */

struct range_writer {
    struct st_buf *out;
    size_t limit, count;
    bool more; /* an item past the limit exists: 'next' is its key */
    bool ok;
};

/* Writes "name":"<utf-8>" or, for bytes that are not UTF-8,
 * "name_b64":"<base64>" (DESIGN.md, /range). */
static bool
append_member(struct st_buf *out, const char *name, st_slice bytes)
{
    bool utf8 = json_utf8_valid(bytes);
    return json_append_raw(out, "\"") && json_append_raw(out, name) &&
           json_append_raw(out, utf8 ? "\":" : "_b64\":") &&
           (utf8 ? json_append_string(out, bytes)
                 : json_append_base64(out, bytes));
}

static bool
write_range_item(void *arg, st_slice key, st_slice val)
{
    struct range_writer *w = arg;
    if (w->count == w->limit) {
        w->more = true;
        w->ok = w->ok && json_append_raw(w->out, "],") &&
                append_member(w->out, "next", key);
        return false;
    }
    w->ok = w->ok && json_append_raw(w->out, w->count ? ",{" : "{") &&
            append_member(w->out, "key", key) && json_append_raw(w->out, ",") &&
            append_member(w->out, "value", val) && json_append_raw(w->out, "}");
    w->count++;
    return w->ok;
}

/* Parses limit=N: digits only, 1..RANGE_MAX_LIMIT. */
static bool
parse_limit(st_slice text, size_t *limit)
{
    if (text.len == 0 || text.len > 4)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < text.len; i++) {
        if (text.ptr[i] < '0' || text.ptr[i] > '9')
            return false;
        n = n * 10 + (size_t)(text.ptr[i] - '0');
    }
    if (n < 1 || n > RANGE_MAX_LIMIT)
        return false;
    *limit = n;
    return true;
}

/* Reads one optional parameter into 'out'; NULL or the 400 message. */
static const char *
range_param(st_slice query, const char *name, struct st_buf *out, bool *present)
{
    st_status s = uri_query_param(query, name, out);
    *present = s == ST_OK;
    if (s == ST_OK || s == ST_NOT_FOUND)
        return NULL;
    return s == ST_NOMEM ? "out of memory"
                         : "bad or repeated parameter in the query";
}

static const struct api_response *
handle_range(struct api_context *ctx, st_slice query)
{
    if (!store_is_sorted(ctx->store))
        return api_error(ctx, 501,
                         "this engine keeps no key order: /range needs a "
                         "sorted engine (lsm)");
    bool has_start, has_end, has_limit;
    size_t limit = RANGE_DEFAULT_LIMIT;
    const char *why = range_param(query, "limit", &ctx->param, &has_limit);
    if (why == NULL && has_limit &&
        !parse_limit(st_buf_slice(&ctx->param), &limit))
        why = "limit must be a whole number from 1 to 1000";
    if (why == NULL)
        why = range_param(query, "start", &ctx->key, &has_start);
    if (why == NULL)
        why = range_param(query, "end", &ctx->param, &has_end);
    if (why != NULL)
        return api_error(ctx, 400, why);

    struct st_buf *out = &ctx->resp.body;
    out->len = 0;
    struct range_writer w = {out, limit, 0, false,
                             json_append_raw(out, "{\"items\":[")};
    st_slice start = has_start ? st_buf_slice(&ctx->key) : (st_slice){0};
    struct st_error err = {0};
    st_status s = store_scan(ctx->store, start, st_buf_slice(&ctx->param),
                             has_end, write_range_item, &w, &err);
    if (s != ST_OK)
        return storage_error(ctx, s, &err);
    if (!w.ok || !json_append_raw(out, w.more ? "}" : "]}"))
        return api_error(ctx, 500, "out of memory");
    ctx->resp.status = 200;
    ctx->resp.allow = NULL;
    return &ctx->resp;
}

/* --- dispatch --- */

typedef const struct api_response *(*route_fn)(struct api_context *ctx,
                                               const struct api_request *req,
                                               st_slice query);

static const struct api_response *
route_set(struct api_context *ctx, const struct api_request *req, st_slice q)
{
    return handle_set(ctx, req->body);
}

static const struct api_response *
route_get(struct api_context *ctx, const struct api_request *req, st_slice q)
{
    return handle_get(ctx);
}

static const struct api_response *
route_delete(struct api_context *ctx, const struct api_request *req, st_slice q)
{
    return handle_delete(ctx);
}

static const struct api_response *
route_health(struct api_context *ctx, const struct api_request *req, st_slice q)
{
    return handle_health(ctx);
}

static const struct api_response *
route_stats(struct api_context *ctx, const struct api_request *req, st_slice q)
{
    return handle_stats(ctx);
}

static const struct api_response *
route_range(struct api_context *ctx, const struct api_request *req, st_slice q)
{
    return handle_range(ctx, q);
}

struct route {
    const char *path;  /* exact path, or prefix when 'keyed' */
    bool keyed;        /* the rest of the path is the {key} */
    const char *allow; /* the methods it takes, for 405's Allow */
    route_fn fn;
};

static const struct route routes[] = {
    {"/set/", true, "POST", route_set},
    {"/get/", true, "GET, HEAD", route_get},
    {"/delete/", true, "DELETE", route_delete},
    {"/health", false, "GET, HEAD", route_health},
    {"/stats", false, "GET, HEAD", route_stats},
    {"/range", false, "GET, HEAD", route_range},
};

/* HEAD is answered as GET; the FastCGI layer leaves out the body. */
static bool
method_allowed(const struct route *r, const char *method)
{
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    size_t n = strlen(method);
    const char *a = r->allow;
    return strncmp(a, method, n) == 0 && (a[n] == '\0' || a[n] == ',');
}

/* On a match *rest is what follows the route's path. */
static bool
route_matches(const struct route *r, st_slice path, st_slice *rest)
{
    size_t n = strlen(r->path);
    if (path.len < n || memcmp(path.ptr, r->path, n) != 0)
        return false;
    if (!r->keyed && path.len != n)
        return false;
    *rest = (st_slice){path.ptr + n, path.len - n};
    return true;
}

const struct api_response *
api_handle(struct api_context *ctx, const struct api_request *req)
{
    st_slice path, query, rest;
    uri_split(req->uri, &path, &query);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        if (!route_matches(r, path, &rest))
            continue;
        if (!method_allowed(r, req->method))
            return method_not_allowed(ctx, r->allow);
        const char *why = r->keyed ? take_key(ctx, rest) : NULL;
        if (why != NULL)
            return api_error(ctx, 400, why);
        return r->fn(ctx, req, query);
    }
    return api_error(ctx, 404, "no such endpoint");
}
