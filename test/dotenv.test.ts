// `.env` for our processes: loaded from the working directory (or ENV_FILE), never over what the
// environment already says; and the campaign CLI really reads it.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadDotEnv } from '../src/dotenv';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('loadDotEnv', () => {
  it('adds what the file sets, keeps what the environment already has, and names a missing ENV_FILE', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dotenv-')), '.env');
    writeFileSync(file, 'DOTENV_TEST_NEW=from-file\nDOTENV_TEST_SET=from-file\n');
    process.env.DOTENV_TEST_SET = 'from-env';
    expect(loadDotEnv(file)).toBe(file);
    expect([process.env.DOTENV_TEST_NEW, process.env.DOTENV_TEST_SET]).toEqual(['from-file', 'from-env']);
    expect(loadDotEnv(join(tmpdir(), 'no-such-dir', '.env'))).toBeUndefined();
    process.env.ENV_FILE = join(tmpdir(), 'no-such-dir', '.env');
    try {
      expect(() => loadDotEnv()).toThrow('ENV_FILE names');
    } finally {
      delete process.env.ENV_FILE;
    }
  });

  it('is read by the campaign CLI from its working directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'dotenv-cli-'));
    writeFileSync(join(cwd, '.env'), 'TEMPORAL_ADDRESS=127.0.0.1:1\nTEMPORAL_CONNECT_TIMEOUT=1s\n');
    const env = { ...process.env };
    delete env.TEMPORAL_ADDRESS;
    // tsx by its path: the working directory is outside the project on purpose.
    const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
    const child = spawn(process.execPath, ['--import', tsx, join(root, 'src/cli/main.ts'), 'status', 'anything'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(4);
    expect(stderr).toContain('cannot connect to Temporal at 127.0.0.1:1');
  }, 60_000);

  it('is read by the worker and the listener too (a missing ENV_FILE stops them, naming it)', async () => {
    for (const script of ['src/worker.ts', 'src/listener.ts']) {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, env: { ...process.env, ENV_FILE: '/nonexistent/.env' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code, script).toBe(2);
      expect(stderr).toContain('ENV_FILE names /nonexistent/.env, which does not exist');
    }
  }, 60_000);
});
