#!/usr/bin/env bash
# Helm for rendering deploy/helm/legato offline (tests/deploy/test_helm.py).
# Built once from its Go module into ~/.cache/legato/bin and reused after
# that; prints the binary's path on stdout, the time it took on stderr:
#   LEGATO_HELM=$(bash .ci/helm.sh)
set -euo pipefail
version=v4.3.2 # helm.sh/helm/v4; bump here (and only here)
bin="${XDG_CACHE_HOME:-$HOME/.cache}/legato/bin"
helm="$bin/helm"
started=$(date +%s)
# The module version the binary was built from (`helm version` says only v4.3).
built() { go version -m "$helm" 2>/dev/null | awk '$1 == "mod" && $2 == "helm.sh/helm/v4" {print $3}'; }
command -v go >/dev/null || { echo "helm.sh: needs the Go toolchain (go) to build helm" >&2; exit 1; }
if [ -x "$helm" ] && [ "$(built)" = "$version" ]; then
  echo "helm $version: cached in $bin ($(($(date +%s) - started))s)" >&2
else
  echo "helm $version: building from its Go module (once; a few minutes)" >&2
  mkdir -p "$bin"
  GOBIN="$bin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "helm.sh/helm/v4/cmd/helm@$version"
  got=$(built)
  [ "$got" = "$version" ] || { echo "helm.sh: built $got, expected $version" >&2; exit 1; }
  echo "helm $version: built in $bin ($(($(date +%s) - started))s)" >&2
fi
echo "$helm"
