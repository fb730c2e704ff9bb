// The worker process (`npm run worker`): two Temporal workers in one process.
//  - 'ppoppo-campaigns': campaign, chunk and alert workflows plus every activity except the send calls.
//  - 'ppoppo-send': only the send calls, createSendRequest and sendAlert (alerts go ahead of bulk
//    sends by task-queue priority), with maxTaskQueueActivitiesPerSecond = the app's
//    request rate, read from the API (GetUsageStats) at start; SEND_RATE_PER_SECOND may lower it.
//    The Temporal server enforces that rate across the whole fleet of workers.
// SIGINT/SIGTERM shut both down gracefully (the Temporal runtime installs those handlers): they stop
// polling, and in-flight tasks get WORKER_SHUTDOWN_GRACE_MS to finish (src/temporal/worker-settings.ts).
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import type { PpoppoClient } from './api/client';
import { createActivities } from '../activities/index';
import { SendPacer } from '../activities/send-pacer';
import { SendRateSettingError, dispatchRate, sendRateFor } from './campaign/budget';
import type { SendRateDecision } from './campaign/budget';
import { envNumber, isMainModule, openProcessDeps, PROCESS_EXIT, PROCESS_FLAGS_USAGE, ProcessError, runProcess } from './run-helpers';
import { describeTemporalConfig, temporalConfigFromEnv } from './temporal/config';
import { describePayloadEncryption, payloadEncryptionFromEnv } from './temporal/data-converter';
import { TASK_QUEUES } from './temporal/names';
import { workerSettingsFromEnv } from './temporal/worker-settings';
import { workflowCode } from './temporal/workflow-code';
import { metricsNote } from './metrics/runtime';

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
  /** Payload encryption; default from the PAYLOAD_* environment (src/temporal/data-converter.ts). */
  dataConverter?: DataConverter;
  /** Lowers the fleet's CreateSendRequest rate below the app's own limit (default env SEND_RATE_PER_SECOND). */
  sendRatePerSecond?: number;
  /** The share of that rate the send queue is dispatched at (default env SEND_RATE_SHARE, else 0.8: src/campaign/budget.ts). */
  sendRateShare?: number;
  /** The listener workflow the send path tells about accepted requests (default LISTENER_WORKFLOW_ID). */
  listenerWorkflowId?: string;
  /** Workflow code; defaults to the prebuilt bundle when built, else workflows/index.ts (src/temporal/workflow-code.ts). A bundle passed here must be built with FAILURE_CONVERTER_PATH. */
  workflowsPath?: string;
  workflowBundle?: WorkerOptions['workflowBundle'];
  taskQueues?: Partial<TaskQueueNames>;
}

