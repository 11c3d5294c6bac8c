#!/usr/bin/env bash
# Builds, on the local Docker engine, the images the containers provider runs where no registry is reachable
# (CI here), and prints the env that selects them:
#   eval "$(bash scripts/containers/images.sh)"   # MODELGATE_KEYCLOAK_IMAGE=... MODELGATE_KONG_IMAGE=... MODELGATE_TF_SERVING_IMAGE=...
# - keycloak: the real Keycloak (the Maven Central distribution scripts/setup-keycloak.sh caches) on Debian's
#   OpenJDK 17, laid out like quay.io/keycloak/keycloak: /opt/keycloak, kc.sh as entrypoint, user 1000, 8080/8443/9000
# - tf-serving: the TF Serving emulator as `tensorflow_model_server` behind the image's entrypoint script
#   (MODEL_NAME, MODEL_BASE_PATH, /models, 8500/8501, extra flags appended), on tfjs-node over TensorFlow 2.21
# - kong: the Kong emulator as `kong`, behind /docker-entrypoint.sh with CMD `kong docker-start`, configured by the
#   KONG_* env, user kong, 8000/8443/8001/8444
# Roots come from Debian's packages (debootstrap); Node is the cached Node 24. Each image carries the hash of its
# inputs in the label org.modelgate.inputs and is rebuilt only when that hash changes. Needs a running engine
# (engine.sh start), root (debootstrap), the repo built (pnpm turbo run build) and the caches of
# setup-keycloak.sh and tfjs-node/setup.mjs (their paths: MODELGATE_KEYCLOAK_HOME, MODELGATE_TFJS_NODE_DIR).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$REPO_ROOT/scripts/containers"
CACHE_DIR="${MODELGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/modelgate}"
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${MODELGATE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Bump when the recipe below changes in a way the hashed inputs do not show.
RECIPE=1
export DOCKER_BUILDKIT=0 # the engine from docker.io has no buildx; the classic builder is what it runs

version_of() {
  sed -n "s/^  $1: '\(.*\)',.*/\1/p" "$REPO_ROOT/packages/policy/src/product-versions.ts"
}
KONG_VERSION="$(version_of kong)"
KEYCLOAK_VERSION="$(version_of keycloak)"
TF_SERVING_VERSION="$(version_of tensorflowServing)"

KEYCLOAK_IMAGE="modelgate-ci/keycloak:$KEYCLOAK_VERSION"
KONG_IMAGE="modelgate-ci/kong-emulator:$KONG_VERSION"
TF_SERVING_IMAGE="modelgate-ci/tf-serving-emulator:$TF_SERVING_VERSION"

log() { echo "images: $*" >&2; }

hash_text() { sha256sum | cut -c1-16; }
# Content and relative paths of every file under the given folders (node_modules, .turbo and reports left out).
hash_tree() {
  local dir
  for dir in "$@"; do
    (cd "$dir" && find . \( -name node_modules -o -name .turbo -o -name reports \) -prune -o \( -type f -o -type l \) -print0 |
      LC_ALL=C sort -z | xargs -0 -r sha256sum)
  done | hash_text
}

image_inputs() { docker image inspect --format '{{index .Config.Labels "org.modelgate.inputs"}}' "$1" 2>/dev/null || true; }

# A Debian root from Debian's packages, imported as an image; `$1` names it, the rest are packages to include.
debian_image() {
  local name="$1"
  shift
  local include="${*:-}"
  local inputs
  inputs="$(printf 'recipe %s; debootstrap minbase %s %s; include %s\n' "$RECIPE" "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$include" | hash_text)"
  local image="modelgate-ci/debian:$DEBIAN_SUITE-$name-$inputs"
  if docker image inspect "$image" >/dev/null 2>&1; then
    echo "$image"
    return 0
  fi
  command -v debootstrap >/dev/null 2>&1 || {
    log "installing debootstrap from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  local root
  root="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-root-XXXXXX")"
  mkdir -p "$CACHE_DIR/debootstrap-debs"
  SECONDS=0
  log "debootstrap $DEBIAN_SUITE ($name${include:+: $include})"
  if ! debootstrap --variant=minbase ${include:+--include="${include// /,}"} --cache-dir="$CACHE_DIR/debootstrap-debs" \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >"$root.log" 2>&1; then
    tail -n 30 "$root.log" >&2
    rm -rf "$root" "$root.log"
    log "debootstrap failed (log above)"
    exit 1
  fi
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* "$root.log"
  tar -C "$root" -c . | docker import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
  rm -rf "$root"
  log "  $image in ${SECONDS}s"
  echo "$image"
}

# Builds image `$1` from the context folder `$2` (its Dockerfile) when the inputs hash `$3` differs.
build_image() {
  local image="$1" context="$2" inputs="$3"
  SECONDS=0
  if ! docker build --label "org.modelgate.inputs=$inputs" --tag "$image" "$context" >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" >&2
    log "building $image failed (log above)"
    exit 1
  fi
  # The image this one replaced is left untagged: remove it (only our labelled, untagged images).
  docker image prune --force --filter "label=org.modelgate.inputs" >/dev/null
  log "  built $image in ${SECONDS}s"
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-images-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

keycloak_image() {
  local kc_home="${MODELGATE_KEYCLOAK_HOME:-$CACHE_DIR/keycloak-$KEYCLOAK_VERSION}"
  [ -f "$kc_home/.modelgate-setup" ] || { log "no Keycloak at $kc_home: run scripts/setup-keycloak.sh first"; exit 2; }
  local base
  base="$(debian_image jre17 openjdk-17-jre-headless)"
  local inputs
  inputs="$( { echo "$RECIPE $base"; cat "$kc_home/.modelgate-setup" "$HERE/keycloak.Dockerfile"; } | hash_text)"
  if [ "$(image_inputs "$KEYCLOAK_IMAGE")" = "$inputs" ]; then
    log "$KEYCLOAK_IMAGE is up to date"
    return 0
  fi
  local context="$WORK/keycloak"
  mkdir -p "$context"
  # The distribution as setup-keycloak.sh left it (built for start-dev), less its test-only template database;
  # group-writable as in the official image (a copy: the cache's own modes stay as they are).
  cp -a "$kc_home" "$context/keycloak"
  rm -rf "$context/keycloak/modelgate" "$context/keycloak/.modelgate-setup" "$context/keycloak/data"
  mkdir -p "$context/keycloak/data"
  chmod -R g+rwX "$context/keycloak"
  sed "s|@BASE@|$base|" "$HERE/keycloak.Dockerfile" >"$context/Dockerfile"
  build_image "$KEYCLOAK_IMAGE" "$context" "$inputs"
}

# The emulators with their production dependencies, as one self-contained folder (pnpm deploy).
EMULATORS_DEPLOY=""
emulators_deploy() {
  [ -z "$EMULATORS_DEPLOY" ] || return 0
  EMULATORS_DEPLOY="$WORK/emulators"
  (cd "$REPO_ROOT" && pnpm --filter @modelgate/emulators deploy --prod --offline \
    --store-dir "${MODELGATE_PNPM_STORE:-$CACHE_DIR/pnpm-store}" "$EMULATORS_DEPLOY" >"$WORK/deploy.log" 2>&1) || {
    cat "$WORK/deploy.log" >&2
    log "pnpm deploy of @modelgate/emulators failed (log above)"
    exit 1
  }
}

emulators_inputs() {
  local package
  for package in emulators policy fixtures proto; do
    [ -d "$REPO_ROOT/packages/$package/dist" ] || { log "packages/$package is not built: run pnpm turbo run build first"; exit 2; }
  done
  {
    echo "$RECIPE $(node --version)"
    sha256sum "$(command -v node)" "$REPO_ROOT/pnpm-lock.yaml" | cut -c1-64
    hash_tree "$REPO_ROOT/packages/emulators" "$REPO_ROOT/packages/policy" "$REPO_ROOT/packages/fixtures" "$REPO_ROOT/packages/proto"
  } | hash_text
}

node_context() {
  local context="$1"
  mkdir -p "$context/node/bin"
  cp "$(command -v node)" "$context/node/bin/node"
  emulators_deploy
  cp -a "$EMULATORS_DEPLOY" "$context/emulators"
}

tf_serving_image() {
  local tfjs_dir="${MODELGATE_TFJS_NODE_DIR:-$(node "$REPO_ROOT/scripts/tfjs-node/setup.mjs" --print-dir)}"
  [ -f "$tfjs_dir/.modelgate-setup" ] || { log "no tfjs-node at $tfjs_dir: run node scripts/tfjs-node/setup.mjs first"; exit 2; }
  local base
  base="$(debian_image minbase)"
  local inputs
  inputs="$( { echo "$RECIPE $base"; emulators_inputs; cat "$tfjs_dir/.modelgate-setup" "$HERE/tf-serving.Dockerfile" "$HERE/tf_serving_entrypoint.sh"; } | hash_text)"
  if [ "$(image_inputs "$TF_SERVING_IMAGE")" = "$inputs" ]; then
    log "$TF_SERVING_IMAGE is up to date"
    return 0
  fi
  local context="$WORK/tf-serving"
  node_context "$context"
  cp -al "$tfjs_dir" "$context/tfjs-node" 2>/dev/null || cp -a "$tfjs_dir" "$context/tfjs-node"
  cp "$HERE/tf_serving_entrypoint.sh" "$context/"
  sed "s|@BASE@|$base|" "$HERE/tf-serving.Dockerfile" >"$context/Dockerfile"
  build_image "$TF_SERVING_IMAGE" "$context" "$inputs"
}

kong_image() {
  local base
  base="$(debian_image minbase)"
  local inputs
  inputs="$( { echo "$RECIPE $base"; emulators_inputs; cat "$HERE/kong.Dockerfile" "$HERE/kong-docker-entrypoint.sh"; } | hash_text)"
  if [ "$(image_inputs "$KONG_IMAGE")" = "$inputs" ]; then
    log "$KONG_IMAGE is up to date"
    return 0
  fi
  local context="$WORK/kong"
  node_context "$context"
  cp "$HERE/kong-docker-entrypoint.sh" "$context/docker-entrypoint.sh"
  sed "s|@BASE@|$base|" "$HERE/kong.Dockerfile" >"$context/Dockerfile"
  build_image "$KONG_IMAGE" "$context" "$inputs"
}

keycloak_image
tf_serving_image
kong_image
echo "MODELGATE_KEYCLOAK_IMAGE=$KEYCLOAK_IMAGE"
echo "MODELGATE_KONG_IMAGE=$KONG_IMAGE"
echo "MODELGATE_TF_SERVING_IMAGE=$TF_SERVING_IMAGE"
