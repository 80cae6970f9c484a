"""Fetching what the servers need from package registries: jars from Maven
Central (through ``mvn``, reusing ``~/.m2``) and ``redis-server`` from apt."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from legato.devserver.options import (
    CASSANDRA_VERSION,
    KAFKA_VERSION,
    LOG4J_VERSION,
    DevServerError,
)

_ARTIFACTS = {
    "kafka": [
        ("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
        ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-api", LOG4J_VERSION),
    ],
    "cassandra": [("org.apache.cassandra", "cassandra-all", CASSANDRA_VERSION)],
}
_MARKER = ".complete"


def require(tool: str, why: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise DevServerError(f"`{tool}` is not installed; it is needed to {why}")
    return path


def _pom(name: str) -> str:
    deps = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in _ARTIFACTS[name]
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>dev.legato</groupId><artifactId>{name}-closure</artifactId>"
        f"<version>1</version><packaging>pom</packaging><dependencies>{deps}</dependencies>"
        "</project>"
    )


def jars(name: str, jar_dir: Path) -> Path:
    """The folder holding ``name``'s runtime closure, fetched on first use."""
    target = jar_dir / name
    stamp = "\n".join(":".join(a) for a in _ARTIFACTS[name])
    marker = target / _MARKER
    if marker.exists() and marker.read_text() == stamp:
        return target
    mvn = require("mvn", f"fetch the {name} jars from Maven Central")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    pom = target.parent / f"{name}-pom.xml"
    pom.write_text(_pom(name))
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={target}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not any(target.glob("*.jar")):
        out = (proc.stdout + proc.stderr)[-3000:]
        raise DevServerError(
            f"fetching the {name} jars failed (mvn exit {proc.returncode}):\n{out}"
        )
    marker.write_text(stamp)
    return target


def redis_server() -> str:
    """The ``redis-server`` binary, installed with apt-get when missing."""
    found = shutil.which("redis-server")
    if found:
        return found
    apt = require("apt-get", "install redis-server")
    for args in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "redis-server"]):
        proc = subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=False,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        if proc.returncode != 0:
            raise DevServerError(
                f"`{' '.join(args)}` failed:\n{(proc.stdout + proc.stderr)[-2000:]}"
            )
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(found).exists():
        raise DevServerError("apt-get installed redis-server but it is not on PATH")
    return found
