#!/usr/bin/env bash
# The shape of Kong/docker-kong's entrypoint: KONG_<NAME>_FILE becomes KONG_<NAME> (the file's content), then the
# command runs as PID 1 (the emulator handles SIGTERM and SIGINT itself).
set -Eeo pipefail
if [[ "${1:-}" == kong ]]; then
  while IFS='=' read -r name _; do
    case "$name" in
      KONG_*_FILE)
        target="${name%_FILE}"
        if [[ -n "${!target:-}" ]]; then
          echo "error: both $target and $name are set (but are exclusive)" >&2
          exit 1
        fi
        export "$target=$(<"${!name}")"
        unset "$name"
        ;;
    esac
  done < <(env)
fi
exec "$@"
