"""GET /range on the lsm engine, through a real nginx and a real stratad:
the contract of DESIGN.md ("HTTP contract", /range).

    GET /range?start=K&end=K&limit=N
        -> {"items":[{"key":...,"value":...},...],"next":K}

start inclusive, end exclusive, both optional; keys ordered as raw bytes
(memcmp, then length); limit 1..1000, default 100; "next" present exactly
when more items remain, and is the start of the following page;
parameters percent-decoded like keys ("+" is a literal plus); a key that
is not UTF-8 comes as "key_b64" (and "next_b64").

Every answer is compared with a model of the store (bytes -> value)
kept next to it. The worker runs with a small memtable so that ranges
cross the memtable, flushed tables and compacted levels.

Prints one line per check ("ok - name" / "not ok - name: detail") and
exits 1 when any failed; 99 when the harness could not run at all.
"""

import base64
import json
import os
import random
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (CHECKS, HarnessError, Strata,  # noqa: E402
                     main_guard, ok)

# Flushes every ~64 KiB of writes: the 2,500 keys below span tables.
MEMTABLE_BYTES = 65536
BULK_KEYS = 2500

not_json = []



def pct(data):
    """Percent-encodes every byte: the key exactly, whatever it holds."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return "".join("%%%02X" % b for b in data)


def is_utf8(data):
    try:
        data.decode("utf-8", errors="strict")
        return True
    except UnicodeDecodeError:
        return False


class Client:
    def __init__(self, strata):
        self.s = strata
        # The store as it should be: key bytes -> value (str).
        self.model = {}
        self.lock = threading.Lock()

    def req(self, method, path, body=None, conn=None):
        r = self.s.request(method, path, body, conn=conn)
        ctype = r.headers.get("content-type", "")
        if method != "HEAD" and (not ctype.startswith("application/json") or
                                 r.json() is None):
            with self.lock:
                not_json.append("%s %s -> %r (Content-Type %r)"
                                % (method, path[:80], r, ctype))
        return r

    def set(self, key, value, conn=None):
        """key: bytes; sent percent-encoded. Updates the model on 200."""
        body = json.dumps({"value": value}).encode("utf-8")
        r = self.req("POST", "/set/" + pct(key), body, conn=conn)
        if r.status == 200:
            with self.lock:
                self.model[key] = value
        return r

    def delete(self, key, conn=None):
        r = self.req("DELETE", "/delete/" + pct(key), conn=conn)
        if r.status in (200, 404):
            with self.lock:
                self.model.pop(key, None)
        return r

    def range(self, query="", conn=None):
        return self.req("GET", "/range" + ("?" + query if query else ""),
                        conn=conn)

    def expected(self, start=None, end=None):
        """The model's items in [start, end), in byte order."""
        return [(k, self.model[k]) for k in sorted(self.model)
                if (start is None or k >= start) and
                (end is None or k < end)]


class BadPage(Exception):
    pass


def decode_page(r):
    """(items as [(key bytes, value)], next bytes or None) of a 200
    answer, checking its shape; raises BadPage with what is wrong."""
    if r.status != 200:
        raise BadPage("status %r" % r)
    doc = r.json()
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise BadPage("not an object with an items array: %r" % r)
    extra = set(doc) - {"items", "next", "next_b64"}
    if extra or ("next" in doc and "next_b64" in doc):
        raise BadPage("unexpected members %s: %r" % (sorted(doc), r))
    items = []
    for item in doc["items"]:
        if not isinstance(item, dict) or set(item) not in (
                {"key", "value"}, {"key_b64", "value"}):
            raise BadPage("bad item %r" % (item,))
        if not isinstance(item["value"], str):
            raise BadPage("value is not a string: %r" % (item,))
        items.append((decode_key(item, "key"), item["value"]))
    nxt = None
    if "next" in doc or "next_b64" in doc:
        nxt = decode_key(doc, "next")
    return items, nxt


