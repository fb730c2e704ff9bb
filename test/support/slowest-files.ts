// A Vitest reporter beside the default one: after the run, the slowest test files (their tests and
// hooks), so a change that makes the suite slower shows where. `npm test` prints it for each project.
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

const SHOWN = 10;

export default class SlowestFiles implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const timed = modules
      .map((module) => ({ file: relative(process.cwd(), module.moduleId), ms: module.diagnostic().duration }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, SHOWN);
    if (timed.length === 0) return;
    const total = modules.reduce((sum, module) => sum + module.diagnostic().duration, 0);
    console.log(`\nslowest test files (tests and hooks; ${(total / 1000).toFixed(0)} s over all ${modules.length} files):`);
    for (const { file, ms } of timed) console.log(`  ${(ms / 1000).toFixed(1).padStart(7)} s  ${file}`);
  }
}
