#!/usr/bin/env python3
"""The HTTP benchmark of strata: wrk against real nginx + stratad.

Starts, on free 127.0.0.1 ports and in temp dirs (tests/integration/
harness.py does the starting and the stopping):

  1. a ceiling nginx, rendered from nginx/strata.conf.in like strata's own,
     in front of bench/fcgi_trivial.c (a FastCGI responder answering a
     fixed JSON) plus one static file: the cost of nginx alone ("static")
     and of nginx + the FastCGI hop ("fcgi-trivial");
  2. strata: nginx + stratad (--engine, default file), preloaded with
     --keys keys, then SET with --sync none, GET, and, after a restart of
     the worker on the same data, SET with --sync always (the default).

Each scenario runs `wrk --latency` for --duration seconds at each of the
--connections, and the table gives requests/s, p50/p99 latency and
errors (HTTP status >= 400 plus socket errors). Nothing but 127.0.0.1 is
contacted; every process started is stopped, also on Ctrl-C.

Environment (as `make bench-http` sets it): STRATAD, NGINX, STRATA_SRCDIR,
FCGI_TRIVIAL, and optionally WRK (default: wrk from $PATH).
"""

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
SRCDIR = os.environ.get("STRATA_SRCDIR") or \
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
import harness  # noqa: E402  (needs the path above)

SCENARIOS = ("static", "fcgi-trivial", "get", "set-none", "set-always")
WRK_DIR = os.path.join(SRCDIR, "bench", "wrk")
STATIC_PATH = "/_bench/static.json"


def key_name(i):
    return "bench%08d" % i  # the same names as bench/wrk/kv.lua


class Ceiling(harness.Strata):
    """The strata nginx configuration with fcgi-trivial in place of
    stratad, plus one static file of the size of a GET answer."""

    def __init__(self, responder, value_size, threads):
        super().__init__(engine="memory")
        self.responder = responder
        self.value_size = value_size
        self.responder_threads = threads

    def worker_command(self, socket_path=None, data_dir=None):
        return [self.responder, "--socket", socket_path or self.socket_path,
                "--threads", str(self.responder_threads),
                "--value-size", str(self.value_size)]

    def _render_config(self):
        path = super()._render_config()
        static = os.path.join(self.dir, "static.json")
        with open(static, "w") as f:
            f.write('{"value":"%s"}' % ("x" * self.value_size))
        with open(path) as f:
            text = f.read()
        anchor = "        location /set/ {"
        if anchor not in text:
            raise harness.HarnessError("nginx/strata.conf.in changed: no "
                                       "'location /set/' to add the static "
                                       "file before")
        location = ("        location = %s {\n            alias %s;\n"
                    "        }\n\n" % (STATIC_PATH, static))
        with open(path, "w") as f:
            f.write(text.replace(anchor, location + anchor, 1))
        return path


