#!/usr/bin/env bash
# Entrypoint of novadev's postgres:15 stand-in. It honours the part of the
# upstream image's contract that novadev's stacks use:
#   - `postgres [options]` (the default CMD; a first argument starting with "-"
#     means the same) initialises $PGDATA on first start, then runs the server
#     as the postgres user;
#   - any other command (psql, pg_isready, bash, ...) is run as given;
#   - POSTGRES_USER (default postgres), POSTGRES_PASSWORD, POSTGRES_DB (default
#     the user), PGDATA, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256),
#     POSTGRES_INITDB_ARGS;
#   - /docker-entrypoint-initdb.d/*.sh, *.sql, *.sql.gz run once, after initdb.
set -Eeuo pipefail

log() {
    echo "docker-entrypoint.sh: $*" >&2
}

if [ "$#" -eq 0 ]; then
    set -- postgres
fi
if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi

# Asking the server about itself must not need (or create) a cluster.
for arg in "$@"; do
    case $arg in
        -'?' | --help | --describe-config | -V | --version | -C) exec "$@" ;;
    esac
done

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_PASSWORD:=}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
: "${PGDATA:=/var/lib/postgresql/data}"
# Init scripts (and the re-exec below) see the defaults too.
export POSTGRES_USER POSTGRES_DB POSTGRES_PASSWORD POSTGRES_HOST_AUTH_METHOD PGDATA

if [ "$(id -u)" = 0 ]; then
    # A fresh named volume or bind mount belongs to root; the server refuses a
    # data directory it does not own or that others can read.
    mkdir -p "$PGDATA" /var/run/postgresql
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres {} +
    chmod 700 "$PGDATA"
    chown postgres:postgres /var/run/postgresql
    chmod 3777 /var/run/postgresql
    # Drop root for good: exec, so the server ends up as PID 1 and gets
    # `docker stop`'s signal directly.
    exec gosu postgres "${BASH_SOURCE[0]}" "$@"
fi

# Runs SQL as the superuser over the local socket (trust auth).
psql_local() {
    psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" "$@"
}

initialise() {
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        log "error: the database is uninitialised and POSTGRES_PASSWORD is not set."
        log "       Set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust to allow"
        log "       connections without a password (never do that outside tests)."
        exit 1
    fi

    local initdb_args=(
        -D "$PGDATA"
        --username="$POSTGRES_USER"
        --auth-local=trust
        --auth-host="$POSTGRES_HOST_AUTH_METHOD"
    )
    # Word splitting is intended: POSTGRES_INITDB_ARGS is a list of flags.
    # shellcheck disable=SC2206
    initdb_args+=(${POSTGRES_INITDB_ARGS:-})
    if [ -n "$POSTGRES_PASSWORD" ]; then
        # Through a pipe-backed file, so the password never shows up in ps.
        # The <(...) must be on initdb's own command line: its descriptor is
        # closed as soon as the command that created it finishes.
        initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD")
    else
        initdb "${initdb_args[@]}"
    fi

    # Other containers reach the server over the network, with a password.
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

    # A temporary server on the socket only: nobody can connect over the
    # network before initialisation is complete.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start

    if [ "$POSTGRES_DB" != postgres ]; then
        local exists
        exists=$(psql_local --dbname postgres --tuples-only --no-align --set db="$POSTGRES_DB" \
            <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
        if [ -z "$exists" ]; then
            psql_local --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
        fi
    fi

    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case $f in
            *.sh)
                if [ -x "$f" ]; then
                    log "running $f"
                    "$f"
                else
                    log "sourcing $f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql)
                log "running $f"
                psql_local --dbname "$POSTGRES_DB" -f "$f"
                ;;
            *.sql.gz)
                log "running $f"
                gzip -dc "$f" | psql_local --dbname "$POSTGRES_DB"
                ;;
            *)
                # An empty directory leaves the glob itself in $f.
                if [ -e "$f" ]; then
                    log "ignoring $f"
                fi
                ;;
        esac
    done

    pg_ctl -D "$PGDATA" -m fast -w stop
    log "PostgreSQL init process complete; ready for start up."
}

# PG_VERSION is written by initdb; its absence means an empty (or never
# finished) data directory.
if [ -s "$PGDATA/PG_VERSION" ]; then
    log "PostgreSQL database directory appears to contain a database; skipping initialisation"
else
    initialise
fi

exec "$@"
