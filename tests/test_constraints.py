"""constraints.txt pins every dependency, inside the ranges pyproject.toml allows,
and the install commands (README, .ci/run, Dockerfile) use it."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(text: str) -> dict[str, Version]:
    out: dict[str, Version] = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and name and version, f"constraints.txt: not an exact pin: {line!r}"
        key = canonicalize_name(name)
        assert key not in out, f"constraints.txt: {name} pinned twice"
        out[key] = Version(version)
    return out


PINS = pins((ROOT / "constraints.txt").read_text())


def direct() -> list[Requirement]:
    listed = list(PROJECT["dependencies"])
    for extra in PROJECT["optional-dependencies"].values():
        listed += extra
    return [Requirement(r) for r in listed]


def test_every_direct_dependency_is_pinned_inside_its_range() -> None:
    for req in direct():
        key = canonicalize_name(req.name)
        assert key in PINS, f"{req.name} is not pinned in constraints.txt"
        assert req.specifier.contains(PINS[key], prereleases=True), (
            f"constraints.txt pins {req.name}=={PINS[key]}, outside {req}"
        )


def test_every_installed_transitive_dependency_is_pinned() -> None:
    """Walks the requirements of what is installed here (names only: versions may
    differ from the pins when the environment was not installed with them)."""
    seen: set[str] = set()
    todo = [(r, extra) for r in direct() for extra in [*PROJECT["optional-dependencies"], ""]]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        key = canonicalize_name(req.name)
        if key in seen:
            continue
        seen.add(key)
        assert key in PINS, f"{req.name} (needed by an installed package) is not pinned"
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [(Requirement(r), e) for r in requires for e in [*req.extras, ""]]
    assert {"msgspec", "rich", "pytest", "markdown-it-py"} <= seen


def readme_commands() -> tuple[str, str]:
    spec = importlib.util.spec_from_file_location("ci_readme", ROOT / ".ci" / "readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    commands: tuple[str, str] = module.readme_commands((ROOT / "README.md").read_text())
    return commands


def test_the_install_commands_use_the_constraints() -> None:
    install, tests = readme_commands()
    for command in (install, tests):
        assert re.search(r"pip install -c constraints\.txt ", command), command
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY pyproject.toml README.md constraints.txt ./" in dockerfile
    assert re.search(r"pip wheel .*-c constraints\.txt", dockerfile)
    assert "!constraints.txt" in (ROOT / ".dockerignore").read_text()


def test_ci_runs_the_readme_commands_in_a_fresh_venv() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    assert '-m venv "$venv"' in run and 'rm -rf "$venv"' in run
    assert "install_and_run=$(python .ci/readme.py install)" in run
    assert "install_and_test=$(python .ci/readme.py test)" in run
    assert run.index('bash -c "$install_and_run"') < run.index('bash -c "$install_and_test"')
    assert "legato schema apply --dev" in run and "legato topics apply --dev" in run
