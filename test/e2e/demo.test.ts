// The README's main job, run as a user would: `npm run demo` spawned as a real process on its own
// Temporal dev server, sandbox, worker and listener. Its JSON report must show a completed campaign
// that passed every check against the sandbox ledger and the fallback receiver.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { UsageStats } from '../../src/api/types';
import type { ConsentStats } from '../../src/campaign/consent';
import type { OutcomeCounts } from '../../src/campaign/outcomes';
import { freePort } from '../../src/temporal/dev-server';

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('npx', ['tsx', 'scripts/demo.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo', () => {
  it('runs the example first campaign end to end and reports every check passed, with consent figures and quota use', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'demo-'));
    const [port, uiPort] = [await freePort(), await freePort()];
    const { code, stdout, stderr } = await runDemo(['--recipients', '400', '--json', '--port', String(port), '--ui-port', String(uiPort), '--data-dir', dataDir]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
      result: { status: string; total: number; counts: OutcomeCounts; consent: ConsentStats };
      checks: Record<string, boolean>;
      fallbacksReceived: number;
      usage: UsageStats;
      webUi: string;
    };
    expect(report.result.status).toBe('completed');
    expect(report.result.total).toBe(400);
    expect(Object.values(report.checks).every(Boolean), JSON.stringify(report.checks)).toBe(true);
    // A first campaign: all 400 asked; the sandbox's default mix (15 % deny, 10 % never decide) gives denials and expiries.
    expect(report.result.consent).toMatchObject({ asked: 400, alreadyConsented: 0, denied: report.result.counts.denied, expired: report.result.counts.expired });
    expect(report.result.counts.denied).toBeGreaterThanOrEqual(1);
    expect(report.result.counts.expired).toBeGreaterThanOrEqual(1);
    // The quota use, read through GetUsageStats: the demo's 400 messages of the sandbox's 1,000,000.
    expect(report.usage).toMatchObject({ currentMonthUsage: 400, monthlyMessageLimit: 1_000_000, remainingQuota: 999_600, rateLimitPerMin: 600 });
    expect(report.fallbacksReceived).toBe(report.result.counts.denied + report.result.counts.expired);
    expect(report.webUi).toContain(`127.0.0.1:${uiPort}`);
  }, 240_000);

  it('rejects a bad flag with exit code 2 and names it', async () => {
    const { code, stderr } = await runDemo(['--recipients', 'many']);
    expect(code).toBe(2);
    expect(stderr).toContain('--recipients');
  }, 60_000);
});
