// The README's main job, run as a user would: `npm run demo` spawned as a real process on its own
// Temporal dev server, sandbox, worker and listener. Its JSON report must show a completed campaign
// that passed every check against the sandbox ledger and the fallback receiver (signed webhooks
// included), and its terminal output must stay readable: the faults the demo provokes on purpose
// (through the sandbox's fault switches: one refusal, one lost answer) are one plain line each, while
// the full worker log, with the failures' details, is in the data dir. Run as on a fresh machine
// without payload keys: the demo makes its own key file.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { UsageStats } from '../../src/api/types';
import type { ConsentStats } from '../../src/campaign/consent';
import type { OutcomeCounts } from '../../src/campaign/outcomes';
import { SEND_FAILURE_TYPES } from '../../src/contracts/chunk';
import { freePort } from '../../dev/ports';

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, PAYLOAD_KEYS: '', PAYLOAD_KEY_FILE: '', RECIPIENT_FILE_ROOTS: '' }; // as a fresh shell has it
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Lines of a stack trace ("    at fn (file:line)"). */
const STACK_LINE = /^\s+at /m;

describe('npm run demo', () => {
  it('runs the example first campaign end to end: every check passed, consent figures and quota use, a readable terminal', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'demo-'));
    const [port, uiPort, codecPort] = [await freePort(), await freePort(), await freePort()];
    const { code, stdout, stderr } = await runDemo(['--recipients', '400', '--json', '--port', String(port), '--ui-port', String(uiPort), '--codec-port', String(codecPort), '--data-dir', dataDir]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
      result: { status: string; total: number; counts: OutcomeCounts; consent: ConsentStats };
      checks: Record<string, boolean>;
      fallbacksReceived: number;
      usage: UsageStats;
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
    // A first campaign: all 400 asked; the sandbox's default mix (15 % deny, 10 % never decide) gives denials and expiries.
    expect(report.result.consent).toMatchObject({ asked: 400, alreadyConsented: 0, denied: report.result.counts.denied, expired: report.result.counts.expired });
    expect(report.result.counts.denied).toBeGreaterThanOrEqual(1);
    expect(report.result.counts.expired).toBeGreaterThanOrEqual(1);
    // The quota use, read through GetUsageStats: the demo's 400 messages of the sandbox's 1,000,000.
    expect(report.usage).toMatchObject({ currentMonthUsage: 400, monthlyMessageLimit: 1_000_000, remainingQuota: 999_600, rateLimitPerMin: 600 });
    expect(report.fallbacksReceived).toBe(report.result.counts.denied + report.result.counts.expired);
    expect(report.webUi).toContain(`127.0.0.1:${uiPort}`);

    // The terminal: no stack trace, no task token, no SDK noise; each provoked fault in one plain line.
    const terminal = `${stdout}\n${stderr}`;
    expect(terminal).not.toMatch(STACK_LINE);
    expect(terminal).not.toContain('No workflows registered');
    expect(terminal).not.toContain('taskToken');
    expect(stderr).toMatch(/^campaign demo-\d+, chunk \d+: send refused \(UNAVAILABLE\), nothing was accepted; sending again .+$/m);
    expect(stderr).toMatch(/^campaign demo-\d+, chunk \d+: the answer to the send was lost \(INTERNAL\); checking with the API .+$/m);

    // The full log is in the data dir, with the failures' types and stacks, and still no task token.
    const workerLog = join(dataDir, 'worker.log');
    expect(existsSync(workerLog)).toBe(true);
    const log = readFileSync(workerLog, 'utf8');
    expect(log).toContain(SEND_FAILURE_TYPES.refused);
    expect(log).toContain(SEND_FAILURE_TYPES.ambiguous);
    expect(log).toContain('No workflows registered');
    expect(log).toMatch(STACK_LINE);
    expect(log).not.toContain('taskToken');
  }, 240_000);

  it('rejects a bad flag with exit code 2 and names it', async () => {
    const { code, stderr } = await runDemo(['--recipients', 'many']);
    expect(code).toBe(2);
    expect(stderr).toContain('--recipients');
  }, 60_000);

  it('npm start with a sandbox port in use: one line naming the port and the flag, exit code 3', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const takenPort = (taken.address() as { port: number }).port;
    try {
      const dataDir = mkdtempSync(join(tmpdir(), 'demo-serve-'));
      const [port, uiPort, codecPort, httpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
      const { code, stdout, stderr } = await runDemo(['--serve', '--data-dir', dataDir, '--port', String(port), '--ui-port', String(uiPort), '--codec-port', String(codecPort), '--sandbox-grpc-port', String(takenPort), '--sandbox-http-port', String(httpPort)]);
      expect(code, stderr).toBe(3);
      expect(stderr).toContain(`port ${takenPort} is in use: stop what listens there, or choose another port with --sandbox-grpc-port N`);
      expect(`${stdout}\n${stderr}`).not.toMatch(STACK_LINE);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 60_000);
});
