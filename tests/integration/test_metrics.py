"""GET /metrics through a real nginx and a real stratad, for every engine:
the page is Prometheus text 0.0.4 that prometheus_client's own parser
reads, and its numbers move by exactly what the test did.

- strata_http_requests_total{route,status}: +1 per request the worker
  answered, by route and status (the scrape itself counts once written,
  so it shows in the next scrape);
- strata_http_request_duration_seconds{route}: +Inf bucket == _count,
  buckets cumulative, _count moved as much as that route's requests;
- store counters (sets, gets, misses, deletes), keys, build info, up;
- strata_fsyncs_total: grows by at least one per write under
  --sync always, stays put under --sync none and on the memory engine;
- strata_group_commit_batch_size: one observation per write, _sum the
  writes, also when many clients write at once;
- lsm: strata_lsm_level_tables{level="0".."6"} and the flush counter once
  a small memtable has been flushed.

Prints one line per check ("ok - name" / "not ok - name: detail") and
exits 1 when any failed; 99 when the harness could not run at all.
"""

import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (CHECKS, HarnessError, Strata,  # noqa: E402
                     main_guard, ok)

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # A python3 of its own (pyenv, a venv) does not see Debian's packages;
    # python3-prometheus-client is pure Python, so its directory will do.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ENGINES = ("memory", "file", "lsm")
# lsm: flush every ~64 KiB, so a few hundred KiB of writes make tables.
LSM_MEMTABLE = 65536




class Page:
    """One scrape, parsed by prometheus_client: the types of the families
    and the value of every sample, keyed by (name, sorted labels)."""

    def __init__(self, text):
        self.text = text
        self.types = {}
        self.samples = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for s in family.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                if key in self.samples:
                    raise ValueError("sample %r twice" % (key,))
                self.samples[key] = s.value

    def get(self, name, default=None, **labels):
        return self.samples.get((name, tuple(sorted(labels.items()))),
                                default)

    def series(self, name):
        """{labels dict as tuple: value} of every sample named `name`."""
        return {k[1]: v for k, v in self.samples.items() if k[0] == name}


def scrape(s, check_headers=False, path="/metrics"):
    r = s.request("GET", path)
    if r.status != 200:
        raise HarnessError("GET %s answered %r" % (path, r))
    if check_headers:
        ok("[%s] /metrics answers %s" % (s.engine, CONTENT_TYPE),
           r.headers.get("content-type") == CONTENT_TYPE, r.headers)
    return Page(r.body.decode("utf-8"))


def requests_delta(before, after, route, status):
    name = "strata_http_requests_total"
    return (after.get(name, 0.0, route=route, status=str(status)) -
            before.get(name, 0.0, route=route, status=str(status)))


def set_value(s, key, value, conn=None):
    return s.request("POST", "/set/" + key,
                     json.dumps({"value": value}).encode(), conn=conn)


def check_histograms(pre, page):
    """Every route's latency histogram is consistent in itself."""
    name = "strata_http_request_duration_seconds"
    routes = sorted({dict(k)["route"] for k in page.series(name + "_count")})
    ok(pre + "a latency histogram for each of the 8 routes",
       routes == sorted(["set", "get", "delete", "range", "health", "stats",
                         "metrics", "other"]), routes)
    bad = []
    for route in routes:
        buckets = sorted(
            ((float(dict(k)["le"]), v)
             for k, v in page.series(name + "_bucket").items()
             if dict(k)["route"] == route))
        counts = [v for _, v in buckets]
        count = page.get(name + "_count", route=route)
        if buckets[-1][0] != float("inf") or counts[-1] != count:
            bad.append("%s: +Inf %r, count %r" % (route, buckets[-1], count))
        if counts != sorted(counts):
            bad.append("%s: buckets not cumulative %r" % (route, counts))
        if len(buckets) < 10 or buckets[0][0] > 0.0001 or \
                buckets[-2][0] < 0.5:
            bad.append("%s: bounds %r" % (route, [b for b, _ in buckets]))
        if page.get(name + "_sum", route=route) < 0:
            bad.append("%s: negative sum" % route)
    ok(pre + "histograms: cumulative, +Inf == _count, 50us..1s", not bad, bad)


def check_types(pre, page, engine):
    want = {
        "strata_http_requests": "counter",
        "strata_http_request_duration_seconds": "histogram",
        "strata_build_info": "gauge",
        "strata_up": "gauge",
        "strata_sets": "counter",
        "strata_fsyncs": "counter",
        "strata_keys" if engine != "lsm" else "strata_lsm_level_tables":
            "gauge",
    }
    if engine != "memory":
        want["strata_group_commit_batch_size"] = "histogram"
        want["strata_read_only"] = "gauge"
    if engine == "lsm":
        want.update({"strata_lsm_compactions": "counter",
                     "strata_lsm_flushes": "counter",
                     "strata_lsm_bloom_negatives": "counter",
                     "strata_lsm_block_cache_hits": "counter",
                     "strata_lsm_block_cache_misses": "counter",
                     "strata_lsm_write_amplification": "gauge"})
    if engine == "file":
        want.update({"strata_file_merges": "counter",
                     "strata_file_segments": "gauge",
                     "strata_file_dead_bytes": "gauge"})
    got = {n: page.types.get(n) for n in want}
    ok(pre + "families and their types", got == want,
       "got %r, want %r" % (got, want))
    unnamed = [n for n in page.types if not n.startswith("strata_")]
    ok(pre + "every metric is named strata_*", not unnamed, unnamed)


