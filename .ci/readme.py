"""The README's first two commands, as written: `python .ci/readme.py install|test`.

The README opens with two shell blocks of one command each: install and run a
workflow, then install for development and run the tests. `.ci/run` runs them
as printed here, so the README cannot drift from what CI proves.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.M | re.S)


def readme_commands(text: str) -> tuple[str, str]:
    """``(install_and_run, install_and_test)``: the first two ```sh blocks, one line each."""
    blocks = [m.group(1).strip() for m in _BLOCK.finditer(text)][:2]
    if len(blocks) != 2 or any("\n" in b or not b for b in blocks):
        raise ValueError(f"the README must open with two one-line ```sh blocks, found {blocks!r}")
    return blocks[0], blocks[1]


def main(argv: list[str]) -> int:
    which = {"install": 0, "test": 1}
    if len(argv) != 1 or argv[0] not in which:
        print("usage: python .ci/readme.py install|test", file=sys.stderr)
        return 2
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    print(readme_commands(text)[which[argv[0]]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
