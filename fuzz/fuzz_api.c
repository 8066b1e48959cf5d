/*
 * Fuzz target: the HTTP API as nginx hands it to the worker, api_handle()
 * of src/api/router.h, over a real store on the memory engine.
 *
 * Input: up to FUZZ_MAX_REQUESTS requests, each
 *
 *   method:1 | REQUEST_URI up to '\n' | body up to 0xff (never in UTF-8)
 *
 * where the method byte picks GET, POST, DELETE, HEAD or an odd method.
 * Every response must have a known status, an Allow header exactly on
 * 405, and a body that json-c parses strictly: {"error": "<string>"} and
 * nothing else for every status but 200 (a 200 of GET /metrics is
 * Prometheus text instead). A reference model (keys set in
 * this input, decoded by our own percent-decoder) checks the answers:
 * a 200 get returns the value the last 200 set stored, a get or delete
 * of a key the model lacks is 404. At the end every key is deleted again,
 * so each input starts from an empty store and a crash replays alone.
 */
#include <json-c/json.h>
#include <string.h>

#include "fuzz_common.h"

#include "api/prom_text.h"
#include "api/router.h"
#include "store.h"

enum {
    FUZZ_MAX_REQUESTS = 16,
    /* Small limits, so short inputs reach "key too long" and 413. */
    FUZZ_MAX_KEY = 40,
    FUZZ_MAX_VALUE = 300,
};

static struct store *store;
static struct api_context ctx;

struct model_entry {
    struct st_buf key, val;
    bool live;
};

static struct model_entry model[FUZZ_MAX_REQUESTS];
static size_t model_count;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *root = fuzz_scratch_dir();
    struct engine_options opt;
    engine_options_default(&opt);
    opt.background = false;
    struct store_limits lim = {FUZZ_MAX_KEY, FUZZ_MAX_VALUE};
    struct st_error err = {0};
    if (store_open("memory", root, &opt, &lim, &store, &err) != ST_OK) {
        fprintf(stderr, "fuzz_api: store_open: %s\n", err.msg);
        exit(2);
    }
    api_context_init(&ctx, store);
    return 0;
}

static int
hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The reference percent-decoder: false on a bad escape. */
static bool
ref_decode(st_slice in, struct st_buf *out)
{
    out->len = 0;
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.ptr[i];
        if (c == '%') {
            if (i + 2 >= in.len)
                return false;
            int hi = hex_value(in.ptr[i + 1]), lo = hex_value(in.ptr[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (uint8_t)(hi << 4 | lo);
            i += 2;
        }
        FUZZ_SETUP(st_buf_append(out, st_slice_make(&c, 1)));
    }
    return true;
}

static struct model_entry *
model_find(st_slice key)
{
    for (size_t i = 0; i < model_count; i++)
        if (st_slice_equal(st_buf_slice(&model[i].key), key))
            return &model[i];
    return NULL;
}

/* Parses the body strictly; NULL when it is not one whole JSON text
 * (trailing whitespace allowed). */
static json_object *
parse_json(const struct st_buf *body)
{
    json_tokener *tok = json_tokener_new();
    FUZZ_SETUP(tok != NULL);
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj =
        json_tokener_parse_ex(tok, (const char *)body->ptr, (int)body->len);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    while (end < body->len && strchr(" \t\r\n", body->ptr[end]) != NULL &&
           body->ptr[end] != '\0')
        end++;
    if (obj != NULL && end != body->len) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* The string member 'name' of 'obj' as a slice (borrowed from obj). */
static bool
string_member(json_object *obj, const char *name, st_slice *out)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, name, &v) ||
        !json_object_is_type(v, json_type_string))
        return false;
    *out = st_slice_make(json_object_get_string(v),
                         (size_t)json_object_get_string_len(v));
    return true;
}

/* Checks what every response must be; returns the parsed body (the
 * caller puts it). */
static json_object *
check_response(const struct api_response *r)
{
    switch (r->status) {
    case 200:
    case 400:
    case 404:
    case 405:
    case 413:
    case 501:
        break;
    default:
        FUZZ_CHECK(!"status outside the known set");
    }
    FUZZ_CHECK((r->status == 405) == (r->allow != NULL));
    if (r->route == HTTP_ROUTE_METRICS && r->status == 200) {
        /* GET /metrics is Prometheus text, the one answer not in JSON. */
        FUZZ_CHECK(strcmp(r->content_type, PROM_TEXT_CONTENT_TYPE) == 0);
        FUZZ_CHECK(r->body.len > 0 && r->body.ptr[r->body.len - 1] == '\n');
        return NULL;
    }
    FUZZ_CHECK(strcmp(r->content_type, API_JSON_CONTENT_TYPE) == 0);
    json_object *obj = parse_json(&r->body);
    FUZZ_CHECK(obj != NULL);
    FUZZ_CHECK(json_object_is_type(obj, json_type_object));
    if (r->status != 200) {
        st_slice msg;
        FUZZ_CHECK(json_object_object_length(obj) == 1);
        FUZZ_CHECK(string_member(obj, "error", &msg));
        FUZZ_CHECK(msg.len > 0);
    }
    return obj;
}

