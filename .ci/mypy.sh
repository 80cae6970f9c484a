#!/usr/bin/env bash
# mypy --strict on runtime/, schemas/, reconciler/ and the API server (legato.server).
# The folders are mapped under the `legato` package at install time, which mypy cannot see through an editable
# install, so lay out the same tree with symlinks in a temporary folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/legato"
for f in "$root"/legato/*; do ln -s "$f" "$tmp/legato/"; done
for d in runtime schemas adapters reconciler cql; do ln -s "$root/$d" "$tmp/legato/$d"; done
cd "$tmp"
MYPYPATH="$tmp" mypy --config-file "$root/pyproject.toml" --cache-dir "$root/.mypy_cache" \
  -p legato.runtime -p legato.schemas -p legato.reconciler \
  -p legato.server -p legato.presence "$@"
