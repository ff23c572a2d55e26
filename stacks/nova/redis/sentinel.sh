#!/bin/sh
# Starts one Redis Sentinel watching `mymaster`. Sentinel rewrites its config file at runtime, so
# the file is generated into the container on each start rather than mounted read-only.
# Usage: sentinel.sh <announced hostname>
set -eu
announce=${1:?usage: sentinel.sh <announced hostname>}
conf=/tmp/sentinel.conf
cat > "$conf" <<CONF
port 26379
bind 0.0.0.0
protected-mode no
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip ${announce}
sentinel monitor mymaster redis-master 6379 2
sentinel down-after-milliseconds mymaster 3000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 1
CONF
exec redis-sentinel "$conf"
