#!/usr/bin/env bash
# npm test's vitest passes (vitest.config.ts names the projects and says why), in two lanes:
#   1. `stacks`, one file at a time;
#   2. beside it, `waits`, four files at a time, then `shared`, four at a time: the stacks pass
#      keeps both cores busy while its fault campaign runs, then mostly waits (the benchmark's
#      scaled consent window), which is when `shared` runs.
# The second lane's output is printed once both have finished (kept in test-results/vitest-side.log),
# so the two do not interleave. Each pass starts its own Temporal dev server. Exits 1 if any pass
# failed; `shared` does not start after a failure of `waits`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p test-results
rm -f test-results/file-cpu.jsonl
side_log=test-results/vitest-side.log

(npx vitest run --project waits && npx vitest run --project shared) >"$side_log" 2>&1 &
side_pid=$!
# Stopping the tests (Ctrl-C, a CI timeout) stops the lane in the background too.
trap 'pkill -TERM -P "$side_pid" 2>/dev/null; kill "$side_pid" 2>/dev/null' EXIT

npx vitest run --project stacks --no-file-parallelism
stacks=$?
wait "$side_pid"
side=$?
trap - EXIT
echo
echo "---- the waits and shared passes, which ran beside the stacks pass ($side_log) ----"
cat "$side_log"
if [ "$stacks" -ne 0 ] || [ "$side" -ne 0 ]; then
  echo "npm test: the stacks pass exited $stacks, the waits and shared passes $side" >&2
  exit 1
fi
