"""The HTTP contract of docs/DESIGN ("HTTP contract"), through a real nginx
and a real stratad, for the memory, file and lsm engines. Where the
contract differs by engine: /range is 501 on the unsorted engines (memory,
file) and 200 on lsm (tests/integration/test_range.py covers it in
depth); /stats has an exact "keys" on memory and file and "entries"
(versions, tombstones included) on lsm; restarts keep the data of file
and lsm.

Prints one line per check ("ok - name" / "not ok - name: detail") and
exits 1 when any failed; 99 when the harness could not run at all.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (HarnessError, Strata, body_limit,  # noqa: E402
                     main_guard)

ENGINES = ("memory", "file", "lsm")
# Engines that keep their keys in order and serve /range.
SORTED_ENGINES = ("lsm",)
# Engines whose data survives a restart.
PERSISTENT_ENGINES = ("file", "lsm")


class Checks(harness.Checks):
    """harness.Checks, with check names under the engine's prefix and a
    record of every response that was not JSON."""

    def __init__(self):
        super().__init__()
        self.prefix = ""
        # Every response seen, to check once that all of them were JSON.
        self.not_json = []
        self.lock = threading.Lock()

    def ok(self, name, cond, detail=""):
        return super().ok(self.prefix + name, cond, detail)

    def note_response(self, method, path, r):
        """Every body must be JSON with Content-Type application/json, and
        every error an object with a string "error"."""
        problem = None
        ctype = r.headers.get("content-type", "")
        doc = r.json()
        if not ctype.startswith("application/json"):
            problem = "Content-Type %r" % ctype
        elif doc is None:
            problem = "body is not JSON"
        elif r.status >= 400 and not (isinstance(doc, dict) and
                                      isinstance(doc.get("error"), str)):
            problem = 'error body without a string "error"'
        if problem:
            with self.lock:
                self.not_json.append("%s %s -> %r: %s"
                                     % (method, path[:80], r, problem))


C = Checks()


class Client:
    """Request helpers that record every response for the JSON check."""

    def __init__(self, strata):
        self.s = strata

    def req(self, method, path, body=None, headers=None, conn=None,
            chunked=False):
        if isinstance(body, str):
            body = body.encode("utf-8")
        r = self.s.request(method, path, body, headers=headers, conn=conn,
                           chunked=chunked)
        C.note_response(method, path, r)
        return r

    def raw(self, data):
        r = self.s.raw_request(data)
        if r is not None:
            C.note_response("RAW", repr(data[:60]), r)
        return r

    def set(self, key_path, value, conn=None):
        body = json.dumps({"value": value}).encode("utf-8")
        return self.req("POST", "/set/" + key_path, body, conn=conn)

    def get(self, key_path, conn=None):
        return self.req("GET", "/get/" + key_path, conn=conn)

    def delete(self, key_path):
        return self.req("DELETE", "/delete/" + key_path)

    def value(self, key_path):
        """The stored value, or None when GET does not answer 200."""
        r = self.get(key_path)
        if r.status != 200:
            return None
        doc = r.json()
        return doc.get("value") if isinstance(doc, dict) else None


def pct(data):
    """Percent-encodes every byte: the key exactly, whatever it holds."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return "".join("%%%02X" % b for b in data)


def expect(name, r, status, doc=None):
    """Checks the status and, when given, the exact JSON body."""
    if r.status != status:
        return C.ok(name, False, "expected %d, got %r" % (status, r))
    if doc is not None and r.json() != doc:
        return C.ok(name, False, "expected body %s, got %r"
                    % (json.dumps(doc), r))
    return C.ok(name, True)


def expect_error(name, r, status):
    doc = r.json()
    good = (r.status == status and isinstance(doc, dict) and
            isinstance(doc.get("error"), str))
    return C.ok(name, good, "expected %d with a JSON error, got %r"
                % (status, r))


# --- the checks, each given a running Strata --------------------------


