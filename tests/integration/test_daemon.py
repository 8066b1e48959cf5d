"""stratad as a daemon, through a real nginx where it matters:

- --config FILE: its settings take effect, the command line wins over
  them, and a bad line stops the start with exit 2 and a message naming
  the file, the line and the key;
- --log-file PATH: key=value lines appended there; after a rename and
  SIGHUP the new file gets the next lines (also from a background
  thread) and the old one keeps its own, nothing more;
- journald's form on stderr when JOURNAL_STREAM names it;
- sd_notify over a real notify socket: READY=1 once it serves (the first
  request, made right after, is answered), STOPPING=1 on SIGTERM, STATUS=
  lines;
- --socket-group NAME: the socket's group, owner and mode 0660; an
  unknown group and a group stratad may not use both exit 1;
- --help lists the new flags.

Prints one line per check ("ok - name" / "not ok - name: detail") and
exits 1 when any failed; 99 when the harness could not run at all.
"""

import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (CHECKS, HarnessError, Strata,  # noqa: E402
                     main_guard, ok)


# A file line: timestamp, then level= and logfmt fields.
LINE_RE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z '
                     r'level=(debug|info|warn|error)( [a-z_]+=("([^"\\]|\\.)*"'
                     r'|[^ "]*))*$')



def set_value(s, key, value):
    return s.request("POST", "/set/" + key,
                     json.dumps({"value": value}).encode("utf-8"))


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_for(cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def run_stratad(args, timeout=30, binary=None, **kw):
    """Runs stratad to its end; returns (status, stdout + stderr)."""
    p = subprocess.run([binary or os.environ["STRATAD"]] + args,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout, **kw)
    return p.returncode, p.stdout.decode("utf-8", errors="replace")


class ConfigStrata(Strata):
    """A Strata whose worker reads most settings from a config file:
    only the paths of the temp dir and `cli_args` are on its command
    line. `conf(dir)` returns the file's text."""

    def __init__(self, conf, cli_args, **kw):
        super().__init__(**kw)
        self.conf = conf
        self.cli_args = list(cli_args)

    @property
    def conf_path(self):
        return os.path.join(self.dir, "stratad.conf")

    def worker_command(self, socket_path=None, data_dir=None):
        with open(self.conf_path, "w") as f:
            f.write(self.conf(self.dir))
        return [self.stratad, "--config", self.conf_path,
                "--data-dir", data_dir or self.data_dir,
                "--socket", socket_path or self.socket_path] + self.cli_args


# --- the config file -------------------------------------------------------

def check_config_takes_effect():
    pre = "[config] "

    def conf(d):
        return ("# test_daemon.py\n"
                "engine = file\r\n"            # CRLF is fine
                "  max-value-bytes = 1000\n"   # nginx gets the same limit
                "max-key-bytes = 8\n"          # the command line wins
                "log-level = info\n"
                "log-file = %s\n"
                "threads = 4" % os.path.join(d, "from-config.log"))

    with ConfigStrata(conf, ["--max-key-bytes", "16"],
                      max_value_bytes=1000, max_key_bytes=16) as s:
        r = s.request("GET", "/health")
        ok(pre + "engine = file took effect",
           (r.json() or {}).get("engine") == "file", repr(r))
        r = set_value(s, "v", "x" * 1000)
        ok(pre + "a value of max-value-bytes (1000, from the file) is "
           "accepted", r.status == 200, repr(r))
        r = set_value(s, "v", "x" * 1001)
        ok(pre + "one byte more is 413: the file's limit, not the default",
           r.status == 413, repr(r))
        r = set_value(s, "k" * 16, "x")
        ok(pre + "--max-key-bytes 16 on the command line wins over the "
           "file's 8", r.status == 200, repr(r))
        r = set_value(s, "k" * 17, "x")
        ok(pre + "and a 17-byte key is 400", r.status == 400, repr(r))
        log = os.path.join(s.dir, "from-config.log")
        ok(pre + "log-file from the file gets the log lines",
           wait_for(lambda: "msg=ready engine=file threads=4"
                    in read_text(log)), repr(read_text(log)[-500:]))
        status = s.stop_worker()
        ok(pre + "the worker exits 0", status == 0, "status %r" % status)


def check_config_errors():
    pre = "[config errors] "
    d = tempfile.mkdtemp(prefix="strata-daemon-")
    try:
        conf = os.path.join(d, "bad.conf")
        base = ["--config", conf, "--engine", "memory",
                "--data-dir", os.path.join(d, "data"),
                "--socket", os.path.join(d, "s.sock")]
        cases = [
            ("# one\nengine = memory\nthreads = lots\n",
             "stratad: %s:3: key 'threads': takes a number from 1 to 1024, "
             "not 'lots'" % conf),
            ("threads = 2\nthread = 3\n",
             "stratad: %s:2: unknown key 'thread'" % conf),
            ("\n\nsync\n", "stratad: %s:3: missing '='" % conf),
            ("log-level =\n", "stratad: %s:1: key 'log-level': empty value"
             % conf),
        ]
        for text, want in cases:
            with open(conf, "w") as f:
                f.write(text)
            status, out = run_stratad(base)
            first = text.strip().splitlines()[-1]
            ok(pre + "%r: exit 2" % first, status == 2,
               "status %r: %s" % (status, out))
            ok(pre + "%r: the message names file, line and key" % first,
               want in out, repr(out))
        ok(pre + "no socket was created",
           not os.path.exists(os.path.join(d, "s.sock")))
        status, out = run_stratad(["--config", os.path.join(d, "none.conf")])
        ok(pre + "a missing file: exit 2 naming it",
           status == 2 and "none.conf: cannot open: No such file" in out,
           "status %r: %s" % (status, out))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- the log file ------------------------------------------------------------

def lines_ok(text):
    bad = [l for l in text.splitlines() if not LINE_RE.match(l)]
    return not bad, bad[:3]


def check_log_file_reopen():
    pre = "[log file] "
    # A small memtable, so that writes flush and compact in the
    # background and log from those threads (at debug).
    with Strata(engine="lsm", extra_args=[
            "--log-level", "debug", "--memtable-bytes", "65536"]) as s:
        log = os.path.join(s.dir, "stratad.out.log")
        rotated = log + ".1"
        s.extra_args += ["--log-file", log]
        s.restart_worker()
        ok(pre + "the file is made with mode 0640",
           stat.S_IMODE(os.stat(log).st_mode) == 0o640 & ~current_umask(),
           oct(os.stat(log).st_mode))
        # The request threads may answer the health check a moment before
        # main logs "ready": wait for the line rather than race it.
        ok(pre + "start-up lines are in it",
           wait_for(lambda: "msg=ready engine=lsm" in read_text(log)),
           read_text(log)[-300:])

        os.rename(log, rotated)
        os.kill(s.worker_pid(), signal.SIGHUP)
        reopened = wait_for(lambda: "msg=\"log file reopened on SIGHUP\""
                            in read_text(log))
        ok(pre + "SIGHUP: a new file at the old path says it was reopened",
           reopened, repr(read_text(log)))
        old_at_hup = read_text(rotated)

        value = "v" * 1000
        for i in range(600):  # ~600 KiB: about nine flushes, compactions
            r = set_value(s, "key%04d" % i, value)
            if r.status != 200:
                ok(pre + "writes after the rotation", False, repr(r))
                break
        compacted = wait_for(lambda: 'module=lsm msg=compacted level=0'
                             in read_text(log))
        ok(pre + "the background thread's lines go to the new file",
           compacted, read_text(log)[-500:])
        r = s.request("GET", "/get/key0000")
        ok(pre + "reads still work", r.json() == {"value": value}, repr(r))
        status = s.stop_worker()
        ok(pre + "the worker exits 0", status == 0, "status %r" % status)

        old, new = read_text(rotated), read_text(log)
        ok(pre + "the old file keeps its lines and gets none after SIGHUP",
           old == old_at_hup and "msg=ready engine=lsm" in old,
           "old file grew by %r" % old[len(old_at_hup):][:300])
        ok(pre + "the new file has the stop",
           "msg=\"stopping, finishing the requests in flight\" "
           "signal=SIGTERM" in new and new.rstrip().endswith("msg=stopped"),
           new[-300:])
        for name, text in (("old", old), ("new", new)):
            good, bad = lines_ok(text)
            ok(pre + "every line of the %s file is whole and key=value"
               % name, good, repr(bad))


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_journal_form():
    """With JOURNAL_STREAM naming stderr, lines carry <N> and no time."""
    pre = "[journald] "
    d = tempfile.mkdtemp(prefix="strata-daemon-")
    proc = None
    try:
        sock = os.path.join(d, "s.sock")
        err_path = os.path.join(d, "stderr")
        with open(err_path, "wb") as err:
            st = os.fstat(err.fileno())
            env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev,
                                                             st.st_ino))
            proc = subprocess.Popen(
                [os.environ["STRATAD"], "--engine", "memory",
                 "--data-dir", os.path.join(d, "data"), "--socket", sock,
                 "--socket-group", "no-such-group-strata"],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env)
            status = proc.wait(30)
        text = read_text(err_path)
        ok(pre + "an error line is <3>level=error, no timestamp",
           "<3>level=error msg=\"no such socket group\" "
           "group=no-such-group-strata\n" in text and status == 1,
           "status %r: %r" % (status, text))
        ok(pre + "an info line is <6>level=info",
           "<6>level=info msg=\"opening the store\" engine=memory" in text,
           repr(text))
        ok(pre + "every line starts with a priority",
           all(re.match(r"<[3-7]>level=", l) for l in text.splitlines()),
           repr(text))
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)


