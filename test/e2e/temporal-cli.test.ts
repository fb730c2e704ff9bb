// The README's Temporal CLI block, run as a user runs it: the commands are read from README.md
// itself (so README and test cannot drift), the campaign id, spec file and `--address` are
// substituted, and each runs with the real `temporal` binary against the shared test server. The
// production worker (on the production task queues the README names), the listener and the Ppoppo
// sandbox run here. vitest runs test files one at a time, so no other test polls those queues.
// Payloads are encrypted: the CLI goes through our codec server, as the README's export line says.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PpoppoClient } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import { parseCampaignSpec } from '../../src/campaign/spec';
import type { CampaignSpec } from '../../src/campaign/spec';
import { runListener } from '../../src/listener';
import type { RunningListener } from '../../src/listener';
import { startSandbox } from '../../src/sandbox/server';
import { startCodecServer, type CodecServer } from '../../src/temporal/codec-server';
import { payloadEncryptionFromEnv } from '../../src/temporal/data-converter';
import { temporalCliPath } from '../../dev/temporal/dev-server';
import { TASK_QUEUES } from '../../src/temporal/names';
import { runWorkers } from '../../src/worker';
import type { RunningWorkers } from '../../src/worker';
import type { CampaignProgress } from '../../src/contracts/campaign';
import type { RecipientRecord } from '../../src/contracts/chunk';
import { cleartextFound, isOutsideCodec, payloadsIn } from '../support/cleartext';
import { connectTestClient, connectTestWorkerConnection, pollUntil, testTemporalAddress } from '../support/temporal';
import { quietTemporalLogs } from '../support/quiet-logs';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const README_CAMPAIGN_ID = 'spring-sale';

/** The first ```lang block after `heading` in the README. */
function readmeBlock(heading: string, lang: string): string {
  const start = README.indexOf(heading);
  if (start < 0) throw new Error(`README has no "${heading}"`);
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(README.slice(start));
  if (!match?.[1]) throw new Error(`README has no ${lang} block after "${heading}"`);
  return match[1];
}

/** Shell lines → argument lists: backslash-newline joins lines, '…' and "…" quote, # starts a comment. */
function shellCommands(block: string): string[][] {
  const commands: string[][] = [];
  for (const line of block.replace(/\\\n/g, ' ').split('\n')) {
    const words: string[] = [];
    let word: string | undefined;
    let quote: string | undefined;
    for (const char of line) {
      if (quote) {
        if (char === quote) quote = undefined;
        else word += char;
      } else if (char === "'" || char === '"') {
        quote = char;
        word ??= '';
      } else if (/\s/.test(char)) {
        if (word !== undefined) words.push(word);
        word = undefined;
      } else if (char === '#' && word === undefined) {
        break;
      } else {
        word = (word ?? '') + char;
      }
    }
    if (word !== undefined) words.push(word);
    if (words.length > 0) commands.push(words);
  }
  return commands;
}

const README_COMMANDS = shellCommands(readmeBlock('### From the Temporal CLI', 'sh'));
const README_CODEC_ENDPOINT = 'http://127.0.0.1:8888';
/** The block's `export NAME=value …` line: which variables point the CLI at the codec server. */
const README_EXPORTS = Object.fromEntries((README_COMMANDS.find((words) => words[0] === 'export') ?? []).slice(1).map((word) => word.split('=', 2) as [string, string]));

/** The README command `temporal workflow <sub> …` whose arguments include every one of `having`. */
function readmeCommand(sub: string, ...having: string[]): string[] {
  const found = README_COMMANDS.filter((words) => words[0] === 'temporal' && words[1] === 'workflow' && words[2] === sub && having.every((h) => words.includes(h)));
  if (found.length !== 1) throw new Error(`expected one README command "temporal workflow ${sub} ${having.join(' ')}", found ${found.length}`);
  return found[0]!;
}

