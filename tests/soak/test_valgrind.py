#!/usr/bin/env python3
"""valgrind memcheck on the worker (issue 5, item 6).

For each engine (memory, file, lsm) stratad runs under

    valgrind --tool=memcheck --leak-check=full
             --errors-for-leak-kinds=definite,indirect --error-exitcode=99
             --track-fds=no

behind a real nginx (tests/integration/harness.py, 127.0.0.1 only), and a
short but complete workload goes through HTTP: sets (values of many
sizes, Unicode, \\u0000), overwrites, gets, deletes, misses (404), /range
with paging on lsm (501 elsewhere), /stats, /health, HEAD, and bad
requests: bad JSON, wrong types, trailing data, lone surrogate, empty and
too long keys, unknown path (404), wrong method (405), value and body too
large (413). The lsm worker runs with a 64 KiB memtable and the file
worker with 64 KiB segments, so that flushes, compactions and segment
rolls happen. Then the worker is stopped with SIGTERM (nginx first) and
must exit 0 -- valgrind exits 99 on any error, definite or indirect leak
-- with "ERROR SUMMARY: 0 errors" in its log. The persistent engines are
then started again under valgrind on the same data (recovery), read back
and stopped the same way.

tests/soak/valgrind.supp is passed with --suppressions when it exists;
it may only hold documented entries for code that is not strata's.

Prints "ok - ..." / "not ok - ..." lines (valgrind's error report after
a failure); exits 1 when a check failed, 99 when the harness or valgrind
could not run or stratad is an AddressSanitizer build, which valgrind
cannot run (sanitizer builds leave this test out of their suite;
./test.sh's plain build runs it). Environment as for tests/integration (STRATAD, NGINX,
STRATA_SRCDIR); VALGRIND names valgrind when it is not on $PATH.
"""

import glob
import json
import os
import re
import shutil
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
SRCDIR = os.environ.get("STRATA_SRCDIR") or \
    os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
import harness  # noqa: E402  (needs the path above)

ENGINES = ("memory", "file", "lsm")
MAX_VALUE = 4096
SUPP = os.path.join(SRCDIR, "tests", "soak", "valgrind.supp")
KEYS = 120

ok = harness.ok


class Valgrind(harness.Strata):
    """A Strata whose worker runs under valgrind memcheck, one log file per
    worker process (valgrind-PID.log in the temp dir)."""

    def __init__(self, valgrind, engine, extra_args):
        super().__init__(engine=engine, max_value_bytes=MAX_VALUE,
                         threads=20, extra_args=extra_args)
        self.valgrind = valgrind

    def worker_command(self, socket_path=None, data_dir=None):
        cmd = [self.valgrind, "--tool=memcheck", "--leak-check=full",
               "--errors-for-leak-kinds=definite,indirect",
               "--error-exitcode=99", "--track-fds=no", "--num-callers=30",
               "--log-file=%s" % os.path.join(self.dir, "valgrind-%p.log")]
        if os.path.exists(SUPP):
            cmd.append("--suppressions=%s" % SUPP)
        return cmd + super().worker_command(socket_path, data_dir)

    # valgrind starts slowly and runs the worker ~20-50x slower.
    def start_worker(self, timeout=60.0):
        return super().start_worker(timeout)

    def wait_healthy(self, timeout=60.0):
        return super().wait_healthy(timeout)

    def valgrind_logs(self):
        return sorted(glob.glob(os.path.join(self.dir, "valgrind-*.log")),
                      key=os.path.getmtime)


def key(i):
    return "vg%04d" % i