# --- sd_notify ---------------------------------------------------------------

def receive_all(ns, timeout):
    """Datagrams until `timeout` passes with none."""
    got = []
    ns.settimeout(timeout)
    while True:
        try:
            got.append(ns.recv(4096).decode("utf-8", errors="replace"))
        except socket.timeout:
            return got


def check_notify():
    pre = "[sd_notify] "
    with Strata(engine="memory") as s:
        s.stop_worker()
        path = os.path.join(s.dir, "notify.sock")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            ns.bind(path)
            os.environ["NOTIFY_SOCKET"] = path
            try:
                s.start_worker()
            finally:
                del os.environ["NOTIFY_SOCKET"]
            # Nothing has asked the worker anything yet: READY=1 must come
            # by itself, and once it has, requests are answered at once.
            messages = []
            ns.settimeout(30)
            deadline = time.monotonic() + 30
            while not any("READY=1" in m.split("\n") for m in messages) \
                    and time.monotonic() < deadline:
                try:
                    messages.append(ns.recv(4096).decode())
                except socket.timeout:
                    break
            ready = any("READY=1" in m.split("\n") for m in messages)
            ok(pre + "READY=1 arrives without a request", ready,
               repr(messages))
            r = s.request("GET", "/health", timeout=5)
            ok(pre + "the first request, right after READY=1, is answered",
               ready and r.status == 200, repr(r))
            ok(pre + "a STATUS= line says what it serves",
               any("STATUS=serving the memory engine" in m
                   for m in messages), repr(messages))
            ok(pre + "STATUS= while opening, before READY=1",
               messages and "STATUS=opening the memory engine" in messages[0],
               repr(messages))
            status = s.stop_worker(signal.SIGTERM)
            later = receive_all(ns, 1.0)
            ok(pre + "the worker exits 0 on SIGTERM", status == 0,
               "status %r" % status)
            ok(pre + "STOPPING=1 on SIGTERM",
               any("STOPPING=1" in m.split("\n") for m in later),
               repr(later))
            every = messages + later
            ok(pre + "READY=1 exactly once",
               sum(m.split("\n").count("READY=1") for m in every) == 1,
               repr(every))
        finally:
            ns.close()


