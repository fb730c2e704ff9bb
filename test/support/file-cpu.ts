// Setup file: the CPU each test file used (its fork, plus the processes it started and waited for),
// appended to test-results/file-cpu.jsonl for the slowest-files report. Wall time alone hides which
// files load the 2 cores that the passes share.
import { appendFileSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { FILE_CPU_LOG } from './slowest-files';

/** CPU seconds of this process and of its children that have exited, from /proc (Linux). */
function cpuSeconds(): number | undefined {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    // utime, stime, cutime, cstime: fields 14 to 17, i.e. 11 to 14 after the command name.
    return fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks), 0) / 100;
  } catch {
    return undefined;
  }
}

let atStart: number | undefined;
let startedAt = 0;
beforeAll(() => {
  atStart = cpuSeconds();
  startedAt = Date.now();
});
afterAll((suite) => {
  const now = cpuSeconds();
  if (atStart === undefined || now === undefined || !('filepath' in suite)) return;
  // When the file started and ended too (ms since the epoch): how a pass's files packed into its slots.
  appendFileSync(FILE_CPU_LOG, `${JSON.stringify({ file: suite.filepath, cpuSeconds: now - atStart, startedAt, endedAt: Date.now() })}\n`);
});
