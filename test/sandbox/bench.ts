// Manual benchmark (not a test): `npx tsx test/sandbox/bench.ts [requests]` sends `requests` send
// requests of 1,000 recipients each (default 1,000 = 1,000,000 recipients) to a fresh file-backed
// sandbox while one app-wide stream reads every event, then times the ledger and inspection reads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendRequestEventType as E, type Template } from '../../src/api/gen/ppoppo/external/v1/external';
import { startSandbox } from '../../src/sandbox/server';
import { connect, readStream, rpc, text, tokenFor } from './helpers';

const requests = Number(process.argv[2] ?? 1000);
const dir = mkdtempSync(join(tmpdir(), 'sandbox-bench-'));
// No consent expiry: with the 24 h window those requests would not complete during the run.
const sandbox = await startSandbox({ dbPath: join(dir, 'bench.sqlite'), streamMaxEvents: 0, streamMaxMs: 0, outcomeMix: { consentExpired: 0 } });
const clients = connect(sandbox);
const token = await tokenFor(sandbox);
const templateId = (await rpc<{ template: Template }>(clients.template, 'createTemplate', { name: 'bench', components: [text('Hello {{name}}')] }, token)).template.id;

let completedRequests = 0;
const started = Date.now();
const streamed = readStream(clients.message, {}, token, (events) => {
  if (events.at(-1)?.eventType === E.REQUEST_COMPLETED) completedRequests++;
  return completedRequests >= requests;
});
let ppnum = 30_000_000_000;
for (let i = 0; i < requests; i++) {
  const recipients = Array.from({ length: 1000 }, () => ({ ppnum: String(ppnum++), vars: { name: 'x' } }));
  await rpc(clients.message, 'createSendRequest', { templateId, recipients }, token);
}
console.log(`accepted ${requests * 1000} recipients in ${Date.now() - started} ms`);
const { events } = await streamed;
console.log(`streamed ${events.length} events; every request completed after ${Date.now() - started} ms`);

let t = Date.now();
const auth = { headers: { authorization: `Bearer ${sandbox.inspectToken}` } };
const ledger = await (await fetch(`${sandbox.httpUrl}/inspect/messages?format=ndjson`, auth)).text();
console.log(`ledger: ${ledger.split('\n').length - 1} rows in ${Date.now() - t} ms`);
t = Date.now();
const { duplicates } = (await (await fetch(`${sandbox.httpUrl}/inspect/duplicates`, auth)).json()) as { duplicates: unknown[] };
console.log(`duplicates: ${duplicates.length} in ${Date.now() - t} ms`);

clients.close();
await sandbox.close();
rmSync(dir, { recursive: true, force: true });