# --- socket group ------------------------------------------------------------

def pick_group():
    """A group the worker may give its socket to, other than its own
    primary group when there is one: (name, gid, note)."""
    egid = os.getegid()
    if os.geteuid() == 0:
        candidates = [g.gr_gid for g in grp.getgrall()]
    else:
        candidates = os.getgroups()
    for gid in sorted(set(candidates)):
        if gid != egid:
            try:
                return grp.getgrgid(gid).gr_name, gid, ""
            except KeyError:
                continue
    return (grp.getgrgid(egid).gr_name, egid,
            " (only the primary group is at hand: a weaker check)")


def check_socket_group():
    pre = "[socket group] "
    name, gid, note = pick_group()
    with Strata(engine="memory", extra_args=["--socket-group", name]) as s:
        st = os.stat(s.socket_path)
        ok(pre + "the socket's group is %s (%d)%s" % (name, gid, note),
           st.st_gid == gid, "gid %d" % st.st_gid)
        ok(pre + "its owner is unchanged", st.st_uid == os.geteuid(),
           "uid %d" % st.st_uid)
        ok(pre + "its mode stays 0660", stat.S_IMODE(st.st_mode) == 0o660,
           oct(st.st_mode))
        r = s.request("GET", "/health")
        ok(pre + "it serves", r.status == 200, repr(r))
        status = s.stop_worker()
        ok(pre + "the worker exits 0", status == 0, "status %r" % status)


