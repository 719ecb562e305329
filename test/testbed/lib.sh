# shellcheck shell=bash
# Shared settings and helpers for test/testbed/{up,down,env}. Sourced, not executed.

TB_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$TB_SRC/../.." && pwd)"
TB_DIR="${MARGO_TESTBED_DIR:-$REPO/.testbed}"
CACHE="${MARGO_TESTBED_CACHE:-${HOME:-/root}/.cache/margo-testbed}"
PIDS="$TB_DIR/pids"
# fcgiwrap, nginx and dockerd live in sbin folders, which a CI environment may not have on PATH
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:/usr/local/go/bin"
LOGS="$TB_DIR/logs"

# ---- pinned versions --------------------------------------------------------
# kube/go.mod pins k8s.io/kubernetes, etcd and helm (one module graph); these names are for
# messages and the env file and must match it. kwok is built on its own (its k8s.io/* differ).
KUBE_VERSION="v1.34.4"          # k8s.io/kubernetes
ETCD_VERSION="v3.6.4"           # go.etcd.io/etcd/server/v3 (required by k8s.io/kubernetes v1.34.4)
HELM_VERSION="v3.19.5"          # helm.sh/helm/v3 (k8s.io/* v0.34, like the control plane)
KWOK_VERSION="v0.7.0"           # sigs.k8s.io/kwok
OTELCOL_VERSION="v0.161.0"      # otelcol/go.mod: collector core v0.161.0 (v1.67.0) + contrib fileexporter v0.161.0

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
OTELCOL_PORT=14318              # OpenTelemetry Collector, OTLP over HTTP

REGISTRY_USER="margo"
REGISTRY_PASSWORD="margo-registry-pw"
GIT_USER="margo"
GIT_PASSWORD="margo-git-pw"
IMAGE_NAME="margo/echo"
IMAGE_TAG="1"
# The public images the examples name (examples/*, packages/cli/src/commands/quickstart.ts
# HELLO_IMAGE); `up` loads a local stand-in under each exact reference (images.sh).
PUBLIC_IMAGES="busybox:1.36.1"

ALL_COMPONENTS="docker registry image helm charts git kube otelcol"

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

# Pid files hold "PID STARTTIME" (field 22 of /proc/PID/stat), so that a pid reused by another
# process after a reboot is never taken for ours (and never signalled).
proc_start() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
# signal_daemon NAME PID SIG : signal the daemon's whole process group (start_bg makes each daemon a
# session leader, so its pgid is its pid; fcgiwrap's prefork children die with it). dockerd only
# gets the signal itself: it shuts its containerd down in order.
signal_daemon() {
  local name="$1" pid="$2" sig="$3"
  if [ "$name" != dockerd ] && [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ]; then
    kill "-$sig" -- "-$pid" 2>/dev/null || true
  else
    kill "-$sig" "$pid" 2>/dev/null || true
  fi
}
# running PID : alive and not a zombie
running() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# pid_of NAME : prints the pid recorded for NAME if that process is still the one we started.
pid_of() {
  local f="$PIDS/$1.pid" pid st
  [ -f "$f" ] || return 1
  read -r pid st < "$f" || true
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -n "${st:-}" ] && [ "$(proc_start "$pid")" != "$st" ]; then return 1; fi
  echo "$pid"
}
# pid_alive NAME : true when .testbed/pids/NAME.pid names a live process that we started.
pid_alive() { pid_of "$1" >/dev/null; }

# start_bg NAME CMD... : start CMD in the background (own session), log to .testbed/logs/NAME.log,
# record its pid in .testbed/pids/NAME.pid.
start_bg() {
  local name="$1"; shift
  mkdir -p "$PIDS" "$LOGS"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo "$! $(proc_start $!)" > "$PIDS/$name.pid"
}

# stop_pid NAME : stop the process recorded in NAME.pid (TERM, then KILL after 15 s).
stop_pid() {
  local name="$1" f="$PIDS/$1.pid" pid i
  [ -f "$f" ] || return 0
  if pid="$(pid_of "$name")"; then
    signal_daemon "$name" "$pid" TERM
    for i in $(seq 1 30); do running "$pid" || break; sleep 0.5; done
    if running "$pid"; then
      log "$name (pid $pid) did not stop on TERM; sending KILL"
      signal_daemon "$name" "$pid" KILL
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$f"
}

# stop_all NAME... : TERM all of them at once, wait up to 20 s, then KILL what is left.
stop_all() {
  local name pid i alive
  local -a live=()
  for name in "$@"; do
    [ -f "$PIDS/$name.pid" ] || continue
    if pid="$(pid_of "$name")"; then signal_daemon "$name" "$pid" TERM; live+=("$name:$pid"); fi
    rm -f "$PIDS/$name.pid"
  done
  for i in $(seq 1 40); do
    alive=0
    for name in "${live[@]}"; do running "${name#*:}" && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.5
  done
  for name in "${live[@]}"; do
    if running "${name#*:}"; then
      log "${name%%:*} (pid ${name#*:}) did not stop on TERM; sending KILL"
      signal_daemon "${name%%:*}" "${name#*:}" KILL
    else
      log "stopped ${name%%:*} (pid ${name#*:})"
    fi
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# timed NAME CMD... : run CMD and record its duration in .testbed/timings.txt
timed() {
  local name="$1"; shift
  local s; s=$(date +%s)
  "$@"
  local rc=$?
  mkdir -p "$TB_DIR"
  printf '%-30s %4ss\n' "$name" "$(( $(date +%s) - s ))" >> "$TB_DIR/timings.txt"
  return $rc
}
