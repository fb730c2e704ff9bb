#!/usr/bin/env bash
# Prints the path of a usable `temporal` CLI binary (stdout); progress goes to stderr.
# Order: $TEMPORAL_CLI, `temporal` on PATH, project-local .tools/bin/temporal (built with Go if missing).
set -euo pipefail

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
local_bin="$root/.tools/bin/temporal"

if [[ -n "${TEMPORAL_CLI:-}" ]]; then
  if [[ -x "$TEMPORAL_CLI" ]]; then echo "$TEMPORAL_CLI"; exit 0; fi
  echo "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable file" >&2
  exit 1
fi

if on_path="$(command -v temporal 2>/dev/null)"; then
  echo "$on_path"
  exit 0
fi

if [[ -x "$local_bin" ]]; then
  echo "$local_bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "no temporal CLI found and no Go toolchain to build one; install Go or set TEMPORAL_CLI" >&2
  exit 1
fi

echo "building temporal CLI $TEMPORAL_CLI_VERSION into .tools/bin (takes a few minutes)..." >&2
mkdir -p "$root/.tools/bin"
# CGO off: the CLI's SQLite driver is pure Go, and a static binary runs anywhere.
(cd "$root" && CGO_ENABLED=0 GOBIN="$root/.tools/bin" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION") >&2
echo "built $local_bin" >&2
echo "$local_bin"