def decode_key(obj, name):
    """obj[name] (UTF-8) or obj[name + "_b64"] (base64) as bytes; the
    b64 form must be used exactly when the bytes are not UTF-8."""
    if name in obj:
        if not isinstance(obj[name], str):
            raise BadPage("%s is not a string: %r" % (name, obj))
        return obj[name].encode("utf-8")
    text = obj.get(name + "_b64")
    if not isinstance(text, str):
        raise BadPage("%s_b64 is not a string: %r" % (name, obj))
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as e:
        raise BadPage("%s_b64 %r is not base64: %s" % (name, text, e))
    if base64.b64encode(data).decode() != text:
        raise BadPage("%s_b64 %r is not canonical base64" % (name, text))
    if is_utf8(data):
        raise BadPage("%s_b64 used for UTF-8 bytes %r" % (name, data))
    return data


def fetch(c, query):
    """decode_page(c.range(query)), or (None, error text)."""
    r = c.range(query)
    try:
        return decode_page(r), None
    except BadPage as e:
        return None, "GET /range?%s: %s" % (query, e)


def walk(c, limit=None, start=None, end=None, max_pages=10000):
    """Pages through [start, end) following "next"; returns (items,
    number of pages, error text or None). Checks on the way that every
    page but the last is full and that next is its start."""
    items, pages = [], 0
    cur = start
    while True:
        parts = []
        if cur is not None:
            parts.append("start=" + pct(cur))
        if end is not None:
            parts.append("end=" + pct(end))
        if limit is not None:
            parts.append("limit=%d" % limit)
        got, err = fetch(c, "&".join(parts))
        if err:
            return items, pages, err
        page, nxt = got
        pages += 1
        want = limit or 100
        if len(page) > want:
            return items, pages, "page %d has %d > %d items" % (
                pages, len(page), want)
        if nxt is not None and len(page) != want:
            return items, pages, "page %d has next but only %d items" % (
                pages, len(page))
        items += page
        if nxt is None:
            return items, pages, None
        if page and nxt <= page[-1][0]:
            return items, pages, "next %r is not past the page's last %r" % (
                nxt, page[-1][0])
        cur = nxt
        if pages >= max_pages:
            return items, pages, "more than %d pages" % max_pages


def same_items(got, want):
    """None when equal, else a short description of the first difference."""
    if got == want:
        return None
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return "first difference at item %d: got %r, want %r" % (
                i, g[0][:40], w[0][:40])
    return "got %d items, want %d (last got %r)" % (
        len(got), len(want), got[-1][0][:40] if got else None)


def check_page(c, name, query, want_keys, want_next=None):
    """One request: its keys are exactly want_keys (values from the
    model) and its next is want_next (absent when None)."""
    got, err = fetch(c, query)
    if err:
        return ok(name, False, err)
    items, nxt = got
    want = [(k, c.model[k]) for k in want_keys]
    diff = same_items(items, want)
    if diff:
        return ok(name, False, "GET /range?%s: %s" % (query, diff))
    return ok(name, nxt == want_next,
              "GET /range?%s: next %r, want %r" % (query, nxt, want_next))


def check_model_range(c, name, start, end):
    """[start, end) in one page is exactly what the model holds."""
    want = [k for k, _ in c.expected(start, end)]
    return check_page(c, name + " (%d keys)" % len(want),
                      "start=%s&end=%s&limit=1000" % (pct(start), pct(end)),
                      want)


def expect_400(c, name, query):
    r = c.range(query)
    doc = r.json()
    return ok(name, r.status == 400 and isinstance(doc, dict) and
              isinstance(doc.get("error"), str) and
              r.headers.get("content-type", "").startswith(
                  "application/json"),
              "GET /range?%s: %r" % (query, r))


# --- the checks ---------------------------------------------------------


def check_empty(c):
    r = c.range()
    ok("an empty store: GET /range is {\"items\":[]}",
       r.status == 200 and r.json() == {"items": []}, repr(r))
    r = c.range("start=a&end=z&limit=5")
    ok("an empty store: a bounded range is {\"items\":[]}",
       r.status == 200 and r.json() == {"items": []}, repr(r))


SMALL = [b"a", b"a\x01", b"a\x01\x01", b"ab", b"a+b", b"a b", b"b", b"B",
         b"x/y", b"x", b"xy", "é☃".encode(), b"\x7f", b"\xc3\xa9",
         b"z", b"zz"]


