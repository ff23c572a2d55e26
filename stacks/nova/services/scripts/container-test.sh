#!/usr/bin/env bash
# Runs the Nova service binaries against real Postgres, Redis (master, replica,
# three sentinels) and, if the image exists and NOVA_TEST_KAFKA is not 0,
# Kafka, all on a private Docker network; checks /health/live, /health/ready,
# gRPC health, each service's own endpoint, a Postgres outage, a Redis
# failover and SIGTERM. Everything it creates is named novadev-svctest-* and
# removed at the end (containers with their anonymous volumes, the network).
#
#   cargo build --release --workspace && scripts/container-test.sh
#
# Needs: docker, curl, openssl, and the images postgres:15, redis:7,
# debian:bookworm-slim (apache/kafka:3.9.0 optional).
set -uo pipefail

cd "$(dirname "$0")/.."
BIN=$PWD/target/release
P=novadev-svctest
NET=$P-net
KEYS=
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); echo "  ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "  FAIL $*"; }
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

cleanup() {
    [ "${KEEP:-0}" = 1 ] && { echo "(KEEP=1: containers left running)"; return; }
    docker ps -aq --filter "name=^$P-" | xargs -r docker rm -f -v >/dev/null 2>&1
    docker network rm "$NET" >/dev/null 2>&1
    [ -n "$KEYS" ] && rm -rf "$KEYS"
}
trap cleanup EXIT
cleanup
KEYS=$(mktemp -d)

