#!/usr/bin/env bash
# Runs the README's first command (`npm start`) the way a newcomer would, and exits once
# hello-world is installed on the local agent (non-zero on failure, or after 10 minutes).
# Uses a scratch client config; removes ./margo-data afterwards unless it existed before.
set -uo pipefail
cd "$(dirname "$0")/.."
scratch="$(mktemp -d)"
had_data=0
[ -e margo-data ] && had_data=1
cleanup() {
  rm -rf "$scratch"
  [ "$had_data" = 1 ] || rm -rf margo-data
  # the quickstart leaves hello-world running for the newcomer; CI does not need it any more
  for c in $(docker ps -aq --filter label=com.docker.compose.project --filter name=margo-hello-world 2>/dev/null); do
    p=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' "$c")
    docker rm -f "$c" >/dev/null 2>&1
    docker network ls -q --filter "label=com.docker.compose.project=$p" | xargs -r docker network rm >/dev/null 2>&1
  done
}
trap cleanup EXIT
MARGO_QUICKSTART_EXIT_WHEN_INSTALLED=1 MARGO_CONFIG="$scratch/config.json" timeout 600 npm start
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "[ci-quickstart] npm start failed (exit $rc); last log lines:" >&2
  tail -n 60 margo-data/logs/* >&2 2>/dev/null || true
fi
exit "$rc"
