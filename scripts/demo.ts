// The main job on the embedded default: a local Temporal dev server (SQLite, Web UI), the Ppoppo
// sandbox, the worker and the listener, then one example campaign: a realistic first campaign, every
// recipient new to the app and so asked for consent first, with the 24 h consent window scaled to a
// minute (decisions and the listener's intervals scaled with it), live progress and a final report
// with the consent figures and the app's quota use.
//
//   npm run demo                      run the example campaign, report, stop everything
//   npm run demo -- --keep            same, then keep the stack running until Ctrl-C
//   npm run demo -- --recipients 5000 --json
//   npm start                         (= --serve) bring the stack up for real use and keep it up
//
// Payload encryption is on: the keys are <data dir>/payload-keys (created on first run) unless
// PAYLOAD_KEYS / PAYLOAD_KEY_FILE say otherwise, and a codec server (port 8888) lets the Web UI
// and the temporal CLI show decrypted payloads (dev/stack/local-codec.ts).
//
// The worker's and the Temporal SDK's full log goes to <data dir>/worker.log; the terminal shows
// progress, the report, and one plain line per fault the campaign handles or warning that needs a person.
// Ports: the demo prefers 7233/8233 and takes free ones when those are in use; `--serve` and any
// port given as a flag are used as they are, and a taken one ends the run with exit code 3.
//
// Exit codes: 0 campaign completed and every check passed (or --serve stopped with Ctrl-C);
// 1 a check failed or the run broke; 2 bad flags; 3 a port it must use is in use.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { PpoppoClient } from '../src/api/client';
import { makeClientConfig } from '../src/api/config';
import { usageLine } from '../src/campaign/budget';
import { consentLine } from '../src/campaign/consent';
import type { CampaignSpec } from '../src/campaign/spec';
import { scaledListenerTiming } from '../activities/held-events';
import { runListener } from '../src/listener';
import { installProcessLogger } from '../src/logging';
import { parseDurationMs } from '../src/sandbox/options';
import { startSandbox } from '../src/sandbox/server';
import { CAMPAIGN_WORKFLOW_TYPE, campaignWorkflowId, progressQuery } from '../src/contracts/campaign';
import type { CampaignProgress, CampaignResult } from '../src/contracts/campaign';
import { TASK_QUEUES } from '../src/temporal/names';
import { runWorkers } from '../src/worker';
import { connectClient } from '../src/temporal/config';
import { fit, progressLine } from '../src/cli/format';
import { thousands } from '../src/text';
import { connectWorkerConnection } from '../src/temporal/worker-connection';
import { verifyWebhook } from '../src/webhooks/signature';
import { EXIT_PORT_IN_USE, freePort, portInUse, portsTakenMessage } from '../dev/ports';
import { startWebhookReceiver } from '../dev/receivers';
import { SandboxInspector } from '../dev/sandbox/inspector';
import { startDevServer } from '../dev/temporal/dev-server';
import { codecEnvLines, startLocalCodec } from '../dev/stack/local-codec';

const USAGE = `usage: npm run demo -- [--recipients N] [--keep] [--serve] [--json] [--data-dir .data]
                       [--port 7233] [--ui-port 8233] [--codec-port 8888] [--sandbox-grpc-port 3203] [--sandbox-http-port 3100]
  --serve    (npm start) bring the stack up for real use on the ports above, and keep it up
Exit codes: 0 ok; 1 a check failed or the run broke; 2 bad flags; 3 a port it must use is in use.`;

