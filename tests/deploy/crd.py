"""Validating custom resources (ServiceMonitor, PodMonitor, ScaledObject) offline.

kubernetes-validate knows Kubernetes' own kinds only. A custom resource is
checked against the ``openAPIV3Schema`` of its published CRD (``crds/``, see the
README there), made strict as the API server's strict field validation is: an
object schema that lists its properties and neither allows more nor keeps
unknown fields rejects any other field. Its ``metadata`` is checked as
Kubernetes' ObjectMeta. CEL rules (``x-kubernetes-validations``) are not
evaluated.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

CRDS = Path(__file__).resolve().parent / "crds"


def _strict(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """``(apiVersion, kind)`` -> the strict schema of each served version."""
    found = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version["served"]:
                schema = version["schema"]["openAPIV3Schema"]
                found[(f"{group}/{version['name']}", kind)] = _strict(schema)
    return found


def is_custom(doc: dict[str, Any]) -> bool:
    return (doc["apiVersion"], doc["kind"]) in schemas()


def validate(doc: dict[str, Any], k8s_version: str) -> None:
    """Raises ``jsonschema.ValidationError`` (or kubernetes-validate's) on a problem."""
    schema = schemas()[(doc["apiVersion"], doc["kind"])]
    jsonschema.Draft4Validator(schema).validate(doc)
    meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc["metadata"]}
    kubernetes_validate.validate(meta, k8s_version, strict=True)