def check_seed_examples(c):
    r = c.req("POST", "/set/name", b'{"value": "daniel"}',
              headers={"Content-Type": "application/json"})
    expect("seed: POST /set/name", r, 200, {"status": "ok"})
    expect("seed: GET /get/name", c.get("name"), 200, {"value": "daniel"})
    expect("seed: DELETE /delete/name", c.delete("name"), 200,
           {"status": "ok"})
    expect("GET after DELETE is 404", c.get("name"), 404,
           {"error": "key not found"})
    expect("DELETE of a missing key is 404", c.delete("name"), 404,
           {"error": "key not found"})
    expect("GET of a never-set key is 404", c.get("never-set"), 404,
           {"error": "key not found"})


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_health_stats(c, engine):
    expect("GET /health", c.req("GET", "/health"), 200,
           {"status": "ok", "engine": engine})
    r = c.req("GET", "/stats")
    doc = r.json()
    # Figures are numbers; the engine's name may come along as a string.
    # An exact live-key count ("keys") from the hash-indexed engines; the
    # lsm engine counts versions ("entries", tombstones included).
    count = "entries" if engine in SORTED_ENGINES else "keys"
    good = (r.status == 200 and isinstance(doc, dict) and
            isinstance(doc.get(count), int) and
            all(_is_number(v) or (k == "engine" and v == engine)
                for k, v in doc.items()))
    C.ok("GET /stats is a JSON object of numbers with \"%s\"" % count, good,
         repr(r))
    if not good:
        return
    before = doc
    c.set("stats-new-key", "x")
    after = c.req("GET", "/stats").json() or {}
    c.get("stats-never-set")
    missed = c.req("GET", "/stats").json() or {}
    c.delete("stats-new-key")
    deleted = c.req("GET", "/stats").json() or {}

    def grew(name, doc_a, doc_b, by=1):
        C.ok("/stats %s grows by %d" % (name, by),
             isinstance(doc_a.get(name), int) and
             doc_b.get(name) == doc_a[name] + by,
             "before %r, after %r" % (doc_a.get(name), doc_b.get(name)))

    grew("sets", before, after)
    grew("gets", after, missed)
    grew("get_misses", after, missed)
    grew("deletes", missed, deleted)
    if engine in SORTED_ENGINES:
        C.ok("/stats has no exact \"keys\" on %s" % engine,
             "keys" not in doc, repr(doc))
        # Every set and every delete adds one version.
        C.ok("/stats entries grows by one after a new key",
             after.get("entries") == before["entries"] + 1,
             "before %r, after %r" % (before["entries"],
                                      after.get("entries")))
        C.ok("/stats entries grows by one more after a delete (tombstone)",
             deleted.get("entries") == before["entries"] + 2,
             "before %r, after the delete %r"
             % (before["entries"], deleted.get("entries")))
        # (Not memtable_bytes: the memtable grows by arena blocks.)
        for name in ("last_seq", "user_bytes_written", "wal_bytes"):
            C.ok("/stats %s grows after a set" % name,
                 isinstance(before.get(name), int) and
                 isinstance(after.get(name), int) and
                 after[name] > before[name],
                 "before %r, after %r" % (before.get(name), after.get(name)))
        C.ok("/stats last_seq grows after a delete",
             isinstance(deleted.get("last_seq"), int) and
             deleted["last_seq"] > after.get("last_seq", 0),
             "%r then %r" % (after.get("last_seq"), deleted.get("last_seq")))
        levels = [doc.get("level%d_tables" % i) for i in range(7)]
        C.ok("/stats levelN_tables add up to tables",
             all(isinstance(n, int) for n in levels) and
             sum(levels) == doc.get("tables"),
             "levels %r, tables %r" % (levels, doc.get("tables")))
        C.ok("/stats readonly is 0", doc.get("readonly") == 0,
             repr(doc.get("readonly")))
        c.req("GET", "/range?limit=1")
        ranged = c.req("GET", "/stats").json() or {}
        grew("scans", deleted, ranged)
    else:
        C.ok("/stats keys grows by one after a new key",
             after.get("keys") == before["keys"] + 1,
             "before %r, after %r" % (before["keys"], after.get("keys")))
        C.ok("/stats keys is back after the delete",
             deleted.get("keys") == before["keys"],
             "before %r, after %r" % (before["keys"], deleted.get("keys")))


