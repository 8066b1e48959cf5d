"""A real nginx and a real stratad on a free 127.0.0.1 port, in a temp dir.

Used by tests/integration/test_*.py (python3 standard library only). The
environment names the programs, as `make check` sets it up:

    STRATAD        the worker to run (build/stratad)
    NGINX          the nginx binary (/usr/sbin/nginx)
    STRATA_SRCDIR  the source tree, for nginx/strata.conf.in

    with Strata(engine="file") as s:
        status, headers, body = s.request("POST", "/set/k", b'{"value":"v"}')
        s.kill_worker(signal.SIGKILL)
        s.start_worker()

Every process a Strata starts is stopped when the `with` block ends, at
interpreter exit (atexit) or on SIGTERM/SIGINT/SIGHUP, and its temp dir
is removed: nginx first (QUIT, graceful), then the worker (TERM), each
killed after a timeout.
"""

import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Hard error for automake: the test could not run at all (not a SKIP).
EXIT_HARD_ERROR = 99

DEFAULT_MAX_VALUE = 1048576
DEFAULT_MAX_KEY = 1024

_live = set()


class HarnessError(Exception):
    """The environment, not the code under test, is broken."""


def body_limit(max_value_bytes):
    """The worker's body limit, which nginx's client_max_body_size copies:
    room for a value whose every byte is escaped as \\u00XX, plus the
    surrounding object."""
    return 6 * max_value_bytes + 4096


def _env_path(name):
    value = os.environ.get(name, "")
    if not value:
        raise HarnessError("%s is not set (run through `make check`)" % name)
    return value


def nginx_user_directive():
    """"user NAME GROUP;" naming the current user when running as root,
    else "": as root nginx's workers would drop to "nobody" and could not
    enter the 0700 temp dir nor open the 0660 socket."""
    if os.geteuid() != 0:
        return ""
    import grp
    import pwd
    return "user %s %s;" % (pwd.getpwuid(os.geteuid()).pw_name,
                            grp.getgrgid(os.getegid()).gr_name)


def render_template(text, values):
    """Replaces each @NAME@ of `values` ({"@NAME@": "value"}) in `text`;
    a placeholder left outside comments is a HarnessError."""
    for name, value in values.items():
        text = text.replace(name, value)
    for line in text.splitlines():
        if not line.lstrip().startswith("#") and \
                re.search(r"@[A-Za-z_]+@", line):
            raise HarnessError("unreplaced placeholder in: %s" % line)
    return text


