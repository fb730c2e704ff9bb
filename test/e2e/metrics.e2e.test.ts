// Prometheus scrapes the worker and the listener, each a real process serving /metrics on its own
// METRICS_PORT, while a campaign runs against a rate-limited sandbox; then the test asks Prometheus
// (Debian's package, a real server with our alert rules loaded). What Prometheus counts must equal
// what the campaign reports and what the sandbox saw: recipients by outcome, fallbacks, accepted send
// requests, RESOURCE_EXHAUSTED refusals, events the listener handed over. The Temporal SDK's own
// runtime metrics come from the same endpoints.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECIPIENT_OUTCOMES } from '../../src/campaign/outcomes';
import type { CampaignSpec } from '../../src/campaign/spec';
import { CampaignClient } from '../../src/client/campaigns';
import { dataConverterFromEnv } from '../../src/temporal/data-converter';
import type { CampaignResult } from '../../src/contracts/campaign';
import { METRICS, scrapedName } from '../../src/contracts/metrics';
import { SandboxInspector } from '../../dev/sandbox/inspector';
import { startSandbox } from '../../src/sandbox/server';
import { freePort } from '../../dev/ports';
import { startDevServer, type DevServer } from '../../dev/temporal/dev-server';
import { ManagedProcess } from '../../dev/stack/managed-process';
import { startWebhookReceiver, type WebhookReceiver } from '../../dev/receivers';
import { startPrometheus, type Prometheus } from '../support/prometheus';

const ALERT_RULES = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));

let dir: string;
let temporal: DevServer;
let sandbox: Awaited<ReturnType<typeof startSandbox>>;
let receiver: WebhookReceiver;
let worker: ManagedProcess;
let listener: ManagedProcess;
let prometheus: Prometheus;
let client: Client;
let result: CampaignResult;

/** 120 valid recipients (the sandbox decides their outcomes from a hash) and 2 invalid rows. */
function writeRecipients(path: string): void {
  const rows = Array.from({ length: 120 }, (_, i) => `${45_800_000_000 + i},Person ${i}`);
  rows.splice(10, 0, 'not-a-ppnum,Nobody', '123,Too Short');
  writeFileSync(path, `ppnum,name\n${rows.join('\n')}\n`);
}

/** One number from Prometheus (0 when the query has no samples). */
async function scalar(promql: string): Promise<number> {
  const samples = await prometheus.query(promql);
  return samples.reduce((sum, sample) => sum + sample.value, 0);
}

/** Polls until `read` returns `expected` (Prometheus scrapes every second), then returns what it read last. */
async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (JSON.stringify(last) !== JSON.stringify(expected) && Date.now() < deadline) {
    await sleep(500);
    last = await read();
  }
  return last;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ppoppo-metrics-'));
  temporal = await startDevServer({ dbFile: join(dir, 'temporal.db'), logFile: join(dir, 'temporal.log') });
  // Rate-limited below what four chunks in flight ask for: the workers read the limit and keep under it.
  sandbox = await startSandbox({ consentWindowMs: 2_000, consentDecisionDelayMs: 300, deliveryDelayMs: 50, rateLimit: { requestsPerSecond: 2, burst: 1 } });
  receiver = await startWebhookReceiver();
  const [workerPort, listenerPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: temporal.address,
    PCS_API_URL: sandbox.grpcUrl,
    PAS_TOKEN_URL: sandbox.tokenUrl,
    PAS_PCS_CLIENT_ID: sandbox.clientId,
    PAS_PCS_CLIENT_SECRET: sandbox.clientSecret,
    RECONCILE_SETTLE_MS: '1000',
    LISTENER_BATCH_MAX_DELAY_MS: '100',
    METRICS_HOST: '127.0.0.1',
    FALLBACK_SECRET_WEBHOOK: 'metrics-e2e-webhook-signing-secret',
    FALLBACK_ALLOWED_HOSTS: new URL(receiver.url).host,
  };
  worker = new ManagedProcess({ name: 'worker', script: 'src/worker.ts', env: { ...env, METRICS_PORT: String(workerPort) }, readyText: 'workers running', logFile: join(dir, 'worker.log') });
  listener = new ManagedProcess({ name: 'listener', script: 'src/listener.ts', env: { ...env, METRICS_PORT: String(listenerPort) }, readyText: 'listener running', logFile: join(dir, 'listener.log') });
  await worker.start();
  await listener.start();
  prometheus = await startPrometheus(dir, { 'ppoppo-worker': [`127.0.0.1:${workerPort}`], 'ppoppo-listener': [`127.0.0.1:${listenerPort}`] }, { ruleFiles: [ALERT_RULES] });
  client = new Client({ connection: await Connection.connect({ address: temporal.address }), dataConverter: dataConverterFromEnv() });

  const file = join(dir, 'recipients.csv');
  writeRecipients(file);
  const spec: CampaignSpec = {
    campaignId: 'metrics',
    template: { name: 'metrics', components: [{ type: 'text', content: 'Hello {{name}}' }] },
    recipients: { file, format: 'csv' },
    consentWindow: '1m', // the minimum; the sandbox's own 2 s window decides first
    fallback: { on: ['denied', 'expired'], channel: { type: 'webhook', url: receiver.url }, text: 'Hello {{name}}' },
    limits: { chunkSize: 10, sendsPerChunk: 1, chunksInFlight: 4 },
    onInvalidRows: 'skip',
  };
  const campaigns = new CampaignClient(client);
  // The workers keep under the app's limit by themselves (send queue and per-worker pacing), so the
  // refusals whose count and waits are checked below are the sandbox's injected ones.
  await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).faults({ resourceExhaustedNext: 3, retryAfterMs: 500 });
  await campaigns.startCampaign(spec);
  result = await campaigns.result('metrics');
}, 240_000);

