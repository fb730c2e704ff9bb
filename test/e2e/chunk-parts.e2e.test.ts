// A chunk sent as several requests (limits.sendsPerChunk), on real parts: the send path tells the
// listener every request's route, with its place among the chunk's, in one `chunkRoutes` signal with
// the last request; the listener holds a finished request until the chunk's last one is finished and
// hands all of them over in one `deliveryBatches` signal. So the chunk takes one workflow task for
// its deliveries, and the listener workflow one for its routes, instead of one per request.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignWorkflowId, CAMPAIGN_WORKFLOW_TYPE, CAMPAIGN_MEMO } from '../../src/contracts/campaign';
import type { CampaignResult } from '../../src/contracts/campaign';
import { chunkRecipientsQuery, chunkWorkflowId, deliveryBatchesSignal, deliveryBatchSignal } from '../../src/contracts/chunk';
import { chunkRouteSignal, chunkRoutesSignal, listenerRouteTargetsQuery } from '../../src/contracts/listener';
import { startCampaignStack, type CampaignStack } from '../support/campaign-stack';

const REQUESTS = 3;
const REQUEST_SIZE = 10;
const run = randomUUID().slice(0, 8);

let stack: CampaignStack;
let temporal: Client;

beforeAll(async () => {
  // Everyone's consent on file (delivered directly); the listener holds deliveries up to a minute,
  // so only a finished chunk (its last part) or the run's end hands them over.
  stack = await startCampaignStack('e2e-parts', {
    sandbox: { outcomeMix: { delivered: 1 } },
    listener: { maxRunMs: 120_000, batchMaxDelayMs: 60_000, actionableMaxDelayMs: 100, partsMaxDelayMs: 60_000 },
  });
  temporal = stack.temporal;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('a chunk sent as several requests', () => {
  it("hears every request's deliveries in one signal, once its last request is finished", async () => {
    const campaignId = `parts-${run}`;
    const ppnums = Array.from({ length: REQUESTS * REQUEST_SIZE }, (_, i) => String(46_200_000_000 + i));
    const handle = await temporal.workflow.start(CAMPAIGN_WORKFLOW_TYPE, {
      workflowId: campaignWorkflowId(campaignId),
      taskQueue: stack.queues.campaigns,
      args: [
        {
          campaignId,
          template: { name: `parts-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] },
          recipients: { inline: ppnums.map((ppnum, i) => ({ ppnum, vars: { name: `Person ${i}` } })) },
          consentWindow: '1m',
          limits: { chunkSize: REQUEST_SIZE, sendsPerChunk: REQUESTS, chunksInFlight: 1 },
        },
      ],
      memo: { [CAMPAIGN_MEMO.sendTaskQueue]: stack.queues.send },
    });
    const result: CampaignResult = await handle.result();
    expect(result.status).toBe('completed');
    expect(result.counts.delivered).toBe(ppnums.length);

    const chunk = temporal.workflow.getHandle(chunkWorkflowId(campaignId, 0));
    const records = await chunk.query(chunkRecipientsQuery);
    expect(records.filter((r) => r.outcome === 'delivered').map((r) => r.ppnum).sort()).toEqual(ppnums);

    // Each request's route names its place among the chunk's.
    const requests = await stack.inspector.sendRequests();
    expect(requests).toHaveLength(REQUESTS);
    const routes = await temporal.workflow.getHandle(stack.listenerWorkflowId).query(listenerRouteTargetsQuery, requests.map((r) => r.id));
    expect(Object.values(routes).map((route) => route.part).sort((a, b) => a!.index - b!.index)).toEqual([0, 1, 2].map((index) => ({ index, count: REQUESTS })));

    // The three routes reached the listener workflow in one signal, from the last request's send.
    const listenerHistory = await temporal.workflow.getHandle(stack.listenerWorkflowId).fetchHistory();
    const routeSignals = (listenerHistory.events ?? []).flatMap((event) => event.workflowExecutionSignaledEventAttributes?.signalName ?? []);
    expect(routeSignals.filter((name) => name === chunkRouteSignal.name)).toEqual([]);
    expect(routeSignals.filter((name) => name === chunkRoutesSignal.name)).toHaveLength(1);

    // One signal from the listener carried all three requests' deliveries.
    const history = await chunk.fetchHistory();
    const signals = (history.events ?? []).flatMap((event) => event.workflowExecutionSignaledEventAttributes?.signalName ?? []);
    expect(signals.filter((name) => name === deliveryBatchSignal.name)).toEqual([]);
    expect(signals.filter((name) => name === deliveryBatchesSignal.name)).toHaveLength(1);
  }, 180_000);
});
