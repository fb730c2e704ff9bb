// A Vitest reporter beside the default one: after the run, the slowest test files (their tests and
// hooks) with the CPU each used (test/support/file-cpu.ts), so a change that makes the suite slower
// shows where. `npm test` prints it for each pass.
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

const SHOWN = 12;

/** Written by test/support/file-cpu.ts in each fork: one JSON line per test file. */
export const FILE_CPU_LOG = 'test-results/file-cpu.jsonl';

/** The latest CPU figure per test file. */
function cpuByFile(): Map<string, number> {
  const cpu = new Map<string, number>();
  if (!existsSync(FILE_CPU_LOG)) return cpu;
  for (const line of readFileSync(FILE_CPU_LOG, 'utf8').split('\n').filter(Boolean)) {
    const entry = JSON.parse(line) as { file: string; cpuSeconds: number };
    cpu.set(entry.file, entry.cpuSeconds);
  }
  return cpu;
}

export default class SlowestFiles implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (modules.length === 0) return;
    const cpu = cpuByFile();
    const timed = modules
      .map((module) => ({ file: relative(process.cwd(), module.moduleId), ms: module.diagnostic().duration, cpu: cpu.get(module.moduleId) }))
      .sort((a, b) => b.ms - a.ms);
    const total = timed.reduce((sum, { ms }) => sum + ms, 0);
    const totalCpu = timed.reduce((sum, file) => sum + (file.cpu ?? 0), 0);
    console.log(`\nslowest test files (tests and hooks; ${(total / 1000).toFixed(0)} s and ${totalCpu.toFixed(0)} CPU-s over all ${modules.length} files):`);
    for (const { file, ms, cpu: seconds } of timed.slice(0, SHOWN)) {
      console.log(`  ${(ms / 1000).toFixed(1).padStart(7)} s  ${seconds === undefined ? '       ?' : seconds.toFixed(1).padStart(7)} CPU-s  ${file}`);
    }
  }
}
