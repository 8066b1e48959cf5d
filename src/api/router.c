/*
 * Routing and the HTTP contract of DESIGN.md (see router.h). Each route
 * is a small handler; the shared steps are taking the key out of the
 * path, and answering an error as {"error": "..."}.
 */
#include "api/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_status.h"
#include "api/json_io.h"
#include "api/prom_text.h"
#include "api/stat_metrics.h"
#include "api/uri.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

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

/* Completes ctx->resp, whose body is written: status, no Allow, and the
 * body's content type. */
static const struct api_response *
answer(struct api_context *ctx, int status, const char *content_type)
{
    ctx->resp.status = status;
    ctx->resp.allow = NULL;
    ctx->resp.content_type = content_type;
    return &ctx->resp;
}

const struct api_response *
api_error(struct api_context *ctx, int status, const char *msg)
{
    answer(ctx, status, API_JSON_CONTENT_TYPE);
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
    ctx->resp.body.len = 0;
    if (!json_append_raw(&ctx->resp.body, json))
        return api_error(ctx, 500, "out of memory");
    return answer(ctx, 200, API_JSON_CONTENT_TYPE);
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
    return answer(ctx, 200, API_JSON_CONTENT_TYPE);
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
    return answer(ctx, 200, API_JSON_CONTENT_TYPE);
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
    return answer(ctx, 200, API_JSON_CONTENT_TYPE);
}

/* --- /metrics --- */

struct figures {
    struct stat_figure items[STAT_METRICS_MAX_FIGURES];
    size_t count;
};

static void
collect_figure(void *arg, const char *name, uint64_t value)
{
    struct figures *f = arg;
    if (f->count < STAT_METRICS_MAX_FIGURES)
        f->items[f->count++] = (struct stat_figure){name, value};
}

static bool
write_process_info(struct api_context *ctx, struct st_buf *out)
{
    struct prom_label info[] = {{"version", PACKAGE_VERSION},
                                {"engine", store_engine_name(ctx->store)}};
    return prom_write_family(out, "strata_build_info", PROM_GAUGE,
                             "Always 1; the labels name the version of "
                             "stratad and its engine.") &&
           prom_write_sample(out, "strata_build_info", info, 2, prom_int(1)) &&
           prom_write_family(out, "strata_up", PROM_GAUGE,
                             "1 while the worker answers.") &&
           prom_write_sample(out, "strata_up", NULL, 0, prom_int(1));
}

/* The page is built whole, like every other answer: a few kilobytes,
 * into the context's reused buffer. */
static const struct api_response *
handle_metrics(struct api_context *ctx)
{
    struct st_buf *out = &ctx->resp.body;
    out->len = 0;
    /* Held off the stack: a few KiB, and this is no hot path. */
    struct figures *f = malloc(sizeof *f);
    if (f == NULL)
        return api_error(ctx, 500, "out of memory");
    f->count = 0;
    store_stats(ctx->store, collect_figure, f);
    bool ok = write_process_info(ctx, out) &&
              (ctx->metrics == NULL || http_metrics_write(ctx->metrics, out)) &&
              stat_metrics_write(out, f->items, f->count);
    free(f);
    if (!ok)
        return api_error(ctx, 500, "out of memory");
    return answer(ctx, 200, PROM_TEXT_CONTENT_TYPE);
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
    return answer(ctx, 200, API_JSON_CONTENT_TYPE);
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

static const struct api_response *
route_metrics(struct api_context *ctx, const struct api_request *req,
              st_slice q)
{
    return handle_metrics(ctx);
}

struct route {
    const char *path;  /* exact path, or prefix when 'keyed' */
    bool keyed;        /* the rest of the path is the {key} */
    const char *allow; /* the methods it takes, for 405's Allow */
    route_fn fn;
    enum http_route id;
};

static const struct route routes[] = {
    {"/set/", true, "POST", route_set, HTTP_ROUTE_SET},
    {"/get/", true, "GET, HEAD", route_get, HTTP_ROUTE_GET},
    {"/delete/", true, "DELETE", route_delete, HTTP_ROUTE_DELETE},
    {"/health", false, "GET, HEAD", route_health, HTTP_ROUTE_HEALTH},
    {"/stats", false, "GET, HEAD", route_stats, HTTP_ROUTE_STATS},
    {"/range", false, "GET, HEAD", route_range, HTTP_ROUTE_RANGE},
    {"/metrics", false, "GET, HEAD", route_metrics, HTTP_ROUTE_METRICS},
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

/* Takes STRATA_PREFIX off the front of 'uri'. false when the URI is not
 * under it: "/kv" must be followed by '/', so neither "/kvx/get/a" nor
 * "/kv" itself is. A trailing '/' of the prefix is not part of it, so
 * "/kv/" works as "/kv" does. */
static bool
strip_prefix(st_slice prefix, st_slice *uri)
{
    while (prefix.len > 0 && prefix.ptr[prefix.len - 1] == '/')
        prefix.len--;
    if (prefix.len == 0)
        return true;
    if (uri->len <= prefix.len || memcmp(uri->ptr, prefix.ptr, prefix.len) ||
        uri->ptr[prefix.len] != '/')
        return false;
    uri->ptr += prefix.len;
    uri->len -= prefix.len;
    return true;
}

/* The route the request's URI names, or NULL; on a match *query is the
 * query string and *rest what follows the route's path. */
static const struct route *
find_route(const struct api_request *req, st_slice *query, st_slice *rest,
           bool *outside_prefix)
{
    st_slice uri = req->uri, path;
    *outside_prefix = !strip_prefix(req->prefix, &uri);
    if (*outside_prefix)
        return NULL;
    uri_split(uri, &path, query);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (route_matches(&routes[i], path, rest))
            return &routes[i];
    return NULL;
}

const struct api_response *
api_handle(struct api_context *ctx, const struct api_request *req)
{
    st_slice query, rest;
    bool outside;
    const struct route *r = find_route(req, &query, &rest, &outside);
    ctx->resp.route = r != NULL ? r->id : HTTP_ROUTE_OTHER;
    if (outside)
        return api_error(ctx, 404, "not found");
    if (r == NULL)
        return api_error(ctx, 404, "no such endpoint");
    if (!method_allowed(r, req->method))
        return method_not_allowed(ctx, r->allow);
    const char *why = r->keyed ? take_key(ctx, rest) : NULL;
    if (why != NULL)
        return api_error(ctx, 400, why);
    return r->fn(ctx, req, query);
}

const struct api_response *
api_refuse(struct api_context *ctx, const struct api_request *req, int status,
           const char *msg)
{
    st_slice query, rest;
    bool outside;
    const struct route *r =
        req->uri.ptr != NULL ? find_route(req, &query, &rest, &outside) : NULL;
    api_error(ctx, status, msg);
    ctx->resp.route = r != NULL ? r->id : HTTP_ROUTE_OTHER;
    return &ctx->resp;
}
