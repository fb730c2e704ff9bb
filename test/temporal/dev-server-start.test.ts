// A dev server that exits while starting (a Go panic, as when a port it picked was taken meanwhile)
// is started again on fresh ports, and one that keeps exiting is reported with the panic's reason,
// not only the end of its goroutine dump. The CLI is wrapped by a script that panics on its first
// N starts, then runs the real binary.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { startDevServer, temporalCliPath, type DevServer } from '../../dev/temporal/dev-server';

const PANIC = 'panic: failed assigning ephemeral port: failed to assign a free port: connection refused';
let dir: string;
let server: DevServer | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ppoppo-dev-start-'));
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
  vi.restoreAllMocks();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A CLI that panics (exit 2, reason first, then 30 lines of goroutine dump) on its first `panics` starts. */
function flakyCli(name: string, panics: number): { path: string; starts: () => number } {
  const counter = join(dir, `${name}.starts`);
  writeFileSync(counter, '');
  const dump = Array.from({ length: 30 }, (_, i) => `\tgithub.com/temporalio/cli/frame${i}(...)`).join('\\n');
  const path = join(dir, `${name}.sh`);
  writeFileSync(
    path,
    `#!/bin/sh\necho x >> '${counter}'\nif [ "$(wc -l < '${counter}')" -le ${panics} ]; then printf '%s\\n\\ngoroutine 1 [running]:\\n${dump}\\n' '${PANIC}' >&2; exit 2; fi\nexec '${temporalCliPath()}' "$@"\n`,
  );
  chmodSync(path, 0o755);
  return { path, starts: () => readFileSync(counter, 'utf8').split('\n').filter(Boolean).length };
}

it('starts again, on fresh ports, a server that exited while starting', async () => {
  const warnings: string[] = [];
  vi.spyOn(console, 'warn').mockImplementation((line: string) => void warnings.push(line));
  const cli = flakyCli('once', 1);
  server = await startDevServer({ cliPath: cli.path });
  expect(cli.starts()).toBe(2);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain('exited with code 2 while waiting');
  expect(warnings[0]).toContain(PANIC);
  expect(warnings[0]).toContain('attempt 2 of 3');
  const health = await fetch(server.metricsUrl);
  expect(health.status).toBe(200);
});

it('reports a server that keeps exiting with the reason it gave, after three starts', async () => {
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  const cli = flakyCli('always', 99);
  const logFile = join(dir, 'always.log');
  const failure = await startDevServer({ cliPath: cli.path, logFile }).then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  expect(failure).toBeInstanceOf(Error);
  expect(failure!.message).toContain('exited with code 2');
  // The reason heads the report though the log's last lines are all goroutine frames.
  expect(failure!.message.split('\n')[1]).toBe(PANIC);
  expect(cli.starts()).toBe(3);
});
