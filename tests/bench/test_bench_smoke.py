"""Smoke test of strata-bench (bench/strata_bench.c): every backend of
this build (strata's engines and, when built, the LevelDB and LMDB
anchors) runs every workload at a few thousand keys, and the output is
well-formed. Figures are not judged: a loaded CI machine says nothing
about speed. Answers are: strata-bench exits 1 when a read contradicts
what was written.

Prints "ok - name" / "not ok - name: detail"; exits 1 when any failed.
strata-bench is found next to $STRATAD (the build directory).
"""

import os
import subprocess
import sys

WORKLOADS = ("fillseq", "fillrandom", "overwrite", "readrandom",
             "readmissing", "readseq", "deleterandom", "fillrandom-sync")

failed = 0


def ok(name, cond, detail=""):
    global failed
    if cond:
        print("ok - %s" % name)
    else:
        failed += 1
        print("not ok - %s: %s" % (name, detail))
    return cond


def run(bench, *args, timeout=120):
    return subprocess.run([bench] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def is_number(text):
    try:
        return float(text) >= 0
    except ValueError:
        return False


def check_tsv(bench, backends):
    r = run(bench, "--engines", "all", "--num", "3000", "--sync-num", "100",
            "--format", "tsv")
    ok("tsv run exits 0", r.returncode == 0,
       "exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")))
    lines = r.stdout.decode().splitlines()
    ok("one line per engine and workload",
       len(lines) == len(backends) * len(WORKLOADS),
       "%d lines for %d backends" % (len(lines), len(backends)))
    seen = set()
    for line in lines:
        f = line.split("\t")
        if not ok("5 fields: %r" % line[:60], len(f) == 5):
            continue
        engine, workload, ops, micros, disk = f
        kind = backends.get(engine)
        ok("known engine %s" % engine, kind is not None)
        ok("known workload %s" % workload, workload in WORKLOADS)
        seen.add((engine, workload))
        if kind is None:
            continue
        skipped = workload == "readseq" and kind[1] == "unsorted"
        if skipped:
            ok("%s %s skipped" % (engine, workload),
               f[2:] == ["-", "-", "-"], line)
            continue
        ok("%s %s ops/s and us/op are numbers" % (engine, workload),
           is_number(ops) and is_number(micros) and float(ops) > 0, line)
        if kind[2] == "persistent":
            ok("%s %s bytes on disk" % (engine, workload),
               disk.isdigit(), line)
        else:
            ok("%s %s no disk" % (engine, workload), disk == "-", line)
    ok("every engine ran every workload",
       seen == {(e, w) for e in backends for w in WORKLOADS},
       "missing %r" % sorted({(e, w) for e in backends for w in WORKLOADS}
                             - seen))


def check_compact(bench):
    """compact (not a default workload) runs where the engine has one,
    is skipped where not, and never leaves more on disk than before."""
    r = run(bench, "--engines", "memory,file,lsm", "--num", "3000",
            "--workloads", "fillrandom,overwrite,compact", "--format", "tsv")
    ok("compact run exits 0", r.returncode == 0, r.stderr.decode())
    rows = {tuple(l.split("\t")[:2]): l.split("\t")
            for l in r.stdout.decode().splitlines()}
    ok("memory has nothing to compact",
       rows.get(("memory", "compact"), [])[2:] == ["-", "-", "-"], rows)
    for engine in ("file", "lsm"):
        after = rows.get((engine, "compact"))
        before = rows.get((engine, "overwrite"))
        if not ok("%s compact ran" % engine,
                  after is not None and before is not None and
                  is_number(after[3]) and after[4].isdigit(), rows):
            continue
        ok("%s compact leaves no more on disk" % engine,
           int(after[4]) <= int(before[4]), "%s -> %s" % (before, after))


def check_table(bench):
    r = run(bench, "--engines", "memory", "--num", "500",
            "--workloads", "fillrandom,readrandom,readseq")
    out = r.stdout.decode()
    ok("table run exits 0", r.returncode == 0, r.stderr.decode())
    ok("table has a header", "ops/s" in out and "p99.9 us" in out, out)
    rows = [l for l in out.splitlines() if l.startswith("memory ")]
    ok("table has one row per workload", len(rows) == 3, out)
    ok("readrandom found every key", "found 500 of 500" in out, out)


def check_usage(bench):
    r = run(bench, "--help")
    ok("--help exits 0", r.returncode == 0 and b"--workloads" in r.stdout)
    for bad in (["--engines", "nosuch"], ["--workloads", "nosuch"],
                ["--num", "0"], ["--num", "100000", "--key-size", "3"],
                ["--format", "csv"], ["--log-level", "loud"], ["--bogus"]):
        r = run(bench, *bad)
        ok("usage error exits 2: %s" % " ".join(bad), r.returncode == 2,
           "exit %d" % r.returncode)


def main():
    stratad = os.environ.get("STRATAD", "")
    bench = os.path.join(os.path.dirname(stratad), "strata-bench")
    if not stratad or not os.access(bench, os.X_OK):
        print("Bail out! no strata-bench next to STRATAD=%r" % stratad)
        return 99
    r = run(bench, "--list")
    backends = {}
    for line in r.stdout.decode().splitlines():
        f = line.split("\t")
        if len(f) == 4:
            backends[f[0]] = f[1:]
    ok("--list names memory", "memory" in backends, r.stdout)
    print("# backends: %s" % ", ".join(sorted(backends)))
    check_tsv(bench, backends)
    check_table(bench)
    check_compact(bench)
    check_usage(bench)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