def preload(server, keys, value_size, workers=4):
    """SETs every key once over kept-alive connections."""
    body = ('{"value":"%s"}' % ("v" * value_size)).encode()
    failures = []

    def load(start):
        conn = server.connection()
        try:
            for i in range(start, keys, workers):
                r = server.request("POST", "/set/" + key_name(i), body,
                                   conn=conn)
                if r.status != 200:
                    failures.append((i, r))
                    return
        finally:
            conn.close()

    threads = [threading.Thread(target=load, args=(w,))
               for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise harness.HarnessError("preload: SET %s answered %r"
                                   % (key_name(failures[0][0]),
                                      failures[0][1]))


def run_wrk(args, port, mode, conns):
    threads = min(args.threads, conns)
    cmd = [args.wrk, "-t", str(threads), "-c", str(conns),
           "-d", "%ds" % args.duration, "--timeout", "10s", "--latency",
           "-s", "kv.lua", "http://127.0.0.1:%d" % port,
           "--", mode, str(args.keys), str(args.value_size)]
    # cwd: kv.lua finds report.lua through require().
    out = subprocess.run(cmd, cwd=WRK_DIR, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT,
                         timeout=args.duration + 60)
    text = out.stdout.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("strata-wrk "):
            fields = dict(kv.split("=", 1) for kv in line.split()[1:])
            return {k: float(v) for k, v in fields.items()}
    raise harness.HarnessError("wrk printed no result (exit %d):\n%s"
                               % (out.returncode, text))


class Report:
    def __init__(self, args):
        self.args = args
        self.ceiling = {}  # conns -> fcgi-trivial req/s

    def header(self):
        if self.args.format == "tsv":
            return
        a = self.args
        print("strata http bench: engine %s, %d keys, value %d B, wrk -t%d "
              "--latency, %d s per run, nginx + stratad on 127.0.0.1"
              % (a.engine, a.keys, a.value_size, a.threads, a.duration))
        print()
        print("%-13s %5s %10s %9s %9s %8s  %s"
              % ("scenario", "conns", "req/s", "p50 ms", "p99 ms", "errors",
                 "note"))
        sys.stdout.flush()

    def row(self, scenario, conns, r):
        rps = r["requests"] / (r["duration_us"] / 1e6)
        errors = int(r["status"] + r["connect"] + r["read"] + r["write"] +
                     r["timeout"])
        if scenario == "fcgi-trivial":
            self.ceiling[conns] = rps
        note = ""
        if scenario == "get" and self.ceiling.get(conns):
            note = "%.0f%% of fcgi-trivial" % (100 * rps / self.ceiling[conns])
        if self.args.format == "tsv":
            print("%s\t%d\t%.0f\t%d\t%d\t%d" % (scenario, conns, rps,
                                               r["p50_us"], r["p99_us"],
                                               errors))
        else:
            print("%-13s %5d %10.0f %9.3f %9.3f %8d  %s"
                  % (scenario, conns, rps, r["p50_us"] / 1e3,
                     r["p99_us"] / 1e3, errors, note))
        sys.stdout.flush()


def run_ceilings(args, report, wanted):
    with Ceiling(args.responder, args.value_size, args.worker_threads) as c:
        for scenario, mode in (("static", "static"), ("fcgi-trivial", "get")):
            if scenario in wanted:
                for conns in args.connections:
                    report.row(scenario, conns,
                               run_wrk(args, c.port, mode, conns))


def run_strata(args, report, wanted):
    extra = ["--sync", "none", "--threads", str(args.worker_threads)]
    with harness.Strata(engine=args.engine, extra_args=extra) as s:
        t0 = time.monotonic()
        preload(s, args.keys, args.value_size)
        if args.format == "table":
            print("# preloaded %d keys in %.1f s (--sync none)"
                  % (args.keys, time.monotonic() - t0), file=sys.stderr)
        for scenario, mode in (("set-none", "set"), ("get", "get")):
            if scenario in wanted:
                for conns in args.connections:
                    report.row(scenario, conns,
                               run_wrk(args, s.port, mode, conns))
        if "set-always" in wanted:
            s.extra_args = ["--sync", "always", "--threads",
                            str(args.worker_threads)]
            s.restart_worker()
            for conns in args.connections:
                report.row("set-always", conns,
                           run_wrk(args, s.port, "set", conns))


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="http_bench.py",
        description="wrk against nginx + stratad, beside the static-file "
                    "and trivial-FastCGI ceilings, on 127.0.0.1.")
    p.add_argument("--duration", type=int, default=5,
                   help="seconds per wrk run (default 5)")
    p.add_argument("--connections", default="32,64",
                   help="comma list of wrk connection counts (default 32,64)")
    p.add_argument("--threads", type=int, default=2,
                   help="wrk threads (default 2)")
    p.add_argument("--worker-threads", type=int, default=32,
                   help="stratad and fcgi-trivial threads (default 32)")
    p.add_argument("--engine", default="file",
                   help="stratad --engine (default file)")
    p.add_argument("--keys", type=int, default=10000,
                   help="keys preloaded and rotated over (default 10000)")
    p.add_argument("--value-size", type=int, default=100,
                   help="bytes per value (default 100)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help="comma list of %s (default: all)"
                   % ", ".join(SCENARIOS))
    p.add_argument("--format", choices=("table", "tsv"), default="table",
                   help="tsv: scenario, connections, requests_per_sec, "
                        "p50_us, p99_us, errors; no header")
    a = p.parse_args(argv)
    try:
        a.connections = [int(c) for c in a.connections.split(",")]
    except ValueError:
        p.error("--connections takes a comma list of numbers")
    a.scenarios = a.scenarios.split(",")
    for name in a.scenarios:
        if name not in SCENARIOS:
            p.error("unknown scenario %r" % name)
    if a.duration < 1 or a.keys < 1 or a.threads < 1 or \
            min(a.connections) < 1 or a.value_size < 0:
        p.error("durations, counts and sizes must be positive")
    a.wrk = os.environ.get("WRK") or shutil.which("wrk")
    if not a.wrk:
        p.error("wrk not found: apt-get install wrk (make bench-http does)")
    a.responder = os.environ.get("FCGI_TRIVIAL", "")
    if not os.access(a.responder, os.X_OK):
        p.error("FCGI_TRIVIAL does not name the fcgi-trivial program "
                "(run through `make bench-http`)")
    return a


def main(argv):
    args = parse_args(argv)
    report = Report(args)
    report.header()
    try:
        if "static" in args.scenarios or "fcgi-trivial" in args.scenarios:
            run_ceilings(args, report, args.scenarios)
        if set(args.scenarios) & {"get", "set-none", "set-always"}:
            run_strata(args, report, args.scenarios)
    except (harness.HarnessError, subprocess.TimeoutExpired) as e:
        print("http_bench: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