def check_small(c):
    for k in SMALL:
        r = c.set(k, "v:" + k.hex())
        if r.status != 200:
            ok("set the key %r" % k, False, repr(r))
    m = sorted(c.model)
    check_page(c, "the whole range is every key in byte order", "", m)
    ok("byte order: a < a\\x01 < a\\x01\\x01 < ab < b",
       m.index(b"a") < m.index(b"a\x01") < m.index(b"a\x01\x01") <
       m.index(b"ab") < m.index(b"b"), repr(m))

    # start inclusive, end exclusive; NUL in a parameter via %00.
    check_page(c, "start=a is inclusive", "start=a&limit=2",
               [b"a", b"a\x01"], b"a\x01\x01")
    check_page(c, "start=a%00 (a NUL byte) starts past a",
               "start=a%00&limit=1", [b"a\x01"], b"a\x01\x01")
    check_page(c, "end=a%00 ends right after a", "start=a&end=a%00",
               [b"a"])
    check_page(c, "end=ab is exclusive", "start=a&end=ab",
               [b"a", b"a\x01", b"a\x01\x01", b"a b", b"a+b"])
    check_page(c, "end=a%01%01%00 includes a\\x01\\x01",
               "start=a%01&end=a%01%01%00", [b"a\x01", b"a\x01\x01"])
    check_page(c, "start only: every key from there on", "start=xy",
               [k for k in m if k >= b"xy"])
    check_page(c, "end only: every key before it", "end=a%01",
               [k for k in m if k < b"a\x01"])
    check_page(c, "start and end need not be keys", "start=aa&end=ac",
               [b"ab"])
    check_page(c, "bytes above 0x7f sort after ASCII (unsigned)",
               "start=z", [b"z", b"zz", b"\x7f", b"\xc3\xa9",
                           "é☃".encode()])

    # Decoding: + is a literal plus, %2B too, %20 a space, %2F a slash.
    check_page(c, "start=a+b (literal plus)", "start=a+b&limit=1",
               [b"a+b"], b"ab")
    check_page(c, "start=a%2Bb is the same", "start=a%2Bb&limit=1",
               [b"a+b"], b"ab")
    check_page(c, "start=a%20b is a space", "start=a%20b&limit=1",
               [b"a b"], b"a+b")
    check_page(c, "start=x%2Fy&end=x%2Fz (slashes)", "start=x%2Fy&end=x%2Fz",
               [b"x/y"])
    check_page(c, "lower-case hex (%c3%a9)", "start=%c3%a9&end=%c3%a9%00",
               [b"\xc3\xa9"])
    check_page(c, "a UTF-8 key comes as \"key\"", "start=%C3%A9%E2&limit=1",
               ["é☃".encode()])
    check_page(c, "parameters in any order", "limit=1&end=b&start=ab",
               [b"ab"])

    # "next" exactly when more items remain.
    within = [k for k in m if b"a" <= k < b"b"]
    n = len(within)
    check_page(c, "limit equal to what remains: no next",
               "start=a&end=b&limit=%d" % n, within)
    check_page(c, "limit one short: next is the last key",
               "start=a&end=b&limit=%d" % (n - 1), within[:-1], within[-1])
    check_page(c, "limit past what remains: no next",
               "start=a&end=b&limit=%d" % (n + 5), within)
    items, pages, err = walk(c, limit=1, start=b"a", end=b"b")
    ok("limit=1 pages through [a, b) one key at a time (%d pages)" % n,
       not err and pages == n and [k for k, _ in items] == within,
       err or "%d pages, keys %r" % (pages, [k for k, _ in items]))

    # Empty ranges.
    for q in ("start=b&end=a", "start=b&end=b", "start=zzz%FF%FF&end=zzz",
              "start=%FF%FF%FF", "end=%01", "start=b&end=b&limit=1000"):
        r = c.range(q)
        ok("an empty range (%s) is exactly {\"items\":[]}" % q,
           r.status == 200 and r.json() == {"items": []}, repr(r))

    # limit: 1..1000, digits only.
    check_page(c, "limit=1000 is accepted", "limit=1000", m)
    check_page(c, "limit=%31 is percent-decoded to 1", "limit=%31",
               [m[0]], m[1])
    for bad in ("0", "1001", "-1", "abc", "", "1.5", "1e3", "+1", "%2B1",
                "%201", "10000", "99999999999999999999", "0x10"):
        expect_400(c, "limit=%s is 400" % bad, "limit=" + bad)
    expect_400(c, "limit without a value is 400", "limit")
    for q in ("start=a&start=b", "end=a&end=b", "limit=1&limit=1",
              "start=a&limit=2&start=a"):
        expect_400(c, "a repeated parameter (%s) is 400" % q, q)
    for q in ("start=%zz", "end=%zz", "start=a%", "end=a%2", "start=%G0",
              "limit=%zz"):
        expect_400(c, "a bad escape (%s) is 400" % q, q)
    # A bad escape in the path: nginx answers, in JSON too.
    r = c.s.raw_request(b"GET /range%zz HTTP/1.1\r\nHost: x\r\n"
                        b"Connection: close\r\n\r\n")
    ok("GET /range%zz is a 400 or 404 JSON error",
       r is not None and r.status in (400, 404) and
       isinstance((r.json() or {}).get("error"), str) and
       r.headers.get("content-type", "").startswith("application/json"),
       repr(r))


