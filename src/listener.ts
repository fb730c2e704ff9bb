// The listener process (`npm run listener`): a worker on 'ppoppo-listener' that hosts both the
// singleton listener workflow and its consumeEvents activity, and makes sure that workflow runs.
//
// The workflow lives on the listener's own task queue so this process is self-contained; while
// it is down the workflow simply waits (and beginSend's cursor query times out → null cursor).
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import type { PpoppoClient } from './api/client';
import { TASK_QUEUES } from './temporal/names';
import { LISTENER_WORKFLOW_ID, LISTENER_WORKFLOW_TYPE } from './contracts/listener';
import type { ListenerWorkflowInput } from './contracts/listener';
import { createListenerActivities } from '../activities/listener';
import type { ListenerDeps } from '../activities/listener';
import type { listenerWorkflow } from '../workflows/listener/workflow';
import { envNumber, isMainModule, openProcessDeps, PROCESS_FLAGS_USAGE, runProcess } from './run-helpers';
import { describeTemporalConfig, temporalConfigFromEnv } from './temporal/config';

export const LISTENER_WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/listener/workflow.ts', import.meta.url));

export interface RunListenerOptions extends Pick<ListenerDeps, 'batchMaxEvents' | 'batchMaxDelayMs' | 'unknownGraceMs'> {
  connection?: NativeConnection;
  temporalClient?: Client;
  ppoppoClient?: PpoppoClient;
  namespace?: string;
  taskQueue?: string;
  workflowId?: string;
  /** Start the listener workflow if it is not running (default true). */
  startWorkflow?: boolean;
  /** Length of one consumeEvents run (default env LISTENER_MAX_RUN_MS, else 60 s; tests use short runs). */
  maxRunMs?: number;
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export interface RunningListener {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

export async function runListener(options: RunListenerOptions = {}): Promise<RunningListener> {
  const { namespace, connection, temporalClient, ppoppoClient, closeOwned } = await openProcessDeps(options);
  const taskQueue = options.taskQueue ?? TASK_QUEUES.listener;

  const activities = createListenerActivities({
    client: ppoppoClient,
    temporalClient,
    batchMaxEvents: options.batchMaxEvents,
    batchMaxDelayMs: options.batchMaxDelayMs ?? envNumber('LISTENER_BATCH_MAX_DELAY_MS'),
    unknownGraceMs: options.unknownGraceMs,
  });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: LISTENER_WORKFLOWS_PATH }),
    activities,
  });
  const finished = worker.run().finally(async () => {
    await closeOwned();
  });

  if (options.startWorkflow !== false) {
    const input: ListenerWorkflowInput = { cursor: null, maxRunMs: options.maxRunMs ?? envNumber('LISTENER_MAX_RUN_MS') };
    await temporalClient.workflow.start<typeof listenerWorkflow>(LISTENER_WORKFLOW_TYPE, {
      workflowId: options.workflowId ?? LISTENER_WORKFLOW_ID,
      taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  }
  return {
    finished,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await finished;
    },
  };
}

const USAGE = `usage: npm run listener [-- --log-file PATH]
Consumes the API's delivery event stream and hands each event to its chunk workflow: runs the singleton
listener workflow ${LISTENER_WORKFLOW_ID} and its activity on task queue ${TASK_QUEUES.listener} until SIGINT/SIGTERM.
${PROCESS_FLAGS_USAGE}
Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY or TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY;
PCS_API_URL, PAS_TOKEN_URL, PAS_PCS_CLIENT_ID, PAS_PCS_CLIENT_SECRET; LISTENER_UNKNOWN_GRACE_MS (see .env.example).
Exit codes: 0 stopped by a signal; 1 failed; 2 bad flag; 4 cannot connect to Temporal.`;

if (isMainModule(import.meta.url)) {
  runProcess('listener', USAGE, async () => {
    const listener = await runListener();
    console.info(`listener running on ${describeTemporalConfig(temporalConfigFromEnv())}, task queue ${TASK_QUEUES.listener}, workflow ${LISTENER_WORKFLOW_ID} - Ctrl-C to stop`);
    await listener.finished;
  });
}
