"""Kill test over HTTP (issue 5, item 3b; docs/crash-testing.md).

A real nginx and a real stratad (tests/integration/harness.py) on a free
127.0.0.1 port. Writer threads send sets and deletes with unique values,
each thread on keys of its own, so every key sees one request at a time.
Meanwhile the worker is SIGKILLed at random moments and restarted on the
same data directory. After each restart (writers paused) and at the end
(then again after a clean restart) every key is read back:

  - an acknowledged set (200) is there with its exact value,
  - an acknowledged delete (200, or 404: nothing to delete) stays absent,
  - a request without an answer (connection reset, 502/503/504 while the
    worker was down) may or may not have been applied, but wholly.

Each key keeps the set of states it may be in: an acknowledged request
makes it exactly one, an unanswered one adds its outcome to the
possibilities. Prints acknowledged / lost / corrupted counts; exits 1 when
anything was lost or corrupted, 99 when the harness could not run.

    python3 tests/crash/kill_test.py                      # short: make check
    python3 tests/crash/kill_test.py --kills 200 --seconds 600 --seed 7

(with STRATAD, NGINX and STRATA_SRCDIR set as `make check` sets them).
Engines: file, and lsm when stratad has it (--engines to choose).
"""

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

from harness import HarnessError, Strata, main_guard  # noqa: E402

ABSENT = None  # the state of a key that is not there


class Key:
    """One key's possible states; only its writer thread touches it."""

    def __init__(self, name):
        self.name = name
        self.possible = {ABSENT}


class Gate:
    """Lets writers in one request at a time each, until close() shuts
    them out and waits for those inside (so keys can be checked)."""

    def __init__(self):
        self.cond = threading.Condition()
        self.closed = False
        self.inside = 0

    def enter(self):
        with self.cond:
            while self.closed:
                self.cond.wait()
            self.inside += 1

    def leave(self):
        with self.cond:
            self.inside -= 1
            self.cond.notify_all()

    def close(self):
        with self.cond:
            self.closed = True
            while self.inside:
                self.cond.wait()

    def open(self):
        with self.cond:
            self.closed = False
            self.cond.notify_all()


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked_sets = 0
        self.acked_deletes = 0
        self.unacked = 0
        self.requests = 0

    def add(self, name, n=1):
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


def value_for(rng, tid, serial):
    # Unique, and not only ASCII: escapes and multi-byte UTF-8 too.
    filler = "".join(rng.choice("abcxyz019 \"\\/\u00e9\u4e2d\U0001f600")
                     for _ in range(rng.randrange(0, 40)))
    return "t%d-%d-%s" % (tid, serial, filler)


def writer(s, tid, keys, rng, stop, gate, counts, errors):
    conn = None
    serial = 0
    while not stop.is_set():
        gate.enter()
        try:
            conn, serial = one_request(s, tid, keys, rng, conn, serial,
                                       counts, errors)
        finally:
            gate.leave()
    if conn is not None:
        conn.close()


def one_request(s, tid, keys, rng, conn, serial, counts, errors):
    """Sends one set or delete and updates the key's possible states."""
    key = rng.choice(keys)
    serial += 1
    is_set = rng.random() < 0.7
    if is_set:
        val = value_for(rng, tid, serial)
        body = json.dumps({"value": val}).encode()
        method, path = "POST", "/set/" + key.name
    else:
        val = ABSENT
        body = None
        method, path = "DELETE", "/delete/" + key.name
    status = None
    try:
        if conn is None:
            conn = s.connection(timeout=10)
        status = s.request(method, path, body=body, conn=conn).status
    except (OSError, http.client.HTTPException):  # reset, refused ...
        if conn is not None:
            conn.close()
        conn = None
    counts.add("requests")
    if status == 200:
        key.possible = {val}
        counts.add("acked_sets" if is_set else "acked_deletes")
    elif status == 404 and not is_set:
        key.possible = {ABSENT}  # acknowledged: nothing was there
        counts.add("acked_deletes")
    elif status in (None, 500, 502, 503, 504):
        key.possible.add(val)  # may or may not have happened
        counts.add("unacked")
        time.sleep(0.01)  # the worker is down: do not spin
    else:
        errors.append("%s %s: unexpected status %r"
                      % (method, path, status))
    return conn, serial


def get(s, name, tries=3):
    """GET /get/name on a fresh connection, retried on a reset: a kept-
    alive connection may have been closed by nginx meanwhile."""
    for attempt in range(tries):
        try:
            return s.request("GET", "/get/" + name, timeout=30)
        except OSError as e:
            if attempt + 1 == tries:
                raise HarnessError("GET %s failed: %s\nworker log:\n%s"
                                   % (name, e, s.tail(s.worker_log)))
            time.sleep(0.2)