def check_b64(c):
    bad = [b"\xff\xfe", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf",
           b"\xfex"]
    for k in bad:
        r = c.set(k, "b64:" + k.hex())
        ok("set the non-UTF-8 key %s via /set/%s" % (k.hex(), pct(k)),
           r.status == 200, repr(r))
    r = c.range("start=%FF%FE&end=%FF%FF")
    doc = r.json() or {}
    ok("/set/%FF%FE comes back as key_b64 \"//4=\"",
       r.status == 200 and doc == {"items": [
           {"key_b64": "//4=", "value": "b64:fffe"}]}, repr(r))
    for k in bad:
        end = k + b"\x00"
        check_page(c, "the key %s round-trips through key_b64" % k.hex(),
                   "start=%s&end=%s" % (pct(k), pct(end)), [k])
    # next_b64: a page that stops right before \xff\xfe.
    before = max(k for k in c.model if k < b"\xff\xfe")
    r = c.range("start=%s&limit=1" % pct(before))
    doc = r.json() or {}
    ok("next for a non-UTF-8 key comes as next_b64",
       r.status == 200 and doc.get("next_b64") == "//4=" and
       "next" not in doc, repr(r))
    check_page(c, "next_b64 decoded is the start of the next page",
               "start=%FF%FE&limit=1", [b"\xff\xfe"],
               min((k for k in c.model if k > b"\xff\xfe"), default=None))
    items, pages, err = walk(c, limit=1)
    ok("limit=1 walks every key, non-UTF-8 ones included (%d pages)"
       % pages, not err and items == c.expected(),
       err or same_items(items, c.expected()))


VALUES = [("unicode", "héllo ☃ 😀"), ("NUL", "\u0000x\u0000"),
          ("empty", ""), ("escapes", "a\"b\\c\n\t/"),
          ("controls", "".join(chr(i) for i in range(32)) + "\u007f"),
          ("line separators", "\u2028\u2029"), ("json text", '{"a":"b"}'),
          ("long", "é" * 5000)]


def check_values(c):
    for name, value in VALUES:
        key = ("val-" + name).encode()
        r = c.set(key, value)
        ok("set the value %s" % name, r.status == 200, repr(r))
        check_page(c, "the value %s round-trips through /range" % name,
                   "start=%s&limit=1" % pct(key), [key],
                   min((k for k in c.model if k > key), default=None))
    # Overwrite and delete show up at once.
    c.set(b"a", "newer")
    check_page(c, "an overwrite shows the newest value", "start=a&limit=1",
               [b"a"], b"a\x01")
    c.delete(b"a\x01")
    check_page(c, "a deleted key does not appear", "start=a&limit=2",
               [b"a", b"a\x01\x01"], b"a b")
    check_page(c, "a range that starts on a deleted key",
               "start=a%01&limit=1", [b"a\x01\x01"], b"a b")
    check_page(c, "a range of only a deleted key is empty",
               "start=a%01&end=a%01%00", [])
    c.set(b"a\x01", "back")
    check_page(c, "a key set again after its delete is back",
               "start=a%01&limit=1", [b"a\x01"], b"a\x01\x01")