def value(i, round_=0):
    # Sizes from 1 byte to ~3.5 KiB; some carry escapes and Unicode.
    size = 1 + (i * 397 + round_ * 131) % 3500
    base = "v" * size
    if i % 7 == 0:
        base = "caf\u00e9 \u2603 \"q\" \\ \n" + base[:size // 2]
    return base


def body(v):
    return json.dumps({"value": v}).encode()


def workload(s, engine, name):
    """The HTTP workload; returns the model (key -> value) it leaves."""
    model = {}
    conn = s.connection(timeout=60)
    bad = []

    def expect(method, path, want, data=None, headers=None):
        r = s.request(method, path, data, headers=headers, conn=conn,
                      timeout=60)
        if r.status != want:
            bad.append("%s %s -> %r (want %d)" % (method, path, r, want))
        return r

    try:
        for i in range(KEYS):
            expect("POST", "/set/" + key(i), 200, body(value(i)))
            model[key(i)] = value(i)
        # Two threads overwrite at once: group commit, concurrent memtable.
        def overwrite(start):
            c = s.connection(timeout=60)
            try:
                for i in range(start, KEYS, 4):
                    r = s.request("POST", "/set/" + key(i),
                                  body(value(i, 1)), conn=c, timeout=60)
                    if r.status != 200:
                        bad.append("overwrite %s -> %r" % (key(i), r))
            finally:
                c.close()
        threads = [threading.Thread(target=overwrite, args=(k,))
                   for k in (0, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in range(0, KEYS, 2):
            model[key(i)] = value(i, 1)
        # NUL inside a value (a NUL in a key never gets past nginx).
        expect("POST", "/set/nul", 200, b'{"value":"a\\u0000b"}')
        model["nul"] = "a\x00b"
        for i in range(0, KEYS, 3):
            r = expect("GET", "/get/" + key(i), 200)
            if (r.json() or {}).get("value") != model[key(i)]:
                bad.append("GET %s: wrong value %r" % (key(i), r))
        for i in range(0, KEYS, 5):
            expect("DELETE", "/delete/" + key(i), 200)
            del model[key(i)]
        for i in range(0, KEYS, 10):
            expect("GET", "/get/" + key(i), 404)        # deleted
            expect("DELETE", "/delete/" + key(i), 404)  # already gone
        expect("GET", "/get/never-set", 404)
        expect("HEAD", "/get/" + key(1), 200)
        if engine == "lsm":
            start, pages, got = "", 0, []
            while True:
                r = expect("GET", "/range?start=%s&limit=17" % start, 200)
                j = r.json() or {}
                got += [item.get("key") for item in j.get("items", [])]
                pages += 1
                if "next" not in j or pages > 50:
                    break
                start = j["next"]
            if got != sorted(model):
                bad.append("/range listed %d keys in %d pages, the model "
                           "has %d" % (len(got), pages, len(model)))
            expect("GET", "/range?start=vg0010&end=vg0020", 200)
            expect("GET", "/range?limit=0", 400)
            expect("GET", "/range?limit=abc", 400)
        else:
            expect("GET", "/range?start=a", 501)
        expect("GET", "/stats", 200)
        expect("GET", "/health", 200)
        # Bad requests: the worker must answer and free everything.
        for data in (b'{"value":', b'not json', b'{"value":1}',
                     b'{"value":"a"} trailing', b'{"value":"\\ud800"}',
                     b'{"value":"a","other":1}', b'{"value":"a","value":"b"}',
                     b'', b'[]', b'{"value":"\xff\xfe"}'):
            expect("POST", "/set/badjson", 400, data)
        expect("GET", "/get/badjson", 404)
        expect("POST", "/set/" + "k" * 1100, 400, body("x"))   # key too long
        expect("GET", "/nope", 404)
        expect("PUT", "/get/" + key(1), 405, b"x")
        expect("GET", "/set/" + key(1), 405)
        expect("POST", "/delete/" + key(1), 405, b"")
        expect("POST", "/set/big", 413, body("x" * (MAX_VALUE + 1)))
        expect("GET", "/stats", 200)
    finally:
        conn.close()
    # A body over nginx's limit (6 x value limit + 4096): nginx answers 413
    # and may close before reading it, so this one goes out raw.
    big = b"x" * (harness.body_limit(MAX_VALUE) + 1)
    r = s.raw_request(b"POST /set/huge HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                      % len(big) + big)
    if r is None or r.status != 413:
        bad.append("POST /set/huge over the body limit -> %r" % r)
    ok("%s: workload answered as expected" % name, not bad,
       "; ".join(bad[:8]))
    return model


def read_back(s, model, name):
    conn = s.connection(timeout=60)
    wrong = []
    try:
        for k in sorted(model)[::4]:
            r = s.request("GET", "/get/" + "".join("%%%02X" % b for b in
                                                   k.encode()),
                          conn=conn, timeout=60)
            if r.status != 200 or (r.json() or {}).get("value") != model[k]:
                wrong.append("%r -> %r" % (k, r))
        s.request("GET", "/stats", conn=conn, timeout=60)
    finally:
        conn.close()
    ok("%s: values read back after restart" % name, not wrong,
       "; ".join(wrong[:5]))


def check_stop(s, name):
    """Stops nginx, then the worker with TERM; checks valgrind's verdict."""
    s.stop_nginx()
    t0 = time.monotonic()
    status = s.stop_worker(timeout=60.0)
    logs = s.valgrind_logs()
    text = ""
    if logs:
        with open(logs[-1], errors="replace") as f:
            text = f.read()
    summary = re.findall(r"ERROR SUMMARY: .*", text)
    command = re.findall(r"== Command: (\S+)", text)
    leaks = re.findall(r"(?:definitely|indirectly) lost: .*", text)
    print("# %s: %s exit %s after SIGTERM (%.1f s); %s; %s"
          % (name, os.path.basename(command[0]) if command else "?",
             status, time.monotonic() - t0,
             summary[-1] if summary else "no ERROR SUMMARY",
             ", ".join(leaks) or "no leak summary (nothing allocated)"))
    good = status == 0 and summary and \
        summary[-1].startswith("ERROR SUMMARY: 0 errors")
    if not ok("%s: valgrind clean (exit 0, ERROR SUMMARY: 0 errors)" % name,
              good, "exit status %r" % status):
        # The report without valgrind's preamble, for the log of make check.
        lines = [l for l in text.splitlines() if l.startswith("==")]
        print("\n".join("# " + l for l in lines[:400]))
    # The next worker (restart) writes its own log.
    for path in logs:
        os.rename(path, path + ".done")


def run_engine(valgrind, engine):
    extra = []
    if engine == "lsm":
        extra = ["--memtable-bytes", "65536", "--block-cache-bytes", "65536"]
    elif engine == "file":
        extra = ["--segment-bytes", "65536"]
    with Valgrind(valgrind, engine, extra) as s:
        t0 = time.monotonic()
        model = workload(s, engine, engine)
        print("# %s: workload took %.1f s under valgrind"
              % (engine, time.monotonic() - t0))
        check_stop(s, engine)
        if engine != "memory":
            s.start_worker()
            s._start_nginx()
            s.wait_healthy()
            read_back(s, model, engine + " restart")
            check_stop(s, engine + " restart")


def main():
    valgrind = os.environ.get("VALGRIND") or shutil.which("valgrind")
    if not valgrind:
        print("Bail out! valgrind is not installed (apt-get install "
              "valgrind; ./test.sh does it)")
        return harness.EXIT_HARD_ERROR
    stratad = os.environ.get("STRATAD", "")
    asan = "-fsanitize=" in os.environ.get("STRATA_CFLAGS", "")
    try:
        with open(stratad, "rb") as f:
            asan = asan or b"__asan_init" in f.read()
    except OSError:
        pass  # the harness reports a missing STRATAD
    if asan:
        # valgrind cannot run a program built with AddressSanitizer (both
        # own the heap). Sanitizer builds leave this test out of their
        # suite (configure.ac, SANITIZED); being run on one is a mistake.
        print("Bail out! STRATAD is an ASan build; valgrind cannot run it")
        return 99
    engines = sys.argv[1].split(",") if len(sys.argv) > 1 else ENGINES

    def run():
        for engine in engines:
            run_engine(valgrind, engine)
        return harness.CHECKS.failed

    harness.main_guard(run)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