afterAll(async () => {
  await client?.connection.close();
  await prometheus?.stop();
  await listener?.kill();
  await worker?.kill();
  await receiver?.close();
  await sandbox?.close();
  await temporal?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Prometheus scraping the worker and the listener', () => {
  it('scrapes both processes, each serving the Temporal SDK runtime metrics beside ours', async () => {
    const targets = await prometheus.targets();
    expect(targets.map((t) => `${t.job}: ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).sort()).toEqual(['ppoppo-listener: up', 'ppoppo-worker: up']);
    for (const job of ['ppoppo-worker', 'ppoppo-listener']) {
      expect(await scalar(`count({job="${job}", __name__=~"temporal_.+"})`), `${job}: SDK runtime metrics`).toBeGreaterThan(0);
    }
    const completed = () => prometheus.query(`sum by (workflow_type) (temporal_workflow_completed_total{job="ppoppo-worker"})`).then((samples) => Object.fromEntries(samples.map((s) => [s.metric.workflow_type, s.value])));
    expect(await eventually(completed, { campaignWorkflow: 1, chunkWorkflow: 12 })).toEqual({ campaignWorkflow: 1, chunkWorkflow: 12 });
  });

  it('counts recipients by outcome exactly as the campaign reports them, invalid rows included', async () => {
    expect(result.status).toBe('completed');
    expect(result.counts.delivered).toBeGreaterThan(0);
    expect(result.counts.invalid).toBe(2);
    const expected = Object.fromEntries(RECIPIENT_OUTCOMES.map((outcome) => [outcome, result.counts[outcome]]));
    const byOutcome = async () => {
      const samples = await prometheus.query(`sum by (outcome) (${scrapedName(METRICS.recipients)})`);
      return Object.fromEntries(RECIPIENT_OUTCOMES.map((outcome) => [outcome, samples.find((s) => s.metric.outcome === outcome)?.value ?? 0]));
    };
    expect(await eventually(byOutcome, expected)).toEqual(expected);
    expect(await scalar(`sum(${scrapedName(METRICS.recipients)}{outcome="delivered"})`)).toBe(result.counts.delivered);
    expect(await scalar(`sum(${scrapedName(METRICS.fallbacks)}{result="sent"})`)).toBe(result.counts.fallbackSent);
    expect(result.counts.fallbackSent).toBe(receiver.requests.length);
  });

  it('counts accepted sends and RESOURCE_EXHAUSTED refusals as the sandbox saw them', async () => {
    const inspector = new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken);
    const accepted = (await inspector.sendRequests()).length;
    const stats = await inspector.stats();
    const refusals = stats.rateLimitRefusals + (stats.createSendRequest.refusals.injectedResourceExhausted ?? 0);
    expect(stats.createSendRequest.refusals.injectedResourceExhausted).toBe(3);
    // A send whose answer was lost (a gRPC deadline on a loaded machine) is counted ambiguous, and
    // then adopted by its reconciliation: the two together are what the sandbox accepted.
    const acceptedOrAdopted = async () => (await scalar(`sum(${scrapedName(METRICS.sendRequests)}{result="accepted"})`)) + (await scalar(`sum(${scrapedName(METRICS.reconciliations)}{result="adopted"})`));
    expect(await eventually(acceptedOrAdopted, accepted)).toBe(accepted);
    const reconciled = await scalar(`sum(${scrapedName(METRICS.reconciliations)})`);
    expect(await scalar(`sum(${scrapedName(METRICS.sendRequests)}{result="ambiguous"})`)).toBe(reconciled);
    expect(await scalar(`sum(${scrapedName(METRICS.resourceExhausted)})`)).toBe(refusals);
    expect(await scalar(`sum(${METRICS.resourceExhaustedWait.name}_count)`)).toBe(refusals);
    expect(await scalar(`sum(${METRICS.resourceExhaustedWait.name}_sum)`)).toBeGreaterThan(0);
  });

  it('shows the listener handing over every event and nothing waiting', async () => {
    const events = async () => scalar(`sum(${scrapedName(METRICS.listenerEvents)})`);
    // Every event about a recipient (REQUEST_COMPLETED carries none: the listener reads it, no chunk needs it).
    const total = (await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).events()).filter((event) => event.ppnum).length;
    expect(total).toBeGreaterThan(0);
    expect(await eventually(events, total)).toBe(total);
    expect(await eventually(() => scalar(`max(${METRICS.listenerPendingEvents.name})`), 0)).toBe(0);
    expect(await scalar(`max(${METRICS.listenerLag.name})`)).toBe(0);
    expect(await scalar(`time() - max(${METRICS.listenerLastFlush.name})`)).toBeLessThan(10);
    expect(await prometheus.query(`${METRICS.campaigns.name}{status="parked"}`)).toHaveLength(1);
  });

  it('evaluates every alert rule without error, and none fires on a healthy run', async () => {
    const rules = await prometheus.rules();
    expect(rules.map((rule) => rule.name).sort()).toEqual(['PpoppoCampaignParked', 'PpoppoListenerStuck', 'PpoppoRecipientFailuresHigh', 'PpoppoSendErrorsRising', 'PpoppoWorkflowTaskNondeterminism']);
    expect(rules.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.lastError}`)).toEqual([]);
    expect(rules.filter((rule) => rule.state !== 'inactive').map((rule) => rule.name)).toEqual([]);
  });
});