def check_keys(c, max_key):
    expect("set a%2Fb (key with a slash)", c.set("a%2Fb", "slash"), 200)
    C.ok("get a%2Fb", c.value("a%2Fb") == "slash", repr(c.get("a%2Fb")))
    C.ok("get a%2fb (lower-case hex) is the same key",
         c.value("a%2fb") == "slash", repr(c.get("a%2fb")))
    expect("delete a%2Fb", c.delete("a%2Fb"), 200)

    expect("set hello%20world", c.set("hello%20world", "space"), 200)
    C.ok("get hello%20world", c.value("hello%20world") == "space",
         repr(c.get("hello%20world")))

    expect("set a+b (plus is literal)", c.set("a+b", "plus"), 200)
    C.ok("get a%2Bb finds the key a+b", c.value("a%2Bb") == "plus",
         repr(c.get("a%2Bb")))
    expect("get a%20b is another key (+ is not a space)", c.get("a%20b"),
           404)

    # Decoded exactly once: %2541 is the three bytes "%41", not "A".
    expect("set %2541", c.set("%2541", "pct41"), 200)
    C.ok("get %2541 -> the key '%41'", c.value("%2541") == "pct41",
         repr(c.get("%2541")))
    expect("the key 'A' was not touched (decoded once)", c.get("A"), 404)

    key = "été ☃ 😀"
    expect("set a UTF-8 key (percent-encoded)", c.set(pct(key), "utf8"), 200)
    C.ok("get the UTF-8 key", c.value(pct(key)) == "utf8",
         repr(c.get(pct(key))))
    # The same key, as raw UTF-8 bytes in the request line.
    r = c.raw(b"GET /get/" + key.replace(" ", "%20").encode("utf-8") +
              b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    C.ok("get the UTF-8 key sent as raw bytes",
         r is not None and r.status == 200 and
         r.json() == {"value": "utf8"}, repr(r))

    long_key = "k" * max_key
    expect("set a key of exactly %d bytes" % max_key,
           c.set(long_key, "long"), 200)
    C.ok("get the %d-byte key" % max_key, c.value(long_key) == "long",
         repr(c.get(long_key)))
    expect_error("set a key of %d bytes is 400" % (max_key + 1),
                 c.set(long_key + "k", "x"), 400)
    r = c.get(long_key + "k")
    C.ok("get a key of %d bytes is not found or 400" % (max_key + 1),
         r.status in (400, 404), repr(r))
    # The limit counts decoded bytes: 512 x "é" (2 bytes) is 1024 bytes,
    # written as 3072 characters of URI.
    wide = "é" * (max_key // 2)
    expect("set a %d-byte key sent percent-encoded" % max_key,
           c.set(pct(wide), "wide"), 200)
    C.ok("get the %d-byte percent-encoded key" % max_key,
         c.value(pct(wide)) == "wide", repr(c.get(pct(wide))))
    expect_error("set a %d-byte percent-encoded key is 400" % (max_key + 1),
                 c.set(pct(wide + "x"), "x"), 400)

    expect_error("set with an empty key is 400", c.set("", "x"), 400)
    expect_error("get with an empty key is 400", c.get(""), 400)
    expect_error("delete with an empty key is 400", c.delete(""), 400)
    for path in ("a/b", "a//b", "a/"):
        expect_error("set/%s (raw slash in the key) is 400" % path,
                     c.set(path, "x"), 400)
        expect_error("get/%s (raw slash in the key) is 400" % path,
                     c.get(path), 400)
    for dots in (".", "..", "%2E", "%2e%2e"):
        expect_error("set/%s is 400" % dots, c.set(dots, "x"), 400)
        expect_error("get/%s is 400" % dots, c.get(dots), 400)
        expect_error("delete/%s is 400" % dots, c.delete(dots), 400)

    # nginx itself rejects these before the worker sees them.
    for path in ("/get/%zz", "/get/a%", "/get/a%2", "/get/a%00b"):
        r = c.raw(b"GET " + path.encode() +
                  b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        C.ok("GET %s is a 400 JSON error" % path,
             r is not None and r.status == 400 and
             isinstance((r.json() or {}).get("error"), str), repr(r))
    r = c.raw(b"GET /get/a\x01b HTTP/1.1\r\nHost: x\r\n"
              b"Connection: close\r\n\r\n")
    C.ok("a control byte in the URI is a 400 JSON error",
         r is not None and r.status == 400 and r.json() is not None, repr(r))
    c.set("q", "query")
    C.ok("the query string is not part of the key (GET /get/q?x=1)",
         c.value("q?x=1") == "query", repr(c.get("q?x=1")))


def check_values(c, max_value):
    values = [
        ("unicode", "héllo ☃ 😀"),
        ("escapes", "a\"b\\c\n\t"),
        ("NUL bytes", "\u0000x\u0000"),
        ("empty string", ""),
        ("all controls", "".join(chr(i) for i in range(32)) + "\u007f"),
        ("line separators", "\u2028\u2029"),
        ("json text", '{"value":"x"}'),
    ]
    for name, value in values:
        for ascii_only in (False, True):
            how = "escaped" if ascii_only else "raw UTF-8"
            body = json.dumps({"value": value}, ensure_ascii=ascii_only)
            key = "v-" + name.replace(" ", "-") + "-" + how.split()[0]
            r = c.req("POST", "/set/" + key, body)
            if expect("set value %s (%s)" % (name, how), r, 200,
                      {"status": "ok"}):
                r = c.get(key)
                C.ok("value %s (%s) round-trips" % (name, how),
                     r.status == 200 and r.json() == {"value": value},
                     "got %r" % r)

    # A surrogate pair written as escapes is one character, not two.
    r = c.req("POST", "/set/pair", b'{"value":"\\ud83d\\ude00"}')
    expect("set a surrogate pair escape", r, 200)
    C.ok("the pair reads back as U+1F600", c.value("pair") == "\U0001F600",
         repr(c.get("pair")))

    big = "x" * max_value
    expect("set a %d-byte value" % max_value, c.set("big", big), 200)
    r = c.get("big")
    C.ok("the %d-byte value round-trips" % max_value,
         r.status == 200 and r.json() == {"value": big},
         "status %d, %d bytes" % (r.status, len(r.body)))

    # The largest body: every byte escaped as \u0001 (6 bytes each).
    ctl = "\u0001" * max_value
    body = json.dumps({"value": ctl})
    expect("set a %d-byte value written as %d bytes of escapes"
           % (max_value, len(body)), c.req("POST", "/set/ctl", body), 200)
    r = c.get("ctl")
    C.ok("the escaped %d-byte value round-trips" % max_value,
         r.status == 200 and r.json() == {"value": ctl},
         "status %d, %d bytes" % (r.status, len(r.body)))
    c.delete("ctl")

    # Two-byte characters up to exactly the limit.
    wide = "é" * (max_value // 2)
    expect("set %d bytes of 2-byte characters" % max_value,
           c.set("wide", wide), 200)
    C.ok("the 2-byte-character value round-trips", c.value("wide") == wide,
         "mismatch")
    c.delete("wide")

    # Overwrite: the last write wins.
    c.set("over", "first")
    c.set("over", "second")
    C.ok("an overwrite returns the new value", c.value("over") == "second",
         repr(c.get("over")))

    # A chunked request body (no Content-Length from the client).
    def chunks():
        yield b'{"value":'
        yield b'"chunked"}'
    r = c.req("POST", "/set/chunked", chunks(), chunked=True)
    expect("set with a chunked body", r, 200, {"status": "ok"})
    C.ok("the chunked value reads back", c.value("chunked") == "chunked",
         repr(c.get("chunked")))


BAD_BODIES = [
    ("invalid JSON", b'{"value":'),
    ("not JSON", b"not json"),
    ("empty body", b""),
    ("single quotes", b"{'value':'x'}"),
    ("trailing comma", b'{"value":"x",}'),
    ("a comment", b'/* c */{"value":"x"}'),
    ("unquoted member", b'{value:"x"}'),
    ("a raw control byte in the string", b'{"value":"a\x01b"}'),
    ("a bad escape", b'{"value":"\\x41"}'),
    ("a string body", b'"x"'),
    ("an array body", b'["x"]'),
    ("a null body", b"null"),
    ("a number body", b"42"),
    ("missing value", b"{}"),
    ("value misspelt", b'{"val":"x"}'),
    ("value is a number", b'{"value":1}'),
    ("value is null", b'{"value":null}'),
    ("value is true", b'{"value":true}'),
    ("value is an array", b'{"value":["x"]}'),
    ("value is an object", b'{"value":{"a":"b"}}'),
    ("duplicate value member", b'{"value":"a","value":"b"}'),
    ("an unknown member", b'{"value":"x","extra":1}'),
    ("trailing garbage", b'{"value":"x"}x'),
    ("a second object", b'{"value":"x"}{}'),
    ("a lone high surrogate", b'{"value":"\\ud800"}'),
    ("a lone low surrogate", b'{"value":"\\udc00"}'),
    ("a high surrogate then text", b'{"value":"a\\ud800b"}'),
    ("reversed surrogates", b'{"value":"\\ude00\\ud83d"}'),
    ("invalid UTF-8 byte", b'{"value":"\xff"}'),
    ("overlong UTF-8", b'{"value":"\xc0\xaf"}'),
    ("truncated UTF-8", b'{"value":"\xe2\x82"}'),
    ("UTF-8 encoded surrogate", b'{"value":"\xed\xa0\x80"}'),
    ("overlong 3-byte UTF-8", b'{"value":"\xe0\x80\xaf"}'),
    ("UTF-8 beyond U+10FFFF", b'{"value":"\xf4\x90\x80\x80"}'),
    ("a 5-byte UTF-8 sequence", b'{"value":"\xf8\x88\x80\x80\x80"}'),
    ("a stray continuation byte", b'{"value":"a\x80b"}'),
    ("invalid UTF-8 in a member name", b'{"\xff":"x"}'),
]


def check_bad_input(c, max_value, max_body):
    key = "guarded"
    expect("set the guarded key", c.set(key, "original"), 200)
    for name, body in BAD_BODIES:
        expect_error("set with %s is 400" % name,
                     c.req("POST", "/set/" + key, body), 400)
    C.ok("bad bodies did not change the stored value",
         c.value(key) == "original", repr(c.get(key)))
    expect("bad bodies did not create a key", c.get("bad-new"), 404)
    for name, body in BAD_BODIES[:3]:
        c.req("POST", "/set/bad-new", body)
    expect("bad bodies on a new key did not create it", c.get("bad-new"),
           404)

    # 413 from the worker: the decoded value is one byte too long.
    r = c.set(key, "y" * (max_value + 1))
    expect_error("a value of %d bytes is 413" % (max_value + 1), r, 413)
    # ... also when each byte is escaped (the body is within nginx's limit).
    body = json.dumps({"value": "é" * (max_value // 2 + 1)},
                      ensure_ascii=True)
    expect_error("a value of %d bytes (escaped) is 413" % (max_value + 2),
                 c.req("POST", "/set/" + key, body), 413)

    # The body limit is the same number in nginx and the worker: exactly
    # max_body bytes (padded with JSON whitespace) pass, one more is 413.
    head = b'{"value":"fits"'
    body = head + b" " * (max_body - len(head) - 1) + b"}"
    expect("a body of exactly the limit (%d bytes) is accepted" % max_body,
           c.req("POST", "/set/limit", body), 200)
    C.ok("the at-limit value reads back", c.value("limit") == "fits",
         repr(c.get("limit")))
    body = head + b" " * (max_body - len(head)) + b"}"
    expect_error("a body of %d bytes is 413" % (max_body + 1),
                 c.req("POST", "/set/" + key, body), 413)
    # Announced too large: nginx answers before reading the body.
    r = c.raw(b"POST /set/" + key.encode() + b" HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n"
              % (max_body * 4))
    C.ok("an announced body of %d bytes is a 413 JSON error" % (max_body * 4),
         r is not None and r.status == 413 and
         isinstance((r.json() or {}).get("error"), str), repr(r))
    C.ok("413s did not change the stored value", c.value(key) == "original",
         repr(c.get(key)))
    expect("the worker still answers /health after bad input",
           c.req("GET", "/health"), 200)


def check_keepalive_after_errors(c):
    """Errors must leave kept-alive connections (client and FastCGI)
    usable: a body the worker did not read would make libfcgi drop the
    connection and nginx answer 502 (503 here)."""
    conn = c.s.connection()
    try:
        statuses = []
        for i in range(60):
            bad = (b'{"value":1}' + b" " * 3000, b"nope" * 1000,
                   b'{"value":"x"}trailing' * 100)[i % 3]
            statuses.append(c.req("POST", "/set/ka", bad, conn=conn).status)
            statuses.append(c.set("ka", "v%d" % i, conn=conn).status)
            statuses.append(c.get("ka", conn=conn).status)
        want = [400, 200, 200] * 60
        C.ok("60 x (400, 200, 200) on one kept-alive connection",
             statuses == want,
             "statuses seen: %s" % sorted(set(statuses)))
    finally:
        conn.close()


def check_routes(c, engine):
    for method, path, allow in (("GET", "/set/k", "POST"),
                                ("DELETE", "/set/k", "POST"),
                                ("POST", "/get/k", "GET"),
                                ("DELETE", "/get/k", "GET"),
                                ("GET", "/delete/k", "DELETE"),
                                ("POST", "/delete/k", "DELETE"),
                                ("PUT", "/delete/k", "DELETE"),
                                ("POST", "/health", "GET"),
                                ("DELETE", "/stats", "GET"),
                                ("POST", "/range", "GET")):
        body = b'{"value":"x"}' if method in ("POST", "PUT") else None
        r = c.req(method, path, body)
        allowed = [m.strip() for m in r.headers.get("allow", "").split(",")]
        C.ok("%s %s is 405 with Allow: %s" % (method, path, allow),
             r.status == 405 and allow in allowed and
             isinstance((r.json() or {}).get("error"), str),
             "%r, Allow %r" % (r, r.headers.get("allow")))
    C.ok("a 405 POST /get/k did not store anything",
         c.get("k").status == 404, repr(c.get("k")))

    for path, limit in (("/range", 100),
                        ("/range?start=a&end=z&limit=10", 10),
                        ("/range?limit=5", 5)):
        r = c.req("GET", path)
        if engine not in SORTED_ENGINES:
            expect_error("GET %s is 501 (unordered engine)" % path, r, 501)
            continue
        doc = r.json()
        items = doc.get("items") if isinstance(doc, dict) else None
        keys = [i.get("key", i.get("key_b64")) for i in items or []
                if isinstance(i, dict)]
        C.ok("GET %s is 200 with at most %d items (sorted engine)"
             % (path, limit),
             r.status == 200 and isinstance(items, list) and
             0 < len(items) <= limit and len(keys) == len(items),
             repr(r))
    if engine in SORTED_ENGINES:
        expect_error("GET /range?limit=0 is 400",
                     c.req("GET", "/range?limit=0"), 400)
    else:
        expect_error("GET /range?limit=0 is 501 (unordered engine)",
                     c.req("GET", "/range?limit=0"), 501)

    for method, path in (("GET", "/"), ("GET", "/nope"), ("GET", "/get"),
                         ("POST", "/set"), ("GET", "/health/x"),
                         ("GET", "/getx/k"), ("GET", "/x/get/k"),
                         ("GET", "/foo.html"), ("POST", "/nope")):
        expect_error("%s %s is 404" % (method, path), c.req(method, path),
                     404)


def check_concurrency(c, threads=16, per_thread=20):
    errors = []
    c.set("shared", "shared-value")

    def worker(t):
        conn = c.s.connection()
        try:
            for i in range(per_thread):
                key = "t%d-%d" % (t, i)
                value = "value %d/%d é %s" % (t, i, "x" * (i * 37))
                r = c.set(key, value, conn=conn)
                if r.status != 200:
                    errors.append("set %s: %r" % (key, r))
                    continue
                r = c.get(key, conn=conn)
                if r.status != 200 or r.json() != {"value": value}:
                    errors.append("get %s: %r" % (key, r))
                r = c.get("shared", conn=conn)
                if r.json() != {"value": "shared-value"}:
                    errors.append("get shared: %r" % r)
        except Exception as e:  # noqa: BLE001 - reported as a failure
            errors.append("thread %d: %r" % (t, e))
        finally:
            conn.close()

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    start = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    C.ok("%d threads x %d set+get+get all answered right (%.1f s)"
         % (threads, per_thread, time.monotonic() - start),
         not errors and not any(t.is_alive() for t in ts),
         "%d errors, first: %s" % (len(errors), errors[:3]))
    # Afterwards, every key still holds its value.
    wrong = [k for k in ("t%d-%d" % (t, i) for t in range(threads)
                         for i in range(0, per_thread, 7))
             if c.value(k) is None]
    C.ok("the concurrent keys read back afterwards", not wrong, repr(wrong))


def check_worker_down(c):
    s = c.s
    status = s.stop_worker(signal.SIGTERM)
    C.ok("the worker exits 0 on SIGTERM", status == 0,
         "status %r\n%s" % (status, s.tail(s.worker_log)))
    C.ok("the worker removed its socket on SIGTERM",
         not os.path.exists(s.socket_path), s.socket_path)
    C.ok("the worker removed its pid file on SIGTERM",
         not os.path.exists(s.pid_file), s.pid_file)
    r = c.req("GET", "/health")
    C.ok("worker stopped: /health is a 503 JSON error",
         r.status == 503 and isinstance((r.json() or {}).get("error"), str),
         repr(r))
    r = c.set("down", "x")
    expect_error("worker stopped: POST /set is 503", r, 503)

    s.start_worker()
    s.wait_healthy()
    C.ok("the pid file holds the worker's pid",
         _read(s.pid_file).strip() == str(s.worker_pid()),
         "%r vs %r" % (_read(s.pid_file), s.worker_pid()))
    s.kill_worker(signal.SIGKILL)
    r = c.req("GET", "/get/x")
    expect_error("worker killed: GET is 503", r, 503)
    s.start_worker()
    s.wait_healthy()
    expect("the worker serves again after a SIGKILL and restart",
           c.set("after-kill", "x"), 200)


def check_durability(c):
    s = c.s
    c.set("durable", "before restart é")
    c.set("gone", "to be deleted")
    c.delete("gone")
    c.set("over", "one")
    c.set("over", "two")
    status = s.restart_worker()
    C.ok("clean restart: the worker exited 0", status == 0,
         "status %r" % status)
    C.ok("clean restart: the value survives",
         c.value("durable") == "before restart é", repr(c.get("durable")))
    expect("clean restart: a deleted key stays deleted", c.get("gone"), 404)
    C.ok("clean restart: the last overwrite wins", c.value("over") == "two",
         repr(c.get("over")))
    C.ok("clean restart: the 1 MiB value survives",
         c.value("big") == "x" * s.max_value_bytes, "mismatch")

    c.set("killed", "acknowledged before SIGKILL")
    c.set("over", "three")
    c.delete("durable")
    s.kill_worker(signal.SIGKILL)
    s.start_worker()
    s.wait_healthy()
    C.ok("SIGKILL: an acknowledged value survives",
         c.value("killed") == "acknowledged before SIGKILL",
         repr(c.get("killed")))
    C.ok("SIGKILL: an acknowledged overwrite survives",
         c.value("over") == "three", repr(c.get("over")))
    expect("SIGKILL: an acknowledged delete stays deleted",
           c.get("durable"), 404)

    # A SIGKILL in the middle of concurrent writes: everything that was
    # acknowledged is there afterwards.
    acked = {}
    stop = threading.Event()

    def writer(t):
        conn = c.s.connection(timeout=10)
        i = 0
        try:
            while not stop.is_set():
                key, value = "load%d-%d" % (t, i), "v%d" % i
                try:
                    r = c.s.request("POST", "/set/" + key,
                                    json.dumps({"value": value}).encode(),
                                    conn=conn)
                except OSError:
                    conn.close()
                    conn = c.s.connection(timeout=10)
                    continue
                if r.status == 200:
                    acked[key] = value
                i += 1
        finally:
            conn.close()

    ts = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for t in ts:
        t.start()
    time.sleep(0.5)
    s.kill_worker(signal.SIGKILL)
    stop.set()
    for t in ts:
        t.join(30)
    s.start_worker()
    s.wait_healthy()
    lost = [k for k, v in acked.items() if c.value(k) != v]
    C.ok("SIGKILL under load: all %d acknowledged writes survive"
         % len(acked), acked and not lost,
         "%d lost, e.g. %s" % (len(lost), lost[:5]))


def check_second_worker(c):
    """A second worker on the same data dir refuses to start, says why,
    and leaves the first one (and its socket) alone."""
    s = c.s
    for label, sock in (("its own socket", os.path.join(s.dir, "second.sock")),
                        ("the same socket", s.socket_path)):
        cmd = s.worker_command(socket_path=sock)
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=15)
            out = p.stdout.decode("utf-8", errors="replace")
            C.ok("a second worker (%s) exits non-zero" % label,
                 p.returncode != 0, "status %d: %s" % (p.returncode, out))
            C.ok("a second worker (%s) mentions the lock" % label,
                 "lock" in out.lower(),
                 repr(out[:300]))
        except subprocess.TimeoutExpired:
            C.ok("a second worker (%s) exits non-zero" % label, False,
                 "still running after 15 s (killed)")
        expect("the first worker still serves (after a second on %s)"
               % label, c.req("GET", "/health"), 200)
    C.ok("the first worker's socket is still there",
         os.path.exists(s.socket_path), s.socket_path)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        return "(%s)" % e


def run_engine(engine):
    C.prefix = "[%s] " % engine
    start = time.monotonic()
    with Strata(engine=engine) as s:
        c = Client(s)
        steps = [
            ("seed examples", lambda: check_seed_examples(c)),
            ("health/stats", lambda: check_health_stats(c, engine)),
            ("keys", lambda: check_keys(c, s.max_key_bytes)),
            ("values", lambda: check_values(c, s.max_value_bytes)),
            ("bad input", lambda: check_bad_input(c, s.max_value_bytes,
                                                  s.max_body)),
            ("keep-alive", lambda: check_keepalive_after_errors(c)),
            ("routes", lambda: check_routes(c, engine)),
            ("concurrency", lambda: check_concurrency(c)),
            ("worker down", lambda: check_worker_down(c)),
        ]
        if engine in PERSISTENT_ENGINES:
            steps += [("durability", lambda: check_durability(c)),
                      ("second worker", lambda: check_second_worker(c))]
        for name, step in steps:
            try:
                step()
            except HarnessError:
                raise
            except Exception as e:  # noqa: BLE001 - a failed check
                C.ok("%s: no exception" % name, False, repr(e))
                # The processes may be in any state: bring them back.
                if s.worker is None or s.worker.poll() is not None:
                    s.stop_worker()
                    s.start_worker()
                s.wait_healthy()
        C.ok("every response was JSON with Content-Type application/json",
             not C.not_json,
             "%d offenders:\n  %s" % (len(C.not_json),
                                      "\n  ".join(C.not_json[:20])))
        C.not_json = []
        status = s.stop_worker()
        C.ok("the worker exits 0 at the end", status == 0,
             "status %r\n%s" % (status, s.tail(s.worker_log)))
        if C.failed:
            print("# worker log (tail):\n# " +
                  s.tail(s.worker_log).replace("\n", "\n# "))
            print("# nginx error log (tail):\n# " +
                  s.tail(s.nginx_error_log).replace("\n", "\n# "))
    print("# engine %s: %.1f s" % (engine, time.monotonic() - start))


def run():
    assert body_limit(1048576) == 6295552
    for engine in ENGINES:
        run_engine(engine)
    C.prefix = ""
    print("# %d passed, %d failed" % (C.passed, C.failed))
    return C.failed


if __name__ == "__main__":
    main_guard(run)