def check_requests(engine):
    """Sequential requests of every kind: exact deltas."""
    sync = [] if engine == "memory" else ["--sync", "always"]
    extra = sync + (["--memtable-bytes", str(LSM_MEMTABLE)]
                    if engine == "lsm" else [])
    pre = "[%s] " % engine
    with Strata(engine=engine, extra_args=extra) as s:
        before = scrape(s, check_headers=True)
        check_types(pre, before, engine)
        info = before.series("strata_build_info")
        ok(pre + "strata_build_info names the engine and is 1",
           len(info) == 1 and dict(next(iter(info)))["engine"] == engine and
           "version" in dict(next(iter(info))) and
           list(info.values()) == [1.0], info)
        ok(pre + "strata_up is 1", before.get("strata_up") == 1.0)

        conn = s.connection()
        sets, hits, misses, deletes, del_misses = 20, 10, 5, 3, 2
        for i in range(sets):
            r = set_value(s, "k%02d" % i, "v%d" % i, conn)
            if r.status != 200:
                raise HarnessError("set answered %r" % r)
        for i in range(hits):
            s.request("GET", "/get/k%02d" % i, conn=conn)
        for i in range(misses):
            s.request("GET", "/get/missing%d" % i, conn=conn)
        for i in range(deletes):
            s.request("DELETE", "/delete/k%02d" % i, conn=conn)
        for i in range(del_misses):
            s.request("DELETE", "/delete/missing%d" % i, conn=conn)
        bad = s.request("POST", "/set/bad", b'{"value": 1}', conn=conn)
        wrong = s.request("GET", "/set/x", conn=conn)
        s.request("GET", "/health", conn=conn)
        s.request("HEAD", "/stats", conn=conn)
        rng = s.request("GET", "/range?limit=5", conn=conn)
        conn.close()
        after = scrape(s)

        want = [("set", 200, sets), ("set", 400, 1), ("set", 405, 1),
                ("get", 200, hits), ("get", 404, misses),
                ("delete", 200, deletes), ("delete", 404, del_misses),
                ("health", 200, 1), ("stats", 200, 1),
                ("range", rng.status, 1), ("metrics", 200, 1)]
        got = [(route, status, requests_delta(before, after, route, status))
               for route, status, _ in want]
        ok(pre + "strata_http_requests_total moved by exactly the requests "
           "made", got == [(r, st, float(n)) for r, st, n in want],
           "got %r, want %r" % (got, want))
        ok(pre + "the refusals answered what was counted",
           bad.status == 400 and wrong.status == 405, (bad, wrong))
        total = sum(after.series("strata_http_requests_total").values()) - \
            sum(before.series("strata_http_requests_total").values())
        ok(pre + "no other request was counted",
           total == sum(n for _, _, n in want), total)

        name = "strata_http_request_duration_seconds"
        for route, n in (("set", sets + 2), ("get", hits + misses),
                         ("delete", deletes + del_misses), ("metrics", 1)):
            d = after.get(name + "_count", route=route) - \
                before.get(name + "_count", route=route)
            ok(pre + "latency of %s counted %d times" % (route, n),
               d == n, d)
        dsum = after.get(name + "_sum", route="set") - \
            before.get(name + "_sum", route="set")
        ok(pre + "latency sum of set grew, and by less than 10 s",
           0 < dsum < 10, dsum)
        check_histograms(pre, after)

        def delta(metric):
            return after.get(metric, 0.0) - before.get(metric, 0.0)

        got = {m: delta(m) for m in (
            "strata_sets_total", "strata_gets_total",
            "strata_get_misses_total", "strata_deletes_total",
            "strata_scans_total")}
        want_store = {"strata_sets_total": sets,
                      "strata_gets_total": hits + misses,
                      "strata_get_misses_total": misses,
                      "strata_deletes_total": deletes + del_misses,
                      "strata_scans_total": 1 if engine == "lsm" else 0}
        ok(pre + "store counters moved by exactly the operations",
           got == want_store, "got %r, want %r" % (got, want_store))
        if engine != "lsm":
            ok(pre + "strata_keys is the live key count",
               after.get("strata_keys") == sets - deletes,
               after.get("strata_keys"))
        fsyncs = delta("strata_fsyncs_total")
        if engine == "memory":
            ok(pre + "no fsync on the memory engine", fsyncs == 0, fsyncs)
        else:
            ok(pre + "--sync always: an fsync per acknowledged write "
               "at least", fsyncs >= sets + deletes,
               "%r fsyncs for %d writes" % (fsyncs, sets + deletes))
        check_concurrent_writes(pre, s, engine)
        if engine == "lsm":
            check_lsm_levels(pre, s)


