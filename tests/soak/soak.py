#!/usr/bin/env python3
"""Soak run (issue 5, item 6): mixed load through real nginx + stratad
for a bounded time per engine; no request may fail and the worker's
memory must stay flat.

For each engine a fresh nginx + stratad (tests/integration/harness.py) on
a free 127.0.0.1 port, then `wrk` with bench/wrk/mixed.lua for --seconds:
random GET / SET / DELETE (and 2% /range on lsm) over --keys keys, values
of 1..--value-max bytes, --connections connections. Meanwhile the
worker's VmRSS (/proc/PID/status) is sampled every second.

Pass criteria, per engine:
  - no failed request: every answer is 2xx, or the worker's 404
    {"error":"key not found"} (a GET or DELETE of a key not there; a SET
    cannot answer it) -- mixed.lua classifies every response;
  - no socket error (connect, read, write, timeout) reported by wrk;
  - the worker is still running and /health answers 200 afterwards;
  - RSS flat: the first third of the run is warm-up; from the first to
    the last sample after it, RSS grows by less than
    10% of the first + 16 MiB.
    Why that bound: what the lsm engine may legitimately still fill after
    the warm-up is its 4 MiB memtable, a second (immutable) 4 MiB
    memtable while that one is flushed, and the 8 MiB block cache, which
    fills only as tables appear and are read: 16 MiB together (the
    defaults of --memtable-bytes and --block-cache-bytes; the memory and
    file engines hold at most --keys keys, reached during the warm-up, so
    for them the same bound is generous). The 10% is for glibc malloc:
    32 request threads spread over per-thread arenas whose free lists and
    tops shift with the mix of value sizes. A leak of one small
    allocation per request -- 100 bytes x thousands of requests per
    second -- exceeds it within a few minutes of `make soak`; the short
    smoke in `make check` catches only gross leaks.

Prints "ok - ..." / "not ok - ..." lines and per engine one summary line
(requests, req/s, errors, RSS start/end/max); exits 1 when a check
failed, 99 when the harness or wrk could not run. With an ASan build of
stratad the RSS figures are printed but not judged (shadow memory and
the quarantine of freed blocks are not strata's).

    python3 tests/soak/soak.py                          # smoke: ~10 s each
    python3 tests/soak/soak.py --seconds 300            # make soak
    python3 tests/soak/soak.py --engines lsm --seconds 60 --sync none

(with STRATAD, NGINX and STRATA_SRCDIR set as `make check` sets them;
WRK names wrk when it is not on $PATH).
"""

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # keep the source tree clean
SRCDIR = os.environ.get("STRATA_SRCDIR") or \
    os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
import harness  # noqa: E402  (needs the path above)

WRK_DIR = os.path.join(SRCDIR, "bench", "wrk")
ENGINES = ("memory", "file", "lsm")
MIB = 1024 * 1024
# The RSS bound (see the docstring): growth after warm-up below
# RSS_GROWTH_FRACTION x the first steady sample + RSS_GROWTH_BYTES.
RSS_GROWTH_FRACTION = 0.10
RSS_GROWTH_BYTES = 16 * MIB

ok = harness.ok


