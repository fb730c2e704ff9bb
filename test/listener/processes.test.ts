// Smoke tests of the process entry points as a user runs them (`npm run worker`, `npm run listener`):
// they start against real Temporal and the real sandbox, do their job, and stop cleanly on SIGTERM.
// Every entry point we ship a usage for (worker, listener, sandbox, temporal:dev) answers --help and
// a bad flag in plain words, and a worker that cannot reach Temporal says so in one line.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server';
import { LISTENER_WORKFLOW_ID } from '../../src/contracts/listener';
import { connectTestClient, testTemporalAddress } from '../support/temporal';

const root = fileURLToPath(new URL('../..', import.meta.url));
const address = testTemporalAddress();

let sandbox: Awaited<ReturnType<typeof startSandbox>>;
let client: Client;
const children: ChildProcess[] = [];

function startScript(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: root,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      PCS_API_URL: sandbox.grpcUrl,
      PAS_TOKEN_URL: sandbox.tokenUrl,
      PAS_PCS_CLIENT_ID: sandbox.clientId,
      PAS_PCS_CLIENT_SECRET: sandbox.clientSecret,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (data: Buffer) => (output += data.toString()));
  child.stderr?.on('data', (data: Buffer) => (output += data.toString()));
  children.push(child);
  return { child, output: () => output };
}

async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Runs a script to its exit. */
async function runScript(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  const { child, output } = startScript(script, args, env);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, output: output() };
}

/** Lines of a stack trace ("    at fn (file:line)"). */
const STACK_LINE = /^\s+at /m;

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

beforeAll(async () => {
  sandbox = await startSandbox({});
  client = await connectTestClient(address);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await client?.workflow.getHandle(LISTENER_WORKFLOW_ID).terminate('test finished').catch(() => undefined);
  await client?.connection.close();
  await sandbox?.close();
});

describe('process entry points', () => {
  it('npm run worker starts both workers and exits cleanly on SIGTERM', async () => {
    const { child, output } = startScript('src/worker.ts');
    await waitFor('the worker to report it is running', () => output().includes('workers running') || child.exitCode !== null);
    expect(child.exitCode).toBeNull();
    expect(await stop(child)).toBe(0);
  }, 120_000);

  it('npm run listener starts the singleton listener workflow and exits cleanly on SIGTERM', async () => {
    const { child, output } = startScript('src/listener.ts');
    const handle = client.workflow.getHandle(LISTENER_WORKFLOW_ID);
    await waitFor('the listener workflow to run', async () => {
      if (child.exitCode !== null) throw new Error(`listener exited early:\n${output()}`);
      const status = await handle.describe().then((d) => d.status.name, () => undefined);
      return status === 'RUNNING' && output().includes('listener running');
    });
    expect(await stop(child)).toBe(0);
  }, 120_000);

  // The entry points of `npm run worker`, `listener`, `sandbox` and `temporal:dev`.
  const entryPoints = [
    ['worker', 'src/worker.ts', 'usage: npm run worker'],
    ['listener', 'src/listener.ts', 'usage: npm run listener'],
    ['sandbox', 'dev/sandbox/main.ts', 'npm run sandbox'],
    ['temporal:dev', 'scripts/dev-server.ts', 'usage: npm run temporal:dev'],
  ] as const;

  it.each(entryPoints)('npm run %s -- --help prints its usage and exits 0', async (_name, script, usage) => {
    const { code, output } = await runScript(script, ['--help']);
    expect(output).toContain(usage);
    expect(output).not.toMatch(STACK_LINE);
    expect(code).toBe(0);
  }, 60_000);

  it.each(entryPoints)('npm run %s with an unknown flag names it and exits 2', async (_name, script, usage) => {
    const { code, output } = await runScript(script, ['--no-such-flag']);
    expect(output).toContain('--no-such-flag');
    expect(output).toContain(usage);
    expect(output).not.toMatch(STACK_LINE);
    expect(code).toBe(2);
  }, 60_000);

  it('npm run worker without a reachable Temporal: one line naming the address, exit code 4', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const { code, output } = await runScript('src/worker.ts', [], { TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}` });
    expect(output).toContain(`worker: cannot connect to Temporal at 127.0.0.1:${closedPort}`);
    expect(output).not.toMatch(STACK_LINE);
    expect(code).toBe(4);
  }, 120_000);
});
