// The worker process (`npm run worker`): two Temporal workers in one process.
//  - 'ppoppo-campaigns': campaign and chunk workflows plus every activity except the send call.
//  - 'ppoppo-send': only createSendRequest, with maxTaskQueueActivitiesPerSecond = the app's
//    request rate. The Temporal server enforces that rate across the whole fleet of workers.
// SIGINT/SIGTERM shut both down gracefully (the Temporal runtime installs those handlers).
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import type { PpoppoClient } from './api/client';
import { createActivities } from '../activities/index';
import { envNumber, isMainModule, openProcessDeps, PROCESS_FLAGS_USAGE, runProcess } from './run-helpers';
import { describeTemporalConfig, temporalConfigFromEnv } from './temporal/config';
import { TASK_QUEUES } from './temporal/names';

export interface TaskQueueNames {
  campaigns: string;
  send: string;
}

export interface RunWorkersOptions {
  /** Defaults to a connection from the TEMPORAL_* environment (closed on shutdown). */
  connection?: NativeConnection;
  /** Client the activities use (listener cursor, visibility); defaults to one from the environment. */
  temporalClient?: Client;
  /** Defaults to `new PpoppoClient(clientConfigFromEnv())` (closed on shutdown). */
  ppoppoClient?: PpoppoClient;
  namespace?: string;
  /** The app's CreateSendRequest rate; default env SEND_RATE_PER_SECOND, unset = unlimited. */
  sendRatePerSecond?: number;
  /** Workflow code; defaults to workflows/index.ts. Tests may pass a prebuilt bundle instead. */
  workflowsPath?: string;
  workflowBundle?: WorkerOptions['workflowBundle'];
  taskQueues?: Partial<TaskQueueNames>;
}

export interface RunningWorkers {
  /** Resolves when both workers have stopped and owned connections are closed. */
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

export const DEFAULT_TASK_QUEUES: TaskQueueNames = { campaigns: TASK_QUEUES.campaigns, send: TASK_QUEUES.send };
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export async function runWorkers(options: RunWorkersOptions = {}): Promise<RunningWorkers> {
  const { namespace, connection, temporalClient, ppoppoClient, closeOwned } = await openProcessDeps(options);
  const taskQueues = { ...DEFAULT_TASK_QUEUES, ...options.taskQueues };

  const { createSendRequest, ...campaignActivities } = createActivities({ client: ppoppoClient, temporalClient });
  const rate = options.sendRatePerSecond ?? envNumber('SEND_RATE_PER_SECOND');
  const workflowCode = options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: options.workflowsPath ?? WORKFLOWS_PATH };

  const campaignsWorker = await Worker.create({ connection, namespace, taskQueue: taskQueues.campaigns, ...workflowCode, activities: campaignActivities });
  const sendWorker = await Worker.create({
    connection,
    namespace,
    taskQueue: taskQueues.send,
    activities: { createSendRequest },
    ...(rate !== undefined ? { maxTaskQueueActivitiesPerSecond: rate } : {}),
  });

  const finished = Promise.all([campaignsWorker.run(), sendWorker.run()]).finally(async () => {
    await closeOwned();
  }).then(() => undefined);
  return {
    finished,
    async shutdown() {
      for (const worker of [campaignsWorker, sendWorker]) if (worker.getState() === 'RUNNING') worker.shutdown();
      await finished;
    },
  };
}

const USAGE = `usage: npm run worker [-- --log-file PATH]
Runs the campaign and chunk workflows and their activities (task queue ${DEFAULT_TASK_QUEUES.campaigns}) and the
send activity (task queue ${DEFAULT_TASK_QUEUES.send}) until SIGINT/SIGTERM.
${PROCESS_FLAGS_USAGE}
Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY or TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY;
PCS_API_URL, PAS_TOKEN_URL, PAS_PCS_CLIENT_ID, PAS_PCS_CLIENT_SECRET; SEND_RATE_PER_SECOND (the app's
request rate, enforced fleet-wide); FALLBACK_WEBHOOK_SECRET, SMTP_PASSWORD (see .env.example).
Exit codes: 0 stopped by a signal; 1 failed; 2 bad flag; 4 cannot connect to Temporal.`;

if (isMainModule(import.meta.url)) {
  runProcess('worker', USAGE, async () => {
    const workers = await runWorkers();
    console.info(`workers running on ${describeTemporalConfig(temporalConfigFromEnv())}, task queues ${DEFAULT_TASK_QUEUES.campaigns} and ${DEFAULT_TASK_QUEUES.send} - Ctrl-C to stop`);
    await workers.finished;
  });
}
