// How far V8 lets the old space grow before its next full collection, in our long-running processes.
import { setFlagsFromString } from 'node:v8';

/**
 * The old space may grow to twice what the last full collection kept. Left to pick the factor from
 * its measured speeds, V8 chose about 1.2-1.4 here: the worker's main thread ran a full collection
 * every 200-300 ms of a campaign at under 70 MB of heap (59 in a 130,000-recipient run, 6 with
 * this setting), about a tenth of the worker's CPU. The cost is memory: the worker's peak RSS on
 * that run rose from about 320 to 385 MB (a factor of 3 gave 430, and 493 MB on the 1,000,000-recipient
 * run, against its 500 MB target); `--max-old-space-size` still caps the heap.
 */
export const HEAP_GROWING_PERCENT = 100;

/** Applies HEAP_GROWING_PERCENT unless node was started with its own `--heap-growing-percent`. */
export function tuneHeapGrowth(): void {
  if (process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent') || arg.startsWith('--heap_growing_percent'))) return;
  // Read by V8 whenever it sets a new limit, so setting it at start-up works (worker threads share it).
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
