#!/usr/bin/env bash
# Entrypoint of novadev's redis:7 stand-in, with upstream's contract:
#   - a first argument that is an option ("-...") or a config file ("*.conf")
#     means `redis-server` with those arguments;
#   - `redis-server` runs as the redis user, in /data, reachable from other
#     containers (all interfaces, protected mode off unless a config file
#     given to it says otherwise);
#   - any other command (redis-sentinel, redis-cli, bash, ...) runs as given.
set -Eeuo pipefail

if [ "$#" -eq 0 ]; then
    set -- redis-server
fi
if [ "${1:0:1}" = '-' ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

if [ "$1" = redis-server ]; then
    # Redis binds all interfaces by default, but with no password its compiled-in
    # protected mode refuses everyone but loopback, i.e. every other container.
    # Upstream's image builds Redis with protected mode off by default; here
    # the same default is passed as an argument, placed so that a config file's
    # own protected-mode setting or a later --protected-mode still wins.
    if [ "$#" -ge 2 ] && [ "${2%.conf}" != "$2" ]; then
        if [ -r "$2" ] && ! grep -Eqi '^[[:space:]]*protected-mode[[:space:]]' "$2"; then
            set -- "$1" "$2" --protected-mode no "${@:3}"
        fi
    else
        set -- "$1" --protected-mode no "${@:2}"
    fi

    # Files written by redis (the AOF, dump.rdb) are nobody else's business.
    umask 0077
    if [ "$(id -u)" = 0 ]; then
        # A fresh volume or bind mount belongs to root; redis must write it.
        find . \! -user redis -exec chown redis {} +
        exec gosu redis "$@"
    fi
fi

exec "$@"