def free_port():
    """A port nobody listened on a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cleanup_all():
    for s in list(_live):
        s.stop()


def _on_signal(signum, frame):
    # Turn the signal into an exception so that every `finally` runs and
    # no process is left behind; atexit then covers the rest.
    raise SystemExit(128 + signum)


atexit.register(_cleanup_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


class Response:
    """status (int), headers (dict, lower-case names), body (bytes)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        """The body decoded as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        body = self.body
        if len(body) > 200:
            body = body[:200] + b"...(%d bytes)" % len(self.body)
        return "%d %r" % (self.status, body)


class Strata:
    def __init__(self, engine="memory", max_value_bytes=None,
                 max_key_bytes=None, threads=None, extra_args=(),
                 nginx_config=None, health_path="/health"):
        """nginx_config: None for nginx/strata.conf.in, or a function
        called with this Strata (port, paths and temp dir set) that
        returns the text of nginx.conf. health_path: where wait_healthy
        finds the worker's /health through that configuration."""
        self.engine = engine
        self.max_value_bytes = max_value_bytes or DEFAULT_MAX_VALUE
        self.max_key_bytes = max_key_bytes or DEFAULT_MAX_KEY
        self.max_body = body_limit(self.max_value_bytes)
        self.threads = threads
        self.extra_args = list(extra_args)
        self.nginx_config = nginx_config
        self.health_path = health_path

        self.stratad = _env_path("STRATAD")
        self.nginx = _env_path("NGINX")
        self.srcdir = _env_path("STRATA_SRCDIR")
        if not os.access(self.stratad, os.X_OK):
            raise HarnessError("STRATAD=%s is not executable" % self.stratad)
        if not os.access(self.nginx, os.X_OK):
            raise HarnessError("NGINX=%s is not executable" % self.nginx)

        self.dir = None
        self.worker = None
        self.nginx_proc = None
        self.port = None
        self.last_worker_status = None

    # --- paths -----------------------------------------------------------

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data")

    @property
    def socket_path(self):
        return os.path.join(self.dir, "stratad.sock")

    @property
    def pid_file(self):
        return os.path.join(self.dir, "stratad.pid")

    @property
    def worker_log(self):
        return os.path.join(self.dir, "stratad.log")

    @property
    def nginx_prefix(self):
        return os.path.join(self.dir, "nginx")

    @property
    def nginx_error_log(self):
        return os.path.join(self.nginx_prefix, "logs", "error.log")

    # --- life cycle ------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="strata-it-")
        _live.add(self)
        try:
            os.makedirs(self.data_dir)
            self.start_worker()
            self._start_nginx()
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise

    def stop(self):
        """Stops nginx, then the worker; removes the temp dir. Idempotent."""
        try:
            self.stop_nginx()
        finally:
            try:
                if self.worker is not None:
                    self.stop_worker()
            finally:
                _live.discard(self)
                if self.dir is not None:
                    shutil.rmtree(self.dir, ignore_errors=True)
                    self.dir = None

    def worker_command(self, socket_path=None, data_dir=None):
        cmd = [self.stratad,
               "--engine", self.engine,
               "--data-dir", data_dir or self.data_dir,
               "--socket", socket_path or self.socket_path,
               "--max-value-bytes", str(self.max_value_bytes),
               "--max-key-bytes", str(self.max_key_bytes),
               "--log-level", "warn"]
        if socket_path is None:
            cmd += ["--pid-file", self.pid_file]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        return cmd + self.extra_args

    def start_worker(self, timeout=30.0):
        """Starts the worker on the same data dir and waits for its socket."""
        if self.worker is not None and self.worker.poll() is None:
            raise HarnessError("worker already running")
        # After a SIGKILL the old socket file is still there: wait for a
        # new one, made by this worker (looked at before it starts).
        old = self._socket_id()
        log = open(self.worker_log, "ab")
        try:
            self.worker = subprocess.Popen(
                self.worker_command(), stdin=subprocess.DEVNULL,
                stdout=log, stderr=log)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while self._socket_id() in (None, old):
            status = self.worker.poll()
            if status is not None:
                self.worker = None
                raise HarnessError("stratad exited with status %d before its "
                                   "socket was ready:\n%s"
                                   % (status, self.tail(self.worker_log)))
            if time.monotonic() > deadline:
                raise HarnessError("stratad did not open %s in %.0f s "
                                   "(socket %r, before %r); its log:\n%s"
                                   % (self.socket_path, timeout,
                                      self._socket_id(), old,
                                      self.tail(self.worker_log)))
            time.sleep(0.02)

    def _socket_id(self):
        try:
            st = os.stat(self.socket_path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino, st.st_mtime_ns)

    def stop_worker(self, sig=signal.SIGTERM, timeout=15.0):
        """Sends `sig` to the worker, waits (SIGKILL after `timeout`) and
        returns its exit status (negative: killed by that signal). nginx
        keeps running: on TERM the worker ends the connections nginx keeps
        alive once its requests in flight are done, and nginx drops them
        from its cache as they close."""
        proc = self.worker
        if proc is None:
            return self.last_worker_status
        self.worker = None
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.last_worker_status = proc.returncode
        return proc.returncode

    def kill_worker(self, sig=signal.SIGKILL, timeout=15.0):
        """Like stop_worker, default SIGKILL: the socket file stays."""
        return self.stop_worker(sig, timeout)

    def restart_worker(self):
        """A clean restart (TERM, wait, start) on the same data dir;
        returns the old worker's exit status."""
        status = self.stop_worker()
        self.start_worker()
        self.wait_healthy()
        return status

    def worker_pid(self):
        return self.worker.pid if self.worker is not None else None

    def _render_config(self):
        if self.nginx_config is not None:
            text = self.nginx_config(self)
        else:
            text = self._render_strata_conf()
        path = os.path.join(self.nginx_prefix, "nginx.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def _render_strata_conf(self):
        with open(os.path.join(self.srcdir, "nginx", "strata.conf.in")) as f:
            text = f.read()
        text = render_template(text, {
            "@PREFIX@": self.nginx_prefix,
            "@PORT@": str(self.port),
            "@SOCKET@": self.socket_path,
            "@MAX_BODY@": str(self.max_body),
            "@USER_DIRECTIVE@": nginx_user_directive()})
        # strata.conf.in has no other "@": any one left is a typo.
        if "@" in "".join(l for l in text.splitlines()
                          if not l.lstrip().startswith("#")):
            raise HarnessError("unreplaced placeholder in nginx config")
        return text

    def _start_nginx(self, attempts=3):
        for d in ("logs", "tmp"):
            os.makedirs(os.path.join(self.nginx_prefix, d), exist_ok=True)
        for attempt in range(attempts):
            self.port = free_port()
            conf = self._render_config()
            cmd = self._nginx_command(conf)
            status, output = self.check_nginx_config(conf)
            if status != 0:
                raise HarnessError("nginx -t failed:\n%s" % output)
            self.nginx_proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=self._nginx_env())
            if self._wait_port(10.0):
                return
            # Most likely someone took the port between free_port() and
            # nginx's bind(): try another one.
            self.stop_nginx()
        raise HarnessError("nginx did not start:\n%s"
                           % self.tail(self.nginx_error_log))

    def _nginx_command(self, conf):
        return [self.nginx, "-p", self.nginx_prefix + "/", "-c", conf,
                "-e", self.nginx_error_log]

    def check_nginx_config(self, conf):
        """Runs `nginx -t` on the file `conf` with this Strata's prefix
        (the directories of a started Strata exist); returns its exit
        status and what it printed."""
        check = subprocess.run(self._nginx_command(conf) + ["-t", "-q"],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               env=self._nginx_env())
        return check.returncode, check.stdout.decode(errors="replace")

    @staticmethod
    def _nginx_env():
        # nginx reads $NGINX as a list of inherited listening sockets
        # (binary upgrade), and `make check` sets NGINX to its path.
        env = dict(os.environ)
        env.pop("NGINX", None)
        return env

    def _wait_port(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.nginx_proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def stop_nginx(self, timeout=10.0):
        proc = self.nginx_proc
        if proc is None:
            return None
        self.nginx_proc = None
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGQUIT)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def wait_healthy(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.request("GET", self.health_path, timeout=5)
                if last.status == 200:
                    return last
            except OSError as e:
                last = e
            if self.worker is not None and self.worker.poll() is not None:
                break
            time.sleep(0.05)
        raise HarnessError("%s never answered 200 (last: %r)\n"
                           "worker log:\n%s\nnginx log:\n%s"
                           % (self.health_path, last,
                              self.tail(self.worker_log),
                              self.tail(self.nginx_error_log)))

    # --- requests --------------------------------------------------------

    def connection(self, timeout=30):
        """A keep-alive HTTP/1.1 connection to nginx."""
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None,
                timeout=30, chunked=False):
        """One request; `path` is sent as is (no quoting). Returns a
        Response. With `conn`, uses (and keeps) that connection. With
        `chunked`, `body` is an iterable of chunks sent chunked."""
        own = conn is None
        if own:
            conn = self.connection(timeout)
        try:
            hdrs = dict(headers or {})
            if body is not None and "Content-Type" not in hdrs:
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=hdrs,
                         encode_chunked=chunked)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status,
                            {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            if own:
                conn.close()

    def raw(self, data, timeout=10):
        """Sends raw bytes on a new connection, returns everything nginx
        answers until it closes (send "Connection: close")."""
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout) as s:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            chunks = []
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)

    def raw_request(self, data, timeout=10):
        """raw(), parsed: a Response (or None when nginx sent nothing)."""
        return parse_response(self.raw(data, timeout))

    # --- diagnostics -----------------------------------------------------

    @staticmethod
    def tail(path, lines=30):
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", errors="replace")
        except OSError:
            return "(no %s)" % path
        return "\n".join(text.splitlines()[-lines:])


def parse_response(data):
    """Parses one raw HTTP/1.1 response (Content-Length or close-
    delimited; no chunked bodies: nginx sends Content-Length here)."""
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.decode("latin-1").strip().lower()] = \
            value.decode("latin-1").strip()
    if "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return Response(status, headers, body)


class Checks:
    """The tally of a test's checks, printed TAP-style: "ok - name" or
    "not ok - name: detail" (the detail says what was seen instead)."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print("ok - %s" % name)
        else:
            self.failed += 1
            print("not ok - %s: %s" % (name, detail))
        sys.stdout.flush()
        return cond


# One tally per test program: the scripts call harness.ok() and return
# CHECKS.failed to main_guard().
CHECKS = Checks()
ok = CHECKS.ok


def main_guard(run):
    """Runs run() -> number of failed checks; exits 0/1, or 99 when the
    harness itself could not run (a hard error, never a SKIP)."""
    try:
        failed = run()
    except HarnessError as e:
        print("Bail out! %s" % e)
        sys.stdout.flush()
        _cleanup_all()
        sys.exit(EXIT_HARD_ERROR)
    _cleanup_all()
    sys.exit(1 if failed else 0)
