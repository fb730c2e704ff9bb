// The stack the campaign CLI's tests run against (cli.test.ts, cli-follow-ups.test.ts, each with its
// own): the Ppoppo sandbox, the production worker and listener in the test process on unique task
// queues, the shared Temporal test server. Commands run in this process (`cli`, `runHere`: the CLI's
// main, src/cli/program.ts, with its output captured and the environment a process would get), and
// a few as a user runs them (`cliProcess`, `runProcess`): a real process of the built command
// (ppoppo-campaign, as installed; the test setup builds it). A process costs most of a CPU-second.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import { PpoppoClient } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import { runListener } from '../../src/listener';
import type { RunningListener } from '../../src/listener';
import { startSandbox } from '../../src/sandbox/server';
import { runWorkers } from '../../src/worker';
import type { RunningWorkers } from '../../src/worker';
import type { CampaignProgress } from '../../src/contracts/campaign';
import { connectTestClient, connectTestWorkerConnection, testTemporalAddress } from '../support/temporal';
import { quietTemporalLogs } from '../support/quiet-logs';
import { builtCommand } from '../../scripts/package-commands';
import { main } from '../../src/cli/program';

export const run = randomUUID().slice(0, 8);
export const queues = { campaigns: `cli-campaigns-${run}`, send: `cli-send-${run}` };
export const dir = mkdtempSync(join(tmpdir(), 'campaign-cli-'));

export let sandbox: Awaited<ReturnType<typeof startSandbox>>;
export let ppoppo: PpoppoClient;
export let temporal: Client;
export let connection: NativeConnection;
export let workers: RunningWorkers;
export let listener: RunningListener;
export let env: Record<string, string>;

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runProcess(args: string[], extraEnv: Record<string, string> = {}, asIs = false): Promise<Ran> {
  return new Promise((resolve) => {
    // TypeScript through `node --import tsx` (npx and tsx's own CLI cost a second of CPU per command).
    const [command, ...rest] = asIs ? args : [process.execPath, ...(args[0]!.endsWith('.ts') ? ['--import', 'tsx'] : []), ...args];
    const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export const CAMPAIGN = builtCommand('ppoppo-campaign');
/** A real process of the built command. */
export const cliProcess = (...args: string[]) => runProcess([CAMPAIGN, ...args]);

/** The command line run in this process: what it wrote to stdout and stderr, and the exit code main returned. */
export async function runHere(args: string[], extraEnv: Record<string, string> = {}): Promise<Ran> {
  const captured = { stdout: '', stderr: '' };
  const sink = (name: keyof typeof captured) =>
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        captured[name] += chunk.toString();
        callback();
      },
    });
  const [stdout, stderr] = [sink('stdout'), sink('stderr')];
  const code = await main(args, { stdout, stderr, env: { ...process.env, ...env, ...extraEnv } });
  stdout.end();
  stderr.end();
  await Promise.all([finished(stdout), finished(stderr)]);
  return { code, ...captured };
}
export const cli = (...args: string[]) => runHere(args);

export function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export const TEMPLATE = { name: `cli-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] };

/** Runs `status --json` until its progress passes `done` (30 s at most). */
export async function pollUntilCli(command: () => Promise<Ran>, done: (progress: CampaignProgress) => boolean): Promise<CampaignProgress> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ran = await command();
    const progress = ran.code === 0 ? (JSON.parse(ran.stdout) as { progress: CampaignProgress }).progress : undefined;
    if (progress && done(progress)) return progress;
    if (Date.now() > deadline) throw new Error(`timed out; last output: ${ran.stdout}${ran.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Starts the sandbox, workers and listener for the calling test file (and stops them after it). */
export function useCliStack(): void {
  beforeAll(async () => {
    quietTemporalLogs();
    // Consent decisions within 200 ms; an undecided consent (…05) expires after 45 s, which gives
    // the cancel test time to pause, resume, list and cancel while its one chunk is still open.
    sandbox = await startSandbox({ consentDecisionDelayMs: 200, consentWindowMs: 45_000 });
    ppoppo = new PpoppoClient(makeClientConfig({ apiUrl: sandbox.grpcUrl, tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret }));
    temporal = await connectTestClient();
    connection = await connectTestWorkerConnection();
    workers = await runWorkers({ connection, temporalClient: temporal, ppoppoClient: ppoppo, taskQueues: queues, listenerWorkflowId: `cli-listener-${run}` });
    listener = await runListener({
      connection,
      temporalClient: temporal,
      ppoppoClient: ppoppo,
      taskQueue: `cli-listener-${run}`,
      workflowId: `cli-listener-${run}`,
      maxRunMs: 2_000,
      batchMaxDelayMs: 100,
      actionableMaxDelayMs: 100,
    });
    env = {
      TEMPORAL_ADDRESS: testTemporalAddress(),
      CAMPAIGN_TASK_QUEUE: queues.campaigns,
      CAMPAIGN_SEND_TASK_QUEUE: queues.send,
      PCS_API_URL: sandbox.grpcUrl,
      PAS_TOKEN_URL: sandbox.tokenUrl,
      PAS_PCS_CLIENT_ID: sandbox.clientId,
      PAS_PCS_CLIENT_SECRET: sandbox.clientSecret,
    };
  }, 120_000);

  afterAll(async () => {
    for await (const info of temporal.workflow.list({ query: `TaskQueue = "${queues.campaigns}" AND ExecutionStatus = "Running"` })) {
      await temporal.workflow.getHandle(info.workflowId).terminate('test finished').catch(() => undefined);
    }
    await temporal?.workflow.getHandle(`cli-listener-${run}`).terminate('test finished').catch(() => undefined);
    await listener?.shutdown();
    await workers?.shutdown();
    await connection?.close();
    await temporal?.connection.close();
    await sandbox?.close();
  });
}
