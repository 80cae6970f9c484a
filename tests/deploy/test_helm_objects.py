"""deploy/helm/legato: the settings, the setup hook, the Prometheus objects and
the KEDA ScaledObject agree with `legato`, with deploy/k8s and with each other.
(test_helm.py validates what the chart renders.)"""

from __future__ import annotations

import json
import re

import yaml

from legato.config import KafkaSettings, Settings
from tests.deploy.helm import (
    CHART,
    ROOT,
    containers,
    is_hook,
    kustomize_objects,
    of,
    one,
    render,
    values_file,
    workloads,
)

ALL_ON = ("-f", values_file("all-on"))


def _documented_variables() -> set[str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    found = set(re.findall(r"^\| `(LEGATO_[A-Z_]+)` \|", text, re.M))
    found |= set(re.findall(r"`(LEGATO_LOG_[A-Z]+)`", text))
    return found - {"LEGATO_DEV_DIR"}  # the dev servers' folder, not a deployment's


def test_settings_match_the_kustomize_ones_and_the_docs() -> None:
    docs = render()
    config, secret = one(docs, "ConfigMap"), one(docs, "Secret")
    kustomize = kustomize_objects()
    assert config["data"] == kustomize["ConfigMap"]["data"]
    assert secret["stringData"] == kustomize["Secret"]["stringData"]
    assert not set(config["data"]) & set(secret["stringData"]), "each variable once"
    assert set(config["data"]) | set(secret["stringData"]) <= _documented_variables()
    env = config["data"] | secret["stringData"]
    settings = Settings.from_urls(env["LEGATO_KAFKA"], env["LEGATO_CASSANDRA"], env["LEGATO_REDIS"])
    assert settings.distributed
    for key, value in config["data"].items():
        assert "@" not in value and "password" not in value.lower(), key
    sources = {
        ("configMapRef", config["metadata"]["name"]),
        ("secretRef", secret["metadata"]["name"]),
    }
    for doc in workloads(docs):
        if not is_hook(doc):
            for container in containers(doc):
                refs = [next(iter(ref.items())) for ref in container["envFrom"]]
                assert {(kind, ref["name"]) for kind, ref in refs} == sources


def test_values_schema_names_exactly_the_documented_variables() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    for section in ("config", "secrets"):
        names = schema["properties"][section]["propertyNames"]["enum"]
        assert set(names) == _documented_variables(), section


def test_setup_job_is_a_hook_that_reruns_on_every_upgrade() -> None:
    docs = render("--set", "image.tag=0.2.0")
    job, env = one(docs, "Job", hook=True), one(docs, "Secret", hook=True)
    for doc in (job, env):
        annotations = doc["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"].split(",")
    # Hooks run before the release's ConfigMap and Secret exist: the Job's own
    # settings are made first, and hold every variable the workers get.
    weight = lambda d: int(d["metadata"]["annotations"]["helm.sh/hook-weight"])  # noqa: E731
    assert weight(env) < weight(job)
    config, secret = one(docs, "ConfigMap"), one(docs, "Secret")
    assert env["stringData"] == config["data"] | secret["stringData"]
    for container in containers(job):
        assert container["image"] == "legato:0.2.0"
        assert container["envFrom"] == [{"secretRef": {"name": env["metadata"]["name"]}}]
    assert [c["args"] for c in containers(job)] == [["schema", "apply"], ["topics", "apply"]]


def test_existing_secret_is_used_everywhere_and_nothing_is_copied() -> None:
    docs = render("-f", values_file("external-secret"))
    assert not [d for d in of(docs, "Secret") if not is_hook(d)]
    env = one(docs, "Secret", hook=True)
    assert set(env["stringData"]) == {"LEGATO_LOG_FORMAT"}
    for doc in workloads(docs):
        for container in containers(doc):
            assert {"secretRef": {"name": "legato-credentials"}} in container["envFrom"]


def test_monitors_find_the_worker_metrics() -> None:
    docs = render(*ALL_ON)
    deployment, service = one(docs, "Deployment"), one(docs, "Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    (container,) = containers(deployment)
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    monitor, service_labels = one(docs, "ServiceMonitor"), service["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [port["name"]]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])
    podmonitor = one(render("-f", values_file("podmonitor")), "PodMonitor")
    assert podmonitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert [e["port"] for e in podmonitor["spec"]["podMetricsEndpoints"]] == ["health"]


def test_keda_scales_the_workers_on_their_groups_lag() -> None:
    docs = render(*ALL_ON)
    deployment, scaled = one(docs, "Deployment"), one(docs, "ScaledObject")
    assert "replicas" not in deployment["spec"], "KEDA owns the count"
    target = scaled["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    (trigger,) = scaled["spec"]["triggers"]
    kafka = KafkaSettings.from_url(one(docs, "ConfigMap")["data"]["LEGATO_KAFKA"])
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["bootstrapServers"] == kafka.bootstrap
    assert trigger["metadata"]["consumerGroup"] == kafka.group
    assert trigger["metadata"]["topic"] == kafka.jobs_topic
    assert trigger["authenticationRef"] == {"name": "kafka-auth"}
    assert scaled["spec"]["maxReplicaCount"] <= kafka.partitions, "a worker per partition at most"


def test_keda_reads_group_and_topic_from_the_kafka_url() -> None:
    url = "kafka+ssl://svc:pw@b1:9093,b2:9093?group=flows&jobs_topic=flows.jobs&partitions=48"
    docs = render(*ALL_ON, "--set-literal", f"config.LEGATO_KAFKA={url}")
    (trigger,) = one(docs, "ScaledObject")["spec"]["triggers"]
    kafka = KafkaSettings.from_url(url)
    got = trigger["metadata"]
    assert (got["bootstrapServers"], got["consumerGroup"], got["topic"]) == (
        kafka.bootstrap, kafka.group, kafka.jobs_topic,
    )  # fmt: skip
    assert "pw" not in yaml.safe_dump(got)
