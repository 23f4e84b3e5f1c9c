#!/usr/bin/env bash
# A throw-away PostgreSQL server for the test session (Debian's package; installed if
# missing). `source .ci/postgres.sh start` exports SKFUSION_TEST_POSTGRES (a SQLAlchemy URL);
# `.ci/postgres.sh stop` stops the server and deletes its data. The server listens on
# 127.0.0.1 only and trusts local connections: for tests, never for data.
PG_PORT="${PG_PORT:-55432}"
PG_STATE="${PG_STATE:-/tmp/skfusion-ci-postgres}"

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
    return 1
}

as_owner() {  # PostgreSQL refuses to run as root: use the postgres account when we are root
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

start() {  # every step checked: the caller may run this where `set -e` does not apply
    if ! pg_bin >/dev/null; then
        echo "installing PostgreSQL (Debian's package) for the tests"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null; } \
            || { echo "could not install PostgreSQL" >&2; return 1; }
    fi
    local bin
    bin=$(pg_bin) || return 1
    rm -rf "$PG_STATE" && mkdir -p "$PG_STATE" || return 1
    if [ "$(id -u)" = 0 ]; then chown postgres "$PG_STATE" || return 1; fi
    as_owner "$bin/initdb" -D "$PG_STATE/data" -A trust -U postgres >/dev/null || return 1
    as_owner "$bin/pg_ctl" -D "$PG_STATE/data" -l "$PG_STATE/server.log" -w \
        -o "-p $PG_PORT -k $PG_STATE -c listen_addresses=127.0.0.1 -c max_connections=50" \
        start >/dev/null || return 1
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres skfusion_test || return 1
    export SKFUSION_TEST_POSTGRES="postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT/skfusion_test"
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
}

stop() {
    local bin
    bin=$(pg_bin) || return 0
    if [ -d "$PG_STATE/data" ]; then
        as_owner "$bin/pg_ctl" -D "$PG_STATE/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$PG_STATE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: source .ci/postgres.sh start | .ci/postgres.sh stop" >&2; return 2 2>/dev/null || exit 2 ;;
esac
