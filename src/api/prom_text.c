/*
 * The Prometheus text format 0.0.4 (see prom_text.h). The format is line
 * based, so the only bytes that need care are those that could end a
 * line or a quoted label value early: '\n', '"' and '\\'.
 */
#include "api/prom_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum {
    PROM_MAX_DECIMALS = 18,
    /* 20 digits, a point, 18 decimals and the NUL, rounded up. */
    NUMBER_TEXT_MAX = 48,
};

static bool
append(struct st_buf *out, const char *text)
{
    return st_buf_append(out, st_slice_from_cstr(text));
}

const char *
prom_type_str(enum prom_type type)
{
    switch (type) {
    case PROM_COUNTER:
        return "counter";
    case PROM_GAUGE:
        return "gauge";
    case PROM_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

/* Writes v into text (NUL-terminated) and returns its length. */
static size_t
format_number(char text[NUMBER_TEXT_MAX], struct prom_number v)
{
    unsigned d =
        v.decimals > PROM_MAX_DECIMALS ? PROM_MAX_DECIMALS : v.decimals;
    uint64_t scale = 1;
    for (unsigned i = 0; i < d; i++)
        scale *= 10;
    int n = snprintf(text, NUMBER_TEXT_MAX, "%" PRIu64, v.units / scale);
    uint64_t frac = v.units % scale;
    if (frac != 0) {
        /* Zero-padded to d digits, then trailing zeros dropped: 5000 with
         * 5 decimals is "0.05", not "0.05000". */
        n += snprintf(text + n, NUMBER_TEXT_MAX - (size_t)n, ".%0*" PRIu64,
                      (int)d, frac);
        while (text[n - 1] == '0')
            n--;
        text[n] = '\0';
    }
    return (size_t)n;
}

bool
prom_append_number(struct st_buf *out, struct prom_number v)
{
    char text[NUMBER_TEXT_MAX];
    size_t n = format_number(text, v);
    return st_buf_append(out, st_slice_make(text, n));
}

bool
prom_append_label_value(struct st_buf *out, const char *value)
{
    const char *run = value;
    for (const char *p = value;; p++) {
        const char *esc = *p == '\\'   ? "\\\\"
                          : *p == '"'  ? "\\\""
                          : *p == '\n' ? "\\n"
                                       : NULL;
        if (esc == NULL && *p != '\0')
            continue;
        if (!st_buf_append(out, st_slice_make(run, (size_t)(p - run))))
            return false;
        if (*p == '\0')
            return true;
        if (!append(out, esc))
            return false;
        run = p + 1;
    }
}

/* HELP text escapes only backslash and line feed (quotes are literal). */
static bool
append_help(struct st_buf *out, const char *help)
{
    const char *run = help;
    for (const char *p = help;; p++) {
        if (*p != '\\' && *p != '\n' && *p != '\0')
            continue;
        if (!st_buf_append(out, st_slice_make(run, (size_t)(p - run))))
            return false;
        if (*p == '\0')
            return true;
        if (!append(out, *p == '\\' ? "\\\\" : "\\n"))
            return false;
        run = p + 1;
    }
}

bool
prom_write_family(struct st_buf *out, const char *name, enum prom_type type,
                  const char *help)
{
    return append(out, "# HELP ") && append(out, name) && append(out, " ") &&
           append_help(out, help) && append(out, "\n# TYPE ") &&
           append(out, name) && append(out, " ") &&
           append(out, prom_type_str(type)) && append(out, "\n");
}

/* name{labels...[,extra]} without the value; 'extra' may be NULL. */
static bool
append_series(struct st_buf *out, const char *name, const char *suffix,
              const struct prom_label *labels, size_t nlabels,
              const struct prom_label *extra)
{
    bool ok = append(out, name) && append(out, suffix);
    size_t total = nlabels + (extra != NULL);
    for (size_t i = 0; ok && i < total; i++) {
        const struct prom_label *l = i < nlabels ? &labels[i] : extra;
        ok = append(out, i == 0 ? "{" : ",") && append(out, l->name) &&
             append(out, "=\"") && prom_append_label_value(out, l->value) &&
             append(out, "\"");
    }
    return ok && (total == 0 || append(out, "}"));
}

static bool
write_line(struct st_buf *out, const char *name, const char *suffix,
           const struct prom_label *labels, size_t nlabels,
           const struct prom_label *extra, struct prom_number value)
{
    return append_series(out, name, suffix, labels, nlabels, extra) &&
           append(out, " ") && prom_append_number(out, value) &&
           append(out, "\n");
}

bool
prom_write_sample(struct st_buf *out, const char *name,
                  const struct prom_label *labels, size_t nlabels,
                  struct prom_number value)
{
    return write_line(out, name, "", labels, nlabels, NULL, value);
}

bool
prom_write_histogram(struct st_buf *out, const char *name,
                     const struct prom_label *labels, size_t nlabels,
                     const struct prom_histogram *h)
{
    bool ok = true;
    for (size_t i = 0; ok && i < h->bound_count; i++) {
        char le[NUMBER_TEXT_MAX];
        format_number(le, (struct prom_number){h->bounds[i], h->decimals});
        ok = write_line(out, name, "_bucket", labels, nlabels,
                        &(struct prom_label){"le", le},
                        prom_int(h->cumulative[i]));
    }
    return ok &&
           write_line(out, name, "_bucket", labels, nlabels,
                      &(struct prom_label){"le", "+Inf"}, prom_int(h->count)) &&
           write_line(out, name, "_sum", labels, nlabels, NULL,
                      (struct prom_number){h->sum, h->decimals}) &&
           write_line(out, name, "_count", labels, nlabels, NULL,
                      prom_int(h->count));
}
