// Who polls a task queue: the containers' health check (scripts/task-queue-health.ts) and the alert
// client (a worker must be there before an alert is started, or nothing would send it).
import type { Client } from '@temporalio/client';

// Proto enum values (temporal.api.enums.v1), spelled out to avoid a direct @temporalio/proto import.
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;

/** Pollers Temporal has seen on the queue (workflow or activity tasks) within the last `withinMs`. */
export async function livePollers(client: Client, queue: string, kind: 'workflow' | 'activity', withinMs = 60_000): Promise<number> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: queue, kind: TASK_QUEUE_KIND_NORMAL },
    taskQueueType: kind === 'workflow' ? TASK_QUEUE_TYPE_WORKFLOW : TASK_QUEUE_TYPE_ACTIVITY,
  });
  const since = Date.now() - withinMs;
  return (pollers ?? []).filter((poller) => Number(poller.lastAccessTime?.seconds ?? 0) * 1000 >= since).length;
}
