"""strata beside another site: the installable nginx snippets
(nginx/strata-upstream.conf, strata-locations.conf.in, strata-fastcgi.conf,
strata-errors.conf) in a server {} that also serves a static site, through
a real nginx and a real stratad (lsm engine).

The snippets are installed as make install does (strata-locations.conf.in
rendered with @pkgdatadir@ set) into the test's temp dir; only the
upstream's socket is changed to the test worker's. The server {} is shaped
like Debian's default site, with a regular expression location for static
assets as sites often have, and the lines added to it are the ones the
comments of strata-locations.conf show:

- mounted at the root: strata's routes answer as in the README, errors
  are JSON (also nginx's own: 413, worker down), while the site keeps its
  content types, its stock 404 page and nginx's default body limit;
- mounted under /kv/ only (STRATA_PREFIX): the same routes under /kv/,
  nothing of strata at the root;
- mounted both ways in one server: nginx accepts the configuration.

Prints one line per check ("ok - name" / "not ok - name: detail") and
exits 1 when any failed; 99 when the harness could not run at all.
"""

import glob
import json
import os
import re
import shutil
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (CHECKS, DEFAULT_MAX_VALUE, HarnessError, Strata,  # noqa: E402
                     body_limit, main_guard, nginx_user_directive,
                     ok, render_template)

# Where stratad.service listens; strata-upstream.conf names it.
INSTALLED_SOCKET = "/run/strata/stratad.sock"
PREFIX = "/kv"

INDEX_HTML = b"<!DOCTYPE html>\n<title>site</title><p>the other site</p>\n"
NOTES_TXT = b"plain notes of the other site\n"
STYLE_CSS = b"p { color: teal; }\n"




# --- the configuration under test -----------------------------------------

def install_snippets(srcdir, pkgdatadir):
    """Copies nginx/strata-*.conf to PKGDATADIR/nginx/ and renders
    nginx/strata-*.conf.in there, as make install does."""
    dest = os.path.join(pkgdatadir, "nginx")
    os.makedirs(dest, exist_ok=True)
    templates = glob.glob(os.path.join(srcdir, "nginx", "strata-*.conf.in"))
    # An in-tree build may have rendered a template beside it: the
    # template is the source.
    plain = [p for p in glob.glob(os.path.join(srcdir, "nginx",
                                               "strata-*.conf"))
             if p + ".in" not in templates]
    if not templates or not plain:
        raise HarnessError("no nginx/strata-*.conf(.in) in %s" % srcdir)
    for src in sorted(plain + templates):
        name = os.path.basename(src)
        if name.endswith(".in"):
            with open(src) as f:
                text = render_template(f.read(), {"@pkgdatadir@": pkgdatadir})
            with open(os.path.join(dest, name[:-3]), "w") as f:
                f.write(text)
        else:
            shutil.copy(src, dest)
    return dest


def point_upstream_at(path, socket_path):
    """The installed upstream names the system's socket; the test's worker
    listens elsewhere. Exactly one mention, or the snippet changed."""
    with open(path) as f:
        text = f.read()
    where = "unix:" + INSTALLED_SOCKET
    if text.count(where) != 1:
        raise HarnessError("%s: expected one 'server %s'" % (path, where))
    with open(path, "w") as f:
        f.write(text.replace(where, "unix:" + socket_path))


def documented_blocks(locations_conf):
    """The example server {} lines in the comments of the installed
    strata-locations.conf (lines "#     ..."), one list per block: the
    root mount first, the prefix mount second."""
    blocks, current = [], []
    with open(locations_conf) as f:
        for line in f:
            m = re.match(r"^#     (.*)$", line.rstrip("\n"))
            if m:
                current.append(m.group(1))
            elif current:
                blocks.append(current)
                current = []
    if len(blocks) != 2:
        raise HarnessError("%s: expected 2 example blocks in the comments, "
                           "found %d" % (locations_conf, len(blocks)))
    return blocks


