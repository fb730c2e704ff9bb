// The README's main job, run as a user would: `npm run demo` spawned as a real process on its own
// Temporal dev server, sandbox, worker and listener. Its JSON report must show a completed campaign
// that passed every check against the sandbox ledger and the fallback receiver (signed webhooks
// included). Run as on a fresh machine without payload keys: the demo makes its own key file.
import { spawn } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OutcomeCounts } from '../../src/campaign/outcomes';
import { freePort } from '../../src/temporal/dev-server';

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, PAYLOAD_KEYS: '', PAYLOAD_KEY_FILE: '', RECIPIENT_FILE_ROOTS: '' }; // as a fresh shell has it
    const child = spawn('npx', ['tsx', 'scripts/demo.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo', () => {
  it('runs the example campaign end to end and reports every check passed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'demo-'));
    const [port, uiPort, codecPort] = [await freePort(), await freePort(), await freePort()];
    const { code, stdout, stderr } = await runDemo(['--recipients', '400', '--json', '--port', String(port), '--ui-port', String(uiPort), '--codec-port', String(codecPort), '--data-dir', dataDir]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
      result: { status: string; total: number; counts: OutcomeCounts };
      checks: Record<string, boolean>;
      fallbacksReceived: number;
      webUi: string;
      payloadKeyFile: string;
      codecServer: string;
    };
    expect(report.checks.fallbacksSigned).toBe(true);
    expect(report.payloadKeyFile).toBe(join(dataDir, 'payload-keys'));
    expect(statSync(report.payloadKeyFile).mode & 0o777).toBe(0o600);
    expect(report.codecServer).toBe(`http://127.0.0.1:${codecPort}`);
    expect(report.result.status).toBe('completed');
    expect(report.result.total).toBe(400);
    expect(Object.values(report.checks).every(Boolean), JSON.stringify(report.checks)).toBe(true);
    // The sandbox test numbers guarantee at least one denial (…03) and one expiry (…05).
    expect(report.result.counts.denied).toBeGreaterThanOrEqual(1);
    expect(report.result.counts.expired).toBeGreaterThanOrEqual(1);
    expect(report.fallbacksReceived).toBe(report.result.counts.denied + report.result.counts.expired);
    expect(report.webUi).toContain(`127.0.0.1:${uiPort}`);
  }, 240_000);

  it('rejects a bad flag with exit code 2 and names it', async () => {
    const { code, stderr } = await runDemo(['--recipients', 'many']);
    expect(code).toBe(2);
    expect(stderr).toContain('--recipients');
  }, 60_000);
});
