"""Smoke test of the HTTP benchmark (bench/http_bench.py): one short wrk
run of every scenario (the static-file and trivial-FastCGI ceilings, GET,
SET with --sync none and with --sync always) through real nginx and
stratad on 127.0.0.1, checking that each prints a well-formed line with
no errors. Speed is not judged. wrk is installed by ./test.sh
(scripts/lib.sh); without it the test fails.

Prints "ok - name" / "not ok - name: detail"; exits 1 when any failed.
"""

import os
import shutil
import subprocess
import sys

SCENARIOS = ("static", "fcgi-trivial", "get", "set-none", "set-always")

failed = 0


def ok(name, cond, detail=""):
    global failed
    if cond:
        print("ok - %s" % name)
    else:
        failed += 1
        print("not ok - %s: %s" % (name, detail))
    return cond


def main():
    if not (os.environ.get("WRK") or shutil.which("wrk")):
        print("Bail out! wrk is not installed (apt-get install wrk)")
        return 99
    stratad = os.environ.get("STRATAD", "")
    srcdir = os.environ.get("STRATA_SRCDIR", "")
    responder = os.path.join(os.path.dirname(stratad), "fcgi-trivial")
    if not os.access(responder, os.X_OK) or not srcdir:
        print("Bail out! no fcgi-trivial next to STRATAD=%r" % stratad)
        return 99
    env = dict(os.environ, FCGI_TRIVIAL=responder)
    script = os.path.join(srcdir, "bench", "http_bench.py")
    r = subprocess.run([sys.executable, script, "--duration", "1",
                        "--connections", "4", "--keys", "200",
                        "--format", "tsv"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=180)
    ok("http_bench.py exits 0", r.returncode == 0,
       "exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")))
    lines = r.stdout.decode().splitlines()
    ok("one line per scenario", len(lines) == len(SCENARIOS), lines)
    seen = []
    for line in lines:
        f = line.split("\t")
        if not ok("6 fields: %r" % line, len(f) == 6):
            continue
        scenario, conns, rps, p50, p99, errors = f
        seen.append(scenario)
        ok("%s: numbers" % scenario,
           all(x.isdigit() for x in (conns, rps, p50, p99, errors)), line)
        ok("%s: requests were served" % scenario, rps.isdigit() and
           int(rps) > 0, line)
        ok("%s: no errors" % scenario, errors == "0", line)
    ok("every scenario ran", sorted(seen) == sorted(SCENARIOS), seen)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
