// The shared dev server from test/global-setup.ts runs a real Worker, registers our search
// attributes, accepts updates, and names.ts bundles into workflow code.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { Worker, bundleWorkflowCode, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import { CAMPAIGN_ID_KEY } from '../../src/temporal/names';
import { campaignWorkflowId } from '../../src/contracts/campaign';
import { connectTestClient, connectTestWorkerConnection, pollUntil, uniqueTaskQueue } from '../support/temporal';
import { quietTemporalLogs } from '../support/quiet-logs';
import { smokeActivities } from './fixtures/activities';
import { finishSignal, setStatusUpdate, smokeWorkflow, statusQuery } from './fixtures/workflows';

const workflowsPath = fileURLToPath(new URL('./fixtures/workflows.ts', import.meta.url));

describe('shared Temporal dev server', () => {
  let client: Client;
  let connection: NativeConnection;
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    quietTemporalLogs();
    client = await connectTestClient();
    connection = await connectTestWorkerConnection();
    bundle = await bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
  });

  afterAll(async () => {
    await connection?.close();
    await client?.connection.close();
  });

  it('runs a workflow with a real worker, answers updates, and finds it by PpoppoCampaignId', async () => {
    const taskQueue = uniqueTaskQueue('smoke');
    const campaignId = `smoke-${randomUUID()}`;
    const worker = await Worker.create({ connection, taskQueue, workflowBundle: bundle, activities: smokeActivities });

    const result = await worker.runUntil(async () => {
      const handle = await client.workflow.start(smokeWorkflow, {
        taskQueue,
        workflowId: campaignWorkflowId(campaignId),
        args: ['world'],
        typedSearchAttributes: [{ key: CAMPAIGN_ID_KEY, value: campaignId }],
      });

      expect(await handle.executeUpdate(setStatusUpdate, { args: ['running'] })).toBe('started');
      expect(await handle.query(statusQuery)).toBe('running');

      const query = `PpoppoCampaignId="${campaignId}" AND PpoppoCampaignStatus="running"`;
      const found = await pollUntil('the workflow in visibility', () => listIds(client, query), (ids) => ids.length > 0);
      expect(found).toEqual([handle.workflowId]);

      await handle.signal(finishSignal);
      return handle.result();
    });

    expect(result).toBe('hello, world (running)');
  });

  it('does not find workflows of other campaign ids', async () => {
    const ids = await listIds(client, `PpoppoCampaignId="no-such-campaign-${randomUUID()}"`);
    expect(ids).toEqual([]);
  });
});

async function listIds(client: Client, query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const info of client.workflow.list({ query })) ids.push(info.workflowId);
  return ids;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