def write_site(root):
    os.makedirs(root, exist_ok=True)
    for name, data in (("index.html", INDEX_HTML), ("notes.txt", NOTES_TXT),
                       ("style.css", STYLE_CSS)):
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)


def indent(lines, spaces):
    return "\n".join(" " * spaces + l if l else l for l in lines)


def site_config(s, mount):
    """nginx.conf for Strata `s`: Debian's shape (http-level types and
    default_type as from mime.types, the upstream included at http level
    as from conf.d/, a default site with root, index and try_files) plus
    the documented lines for `mount` ("root", "prefix" or "both")."""
    pkgdatadir = os.path.join(s.dir, "share", "strata")
    dest = install_snippets(s.srcdir, pkgdatadir)
    point_upstream_at(os.path.join(dest, "strata-upstream.conf"),
                      s.socket_path)
    root_lines, prefix_lines = documented_blocks(
        os.path.join(dest, "strata-locations.conf"))
    if mount == "root":
        strata = root_lines
    elif mount == "prefix":
        strata = prefix_lines
    else:
        # Both ways: the locations file brings strata-errors.conf along.
        strata = root_lines + [l for l in prefix_lines
                               if "strata-errors.conf" not in l]
    site = os.path.join(s.dir, "site")
    write_site(site)
    p = s.nginx_prefix
    return """%(user)s
daemon off;
master_process on;
worker_processes 2;
pid %(p)s/nginx.pid;
lock_file %(p)s/nginx.lock;
error_log %(p)s/logs/error.log warn;

events {
    worker_connections 1024;
}

http {
    client_body_temp_path %(p)s/tmp/client_body;
    fastcgi_temp_path %(p)s/tmp/fastcgi;
    proxy_temp_path %(p)s/tmp/proxy;
    scgi_temp_path %(p)s/tmp/scgi;
    uwsgi_temp_path %(p)s/tmp/uwsgi;
    access_log %(p)s/logs/access.log;

    sendfile on;
    types {
        text/html html;
        text/css css;
        text/plain txt;
    }
    default_type application/octet-stream;

    include %(dest)s/strata-upstream.conf;

    server {
        listen 127.0.0.1:%(port)d;
        server_name _;
        root %(site)s;
        index index.html;

        location / {
            try_files $uri $uri/ =404;
        }
        location ~* \\.(css|png)$ {
            add_header X-Site-Asset yes;
        }

%(strata)s
    }
}
""" % {"user": nginx_user_directive(), "p": p, "dest": dest,
       "port": s.port, "site": site, "strata": indent(strata, 8)}


# --- checks ----------------------------------------------------------------

def content_type(r):
    return r.headers.get("content-type", "")


def is_json(r, status):
    return (r.status == status and
            content_type(r).startswith("application/json") and
            r.json() is not None)


def is_json_error(r, status, message=None):
    doc = r.json()
    return (is_json(r, status) and isinstance(doc, dict) and
            isinstance(doc.get("error"), str) and
            (message is None or doc["error"] == message))


def set_value(s, path, value):
    return s.request("POST", path, json.dumps({"value": value}).encode())


def check_static_site(s, pre):
    """The other site keeps its own answers, whatever strata's locations
    set for themselves."""
    for path, body, ctype in (("/", INDEX_HTML, "text/html"),
                              ("/notes.txt", NOTES_TXT, "text/plain"),
                              ("/style.css", STYLE_CSS, "text/css")):
        r = s.request("GET", path)
        ok(pre + "the site serves %s as %s" % (path, ctype),
           r.status == 200 and r.body == body and
           content_type(r).startswith(ctype), repr(r))
    r = s.request("GET", "/style.css")
    ok(pre + "the site's regex location still serves its assets",
       r.headers.get("x-site-asset") == "yes", repr(r.headers))

    r = s.request("GET", "/missing.html")
    ok(pre + "a missing page of the site is nginx's stock 404 (HTML)",
       r.status == 404 and content_type(r).startswith("text/html") and
       b"404 Not Found" in r.body and r.json() is None,
       "%r %s" % (r, content_type(r)))

    # nginx's default client_max_body_size (1m) still holds for the site.
    r = s.request("POST", "/notes.txt", b"x" * (2 * 1048576),
                  headers={"Content-Type": "text/plain"})
    ok(pre + "a 2 MiB body to the site is nginx's stock 413 (HTML)",
       r.status == 413 and content_type(r).startswith("text/html") and
       r.json() is None, "%r %s" % (r, content_type(r)))