def bulk_key(rng, i):
    """Keys of every byte but NUL (nginx refuses %00 in a path) and of
    lengths 1..24; some are not UTF-8."""
    n = rng.randint(1, 24)
    key = bytes(rng.randint(1, 255) for _ in range(n))
    if i % 3 == 0:  # and plenty of plain ones
        key = b"bulk-%05d-" % rng.randint(0, 99999) + key[:4]
    if key in (b".", b".."):
        key += b"!"
    return key


def parallel(c, jobs, threads=8):
    """Runs fn(conn) for fn in jobs on `threads` kept-alive connections;
    returns the errors."""
    errors = []
    lock = threading.Lock()
    it = iter(jobs)

    def run():
        conn = c.s.connection()
        try:
            while True:
                with lock:
                    job = next(it, None)
                if job is None:
                    return
                err = job(conn)
                if err:
                    with lock:
                        errors.append(err)
        except Exception as e:  # noqa: BLE001 - reported as a failure
            with lock:
                errors.append(repr(e))
        finally:
            conn.close()

    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return errors


def check_bulk(c):
    rng = random.Random(20240601)
    keys = set()
    while len(keys) < BULK_KEYS:
        keys.add(bulk_key(rng, len(keys)))
    keys = sorted(keys, key=lambda k: rng.random())
    values = {k: "v%d %s" % (i, "x" * rng.randint(0, 200))
              for i, k in enumerate(keys)}

    def setter(k, v):
        def job(conn):
            r = c.set(k, v, conn=conn)
            return None if r.status == 200 else "set %r: %r" % (k, r)
        return job

    def deleter(k):
        def job(conn):
            r = c.delete(k, conn=conn)
            return None if r.status == 200 else "delete %r: %r" % (k, r)
        return job

    t0 = time.monotonic()
    errors = parallel(c, [setter(k, values[k]) for k in keys])
    ok("set %d keys of random bytes (%.1f s)"
       % (len(keys), time.monotonic() - t0), not errors,
       "%d errors, first %s" % (len(errors), errors[:3]))
    check_bulk_ranges(c, "all set: ")
    # Overwrite every 11th, delete every 7th (in byte order), and a run
    # of 300 neighbours, so that pages have to skip tombstones.
    # (A key is either overwritten or deleted: the jobs run in parallel.)
    order = sorted(keys)
    dead = set(order[3::7]) | set(order[1000:1300])
    over = [k for k in order[::11] if k not in dead]
    jobs = [setter(k, "new " + values[k]) for k in over]
    jobs += [deleter(k) for k in sorted(dead)]
    errors = parallel(c, jobs)
    ok("overwrite %d and delete %d of them" % (len(over), len(dead)),
       not errors, "%d errors, first %s" % (len(errors), errors[:3]))

    check_bulk_ranges(c, "some overwritten, some deleted: ")


