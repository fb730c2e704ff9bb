// sandbox-only cost (not committed): N requests of 1000, stream all events until N*1000 delivered
import { mkdtempSync, mkdirSync } from 'node:fs';
import { PpoppoClient } from './src/api/client';
import { makeClientConfig } from './src/api/config';
import { DEFAULT_APP } from './src/sandbox/options';
import { startSandboxProcess } from './dev/stack/start-stack';
import { cpuSeconds } from './dev/bench/measure';
import { BENCH_TEMPLATE } from './dev/bench/orchestrator';
const N = Number(process.argv[2] ?? 40);
mkdirSync('/tmp/sbx', { recursive: true });
const dir = mkdtempSync('/tmp/sbx/run-');
const { sandbox, grpcPort, httpPort } = await startSandboxProcess(dir, 'sandbox', { 'outcome-mix': '100/0/0/0/0', 'monthly-quota': 'off', 'rate-limit-rps': 'off' });
const client = new PpoppoClient(makeClientConfig({ apiUrl: `http://127.0.0.1:${grpcPort}`, tokenUrl: `http://127.0.0.1:${httpPort}/oauth/token`, clientId: DEFAULT_APP.clientId, clientSecret: DEFAULT_APP.clientSecret }));
const { id: templateId } = await client.createTemplate(BENCH_TEMPLATE);
const stream = client.streamEvents({});
await new Promise((r) => setTimeout(r, 500));
const c0 = cpuSeconds(sandbox.pid); const t0 = Date.now();
let delivered = 0;
const done = (async () => { for await (const b of stream.batches()) { for (const e of b) if (e.type === 'RECIPIENT_DELIVERED') delivered++; if (delivered >= N * 1000) break; } })();
let p = 45_700_000_000;
for (let i = 0; i < N; i++) {
  const recipients = Array.from({ length: 1000 }, (_, j) => ({ ppnum: String(p + j), vars: { name: `Person ${j}` } }));
  p += 1000;
  await client.createSendRequest({ templateId, recipients });
}
await done;
const c = cpuSeconds(sandbox.pid) - c0;
console.log(JSON.stringify({ N, sec: (Date.now() - t0) / 1000, sandboxMsPer1000: (c * 1000) / N }));
stream.close(); client.close(); await sandbox.kill();
