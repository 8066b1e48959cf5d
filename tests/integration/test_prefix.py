"""strata under a path prefix, through a real nginx and a real stratad:
nginx serves the API at /kv/ and passes `fastcgi_param STRATA_PREFIX
/kv;`, and the worker strips the prefix from REQUEST_URI before routing
(router.h). The nginx configuration is nginx/strata.conf.in with one more
location:

    location /kv/ {
        fastcgi_param ...every parameter of the server level...;
        fastcgi_param STRATA_PREFIX /kv;
        fastcgi_pass strata;
    }

(a fastcgi_param in a location replaces every inherited one, so the
location repeats them). Checked: set/get/delete/range/health/stats/metrics
under /kv, a key with an encoded slash (%2F), the same store at the root,
and 404 JSON for a URI that reaches the location without starting with
/kv/ (nginx resolves "/x/../kv/..." before choosing the location, the
worker sees the raw URI). Engine lsm, so /range answers.

Prints one line per check ("ok - name" / "not ok - name: detail") and
exits 1 when any failed; 99 when the harness could not run at all.
"""

import json
import os
import re
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (CHECKS, HarnessError, Strata,  # noqa: E402
                     main_guard, ok)

PREFIX = "/kv"




def add_prefix_location(text):
    """strata.conf.in, rendered, plus the location of the prefix, put
    before the catch-all "location / {"."""
    params = re.findall(r"^[ \t]*(fastcgi_param[ \t][^\n]*;)[ \t]*$", text,
                        re.MULTILINE)
    if not params:
        raise HarnessError("no fastcgi_param in nginx/strata.conf.in")
    block = ["        location %s/ {" % PREFIX]
    block += ["            " + p for p in params]
    block += ["            fastcgi_param STRATA_PREFIX %s;" % PREFIX,
              "            fastcgi_pass strata;",
              "        }",
              # As strata.conf.in does for /get: without it, "/kv" is
              # nginx's HTML 301 to "/kv/".
              "        location = %s {" % PREFIX,
              "            return 404 '{\"error\":\"not found\"}';",
              "        }",
              ""]
    anchor = "        location / {\n"
    if text.count(anchor) != 1:
        raise HarnessError("no single 'location / {' in strata.conf.in")
    return text.replace(anchor, "\n".join(block) + anchor)


class PrefixedStrata(Strata):
    """A Strata whose nginx also serves the API under PREFIX."""

    def _render_config(self):
        path = super()._render_config()
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(add_prefix_location(text))
        return path


def is_json(r, status, doc=None):
    got = r.json()
    return (r.status == status and
            r.headers.get("content-type", "").startswith("application/json")
            and (doc is None or got == doc))


def set_value(s, path, value):
    return s.request("POST", path, json.dumps({"value": value}).encode())


def check_routes(s):
    p = PREFIX
    r = set_value(s, p + "/set/name", "daniel")
    ok("POST %s/set/name" % p, is_json(r, 200, {"status": "ok"}), r)
    r = s.request("GET", p + "/get/name")
    ok("GET %s/get/name" % p, is_json(r, 200, {"value": "daniel"}), r)
    r = s.request("GET", "/get/name")
    ok("the same key at the root: the prefix is not part of the key",
       is_json(r, 200, {"value": "daniel"}), r)
    r = s.request("HEAD", p + "/get/name")
    ok("HEAD %s/get/name" % p, r.status == 200 and r.body == b"", r)

    r = set_value(s, p + "/set/a%2Fb", "slash")
    ok("POST %s/set/a%%2Fb" % p, is_json(r, 200), r)
    r = s.request("GET", p + "/get/a%2Fb")
    ok("GET %s/get/a%%2Fb" % p, is_json(r, 200, {"value": "slash"}), r)
    r = s.request("GET", "/get/a%2Fb")
    ok("the key is a/b at the root too", is_json(r, 200, {"value": "slash"}),
       r)
    r = s.request("GET", p + "/range?start=a&end=b")
    ok("GET %s/range lists the key a/b" % p,
       is_json(r, 200, {"items": [{"key": "a/b", "value": "slash"}]}), r)
    r = s.request("GET", p + "/range?limit=1")
    ok("GET %s/range?limit=1 pages" % p,
       is_json(r, 200, {"items": [{"key": "a/b", "value": "slash"}],
                        "next": "name"}), r)
    r = s.request("DELETE", p + "/delete/a%2Fb")
    ok("DELETE %s/delete/a%%2Fb" % p, is_json(r, 200, {"status": "ok"}), r)
    r = s.request("GET", p + "/get/a%2Fb")
    ok("gone after the delete", is_json(r, 404, {"error": "key not found"}),
       r)
    r = s.request("DELETE", p + "/delete/a%2Fb")
    ok("a second delete is 404", is_json(r, 404), r)

    r = s.request("GET", p + "/health")
    ok("GET %s/health" % p, is_json(r, 200, {"status": "ok",
                                              "engine": "lsm"}), r)
    r = s.request("GET", p + "/stats")
    ok("GET %s/stats" % p, is_json(r, 200) and r.json().get("sets") == 2, r)
    r = s.request("POST", p + "/get/name", b'{"value":"x"}')
    ok("POST %s/get/name is 405 with Allow" % p,
       is_json(r, 405) and r.headers.get("allow") == "GET, HEAD", r)


def check_metrics(s):
    r = s.request("GET", PREFIX + "/metrics")
    ok("GET %s/metrics is Prometheus text" % PREFIX,
       r.status == 200 and r.headers.get("content-type") ==
       "text/plain; version=0.0.4; charset=utf-8", r)
    text = r.body.decode()
    # The requests above, counted under their routes, wherever they came.
    for line in ('strata_http_requests_total{route="set",status="200"} 2',
                 'strata_http_requests_total{route="delete",status="404"} 1',
                 'strata_http_requests_total{route="range",status="200"} 2',
                 'strata_http_requests_total{route="get",status="405"} 1',
                 "strata_sets_total 2"):
        ok("metrics under the prefix: %s" % line,
           line in text.splitlines(), text[:2000])


def check_outside(s):
    p = PREFIX
    # nginx picks the location on the resolved path (/kv/get/name), the
    # worker sees the raw URI, which is not under /kv/.
    r = s.request("GET", "/x/../kv/get/name")
    ok("GET /x/../kv/get/name: the worker's 404 not found",
       is_json(r, 404, {"error": "not found"}), r)
    r = s.request("GET", "/kv/../kv/get/name")
    ok("GET /kv/../kv/get/name: not under the prefix as sent, 404",
       is_json(r, 404), r)
    r = s.request("GET", p)
    ok("GET %s: 404 JSON" % p, is_json(r, 404, {"error": "not found"}), r)
    r = s.request("GET", p + "/")
    ok("GET %s/: no route, 404 JSON" % p, is_json(r, 404), r)
    r = s.request("GET", p + "/nope")
    ok("GET %s/nope: 404 JSON" % p, is_json(r, 404), r)
    r = set_value(s, "/x/../kv/set/name", "changed")
    ok("a SET outside the prefix is 404", is_json(r, 404), r)
    r = s.request("GET", p + "/get/name")
    ok("... and changed nothing", is_json(r, 200, {"value": "daniel"}), r)


def run():
    with PrefixedStrata(engine="lsm") as s:
        check_routes(s)
        check_metrics(s)
        check_outside(s)
    print("1..%d" % (CHECKS.passed + CHECKS.failed))
    return CHECKS.failed


if __name__ == "__main__":
    main_guard(run)
