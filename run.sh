#!/usr/bin/env bash
# Installs what is missing, builds, and runs strata in the foreground:
# nginx on 127.0.0.1:PORT in front of one stratad worker. Ctrl-C stops
# both (nginx first, gracefully, then the worker).
set -euo pipefail

STRATA_PROG=run.sh
STRATA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$STRATA_ROOT/scripts/lib.sh"

usage() {
    cat <<'EOF'
usage: ./run.sh [options]

Builds strata and runs nginx on 127.0.0.1:PORT with a stratad worker
behind it, in the foreground, until Ctrl-C or SIGTERM.

  --port N               HTTP port (default 8080)
  --engine NAME          storage engine: memory, file, lsm (default lsm)
  --data-dir DIR         data directory; the engine uses DIR/NAME/
                         (default: data/ next to run.sh)
  --threads N            worker threads (default 32; keep it above
                         nginx's 2 workers x 8 kept connections)
  --sync MODE            always, interval[:MS] or none: when a write is
                         on disk (see README, "Durability")
                         (default: the worker's, always)
  --max-key-bytes N      longest key (default 1024)
  --max-value-bytes N    longest value (default 1048576); nginx's body
                         limit follows: 6 * N + 4096
  --help                 this text

The worker's pid is in run/stratad.pid, nginx runs with its prefix in
run/nginx/ (logs in run/nginx/logs/).
EOF
}

port=8080
engine="lsm"
data_dir=   # default: data/ in the source tree
threads=
sync=
max_key=
max_value=1048576

need_arg() {
    if [ "$2" -lt 2 ]; then
        echo "run.sh: $1 needs a value" >&2
        usage >&2
        exit 2
    fi
}

need_number() {
    case "$2" in
    '' | *[!0-9]*)
        echo "run.sh: $1 needs a positive number, not '$2'" >&2
        exit 2
        ;;
    esac
}

while [ $# -gt 0 ]; do
    case "$1" in
    --help | -h)
        usage
        exit 0
        ;;
    --port | --engine | --data-dir | --threads | --sync | --max-key-bytes | \
        --max-value-bytes)
        need_arg "$1" $#
        opt=$1 val=$2
        shift 2
        ;;
    --*=*)
        opt=${1%%=*} val=${1#*=}
        case "$opt" in
        --port | --engine | --data-dir | --threads | --sync | \
            --max-key-bytes | --max-value-bytes) ;;
        *)
            echo "run.sh: unknown option '$1'" >&2
            usage >&2
            exit 2
            ;;
        esac
        shift
        ;;
    *)
        echo "run.sh: unknown option '$1'" >&2
        usage >&2
        exit 2
        ;;
    esac
    case "$opt" in
    --port) need_number "$opt" "$val"; port=$val ;;
    --engine) engine=$val ;;
    --data-dir) data_dir=$val ;;
    --threads) need_number "$opt" "$val"; threads=$val ;;
    --sync) sync=$val ;;
    --max-key-bytes) need_number "$opt" "$val"; max_key=$val ;;
    --max-value-bytes) need_number "$opt" "$val"; max_value=$val ;;
    esac
done

if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    echo "run.sh: --port must be 1..65535" >&2
    exit 2
fi
if [ -n "$threads" ] && [ "$threads" -lt 17 ]; then
    strata_say "warning: --threads $threads: nginx keeps up to 16" \
        "connections open, each pins a thread; expect stalls"
fi

strata_install_deps
strata_bootstrap
strata_configure build
strata_build build

NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
RUN_DIR="$STRATA_ROOT/run"
NGINX_PREFIX="$RUN_DIR/nginx"
SOCKET="$RUN_DIR/stratad.sock"
PID_FILE="$RUN_DIR/stratad.pid"
MAX_BODY=$((6 * max_value + 4096))

if [ "${#SOCKET}" -ge 108 ]; then
    strata_say "socket path too long for a unix socket (${#SOCKET} bytes" \
        "of at most 107): $SOCKET; move the checkout to a shorter path"
    exit 1
fi

# The run directory holds the socket: only we (and nginx, which runs as
# us) may enter it.
mkdir -p "$RUN_DIR" "$NGINX_PREFIX/logs" "$NGINX_PREFIX/tmp"
chmod 0700 "$RUN_DIR"
# Absolute, so that it does not depend on where the worker's cwd is.
if [ -z "$data_dir" ]; then
    data_dir="$STRATA_ROOT/data"
fi
mkdir -p "$data_dir"
data_dir=$(cd "$data_dir" && pwd)

if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    strata_say "a worker is already running (pid $(cat "$PID_FILE"))," \
        "stop it first"
    exit 1
fi
if [ -f "$NGINX_PREFIX/nginx.pid" ] &&
    kill -0 "$(cat "$NGINX_PREFIX/nginx.pid")" 2>/dev/null; then
    strata_say "nginx is already running" \
        "(pid $(cat "$NGINX_PREFIX/nginx.pid")), stop it first"
    exit 1
fi
# No live worker owns the socket: it was left by a killed one.
rm -f "$SOCKET" "$PID_FILE"

# Escapes a string for the replacement part of a sed s||| command.
sed_escape() {
    printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'
}

user_directive=
if [ "$(id -u)" -eq 0 ]; then
    # As root nginx's workers would drop to "nobody" and could not enter
    # run/ nor open the socket.
    user_directive="user $(id -un) $(id -gn);"
fi