const run = randomUUID().slice(0, 8);
const campaignId = `tcli-${run}`;
const dir = mkdtempSync(join(tmpdir(), 'temporal-cli-'));
const specPath = join(dir, 'spec.json');
const listenerQueue = `tcli-listener-${run}`;

let sandbox: Awaited<ReturnType<typeof startSandbox>>;
let temporal: Client;
let connection: NativeConnection;
let workers: RunningWorkers;
let listener: RunningListener;
let codecServer: CodecServer;
const codecToken = `tcli-codec-${randomUUID()}`;
/** The README's `export TEMPORAL_CODEC_ENDPOINT=… TEMPORAL_CODEC_AUTH=…` line, with this test's codec server. */
let codecEnv: Record<string, string>;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a README command with the real binary: our campaign id, spec file and codec server (the
 * README's codec URL and $CODEC_SERVER_TOKEN), plus --address. `env` replaces the codec variables.
 */
function temporalCli(words: string[], replace: Record<string, string> = {}, env: Record<string, string> = codecEnv): Promise<Ran> {
  const args = words.slice(1).map((word) => {
    let arg = replace[word] ?? word;
    if (arg === 'spec.json') arg = specPath;
    if (arg === README_CODEC_ENDPOINT) arg = codecServer.url;
    if (arg === 'Bearer $CODEC_SERVER_TOKEN') arg = `Bearer ${codecToken}`;
    return arg.replace(`campaign/${README_CAMPAIGN_ID}`, `campaign/${campaignId}`);
  });
  args.push('--address', testTemporalAddress());
  return new Promise((resolve) => {
    const { TEMPORAL_CODEC_ENDPOINT: _endpoint, TEMPORAL_CODEC_AUTH: _auth, ...inherited } = process.env;
    const child = spawn(temporalCliPath(), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...inherited, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `temporal workflow query` prints "Query result:" then "QueryResult  <json>". */
function queryResult<T>(ran: Ran): T {
  const match = /QueryResult\s+(.*)$/m.exec(ran.stdout);
  if (ran.code !== 0 || !match?.[1]) throw new Error(`query failed (exit ${ran.code}): ${ran.stdout}${ran.stderr}`);
  return JSON.parse(match[1]) as T;
}

beforeAll(async () => {
  quietTemporalLogs();
  // Consent decisions within 200 ms; 12300000005 never decides and the sandbox expires it only
  // after 10 minutes, so its chunk (the last) stays open for the whole test.
  sandbox = await startSandbox({ consentDecisionDelayMs: 200, consentWindowMs: 600_000 });
  const ppoppo = new PpoppoClient(makeClientConfig({ apiUrl: sandbox.grpcUrl, tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret }));
  temporal = await connectTestClient();
  connection = await connectTestWorkerConnection();
  workers = await runWorkers({ connection, temporalClient: temporal, ppoppoClient: ppoppo, listenerWorkflowId: listenerQueue }); // production queues
  listener = await runListener({ connection, temporalClient: temporal, ppoppoClient: ppoppo, taskQueue: listenerQueue, workflowId: listenerQueue, maxRunMs: 2_000, batchMaxDelayMs: 100, actionableMaxDelayMs: 100 });
  const encryption = payloadEncryptionFromEnv();
  if (!encryption.on) throw new Error('this test needs payload encryption on (test/global-setup.ts sets PAYLOAD_KEYS)');
  codecServer = await startCodecServer({ codec: encryption.codec, token: codecToken, corsOrigins: [], port: 0 });
  codecEnv = { TEMPORAL_CODEC_ENDPOINT: codecServer.url, TEMPORAL_CODEC_AUTH: `Bearer ${codecToken}` };
}, 120_000);

afterAll(async () => {
  if (temporal) {
    for await (const info of temporal.workflow.list({ query: `PpoppoCampaignId = "${campaignId}" AND ExecutionStatus = "Running"` })) {
      await temporal.workflow.getHandle(info.workflowId).terminate('test finished').catch(() => undefined);
    }
    await temporal.workflow.getHandle(listenerQueue).terminate('test finished').catch(() => undefined);
  }
  await listener?.shutdown();
  await workers?.shutdown();
  await connection?.close();
  await temporal?.connection.close();
  await sandbox?.close();
  await codecServer?.close();
});

describe('README: Temporal CLI commands with the real temporal binary', () => {
  it('the README shows start, query, update, list and signal commands and a valid spec', () => {
    expect(readmeCommand('start', '--type', 'campaignWorkflow', '--task-queue', TASK_QUEUES.campaigns, '--input-file', 'spec.json')).toContain(`campaign/${README_CAMPAIGN_ID}`);
    readmeCommand('query', '--type', 'progress');
    readmeCommand('update', 'execute', '--name', 'pause');
    readmeCommand('list');
    readmeCommand('query', '--type', 'recipients');
    readmeCommand('signal');
    readmeCommand('show', '--codec-endpoint', README_CODEC_ENDPOINT, '--codec-auth');
    expect(README_EXPORTS).toEqual({ TEMPORAL_CODEC_ENDPOINT: README_CODEC_ENDPOINT, TEMPORAL_CODEC_AUTH: 'Bearer $CODEC_SERVER_TOKEN' });
    const readmeSpec = JSON.parse(readmeBlock('A campaign is a JSON spec', 'json')) as unknown;
    expect(parseCampaignSpec(readmeSpec).issues).toEqual([]);
    expect(readmeSpec).toMatchObject({ campaignId: README_CAMPAIGN_ID });
  });

  it('starts the campaign from spec.json', async () => {
    // The README's spec with this run's id and inline recipients: four chunks of one; the last
    // (12300000005, consent never decided) stays open, so the campaign is still running throughout.
    const readmeSpec = JSON.parse(readmeBlock('A campaign is a JSON spec', 'json')) as CampaignSpec;
    const spec: CampaignSpec = {
      ...readmeSpec,
      campaignId,
      template: { name: campaignId, components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { inline: ['12300000001', '12300000002', '12300000004', '12300000005'].map((ppnum) => ({ ppnum, vars: { name: `N${ppnum.slice(-1)}` } })) },
      fallback: undefined,
      limits: { chunkSize: 1, sendsPerChunk: 1, chunksInFlight: 4 },
    };
    writeFileSync(specPath, JSON.stringify(spec));

    const ran = await temporalCli(readmeCommand('start'));
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(new RegExp(`WorkflowId\\s+campaign/${campaignId}\\b`));
    expect(ran.stdout).toMatch(/Type\s+campaignWorkflow/);
    expect(ran.stdout).toMatch(new RegExp(`TaskQueue\\s+${TASK_QUEUES.campaigns}`));
    // Through the codec server the CLI stored the spec encrypted: Temporal never had it in cleartext.
    const started = (await temporal.workflow.getHandle(`campaign/${campaignId}`).fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(Buffer.from(started.metadata!.encoding!).toString()).toBe('binary/encrypted');
  });

  it('queries progress as JSON', async () => {
    const progress = await pollUntil(
      'all four chunks sent',
      async () => queryResult<CampaignProgress>(await temporalCli(readmeCommand('query', '--type', 'progress'))),
      (p) => p.chunksSent === 4, // from here on, campaign control is not forwarded to any chunk
      60_000,
    );
    expect(progress).toMatchObject({ campaignId, status: 'running', total: 4, chunksTotal: 4 });
    expect(progress.counts).toHaveProperty('delivered');
  });

  it('pauses and resumes with updates, and refuses a resume that does not apply', async () => {
    const update = readmeCommand('update', 'execute', '--name', 'pause');
    const pause = await temporalCli(update);
    expect(pause.code, pause.stderr).toBe(0);
    expect(pause.stdout).toMatch(/Result\s+.*status:paused/);

    const resume = await temporalCli(update, { pause: 'resume' });
    expect(resume.code, resume.stderr).toBe(0);
    expect(resume.stdout).toMatch(/Result\s+.*status:running/);

    const again = await temporalCli(update, { pause: 'resume' });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain(`cannot resume campaign ${campaignId}: it is running`);
  });

  it('lists the campaign by its status search attribute', async () => {
    const listed = await pollUntil(
      'the campaign in the running list',
      () => temporalCli(readmeCommand('list')),
      (ran) => ran.code === 0 && ran.stdout.includes(`campaign/${campaignId} `),
      30_000,
    );
    expect(listed.stdout).toMatch(new RegExp(`Running\\s+campaign/${campaignId}\\s+campaignWorkflow`));
    expect(listed.stdout).not.toContain(`campaign/${campaignId}/chunk/`); // chunks carry no campaign status
  });

  it("queries a chunk's recipients with their state and history", async () => {
    const records = await pollUntil(
      'chunk 0 delivered',
      async () => queryResult<RecipientRecord[]>(await temporalCli(readmeCommand('query', '--type', 'recipients'))),
      (list) => list[0]?.state === 'delivered',
      60_000,
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ ppnum: '12300000001', state: 'delivered', outcome: 'delivered' });
    expect(records[0]!.history.map((h) => h.event)).toContain('queued');
  });

  it('signals a chunk; the chunk records the signal', async () => {
    const signal = readmeCommand('signal');
    const ran = await temporalCli(signal);
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    expect(ran.stdout).toContain('Signal workflow succeeded');

    const chunkId = signal[signal.indexOf('--workflow-id') + 1]!.replace(`campaign/${README_CAMPAIGN_ID}`, `campaign/${campaignId}`);
    const history = await temporal.workflow.getHandle(chunkId).fetchHistory();
    const signalled = (history.events ?? []).filter((event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'chunkControl');
    expect(signalled).toHaveLength(1);
  });

  it('shows the history decoded with --codec-endpoint/--codec-auth, and ciphertext without them', async () => {
    const show = readmeCommand('show');
    const shown = async (words: string[], replace: Record<string, string> = {}) => {
      const ran = await temporalCli([...words, '--output', 'json'], replace, {});
      expect(ran.code, ran.stderr).toBe(0);
      return payloadsIn(JSON.parse(ran.stdout));
    };
    const decoded = await shown(show);
    expect(new Set(decoded.map((p) => p.encoding))).not.toContain('binary/encrypted');
    expect(cleartextFound(decoded.map((p) => p.data), ['"name":"N5"', '12300000005'])).toEqual(['"name":"N5"', '12300000005']);

    const plain = await shown(['temporal', 'workflow', 'show', '--workflow-id', `campaign/${campaignId}`]);
    expect(plain.length).toBeGreaterThan(5);
    expect(plain.filter((p) => !isOutsideCodec(p) && p.encoding !== 'binary/encrypted').map((p) => `${p.path}: ${p.encoding}`)).toEqual([]);
    // The same needles as decoded: a bare "N5" is two characters any ciphertext may hold by chance.
    expect(cleartextFound(plain.map((p) => p.data), ['"name":"N5"', '12300000005'])).toEqual([]);

    const wrongToken = await temporalCli([...show, '--output', 'json'], { 'Bearer $CODEC_SERVER_TOKEN': 'Bearer not-the-token' }, {});
    expect(wrongToken.code).not.toBe(0);
    expect(wrongToken.stdout + wrongToken.stderr).not.toContain('12300000005');
  });

  it('cancels with the update; the sent chunk still ends, then the campaign is cancelled', async () => {
    const cancel = await temporalCli(readmeCommand('update', 'execute', '--name', 'pause'), { pause: 'cancel' });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/Result\s+.*status:(cancelling|cancelled)/);
    const progress = queryResult<CampaignProgress>(await temporalCli(readmeCommand('query', '--type', 'progress')));
    expect(['cancelling', 'cancelled']).toContain(progress.status);
  });
});