for b in user-service identity-service social-service events-service nova-probe; do
    [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: cargo build --release --workspace first"; exit 2; }
done

docker network create "$NET" >/dev/null

run() { # run NAME ALIAS IMAGE ARGS...
    local name=$1 alias=$2; shift 2
    docker run -d --name "$P-$name" --network "$NET" --network-alias "$alias" "$@" >/dev/null
}

echo "== dependencies"
run postgres postgres -e POSTGRES_USER=nova -e POSTGRES_PASSWORD=nova -e POSTGRES_DB=nova_auth postgres:15
run redis-master redis-master redis:7 redis-server --save '' --appendonly no --replica-announce-ip redis-master
run redis-replica redis-replica redis:7 redis-server --save '' --appendonly no \
    --replica-announce-ip redis-replica --replicaof redis-master 6379
for i in 1 2 3; do
    run "redis-sentinel-$i" "redis-sentinel-$i" redis:7 sh -c "printf '%s\n' \
        'port 26379' 'sentinel resolve-hostnames yes' 'sentinel announce-hostnames yes' \
        'sentinel announce-ip redis-sentinel-$i' \
        'sentinel monitor mymaster redis-master 6379 2' \
        'sentinel down-after-milliseconds mymaster 2000' \
        'sentinel failover-timeout mymaster 6000' > /tmp/sentinel.conf && exec redis-sentinel /tmp/sentinel.conf"
done

KAFKA_ENV=()
if [ "${NOVA_TEST_KAFKA:-1}" != 0 ] && docker image inspect apache/kafka:3.9.0 >/dev/null 2>&1; then
    run kafka kafka -e KAFKA_NODE_ID=1 -e KAFKA_PROCESS_ROLES=broker,controller \
        -e KAFKA_LISTENERS=PLAINTEXT://:9092,CONTROLLER://:9093 \
        -e KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://kafka:9092 \
        -e KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER \
        -e KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT \
        -e KAFKA_CONTROLLER_QUORUM_VOTERS=1@kafka:9093 \
        -e KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1 -e KAFKA_AUTO_CREATE_TOPICS_ENABLE=true \
        apache/kafka:3.9.0
    KAFKA_ENV=(-e KAFKA_BROKERS=kafka:9092)
    echo "  (kafka: apache/kafka:3.9.0)"
else
    echo "  (kafka: not tested, apache/kafka:3.9.0 absent or NOVA_TEST_KAFKA=0)"
fi

openssl genpkey -algorithm ed25519 -out "$KEYS/jwt.key" 2>/dev/null
openssl pkey -in "$KEYS/jwt.key" -pubout -out "$KEYS/jwt.pub" 2>/dev/null
chmod 644 "$KEYS"/*

REDIS_ENV=(-e REDIS_SENTINEL_ENDPOINTS=redis-sentinel-1:26379,redis-sentinel-2:26379,redis-sentinel-3:26379
    -e REDIS_SENTINEL_MASTER_NAME=mymaster)

service() { # service NAME GRPC HTTP HOSTGRPC HOSTHTTP ENV...
    local name=$1 grpc=$2 http=$3 hg=$4 hh=$5; shift 5
    docker run -d --name "$P-$name" --network "$NET" \
        -p "127.0.0.1:$hg:$grpc" -p "127.0.0.1:$hh:$http" \
        -v "$BIN/$name:/usr/local/bin/$name:ro" "$@" \
        debian:bookworm-slim "/usr/local/bin/$name" >/dev/null
}

echo "== services"
service user-service 50054 8083 25054 28083 \
    -e DATABASE_URL=postgres://nova:nova@postgres:5432/nova_auth "${REDIS_ENV[@]}" "${KAFKA_ENV[@]}"
service identity-service 50051 8080 25051 28080 \
    -e DATABASE_URL=postgres://nova:nova@postgres:5432/nova_auth "${REDIS_ENV[@]}" "${KAFKA_ENV[@]}" \
    -e JWT_PRIVATE_KEY_PATH=/keys/jwt.key -e JWT_PUBLIC_KEY_PATH=/keys/jwt.pub -v "$KEYS:/keys:ro"
# Other ports than the defaults, to exercise GRPC_PORT / HTTP_PORT.
service social-service 6000 7000 25052 28081 -e GRPC_PORT=6000 -e HTTP_PORT=7000 "${REDIS_ENV[@]}"
service events-service 50058 8087 25058 28087 "${KAFKA_ENV[@]}" "${REDIS_ENV[@]}"

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"; }
body() { curl -s --max-time 3 "$@"; }
wait_for() { # wait_for SECONDS COMMAND...: until the command succeeds
    local until=$((SECONDS + $1)); shift
    while [ $SECONDS -lt $until ]; do "$@" && return 0; sleep 0.3; done
    return 1
}
is_ready() { [ "$(code "http://127.0.0.1:$1/health/ready")" = 200 ]; }
not_ready() { [ "$(code "http://127.0.0.1:$1/health/ready")" = 503 ]; }
probe() { "$BIN/nova-probe" --timeout 1000 "$@" >/dev/null 2>&1; }
not_probe() { ! probe "$@"; }

echo "== liveness and readiness"
check "user-service /health/live answers ok at once" \
    wait_for 5 sh -c "[ \"\$(curl -s --max-time 1 http://127.0.0.1:28083/health/live)\" = ok ]"
for hp in 28083 28080 28081 28087; do
    check "port $hp: /health/ready 200 within 40 s" wait_for 40 is_ready $hp
done
echo "     user-service ready: $(body http://127.0.0.1:28083/health/ready)"
echo "     identity-service ready: $(body http://127.0.0.1:28080/health/ready)"
echo "     social-service ready: $(body http://127.0.0.1:28081/health/ready)"
check "ready JSON has postgres ok and redis master" \
    sh -c "body() { curl -s --max-time 3 \"\$@\"; }; body http://127.0.0.1:28083/health/ready | grep -q '\"postgres\":\"ok\".*\"redis\":\"ok (master redis-master:6379)\"'"
check "gRPC health '' SERVING (nova-probe)" wait_for 5 probe 127.0.0.1:25054
check "gRPC health 'user-service' SERVING" probe 127.0.0.1:25054 user-service
check "gRPC health for an unknown name is not SERVING" not_probe 127.0.0.1:25054 nobody
check "user-service --health-check inside the container exits 0" \
    docker exec "$P-user-service" user-service --health-check
check "social-service honours GRPC_PORT=6000 (--health-check)" \
    docker exec -e GRPC_PORT=6000 "$P-social-service" social-service --health-check
check "nova-probe on a closed port fails" not_probe 127.0.0.1:1

for c in postgres redis-master redis-replica kafka; do
    docker ps -a --filter "name=^$P-$c\$" --format "     {{.Names}}: {{.Status}}"
done

echo "== own endpoints"
TOKEN=$(body -X POST -H 'content-type: application/json' -d '{"sub":"alice"}' http://127.0.0.1:28080/v1/token |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
check "identity: POST /v1/token returns a JWT" [ "$(echo "$TOKEN" | tr -cd . | wc -c)" = 2 ]
check "identity: POST /v1/verify accepts it" sh -c "curl -s -X POST -H 'content-type: application/json' \
    -d '{\"token\":\"$TOKEN\"}' http://127.0.0.1:28080/v1/verify | grep -q '\"sub\":\"alice\"'"
check "identity: a tampered token is refused with 401" [ "$(code -X POST -H 'content-type: application/json' \
    -d "{\"token\":\"${TOKEN}x\"}" http://127.0.0.1:28080/v1/verify)" = 401 ]
check "identity: no key material in its logs" sh -c "! docker logs $P-identity-service 2>&1 | grep -q -e 'BEGIN' -e \"\$(sed -n 2p $KEYS/jwt.key)\""
echo "     user-service /v1/db: $(body http://127.0.0.1:28083/v1/db)"
check "user: GET /v1/db reports nova_auth" sh -c "curl -s http://127.0.0.1:28083/v1/db | grep -q '\"database\":\"nova_auth\"'"
check "social: PUT follow (redis master via sentinel)" [ "$(code -X PUT http://127.0.0.1:28081/v1/users/alice/following/bob)" = 200 ]
check "social: GET following lists bob" sh -c "curl -s http://127.0.0.1:28081/v1/users/alice/following | grep -q '\"following\":\\[\"bob\"\\]'"
if [ ${#KAFKA_ENV[@]} -gt 0 ]; then
    check "events: POST /v1/events/test-topic appends to Kafka" \
        wait_for 20 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{\"hello\":1}' http://127.0.0.1:28087/v1/events/svctest)\" = 201 ]"
else
    check "events: without KAFKA_BROKERS, POST answers 503 naming it" sh -c \
        "curl -s -X POST -d x http://127.0.0.1:28087/v1/events/t | grep -q KAFKA_BROKERS"
fi

echo "== postgres outage"
docker stop -t 2 "$P-postgres" >/dev/null
check "user-service /health/ready turns 503 within 5 s" wait_for 5 not_ready 28083
echo "     $(body http://127.0.0.1:28083/health/ready)"
check "503 body names postgres as failing, redis still ok" sh -c \
    "curl -s http://127.0.0.1:28083/health/ready | grep '\"postgres\":\"error: ' | grep -q '\"redis\":\"ok'"
check "gRPC health NOT_SERVING within 3 s" wait_for 3 not_probe 127.0.0.1:25054 user-service
check "social-service (no DATABASE_URL) stays ready" is_ready 28081
check "user-service stays live" [ "$(code http://127.0.0.1:28083/health/live)" = 200 ]
docker start "$P-postgres" >/dev/null
check "ready again within 30 s of postgres returning" wait_for 30 is_ready 28083
check "gRPC health SERVING again" wait_for 3 probe 127.0.0.1:25054 user-service

echo "== redis failover"
docker stop -t 1 "$P-redis-master" >/dev/null
check "redis outage shows: 503 naming redis" wait_for 5 sh -c \
    "curl -s http://127.0.0.1:28081/health/ready | grep -q '\"redis\":\"error: '"
echo "     $(body http://127.0.0.1:28081/health/ready)"
check "after the sentinels' failover: ready, following the new master" wait_for 40 sh -c \
    "curl -s http://127.0.0.1:28081/health/ready | grep -q '\"redis\":\"ok (master redis-replica:6379)\"'"
echo "     $(body http://127.0.0.1:28081/health/ready)"
check "social: writes go to the new master" [ "$(code -X PUT http://127.0.0.1:28081/v1/users/alice/following/carol)" = 200 ]
check "social: data written before the failover survived" sh -c \
    "curl -s http://127.0.0.1:28081/v1/users/alice/following | grep -q '\"bob\",\"carol\"'"
check "user-service gRPC SERVING on the new master" wait_for 5 probe 127.0.0.1:25054

echo "== SIGTERM"
for s in user-service identity-service social-service events-service; do
    t0=$(date +%s%N)
    docker stop -t 10 "$P-$s" >/dev/null
    ms=$((($(date +%s%N) - t0) / 1000000))
    rc=$(docker inspect -f '{{.State.ExitCode}}' "$P-$s")
    check "$s stops on SIGTERM in ${ms} ms with exit code $rc" [ "$rc" = 0 -a "$ms" -lt 2000 ]
done
check "logs: startup line, SIGTERM, stopped" sh -c \
    "docker logs $P-user-service 2>&1 | grep -q 'starting: grpc 0.0.0.0:50054, http 0.0.0.0:8083' && \
     docker logs $P-user-service 2>&1 | grep -q 'SIGTERM received' && docker logs $P-user-service 2>&1 | grep -q 'stopped'"
echo "== user-service log"
docker logs "$P-user-service" 2>&1 | sed 's/^/     /'

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