def check_socket_group_errors():
    pre = "[socket group] "
    d = tempfile.mkdtemp(prefix="strata-daemon-")
    try:
        os.chmod(d, 0o777)  # for the unprivileged run below
        sock = os.path.join(d, "s.sock")
        args = ["--engine", "memory", "--data-dir", os.path.join(d, "data"),
                "--socket", sock]
        status, out = run_stratad(args + ["--socket-group",
                                          "no-such-group-strata"])
        ok(pre + "an unknown group: exit 1", status == 1,
           "status %r: %s" % (status, out))
        ok(pre + "an unknown group: the message names it",
           'msg="no such socket group" group=no-such-group-strata' in out,
           repr(out))
        ok(pre + "an unknown group: no socket is left behind",
           not os.path.exists(sock))

        # A group stratad may not give files to: as root, run it as
        # nobody (a member of no group but its own); otherwise a group
        # this user is not in.
        kw = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            # A copy nobody can reach, wherever the build directory is.
            kw["binary"] = os.path.join(d, "stratad")
            shutil.copy(os.environ["STRATAD"], kw["binary"])
            os.chmod(kw["binary"], 0o755)

            def drop():
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
            kw["preexec_fn"] = drop
            member_of = {nobody.pw_gid}
        else:
            member_of = set(os.getgroups()) | {os.getegid()}
        others = [g for g in grp.getgrall() if g.gr_gid not in member_of]
        if not others:
            raise HarnessError("no group outside %r to test with" % member_of)
        # A data dir of its own: the one above belongs to this user.
        args[args.index("--data-dir") + 1] = os.path.join(d, "data2")
        status, out = run_stratad(
            args + ["--socket-group", others[0].gr_name], **kw)
        ok(pre + "a group not permitted (%s): exit 1" % others[0].gr_name,
           status == 1, "status %r: %s" % (status, out))
        ok(pre + "a group not permitted: the message says so",
           "group=%s" % others[0].gr_name in out and
           "Operation not permitted" in out, repr(out))
        ok(pre + "a group not permitted: no socket is left behind",
           not os.path.exists(sock))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_help():
    status, out = run_stratad(["--help"])
    for flag in ("--config FILE", "--log-file PATH", "--socket-group NAME"):
        ok("[help] --help lists %s" % flag, status == 0 and flag in out,
           repr(out[:200]))


def run():
    check_help()
    check_config_errors()
    check_config_takes_effect()
    check_log_file_reopen()
    check_journal_form()
    check_notify()
    check_socket_group()
    check_socket_group_errors()
    print("# %d passed, %d failed" % (CHECKS.passed, CHECKS.failed))
    return CHECKS.failed


if __name__ == "__main__":
    main_guard(run)
