#!/usr/bin/env bash
# Installs Flowcraft's Kafka adapter and its clients, at pinned versions, from the
# npm registry into a cache folder (once) and runs bench/peer/flowcraft-kafka.mjs.
# Extra arguments go to the script (--shape, --nodes, --runs, --concurrency,
# --kafka, --cassandra, --redis, --workers, ...). Cache: $LEGATO_PEER_KAFKA_CACHE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${LEGATO_PEER_KAFKA_CACHE:-$HOME/.cache/legato-peer-kafka}
pkgs=(@flowcraft/kafka-adapter@1.4.4 flowcraft@2.10.1 kafkajs@2.2.4 cassandra-driver@4.10.0 ioredis@5.10.1)
stamp="$cache/.installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "${pkgs[*]}" ]; then
  mkdir -p "$cache"
  (cd "$cache" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --save-exact --no-audit --no-fund --silent "${pkgs[@]}" >&2)
  echo "${pkgs[*]}" >"$stamp"
fi
export KAFKAJS_NO_PARTITIONER_WARNING=1
exec node "$here/flowcraft-kafka.mjs" "$cache" "$@"
