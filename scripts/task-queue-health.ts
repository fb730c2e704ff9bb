// Container health check for workers: healthy when Temporal has seen a poller on the task queue
// within the last minute. Usage: ppoppo-task-queue-health <task queue> <workflow|activity> (built),
// or tsx scripts/task-queue-health.ts ... Reads the TEMPORAL_* connection variables (src/temporal/config.ts).
import { connectClient, temporalConfigFromEnv } from '../src/temporal/config';
import { livePollers } from '../src/temporal/task-queues';

const [queue, kind = 'workflow'] = process.argv.slice(2);
if (!queue || (kind !== 'workflow' && kind !== 'activity')) {
  console.error('usage: ppoppo-task-queue-health <task queue> <workflow|activity>');
  process.exit(2);
}

const client = await connectClient(temporalConfigFromEnv());
try {
  const live = await livePollers(client, queue, kind);
  console.info(`${queue} (${kind}): ${live} live poller(s)`);
  process.exitCode = live > 0 ? 0 : 1;
} finally {
  await client.connection.close();
}
