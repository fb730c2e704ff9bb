// The Temporal Web UI as a user sees it, in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core; no browser download). A private dev server with its UI, the production worker
// and listener on the production task queues, and the Ppoppo sandbox. Checks that a running
// campaign is listed and findable by its campaign id, that its page shows its current details and
// answers the progress query, and that the "Start Workflow" form starts a campaign from the pasted
// JSON spec (the README's Web UI steps). Payloads are encrypted: the UI reads them through our codec
// server (--ui-codec-endpoint), so the campaign page shows the decoded spec and details.
// Screenshots go to test-results/ (the CI artifact dir): web-ui-campaign.png is the campaign page,
// web-ui-decoded-input.png its Input panel with the decoded spec.
import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PpoppoClient } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import type { CampaignSpec } from '../../src/campaign/spec';
import { runListener } from '../../src/listener';
import type { RunningListener } from '../../src/listener';
import { startSandbox } from '../../src/sandbox/server';
import { connectClient } from '../../src/temporal/config';
import { connectWorkerConnection } from '../../src/temporal/worker-connection';
import { freePort } from '../../dev/ports';
import { startDevServer } from '../../dev/temporal/dev-server';
import type { DevServer } from '../../dev/temporal/dev-server';
import { CAMPAIGN_ID_KEY, TASK_QUEUES } from '../../src/temporal/names';
import { campaignWorkflowId, progressQuery, CAMPAIGN_WORKFLOW_TYPE } from '../../src/contracts/campaign';
import { runWorkers } from '../../src/worker';
import type { RunningWorkers } from '../../src/worker';
import type { CampaignProgress } from '../../src/contracts/campaign';
import { startCodecServer, type CodecServer } from '../../src/temporal/codec-server';
import { KEY_ID_METADATA_KEY } from '../../src/temporal/codec';
import { payloadEncryptionFromEnv } from '../../src/temporal/data-converter';
import { pollUntil } from '../support/temporal';
import { quietTemporalLogs } from '../support/quiet-logs';

/** Debian's chromium package (see .ci/run REQUIRED_DEBS). */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = 'test-results';
const run = randomUUID().slice(0, 8);

let server: DevServer;
let codecServer: CodecServer;
let encryptingKeyId: string;
let sandbox: Awaited<ReturnType<typeof startSandbox>>;
let temporal: Client;
let connection: NativeConnection;
let workers: RunningWorkers;
let listener: RunningListener;
let browser: Browser;
let page: Page;

/** Two chunks of one recipient: 12300000001 is delivered, 12300000005 never decides (stays running). */
function specFor(campaignId: string): CampaignSpec {
  return {
    campaignId,
    template: { name: campaignId, components: [{ type: 'text', content: 'Hello {{name}}' }] },
    recipients: { inline: [{ ppnum: '12300000001', vars: { name: 'Ada' } }, { ppnum: '12300000005', vars: { name: 'Eve' } }] },
    consentWindow: '1h',
    limits: { chunkSize: 1, sendsPerChunk: 1 },
  };
}

async function startCampaign(campaignId: string): Promise<void> {
  await temporal.workflow.start(CAMPAIGN_WORKFLOW_TYPE, { workflowId: campaignWorkflowId(campaignId), taskQueue: TASK_QUEUES.campaigns, args: [specFor(campaignId)] });
}

function progressOf(campaignId: string): Promise<CampaignProgress> {
  return temporal.workflow.getHandle(campaignWorkflowId(campaignId)).query(progressQuery);
}

/** Visibility is eventually consistent and the UI does not refresh by itself: reload until `text` shows. */
async function openUntilVisible(url: string, text: string): Promise<void> {
  await pollUntil(
    `"${text}" on ${url}`,
    async () => {
      await page.goto(url);
      await page.getByText(text, { exact: true }).first().waitFor({ timeout: 10_000 });
      return true;
    },
    (shown) => shown,
    90_000,
  );
}

