#!/usr/bin/env bash
# The Docker engine for the containers provider, on a machine that may have none:
#   bash scripts/containers/engine.sh start   # an engine that answers is used as it is (prints `existing`); else
#                                             # docker.io is installed from Debian when dockerd is missing, and
#                                             # dockerd is started, its PID recorded (prints `started`)
#   bash scripts/containers/engine.sh stop    # stops the dockerd that `start` started (by its PID), nothing else
#   bash scripts/containers/engine.sh leftovers  # lists containers, networks and volumes beyond Docker's own;
#                                             # exits 1 when there are any (CI's teardown check)
# State (PID file, daemon log) lives in ${MODELGATE_CACHE_DIR:-~/.cache/modelgate}/docker-engine.
set -euo pipefail

CACHE_DIR="${MODELGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/modelgate}"
STATE_DIR="$CACHE_DIR/docker-engine"
PID_FILE="$STATE_DIR/dockerd.pid"
LOG_FILE="$STATE_DIR/dockerd.log"
READY_TIMEOUT_S=60

engine_answers() {
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

our_daemon_pid() {
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && echo "$pid"
}

start() {
  if engine_answers; then
    echo "engine: Docker $(docker version --format '{{.Server.Version}}') already answers; using it" >&2
    echo existing
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || { echo "engine: no Docker engine answers and dockerd is missing; install docker.io (root needed)" >&2; exit 2; }
    echo "engine: installing docker.io from Debian" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
  mkdir -p "$STATE_DIR"
  if our_daemon_pid >/dev/null; then
    echo "engine: dockerd $(cat "$PID_FILE") was started earlier but does not answer; see $LOG_FILE" >&2
    exit 1
  fi
  # setsid: the daemon outlives this script and is not hit by a Ctrl-C meant for the caller.
  setsid dockerd >"$LOG_FILE" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  local waited=0
  until engine_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      echo "engine: dockerd exited before answering (log above)" >&2
      exit 1
    fi
    [ "$waited" -lt $((READY_TIMEOUT_S * 5)) ] || { echo "engine: dockerd $pid did not answer in ${READY_TIMEOUT_S}s; see $LOG_FILE" >&2; exit 1; }
    sleep 0.2
    waited=$((waited + 1))
  done
  echo "engine: started dockerd $pid (Docker $(docker version --format '{{.Server.Version}}')), log $LOG_FILE" >&2
  echo started
}

stop() {
  local pid
  if ! pid="$(our_daemon_pid)"; then
    rm -f "$PID_FILE"
    echo "engine: no dockerd of ours is running; nothing stopped" >&2
    return 0
  fi
  kill -TERM "$pid"
  # dockerd stops its containers (10 s grace each) and its containerd before it exits.
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    [ "$waited" -lt 300 ] || { echo "engine: dockerd $pid still running after 60 s" >&2; exit 1; }
    sleep 0.2
    waited=$((waited + 1))
  done
  rm -f "$PID_FILE"
  echo "engine: stopped dockerd $pid" >&2
}

leftovers() {
  local containers networks volumes
  containers="$(docker ps --all --format '{{.ID}} {{.Image}} {{.Names}} {{.Status}}')"
  networks="$(docker network ls --format '{{.Name}}' | grep -vxE 'bridge|host|none' || true)"
  volumes="$(docker volume ls --quiet)"
  if [ -z "$containers$networks$volumes" ]; then
    echo "engine: no container, network or volume left" >&2
    return 0
  fi
  local line
  while read -r line; do [ -z "$line" ] || echo "left: container $line" >&2; done <<<"$containers"
  while read -r line; do [ -z "$line" ] || echo "left: network $line" >&2; done <<<"$networks"
  while read -r line; do [ -z "$line" ] || echo "left: volume $line" >&2; done <<<"$volumes"
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  leftovers) leftovers ;;
  *) echo "usage: $0 start|stop|leftovers" >&2; exit 2 ;;
esac