def check_routes(s, base, pre):
    """set/get/delete/range/health/stats/metrics at `base` ("" or /kv)."""
    r = set_value(s, base + "/set/name", "daniel")
    ok(pre + "POST %s/set/name is 200 ok" % base,
       is_json(r, 200) and r.json() == {"status": "ok"}, repr(r))
    r = s.request("GET", base + "/get/name")
    ok(pre + "GET %s/get/name reads it back" % base,
       is_json(r, 200) and r.json() == {"value": "daniel"}, repr(r))
    r = s.request("HEAD", base + "/get/name")
    ok(pre + "HEAD %s/get/name is 200 without a body" % base,
       r.status == 200 and r.body == b"", repr(r))

    # Keys that look like the site's files stay strata's: "^~" keeps the
    # site's regex location out, and no types map turns them into HTML.
    for key in ("page.html", "style.css"):
        set_value(s, base + "/set/" + key, "v-" + key)
        r = s.request("GET", base + "/get/" + key)
        ok(pre + "GET %s/get/%s is the worker's JSON" % (base, key),
           is_json(r, 200) and r.json() == {"value": "v-" + key} and
           "x-site-asset" not in r.headers,
           "%r %s %r" % (r, content_type(r), r.headers))

    # The key comes from REQUEST_URI, decoded once: "a%2Fb" is "a/b".
    set_value(s, base + "/set/a%2Fb", "slash")
    r = s.request("GET", base + "/get/a%2Fb")
    ok(pre + "an encoded slash in a key round-trips",
       r.json() == {"value": "slash"}, repr(r))

    r = s.request("GET", base + "/range?start=a&end=o")
    items = (r.json() or {}).get("items") if is_json(r, 200) else None
    ok(pre + "GET %s/range lists the keys in order" % base,
       items == [{"key": "a/b", "value": "slash"},
                 {"key": "name", "value": "daniel"}], repr(r))

    r = s.request("DELETE", base + "/delete/name")
    ok(pre + "DELETE %s/delete/name is 200 ok" % base,
       is_json(r, 200) and r.json() == {"status": "ok"}, repr(r))
    r = s.request("GET", base + "/get/name")
    ok(pre + "the deleted key is 404 JSON", is_json_error(r, 404), repr(r))

    r = s.request("GET", base + "/health")
    ok(pre + "GET %s/health is 200" % base,
       is_json(r, 200) and r.json() == {"status": "ok", "engine": "lsm"},
       repr(r))
    r = s.request("GET", base + "/stats")
    doc = r.json()
    ok(pre + "GET %s/stats is the worker's counters" % base,
       is_json(r, 200) and isinstance(doc, dict) and
       doc.get("engine") == "lsm" and doc.get("sets", 0) >= 4, repr(r))
    r = s.request("GET", base + "/metrics")
    ok(pre + "GET %s/metrics is Prometheus text from the worker" % base,
       r.status == 200 and content_type(r).startswith("text/plain") and
       re.search(rb"^strata_\w+", r.body, re.M) is not None,
       "%r %s" % (r, content_type(r)))