export interface RunningWorkers {
  /** The fleet's send rate, and why. */
  sendRate: SendRateDecision;
  /** What the send queue is dispatched at (a share of sendRate: src/campaign/budget.ts). */
  dispatchPerSecond?: number;
  /** Resolves when both workers have stopped and owned connections are closed. */
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

export const DEFAULT_TASK_QUEUES: TaskQueueNames = { campaigns: TASK_QUEUES.campaigns, send: TASK_QUEUES.send };

export async function runWorkers(options: RunWorkersOptions = {}): Promise<RunningWorkers> {
  const { namespace, connection, temporalClient, ppoppoClient, dataConverter, closeOwned } = await openProcessDeps(options);
  const taskQueues = { ...DEFAULT_TASK_QUEUES, ...options.taskQueues };

  let sendRate: SendRateDecision;
  let rate: number | undefined;
  try {
    sendRate = await fleetSendRate(ppoppoClient, options.sendRatePerSecond ?? envNumber('SEND_RATE_PER_SECOND'));
    rate = dispatchRate(sendRate, options.sendRateShare ?? envNumber('SEND_RATE_SHARE'));
  } catch (err) {
    await closeOwned();
    throw err;
  }
  // The send queue's limiter paces the fleet; this worker also spaces its own calls at that rate.
  const pacer = rate !== undefined ? new SendPacer(rate) : undefined;
  const { createSendRequest, sendAlert, ...campaignActivities } = createActivities({ client: ppoppoClient, temporalClient, listenerWorkflowId: options.listenerWorkflowId, pacer });
  const workflows = options.workflowBundle ? { workflowBundle: options.workflowBundle } : options.workflowsPath ? { workflowsPath: options.workflowsPath } : workflowCode('worker');

  const { maxCachedWorkflows, ...shutdownAndSticky } = workerSettingsFromEnv('worker');
  const campaignsWorker = await Worker.create({ connection, namespace, dataConverter, taskQueue: taskQueues.campaigns, ...workflows, activities: campaignActivities, maxCachedWorkflows, ...shutdownAndSticky });
  const sendWorker = await Worker.create({
    connection,
    namespace,
    dataConverter,
    taskQueue: taskQueues.send,
    ...shutdownAndSticky,
    activities: { createSendRequest, sendAlert },
    ...(rate !== undefined ? { maxTaskQueueActivitiesPerSecond: rate } : {}),
  });

  const finished = Promise.all([campaignsWorker.run(), sendWorker.run()]).finally(async () => {
    await closeOwned();
  }).then(() => undefined);
  return {
    sendRate,
    dispatchPerSecond: rate,
    finished,
    async shutdown() {
      for (const worker of [campaignsWorker, sendWorker]) if (worker.getState() === 'RUNNING') worker.shutdown();
      await finished;
    },
  };
}

/** The app's rate limit from the API (a read: retried a little), capped by an explicit setting. */
async function fleetSendRate(ppoppo: PpoppoClient, explicit: number | undefined): Promise<SendRateDecision> {
  let usage;
  try {
    usage = await ppoppo.getUsageStats({ deadlineMs: 5_000 });
  } catch (err) {
    return sendRateFor(undefined, explicit, err instanceof Error ? err.message : String(err));
  }
  return sendRateFor(usage, explicit);
}

const USAGE = `usage: npm run worker [-- --log-file PATH]   (installed package: ppoppo-worker [--log-file PATH])
Runs the campaign and chunk workflows and their activities (task queue ${DEFAULT_TASK_QUEUES.campaigns}) and the
send activity (task queue ${DEFAULT_TASK_QUEUES.send}) until SIGINT/SIGTERM.
${PROCESS_FLAGS_USAGE}
Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY or TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY;
PCS_API_URL, PAS_TOKEN_URL, PAS_PCS_CLIENT_ID, PAS_PCS_CLIENT_SECRET; PAYLOAD_KEY_FILE or PAYLOAD_KEYS;
SEND_RATE_PER_SECOND (lowers the fleet's request rate below the app's own limit, which is read from the API);
SEND_RATE_SHARE (share of that rate the send queue is dispatched at, default 0.8);
RECIPIENT_FILE_ROOTS, RECIPIENT_URL_ALLOWED_HOSTS, FALLBACK_ALLOWED_HOSTS, FALLBACK_SECRET_WEBHOOK,
FALLBACK_SECRET_SMTP; METRICS_PORT (Prometheus /metrics); WORKER_MAX_CACHED_WORKFLOWS,
WORKER_SHUTDOWN_GRACE_MS, STICKY_QUEUE_TIMEOUT_MS (see .env.example).
Exit codes: 0 stopped by a signal; 1 failed; 2 bad flag, a SEND_RATE_PER_SECOND above the app's limit or a SEND_RATE_SHARE outside (0, 1]; 4 cannot connect to Temporal.`;

if (isMainModule(import.meta.url)) {
  runProcess('worker', USAGE, async () => {
    const workers = await runWorkers().catch((err: unknown) => {
      throw err instanceof SendRateSettingError ? new ProcessError(err.message, PROCESS_EXIT.usage) : err;
    });
    console.info(`workers running on ${describeTemporalConfig(temporalConfigFromEnv())}, task queues ${DEFAULT_TASK_QUEUES.campaigns} and ${DEFAULT_TASK_QUEUES.send}, ${describePayloadEncryption(payloadEncryptionFromEnv())}${metricsNote()}; send rate ${workers.sendRate.text}${workers.dispatchPerSecond === undefined ? '' : `, dispatched at ${Number(workers.dispatchPerSecond.toFixed(3))}/s`} - Ctrl-C to stop`);
    await workers.finished;
  });
}
