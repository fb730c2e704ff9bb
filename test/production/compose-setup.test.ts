// docker-compose's temporal-setup one-shot, run against the real server binary: the script text is
// taken from docker-compose.yml and run with the pinned `temporal` CLI, as the container runs it.
// The server starts bare, as temporalio/auto-setup's is when it first reports SERVING: the namespace
// does not exist yet (auto-setup creates it in the background moments later). A one-shot that
// registers search attributes right then fails; ours waits, and succeeds once the namespace exists.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startProductionServer, type ProductionServer } from '../../dev/temporal/production-server';
import { temporalCliPath } from '../../dev/temporal/dev-server';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/names';
import { LANE_DIR } from './global-setup';

const ROOT = new URL('../../', import.meta.url).pathname;
/** How auto-setup's background step creates the namespace after SERVING. */
const NAMESPACE_CREATED_AFTER_MS = 6_000;

let server: ProductionServer;
const dir = mkdtempSync(join(tmpdir(), 'ppoppo-compose-setup-'));
const cli = temporalCliPath();
const env = () => ({ ...process.env, PATH: `${dirname(cli)}:${process.env.PATH ?? ''}`, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: 'default' });

/** The temporal-setup command of docker-compose.yml, with compose's `$$` escapes resolved. */
function composeSetupScript(): string {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { command: string[] }> };
  return compose.services['temporal-setup']!.command.join('\n').replaceAll('$$', '$');
}

beforeAll(async () => {
  server = await startProductionServer({ dir, logFile: join(LANE_DIR, 'compose-setup-temporal.log'), setupNamespace: false });
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("docker-compose's temporal-setup against a server that has just reported SERVING", () => {
  it('a one-shot without retries fails there: the namespace does not exist yet', async () => {
    const failure = await promisify(execFile)(cli, ['operator', 'search-attribute', 'list', '--namespace', 'default'], { env: env() }).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/Namespace default is not found/);
  });

  it('our one-shot waits for the namespace, then registers exactly our search attributes and exits 0', async () => {
    const setup = spawn('/bin/sh', ['-c', composeSetupScript()], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    setup.stdout.on('data', (data: Buffer) => (output += data.toString()));
    setup.stderr.on('data', (data: Buffer) => (output += data.toString()));
    const exited = once(setup, 'exit') as Promise<[number | null]>;

    await new Promise((resolve) => setTimeout(resolve, NAMESPACE_CREATED_AFTER_MS));
    expect(setup.exitCode, `the script gave up before the namespace existed:\n${output}`).toBeNull();
    await promisify(execFile)(cli, ['operator', 'namespace', 'create', '--namespace', 'default', '--retention', '72h'], { env: env() });

    const [code] = await exited;
    expect(code, output).toBe(0);
    expect(output).toMatch(/namespace default not ready yet \(attempt 1 of 60\)/);
    expect(output).toContain('search attributes registered in namespace default');

    const connection = await Connection.connect({ address: server.address });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(customAttributes ?? {}).filter((name) => name.startsWith('Ppoppo')).sort()).toEqual(Object.keys(SEARCH_ATTRIBUTES).sort());
    } finally {
      await connection.close();
    }
  }, 180_000);
});
