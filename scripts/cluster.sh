#!/usr/bin/env bash
# `make cluster`: N daphne processes behind nginx, sharing PostgreSQL and Redis, plus the
# scheduler process, in the foreground. Ctrl-C stops them all; a daphne that dies is started
# again, any other process that dies ends the cluster.
#
#   nginx       PORT (8000)               deploy/nginx.conf.template, generated per run
#   daphne      PORT+1 .. PORT+N          chatcounsel.asgi:application, --proxy-headers
#   scheduler   manage.py run_scheduler   TIMED_RULES=scheduler: the one trigger of the
#                                         timed rules for all processes
#
# Environment: N (2), PORT (8000), PY (.venv/bin/python), DATABASE_URL (PostgreSQL),
# REDIS_URL, and whatever else settings.py reads. See docs/deployment.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-2}
PORT=${PORT:-8000}
PY=${PY:-$ROOT/.venv/bin/python}
WEBSOCKET_MAX_MESSAGE_BYTES=${WEBSOCKET_MAX_MESSAGE_BYTES:-65536}

say() { echo "cluster: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

command -v nginx >/dev/null 2>&1 || die "nginx is missing. Install it (Debian): apt-get install -y nginx"
[[ $N =~ ^[1-9][0-9]?$ ]] || die "N must be a number of processes from 1 to 99, not '$N'"
[[ ${DATABASE_URL:-} == postgres* ]] ||
    die "DATABASE_URL must be PostgreSQL: several processes share it (SQLite cannot)"
[ -n "${REDIS_URL:-}" ] || die "REDIS_URL must be set: the processes hear each other through Redis"
export TIMED_RULES=scheduler

cd "$ROOT"
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/chatcounsel-cluster.XXXXXX")
chmod 755 "$RUN_DIR"  # nginx's workers run as another user and keep temp files here
pids=()

stop_all() {
    trap - INT TERM EXIT
    say "stopping"
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$RUN_DIR"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

# The database (created when missing), its tables, the demo data and the static files.
"$PY" - <<'PYTHON'
import os
from urllib.parse import urlsplit, urlunsplit

import psycopg

url = urlsplit(os.environ["DATABASE_URL"])
name = url.path.lstrip("/")
admin = urlunsplit(url._replace(path="/postgres"))
with psycopg.connect(admin, autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')
        print(f"cluster: created database {name}")
PYTHON
"$PY" manage.py migrate --noinput
"$PY" manage.py seed_demo
"$PY" manage.py collectstatic --noinput --verbosity 0
STATIC_ROOT=$("$PY" manage.py shell --no-imports -c "from django.conf import settings; print(settings.STATIC_ROOT)" | tail -n 1)

upstreams=""
for ((i = 1; i <= N; i++)); do
    upstreams+="        server 127.0.0.1:$((PORT + i)) max_fails=1 fail_timeout=10s;"$'\n'
done
LISTEN="127.0.0.1:$PORT" UPSTREAMS="$upstreams" STATIC_ROOT="$STATIC_ROOT/" RUN_DIR="$RUN_DIR" \
    "$PY" -c '
import os, re, sys
text = open(sys.argv[1]).read()
print(re.sub(r"\$\{(LISTEN|UPSTREAMS|STATIC_ROOT|RUN_DIR)\}", lambda m: os.environ[m.group(1)].rstrip("\n"), text))
' deploy/nginx.conf.template >"$RUN_DIR/nginx.conf"
nginx -t -q -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" -e stderr || die "the generated nginx config is invalid: $RUN_DIR/nginx.conf"

declare -A daphne_pid=()  # port -> pid
start_daphne() {
    "$PY" -m daphne -b 127.0.0.1 -p "$1" --proxy-headers \
        --websocket-max-message-size "$WEBSOCKET_MAX_MESSAGE_BYTES" \
        chatcounsel.asgi:application &
    daphne_pid[$1]=$!
    pids+=($!)
}
for ((i = 1; i <= N; i++)); do
    start_daphne $((PORT + i))
done
"$PY" manage.py run_scheduler &
pids+=($!)
nginx -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" -e stderr &
pids+=($!)

echo
echo "chatcounsel cluster: nginx on 127.0.0.1:$PORT, $N daphne processes on $((PORT + 1))..$((PORT + N)), one scheduler"
echo "  client     http://127.0.0.1:$PORT/"
echo "  console    http://127.0.0.1:$PORT/console/"
echo "  dashboard  http://127.0.0.1:$PORT/dashboard/"
echo "  logins: see the table above; every password is demo-password. Stop with Ctrl-C."
echo

# A daphne that dies is started again on its port after a second, as a process supervisor
# would (kill one to watch the browsers reconnect through nginx), at most RESTARTS times in
# all; any other process that exits ends the cluster.
RESTARTS=10
set +e
for ((restarts = 0; ; restarts++)); do
    wait -n -p exited "${pids[@]}"
    status=$?
    remaining=()
    for pid in "${pids[@]}"; do
        [ "$pid" = "$exited" ] || remaining+=("$pid")
    done
    pids=("${remaining[@]}")
    port=""
    for candidate in "${!daphne_pid[@]}"; do
        [ "${daphne_pid[$candidate]}" = "$exited" ] && port=$candidate
    done
    if [ -z "$port" ] || ((restarts >= RESTARTS)); then
        say "process $exited exited ($status); stopping the others"
        exit "$status"
    fi
    say "daphne on $port exited ($status); starting it again"
    sleep 1
    start_daphne "$port"
done
