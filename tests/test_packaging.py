"""The wheel maps the top-level folders under `legato` and nothing else lands in
site-packages."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAPPED = {
    "legato": "legato",
    "legato.runtime": "runtime",
    "legato.schemas": "schemas",
    "legato.adapters": "adapters",
    "legato.reconciler": "reconciler",
    "legato.cql": "cql",
}


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = set()
    for package, folder in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]))
    assert found == listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (found,) = out.glob("legato-*.whl")
    return found


def test_wheel_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("legato-")}
    assert tops == {"legato"}
    assert "legato/cql/0001_runs.cql" in names
    assert "legato/runtime/pipeline.py" in names
    assert not [n for n in names if n.startswith(("legato/tests", "legato/bench"))]


def test_installed_wheel_imports_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    # pip from the host installs into the venv's site-packages (--target keeps the host's
    # editable legato out of the picture).
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)],
        check=True,
        timeout=300,
    )
    # The dependencies come from this interpreter's site-packages, whether it is a
    # virtual environment (as a user's is) or not: a path line in a .pth file puts
    # the folder on sys.path after the venv's own, without running that folder's
    # .pth files (so the editable legato of a development install stays out).
    host = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    (Path(site) / "host-dependencies.pth").write_text("".join(f"{d}\n" for d in sorted(host)))
    check = (
        "import legato, legato.runtime, legato.adapters, legato.schemas, legato.reconciler, "
        "legato.cql, importlib.util, sys, pathlib\n"
        f"assert pathlib.Path(legato.__file__).is_relative_to({site!r}), legato.__file__\n"
        "for bare in ('runtime', 'adapters', 'schemas', 'reconciler', 'cql', 'tests', 'bench'):\n"
        "    spec = importlib.util.find_spec(bare)\n"
        f"    assert spec is None or not str(spec.origin).startswith({site!r}), bare\n"
        "from importlib import resources\n"
        "assert resources.files('legato.cql').joinpath('0001_runs.cql').is_file()\n"
        "async def inc(ctx):\n    return ctx.input + 1\n"
        "print(legato.run_sync(legato.Flow('w').node('a', inc), 41).outputs['a'])\n"
    )
    proc = subprocess.run(
        [str(py), "-I", "-c", check], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "42"
    cli = subprocess.run(
        [str(py), "-I", "-m", "legato", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert cli.returncode == 0 and "usage: legato" in cli.stdout