sed -e "s|@PREFIX@|$(sed_escape "$NGINX_PREFIX")|g" \
    -e "s|@PORT@|$port|g" \
    -e "s|@SOCKET@|$(sed_escape "$SOCKET")|g" \
    -e "s|@MAX_BODY@|$MAX_BODY|g" \
    -e "s|@USER_DIRECTIVE@|$(sed_escape "$user_directive")|g" \
    "$STRATA_ROOT/nginx/strata.conf.in" >"$NGINX_PREFIX/nginx.conf"

# env -u NGINX: nginx reads $NGINX as a list of inherited sockets.
if ! env -u NGINX "$NGINX_BIN" -t -q -p "$NGINX_PREFIX/" -c "$NGINX_PREFIX/nginx.conf" \
    -e stderr; then
    strata_say "nginx rejected $NGINX_PREFIX/nginx.conf"
    exit 1
fi

worker_args=(--engine "$engine" --data-dir "$data_dir" --socket "$SOCKET"
    --pid-file "$PID_FILE" --max-value-bytes "$max_value")
[ -n "$threads" ] && worker_args+=(--threads "$threads")
[ -n "$sync" ] && worker_args+=(--sync "$sync")
[ -n "$max_key" ] && worker_args+=(--max-key-bytes "$max_key")

worker_pid=
nginx_pid=
nginx_pgid=
stopping=no

# Waits up to $2 tenths of a second for process $1 to exit; reaps it.
wait_gone() {
    local pid=$1 n=$2
    while [ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
        sleep 0.1
        n=$((n - 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        return 1
    fi
    wait "$pid" 2>/dev/null || true
}

# nginx's workers outlive a master that was killed (and keep the port):
# signal its whole process group, which setsid made its own.
reap_nginx_group() {
    local pgid=$1
    [ -n "$pgid" ] || return 0
    if kill -0 -- "-$pgid" 2>/dev/null; then
        kill -QUIT -- "-$pgid" 2>/dev/null || true
        sleep 1
        kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
}

# nginx first (QUIT: finish the requests it holds, close the kept
# connections), then the worker (TERM: finish in flight, close the engine).
# The worker's threads parked on kept connections wake only when nginx
# closes them, so the order matters.
stop_all() {
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        if ! wait_gone "$nginx_pid" 100; then
            strata_say "nginx did not stop in 10 s, killing it"
            kill -KILL "$nginx_pid" 2>/dev/null || true
            wait_gone "$nginx_pid" 20 || true
        fi
    fi
    reap_nginx_group "$nginx_pgid"
    nginx_pid="" nginx_pgid=""
    if [ -n "$worker_pid" ] && kill -0 "$worker_pid" 2>/dev/null; then
        kill -TERM "$worker_pid" 2>/dev/null || true
        if ! wait_gone "$worker_pid" 300; then
            strata_say "stratad did not stop in 30 s, killing it"
            kill -KILL "$worker_pid" 2>/dev/null || true
            wait_gone "$worker_pid" 20 || true
            rm -f "$SOCKET" "$PID_FILE"
        fi
    fi
    worker_pid=
}

on_signal() {
    stopping=yes
    strata_say "stopping"
    stop_all
    exit 0
}

trap on_signal INT TERM HUP
trap stop_all EXIT

# setsid: a Ctrl-C in the terminal reaches only this script, which then
# stops the two in the right order (it would otherwise reach all three).
setsid "$STRATA_ROOT/build/stratad" "${worker_args[@]}" &
worker_pid=$!

n=0
while [ ! -S "$SOCKET" ]; do
    if ! kill -0 "$worker_pid" 2>/dev/null; then
        rc=0
        wait "$worker_pid" || rc=$?
        worker_pid=
        strata_say "stratad exited with status $rc before it was ready"
        exit 1
    fi
    if [ "$n" -ge 600 ]; then
        strata_say "stratad did not create $SOCKET within 60 s"
        exit 1
    fi
    sleep 0.1
    n=$((n + 1))
done

setsid env -u NGINX "$NGINX_BIN" -p "$NGINX_PREFIX/" -c "$NGINX_PREFIX/nginx.conf" \
    -e stderr &
nginx_pid=$! nginx_pgid=$!

# Announce only what answers: nginx may still fail to bind the port.
n=0
until curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; do
    if ! kill -0 "$nginx_pid" 2>/dev/null ||
        ! kill -0 "$worker_pid" 2>/dev/null || [ "$n" -ge 100 ]; then
        break # the wait below says what happened
    fi
    sleep 0.1
    n=$((n + 1))
done
if kill -0 "$nginx_pid" 2>/dev/null && kill -0 "$worker_pid" 2>/dev/null; then
    strata_say "serving http://127.0.0.1:$port/ (engine $engine," \
        "data in $data_dir/$engine/); Ctrl-C stops"
fi

# Either one exiting on its own is a failure: stop the other.
rc=0
wait -n "$worker_pid" "$nginx_pid" || rc=$?
if [ "$stopping" = no ]; then
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
        strata_say "nginx exited (status $rc); stopping the worker" \
            "(log: run/nginx/logs/error.log)"
        wait "$nginx_pid" 2>/dev/null || true
        nginx_pid=
    else
        strata_say "stratad exited (status $rc); stopping nginx"
        wait "$worker_pid" 2>/dev/null || true
        worker_pid=
        # A worker that died cannot have removed these.
        rm -f "$SOCKET" "$PID_FILE"
    fi
    stop_all
    exit 1
fi
