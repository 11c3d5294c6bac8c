#!/usr/bin/env bash
# What `pnpm test` needs besides node_modules, set up on demand and cached under ~/.cache/modelgate (a
# Turborepo task every package's test depends on; quick once done):
#   - the pinned TensorFlow in a venv (checks the models; exports the path-model tests use)   needs python3 + venv
#   - the real Keycloak from its Maven Central distribution (the real-Keycloak tests)         needs Java 17+ and mvn
#   - tfjs-node on TensorFlow's C library (the TF Serving emulator's engine)                   needs a C++ toolchain
# Each step says what it does and how long it took; a step that cannot run fails with the reason. `pnpm dev`
# needs only the last one, and runs it itself (the emulators fall back to wasm without it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {
  local name="$1"
  shift
  local started
  started=$(date +%s)
  printf 'setup: %s ...\n' "$name" >&2
  "$@" >/dev/null
  printf 'setup: %s ready (%ss)\n' "$name" "$(($(date +%s) - started))" >&2
}

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "setup: $1 is missing: $2" >&2
    exit 1
  }
}

need python3 'install Python 3 with venv and pip (Debian: apt-get install -y python3-venv python3-pip)'
need java 'install Java 17+ (Debian: apt-get install -y openjdk-17-jre-headless)'
need mvn 'install Maven (Debian: apt-get install -y maven)'
need luajit 'install LuaJIT and lua-cjson for the Kong plugin tests (Debian: apt-get install -y luajit lua-cjson)'

step "tensorflow venv" bash scripts/setup-tensorflow.sh
step "keycloak distribution" bash scripts/setup-keycloak.sh
step "tfjs-node" node scripts/tfjs-node/setup.mjs
