#!/usr/bin/env bash
# kafka-topics.sh of the apache/kafka:3.9.0 stand-in: the options of upstream's
# tool that dev stacks use, over tansu's topic commands.
#
#   kafka-topics.sh --bootstrap-server HOST:PORT --create --topic NAME
#                   [--partitions N] [--replication-factor N] [--config K=V]... [--if-not-exists]
#   kafka-topics.sh --bootstrap-server HOST:PORT --list [--topic REGEX] [--exclude-internal]
#   kafka-topics.sh --bootstrap-server HOST:PORT --describe [--topic REGEX] [--if-exists]
#   kafka-topics.sh --bootstrap-server HOST:PORT --delete --topic REGEX [--if-exists]
#
# As upstream on a single broker: --partitions defaults to 1 (num.partitions),
# --replication-factor must be 1, topic names are checked by Kafka's rules.
# --topic takes an extended regular expression outside --create (upstream: a
# Java one). --alter and the rest of upstream's options are not offered.
set -euo pipefail
# shellcheck source=../libexec/kafka-standin.sh
. /opt/kafka/libexec/kafka-standin.sh

usage() {
    sed -n '2,15s/^# \{0,1\}//p' "$0"
}

bootstrap=
action=
topic=
partitions=
replication=
configs=()
if_not_exists=0
if_exists=0
while [ "$#" -gt 0 ]; do
    split_opt "$1"
    case $opt_name in
        --bootstrap-server) need_value "$@"; bootstrap=$opt_value ;;
        --create | --list | --describe | --delete | --alter)
            [ -z "$action" ] || shim_die "Command must include exactly one action: --list, --describe, --create, --alter or --delete"
            action=${opt_name#--} ;;
        --topic) need_value "$@"; topic=$opt_value ;;
        --partitions) need_value "$@"; partitions=$opt_value ;;
        --replication-factor) need_value "$@"; replication=$opt_value ;;
        --config) need_value "$@"; configs+=("$opt_value") ;;
        --if-not-exists) if_not_exists=1 ;;
        --if-exists) if_exists=1 ;;
        --exclude-internal) ;;  # tansu keeps no internal topics in metadata
        --command-config)
            need_value "$@"
            echo "$shim_name: warning: --command-config is ignored (the stand-in speaks PLAINTEXT only)" >&2 ;;
        -h | --help) usage; exit 0 ;;
        --version) echo "3.9.0 (novadev stand-in over $("$tansu" --version))"; exit 0 ;;
        *) shim_die "option $opt_name is not supported by this stand-in (see --help)" ;;
    esac
    shift "$opt_shift"
done

[ -n "$bootstrap" ] || shim_die "Missing required argument \"[bootstrap-server]\""
[ -n "$action" ] || shim_die "Command must include exactly one action: --list, --describe, --create, --alter or --delete"
[ "$action" != alter ] || shim_die "--alter is not supported by this stand-in"
parse_bootstrap "$bootstrap"

# Topic names matching the --topic pattern (all when there is none), sorted.
matching_topics() {
    local json
    json=$(topics_json) || shim_die "listing topics on $bs_host:$bs_port failed: $tansu_error"
    jq -r '.[] | select(.error_code == 0) | .name' <<<"$json" | LC_ALL=C sort |
        if [ -n "$topic" ]; then grep -E -x -- "$topic" || true; else cat; fi
}

case $action in
    create)
        [ -n "$topic" ] || shim_die "--topic is required to create a topic"
        if [ "$topic" = . ] || [ "$topic" = .. ]; then
            shim_die "Topic name cannot be \".\" or \"..\""
        fi
        [ "${#topic}" -le 249 ] || shim_die "Topic name is illegal, it can't be longer than 249 characters, topic name: $topic"
        [[ $topic =~ ^[A-Za-z0-9._-]+$ ]] ||
            shim_die "Topic name \"$topic\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        partitions=${partitions:-1}
        replication=${replication:-1}
        is_uint "$partitions" && [ "$partitions" -ge 1 ] || shim_die "The partitions must be greater than 0"
        is_uint "$replication" && [ "$replication" -ge 1 ] || shim_die "The replication factor must be greater than 0"
        [ "$replication" -eq 1 ] ||
            shim_die "Replication factor: $replication larger than available brokers: 1."
        args=(topic create "$topic" --broker "$bs_url" --partitions "$partitions")
        for config in ${configs[@]+"${configs[@]}"}; do
            [[ $config == ?*=* ]] || shim_die "--config '$config' is not KEY=VALUE"
            args+=(--config "$config")
        done
        check_reachable
        if run_tansu "${args[@]}"; then
            echo "Created topic $topic."
            exit 0
        fi
        error=$tansu_error
        # Failed: already there (also when a concurrent run won the race)?
        if json=$(topics_json) &&
            jq -e --arg t "$topic" 'any(.[]; .name == $t and .error_code == 0)' <<<"$json" >/dev/null; then
            [ "$if_not_exists" -eq 1 ] && exit 0
            shim_die "Topic '$topic' already exists."
        fi
        shim_die "creating topic '$topic' on $bs_host:$bs_port failed: $error"
        ;;
    list)
        check_reachable
        names=$(matching_topics)
        [ -z "$names" ] || printf '%s\n' "$names"
        ;;
    describe)
        check_reachable
        json=$(topics_json) || shim_die "describing topics on $bs_host:$bs_port failed: $tansu_error"
        names=$(matching_topics)
        if [ -z "$names" ]; then
            if [ -n "$topic" ] && [ "$if_exists" -eq 0 ]; then
                shim_die "Topic '$topic' does not exist as expected"
            fi
            exit 0
        fi
        while IFS= read -r name; do
            jq -r --arg t "$name" '
                .[] | select(.name == $t) |
                (.partitions | sort_by(.partition_index)) as $p |
                "Topic: \(.name)\tPartitionCount: \($p | length)\tReplicationFactor: \(($p[0].replica_nodes // [1]) | length)\tConfigs: ",
                ($p[] | "\tTopic: \($t)\tPartition: \(.partition_index)\tLeader: \(.leader_id)\tReplicas: \(.replica_nodes | map(tostring) | join(","))\tIsr: \(.isr_nodes | map(tostring) | join(","))")
            ' <<<"$json"
        done <<<"$names"
        ;;
    delete)
        [ -n "$topic" ] || shim_die "--topic is required to delete topics"
        check_reachable
        names=$(matching_topics)
        if [ -z "$names" ]; then
            [ "$if_exists" -eq 1 ] && exit 0
            shim_die "Topic '$topic' does not exist as expected"
        fi
        while IFS= read -r name; do
            run_tansu topic delete "$name" --broker "$bs_url" ||
                shim_die "deleting topic '$name' failed: $tansu_error"
        done <<<"$names"
        ;;
esac
