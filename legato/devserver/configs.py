"""Configuration files and command lines of the three local servers."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from legato.devserver.options import DevOptions, DevServerError

# Cassandra 5.0's conf/jvm17-server.options: without them it dies with
# InaccessibleObjectException or hangs in CommitLog setup on JDK 17.
_JDK17_OPENS = [
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports", "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports", "java.sql/java.sql=ALL-UNNAMED",
    "--add-exports", "java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports", "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports", "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports", "jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-exports", "java.management/com.sun.jmx.remote.security=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens", "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/java.util=ALL-UNNAMED",
    "--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
]  # fmt: skip

_LOG4J2 = """status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = warn
logger.kserver.name = kafka.server.KafkaRaftServer
logger.kserver.level = info
logger.ak.name = org.apache.kafka
logger.ak.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
"""

_LOGBACK = """<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d %-5level [%thread] %logger{20} - %msg%n</pattern></encoder>
  </appender>
  <!-- flushes, compactions and sstable notices: thousands of lines per test run -->
  <logger name="org.apache.cassandra.db" level="WARN"/>
  <logger name="org.apache.cassandra.io" level="WARN"/>
  <root level="INFO"><appender-ref ref="OUT"/></root>
</configuration>
"""


def kafka(opts: DevOptions, lib: Path, java: str) -> tuple[list[str], list[str] | None]:
    """(start command, format command or None when already formatted)."""
    home = opts.server_dir("kafka")
    logs = home / "data"
    logs.mkdir(parents=True, exist_ok=True)
    props = home / "server.properties"
    props.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{opts.kafka_controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{opts.kafka_port},"
                f"CONTROLLER://127.0.0.1:{opts.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{opts.kafka_port}",
                "inter.broker.listener.name=PLAINTEXT",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={logs}",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=5",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "log.cleaner.dedupe.buffer.size=2097152",
                "auto.create.topics.enable=true",
            ]
        )
        + "\n"
    )
    log4j = home / "log4j2.properties"
    log4j.write_text(_LOG4J2)
    base = [java, f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{lib}/*"]
    start = [
        java,
        f"-Xms{opts.kafka_heap}",
        f"-Xmx{opts.kafka_heap}",
        "-XX:+UseG1GC",
        *base[1:],
        "kafka.Kafka",
        str(props),
    ]
    fmt = None
    if not (logs / "meta.properties").exists():
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        fmt = [
            *base,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster,
            "-c",
            str(props),
            "--ignore-formatted",
        ]
    return start, fmt


def cassandra(opts: DevOptions, lib: Path, java: str) -> list[str]:
    home = opts.server_dir("cassandra")
    dirs = {n: home / n for n in ("data", "commitlog", "saved_caches", "hints", "cdc_raw", "logs")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    yaml = home / "cassandra.yaml"
    yaml.write_text(
        "\n".join(
            [
                "cluster_name: legato-dev",
                "num_tokens: 1",
                "partitioner: org.apache.cassandra.dht.Murmur3Partitioner",
                "endpoint_snitch: SimpleSnitch",
                "commitlog_sync: periodic",
                "commitlog_sync_period: 10000ms",
                "seed_provider:",
                "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider",
                "    parameters:",
                f'      - seeds: "127.0.0.1:{opts.cassandra_storage_port}"',
                "listen_address: 127.0.0.1",
                "rpc_address: 127.0.0.1",
                f"storage_port: {opts.cassandra_storage_port}",
                f"native_transport_port: {opts.cassandra_port}",
                "start_native_transport: true",
                f'data_file_directories: ["{dirs["data"]}"]',
                f"commitlog_directory: {dirs['commitlog']}",
                f"saved_caches_directory: {dirs['saved_caches']}",
                f"hints_directory: {dirs['hints']}",
                f"cdc_raw_directory: {dirs['cdc_raw']}",
                "auto_snapshot: false",
                "snapshot_on_duplicate_row_detection: false",
            ]
        )
        + "\n"
    )
    logback = home / "logback.xml"
    logback.write_text(_LOGBACK)
    jamm = sorted(lib.glob("jamm-*.jar"))
    if not jamm:
        raise DevServerError(f"no jamm jar in {lib}: the Cassandra closure is incomplete")
    return [
        java,
        f"-Xms{opts.cassandra_heap}",
        f"-Xmx{opts.cassandra_heap}",
        "-Xss256k",
        "-XX:+UseG1GC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.net.preferIPv4Stack=true",
        "-Djdk.attach.allowAttachSelf=true",
        *_JDK17_OPENS,
        f"-javaagent:{jamm[-1]}",
        f"-Dcassandra.config=file://{yaml}",
        f"-Dcassandra.storagedir={home}",
        f"-Dcassandra.logdir={dirs['logs']}",
        "-Dcassandra-foreground=yes",
        f"-Dlogback.configurationFile={logback}",
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.unsafesystem=true",
        "-cp",
        f"{lib}/*",
        "org.apache.cassandra.service.CassandraDaemon",
    ]


def redis(opts: DevOptions, binary: str) -> list[str]:
    home = opts.server_dir("redis")
    home.mkdir(parents=True, exist_ok=True)
    return [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(opts.redis_port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        str(home),
    ]