beforeAll(async () => {
  quietTemporalLogs();
  mkdirSync(ARTIFACTS, { recursive: true });
  const uiPort = await freePort();
  const encryption = payloadEncryptionFromEnv();
  if (!encryption.on) throw new Error('this test needs payload encryption on (test/global-setup.ts sets PAYLOAD_KEYS)');
  encryptingKeyId = encryption.codec.encryptingKeyId;
  codecServer = await startCodecServer({ codec: encryption.codec, token: `web-ui-${randomUUID()}`, corsOrigins: [`http://127.0.0.1:${uiPort}`], port: 0 });
  server = await startDevServer({ uiPort, uiCodecEndpoint: codecServer.uiEndpoint, logFile: `${ARTIFACTS}/web-ui-dev-server.log` });
  sandbox = await startSandbox({ consentDecisionDelayMs: 200, consentWindowMs: 600_000 });
  const ppoppo = new PpoppoClient(makeClientConfig({ apiUrl: sandbox.grpcUrl, tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret }));
  const config = { address: server.address, namespace: 'default' };
  temporal = await connectClient(config);
  connection = await connectWorkerConnection(config);
  // A private server: the production task queues (the ones the README's form steps name) are ours alone.
  workers = await runWorkers({ connection, temporalClient: temporal, ppoppoClient: ppoppo });
  listener = await runListener({ connection, temporalClient: temporal, ppoppoClient: ppoppo, maxRunMs: 2_000, batchMaxDelayMs: 100, actionableMaxDelayMs: 100 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await listener?.shutdown();
  await workers?.shutdown();
  await connection?.close();
  await temporal?.connection.close();
  await sandbox?.close();
  await server?.stop();
  await codecServer?.close();
}, 120_000);

describe('Temporal Web UI (headless Chromium)', () => {
  const campaignId = `webui-${run}`;
  const otherId = `webui-other-${run}`;

  it('lists a running campaign, finds it by its campaign id and shows its current details', async () => {
    await startCampaign(campaignId);
    await startCampaign(otherId);
    // Chunk 0 (12300000001) finished, chunk 1 (12300000005) sent and waiting: details are stable from here.
    await pollUntil('chunk 0 finished and chunk 1 sent', () => progressOf(campaignId), (p) => p.chunksFinished === 1 && p.chunksSent === 2, 90_000);

    // Workflows page filtered by the search attribute: the campaign and its chunks, not the other campaign.
    const query = encodeURIComponent(`PpoppoCampaignId="${campaignId}"`);
    await openUntilVisible(`${server.uiUrl}/namespaces/default/workflows?query=${query}`, campaignWorkflowId(campaignId));
    await page.getByText(`${campaignWorkflowId(campaignId)}/chunk/000001`, { exact: true }).first().waitFor();
    expect(await page.getByText(campaignWorkflowId(otherId), { exact: true }).count()).toBe(0);
    await page.screenshot({ path: `${ARTIFACTS}/web-ui-campaign-list.png`, fullPage: true });

    // The campaign's page: running, and its current details (set by the workflow) in User Metadata.
    await page.getByText(campaignWorkflowId(campaignId), { exact: true }).first().click();
    await page.getByRole('heading', { name: campaignWorkflowId(campaignId) }).waitFor();
    await page.getByText('User Metadata', { exact: true }).first().click();
    // The UI renders the details as Markdown in an iframe (/render?content=…).
    const details = await pollUntil(
      'current details rendered',
      async () => (await page.frames().find((frame) => frame.url().includes('/render?'))?.locator('body').innerText()) ?? '',
      (text) => text.includes('recipients done'),
      30_000,
    );
    // Rendered Markdown: the heading line, then the tables (innerText separates cells with tabs).
    expect(details).toContain('running · 1 of 2 recipients done');
    expect(details).toMatch(/awaiting outcome\t1\ndelivered\t1\n/);
    expect(details).toMatch(/planned\t2\nstarted\t2\nsent\t2\nfinished\t1/);
    expect(await page.getByText('Running', { exact: true }).count()).toBeGreaterThan(0);
    await page.screenshot({ path: `${ARTIFACTS}/web-ui-campaign.png`, fullPage: true });

    // Input and Results: the spec as started, decoded by the codec server (the server only has ciphertext).
    const history = await temporal.workflow.getHandle(campaignWorkflowId(campaignId)).fetchHistory();
    const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(Buffer.from(input.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(Buffer.from(input.data!).toString('latin1')).not.toContain('12300000005');
    await page.goto(`${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(campaignWorkflowId(campaignId))}/${history.events![0]!.workflowExecutionStartedEventAttributes!.originalExecutionRunId}/history`);
    try {
      await page.getByText(/"ppnum":\s*"12300000005"/).first().waitFor({ timeout: 30_000 });
      await page.getByText(/"name":\s*"Eve"/).first().waitFor();
    } finally {
      await page.screenshot({ path: `${ARTIFACTS}/web-ui-decoded-input.png`, fullPage: true });
    }

    // Queries tab: `progress` is offered and answers with the campaign's progress.
    await page.getByText('Queries', { exact: true }).first().click();
    await page.getByRole('button', { name: 'Run Query' }).click();
    await page.getByText(new RegExp(`"campaignId": "${campaignId}"`)).first().waitFor({ timeout: 30_000 });
  }, 240_000);

  it('starts a campaign from the "Start Workflow" form with the JSON spec pasted', async () => {
    const formId = `webui-form-${run}`;
    await page.goto(`${server.uiUrl}/namespaces/default/workflows/start-workflow`);
    await page.getByTestId('workflowId').fill(campaignWorkflowId(formId));
    await page.getByTestId('taskQueue').fill(TASK_QUEUES.campaigns);
    await page.getByTestId('workflowType').fill(CAMPAIGN_WORKFLOW_TYPE);
    await page.locator('[contenteditable="true"][data-language="json"]').click();
    await page.keyboard.insertText(JSON.stringify(specFor(formId), null, 2)); // what a paste inserts
    await page.getByTestId('start-workflow-button').click();
    await page.getByText('Workflow started successfully').waitFor({ timeout: 30_000 });

    // The form started the real campaign: the worker runs it and it sets its search attributes.
    const progress = await pollUntil('the form-started campaign sent', () => progressOf(formId), (p) => p.chunksSent === 2, 90_000);
    expect(progress).toMatchObject({ campaignId: formId, status: 'running', total: 2 });
    const description = await temporal.workflow.getHandle(campaignWorkflowId(formId)).describe();
    expect(description.taskQueue).toBe(TASK_QUEUES.campaigns);
    expect(description.typedSearchAttributes.get(CAMPAIGN_ID_KEY)).toBe(formId);
    // The UI sent the pasted spec through the codec server's /encode: it is stored encrypted, with our key.
    const started = (await temporal.workflow.getHandle(campaignWorkflowId(formId)).fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(Buffer.from(started.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(Buffer.from(started.metadata![KEY_ID_METADATA_KEY]!).toString()).toBe(encryptingKeyId);
    await page.screenshot({ path: `${ARTIFACTS}/web-ui-start-workflow.png`, fullPage: true });
  }, 240_000);
});
