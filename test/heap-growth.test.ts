// The worker, listener and sandbox let V8's old space grow to twice what a full collection
// kept (src/heap-growth.ts): V8's own choice ran the worker's full collections every few hundred ms.
// V8 prints the factor it applies after each full collection with --trace-gc-verbose.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const script = join(mkdtempSync(join(tmpdir(), 'heap-growth-')), 'collect.mts');
writeFileSync(
  script,
  `import { tuneHeapGrowth } from ${JSON.stringify(resolve('src/heap-growth.ts'))};
tuneHeapGrowth();
const kept = Array.from({ length: 200_000 }, (_, i) => ({ i }));
(globalThis as { gc?: () => void }).gc?.();
console.log(kept.length);
`,
);

/** The growing factors V8 reports after full collections in a process that called tuneHeapGrowth. */
function factorsApplied(nodeFlags: string[]): number[] {
  const run = spawnSync(process.execPath, [...nodeFlags, '--expose-gc', '--trace-gc-verbose', '--import', 'tsx', script], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return [...run.stdout.matchAll(/\[HeapController\] Limit: .*\(([\d.]+)\)$/gm)].map((m) => Number(m[1]));
}

describe('tuneHeapGrowth', () => {
  it('makes V8 grow the old space by a factor of 2 after a full collection', () => {
    const factors = factorsApplied([]);
    expect(factors.length).toBeGreaterThan(0);
    expect(new Set(factors)).toEqual(new Set([2]));
  });

  it('leaves a --heap-growing-percent given on the command line alone', () => {
    const factors = factorsApplied(['--heap-growing-percent=50']);
    expect(factors.length).toBeGreaterThan(0);
    expect(new Set(factors)).toEqual(new Set([1.5]));
  });
});
