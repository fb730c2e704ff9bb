// Does the pinned Temporal server share a rate-limited task queue by fairness key and weight?
// Starts a dev server (fairness on, or off as the control), a worker whose queue is dispatched at
// RATE activities per second (as the send queue is), and two loads of activities under fairness keys
// "a" (weight WEIGHT_A) and "b" (weight 1), "b" starting 2 s after "a" has queued its whole backlog.
// Prints each key's share of the dispatches while both have work queued, and writes JSON.
//   npx tsx dev/fairness/probe.ts [--fairness on|off] [--weight-a 3] [--rate 10] [--out file.json]
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startDevServer } from '../temporal/dev-server';
import { fairnessLoad } from './workflows';

const { values } = parseArgs({ options: { fairness: { type: 'string', default: 'on' }, 'weight-a': { type: 'string', default: '3' }, rate: { type: 'string', default: '10' }, out: { type: 'string' } } });
const fairness = values.fairness === 'on';
const weightA = Number(values['weight-a']);
const rate = Number(values.rate);
const perLoad = rate * 20;
const taskQueue = 'fairness-probe';

const server = await startDevServer({ dynamicConfig: fairness ? { 'matching.useNewMatcher': true, 'matching.enableFairness': true } : {} });
const dispatches: { key: string; at: number }[] = [];
try {
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: server.address }),
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
    activities: { dispatched: async (key: string) => void dispatches.push({ key, at: Date.now() }) },
    maxTaskQueueActivitiesPerSecond: rate,
  });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  const start = (key: string, weight: number) => client.workflow.start(fairnessLoad, { taskQueue, workflowId: `load-${key}`, args: [key, weight, perLoad, taskQueue] });
  const a = await start('a', weightA);
  await sleep(2_000);
  const bStartedAt = Date.now();
  const b = await start('b', 1);
  await Promise.all([a.result(), b.result()]);
  worker.shutdown();
  await running;

  // While both have work queued: from b's start until either load's last dispatch.
  const lastOf = (key: string) => Math.max(...dispatches.filter((d) => d.key === key).map((d) => d.at));
  const until = Math.min(lastOf('a'), lastOf('b'));
  const both = dispatches.filter((d) => d.at >= bStartedAt + 1_000 && d.at <= until);
  const share = (key: string) => (both.length > 0 ? both.filter((d) => d.key === key).length / both.length : null);
  const result = {
    server: 'temporal CLI dev server (pinned)',
    fairness,
    weights: { a: weightA, b: 1 },
    ratePerSecond: rate,
    activitiesPerLoad: perLoad,
    windowSeconds: (until - bStartedAt - 1_000) / 1_000,
    dispatchesInWindow: both.length,
    shareA: share('a'),
    shareB: share('b'),
    expectedShareA: fairness ? weightA / (weightA + 1) : null,
  };
  console.log(`fairness ${fairness ? 'on' : 'off'}, weights a:b = ${weightA}:1, queue at ${rate}/s: while both had work, a got ${((result.shareA ?? 0) * 100).toFixed(1)} %, b ${((result.shareB ?? 0) * 100).toFixed(1)} % of ${both.length} dispatches over ${result.windowSeconds.toFixed(1)} s`);
  if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await server.stop();
}
