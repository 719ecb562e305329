# shellcheck shell=bash
# Shared settings and helpers for test/testbed/{up,down,env}. Sourced, not executed.

TB_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$TB_SRC/../.." && pwd)"
TB_DIR="${MARGO_TESTBED_DIR:-$REPO/.testbed}"
CACHE="${MARGO_TESTBED_CACHE:-$HOME/.cache/margo-testbed}"
PIDS="$TB_DIR/pids"
LOGS="$TB_DIR/logs"

# ---- pinned versions --------------------------------------------------------
HELM_VERSION="v3.22.0"          # helm.sh/helm/v3
KWOK_VERSION="v0.7.0"           # sigs.k8s.io/kwok
KUBE_VERSION="v1.34.4"          # k8s.io/kubernetes (see kube/go.mod; etcd v3.6.4 comes from its go.mod)

# ---- ports (all on 127.0.0.1) -----------------------------------------------
REGISTRY_PORT=5000
REGISTRY_AUTH_PORT=5001
GIT_PORT=8081
ETCD_PORT=12379
ETCD_PEER_PORT=12380
APISERVER_PORT=6443
KCM_PORT=10257
SCHED_PORT=10259
KWOK_PORT=10247

REGISTRY_USER="margo"
REGISTRY_PASSWORD="margo-registry-pw"
GIT_USER="margo"
GIT_PASSWORD="margo-git-pw"
IMAGE_NAME="margo/echo"
IMAGE_TAG="1"

ALL_COMPONENTS="docker registry image helm charts git kube"

log() { printf '[testbed %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_until SECONDS DESCRIPTION CMD... : poll CMD (every 0.5 s) until it succeeds or time runs out.
wait_until() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# pid_alive NAME : true when .testbed/pids/NAME.pid names a live process.
pid_alive() {
  local f="$PIDS/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# start_bg NAME CMD... : start CMD in the background (own session), log to .testbed/logs/NAME.log,
# record its pid in .testbed/pids/NAME.pid.
start_bg() {
  local name="$1"; shift
  mkdir -p "$PIDS" "$LOGS"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$PIDS/$name.pid"
}

# stop_pid NAME : stop the process recorded in NAME.pid (TERM, then KILL after 15 s).
stop_pid() {
  local name="$1" f="$PIDS/$1.pid" pid i
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) did not stop on TERM; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$f"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# timed NAME CMD... : run CMD and record its duration in .testbed/timings.txt
timed() {
  local name="$1"; shift
  local s; s=$(date +%s)
  "$@"
  local rc=$?
  mkdir -p "$TB_DIR"
  printf '%-22s %4ss\n' "$name" "$(( $(date +%s) - s ))" >> "$TB_DIR/timings.txt"
  return $rc
}
