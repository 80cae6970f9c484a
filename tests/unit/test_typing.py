"""What a type checker sees of Legato's public API: ``mypy --strict`` over a
user's module (tests/unit/typing_user.py) must reveal exactly the types and
report exactly the errors its ``# R:`` and ``# E:`` comments name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[2]
USER = Path(__file__).with_name("typing_user.py")
# The folders mapped under `legato` at install time (as in .ci/mypy.sh).
MAPPED = ("runtime", "schemas", "adapters", "reconciler", "cql")


def package_tree(tmp: Path) -> Path:
    """The installed layout of `legato`, as symlinks: mypy cannot see through the
    editable install's mapping of runtime/ etc. under `legato`."""
    pkg = tmp / "legato"
    pkg.mkdir()
    for entry in (ROOT / "legato").iterdir():
        (pkg / entry.name).symlink_to(entry)
    for name in MAPPED:
        (pkg / name).symlink_to(ROOT / name)
    return tmp


def expectations(text: str) -> tuple[dict[int, str], dict[int, str]]:
    reveals, errors = {}, {}
    for number, line in enumerate(text.splitlines(), 1):
        if m := re.search(r"# R: (.+)$", line):
            reveals[number] = m.group(1).strip()
        if m := re.search(r"# E: ([\w-]+)$", line):
            errors[number] = m.group(1)
    return reveals, errors


def test_the_public_api_is_typed_for_a_users_strict_mypy(tmp_path: Path) -> None:
    tree = package_tree(tmp_path)
    (tree / "typing_user.py").write_text(USER.read_text())
    out, err, _ = mypy_api.run(
        [
            "--strict",
            "--python-version",
            "3.11",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--show-error-codes",
            "--no-pretty",
            str(tree / "typing_user.py"),
        ]
    )
    assert not err, err
    reveals, errors = expectations(USER.read_text())
    seen_reveals: dict[int, str] = {}
    seen_errors: dict[int, list[str]] = {}
    for line in out.splitlines():
        m = re.match(r".*typing_user\.py:(\d+): (\w+): (.*?)(?:  \[([\w-]+)\])?$", line)
        if not m:
            continue
        number, kind, message, code = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        if kind == "note" and message.startswith("Revealed type is"):
            seen_reveals[number] = message.replace("builtins.", "")  # as older mypy
        elif kind == "error":
            seen_errors.setdefault(number, []).append(code or message)
    for number, wanted in reveals.items():
        shown = seen_reveals.get(number, "")
        if wanted.startswith("!"):  # (an async def returns a Coroutine[Any, Any, T])
            plain = shown.replace("Coroutine[Any, Any, ", "Coroutine[")
            assert shown and wanted[1:] not in plain, (number, wanted, shown)
        else:
            assert wanted in shown, (number, wanted, out)
    assert set(seen_reveals) == set(reveals), out
    assert {n: [c] for n, c in errors.items()} == seen_errors, out
