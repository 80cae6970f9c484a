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
from tests.deploy import crd
from tests.deploy.dockerfile import parse_dockerfile
from tests.deploy.helm import (
    CHART,
    ROOT,
    containers,
    is_hook,
    kustomize_objects,
    one,
    pod_spec,
    render,
    render_error,
    run,
    values_file,
    workloads,
)

VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
SETS = {
    "defaults": (),
    "all-on": ("-f", values_file("all-on")),
    "podmonitor": ("-f", values_file("podmonitor")),
    "external-secret": ("-f", values_file("external-secret")),
}
ALL_ON = SETS["all-on"]


def _worker(args: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Any], Any]:
    deployment = one(render(*args), "Deployment")
    (container,) = containers(deployment)
    parsed = build_parser().parse_args(container["args"])
    assert parsed.command == "worker"
    return deployment, container, parsed


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
    return sorted(d["kind"] + (" (hook)" if is_hook(d) else "") for d in docs)


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
    for doc in workloads(render(*ALL_ON)):
        for container in containers(doc):
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
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] > worker.drain_timeout


def test_pdb_selects_the_worker_pods_only() -> None:
    docs = render()
    pdb, deployment = one(docs, "PodDisruptionBudget"), one(docs, "Deployment")
    kustomize = kustomize_objects()["PodDisruptionBudget"]
    assert pdb["spec"]["maxUnavailable"] == kustomize["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for doc in workloads(docs):
        if doc is not deployment:
            other = doc["spec"].get("jobTemplate", doc)["spec"]["template"]["metadata"]["labels"]
            assert not pdb["spec"]["selector"]["matchLabels"].items() <= other.items()


def test_topology_spread_selects_the_worker_pods_of_one_rollout() -> None:
    deployment = one(render(), "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    constraints = pod_spec(deployment)["topologySpreadConstraints"]
    keys = [c["topologyKey"] for c in constraints]
    assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    for c in constraints:
        assert c["labelSelector"]["matchLabels"].items() <= labels.items()
        assert c["matchLabelKeys"] == ["pod-template-hash"]
        assert c["whenUnsatisfiable"] == "ScheduleAnyway"


def test_reconciler_matches_the_kustomize_cronjob() -> None:
    cronjob = one(render(), "CronJob")
    kustomize = kustomize_objects()["CronJob"]
    for key in ("schedule", "concurrencyPolicy", "startingDeadlineSeconds"):
        assert cronjob["spec"][key] == kustomize["spec"][key], key
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    parser = build_parser()
    (container,) = containers(cronjob)
    (theirs,) = containers(kustomize)
    args = parser.parse_args(container["args"])
    assert args.command == "reconcile" and args.once
    assert args.stalled_after == parser.parse_args(theirs["args"]).stalled_after
    _, _, worker = _worker()
    assert args.stalled_after > worker.lease_ttl


def test_worker_matches_the_kustomize_deployment() -> None:
    deployment, container, args = _worker()
    kustomize = kustomize_objects()["Deployment"]
    (theirs,) = containers(kustomize)
    assert vars(args) == vars(build_parser().parse_args(theirs["args"]))
    assert deployment["spec"]["replicas"] == kustomize["spec"]["replicas"]
    assert deployment["spec"]["strategy"] == kustomize["spec"]["strategy"]
    for key in ("resources", "securityContext", "startupProbe", "livenessProbe", "readinessProbe"):
        assert container[key] == theirs[key], key
    ours, kust = pod_spec(deployment), pod_spec(kustomize)
    assert ours["terminationGracePeriodSeconds"] == kust["terminationGracePeriodSeconds"]
    assert ours["securityContext"] == kust["securityContext"]
    spread = [pod["topologySpreadConstraints"] for pod in (ours, kust)]
    unselected = [[{k: v for k, v in c.items() if k != "labelSelector"} for c in s] for s in spread]
    assert unselected[0] == unselected[1]


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
        (container,) = containers(one(render(*args), "CronJob"))
        assert build_parser().parse_args(container["args"]).stalled_after == seconds


def test_pods_run_as_the_images_non_root_user() -> None:
    dockerfile = parse_dockerfile((ROOT / "Dockerfile").read_text())
    uid, gid = dockerfile[-1].all("USER")[-1].split(":")
    for doc in workloads(render(*ALL_ON)):
        pod = pod_spec(doc)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
            int(uid), int(gid),
        )  # fmt: skip
        for container in containers(doc):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert "memory" in container["resources"]["limits"]


def test_chart_version_follows_the_package() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    pyproject = (ROOT / "pyproject.toml").read_text()
    (version,) = re.findall(r'^version = "([^"]+)"', pyproject, re.M)
    assert chart["appVersion"] == version
    assert Path(CHART / "values.yaml").exists()
