"""deploy/k8s: every manifest is valid against the Kubernetes schemas (offline, bundled
with kubernetes-validate), and the files agree with each other and with `legato`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from legato.cli import build_parser
from legato.config import Settings
from tests.deploy import crd
from tests.deploy.dockerfile import parse_dockerfile

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
# The oldest Kubernetes the manifests are meant for, and the newest schemas bundled.
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]


def _load() -> dict[str, dict[str, Any]]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        (doc,) = yaml.safe_load_all(path.read_text())
        docs[path.name] = doc
    return docs


DOCS = _load()
MANIFESTS = {name: doc for name, doc in DOCS.items() if name != "kustomization.yaml"}


def _one(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in MANIFESTS.values() if d["kind"] == kind]
    return doc


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = _pod(doc)
    return [*pod.get("initContainers", []), *pod["containers"]]


WORKLOADS = [d for d in MANIFESTS.values() if d["kind"] in ("Deployment", "Job", "CronJob")]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_manifest_is_valid(name: str, version: str) -> None:
    kubernetes_validate.validate(MANIFESTS[name], version, strict=True)


def test_every_kind_is_delivered() -> None:
    kinds = sorted(d["kind"] for d in MANIFESTS.values())
    assert kinds == [
        "ConfigMap", "CronJob", "Deployment", "Job", "PodDisruptionBudget", "Secret", "Service",
    ]  # fmt: skip


def test_kustomization_lists_every_manifest_and_the_image() -> None:
    kustomization = DOCS["kustomization.yaml"]
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(MANIFESTS)
    (image,) = kustomization["images"]
    for doc in WORKLOADS:
        for container in _containers(doc):
            assert container["image"].split(":")[0] == image["name"]


def _worker() -> tuple[dict[str, Any], Any]:
    deployment = _one("Deployment")
    (container,) = _containers(deployment)
    args = build_parser().parse_args(container["args"])
    assert args.command == "worker"
    return deployment, args


def test_every_container_runs_a_real_legato_command() -> None:
    parser = build_parser()
    commands = []
    for doc in WORKLOADS:
        for container in _containers(doc):
            assert "command" not in container, "the image's ENTRYPOINT is legato"
            args = parser.parse_args(container["args"])  # exits on an unknown flag
            commands.append(" ".join([args.command, getattr(args, "action", "") or ""]).strip())
    assert sorted(commands) == ["reconcile", "schema apply", "topics apply", "worker"]


def test_probes_use_the_workers_health_port() -> None:
    deployment, args = _worker()
    given = _containers(deployment)[0]["args"]
    assert any(a.startswith("--health-port") for a in given), "passed explicitly"
    (container,) = _containers(deployment)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert list(ports.values()) == [args.health_port]
    paths = {}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        port = ports.get(get["port"], get["port"])
        assert port == args.health_port, probe
        paths[probe] = get["path"]
    assert paths == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }


def test_grace_period_outlasts_the_drain() -> None:
    deployment, args = _worker()
    given = _containers(deployment)[0]["args"]
    assert any(a.startswith("--drain-timeout") for a in given), "passed explicitly"
    assert _pod(deployment)["terminationGracePeriodSeconds"] > args.drain_timeout


def test_worker_has_resource_requests_and_limits() -> None:
    for doc in WORKLOADS:
        for container in _containers(doc):
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert "memory" in container["resources"]["limits"]


def test_pdb_selects_the_worker_pods() -> None:
    pdb, deployment = _one("PodDisruptionBudget"), _one("Deployment")
    # An unready worker takes no jobs: evicting it never waits for the budget.
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_reconciler_runs_once_and_never_overlaps() -> None:
    cronjob = _one("CronJob")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = _containers(cronjob)
    args = build_parser().parse_args(container["args"])
    assert args.command == "reconcile" and args.once
    _, worker = _worker()
    assert args.stalled_after > worker.lease_ttl


def test_envfrom_names_exist_and_settings_are_complete() -> None:
    config, secret = _one("ConfigMap"), _one("Secret")
    sources = {
        ("configMapRef", config["metadata"]["name"]): config["data"],
        ("secretRef", secret["metadata"]["name"]): secret["stringData"],
    }
    for doc in WORKLOADS:
        for container in _containers(doc):
            refs = [next(iter(ref.items())) for ref in container["envFrom"]]
            assert sorted((kind, ref["name"]) for kind, ref in refs) == sorted(sources)
    env = {k: v for values in sources.values() for k, v in values.items()}
    assert not set(config["data"]) & set(secret["stringData"]), "each variable once"
    settings = Settings.from_urls(env["LEGATO_KAFKA"], env["LEGATO_CASSANDRA"], env["LEGATO_REDIS"])
    assert settings.distributed


def test_no_password_in_the_configmap() -> None:
    for key, value in _one("ConfigMap")["data"].items():
        assert "@" not in value and "password" not in value.lower(), key


def test_pods_run_as_the_images_non_root_user() -> None:
    dockerfile = parse_dockerfile((K8S.parents[1] / "Dockerfile").read_text())
    uid, gid = dockerfile[-1].all("USER")[-1].split(":")
    for doc in WORKLOADS:
        pod = _pod(doc)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(uid)
        assert pod["securityContext"]["runAsGroup"] == int(gid)
        for container in _containers(doc):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_metrics_service_selects_the_workers_health_port() -> None:
    service, deployment = _one("Service"), _one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = _containers(deployment)
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    assert port["name"] == "metrics"


def test_topology_spread_selects_the_worker_pods_of_one_rollout() -> None:
    deployment = _one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    constraints = _pod(deployment)["topologySpreadConstraints"]
    keys = [c["topologyKey"] for c in constraints]
    assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    for c in constraints:
        assert c["labelSelector"]["matchLabels"].items() <= labels.items()
        assert c["matchLabelKeys"] == ["pod-template-hash"]
        assert c["whenUnsatisfiable"] == "ScheduleAnyway", "never leaves a worker pending"


PROMETHEUS = K8S / "prometheus"


@pytest.mark.parametrize("version", VERSIONS)
def test_prometheus_component_monitors_the_metrics_service(version: str) -> None:
    component = yaml.safe_load((PROMETHEUS / "kustomization.yaml").read_text())
    assert component["kind"] == "Component"
    listed = sorted(component["resources"])
    files = [p.name for p in PROMETHEUS.glob("*.yaml") if p.name != "kustomization.yaml"]
    assert listed == sorted(files)
    (monitor,) = [yaml.safe_load((PROMETHEUS / name).read_text()) for name in listed]
    crd.validate(monitor, version)
    service = _one("Service")
    service_labels = service["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"] and "metrics" in ports
    kustomization = (K8S / "kustomization.yaml").read_text()
    assert "# components: [prometheus]" in kustomization, "how to turn it on"


def test_setup_job_can_be_applied_again_with_a_new_image() -> None:
    job = _one("Job")
    # A later apply re-creates a Job the TTL removed; before that, the README's
    # upgrade command deletes it by its name.
    assert 0 < job["spec"]["ttlSecondsAfterFinished"] <= 600
    readme = (K8S.parents[1] / "README.md").read_text()
    assert f"kubectl delete job {job['metadata']['name']} --ignore-not-found" in readme
