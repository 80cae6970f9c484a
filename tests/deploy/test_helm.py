"""deploy/helm/legato: what the chart renders is valid (Kubernetes' kinds with
kubernetes-validate --strict, the Prometheus Operator's and KEDA's kinds against
their published CRDs), agrees with `legato` and with deploy/k8s, and bad values
are clear errors. Skipped without helm on a laptop; fails under CI."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from legato.cli import build_parser
from legato.cli.reconcile import duration
from legato.config import KafkaSettings, Settings
from tests.deploy import crd
from tests.deploy.dockerfile import parse_dockerfile
from tests.deploy.helm import CHART, ROOT, render, render_error, run, values_file

K8S = ROOT / "deploy" / "k8s"
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
SETS = {
    "defaults": (),
    "all-on": ("-f", values_file("all-on")),
    "podmonitor": ("-f", values_file("podmonitor")),
    "external-secret": ("-f", values_file("external-secret")),
}
ALL_ON = SETS["all-on"]


def _of(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _one(docs: tuple[dict[str, Any], ...], kind: str, hook: bool = False) -> dict[str, Any]:
    (doc,) = [d for d in _of(docs, kind) if _is_hook(d) == hook]
    return doc


def _is_hook(doc: dict[str, Any]) -> bool:
    return "helm.sh/hook" in (doc["metadata"].get("annotations") or {})


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = _pod(doc)
    return [*pod.get("initContainers", []), *pod["containers"]]


def _workloads(docs: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in ("Deployment", "Job", "CronJob")]


def _worker(args: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Any], Any]:
    deployment = _one(render(*args), "Deployment")
    (container,) = _containers(deployment)
    parsed = build_parser().parse_args(container["args"])
    assert parsed.command == "worker"
    return deployment, container, parsed


def _kustomize() -> dict[str, dict[str, Any]]:
    docs = [yaml.safe_load(p.read_text()) for p in sorted(K8S.glob("*.yaml"))]
    return {d["kind"]: d for d in docs if d["kind"] != "Kustomization"}


def _documented_variables() -> set[str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    found = set(re.findall(r"^\| `(LEGATO_[A-Z_]+)` \|", text, re.M))
    found |= set(re.findall(r"`(LEGATO_LOG_[A-Z]+)`", text))
    return found - {"LEGATO_DEV_DIR"}  # the dev servers' folder, not a deployment's


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(SETS))
def test_rendered_objects_are_valid(name: str, version: str) -> None:
    docs = render(*SETS[name])
    for doc in docs:
        if crd.is_custom(doc):
            crd.validate(doc, version)
        else:
            kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("name", sorted(SETS))
def test_helm_lint_strict(name: str) -> None:
    done = run("lint", "--strict", str(CHART), *SETS[name])
    assert done.returncode == 0, done.stdout + done.stderr


def _kinds(docs: tuple[dict[str, Any], ...]) -> list[str]:
    return sorted(d["kind"] + (" (hook)" if _is_hook(d) else "") for d in docs)


def test_every_kind_is_delivered() -> None:
    core = [
        "ConfigMap", "CronJob", "Deployment", "Job (hook)", "PodDisruptionBudget",
        "Secret", "Secret (hook)", "Service",
    ]  # fmt: skip
    assert _kinds(render()) == core
    assert _kinds(render(*ALL_ON)) == sorted([*core, "ScaledObject", "ServiceMonitor"])
    podmonitor = [k for k in core if k != "Service"] + ["PodMonitor"]
    assert _kinds(render(*SETS["podmonitor"])) == sorted(podmonitor)
    external = [k for k in core if k != "Secret"] + ["ScaledObject"]
    assert _kinds(render(*SETS["external-secret"])) == sorted(external)


def test_every_container_runs_a_real_legato_command() -> None:
    parser = build_parser()
    commands = []
    for doc in _workloads(render(*ALL_ON)):
        for container in _containers(doc):
            assert "command" not in container, "the image's ENTRYPOINT is legato"
            args = parser.parse_args(container["args"])  # exits on an unknown flag
            commands.append(" ".join([args.command, getattr(args, "action", "") or ""]).strip())
    assert sorted(commands) == ["reconcile", "schema apply", "topics apply", "worker"]
    _, _, worker = _worker(ALL_ON)
    assert worker.imports == ["mynodes"]


def test_probes_liveness_on_healthz_readiness_on_readyz() -> None:
    _, container, args = _worker(("--set", "worker.healthPort=9123"))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 9123} and args.health_port == 9123
    paths = {}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert ports[get["port"]] == args.health_port, probe
        paths[probe] = get["path"]
    assert paths == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }


def test_grace_period_outlasts_the_drain() -> None:
    for args in [(), ("--set", "worker.drainTimeout=100")]:
        deployment, _, worker = _worker(args)
        assert _pod(deployment)["terminationGracePeriodSeconds"] > worker.drain_timeout


def test_pdb_selects_the_worker_pods_only() -> None:
    docs = render()
    pdb, deployment = _one(docs, "PodDisruptionBudget"), _one(docs, "Deployment")
    kustomize = _kustomize()["PodDisruptionBudget"]
    assert pdb["spec"]["maxUnavailable"] == kustomize["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for doc in _workloads(docs):
        if doc is not deployment:
            other = doc["spec"].get("jobTemplate", doc)["spec"]["template"]["metadata"]["labels"]
            assert not pdb["spec"]["selector"]["matchLabels"].items() <= other.items()


def test_topology_spread_selects_the_worker_pods_of_one_rollout() -> None:
    deployment = _one(render(), "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    constraints = _pod(deployment)["topologySpreadConstraints"]
    keys = [c["topologyKey"] for c in constraints]
    assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    for c in constraints:
        assert c["labelSelector"]["matchLabels"].items() <= labels.items()
        assert c["matchLabelKeys"] == ["pod-template-hash"]
        assert c["whenUnsatisfiable"] == "ScheduleAnyway"


def test_reconciler_matches_the_kustomize_cronjob() -> None:
    cronjob = _one(render(), "CronJob")
    kustomize = _kustomize()["CronJob"]
    for key in ("schedule", "concurrencyPolicy", "startingDeadlineSeconds"):
        assert cronjob["spec"][key] == kustomize["spec"][key], key
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    parser = build_parser()
    (container,) = _containers(cronjob)
    (theirs,) = _containers(kustomize)
    args = parser.parse_args(container["args"])
    assert args.command == "reconcile" and args.once
    assert args.stalled_after == parser.parse_args(theirs["args"]).stalled_after
    _, _, worker = _worker()
    assert args.stalled_after > worker.lease_ttl


def test_worker_matches_the_kustomize_deployment() -> None:
    deployment, container, args = _worker()
    kustomize = _kustomize()["Deployment"]
    (theirs,) = _containers(kustomize)
    assert vars(args) == vars(build_parser().parse_args(theirs["args"]))
    assert deployment["spec"]["replicas"] == kustomize["spec"]["replicas"]
    assert deployment["spec"]["strategy"] == kustomize["spec"]["strategy"]
    for key in ("resources", "securityContext", "startupProbe", "livenessProbe", "readinessProbe"):
        assert container[key] == theirs[key], key
    ours, kust = _pod(deployment), _pod(kustomize)
    assert ours["terminationGracePeriodSeconds"] == kust["terminationGracePeriodSeconds"]
    assert ours["securityContext"] == kust["securityContext"]
    spread = [pod["topologySpreadConstraints"] for pod in (ours, kust)]
    unselected = [[{k: v for k, v in c.items() if k != "labelSelector"} for c in s] for s in spread]
    assert unselected[0] == unselected[1]


def test_settings_match_the_kustomize_ones_and_the_docs() -> None:
    docs = render()
    config, secret = _one(docs, "ConfigMap"), _one(docs, "Secret")
    kustomize = _kustomize()
    assert config["data"]["LEGATO_KAFKA"] == kustomize["ConfigMap"]["data"]["LEGATO_KAFKA"]
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
    for doc in _workloads(docs):
        if not _is_hook(doc):
            for container in _containers(doc):
                refs = [next(iter(ref.items())) for ref in container["envFrom"]]
                assert {(kind, ref["name"]) for kind, ref in refs} == sources


def test_values_schema_names_exactly_the_documented_variables() -> None:
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())
    for section in ("config", "secrets"):
        names = schema["properties"][section]["propertyNames"]["enum"]
        assert set(names) == _documented_variables(), section


def test_setup_job_is_a_hook_that_reruns_on_every_upgrade() -> None:
    docs = render("--set", "image.tag=0.2.0")
    job, env = _one(docs, "Job", hook=True), _one(docs, "Secret", hook=True)
    for doc in (job, env):
        annotations = doc["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"].split(",")
    # Hooks run before the release's ConfigMap and Secret exist: the Job's own
    # settings are made first, and hold every variable the workers get.
    weight = lambda d: int(d["metadata"]["annotations"]["helm.sh/hook-weight"])  # noqa: E731
    assert weight(env) < weight(job)
    config, secret = _one(docs, "ConfigMap"), _one(docs, "Secret")
    assert env["stringData"] == config["data"] | secret["stringData"]
    for container in _containers(job):
        assert container["image"] == "legato:0.2.0"
        assert container["envFrom"] == [{"secretRef": {"name": env["metadata"]["name"]}}]
    assert [c["args"] for c in _containers(job)] == [["schema", "apply"], ["topics", "apply"]]


def test_existing_secret_is_used_everywhere_and_nothing_is_copied() -> None:
    docs = render(*SETS["external-secret"])
    assert not [d for d in _of(docs, "Secret") if not _is_hook(d)]
    env = _one(docs, "Secret", hook=True)
    assert set(env["stringData"]) == {"LEGATO_LOG_FORMAT"}
    for doc in _workloads(docs):
        for container in _containers(doc):
            assert {"secretRef": {"name": "legato-credentials"}} in container["envFrom"]


def test_monitors_find_the_worker_metrics() -> None:
    docs = render(*ALL_ON)
    deployment, service = _one(docs, "Deployment"), _one(docs, "Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    (container,) = _containers(deployment)
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    monitor, service_labels = _one(docs, "ServiceMonitor"), service["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [port["name"]]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])
    podmonitor = _one(render(*SETS["podmonitor"]), "PodMonitor")
    assert podmonitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert [e["port"] for e in podmonitor["spec"]["podMetricsEndpoints"]] == ["health"]


def test_keda_scales_the_workers_on_their_groups_lag() -> None:
    docs = render(*ALL_ON)
    deployment, scaled = _one(docs, "Deployment"), _one(docs, "ScaledObject")
    assert "replicas" not in deployment["spec"], "KEDA owns the count"
    target = scaled["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    (trigger,) = scaled["spec"]["triggers"]
    kafka = KafkaSettings.from_url(_one(docs, "ConfigMap")["data"]["LEGATO_KAFKA"])
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["bootstrapServers"] == kafka.bootstrap
    assert trigger["metadata"]["consumerGroup"] == kafka.group
    assert trigger["metadata"]["topic"] == kafka.jobs_topic
    assert trigger["authenticationRef"] == {"name": "kafka-auth"}
    assert scaled["spec"]["maxReplicaCount"] <= kafka.partitions, "a worker per partition at most"


def test_keda_reads_group_and_topic_from_the_kafka_url() -> None:
    url = "kafka+ssl://svc:pw@b1:9093,b2:9093?group=flows&jobs_topic=flows.jobs&partitions=48"
    docs = render(*ALL_ON, "--set-literal", f"config.LEGATO_KAFKA={url}")
    (trigger,) = _one(docs, "ScaledObject")["spec"]["triggers"]
    kafka = KafkaSettings.from_url(url)
    got = trigger["metadata"]
    assert (got["bootstrapServers"], got["consumerGroup"], got["topic"]) == (
        kafka.bootstrap, kafka.group, kafka.jobs_topic,
    )  # fmt: skip
    assert "pw" not in yaml.safe_dump(got)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set-string", "secrets.LEGATO_KAFKA=kafka://x:9092"), "LEGATO_KAFKA is in both"),
        (("--set", "worker.terminationGracePeriodSeconds=30"), "must be above worker.drainTimeout"),
        (("--set", "worker.replica=3"), "replica"),
        (("--set-string", "config.LEGATO_KAKFA=kafka://x"), "LEGATO_KAKFA"),
        (("--set", "metrics.monitor.enabled=true", "--set", "metrics.service.enabled=false"),
         "needs metrics.service.enabled"),
        (("--set", "metrics.monitor.kind=Probe"), "kind"),
        (("--set", "autoscaling.keda.enabled=true", "--set", "config.LEGATO_KAFKA=null",
          "--set-string", "secrets.LEGATO_KAFKA=kafka://u:p@b:9092"), "needs bootstrapServers"),
        (("--set", "autoscaling.keda.enabled=true", "--set", "autoscaling.keda.minReplicas=30"),
         "is above maxReplicas"),
        (("--set", "reconciler.stalledAfter=soon"), "stalledAfter"),
    ],
)  # fmt: skip
def test_bad_values_are_clear_errors(args: tuple[str, ...], message: str) -> None:
    assert message in render_error(*args)


@pytest.mark.parametrize("text", ["90", "2m", "1.5h", "500ms", "1h30m", "soon", "2 m", "-5s"])
def test_stalled_after_is_accepted_exactly_when_legato_accepts_it(text: str) -> None:
    try:
        seconds: float | None = duration(text)
    except argparse.ArgumentTypeError:
        seconds = None
    args = ("--set-string", f"reconciler.stalledAfter={text}")
    if seconds is None:
        assert "stalledAfter" in render_error(*args)
    else:
        (container,) = _containers(_one(render(*args), "CronJob"))
        assert build_parser().parse_args(container["args"]).stalled_after == seconds


def test_pods_run_as_the_images_non_root_user() -> None:
    dockerfile = parse_dockerfile((ROOT / "Dockerfile").read_text())
    uid, gid = dockerfile[-1].all("USER")[-1].split(":")
    for doc in _workloads(render(*ALL_ON)):
        pod = _pod(doc)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
            int(uid), int(gid),
        )  # fmt: skip
        for container in _containers(doc):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert "memory" in container["resources"]["limits"]


def test_chart_version_follows_the_package() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    pyproject = (ROOT / "pyproject.toml").read_text()
    (version,) = re.findall(r'^version = "([^"]+)"', pyproject, re.M)
    assert chart["appVersion"] == version
    assert Path(CHART / "values.yaml").exists()