def sanitized(stratad):
    """True when stratad is built with AddressSanitizer: its shadow memory
    and quarantine of freed blocks (up to 256 MiB) make RSS grow for
    reasons that are not strata's, so RSS is then shown, not judged."""
    if "-fsanitize=" in os.environ.get("STRATA_CFLAGS", ""):
        return True
    try:
        with open(stratad, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def vm_rss(pid):
    """The process' resident set in bytes, or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class RssSampler(threading.Thread):
    """(seconds since start, RSS bytes) every `interval` seconds."""

    def __init__(self, pid, interval=1.0):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples = []
        self.stopping = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while True:
            rss = vm_rss(self.pid)
            if rss is None:
                return
            self.samples.append((time.monotonic() - self.t0, rss))
            if self.stopping.wait(self.interval):
                return

    def stop(self):
        self.stopping.set()
        self.join()


def parse_wrk(text):
    """The strata-mixed and strata-wrk lines wrk printed, as dicts."""
    out = {}
    for line in text.splitlines():
        for tag in ("strata-mixed", "strata-wrk"):
            if line.startswith(tag + " "):
                out[tag] = dict(kv.split("=", 1) for kv in line.split()[1:])
    if len(out) != 2:
        raise harness.HarnessError("wrk printed no result:\n%s" % text)
    return out


def run_wrk(args, port, range_pct):
    get_pct, set_pct, del_pct = args.mix
    get_pct -= range_pct
    cmd = [args.wrk, "-t", str(args.threads), "-c", str(args.connections),
           "-d", "%ds" % args.seconds, "--timeout", "10s",
           "-s", "mixed.lua", "http://127.0.0.1:%d" % port, "--",
           str(args.keys), str(args.value_max), str(get_pct), str(set_pct),
           str(del_pct), str(range_pct)]
    # cwd: mixed.lua finds report.lua through require().
    out = subprocess.run(cmd, cwd=WRK_DIR, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT,
                         timeout=args.seconds + 60)
    text = out.stdout.decode(errors="replace")
    if out.returncode != 0:
        raise harness.HarnessError("wrk exited with %d:\n%s"
                                   % (out.returncode, text))
    return parse_wrk(text)


def mib(n):
    return "%.1f" % (n / MIB)


def soak(args, engine):
    extra = ["--sync", args.sync, "--threads", str(args.worker_threads)]
    with harness.Strata(engine=engine, extra_args=extra) as s:
        pid = s.worker_pid()
        sampler = RssSampler(pid)
        sampler.start()
        try:
            res = run_wrk(args, s.port, 2 if engine == "lsm" else 0)
        finally:
            sampler.stop()
        alive = s.worker is not None and s.worker.poll() is None
        health = s.request("GET", "/health", timeout=10) if alive else None
        stats = s.request("GET", "/stats", timeout=10) if alive else None

    mixed, wrk = res["strata-mixed"], res["strata-wrk"]
    requests = int(wrk["requests"])
    seconds = int(wrk["duration_us"]) / 1e6
    bad = int(mixed["bad"])
    answered = int(mixed["ok"]) + int(mixed["notfound"]) + bad
    sock = sum(int(wrk[k]) for k in ("connect", "read", "write", "timeout"))

    ok("%s: requests were made" % engine, requests > 0, wrk)
    ok("%s: no failed request" % engine, bad == 0,
       "%d of %d answers neither 2xx nor 'key not found' 404; first: %s"
       % (bad, answered, urllib.parse.unquote(mixed["first_bad"])))
    ok("%s: no socket error" % engine, sock == 0,
       "connect %s read %s write %s timeout %s"
       % (wrk["connect"], wrk["read"], wrk["write"], wrk["timeout"]))
    ok("%s: worker still running" % engine, alive,
       "exit status %r" % s.last_worker_status)
    if alive:
        ok("%s: /health 200 afterwards" % engine, health.status == 200,
           repr(health))
        st = stats.json() or {}
        ok("%s: /stats 200 afterwards" % engine,
           stats.status == 200 and st.get("engine") == engine, repr(stats))

    samples = sampler.samples
    steady = [rss for t, rss in samples if t >= args.seconds / 3.0]
    summary = {"engine": engine, "requests": requests,
               "rps": requests / seconds if seconds else 0.0,
               "errors": bad + sock, "notfound": int(mixed["notfound"]),
               "gets": int(mixed["gets"]), "sets": int(mixed["sets"]),
               "deletes": int(mixed["deletes"]),
               "ranges": int(mixed["ranges"])}
    if ok("%s: RSS sampled after warm-up" % engine, len(steady) >= 2,
          "%d samples, %d after warm-up" % (len(samples), len(steady))):
        first, last = steady[0], steady[-1]
        bound = RSS_GROWTH_FRACTION * first + RSS_GROWTH_BYTES
        if args.sanitized:
            print("# %s: RSS growth %s MiB not judged: ASan build"
                  % (engine, mib(last - first)))
        else:
            ok("%s: RSS flat (growth %s MiB < bound %s MiB)"
               % (engine, mib(last - first), mib(bound)),
               last - first < bound,
               "RSS %s -> %s MiB after warm-up" % (mib(first), mib(last)))
        rss = [r for _, r in samples]
        summary.update(rss_start=rss[0], rss_steady=first, rss_end=last,
                       rss_max=max(rss), growth=last - first, bound=bound)
        # The curve at every tenth of the run, for the eye.
        n = len(rss)
        print("# %s RSS MiB at 0..100%%: %s" % (
            engine, " ".join(mib(rss[min(n - 1, i * (n - 1) // 10)])
                             for i in range(11))))
    return summary


def print_summary(args, rows):
    print("# soak: %d s per engine, wrk -t%d -c%d, %d keys, values 1..%d B, "
          "mix get/set/delete %s%%, --sync %s"
          % (args.seconds, args.threads, args.connections, args.keys,
             args.value_max, "/".join(map(str, args.mix)), args.sync))
    print("# %-7s %10s %9s %7s %9s %9s %9s %9s %9s %9s"
          % ("engine", "requests", "req/s", "errors", "404s",
             "rss start", "steady", "end", "max", "bound"))
    for r in rows:
        if "rss_start" in r:
            rss = "%9s %9s %9s %9s %9s" % (
                mib(r["rss_start"]), mib(r["rss_steady"]), mib(r["rss_end"]),
                mib(r["rss_max"]), "+" + mib(r["bound"]))
        else:
            rss = "(no RSS samples)"
        print("# %-7s %10d %9.0f %7d %9d %s"
              % (r["engine"], r["requests"], r["rps"], r["errors"],
                 r["notfound"], rss))
    print("# (RSS in MiB; errors = failed answers + socket errors; 404s = "
          "GET/DELETE of a missing key, expected)")
    sys.stdout.flush()


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="soak.py",
        description="Mixed wrk load through nginx + stratad per engine; "
                    "no failed request, flat worker RSS.")
    p.add_argument("--seconds", type=int, default=10,
                   help="seconds of load per engine (default 10)")
    p.add_argument("--engines", default=",".join(ENGINES),
                   help="comma list of %s (default: all)" % ", ".join(ENGINES))
    p.add_argument("--connections", type=int, default=16,
                   help="wrk connections (default 16)")
    p.add_argument("--threads", type=int, default=2,
                   help="wrk threads (default 2)")
    p.add_argument("--worker-threads", type=int, default=32,
                   help="stratad --threads (default 32)")
    p.add_argument("--keys", type=int, default=10000,
                   help="size of the key space (default 10000)")
    p.add_argument("--value-max", type=int, default=256,
                   help="values are 1..N bytes (default 256)")
    p.add_argument("--mix", default="50,40,10",
                   help="percent GET,SET,DELETE (default 50,40,10; on lsm "
                        "2 points of the GETs are /range)")
    p.add_argument("--sync", default="always",
                   help="stratad --sync (default always)")
    a = p.parse_args(argv)
    a.engines = [e for e in a.engines.split(",") if e]
    for e in a.engines:
        if e not in ENGINES:
            p.error("unknown engine %r" % e)
    try:
        a.mix = [int(x) for x in a.mix.split(",")]
    except ValueError:
        a.mix = []
    if len(a.mix) != 3 or sum(a.mix) != 100 or min(a.mix) < 0 or \
            a.mix[0] < 2:
        p.error("--mix takes three percentages adding up to 100, GET >= 2")
    if a.seconds < 3 or a.keys < 1 or a.value_max < 1 or \
            a.connections < 1 or a.threads < 1:
        p.error("--seconds must be >= 3; counts and sizes positive")
    a.threads = min(a.threads, a.connections)
    a.wrk = os.environ.get("WRK") or shutil.which("wrk")
    a.sanitized = sanitized(os.environ.get("STRATAD", ""))
    return a


def main(argv):
    args = parse_args(argv)
    if not args.wrk:
        print("Bail out! wrk is not installed (apt-get install wrk)")
        return harness.EXIT_HARD_ERROR
    rows = []

    def run():
        for engine in args.engines:
            rows.append(soak(args, engine))
        print_summary(args, rows)
        return harness.CHECKS.failed

    try:
        harness.main_guard(run)
    except subprocess.TimeoutExpired as e:
        print("Bail out! wrk did not finish: %s" % e)
        return harness.EXIT_HARD_ERROR
    return 0  # not reached: main_guard exits


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
