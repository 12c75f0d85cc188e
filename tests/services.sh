#!/usr/bin/env bash
# What the suite needs besides Python: Redis on 127.0.0.1:6379, PostgreSQL on :5432 and, for the
# browser tests, Debian's Chromium. Starts the servers when nothing answers and installs what is
# missing with apt-get (as root); says what it could not do. `make test` and `.ci/run` run it.
# Tests pointed elsewhere (REPLAYDESK_TEST_REDIS_URL, REPLAYDESK_TEST_DATABASE_URL) skip the
# servers here.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
apt_install() {
    if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
        echo "tests/services.sh: $* is missing; install it (apt-get install $*) or start it" >&2
        return 1
    fi
    if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
    echo "tests/services.sh: nothing answers on 127.0.0.1:$1" >&2
    return 1
}

if [ -z "${REPLAYDESK_TEST_REDIS_URL:-}" ] && ! port_open 6379; then
    command -v redis-server >/dev/null || apt_install redis-server
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    wait_port 6379
fi

if [ -z "${REPLAYDESK_TEST_DATABASE_URL:-}" ] && ! port_open 5432; then
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    wait_port 5432
fi

# Browser tests drive Debian's Chromium (never a downloaded browser).
if [ -d tests/browser ] && [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
fi

# The ingest benchmark's load generator, whose Lua script the suite checks against a stub server.
if [ -d tests/bench ] && ! command -v wrk >/dev/null; then
    apt_install wrk
fi