def check_errors(s, base, pre):
    """Errors are JSON: the worker's pass through, nginx's own are
    replaced; a value over nginx's default 1m body limit goes through."""
    r = s.request("POST", base + "/set/bad", b'{"value": 1}')
    ok(pre + "bad JSON is the worker's 400 JSON", is_json_error(r, 400),
       repr(r))
    r = s.request("GET", base + "/set/x")
    ok(pre + "a wrong method is 405 JSON with Allow",
       is_json_error(r, 405) and r.headers.get("allow") == "POST", repr(r))
    r = s.request("GET", base + "/get")
    ok(pre + "GET %s/get (no slash) is 404 JSON, not a redirect" % base,
       is_json_error(r, 404), "%r %s" % (r, content_type(r)))

    big = "v" * DEFAULT_MAX_VALUE
    r = set_value(s, base + "/set/big", big)
    ok(pre + "a 1 MiB value (a body over nginx's default 1m) is stored",
       is_json(r, 200), repr(r))
    r = s.request("GET", base + "/get/big")
    ok(pre + "the 1 MiB value reads back", r.json() == {"value": big},
       repr(r))

    limit = body_limit(DEFAULT_MAX_VALUE)
    r = s.request("POST", base + "/set/big.html", b" " * (limit + 1))
    ok(pre + "a body of %d bytes is nginx's 413, as JSON" % (limit + 1),
       is_json_error(r, 413, "request body too large"),
       "%r %s" % (r, content_type(r)))


def check_worker_down(s, base, pre):
    s.stop_worker()
    r = s.request("GET", base + "/get/page.html")
    ok(pre + "with the worker down a request is 503 JSON",
       is_json_error(r, 503, "worker unavailable"),
       "%r %s" % (r, content_type(r)))
    r = s.request("GET", "/")
    ok(pre + "with the worker down the site still answers",
       r.status == 200 and r.body == INDEX_HTML, repr(r))
    s.start_worker()
    s.wait_healthy()
    r = s.request("GET", base + "/get/page.html")
    ok(pre + "a restarted worker answers at once",
       r.json() == {"value": "v-page.html"}, repr(r))


def check_root_mount():
    pre = "[root] "
    with Strata(engine="lsm",
                nginx_config=lambda s: site_config(s, "root")) as s:
        check_static_site(s, pre)
        check_routes(s, "", pre)
        check_errors(s, "", pre)
        r = s.request("GET", PREFIX + "/health")
        ok(pre + "nothing is mounted under %s/" % PREFIX,
           r.status == 404 and r.json() is None, repr(r))
        check_worker_down(s, "", pre)

        # The same server with the prefix mount added: one
        # strata-errors.conf, as the comments say.
        conf = os.path.join(s.dir, "both.conf")
        with open(conf, "w") as f:
            f.write(site_config(s, "both"))
        status, output = s.check_nginx_config(conf)
        ok(pre + "nginx -t accepts strata mounted both ways", status == 0,
           output)


def check_prefix_mount():
    pre = "[prefix %s] " % PREFIX
    with Strata(engine="lsm", health_path=PREFIX + "/health",
                nginx_config=lambda s: site_config(s, "prefix")) as s:
        check_static_site(s, pre)
        for path in ("/health", "/get/name", "/get"):
            r = s.request("GET", path)
            ok(pre + "GET %s is the site's, not strata's" % path,
               r.status == 404 and content_type(r).startswith("text/html"),
               "%r %s" % (r, content_type(r)))
        check_routes(s, PREFIX, pre)
        check_errors(s, PREFIX, pre)
        r = s.request("GET", PREFIX + "/nosuch")
        ok(pre + "an unknown route under %s/ is the worker's 404 JSON"
           % PREFIX, is_json_error(r, 404), repr(r))
        check_worker_down(s, PREFIX, pre)


def run():
    check_root_mount()
    check_prefix_mount()
    print("# %d passed, %d failed" % (CHECKS.passed, CHECKS.failed))
    return CHECKS.failed


if __name__ == "__main__":
    main_guard(run)
