#!/bin/sh
# Creates the platform's topics listed in topics.txt (NAME [PARTITIONS] per line, `#` comments).
# Idempotent: --if-not-exists makes a second run a no-op. Works with apache/kafka's own
# kafka-topics.sh and with novadev's offline stand-in, which ships the same command.
set -eu
bootstrap=${KAFKA_BOOTSTRAP:-kafka:9092}
topics=${1:-/nova/topics.txt}
grep -v '^[[:space:]]*#' "$topics" | while read -r topic partitions; do
    [ -n "$topic" ] || continue
    /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" --create --if-not-exists \
        --topic "$topic" --partitions "${partitions:-1}" --replication-factor 1
done
echo "topics ready:"
/opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" --list
