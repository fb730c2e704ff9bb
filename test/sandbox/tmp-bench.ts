import { startSandbox } from '../../src/sandbox/server';
import { connect, rpc, tokenFor, text, readStream } from './helpers';
import { SendRequestEventType as E } from '../../src/api/gen/ppoppo/external/v1/external';
const N = Number(process.argv[2] ?? 200);
const sb = await startSandbox({ dbPath: `/tmp/sbx/bench-${Date.now()}.sqlite`, streamMaxEvents: 0, streamMaxMs: 0 });
const c = connect(sb);
const token = await tokenFor(sb);
const tpl = (await rpc<any>(c.template, 'createTemplate', { name: 'b', components: [text('Hello {{name}}')] }, token)).template.id;
let completedCount = 0; let events = 0;
const streamDone = readStream(c.message, {}, token, (evs) => { const e = evs[evs.length - 1]; if (e && e.eventType === E.REQUEST_COMPLETED) completedCount++; events = evs.length; return completedCount >= N; });
const t0 = Date.now();
let base = 30000000000;
for (let i = 0; i < N; i++) {
  const recipients = Array.from({ length: 1000 }, () => ({ ppnum: String(base++), vars: { name: 'x' } }));
  await rpc(c.message, 'createSendRequest', { templateId: tpl, recipients }, token);
}
const t1 = Date.now();
console.log(`accepted ${N * 1000} in ${t1 - t0} ms`);
const r = await streamDone;
console.log(`stream saw ${r.events.length} events, all completed after ${Date.now() - t0} ms; rss ${Math.round(process.memoryUsage().rss / 1e6)} MB`);
const t2 = Date.now();
const ledger = await fetch(`${sb.httpUrl}/inspect/messages?format=ndjson`); const body = await ledger.text();
console.log(`ledger ${body.split('\n').length - 1} rows in ${Date.now() - t2} ms`);
const t3 = Date.now(); const d = await (await fetch(`${sb.httpUrl}/inspect/duplicates`)).json(); console.log('dups', (d as any).duplicates.length, Date.now() - t3, 'ms');
const t4 = Date.now(); await (await fetch(`${sb.httpUrl}/inspect/stats`)).json(); console.log('stats', Date.now() - t4, 'ms');
c.close(); await sb.close();
