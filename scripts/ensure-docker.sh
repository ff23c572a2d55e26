#!/usr/bin/env bash
# Makes sure a Docker engine answers before anything tries to use it. When the
# engine already runs this is one `docker version` call (well under a second).
# Otherwise it installs Debian's docker.io if the CLI or daemon is missing,
# starts the daemon (through the init script if there is one, else directly,
# because containers and CI machines often have no systemd), and waits a
# bounded time for it. It never returns success without an answering engine.
#
# Environment:
#   DOCKER_HOST           honoured; only a local unix socket can be started here
#   NOVADEV_DOCKER_WAIT   seconds to wait for the engine (default 60)
#   NOVADEV_DOCKERD_LOG   log of a dockerd started here
#                         (default /var/log/novadev-dockerd.log, else /tmp/...)
#   NOVADEV_DOCKERD_ARGS  extra arguments for a dockerd started here (for a
#                         second daemon beside a running one: its own
#                         --data-root, --exec-root, --pidfile, --config-file;
#                         not --bridge none, with which dockerd deletes the
#                         shared docker0 bridge of the first daemon)
set -euo pipefail

readonly wait_seconds=${NOVADEV_DOCKER_WAIT:-60}
readonly default_socket=/var/run/docker.sock

fail() {
    echo "ensure-docker.sh: error: $*" >&2
    exit 1
}

note() {
    echo "ensure-docker.sh: $*" >&2
}

engine_answers() {
    # A hung daemon must not hang us: bound each probe.
    command -v docker >/dev/null 2>&1 &&
        timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# Fast path: nothing to do.
if engine_answers; then
    exit 0
fi

# Which socket the CLI will talk to. Anything but a local unix socket (tcp://,
# ssh://) is someone else's engine, which we cannot start.
docker_host=${DOCKER_HOST:-unix://$default_socket}
case $docker_host in
    unix://*) socket=${docker_host#unix://} ;;
    *)
        fail "DOCKER_HOST=$docker_host does not answer, and only a local engine can be started by this script"
        ;;
esac

if [ -w /var/log ]; then
    dockerd_log=${NOVADEV_DOCKERD_LOG:-/var/log/novadev-dockerd.log}
else
    dockerd_log=${NOVADEV_DOCKERD_LOG:-${TMPDIR:-/tmp}/novadev-dockerd.log}
fi

# --- install ------------------------------------------------------------------
if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] ||
        fail "Docker is not installed; as root run: apt-get install docker.io (or run this script as root)"
    command -v apt-get >/dev/null 2>&1 ||
        fail "Docker is not installed and there is no apt-get to install Debian's docker.io"
    note "installing Debian's docker.io (log: $dockerd_log)"
    # Package scripts may try to start the service and fail without an init
    # system; that is fine, the daemon is started below either way.
    if ! { apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io; } >>"$dockerd_log" 2>&1; then
        tail -n 20 "$dockerd_log" >&2 || true
        fail "apt-get install docker.io failed (log: $dockerd_log)"
    fi
    if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
        fail "docker.io was installed but docker/dockerd are still not on PATH"
    fi
    # The package may have started the daemon itself.
    if engine_answers; then
        exit 0
    fi
fi

# --- start --------------------------------------------------------------------
deadline=$((SECONDS + wait_seconds))
started_pid=

wait_for_engine() {
    # $1: seconds to wait at most (bounded by the overall deadline)
    local until=$((SECONDS + $1))
    [ "$until" -le "$deadline" ] || until=$deadline
    while [ "$SECONDS" -lt "$until" ]; do
        engine_answers && return 0
        # A daemon we started that died will never answer; stop waiting.
        if [ -n "$started_pid" ] && ! kill -0 "$started_pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.5
    done
    engine_answers
}

# Is some dockerd process alive? (pgrep is not in a minimal system; dockerd
# also writes a pid file for the default setup.)
dockerd_alive() {
    if command -v pgrep >/dev/null 2>&1; then
        pgrep -x dockerd >/dev/null 2>&1
    else
        [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null
    fi
}

# A second daemon on the same socket and data root would only fight the first.
if dockerd_alive && { [ "$socket" = "$default_socket" ] || [ -S "$socket" ]; }; then
    # Probably still starting up (or wedged); give it the full wait.
    note "dockerd is running but not answering yet on $socket; waiting up to ${wait_seconds}s"
    wait_for_engine "$wait_seconds" && exit 0
    fail "dockerd is running but $socket did not answer within ${wait_seconds}s; check its log (e.g. $dockerd_log or /var/log/docker.log)"
fi

[ "$(id -u)" -eq 0 ] || fail "no Docker engine answers on $socket and starting dockerd needs root"

# The init script (or systemd behind `service`) knows the distribution's way to
# run the daemon; it only serves the default socket, though.
if [ "$socket" = "$default_socket" ] &&
    command -v service >/dev/null 2>&1 &&
    { [ -x /etc/init.d/docker ] || [ -d /run/systemd/system ]; }; then
    note "starting Docker with 'service docker start'"
    if timeout 30 service docker start >>"$dockerd_log" 2>&1 && wait_for_engine 15; then
        exit 0
    fi
    if dockerd_alive; then
        # The service's daemon is up but slow (or wedged): do not start a rival.
        wait_for_engine "$wait_seconds" && exit 0
        fail "dockerd started by 'service docker start' did not answer within ${wait_seconds}s; see /var/log/docker.log and $dockerd_log"
    fi
    note "'service docker start' did not bring up an engine; starting dockerd directly"
fi

note "starting dockerd directly (log: $dockerd_log)"
dockerd_args=()
[ "$socket" = "$default_socket" ] || dockerd_args+=(-H "unix://$socket")
# Word splitting is intended: NOVADEV_DOCKERD_ARGS is a list of flags.
# shellcheck disable=SC2206
dockerd_args+=(${NOVADEV_DOCKERD_ARGS:-})
# setsid + nohup: the daemon must outlive this script and not get the Ctrl-C
# of whatever terminal or CI step ran it.
echo "--- $(date -u '+%Y-%m-%dT%H:%M:%SZ') ensure-docker.sh: dockerd ${dockerd_args[*]}" >>"$dockerd_log"
setsid nohup dockerd "${dockerd_args[@]}" >>"$dockerd_log" 2>&1 </dev/null &
started_pid=$!

if wait_for_engine "$wait_seconds"; then
    note "Docker engine is up (dockerd pid $started_pid)"
    exit 0
fi

{
    if ! kill -0 "$started_pid" 2>/dev/null; then
        echo "ensure-docker.sh: error: dockerd (pid $started_pid) exited before answering on $socket"
    else
        echo "ensure-docker.sh: error: dockerd (pid $started_pid) runs but did not answer on $socket within ${wait_seconds}s"
    fi
    echo "ensure-docker.sh: last lines of $dockerd_log:"
    tail -n 20 "$dockerd_log"
} >&2
exit 1