def check_bulk_ranges(c, pre):
    want = c.expected()
    t0 = time.monotonic()
    for limit in (1000, None):
        items, pages, err = walk(c, limit=limit)
        per = 100 if limit is None else limit
        ok(pre + "paging %d items with limit %s: %d pages, exactly the "
           "sorted key set (no gaps, no duplicates)"
           % (len(want), limit or "default (100)", pages),
           not err and not same_items(items, want) and
           pages == max(1, -(-len(want) // per)),
           err or same_items(items, want) or "%d pages" % pages)
    keys = [k for k, _ in want]
    # A bounded walk (across the run of deleted keys once they are
    # deleted), with a limit that divides nothing.
    start, end = keys[900], keys[1100]
    items, pages, err = walk(c, limit=7, start=start, end=end)
    ok(pre + "paging live keys [%d, %d) with limit 7" % (900, 1100),
       not err and not same_items(items, want[900:1100]),
       err or same_items(items, want[900:1100]))
    # Overwrites show the new value, deletes are gone.
    ok(pre + "no deleted key and no stale value in the pages",
       all(v == c.model[k] for k, v in items), "mismatch")
    print("# %spaging took %.1f s" % (pre, time.monotonic() - t0))


def check_methods(c):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        body = b'{"value":"x"}' if method in ("POST", "PUT", "PATCH") else None
        r = c.req(method, "/range?start=a", body)
        ok("%s /range is 405 with Allow: GET, HEAD" % method,
           r.status == 405 and r.headers.get("allow") == "GET, HEAD" and
           isinstance((r.json() or {}).get("error"), str),
           "%r, Allow %r" % (r, r.headers.get("allow")))
    r = c.req("HEAD", "/range?limit=1")
    ok("HEAD /range is 200 with JSON Content-Type and no body",
       r.status == 200 and r.body == b"" and
       r.headers.get("content-type", "").startswith("application/json"),
       "%r %r" % (r, r.headers))
    r = c.req("HEAD", "/range?limit=0")
    ok("HEAD /range?limit=0 is 400", r.status == 400, repr(r))
    for path in ("/range/", "/range/a", "/ranges", "/Range"):
        r = c.req("GET", path)
        ok("GET %s is a 404 JSON error" % path,
           r.status == 404 and isinstance((r.json() or {}).get("error"), str),
           repr(r))
    r = c.req("GET", "/range?")
    ok("GET /range? (an empty query) is the default page",
       r.status == 200 and len((r.json() or {}).get("items", [])) ==
       min(100, len(c.model)), repr(r))


def check_stats(c):
    r = c.req("GET", "/stats")
    doc = r.json() or {}
    ok("/stats counts the scans and shows flushed tables",
       r.status == 200 and doc.get("scans", 0) > 0 and
       doc.get("flushes", 0) > 0 and doc.get("tables", 0) > 0,
       "scans %r, flushes %r, tables %r" % (
           doc.get("scans"), doc.get("flushes"), doc.get("tables")))


def check_restart(c):
    s = c.s
    status = s.restart_worker()
    ok("clean restart: the worker exits 0", status == 0,
       "status %r\n%s" % (status, s.tail(s.worker_log)))
    check_bulk_ranges(c, "after a clean restart: ")
    check_model_range(c, "after a clean restart: the non-UTF-8 keys",
                      b"\xff", b"\xff\xff")

    # Writes just before a SIGKILL: acknowledged means kept.
    c.set(b"a", "before the kill")
    c.delete(b"ab")
    c.set(b"\xff\xfe\xfd", "killed")
    s.kill_worker(signal.SIGKILL)
    s.start_worker()
    s.wait_healthy()
    ok("after SIGKILL: the model holds the acknowledged writes",
       c.model.get(b"a") == "before the kill" and b"ab" not in c.model and
       c.model.get(b"\xff\xfe\xfd") == "killed", "model out of step")
    check_model_range(c, "after SIGKILL: the acknowledged writes, in order",
                      b"a", b"ac")
    check_model_range(c, "after SIGKILL: the non-UTF-8 keys",
                      b"\xff", b"\xff\xff")
    check_bulk_ranges(c, "after SIGKILL: ")


def run():
    t0 = time.monotonic()
    with Strata(engine="lsm", extra_args=[
            "--memtable-bytes", str(MEMTABLE_BYTES)]) as s:
        c = Client(s)
        steps = [("empty", check_empty), ("small", check_small),
                 ("b64", check_b64), ("values", check_values),
                 ("methods", check_methods), ("bulk", check_bulk),
                 ("stats", check_stats), ("restart", check_restart)]
        for name, step in steps:
            try:
                step(c)
            except HarnessError:
                raise
            except Exception as e:  # noqa: BLE001 - a failed check
                ok("%s: no exception" % name, False, repr(e))
                if s.worker is None or s.worker.poll() is not None:
                    s.stop_worker()
                    s.start_worker()
                s.wait_healthy()
        ok("every response was JSON with Content-Type application/json",
           not not_json, "%d offenders:\n  %s"
           % (len(not_json), "\n  ".join(not_json[:20])))
        status = s.stop_worker()
        ok("the worker exits 0 at the end", status == 0,
           "status %r\n%s" % (status, s.tail(s.worker_log)))
        if CHECKS.failed:
            print("# worker log (tail):\n# " +
                  s.tail(s.worker_log).replace("\n", "\n# "))
    print("# %d passed, %d failed (%.1f s)"
          % (CHECKS.passed, CHECKS.failed, time.monotonic() - t0))
    return CHECKS.failed


if __name__ == "__main__":
    main_guard(run)
