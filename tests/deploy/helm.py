"""Running helm (built by .ci/helm.sh) on deploy/helm/legato from the tests."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "legato"
VALUES = Path(__file__).resolve().parent / "helm-values"
K8S = ROOT / "deploy" / "k8s"
RELEASE = "legato"


def find_helm() -> str | None:
    """$LEGATO_HELM, the binary .ci/helm.sh caches, or helm on the PATH."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for candidate in (os.environ.get("LEGATO_HELM"), str(cache / "legato" / "bin" / "helm")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("helm")


def require_helm() -> str:
    """The helm binary; skips the test without one, fails it under CI."""
    helm = find_helm()
    if helm is None:
        message = "helm not found (build it with `bash .ci/helm.sh`, or set LEGATO_HELM)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return helm


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_helm(), *args], capture_output=True, text=True, timeout=120, check=False
    )


def values_file(name: str) -> str:
    return str(VALUES / f"{name}.yaml")


@functools.cache
def render(*args: str) -> tuple[dict[str, Any], ...]:
    """The objects ``helm template`` renders (hooks included) with these arguments."""
    done = run("template", RELEASE, str(CHART), "--namespace", "legato", *args)
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def render_error(*args: str) -> str:
    """The error of a ``helm template`` that must fail."""
    done = run("template", RELEASE, str(CHART), *args)
    assert done.returncode != 0, f"rendered although it should not have:\n{done.stdout}"
    return done.stderr


def of(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: tuple[dict[str, Any], ...], kind: str, hook: bool = False) -> dict[str, Any]:
    (doc,) = [d for d in of(docs, kind) if is_hook(d) == hook]
    return doc


def is_hook(doc: dict[str, Any]) -> bool:
    return "helm.sh/hook" in (doc["metadata"].get("annotations") or {})


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = pod_spec(doc)
    return [*pod.get("initContainers", []), *pod["containers"]]


def workloads(docs: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in ("Deployment", "Job", "CronJob")]


def kustomize_objects() -> dict[str, dict[str, Any]]:
    """deploy/k8s's objects by kind."""
    docs = [yaml.safe_load(p.read_text()) for p in sorted(K8S.glob("*.yaml"))]
    return {d["kind"]: d for d in docs if d["kind"] != "Kustomization"}
