// The production worker and listener, in the test process, on the shared Temporal test server and a
// fresh sandbox, with task queues and a listener workflow of their own so test files never meet.
// (dev/stack/start-stack.ts is the other way: every part as a separate process, for kill/restart.)
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { PpoppoClient } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import { runListener, type RunListenerOptions, type RunningListener } from '../../src/listener';
import { SandboxInspector } from '../../dev/sandbox/inspector';
import type { SandboxOptions } from '../../src/sandbox/options';
import { startSandbox } from '../../src/sandbox/server';
import { runWorkers, type RunningWorkers, type TaskQueueNames } from '../../src/worker';
import { connectTestClient, connectTestWorkerConnection } from './temporal';
import { quietTemporalLogs } from './quiet-logs';

export interface CampaignStack {
  sandbox: Awaited<ReturnType<typeof startSandbox>>;
  inspector: SandboxInspector;
  ppoppo: PpoppoClient;
  temporal: Client;
  connection: NativeConnection;
  /** A test may replace them (shut these down first): stop() shuts down whichever are here. */
  workers: RunningWorkers;
  listener: RunningListener;
  queues: TaskQueueNames;
  listenerWorkflowId: string;
  /** Terminates what still runs on the stack's queues, then stops workers, listener and sandbox. */
  stop(): Promise<void>;
}

/** `name` prefixes the task queues and the listener workflow id (plus a random run id). */
export async function startCampaignStack(
  name: string,
  options: {
    sandbox?: SandboxOptions;
    listener?: Pick<RunListenerOptions, 'maxRunMs' | 'batchMaxDelayMs' | 'actionableMaxDelayMs' | 'partsMaxDelayMs'>;
    /** Another Temporal server than the shared one. */
    temporalAddress?: string;
    /** Other workflow code for the workers than today's (test/support/divergent-workflows.ts). */
    workflowsPath?: string;
  } = {},
): Promise<CampaignStack> {
  quietTemporalLogs();
  const run = randomUUID().slice(0, 8);
  const queues = { campaigns: `${name}-campaigns-${run}`, send: `${name}-send-${run}` };
  const listenerWorkflowId = `${name}-listener-${run}`;
  // The reconciliation settle period (…06 is "answer lost") stays short in tests.
  process.env.RECONCILE_SETTLE_MS ??= '2000';
  // Streams end every 500 events as well as every 30 s, so every campaign a test runs crosses reconnects.
  const sandbox = await startSandbox({ streamMaxEvents: 500, ...options.sandbox });
  const ppoppo = new PpoppoClient(makeClientConfig({ apiUrl: sandbox.grpcUrl, tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret }));
  const temporal = await connectTestClient(options.temporalAddress);
  const connection = await connectTestWorkerConnection(options.temporalAddress);
  const workers = await runWorkers({ connection, temporalClient: temporal, ppoppoClient: ppoppo, taskQueues: queues, listenerWorkflowId, workflowsPath: options.workflowsPath });
  const listener = await runListener({
    connection,
    temporalClient: temporal,
    ppoppoClient: ppoppo,
    taskQueue: listenerWorkflowId,
    workflowId: listenerWorkflowId,
    // Tests' consent windows are seconds: the listener hands every event over within 100 ms.
    batchMaxDelayMs: 100,
    actionableMaxDelayMs: 100,
    ...options.listener,
  });
  const stack: CampaignStack = {
    sandbox,
    inspector: new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken),
    ppoppo,
    temporal,
    connection,
    workers,
    listener,
    queues,
    listenerWorkflowId,
    async stop() {
      // Chunks are abandoned children: end them too.
      for await (const info of temporal.workflow.list({ query: `TaskQueue = "${queues.campaigns}" AND ExecutionStatus = "Running"` })) {
        await temporal.workflow.getHandle(info.workflowId).terminate('test finished').catch(() => undefined);
      }
      await temporal.workflow.getHandle(listenerWorkflowId).terminate('test finished').catch(() => undefined);
      await listener.shutdown();
      await stack.workers.shutdown(); // a test may have replaced them
      await connection.close();
      await temporal.connection.close();
      ppoppo.close();
      await sandbox.close();
    },
  };
  return stack;
}

/**
 * The workers of this process sign webhooks with `secret` and may reach the loopback receiver at
 * `url` only because it is listed (FALLBACK_SECRET_WEBHOOK, FALLBACK_ALLOWED_HOSTS).
 */
export function allowWebhookReceiver(url: string, secret: string): void {
  process.env.FALLBACK_SECRET_WEBHOOK = secret;
  process.env.FALLBACK_ALLOWED_HOSTS = new URL(url).host;
}
