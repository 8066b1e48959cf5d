"""Worker options through a real nginx: the limits are configurable and
nginx's body limit follows the worker's (6 * max_value_bytes + 4096);
--sync none still keeps what a clean restart must keep. For every engine
(memory, file, lsm); the restarts only where the data persists (file, lsm).

Prints one line per check ("ok - name" / "not ok - name: detail") and
exits 1 when any failed; 99 when the harness could not run at all.
"""

import json
import os
import signal
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import CHECKS, Strata, main_guard, ok  # noqa: E402

ENGINES = ("memory", "file", "lsm")
PERSISTENT_ENGINES = ("file", "lsm")




def is_json_error(r, status):
    doc = r.json()
    return (r.status == status and isinstance(doc, dict) and
            isinstance(doc.get("error"), str) and
            r.headers.get("content-type", "").startswith("application/json"))


def set_value(s, key, value):
    return s.request("POST", "/set/" + key,
                     json.dumps({"value": value}).encode("utf-8"))


def check_small_limits(engine):
    max_value, max_key = 1000, 16
    with Strata(engine=engine, max_value_bytes=max_value,
                max_key_bytes=max_key) as s:
        pre = "[%s, max-value %d, max-key %d] " % (engine, max_value, max_key)
        r = set_value(s, "k" * max_key, "x")
        ok(pre + "a key of %d bytes is accepted" % max_key, r.status == 200,
           repr(r))
        r = set_value(s, "k" * (max_key + 1), "x")
        ok(pre + "a key of %d bytes is 400" % (max_key + 1),
           is_json_error(r, 400), repr(r))

        r = set_value(s, "v", "y" * max_value)
        ok(pre + "a value of %d bytes is accepted" % max_value,
           r.status == 200, repr(r))
        r = s.request("GET", "/get/v")
        ok(pre + "the %d-byte value reads back" % max_value,
           r.json() == {"value": "y" * max_value}, repr(r))
        r = set_value(s, "v", "z" * (max_value + 1))
        ok(pre + "a value of %d bytes is 413" % (max_value + 1),
           is_json_error(r, 413), repr(r))
        r = s.request("GET", "/get/v")
        ok(pre + "the 413 left the old value",
           r.json() == {"value": "y" * max_value}, repr(r))

        ctl = "\u0001" * max_value
        r = set_value(s, "ctl", ctl)
        ok(pre + "a value of %d escaped bytes (%d bytes of body) is accepted"
           % (max_value, len(json.dumps({"value": ctl}))), r.status == 200,
           repr(r))

        # nginx's client_max_body_size is the worker's limit, exactly.
        limit = 6 * max_value + 4096
        head = b'{"value":"fits"'
        body = head + b" " * (limit - len(head) - 1) + b"}"
        r = s.request("POST", "/set/limit", body)
        ok(pre + "a body of exactly %d bytes is accepted" % limit,
           r.status == 200, repr(r))
        body = head + b" " * (limit - len(head)) + b"}"
        r = s.request("POST", "/set/limit", body)
        ok(pre + "a body of %d bytes is a 413 JSON error" % (limit + 1),
           is_json_error(r, 413), repr(r))
        r = s.request("GET", "/get/limit")
        ok(pre + "the value of the at-limit body is intact",
           r.json() == {"value": "fits"}, repr(r))
        status = s.stop_worker()
        ok(pre + "the worker exits 0", status == 0, "status %r" % status)


def check_sync_none(engine):
    with Strata(engine=engine, extra_args=["--sync", "none"]) as s:
        pre = "[%s, sync none] " % engine
        r = set_value(s, "k", "kept")
        ok(pre + "set", r.status == 200, repr(r))
        r = s.request("DELETE", "/delete/k")
        ok(pre + "delete", r.status == 200, repr(r))
        r = set_value(s, "k2", "kept too")
        ok(pre + "set another", r.status == 200, repr(r))
        status = s.restart_worker()
        ok(pre + "clean restart: the worker exits 0", status == 0,
           "status %r" % status)
        r = s.request("GET", "/get/k2")
        ok(pre + "clean restart keeps the value",
           r.json() == {"value": "kept too"}, repr(r))
        r = s.request("GET", "/get/k")
        ok(pre + "clean restart keeps the delete", r.status == 404, repr(r))
        # "none" survives a process crash (the OS has the data), though
        # not a power loss.
        set_value(s, "k3", "after crash")
        s.kill_worker(signal.SIGKILL)
        s.start_worker()
        s.wait_healthy()
        r = s.request("GET", "/get/k3")
        ok(pre + "a SIGKILL keeps an acknowledged value",
           r.json() == {"value": "after crash"}, repr(r))


def run():
    for engine in ENGINES:
        check_small_limits(engine)
    for engine in PERSISTENT_ENGINES:
        check_sync_none(engine)
    print("# %d passed, %d failed" % (CHECKS.passed, CHECKS.failed))
    return CHECKS.failed


if __name__ == "__main__":
    main_guard(run)
