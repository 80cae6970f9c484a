"""The Dockerfile, read without a Docker daemon: two stages, the project's own wheel
built from exactly the context .dockerignore lets in, a non-root user, `legato`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from legato.cli import build_parser
from tests.deploy.dockerfile import Stage, context_files, exec_form, parse_dockerfile

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


def test_builder_and_slim_runtime_stages(stages: list[Stage]) -> None:
    assert len(stages) == 2
    builder, runtime = stages
    assert builder.name == "builder" and builder.image.startswith("python:3.11")
    assert runtime.image == "python:3.11-slim"
    assert any(" wheel " in f" {run} " for run in builder.all("RUN"))
    (copied,) = [c for c in runtime.all("COPY") if c.startswith("--from=")]
    assert copied.split()[0] == "--from=builder"
    wheels = copied.split()[-1]
    assert any(
        "pip install" in run
        and f"--find-links {wheels}" in run
        and run.split("&&")[0].split()[-1] == "legato"
        for run in runtime.all("RUN")
    ), "the runtime stage installs the legato wheel from the builder"


def test_runs_as_a_non_root_user(stages: list[Stage]) -> None:
    users = stages[-1].all("USER")
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "a numeric uid lets Kubernetes check runAsNonRoot"


def test_entrypoint_is_legato_and_runs_a_worker(stages: list[Stage]) -> None:
    runtime = stages[-1]
    assert exec_form(runtime.all("ENTRYPOINT")[-1]) == ["legato"]
    assert exec_form(runtime.all("CMD")[-1]) == ["worker"]
    worker = build_parser().parse_args(["worker"])
    assert runtime.all("EXPOSE") == [str(worker.health_port)]


def test_every_package_folder_is_copied(stages: list[Stage]) -> None:
    sources = set()
    for args in stages[0].all("COPY"):
        sources.update(s.strip("/") for s in args.split()[:-1])
    needed = {"pyproject.toml", PYPROJECT["project"]["readme"], "constraints.txt"}
    needed.update(PYPROJECT["tool"]["setuptools"]["package-dir"].values())
    assert sources == needed


def _build_context(stages: list[Stage], dest: Path) -> Path:
    """The builder's WORKDIR as its COPY lines fill it from the filtered context."""
    context = context_files(ROOT, (ROOT / ".dockerignore").read_text())
    workdir = dest / "src"
    for args in stages[0].all("COPY"):
        *sources, target = args.split()
        assert target.endswith("/"), f"COPY into a folder: {args}"
        for source in (s.strip("/") for s in sources):
            for rel in context:
                if rel == source:  # a file: into the folder by its name
                    out = workdir / target / Path(rel).name
                elif rel.startswith(source + "/"):  # a folder: its contents
                    out = workdir / target / rel.removeprefix(source + "/")
                else:
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ROOT / rel, out)
    return workdir


def test_context_holds_no_tests_caches_or_git() -> None:
    context = context_files(ROOT, (ROOT / ".dockerignore").read_text())
    assert "legato/cli/__init__.py" in context and "cql/0001_runs.cql" in context
    for rel in context:
        top = rel.split("/")[0]
        assert top not in ("tests", "bench", "deploy", "examples", ".git", ".ci"), rel
        assert "__pycache__" not in rel and not rel.endswith(".pyc"), rel


def test_the_context_builds_the_projects_wheel_with_the_legato_script(
    stages: list[Stage], tmp_path: Path
) -> None:
    src = _build_context(stages, tmp_path)
    out = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*pip, "-w", str(out), str(src)],
        check=True,
        timeout=300,
        cwd=tmp_path,
    )
    (wheel,) = out.glob("*.whl")
    version = PYPROJECT["project"]["version"]
    assert wheel.name == f"legato-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = zf.read(f"legato-{version}.dist-info/entry_points.txt").decode()
    assert "[console_scripts]\nlegato = legato.cli:main" in entry_points
    packages = {
        n.removesuffix("/__init__.py").replace("/", ".")
        for n in names
        if n.endswith("/__init__.py")
    }
    assert packages == set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert "legato/cql/0001_runs.cql" in names
