#!/usr/bin/env python3
"""Round-trips one message through a Kafka broker, the way a client on the host would.

Produces a unique message to a topic, then consumes it back in a fresh consumer group
(subscribe, join, fetch, commit) within a timeout. Exit 0 when the very message came back,
1 with a one-line reason otherwise, 2 on bad usage or a missing client library.

    scripts/kafka-roundtrip.py --bootstrap 127.0.0.1:29092 --topic nova.identity.events

Needs confluent-kafka: when the venv that scripts/test-deps.sh makes exists, the script runs
itself with that venv's python, else it imports confluent_kafka from the python it was started with.
"""

import argparse
import logging
import os
import sys
import time
import uuid


class _LastLines(logging.Handler):
    """Keeps librdkafka's last log lines, shown only when the round trip fails."""

    def __init__(self, keep=3):
        super().__init__(logging.DEBUG)
        self.lines = []
        self.keep = keep

    def emit(self, record):
        self.lines = (self.lines + [record.getMessage()])[-self.keep :]


_client_log = _LastLines()


def fail(message):
    print(f"kafka-roundtrip: FAIL: {message}", file=sys.stderr)
    for line in _client_log.lines:
        print(f"kafka-roundtrip:   client log: {line}", file=sys.stderr)
    sys.exit(1)


def reexec_in_test_venv():
    """Runs this script under scripts/test-deps.sh's venv, if there is one and we are elsewhere."""
    venv = os.environ.get("NOVADEV_PY_VENV") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "novadev", "venv"
    )
    python = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv) or not os.access(python, os.X_OK):
        return
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])


def parse_args():
    parser = argparse.ArgumentParser(
        description="Produce a unique message to a Kafka topic and consume it back."
    )
    parser.add_argument(
        "--bootstrap",
        default="127.0.0.1:29092",
        help="bootstrap servers, HOST:PORT[,HOST:PORT...] (default: %(default)s)",
    )
    parser.add_argument("--topic", required=True, help="topic to round-trip through")
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds for the whole round trip (default: %(default)s)",
    )
    parser.add_argument(
        "--group",
        default=None,
        help="consumer group id (default: a fresh novadev-roundtrip-<uuid>)",
    )
    parser.add_argument(
        "--create",
        action="store_true",
        help="create the topic (1 partition) if it does not exist, instead of failing",
    )
    parser.add_argument(
        "--session-timeout-ms",
        type=int,
        default=6000,
        help="consumer session timeout (default: %(default)s, Kafka's minimum; the tansu "
        "stand-in completes a group join after about half of it)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    return parser.parse_args()


def remaining(deadline):
    return max(0.0, deadline - time.monotonic())


def main():
    args = parse_args()
    reexec_in_test_venv()
    try:
        from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
        from confluent_kafka.admin import AdminClient, NewTopic
    except ImportError:
        print(
            "kafka-roundtrip: error: the Python package confluent-kafka is missing "
            "(run scripts/test-deps.sh)",
            file=sys.stderr,
        )
        sys.exit(2)

    start = time.monotonic()
    deadline = start + args.timeout
    logger = logging.getLogger("kafka-roundtrip.librdkafka")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_client_log)
    common = {
        "bootstrap.servers": args.bootstrap,
        "client.id": "novadev-roundtrip",
        "logger": logger,
    }

    # 1. The topic must be there (metadata through the bootstrap address).
    admin = AdminClient(dict(common))
    try:
        metadata = admin.list_topics(timeout=max(1.0, remaining(deadline)))
    except KafkaException as exc:
        fail(f"no metadata from {args.bootstrap} within the timeout: {exc}")
    topic_md = metadata.topics.get(args.topic)
    if topic_md is None or topic_md.error is not None:
        if not args.create:
            fail(f"topic {args.topic!r} does not exist on {args.bootstrap} (use --create)")
        futures = admin.create_topics(
            [NewTopic(args.topic, num_partitions=1, replication_factor=1)],
            operation_timeout=max(1.0, remaining(deadline)),
        )
        try:
            futures[args.topic].result(timeout=max(1.0, remaining(deadline)))
        except KafkaException as exc:
            if "already exists" not in str(exc).lower():
                fail(f"could not create topic {args.topic!r}: {exc}")

    # 2. Produce one unique message and wait for the broker's acknowledgement.
    token = f"novadev-roundtrip-{uuid.uuid4()}"
    delivered = {}

    def on_delivery(err, msg):
        if err is not None:
            delivered["error"] = err
        else:
            delivered["partition"] = msg.partition()
            delivered["offset"] = msg.offset()

    producer = Producer(
        dict(common, **{"acks": "all", "message.timeout.ms": int(max(1.0, remaining(deadline)) * 1000)})
    )
    try:
        producer.produce(args.topic, key=token.encode(), value=token.encode(), on_delivery=on_delivery)
    except (KafkaException, BufferError) as exc:
        fail(f"could not produce to {args.topic!r}: {exc}")
    unflushed = producer.flush(max(0.5, remaining(deadline)))
    if "error" in delivered:
        fail(f"produce to {args.topic!r} failed: {delivered['error']}")
    if unflushed or "offset" not in delivered:
        fail(f"produce to {args.topic!r} was not acknowledged within {args.timeout:g}s")
    produced_at = time.monotonic()

    # 3. Consume it back in a consumer group. The group starts at the produced offset on
    #    the partition the message went to, so a long topic history costs nothing.
    group = args.group or f"novadev-roundtrip-{uuid.uuid4()}"
    consumer = Consumer(
        dict(
            common,
            **{
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": args.session_timeout_ms,
            },
        )
    )

    def on_assign(consumer_, partitions):
        for tp in partitions:
            if tp.partition == delivered["partition"]:
                tp.offset = delivered["offset"]
        consumer_.assign(partitions)

    got = None
    try:
        consumer.subscribe([args.topic], on_assign=on_assign)
        while got is None:
            left = remaining(deadline)
            if left <= 0:
                break
            msg = consumer.poll(min(1.0, left))
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().fatal():
                    fail(f"consumer error: {msg.error()}")
                continue
            if msg.value() == token.encode():
                got = msg
        if got is None:
            fail(
                f"produced {token} to {args.topic!r} [partition {delivered['partition']}, "
                f"offset {delivered['offset']}] but did not consume it back in group "
                f"{group!r} within {args.timeout:g}s"
            )
        try:
            consumer.commit(message=got, asynchronous=False)
        except KafkaException as exc:
            fail(f"consumed the message but the group {group!r} could not commit its offset: {exc}")
        committed = consumer.committed(
            [TopicPartition(args.topic, got.partition())], timeout=max(1.0, remaining(deadline))
        )
        if not committed or committed[0].offset != got.offset() + 1:
            fail(f"group {group!r} committed offset is {committed and committed[0].offset}, "
                 f"expected {got.offset() + 1}")
    finally:
        consumer.close()

    if not args.quiet:
        end = time.monotonic()
        print(
            f"kafka-roundtrip: ok: {args.bootstrap} topic {args.topic} partition "
            f"{got.partition()} offset {got.offset()} group {group}: "
            f"produce {produced_at - start:.2f}s, consume {end - produced_at:.2f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
