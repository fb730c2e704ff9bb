#!/usr/bin/env bash
# npm test's vitest passes (vitest.config.ts names the projects and says why):
#   1. `stacks`, one file at a time, and `waits`, two at a time, side by side; the waits pass's
#      output is printed once both have finished (kept in test-results/vitest-waits.log), so the
#      two do not interleave;
#   2. `shared`, four files at a time.
# Each pass starts its own Temporal dev server. Exits 1 if any pass failed; `shared` does not start
# after a failure.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p test-results
waits_log=test-results/vitest-waits.log

npx vitest run --project waits --maxWorkers 2 >"$waits_log" 2>&1 &
waits_pid=$!
# Stopping the tests (Ctrl-C, a CI timeout) stops the pass in the background too.
trap 'kill "$waits_pid" 2>/dev/null' EXIT

npx vitest run --project stacks --no-file-parallelism
stacks=$?
wait "$waits_pid"
waits=$?
trap - EXIT
echo
echo "---- the waits pass, which ran beside the stacks pass ($waits_log) ----"
cat "$waits_log"
if [ "$stacks" -ne 0 ] || [ "$waits" -ne 0 ]; then
  echo "npm test: the stacks pass exited $stacks, the waits pass $waits" >&2
  exit 1
fi
exec npx vitest run --project shared
