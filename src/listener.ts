// The listener process (`npm run listener`): a worker on 'ppoppo-listener' that hosts both the
// singleton listener workflow and its consumeEvents activity, and makes sure that workflow runs.
//
// The workflow lives on the listener's own task queue so this process is self-contained; while
// it is down the workflow simply waits (sends go on: their pre-send cursor needs no listener).
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { Runtime, Worker } from '@temporalio/worker';
import type { InjectedSinks, NativeConnection, WorkerOptions } from '@temporalio/worker';
import type { PpoppoClient } from './api/client';
import { TASK_QUEUES, WORKFLOW_TASK_TIMEOUT_MS } from './temporal/names';
import { LISTENER_WORKFLOW_ID, LISTENER_WORKFLOW_TYPE } from './contracts/listener';
import type { ListenerSinks, ListenerWorkflowInput } from './contracts/listener';
import { LearnedRoutes } from '../activities/chunk-directory';
import { createListenerActivities } from '../activities/listener';
import type { ListenerDeps } from '../activities/listener';
import type { listenerWorkflow } from '../workflows/listener/workflow';
import { envNumber, isMainModule, openProcessDeps, PROCESS_FLAGS_USAGE, runProcess } from './run-helpers';
import { describeTemporalConfig, temporalConfigFromEnv } from './temporal/config';
import { describePayloadEncryption, payloadEncryptionFromEnv } from './temporal/data-converter';
import { workerSettingsFromEnv } from './temporal/worker-settings';
import { workflowCode } from './temporal/workflow-code';
import { countCampaignStatuses } from './metrics/campaign-statuses';
import { listenerMetrics } from './metrics/listener';
import { metricsNote } from './metrics/runtime';

const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;


export interface RunListenerOptions extends Pick<ListenerDeps, 'batchMaxEvents' | 'batchMaxDelayMs' | 'actionableMaxDelayMs' | 'partsMaxDelayMs' | 'unknownGraceMs' | 'routeGraceMs'> {
  connection?: NativeConnection;
  temporalClient?: Client;
  ppoppoClient?: PpoppoClient;
  namespace?: string;
  /** Payload encryption; default from the PAYLOAD_* environment (src/temporal/data-converter.ts). */
  dataConverter?: DataConverter;
  taskQueue?: string;
  workflowId?: string;
  /** Start the listener workflow if it is not running (default true). */
  startWorkflow?: boolean;
  /** Length of one consumeEvents run (default env LISTENER_MAX_RUN_MS, else 10 min; tests use short runs). */
  maxRunMs?: number;
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export interface RunningListener {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

export async function runListener(options: RunListenerOptions = {}): Promise<RunningListener> {
  const { namespace, connection, temporalClient, ppoppoClient, dataConverter, closeOwned } = await openProcessDeps(options);
  const taskQueue = options.taskQueue ?? TASK_QUEUES.listener;
  const stopping = new AbortController();

  const meter = Runtime.instance().metricMeter;
  const learnedRoutes = new LearnedRoutes();
  const activities = createListenerActivities({
    learnedRoutes,
    stopping: stopping.signal,
    metrics: listenerMetrics(meter),
    client: ppoppoClient,
    temporalClient,
    batchMaxEvents: options.batchMaxEvents,
    batchMaxDelayMs: options.batchMaxDelayMs ?? envNumber('LISTENER_BATCH_MAX_DELAY_MS'),
    actionableMaxDelayMs: options.actionableMaxDelayMs ?? envNumber('LISTENER_ACTIONABLE_MAX_DELAY_MS'),
    partsMaxDelayMs: options.partsMaxDelayMs ?? envNumber('LISTENER_PARTS_MAX_DELAY_MS'),
    unknownGraceMs: options.unknownGraceMs,
    routeGraceMs: options.routeGraceMs,
  });
  const worker = await Worker.create({
    connection,
    namespace,
    dataConverter,
    taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : workflowCode('listener')),
    activities,
    sinks: listenerSinks(learnedRoutes),
    ...workerSettingsFromEnv('listener'),
  });
  // SIGINT/SIGTERM: the Temporal runtime shuts the worker down; the stream run hands over at once.
  const onSignal = () => stopping.abort();
  for (const signal of SHUTDOWN_SIGNALS) process.once(signal, onSignal);
  const stopCounting = countCampaignStatuses(temporalClient, meter);
  const finished = worker.run().finally(async () => {
    stopCounting();
    for (const signal of SHUTDOWN_SIGNALS) process.off(signal, onSignal);
    await closeOwned();
  });

  if (options.startWorkflow !== false) {
    const input: ListenerWorkflowInput = { cursor: null, maxRunMs: options.maxRunMs ?? envNumber('LISTENER_MAX_RUN_MS') };
    await temporalClient.workflow.start<typeof listenerWorkflow>(LISTENER_WORKFLOW_TYPE, {
      workflowId: options.workflowId ?? LISTENER_WORKFLOW_ID,
      taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT_MS,
    });
  }
  return {
    finished,
    async shutdown() {
      stopping.abort();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await finished;
    },
  };
}

/** The listener workflow's routes, handed to this process as it learns them (replays too: a restarted process relearns them). */
export function listenerSinks(learnedRoutes: LearnedRoutes): InjectedSinks<ListenerSinks> {
  return {
    routes: {
      learned: { fn: (info, route) => learnedRoutes.learned(info.workflowId, route), callDuringReplay: true },
      hosting: { fn: (info) => learnedRoutes.hosting(info.workflowId), callDuringReplay: true },
    },
  };
}

const USAGE = `usage: npm run listener [-- --log-file PATH]   (installed package: ppoppo-listener [--log-file PATH])
Consumes the API's delivery event stream and hands each event to its chunk workflow: runs the singleton
listener workflow ${LISTENER_WORKFLOW_ID} and its activity on task queue ${TASK_QUEUES.listener} until SIGINT/SIGTERM.
${PROCESS_FLAGS_USAGE}
Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY or TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY;
PCS_API_URL, PAS_TOKEN_URL, PAS_PCS_CLIENT_ID, PAS_PCS_CLIENT_SECRET; PAYLOAD_KEY_FILE or PAYLOAD_KEYS;
LISTENER_UNKNOWN_GRACE_MS, LISTENER_ROUTE_GRACE_MS; METRICS_PORT (Prometheus /metrics); LISTENER_MAX_CACHED_WORKFLOWS,
LISTENER_SHUTDOWN_GRACE_MS, STICKY_QUEUE_TIMEOUT_MS (see .env.example).
Exit codes: 0 stopped by a signal; 1 failed; 2 bad flag; 4 cannot connect to Temporal.`;

if (isMainModule(import.meta.url)) {
  runProcess('listener', USAGE, async () => {
    const listener = await runListener();
    console.info(`listener running on ${describeTemporalConfig(temporalConfigFromEnv())}, task queue ${TASK_QUEUES.listener}, workflow ${LISTENER_WORKFLOW_ID}, ${describePayloadEncryption(payloadEncryptionFromEnv())}${metricsNote()} - Ctrl-C to stop`);
    await listener.finished;
  });
}