def check(s, keys):
    """Reads every key back; returns (checked, lost, corrupted)."""
    checked = lost = corrupted = 0
    if s.worker is None or s.worker.poll() is not None:
        raise HarnessError("the worker is not running:\n%s"
                           % s.tail(s.worker_log))
    for key in keys:
        r = get(s, key.name)
        if r.status not in (200, 404):
            corrupted += 1
            print("# %s: GET answered %r" % (key.name, r))
            continue
        got = r.json().get("value") if r.status == 200 else ABSENT
        checked += 1
        if got in key.possible:
            key.possible = {got}  # settled: later checks expect this
        elif got is ABSENT:
            lost += 1
            print("# LOST %s: absent, expected one of %d states"
                  % (key.name, len(key.possible)))
        else:
            corrupted += 1
            print("# CORRUPT %s: %r not among %r"
                  % (key.name, got[:60],
                     [p and p[:60] for p in key.possible]))
    return checked, lost, corrupted


def run_engine(engine, args, rng):
    counts = Counts()
    errors = []
    extra = ["--sync", "always"]
    if engine == "file":
        extra += ["--segment-bytes", "65536"]  # rolls under load
    with Strata(engine=engine, threads=16, extra_args=extra) as s:
        keys_by_thread = [[Key("k%d-%d" % (t, i)) for i in range(args.keys)]
                          for t in range(args.writers)]
        keys = [k for ks in keys_by_thread for k in ks]
        stop = threading.Event()
        gate = Gate()
        threads = [threading.Thread(
            target=writer, args=(s, t, keys_by_thread[t],
                                 random.Random(rng.random()), stop, gate,
                                 counts, errors))
                   for t in range(args.writers)]
        for t in threads:
            t.start()
        kills = 0
        totals = [0, 0, 0]  # checked, lost, corrupted
        started = time.monotonic()
        try:
            while kills < args.kills and \
                    time.monotonic() - started < args.seconds:
                time.sleep(rng.uniform(0.05, 0.6))
                s.kill_worker(signal.SIGKILL)
                kills += 1
                s.start_worker()
                s.wait_healthy()
                # Writers wait while every key is read: a loss shows up
                # here even if a later write would have covered it.
                gate.close()
                try:
                    totals = [a + b for a, b in zip(totals, check(s, keys))]
                finally:
                    gate.open()
        finally:
            stop.set()
            gate.open()
            for t in threads:
                t.join()
        # The last writes; then what was read must survive a clean
        # restart too.
        totals = [a + b for a, b in zip(totals, check(s, keys))]
        s.restart_worker()
        totals = [a + b for a, b in zip(totals, check(s, keys))]
        checked, lost, corrupted = totals
    acked = counts.acked_sets + counts.acked_deletes
    print("# kill %s: %d kills, %d requests, acknowledged %d (%d sets, %d "
          "deletes), unacknowledged %d, keys checked %d, lost %d, "
          "corrupted %d" % (engine, kills, counts.requests, acked,
                            counts.acked_sets, counts.acked_deletes,
                            counts.unacked, checked, lost, corrupted))
    sys.stdout.flush()
    bad = lost + corrupted + len(errors)
    for e in errors[:10]:
        print("# %s" % e)
    ok = bad == 0 and kills > 0 and acked > 0
    print("%s - kill test %s" % ("ok" if ok else "not ok", engine))
    return 0 if ok else 1


def engines_available():
    """The engines this stratad was built with, from its --help."""
    stratad = os.environ.get("STRATAD", "")
    if not stratad:
        raise HarnessError("STRATAD is not set (run through `make check`)")
    out = subprocess.run([stratad, "--help"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT).stdout.decode()
    for line in out.splitlines():
        if line.strip().startswith("--engine"):
            names = line.split(":", 1)[1].split("(")[0]
            return [n.strip() for n in names.split(",")]
    return ["file"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--seconds", type=float, default=12.0,
                   help="at most this long per engine")
    p.add_argument("--writers", type=int, default=6)
    p.add_argument("--keys", type=int, default=30, help="per writer")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--engines", default=None,
                   help="comma-separated (default: file, and lsm if built)")
    args = p.parse_args()
    seed = args.seed
    if seed is None:
        seed = int(os.environ.get("STRATA_SEED") or time.time_ns() % 10**9)
    print("# seed=%d (replay with --seed %d; thread timing still varies)"
          % (seed, seed))

    def run():
        have = engines_available()
        wanted = args.engines.split(",") if args.engines else \
            [e for e in ("file", "lsm") if e in have]
        failed = 0
        for i, engine in enumerate(wanted):
            failed += run_engine(engine, args, random.Random(seed + i))
        return failed

    main_guard(run)


if __name__ == "__main__":
    main()
