// Does the SDK hand a local activity's result to the workflow in the same workflow task live as on
// replay, when a query is answered meanwhile? SDK core (sdk-core in @temporalio/core-bridge 1.24)
// answers a query that came with a workflow task as soon as the workflow is idle, even with a local
// activity running; if the activity finished while the query was answered, the task completes with
// the activity's marker and a forced new task, in which the workflow gets the result. Replay reads
// the marker and hands the result over in the first task. Code after a local activity that looks at
// the time (or at signals that arrive meanwhile) then replays differently. Behind the chunk test's
// intermittent "[TMPRL1100] Timer fired event did not have expected timer id" and the
// chunks' afterLocalActivities 'fixed' (src/contracts/chunk.ts). The sequence, on a dev server:
//   1. the workflow waits for a signal; its worker stops;
//   2. the signal schedules a workflow task nobody takes, and a query waits on it (the server hands
//      the query over with that task);
//   3. a new worker takes the task: the signal starts a 20 ms local activity, then the query, whose
//      answer takes about a second, is answered; the activity finishes meanwhile;
//   4. a second signal arrives while the query is answered; after the activity, the workflow sleeps
//      1 ms only if what it looks at (the time, the history length, the signals) changed meanwhile.
// It then replays each history: a nondeterminism error means the result came a task later live.
// Measured on 1.24.0: the history length and the signals part, the time does not.
// Exit 1 when it does (the fault is there), 0 when not; --out writes the findings as JSON.
//   npx tsx dev/late-local-result/probe.ts [--out file.json]
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { installProcessLogger } from '../../src/logging';
import { eventList } from '../../src/temporal/divergence';
import { startDevServer } from '../temporal/dev-server';
import { goSignal, laterSignal, lateLocalProbe, slowQuery, type LookAt } from './workflows';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const looks: LookAt[] = ['time', 'history length', 'signals'];
const workflowsPath = fileURLToPath(new URL('./workflows.ts', import.meta.url));
const taskQueue = 'late-local-result-probe';

installProcessLogger({ terminalLevel: 'OFF' }); // the replay's worker logs; the findings are printed below
const server = await startDevServer();
try {
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const activities = { quick: () => sleep(20) };
  const startWorker = async () => {
    const worker = await Worker.create({ connection: await NativeConnection.connect({ address: server.address }), taskQueue, workflowsPath, activities });
    return { worker, running: worker.run() };
  };
  const results = [];
  for (const lookAt of looks) {
    const first = await startWorker();
    const handle = await client.workflow.start(lateLocalProbe, { taskQueue, workflowId: `late-local-result-${Date.now()}`, args: [lookAt] });
    await sleep(1_000);
    first.worker.shutdown();
    await first.running;
    await handle.signal(goSignal);
    const query = handle.query(slowQuery).then(() => 'answered', (err: unknown) => `failed: ${String(err)}`);
    await sleep(500);
    const second = await startWorker();
    await sleep(300); // the query is being answered
    await handle.signal(laterSignal);
    const queried = await query;
    const live = await handle.result();
    const history = await handle.fetchHistory();
    second.worker.shutdown();
    await second.running;
    let replay = 'replayed';
    try {
      await Worker.runReplayHistory({ workflowsPath }, history, handle.workflowId);
    } catch (err) {
      replay = /\[TMPRL1100\][^"]*/.exec(String(err))?.[0] ?? String(err).split('\n')[0]!;
    }
    const events = eventList(history.events ?? []);
    results.push({ lookAt, query: queried, live, replay, events });
  }
  const faulty = results.filter((r) => r.replay !== 'replayed').map((r) => r.lookAt);
  const result = {
    server: 'temporal CLI dev server (pinned)',
    results,
    verdict: faulty.length > 0 ? `replay parts from the live run when the code after the local activity looks at: ${faulty.join(', ')} (the fault is there)` : 'live and replay agree',
  };
  console.log(JSON.stringify(result, null, 2));
  if (values.out) writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n');
  process.exitCode = faulty.length > 0 ? 1 : 0;
  await connection.close();
} finally {
  await server.stop();
}
process.exit(); // the SDK's native runtime keeps the process alive otherwise
