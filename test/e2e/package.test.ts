// The package as a user gets it: `npm pack` (which builds dist/ first), installed into an empty
// directory with npm (only production dependencies; from the npm cache where it has them), then run
// with plain `node` and no TypeScript anywhere: the ppoppo-worker and ppoppo-listener commands against
// a Temporal dev server and the sandbox, a campaign started and awaited with ppoppo-campaign, the
// client library imported by an app script and type-checked by an app's own tsconfig.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxInspector } from '../../dev/sandbox/inspector';
import { startSandbox } from '../../src/sandbox/server';
import { startDevServer, type DevServer } from '../../dev/temporal/dev-server';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

let dir: string;
let app: string;
let tarball: string;
let temporal: DevServer;
let sandbox: Awaited<ReturnType<typeof startSandbox>>;
const processes: ChildProcess[] = [];
let env: NodeJS.ProcessEnv;

/** Runs a command of the installed package (node_modules/.bin) in the app directory. */
async function bin(name: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(join(app, 'node_modules/.bin', name), args, { cwd: app, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failure = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? 1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

/** Starts a long-running command of the installed package as a shell would, and waits for its ready line. */
async function startCommand(name: string, readyText: string): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(join(app, 'node_modules/.bin', name), [], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  processes.push(child);
  let output = '';
  child.stdout!.on('data', (data: Buffer) => (output += data.toString()));
  child.stderr!.on('data', (data: Buffer) => (output += data.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes(readyText)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start:\n${output}`);
    await sleep(100);
  }
  const stop = async () => {
    if (child.exitCode !== null) return child.exitCode;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    return ((await exited) as [number | null])[0];
  };
  return { child, output: () => output, stop };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ppoppo-package-'));
  const packed = await run('npm', ['pack', '--pack-destination', dir, '--json'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string }];
  tarball = join(dir, filename);
  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'an-app', private: true, type: 'module' }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app, maxBuffer: 64 * 1024 * 1024 });

  temporal = await startDevServer({ dbFile: join(dir, 'temporal.db') });
  sandbox = await startSandbox({ consentWindowMs: 1_500, consentDecisionDelayMs: 200 });
  // Only what a deployment sets: where Temporal and the API are, the API credentials, the payload
  // keys and where recipient files may be read.
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: temporal.address,
    PCS_API_URL: sandbox.grpcUrl,
    PAS_TOKEN_URL: sandbox.tokenUrl,
    PAS_PCS_CLIENT_ID: sandbox.clientId,
    PAS_PCS_CLIENT_SECRET: sandbox.clientSecret,
    ...(process.env.PAYLOAD_KEYS ? { PAYLOAD_KEYS: process.env.PAYLOAD_KEYS } : { PAYLOAD_KEY_FILE: process.env.PAYLOAD_KEY_FILE }),
    RECIPIENT_FILE_ROOTS: dir,
  };
}, 300_000);

afterAll(async () => {
  for (const child of processes) if (child.exitCode === null) child.kill('SIGKILL');
  await sandbox?.close();
  await temporal?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm pack, installed into an empty directory', () => {
  it('holds the built commands, library, workflow bundles and types, and no sources or dev dependencies', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean).map((file) => file.replace(/^package\//, ''));
    for (const file of ['dist/index.js', 'dist/types/src/index.d.ts', 'dist/workflows/worker.js', 'dist/workflows/listener.js', 'dist/bin/ppoppo-worker.js', 'dist/bin/ppoppo-listener.js', 'dist/bin/ppoppo-campaign.js', 'deploy/prometheus/alerts.yml']) {
      expect(files, file).toContain(file);
    }
    expect(files.filter((file) => /\.ts$/.test(file) && !file.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((file) => /^(src|test|workflows|activities|scripts)\//.test(file))).toEqual([]);
    const installed = join(app, 'node_modules');
    for (const devOnly of ['tsx', 'typescript', 'vitest', 'esbuild', 'better-sqlite3']) expect(existsSync(join(installed, devOnly)), devOnly).toBe(false);
    expect(existsSync(join(installed, '@temporalio/worker'))).toBe(true);
  });

  it('runs a worker and a listener with node, and a campaign started and awaited with ppoppo-campaign', async () => {
    const worker = await startCommand('ppoppo-worker', 'workers running');
    const listener = await startCommand('ppoppo-listener', 'listener running');
    const recipients = ['12300000001', '12300000002', '12300000003', '12300000004', ...Array.from({ length: 40 }, (_, i) => String(45_900_000_000 + i))];
    writeFileSync(join(app, 'recipients.csv'), `ppnum,name\n${recipients.map((ppnum, i) => `${ppnum},Person ${i}`).join('\n')}\n`);
    writeFileSync(join(app, 'spec.json'), JSON.stringify({
      campaignId: 'packaged',
      template: { name: 'packaged', components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { file: join(app, 'recipients.csv'), format: 'csv' },
      consentWindow: '1m', // the minimum; the sandbox's own 1.5 s window decides first
      limits: { chunkSize: 10, sendsPerChunk: 1, chunksInFlight: 2 },
    }));

    const started = await bin('ppoppo-campaign', ['start', 'spec.json', '--wait', '--json']);
    expect(started.code, started.stderr).toBe(0);
    // --wait --json prints JSON lines: the start, progress while it runs, then {type: 'result'}.
    const lines = started.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type?: string; result?: { status: string; total: number; counts: Record<string, number> } });
    const result = lines.find((line) => line.type === 'result')?.result;
    if (!result) throw new Error(`no result line in:\n${started.stdout}`);
    expect(result).toMatchObject({ status: 'completed', total: recipients.length });
    expect(result.counts.delivered).toBeGreaterThan(0);
    expect(result.counts.denied).toBeGreaterThanOrEqual(1); // …03 at least
    const ledger = await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).messages();
    expect(ledger.map((entry) => entry.ppnum).sort()).toEqual([...recipients].sort()); // everyone, once

    // The production commands ran the prebuilt bundles: nothing was bundled at start.
    expect(worker.output()).not.toMatch(/webpack|Workflow bundle created/i);
    expect(await worker.stop()).toBe(0);
    expect(await listener.stop()).toBe(0);
  }, 240_000);

  it('gives app code the client library, with types an app with its own tsconfig checks (no worker needed to read a result)', async () => {
    writeFileSync(join(app, 'status.ts'), [
      "import { CampaignClient, connectClient, type CampaignResult } from 'ppoppo-campaigns';",
      'const client = await connectClient();',
      "const result: CampaignResult = await new CampaignClient(client).result('packaged');",
      '// @ts-expect-error the campaign id is a string: the types are real, not any',
      'await new CampaignClient(client).result(42);',
      'console.log(JSON.stringify({ status: result.status, delivered: result.counts.delivered }));',
      'await client.connection.close();',
    ].join('\n'));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: true, noEmit: true, types: [] }, files: ['status.ts'] }));
    const checked = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app]).then(() => '', (err: { stdout?: string }) => err.stdout ?? 'tsc failed');
    expect(checked).toBe('');

    // The same code as plain JavaScript, run by node.
    writeFileSync(join(app, 'status.mjs'), [
      "import { CampaignClient, connectClient } from 'ppoppo-campaigns';",
      'const client = await connectClient();',
      "const result = await new CampaignClient(client).result('packaged');",
      'console.log(JSON.stringify({ status: result.status, delivered: result.counts.delivered }));',
      'await client.connection.close();',
    ].join('\n'));
    const { stdout } = await run(process.execPath, ['status.mjs'], { cwd: app, env });
    expect(JSON.parse(stdout)).toMatchObject({ status: 'completed' });
  }, 60_000);
});
