// A dev server restarted on the same SQLite file keeps its workflows: a workflow started before
// the restart is still running afterwards and completes on a signal. Uses its own server.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../../dev/temporal/dev-server';
import { connectTestClient, connectTestWorkerConnection, uniqueTaskQueue } from '../support/temporal';
import { quietTemporalLogs } from '../support/quiet-logs';
import { smokeActivities } from './fixtures/activities';
import { finishSignal, waitForFinishWorkflow } from './fixtures/workflows';

const workflowsPath = fileURLToPath(new URL('./fixtures/workflows.ts', import.meta.url));
let dir: string;
let server: DevServer;

beforeAll(async () => {
  quietTemporalLogs();
  dir = mkdtempSync(join(tmpdir(), 'ppoppo-restart-'));
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), logFile: join(dir, 'server.log') });
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('keeps a running workflow across a server restart on the same SQLite file', async () => {
  const taskQueue = uniqueTaskQueue('restart');
  const workflowId = `restart-${randomUUID()}`;

  const before = await connectTestClient(server.address);
  const { firstExecutionRunId: runId } = await before.workflow.start(waitForFinishWorkflow, { taskQueue, workflowId });
  await before.connection.close();

  const pidBefore = server.pid;
  await server.restart();
  expect(server.pid).not.toBe(pidBefore);

  const client = await connectTestClient(server.address);
  const connection = await connectTestWorkerConnection(server.address);
  try {
    const handle = client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    expect(description.runId).toBe(runId);
    expect(description.status.name).toBe('RUNNING');

    const worker = await Worker.create({ connection, taskQueue, workflowsPath, activities: smokeActivities });
    const result = await worker.runUntil(async () => {
      await handle.signal(finishSignal);
      return handle.result();
    });
    expect(result).toBe('finished');
  } finally {
    await connection.close();
    await client.connection.close();
  }
});
