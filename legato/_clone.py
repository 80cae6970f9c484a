"""Importing ``legato`` from a clone of the repository.

In a clone the subpackages are top-level folders (``runtime/``, ``adapters/``, ...)
that an installed distribution maps under ``legato``. A script run from the clone
(``python bench/load.py``) has the clone first on ``sys.path``, so it imports this
folder rather than the installed package: add the clone to the package's search
path so that ``legato.runtime`` and the others are found there. An installed
``legato`` has no such siblings and is left as it is.
"""

from __future__ import annotations

from pathlib import Path

import legato

_CLONE = Path(__file__).resolve().parent.parent
_IS_CLONE = (_CLONE / "runtime" / "__init__.py").exists() and (_CLONE / "pyproject.toml").exists()
if _IS_CLONE and str(_CLONE) not in legato.__path__:
    legato.__path__.append(str(_CLONE))
