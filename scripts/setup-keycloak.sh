#!/usr/bin/env bash
# Prepares (once) the real Keycloak server from its Maven Central distribution, outside the clone, and prints
# its home folder. The real-Keycloak test harness (packages/policy/src/real-keycloak) starts it from there.
#   bash scripts/setup-keycloak.sh            # then, if the cache is elsewhere: export MODELGATE_KEYCLOAK_HOME=<printed path>
# The home is ${MODELGATE_CACHE_DIR:-~/.cache/modelgate}/keycloak-<version>; delete it to redo everything.
# Needs mvn and Java 17+. Besides unpacking, it runs the server once in dev mode so that the one-off Quarkus
# build (about 20-25 s) happens here and not in every first test run, and keeps the empty database that run
# leaves behind as a template, which each test run copies instead of creating the schema again.
set -euo pipefail

KC_VERSION=26.7.3
CACHE_DIR="${MODELGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/modelgate}"
KC_HOME="$CACHE_DIR/keycloak-$KC_VERSION"
MVN="${MVN:-mvn}"
# Build-time options of start-dev: the harness passes exactly these, so its starts never rebuild the server.
BUILD_OPTIONS=(--health-enabled=true)
# What a finished setup looks like; a home whose marker differs (half unpacked, older recipe) is redone.
MARKER="$KC_HOME/.modelgate-setup"
MARKER_TEXT="keycloak $KC_VERSION; start-dev built with ${BUILD_OPTIONS[*]}; template database modelgate/template"

if [ "$(cat "$MARKER" 2>/dev/null)" = "$MARKER_TEXT" ]; then
  echo "$KC_HOME"
  exit 0
fi

mkdir -p "$CACHE_DIR"
# One setup at a time per cache (CI and a developer, or two test runs, may start it together).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_DIR/keycloak-$KC_VERSION.lock"
  flock 9
  if [ "$(cat "$MARKER" 2>/dev/null)" = "$MARKER_TEXT" ]; then
    echo "$KC_HOME"
    exit 0
  fi
fi

command -v "$MVN" >/dev/null 2>&1 || { echo "setup-keycloak: mvn not found (set MVN to its path)" >&2; exit 2; }
command -v java >/dev/null 2>&1 || { echo "setup-keycloak: java not found (Keycloak $KC_VERSION needs Java 17 or newer)" >&2; exit 2; }

STAGING="$CACHE_DIR/keycloak-$KC_VERSION.partial"
rm -rf "$KC_HOME" "$STAGING"
mkdir -p "$STAGING"
trap 'rm -rf "$STAGING"' EXIT

echo "setting up Keycloak $KC_VERSION in $KC_HOME (177 MB download, once)" >&2
SECONDS=0
"$MVN" -B -q -Dstyle.color=never dependency:copy \
  "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip" "-DoutputDirectory=$STAGING" 2>&1 |
  sed 's/\x1b\[[0-9;]*m//g' >&2 # Debian's mvn prints colour resets even when quiet
echo "  downloaded in ${SECONDS}s" >&2

SECONDS=0
unzip -q "$STAGING/keycloak-quarkus-dist-$KC_VERSION.zip" -d "$STAGING"
rm "$STAGING/keycloak-quarkus-dist-$KC_VERSION.zip"
mv "$STAGING/keycloak-$KC_VERSION" "$KC_HOME"
echo "  unpacked in ${SECONDS}s" >&2

# The distribution ships built for production mode; start-dev would rebuild it on its first start. Start it
# in dev mode once, with Keycloak's early-exit launch mode: it rebuilds, creates the database schema and stops
# before creating the master realm. Ports 0 and a scratch folder keep it from touching anything else.
SECONDS=0
TEMPLATE="$KC_HOME/modelgate/template"
mkdir -p "$TEMPLATE" "$STAGING/run/tmp"
# Settings from the caller's environment (KC_DB, JAVA_OPTS, ...) would change what gets built.
for name in $(compgen -e); do
  case "$name" in KC_* | KEYCLOAK_* | QUARKUS_* | JAVA_OPTS* | DEBUG | DEBUG_PORT | DEBUG_SUSPEND) unset "$name" ;; esac
done
# The early-exit launch mode is internal to Keycloak: should a later version ignore it, the server would keep
# running, so the step has a time limit.
LIMIT=()
if command -v timeout >/dev/null 2>&1; then LIMIT=(timeout 600); fi
if ! ${LIMIT[@]+"${LIMIT[@]}"} "$KC_HOME/bin/kc.sh" start-dev "${BUILD_OPTIONS[@]}" \
  --http-host=127.0.0.1 --http-port=0 --http-management-host=127.0.0.1 --http-management-port=0 \
  -Dkc.launch.mode=exit_before_bootstrap \
  "-Dkc.db-url-path=$TEMPLATE" \
  "-Dquarkus.transaction-manager.object-store.directory=$STAGING/run/transaction-logs" \
  "-Djava.io.tmpdir=$STAGING/run/tmp" >"$STAGING/build.log" 2>&1; then
  tail -n 40 "$STAGING/build.log" >&2
  echo "setup-keycloak: the first start of Keycloak failed (log above)" >&2
  exit 1
fi
rm -f "$TEMPLATE/data/h2/"*.trace.db
[ -f "$TEMPLATE/data/h2/keycloakdb.mv.db" ] || { echo "setup-keycloak: no template database was made" >&2; exit 1; }
echo "  built for start-dev and made the template database in ${SECONDS}s" >&2

echo "$MARKER_TEXT" >"$MARKER"
echo "$KC_HOME"