static const char *
pick_method(uint8_t b, char *odd, struct fuzz_input *in)
{
    static const char *const methods[] = {"GET", "POST", "DELETE", "HEAD",
                                          "PUT", "get", "",     "GETX"};
    if (b < 0xf0)
        return methods[b % (sizeof methods / sizeof methods[0])];
    /* Any other method, up to a space, as a C string. */
    size_t n;
    const uint8_t *m = fuzz_take_until(in, ' ', &n);
    n = n < 15 ? n : 15;
    memcpy(odd, m, n);
    odd[n] = '\0';
    return odd;
}

/* The route the path names, with its key part. */
static const char *
keyed_route(st_slice path, st_slice *rest)
{
    static const char *const prefixes[] = {"/set/", "/get/", "/delete/"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(prefixes[i]);
        if (path.len >= n && memcmp(path.ptr, prefixes[i], n) == 0) {
            *rest = st_slice_make(path.ptr + n, path.len - n);
            return prefixes[i];
        }
    }
    return NULL;
}

/* What the model says about a request that got a 200 or 404. */
static void
check_against_model(const char *method, st_slice uri, st_slice body,
                    const struct api_response *r, json_object *obj)
{
    st_slice path = uri, rest;
    const uint8_t *q = memchr(uri.ptr, '?', uri.len);
    if (q != NULL)
        path.len = (size_t)(q - uri.ptr);
    const char *route = keyed_route(path, &rest);
    if (route == NULL || (r->status != 200 && r->status != 404))
        return;
    struct st_buf key = {0};
    bool decoded = ref_decode(rest, &key);
    /* A 200 or 404 on a keyed route means the key was accepted. */
    FUZZ_CHECK(decoded);
    FUZZ_CHECK(key.len > 0 && key.len <= FUZZ_MAX_KEY);
    FUZZ_CHECK(memchr(rest.ptr, '/', rest.len) == NULL);
    struct model_entry *m = model_find(st_buf_slice(&key));
    bool live = m != NULL && m->live;

    if (strcmp(route, "/set/") == 0) {
        FUZZ_CHECK(r->status == 200);
        struct st_buf body_copy = {0};
        FUZZ_SETUP(st_buf_set(&body_copy, body));
        json_object *req = parse_json(&body_copy);
        st_buf_free(&body_copy);
        st_slice val;
        FUZZ_CHECK(req != NULL && string_member(req, "value", &val));
        if (m == NULL) {
            FUZZ_CHECK(model_count < FUZZ_MAX_REQUESTS);
            m = &model[model_count++];
            FUZZ_SETUP(st_buf_set(&m->key, st_buf_slice(&key)));
        }
        FUZZ_SETUP(st_buf_set(&m->val, val));
        m->live = true;
        json_object_put(req);
    } else if (strcmp(route, "/get/") == 0) {
        FUZZ_CHECK((r->status == 200) == live);
        st_slice got;
        if (live) {
            FUZZ_CHECK(json_object_object_length(obj) == 1);
            FUZZ_CHECK(string_member(obj, "value", &got));
            FUZZ_CHECK(st_slice_equal(got, st_buf_slice(&m->val)));
        }
    } else {
        FUZZ_CHECK((r->status == 200) == live);
        if (live)
            m->live = false;
    }
    (void)method;
    st_buf_free(&key);
}

/* Deletes what this input set, through the store, so the next input
 * starts from an empty store; forgets the model. */
static void
reset_model(void)
{
    for (size_t i = 0; i < model_count; i++) {
        if (model[i].live) {
            st_status s = store_delete(store, st_buf_slice(&model[i].key), NULL);
            FUZZ_CHECK(s == ST_OK);
        }
        st_buf_free(&model[i].key);
        st_buf_free(&model[i].val);
        model[i].live = false;
    }
    model_count = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    for (int i = 0; i < FUZZ_MAX_REQUESTS && in.left > 0; i++) {
        char odd[16];
        const char *method = pick_method(fuzz_take_byte(&in), odd, &in);
        struct api_request req = {.method = method};
        req.uri.ptr = fuzz_take_until(&in, '\n', &req.uri.len);
        req.body.ptr = fuzz_take_until(&in, 0xff, &req.body.len);

        const struct api_response *r = api_handle(&ctx, &req);
        json_object *obj = check_response(r);
        check_against_model(method, req.uri, req.body, r, obj);
        json_object_put(obj);
    }
    reset_model();
    return 0;
}
