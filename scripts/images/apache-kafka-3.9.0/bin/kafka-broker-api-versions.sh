#!/usr/bin/env bash
# kafka-broker-api-versions.sh of the apache/kafka:3.9.0 stand-in: asks the
# broker for the API versions it supports (a real ApiVersions request) and
# prints them in upstream's layout; exit 0 only when the broker answered, so
# it serves as a healthcheck:
#
#   kafka-broker-api-versions.sh --bootstrap-server HOST:PORT
#
# Unlike upstream, only the bootstrap broker is asked, its node id is not shown
# ("id: -1"), and "usable" is the broker's own maximum.
set -euo pipefail
# shellcheck source=../libexec/kafka-standin.sh
. /opt/kafka/libexec/kafka-standin.sh

bootstrap=
while [ "$#" -gt 0 ]; do
    split_opt "$1"
    case $opt_name in
        --bootstrap-server) need_value "$@"; bootstrap=$opt_value ;;
        --command-config) need_value "$@" ;;
        -h | --help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
        --version) echo "3.9.0 (novadev stand-in)"; exit 0 ;;
        *) shim_die "option $opt_name is not supported by this stand-in (see --help)" ;;
    esac
    shift "$opt_shift"
done
[ -n "$bootstrap" ] || shim_die "Missing required argument \"[bootstrap-server]\""
parse_bootstrap "$bootstrap"

api_names=(
    [0]=Produce [1]=Fetch [2]=ListOffsets [3]=Metadata [4]=LeaderAndIsr [5]=StopReplica
    [6]=UpdateMetadata [7]=ControlledShutdown [8]=OffsetCommit [9]=OffsetFetch
    [10]=FindCoordinator [11]=JoinGroup [12]=Heartbeat [13]=LeaveGroup [14]=SyncGroup
    [15]=DescribeGroups [16]=ListGroups [17]=SaslHandshake [18]=ApiVersions
    [19]=CreateTopics [20]=DeleteTopics [21]=DeleteRecords [22]=InitProducerId
    [23]=OffsetForLeaderEpoch [24]=AddPartitionsToTxn [25]=AddOffsetsToTxn [26]=EndTxn
    [27]=WriteTxnMarkers [28]=TxnOffsetCommit [29]=DescribeAcls [30]=CreateAcls
    [31]=DeleteAcls [32]=DescribeConfigs [33]=AlterConfigs [34]=AlterReplicaLogDirs
    [35]=DescribeLogDirs [36]=SaslAuthenticate [37]=CreatePartitions
    [38]=CreateDelegationToken [39]=RenewDelegationToken [40]=ExpireDelegationToken
    [41]=DescribeDelegationToken [42]=DeleteGroups [43]=ElectLeaders
    [44]=IncrementalAlterConfigs [45]=AlterPartitionReassignments
    [46]=ListPartitionReassignments [47]=OffsetDelete [48]=DescribeClientQuotas
    [49]=AlterClientQuotas [50]=DescribeUserScramCredentials [51]=AlterUserScramCredentials
    [55]=DescribeQuorum [56]=AlterPartition [57]=UpdateFeatures [58]=Envelope
    [60]=DescribeCluster [61]=DescribeProducers [64]=UnregisterBroker
    [65]=DescribeTransactions [66]=ListTransactions [67]=AllocateProducerIds
    [68]=ConsumerGroupHeartbeat [69]=ConsumerGroupDescribe [71]=GetTelemetrySubscriptions
    [72]=PushTelemetry [74]=ListClientMetricsResources [75]=DescribeTopicPartitions
)

check_reachable
versions=$(timeout "$standin_timeout" bash /opt/kafka/libexec/kafka-api-versions-probe "$bs_host" "$bs_port" 2>&1) ||
    shim_die "no ApiVersions answer from $bs_host:$bs_port: ${versions:-timed out}"
echo "$bs_host:$bs_port (id: -1 rack: null) -> ("
sort -n <<<"$versions" | while read -r key min max; do
    echo "	${api_names[$key]:-Unknown}($key): $min to $max [usable: $max],"
done | sed '$ s/,$//'
echo ")"
