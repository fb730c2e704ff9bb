// Does the SDK group a workflow task's events into activations the same way live as on replay, when
// a query falls back from a dead sticky worker to another one? Found behind ci34's stuck campaign
// (README, "A workflow task that keeps failing"). The sequence, on a dev server:
//   1. worker A runs the workflow's first task and keeps the run cached (sticky); A is frozen (SIGSTOP);
//   2. a query goes to A's sticky queue (no task pending), then a signal's task X is started by A's
//      other open poll; A is killed holding both;
//   3. the query falls back to worker B after the sticky timeout. Its history ends with X started, so
//      B applies X's events as a task of its own, answers, and caches the run;
//   4. X times out; two more signals; the retry reaches B, which applies only the events after X:
//      a second activation, where every replay has one.
// It then replays the history: a nondeterminism error means the runtime grouped the events differently
// live. Exit 1 when it does (the fault is there), 0 when not; --out writes the findings as JSON.
// With --repair it then does what `campaign repair` does (src/temporal/divergence.ts): finds the first
// task whose recorded commands the code does not reproduce, resets the run there, and checks that the
// new run goes on (its tasks pass, its history replays): the fix for a workflow the fault has hit.
//   npx tsx dev/query-split/probe.ts [--repair] [--out file.json]
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { HistoryReplayer, resetToWorkflowTask } from '../../src/temporal/divergence';
import { bundleWorkflowsAt } from '../../src/temporal/workflow-code';
import { installProcessLogger } from '../../src/logging';
import { startDevServer } from '../temporal/dev-server';
import { probeSignal, signalsQuery, splitProbe } from './workflows';

const { values } = parseArgs({ options: { role: { type: 'string' }, address: { type: 'string' }, identity: { type: 'string' }, out: { type: 'string' }, repair: { type: 'boolean' } } });
const workflowsPath = fileURLToPath(new URL('./workflows.ts', import.meta.url));
const taskQueue = 'query-split-probe';
const STICKY_TIMEOUT = '2s';

if (values.role === 'worker') {
  const worker = await Worker.create({ connection: await NativeConnection.connect({ address: values.address! }), taskQueue, workflowsPath, identity: values.identity, stickyQueueScheduleToStartTimeout: STICKY_TIMEOUT });
  console.log('ready');
  await worker.run();
} else {
  installProcessLogger({ terminalLevel: 'OFF' }); // the replay's worker logs; the findings are printed below
  const server = await startDevServer();
  const workers: ChildProcess[] = [];
  const startWorker = (identity: string) =>
    new Promise<ChildProcess>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--role', 'worker', '--address', server.address, '--identity', identity], { stdio: ['ignore', 'pipe', 'ignore'] });
      workers.push(child);
      child.once('exit', (code) => reject(new Error(`worker ${identity} exited (${code}) before it was ready`)));
      child.stdout!.on('data', (data: Buffer) => data.toString().includes('ready') && resolve(child));
    });
  try {
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    const a = await startWorker('A');
    const handle = await client.workflow.start(splitProbe, { taskQueue, workflowId: `query-split-${Date.now()}`, workflowTaskTimeout: '8s' });
    await sleep(1_500);
    await startWorker('B');
    await sleep(1_000);
    a.kill('SIGSTOP');
    const query = handle.query(signalsQuery).then((signals) => ({ answered: signals }), (err: unknown) => ({ failed: String(err) }));
    await sleep(200);
    await handle.signal(probeSignal); // task X, started by A's open sticky poll
    await sleep(500);
    a.kill('SIGKILL');
    await sleep(3_000); // the query falls back to B
    await handle.signal(probeSignal);
    await handle.signal(probeSignal);
    const queried = await query;
    await sleep(9_000); // X times out; B takes the retry
    await handle.signal(probeSignal); // the fourth: the activity
    await sleep(3_000);
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const timers = events.filter((event) => event.timerStartedEventAttributes).length;
    let replay = 'replayed';
    try {
      await Worker.runReplayHistory({ workflowsPath }, history, handle.workflowId);
    } catch (err) {
      replay = /\[TMPRL1100\][^"]*/.exec(String(err))?.[0] ?? String(err).split('\n')[0]!;
    }
    const split = replay !== 'replayed';
    const repair = split && values.repair ? await repairRun(client, handle.workflowId, handle.firstExecutionRunId, history) : undefined;
    const result = {
      server: 'temporal CLI dev server (pinned)',
      query: queried,
      // Three signals reached the first wait by the time the retried task ran: one timer each, on replay.
      timersRecorded: timers,
      replay,
      verdict: split ? 'the live run grouped the events differently from the replay (the fault is there)' : 'live and replay agree',
      ...(repair ? { repair } : {}),
    };
    console.log(JSON.stringify(result, null, 2));
    if (values.out) writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n');
    await handle.terminate('probe done').catch(() => undefined);
    process.exitCode = split ? 1 : 0;
    if (repair && !repair.goesOn) process.exitCode = 2;
  } finally {
    for (const worker of workers) worker.kill('SIGKILL');
    await server.stop();
  }
}

/** Resets the run where replay first parts from it, then lets the new run work: do its tasks pass, does it replay? */
async function repairRun(client: Client, workflowId: string, runId: string, history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>) {
  const divergence = await new HistoryReplayer(undefined, () => bundleWorkflowsAt(workflowsPath)).findDivergence(history, workflowId);
  if (!divergence) return { resetTo: null, goesOn: false };
  const newRunId = await resetToWorkflowTask(client, { workflowId, runId }, divergence.completedEventId, 'query-split probe');
  const handle = client.workflow.getHandle(workflowId, newRunId);
  await sleep(3_000);
  await handle.signal(probeSignal); // more work for the new run
  await sleep(3_000);
  const events = (await handle.fetchHistory()).events ?? [];
  const taskFailures = events.filter((event) => event.workflowTaskFailedEventAttributes && event.workflowTaskFailedEventAttributes.cause !== proto.temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW).length;
  let replays = true;
  try {
    await Worker.runReplayHistory({ workflowsPath }, { events }, workflowId);
  } catch {
    replays = false;
  }
  return { resetTo: divergence.completedEventId, newRunId, newRunEvents: events.length, newRunTaskFailures: taskFailures, newRunReplays: replays, goesOn: taskFailures === 0 && replays };
}