function parseFlags() {
  try {
    const { values } = parseArgs({
      options: {
        recipients: { type: 'string', default: '3000' },
        keep: { type: 'boolean', default: false },
        serve: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        port: { type: 'string' },
        'ui-port': { type: 'string' },
        'codec-port': { type: 'string' },
        'sandbox-grpc-port': { type: 'string' },
        'sandbox-http-port': { type: 'string' },
        'data-dir': { type: 'string', default: '.data' },
        help: { type: 'boolean', default: false },
      },
    });
    const recipients = Number(values.recipients);
    if (!Number.isInteger(recipients) || recipients < 1 || recipients > 200_000) throw new Error('--recipients must be an integer from 1 to 200000');
    const port = (flag: string, text: string | undefined) => {
      if (text === undefined) return undefined;
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--${flag} must be a port number from 1 to 65535, got "${text}"`);
      return n;
    };
    return {
      ...values,
      recipients,
      ports: { port: port('port', values.port), uiPort: port('ui-port', values['ui-port']), codecPort: port('codec-port', values['codec-port']), sandboxGrpcPort: port('sandbox-grpc-port', values['sandbox-grpc-port']), sandboxHttpPort: port('sandbox-http-port', values['sandbox-http-port']) },
    };
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const flags = parseFlags();
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const say = (line: string) => {
  if (!flags.json) console.log(line);
};

/** Recipients the app has never messaged: the sandbox asks each for consent first. */
function writeRecipients(path: string, count: number): void {
  const rows = ['ppnum,name'];
  for (let i = 0; i < count; i++) rows.push(`${45600000000 + i},Customer ${i}`);
  writeFileSync(path, `${rows.join('\n')}\n`);
}

/** The consent window of the demo's first campaign: 24 h scaled to a minute. */
const DEMO_WINDOW_MS = 60_000;

const dataDir = resolve(flags['data-dir']);
mkdirSync(dataDir, { recursive: true });
const workerLog = join(dataDir, 'worker.log');

/** Ends the run with one line and an exit code, never a stack trace. */
class DemoExit extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/**
 * Where the stack listens. A port given as a flag, and every port of --serve (the README and the
 * CLI's defaults name them), is used as it is: a taken one ends the run. Otherwise the demo prefers
 * 7233/8233 for Temporal, taking free ports when those are in use, and its sandbox takes free ports.
 */
async function choosePorts(): Promise<{ port: number; uiPort: number; codecPort: number; sandboxGrpcPort: number; sandboxHttpPort: number }> {
  const given = flags.ports;
  const port = given.port ?? (flags.serve ? 7233 : undefined);
  const uiPort = given.uiPort ?? (flags.serve ? 8233 : undefined);
  const codecPort = given.codecPort ?? (flags.serve ? 8888 : undefined);
  const sandboxGrpcPort = given.sandboxGrpcPort ?? (flags.serve ? 3203 : 0);
  const sandboxHttpPort = given.sandboxHttpPort ?? (flags.serve ? 3100 : 0);
  const taken = await portsTakenMessage([
    { port: port ?? 0, flag: '--port N' },
    { port: uiPort ?? 0, flag: '--ui-port N' },
    { port: codecPort ?? 0, flag: '--codec-port N' },
    { port: sandboxGrpcPort, flag: '--sandbox-grpc-port N' },
    { port: sandboxHttpPort, flag: '--sandbox-http-port N' },
  ]);
  if (taken) throw new DemoExit(taken, EXIT_PORT_IN_USE);
  const preferred = async (wanted: number) => ((await portInUse(wanted)) ? freePort() : wanted);
  return { port: port ?? (await preferred(7233)), uiPort: uiPort ?? (await preferred(8233)), codecPort: codecPort ?? (await preferred(8888)), sandboxGrpcPort, sandboxHttpPort };
}

const stops: Array<() => Promise<unknown>> = [];
async function stopAll(): Promise<void> {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
}

/** Faults and warnings on stderr, on a line of their own (the progress bar redraws itself). */
function notice(line: string): void {
  if (!flags.json && process.stdout.isTTY) process.stdout.write('\r\x1b[K');
  console.error(line);
}

async function main(): Promise<number> {
  installProcessLogger({ file: workerLog, terminalLevel: 'WARN', print: notice });
  const ports = await choosePorts();
  say(`Logs: worker and Temporal SDK ${workerLog}, Temporal server ${join(dataDir, 'temporal.log')}`);
  // Workers read recipient files only under RECIPIENT_FILE_ROOTS: here, the data dir.
  process.env.RECIPIENT_FILE_ROOTS ||= dataDir;
  const codec = await startLocalCodec({ dataDir, uiPort: ports.uiPort, port: ports.codecPort });
  if (codec.server) stops.push(() => codec.server!.close());
  for (const line of codec.lines) say(line);
  say(`Starting the Temporal dev server (SQLite state in ${join(dataDir, 'temporal.db')}) …`);
  const temporal = await startDevServer({ dbFile: join(dataDir, 'temporal.db'), port: ports.port, uiPort: ports.uiPort, ui: true, uiCodecEndpoint: codec.server?.uiEndpoint, logFile: join(dataDir, 'temporal.log') });
  stops.push(() => temporal.stop());
  say(`  Temporal ${temporal.address}, Web UI ${temporal.uiUrl}${ports.port !== 7233 && flags.ports.port === undefined ? ' (port 7233 was in use)' : ''}`);

  // `--serve` is for real use: the usual sandbox ports, state kept in .data/, a consent window from
  // SANDBOX_CONSENT_WINDOW (default 24 h), the listener's real intervals. The demo itself gets a
  // fresh sandbox on its defaults (consent first, rate limit and quota on) but a one-minute window,
  // and a listener whose intervals shrink with it: the same events and signals as a real day.
  const sandbox = await startSandbox(flags.serve
    ? { dbPath: join(dataDir, 'sandbox.sqlite'), grpcPort: ports.sandboxGrpcPort, httpPort: ports.sandboxHttpPort, consentWindowMs: parseDurationMs(process.env.SANDBOX_CONSENT_WINDOW ?? '24h') }
    : { dbPath: ':memory:', consentWindowMs: DEMO_WINDOW_MS, grpcPort: ports.sandboxGrpcPort, httpPort: ports.sandboxHttpPort });
  stops.push(() => sandbox.close());
  say(`  Ppoppo sandbox ${sandbox.grpcUrl} (inspection ${sandbox.httpUrl})`);

  const ppoppo = new PpoppoClient(makeClientConfig({ apiUrl: sandbox.grpcUrl, tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret }));
  stops.push(async () => ppoppo.close());
  const temporalConfig = { address: temporal.address, namespace: 'default' };
  const client = await connectClient(temporalConfig); // encrypting with the keys above, like the workers
  stops.push(() => client.connection.close());
  const connection = await connectWorkerConnection(temporalConfig);
  stops.push(() => connection.close());
  process.env.RECONCILE_SETTLE_MS ??= '2000';
  const workers = await runWorkers({ connection, temporalClient: client, ppoppoClient: ppoppo });
  stops.push(() => workers.shutdown());
  const listener = await runListener({ connection, temporalClient: client, ppoppoClient: ppoppo, ...(flags.serve ? {} : scaledListenerTiming(DEMO_WINDOW_MS)) });
  stops.push(() => listener.shutdown());
  say(`  worker and listener running; send rate ${workers.sendRate.text}`);

  if (flags.serve) {
    const env = [
      `TEMPORAL_ADDRESS=${temporal.address}`,
      ...codecEnvLines(codec, dataDir),
      `PCS_API_URL=${sandbox.grpcUrl}`,
      `PAS_TOKEN_URL=${sandbox.tokenUrl}`,
      `PAS_PCS_CLIENT_ID=${sandbox.clientId}`,
      'PAS_PCS_CLIENT_SECRET=<sandbox secret>',
    ];
    say(`\nStack is up. Point the CLI, the temporal CLI or app code at:\n${env.map((line) => `  export ${line}`).join('\n')}\nSandbox inspection (${sandbox.httpUrl}/inspect/…): Authorization: Bearer ${sandbox.inspectToken}\nCtrl-C stops everything.`);
    await new Promise<void>((done) => process.once('SIGINT', done));
    return 0;
  }

  // A local webhook receiver stands in for the fallback channel: the workers sign for it, and may
  // reach it (a loopback address) only because it is listed in FALLBACK_ALLOWED_HOSTS.
  const receiver = await startWebhookReceiver();
  stops.push(() => receiver.close());
  const webhookSecret = (process.env.FALLBACK_SECRET_WEBHOOK ||= `whsec_${randomBytes(32).toString('base64')}`);
  process.env.FALLBACK_ALLOWED_HOSTS = [process.env.FALLBACK_ALLOWED_HOSTS, new URL(receiver.url).host].filter(Boolean).join(',');

  const campaignId = `demo-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
  const file = join(dataDir, `${campaignId}.csv`);
  writeRecipients(file, flags.recipients);
  const spec: CampaignSpec = {
    campaignId,
    template: { name: `demo-welcome-${campaignId}`, components: [{ type: 'text', content: 'Hello {{name}}, welcome aboard!' }, { type: 'divider' }, { type: 'button', label: 'Open', url: 'https://ppoppo.com' }] },
    recipients: { file, format: 'csv' },
    consentWindow: '75s', // a little longer than the sandbox's minute, so every undecided consent expires there first
    fallback: { on: ['denied', 'expired'], channel: { type: 'webhook', url: receiver.url }, text: 'Hello {{name}}, we could not reach you on Ppoppo.' },
    limits: { chunkSize: 500, chunksInFlight: 4 },
  };
  const workflowId = campaignWorkflowId(campaignId);
  // Two API faults on purpose, through the sandbox's test-only switches, to show how they are handled:
  // a send refused (UNAVAILABLE: sent again) and an answer lost (INTERNAL: checked with the API, adopted).
  const inspector = new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken);
  await inspector.faults({ unavailableNext: 1, ambiguousNext: 1 });
  const handle = await client.workflow.start(CAMPAIGN_WORKFLOW_TYPE, { workflowId, taskQueue: TASK_QUEUES.campaigns, args: [spec] });
  const uiLink = `${temporal.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
  say(`\nCampaign ${campaignId}: ${thousands(flags.recipients)} recipients from ${file}\n  Web UI: ${uiLink}`);
  say(`  A first campaign: every recipient is new to the app, so each is asked for consent first. Decisions come in over
  the consent window, scaled from 24 h to ${DEMO_WINDOW_MS / 1000} s (the listener's intervals scaled with it); the denied and
  the expired get the fallback. Two API faults are provoked on purpose: one send refused, one answer lost.
  A running chunk reports what it has settled as decisions come in (at most 12 times per window), so the counts
  below grow during the minute; the rest wait for their decision or the end of the window.\n`);

  const started = Date.now();
  /** Without a terminal, a line is printed only when it changed (as `campaign watch` does). */
  let lastLine = '';
  const ticker = setInterval(() => {
    handle.query(progressQuery).then((p: CampaignProgress) => {
      // The line `campaign watch` prints, with the consent figures as decisions come in.
      const consent = p.consent ? consentLine(p.consent) : '';
      const line = `${progressLine(p)}${consent ? ` | consent: ${consent}` : ''}`;
      if (!flags.json && process.stdout.isTTY) process.stdout.write(`\r\x1b[2K${fit(`${line} | ${((Date.now() - started) / 1000).toFixed(0)}s`, process.stdout.columns)}`);
      else if (line !== lastLine) say((lastLine = line));
    }, () => undefined);
  }, flags.json || !process.stdout.isTTY ? 5_000 : 500);
  const result: CampaignResult = await handle.result().finally(() => clearInterval(ticker));
  say('');

  // Checks against the sandbox's own ledger and the fallback receiver; the quota as the API reports it.
  const duplicates = await inspector.duplicates();
  const usage = await ppoppo.getUsageStats();
  const fallbacks = receiver.requests.map((request) => JSON.parse(request.body) as { ppnum: string; outcome: string });
  const fallbackKeys = fallbacks.map((f) => f.ppnum);
  const checks = {
    completed: result.status === 'completed',
    everyRecipientHasOneOutcome: Object.values({ ...result.counts, fallbackSent: 0, fallbackFailed: 0 }).reduce((a, b) => a + b, 0) === result.total,
    nobodyMessagedTwice: duplicates.length === 0,
    fallbackOncePerRecipient: new Set(fallbackKeys).size === fallbackKeys.length,
    fallbackMatchesPolicy: fallbackKeys.length === result.counts.denied + result.counts.expired,
    fallbacksSigned: receiver.requests.every((request) => verifyWebhook({ headers: request.headers, body: request.body, secret: webhookSecret }).ok),
    everyRecipientAskedForConsent: result.consent?.asked === result.total,
  };
  const ok = Object.values(checks).every(Boolean);
  const seconds = (Date.now() - started) / 1000;
  if (flags.json) {
    console.log(JSON.stringify({ campaignId, seconds, result, fallbacksReceived: fallbacks.length, usage, checks, webUi: uiLink, payloadKeyFile: process.env.PAYLOAD_KEY_FILE, codecServer: codec.server?.url }, null, 2));
  } else {
    console.log(`Campaign ${result.status} in ${seconds.toFixed(1)} s`);
    console.log(`  recipients      ${thousands(result.total)} in ${thousands(result.chunks)} chunks`);
    for (const [outcome, count] of Object.entries(result.counts)) console.log(`  ${outcome.padEnd(15)} ${thousands(count)}`);
    console.log(`  consent         ${result.consent ? consentLine(result.consent) : '—'}`);
    console.log(`  ${usageLine(usage)} (GetUsageStats)`);
    console.log(`  fallbacks received by the webhook: ${fallbacks.length}`);
    for (const [name, passed] of Object.entries(checks)) console.log(`  ${passed ? 'ok  ' : 'FAIL'} ${name}`);
    console.log(`  Web UI: ${uiLink}`);
  }
  if (flags.keep) {
    say('\n--keep: the stack stays up; Ctrl-C stops everything.');
    await new Promise<void>((done) => process.once('SIGINT', done));
  }
  return ok ? 0 : 1;
}

main()
  .then(async (code) => {
    await stopAll();
    process.exit(code);
  })
  .catch(async (error: unknown) => {
    if (error instanceof DemoExit) {
      console.error(error.message);
    } else {
      // Unexpected: one line here, the stack in the log for whoever debugs it.
      appendFileSync(workerLog, `demo failed: ${(error as Error).stack ?? String(error)}\n`);
      console.error(`demo failed: ${(error as Error).message ?? String(error)} (details in ${workerLog})`);
    }
    await stopAll();
    process.exit(error instanceof DemoExit ? error.code : 1);
  });
