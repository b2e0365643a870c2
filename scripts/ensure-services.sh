#!/usr/bin/env bash
# Start PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) if they are not answering.
# Idempotent: a service that already answers is left alone. Installs the Debian packages
# first when they are missing and this is root. Fails loudly if a service does not come up
# within 30 seconds.
set -euo pipefail

WAIT_SECONDS=30

say() { echo "ensure-services: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

wait_for() {  # wait_for <name> <command...>
    local name=$1
    shift
    local i
    for ((i = 0; i < WAIT_SECONDS; i++)); do
        if "$@" >/dev/null 2>&1; then
            say "$name is up"
            return 0
        fi
        sleep 1
    done
    die "$name did not answer within ${WAIT_SECONDS}s"
}

install_packages() {  # install_packages <package...>
    if [ "$(id -u)" -ne 0 ]; then
        die "missing $*; install as root: apt-get install -y --no-install-recommends $*"
    fi
    say "installing $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# --- PostgreSQL -------------------------------------------------------------------------
if ! command -v pg_isready >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1; then
    install_packages postgresql
fi
if pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    say "PostgreSQL already answers on 127.0.0.1:5432"
else
    # shellcheck disable=SC2012  # a plain directory listing: the cluster versions
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$version" ] || die "no cluster under /etc/postgresql"
    say "starting PostgreSQL $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
        say "pg_ctlcluster returned $?; waiting for the server anyway"
    wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432
fi

# --- Redis ----------------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    install_packages redis-server
fi
if redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    say "Redis already answers on 127.0.0.1:6379"
else
    mkdir -p /var/lib/redis /var/log/redis
    say "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for Redis redis-cli -h 127.0.0.1 ping
fi