def check_concurrent_writes(pre, s, engine, threads=8, per_thread=25):
    """Many clients at once: counters stay exact (atomics, no lost
    updates), and group commit sees every write once."""
    before = scrape(s)
    errors = []

    def client(t):
        conn = s.connection()
        try:
            for i in range(per_thread):
                r = set_value(s, "c%d-%d" % (t, i), "x" * 100, conn)
                if r.status != 200:
                    errors.append(r)
        except OSError as e:
            errors.append(e)
        finally:
            conn.close()

    workers = [threading.Thread(target=client, args=(t,))
               for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    after = scrape(s)
    n = threads * per_thread
    ok(pre + "%d concurrent sets answered 200" % n, not errors, errors[:3])
    got = requests_delta(before, after, "set", 200)
    ok(pre + "concurrent sets counted exactly", got == n, got)
    name = "strata_http_request_duration_seconds_count"
    got = after.get(name, route="set") - before.get(name, route="set")
    ok(pre + "concurrent sets timed exactly", got == n, got)
    if engine == "memory":
        ok(pre + "no group commit histogram on the memory engine",
           "strata_group_commit_batch_size" not in after.types)
        return
    h = "strata_group_commit_batch_size"
    writes = after.get(h + "_sum") - before.get(h + "_sum")
    batches = after.get(h + "_count") - before.get(h + "_count")
    ok(pre + "group commit: _sum grew by the writes", writes == n, writes)
    ok(pre + "group commit: 1 <= batches <= writes",
       1 <= batches <= n, batches)
    ok(pre + "group commit: +Inf bucket == _count",
       after.get(h + "_bucket", le="+Inf") == after.get(h + "_count"))
    les = sorted((float(dict(k)["le"]), v)
                 for k, v in after.series(h + "_bucket").items())
    ok(pre + "group commit: buckets 1..128 and +Inf, cumulative",
       [b for b, _ in les] == [1, 2, 4, 8, 16, 32, 64, 128, float("inf")] and
       [v for _, v in les] == sorted(v for _, v in les), les)


def check_lsm_levels(pre, s):
    page = scrape(s)
    levels = sorted(dict(k)["level"]
                    for k in page.series("strata_lsm_level_tables"))
    ok(pre + "strata_lsm_level_tables for levels 0..6",
       levels == [str(i) for i in range(7)], levels)
    levels = sorted(dict(k)["level"]
                    for k in page.series("strata_lsm_level_bytes"))
    ok(pre + "strata_lsm_level_bytes for levels 0..6",
       levels == [str(i) for i in range(7)], levels)
    flushes0 = page.get("strata_lsm_flushes_total")
    # ~300 KiB through a 64 KiB memtable: several flushes to level 0.
    conn = s.connection()
    for i in range(300):
        set_value(s, "big%03d" % i, "y" * 1000, conn)
    conn.close()
    deadline = time.monotonic() + 20
    while True:
        page = scrape(s)
        tables = sum(page.series("strata_lsm_level_tables").values())
        flushed = page.get("strata_lsm_flushes_total") > flushes0
        if (flushed and tables >= 1) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    ok(pre + "a flush shows in strata_lsm_flushes_total", flushed,
       page.get("strata_lsm_flushes_total"))
    ok(pre + "tables show in strata_lsm_level_tables", tables >= 1,
       page.series("strata_lsm_level_tables"))
    ok(pre + "table bytes match the levels' bytes",
       page.get("strata_lsm_table_bytes") ==
       sum(page.series("strata_lsm_level_bytes").values()))
    ok(pre + "write amplification is a ratio >= 0",
       page.get("strata_lsm_write_amplification") >= 0)


def check_sync_none_makes_no_fsyncs():
    """The counter counts fsync calls, not writes: --sync none writes
    without one (20 small sets roll no segment and flush no memtable)."""
    for engine in ("file", "lsm"):
        pre = "[%s, --sync none] " % engine
        with Strata(engine=engine, extra_args=["--sync", "none"]) as s:
            before = scrape(s)
            conn = s.connection()
            for i in range(20):
                set_value(s, "k%d" % i, "v", conn)
            conn.close()
            after = scrape(s)
            d = after.get("strata_fsyncs_total") - \
                before.get("strata_fsyncs_total")
            ok(pre + "20 sets, no fsync", d == 0, d)
            d = after.get("strata_group_commit_batch_size_sum") - \
                before.get("strata_group_commit_batch_size_sum")
            ok(pre + "group commit still counts the writes", d == 20, d)


def run():
    if text_string_to_metric_families is None:
        raise HarnessError("prometheus_client is not installed: "
                           "apt-get install python3-prometheus-client")
    for engine in ENGINES:
        check_requests(engine)
    check_sync_none_makes_no_fsyncs()
    print("1..%d" % (CHECKS.passed + CHECKS.failed))
    return CHECKS.failed


if __name__ == "__main__":
    main_guard(run)
