#!/usr/bin/env bash
# Prints the directory of the pinned Temporal server (stdout); progress goes to stderr.
# The directory holds bin/temporal-server, bin/temporal-sql-tool and schema/postgresql/v12/{temporal,visibility},
# built once from the Go module proxy into .tools/ (not committed), like scripts/temporal.sh does
# for the CLI. The version is the one the pinned CLI (v1.5.1) embeds, so the dev server and the
# production-topology lane run the same server code. Set TEMPORAL_SERVER_DIR to use another build.
set -euo pipefail

TEMPORAL_SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-v1.29.1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/.tools/temporal-server-$TEMPORAL_SERVER_VERSION"
module="go.temporal.io/server"

if [[ -n "${TEMPORAL_SERVER_DIR:-}" ]]; then
  if [[ -x "$TEMPORAL_SERVER_DIR/bin/temporal-server" ]]; then echo "$TEMPORAL_SERVER_DIR"; exit 0; fi
  echo "TEMPORAL_SERVER_DIR=$TEMPORAL_SERVER_DIR has no bin/temporal-server" >&2
  exit 1
fi

# The marker is written last: a build interrupted half-way is redone, never used.
if [[ -f "$dir/.complete" ]]; then
  echo "$dir"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "no Temporal server in $dir and no Go toolchain to build one; install Go or set TEMPORAL_SERVER_DIR" >&2
  exit 1
fi

echo "building Temporal server $TEMPORAL_SERVER_VERSION into ${dir#"$root/"} (takes several minutes, once)..." >&2
started=$(date +%s)
rm -rf "$dir"
mkdir -p "$dir/bin"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
# CGO off: a static binary, and the server's SQL drivers are pure Go. `go install pkg@version`
# names binaries after their directories (server, sql), so they are renamed to say what they are.
(cd "$root" && CGO_ENABLED=0 GOBIN="$build" go install "$module/cmd/server@$TEMPORAL_SERVER_VERSION" "$module/cmd/tools/sql@$TEMPORAL_SERVER_VERSION") >&2
mv "$build/server" "$dir/bin/temporal-server"
mv "$build/sql" "$dir/bin/temporal-sql-tool"

# The SQL schemas ship in the server's module; `go install` has just put it in the module cache.
module_dir="$(cd "$build" && GOFLAGS=-mod=mod go mod download -json "$module@$TEMPORAL_SERVER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ ! -d "$module_dir/schema/postgresql/v12" ]]; then
  echo "cannot find the PostgreSQL schema of $module@$TEMPORAL_SERVER_VERSION (module dir: '${module_dir}')" >&2
  exit 1
fi
mkdir -p "$dir/schema/postgresql"
cp -r "$module_dir/schema/postgresql/v12" "$dir/schema/postgresql/"
chmod -R u+w "$dir/schema"
touch "$dir/.complete"
echo "built Temporal server $TEMPORAL_SERVER_VERSION in $(( $(date +%s) - started ))s: $dir" >&2
echo "$dir"
