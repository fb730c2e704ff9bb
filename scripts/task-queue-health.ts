// Container health check for workers: healthy when Temporal has seen a poller on the task queue
// within the last minute. Usage: ppoppo-task-queue-health <task queue> <workflow|activity> (built),
// or tsx scripts/task-queue-health.ts ... Reads the TEMPORAL_* connection variables (src/temporal/config.ts).
import { connectClient, temporalConfigFromEnv } from '../src/temporal/config';

// Proto enum values (temporal.api.enums.v1), spelled out to avoid a direct @temporalio/proto import.
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;

const [queue, kind = 'workflow'] = process.argv.slice(2);
if (!queue || (kind !== 'workflow' && kind !== 'activity')) {
  console.error('usage: ppoppo-task-queue-health <task queue> <workflow|activity>');
  process.exit(2);
}

const config = temporalConfigFromEnv();
const client = await connectClient(config);
try {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: config.namespace,
    taskQueue: { name: queue, kind: TASK_QUEUE_KIND_NORMAL },
    taskQueueType: kind === 'workflow' ? TASK_QUEUE_TYPE_WORKFLOW : TASK_QUEUE_TYPE_ACTIVITY,
  });
  const recentMs = Date.now() - 60_000;
  const live = (pollers ?? []).filter((poller) => Number(poller.lastAccessTime?.seconds ?? 0) * 1000 >= recentMs);
  console.info(`${queue} (${kind}): ${live.length} live poller(s)`);
  process.exitCode = live.length > 0 ? 0 : 1;
} finally {
  await client.connection.close();
}
