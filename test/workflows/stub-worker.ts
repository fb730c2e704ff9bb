// Workflow unit tests: the real campaign and chunk workflows on a real Temporal server, with
// stub activities. Each test picks its own templateId; the stubs look up that test's scenario by
// templateId, so one worker serves every test in a file.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { DeliveryEvent, EventType, RecipientInput } from '../../src/api/types';
import type { ValidationIssue } from '../../src/api/validation';
import type { ChunkSource } from '../../src/campaign/chunk-source';
import { createChunkStatusActivities } from '../../activities/chunk-status';
import type { RecipientSnapshot } from '../../src/contracts/chunk';
import { CONFIGURATION_FAULT, deliveryBatchSignal, encodeBatch, SEND_FAILURE_TYPES } from '../../src/contracts/chunk';
import { CAMPAIGN_MEMO } from '../../src/contracts/campaign';
import { dataConverterFromEnv } from '../../src/temporal/data-converter';
import { quietTemporalLogs } from '../support/quiet-logs';
import type { SendChunkInput, SendChunkReceipt } from '../../activities/send';
import type { UntoldRoute } from '../../src/contracts/listener';

/** The listener workflow the stub send names for routes the chunk must tell itself (none runs: the signal fails, as the chunk allows). */
export const STUB_LISTENER_WORKFLOW_ID = 'stub-listener';

export interface SendCall {
  templateId: string;
  ppnums: string[];
  workflowId: string;
  /** The campaign the send activity was asked to tell about an accepted request. */
  campaign?: { workflowId: string; chunkIndex: number; recipients: number; sendRequestIds?: string[] };
  /** When the activity ran (epoch ms). */
  at?: number;
  /** The earlier requests' routes that waited for this one (SendChunkInput.routesWithLast). */
  untold?: UntoldRoute[];
  /** reconcileSend only: where its scan was told to start. */
  cursorBefore?: string | null;
  attemptStartedAt?: number;
}

export interface FallbackItem {
  ppnum: string;
  outcome: string;
  vars?: Record<string, string>;
  /** Set when the batch carried a file source (the activity reads the vars itself). */
  source?: ChunkSource;
}

/** What the stubs do for one test; every hook is optional. */
export interface Scenario {
  /** Throw to fail the attempt; return a send request id to accept. Default: accept, deliver everyone. */
  send?: (call: SendCall, attempt: number) => Promise<string> | string;
  /** The send activity says it told the campaign (chunkSent) itself, as the real one does when it can. */
  tellsCampaign?: boolean;
  /** Routes the chunk lets wait (routesWithLast) wait, but the last request's: it tells them all, as the real activity does at a good rate. */
  routesWait?: boolean;
  reconcile?: (call: SendCall) => string | null;
  /** Events to emit (to the chunk workflow, by signal) once a request is accepted or adopted. */
  eventsFor?: (ppnum: string) => EventType[];
  placeholders?: string[];
  isPoll?: boolean;
  /** What GetSendRequestStatus reports as final at the end of the consent window (default: nothing). */
  snapshot?: (ppnums: string[]) => RecipientSnapshot[];
  /** The worker's check of the fallback channel at campaign start (1-based): a message makes that check a ConfigurationFault ('fallback'). */
  fallbackConfigInvalid?: (check: number) => string | undefined;
  /** A file source: the ppnums of each planned chunk, the plan's invalid rows, and chunks whose rows can no longer be read. */
  file?: { chunks: string[][]; invalid?: ValidationIssue[]; unreadable?: number[] };
  /** Throw to fail ensureTemplate's attempt (1-based). */
  template?: (attempt: number) => void;
  /** Throw to fail a fallback batch's attempt (1-based, counted per templateId); default: all sent. */
  fallback?: (items: FallbackItem[], attempt: number) => void;
}

/** Calls made by the stubs, per templateId. */
export class CallLog {
  sends: SendCall[] = [];
  reconciles: SendCall[] = [];
  fallbacks: FallbackItem[] = [];
  /** The unsettled ppnums of each end-of-window status snapshot. */
  snapshots: string[][] = [];
  ensureTemplate = 0;
  fallbackChecks = 0;
  /** Fallback batch attempts, failed ones included. */
  fallbackAttempts = 0;
}

export class StubWorld {
  readonly taskQueue = `workflows-test-${randomUUID().slice(0, 8)}`;
  client!: Client;
  private worker!: Worker;
  private running!: Promise<void>;
  private scenarios = new Map<string, Scenario>();
  private logs = new Map<string, CallLog>();

  /** Registers a scenario under a fresh templateId and returns that id with its call log. */
  scenario(scenario: Scenario = {}): { templateId: string; calls: CallLog } {
    const templateId = `tpl-${randomUUID().slice(0, 8)}`;
    this.scenarios.set(templateId, scenario);
    const calls = new CallLog();
    this.logs.set(templateId, calls);
    return { templateId, calls };
  }

  /** `address`: the shared test server (testTemporalAddress()) or the record script's own. */
  async start(address: string): Promise<void> {
    quietTemporalLogs();
    const dataConverter = dataConverterFromEnv();
    this.client = new Client({ connection: await Connection.connect({ address }), dataConverter });
    this.worker = await Worker.create({
      connection: await NativeConnection.connect({ address }),
      dataConverter,
      taskQueue: this.taskQueue,
      workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)),
      activities: this.activities(),
    });
    this.running = this.worker.run();
  }

  async stop(): Promise<void> {
    this.worker?.shutdown();
    await this.running;
  }

  /** Ends what the tests left running on this queue (chunks are abandoned children), then the worker. */
  async terminateAllAndStop(): Promise<void> {
    for await (const info of this.client.workflow.list({ query: `TaskQueue = "${this.taskQueue}" AND ExecutionStatus = "Running"` })) {
      await this.client.workflow.getHandle(info.workflowId).terminate('test finished').catch(() => undefined);
    }
    await this.stop();
  }

  /** Workflow start options that route the send activity to this worker. */
  get memo(): Record<string, string> {
    return { [CAMPAIGN_MEMO.sendTaskQueue]: this.taskQueue };
  }

  private activities() {
    const scenarioOf = (templateId: string) => this.scenarios.get(templateId) ?? {};
    const logOf = (templateId: string) => this.logs.get(templateId) ?? new CallLog();
    const signal = (workflowId: string, events: DeliveryEvent[]) => this.client.workflow.getHandle(workflowId).signal(deliveryBatchSignal, encodeBatch(events[0]!.sendRequestId, events, Date.now()));
    const templateOfRequest = new Map<string, string>();
    const currentWorkflowId = () => Context.current().info.workflowExecution?.workflowId ?? '';
    // Stub file sources are named stub-file://<templateId>; byteStart is the chunk's index in the plan.
    const ppnumsOf = (source: ChunkSource) => {
      if (source.kind === 'inline') return source.recipients.map((r) => r.ppnum);
      if (source.kind === 'followUp') throw ApplicationFailure.nonRetryable('follow-ups are not stubbed', 'NotStubbed');
      return source.kind === 'file' ? (scenarioOf(source.path.replace('stub-file://', '')).file?.chunks[source.byteStart] ?? []) : [];
    };

    async function emit(workflowId: string, sendRequestId: string, ppnums: string[], scenario: Scenario): Promise<void> {
      const events: DeliveryEvent[] = [];
      for (const ppnum of ppnums) {
        for (const type of scenario.eventsFor?.(ppnum) ?? ['RECIPIENT_DELIVERED']) {
          events.push({ eventId: randomUUID(), sendRequestId, type, ppnum });
        }
      }
      if (events.length > 0) await signal(workflowId, events);
    }

    return {
      // The real one: it only talks to Temporal.
      ...createChunkStatusActivities({ temporalClient: this.client }),
      // The campaign id doubles as the template id in these tests' campaigns (workflow id campaign/<id>).
      async checkFallbackChannel() {
        const templateId = currentWorkflowId().replace(/^campaign\//, '');
        logOf(templateId).fallbackChecks += 1;
        const invalid = scenarioOf(templateId).fallbackConfigInvalid?.(logOf(templateId).fallbackChecks);
        if (invalid) throw configurationFault('fallback', 'FALLBACK_SETTINGS', null, invalid);
      },
      async ensureTemplate(input: { templateId: string } | { name: string }) {
        const templateId = 'templateId' in input ? input.templateId : input.name;
        logOf(templateId).ensureTemplate += 1;
        const scenario = scenarioOf(templateId);
        scenario.template?.(logOf(templateId).ensureTemplate);
        return { templateId, placeholders: scenario.placeholders ?? [], isPoll: scenario.isPoll ?? false };
      },
      async readChunkPpnums(source: ChunkSource) {
        if (source.kind === 'file' && scenarioOf(source.path.replace('stub-file://', '')).file?.unreadable?.includes(source.byteStart)) {
          throw ApplicationFailure.nonRetryable(`stub file chunk ${source.byteStart} is unreadable`, 'RecipientFileChanged');
        }
        return ppnumsOf(source);
      },
      async readChunkRecipients(input: { source: ChunkSource }): Promise<RecipientInput[]> {
        return input.source.kind === 'inline' ? input.source.recipients : [];
      },
      async beginSend() {
        return { cursorBefore: 'cursor-before' };
      },
      async createSendRequest(input: Pick<SendChunkInput, 'templateId' | 'source' | 'campaign' | 'part' | 'routePart' | 'routesWithLast'>): Promise<SendChunkReceipt> {
        const workflowId = currentWorkflowId();
        const rows = ppnumsOf(input.source);
        const ppnums = input.part ? rows.slice(input.part.offset, input.part.offset + input.part.count) : rows;
        const call: SendCall = { templateId: input.templateId, ppnums, workflowId, campaign: input.campaign, at: Date.now(), ...(input.routesWithLast ? { untold: input.routesWithLast.untold } : {}) };
        const log = logOf(input.templateId);
        log.sends.push(call);
        const scenario = scenarioOf(input.templateId);
        const sendRequestId = scenario.send ? await scenario.send(call, log.sends.length) : `sr-${randomUUID().slice(0, 8)}`;
        templateOfRequest.set(sendRequestId, input.templateId);
        // Like the real API, events may reach the chunk before the receipt does: it buffers them.
        await emit(workflowId, sendRequestId, call.ppnums, scenario);
        // As the real activity: the campaign is told only when the chunk asked (its last request).
        const waits = scenario.routesWait === true && input.routesWithLast !== undefined && input.routePart !== undefined && input.routePart.index < input.routePart.count - 1;
        return { sendRequestId, status: 'QUEUED', totalRecipients: call.ppnums.length, ...(scenario.tellsCampaign && input.campaign ? { campaignTold: true } : {}), ...(waits ? { routeWaits: { listenerWorkflowId: STUB_LISTENER_WORKFLOW_ID } } : {}) };
      },
      async reconcileSend(input: { ppnums: string[]; templateId: string; cursorBefore?: string | null; attemptStartedAt?: number }) {
        const workflowId = currentWorkflowId();
        const call: SendCall = { templateId: input.templateId, ppnums: input.ppnums, workflowId, cursorBefore: input.cursorBefore, attemptStartedAt: input.attemptStartedAt };
        logOf(input.templateId).reconciles.push(call);
        const scenario = scenarioOf(input.templateId);
        const sendRequestId = scenario.reconcile?.(call) ?? null;
        if (sendRequestId) await emit(workflowId, sendRequestId, call.ppnums, scenario);
        return { sendRequestId };
      },
      sendFallbacks: async (input: { campaignId: string; items: FallbackItem[]; source?: ChunkSource }) => {
        // The campaign id doubles as the template id in these tests' campaigns; chunk tests use the template id too.
        const log = this.logs.get(input.campaignId);
        if (log) log.fallbackAttempts += 1;
        scenarioOf(input.campaignId).fallback?.(input.items, log?.fallbackAttempts ?? 1);
        log?.fallbacks.push(...input.items.map((item) => ({ ...item, source: input.source })));
        return input.items.map((item) => ({ ppnum: item.ppnum, status: 'sent' as const, attempts: 1 }));
      },
      async snapshotOutcomes(input: { sendRequestId: string; ppnums: string[] }): Promise<RecipientSnapshot[]> {
        const templateId = templateOfRequest.get(input.sendRequestId) ?? '';
        logOf(templateId).snapshots.push(input.ppnums);
        return scenarioOf(templateId).snapshot?.(input.ppnums) ?? [];
      },
      async fetchPollResults(input: { sendRequestIds: string[] }) {
        return { options: { yes: input.sendRequestIds.length }, totalResponses: input.sendRequestIds.length };
      },
      async planRecipients(input: { file: string }) {
        const file = scenarioOf(input.file.replace('stub-file://', '')).file;
        if (!file) throw ApplicationFailure.nonRetryable(`no stub file ${input.file}`, 'NotStubbed');
        const chunks: ChunkSource[] = file.chunks.map((_, i) => ({ kind: 'file', path: input.file, format: 'csv', byteStart: i, byteEnd: i + 1, firstLine: 2, skipLines: [] }));
        const valid = file.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
        const invalid = file.invalid ?? [];
        // Stub chunks need not be chunkSize each: their sizes travel, as a zoned plan's do.
        return { total: valid + invalid.length, valid, invalidCount: invalid.length, duplicateCount: 0, issues: invalid, chunks, sizes: file.chunks.map((rows) => rows.length) };
      },
    };
  }
}

export function refused(retryAfterMs: number | null, quota = false): ApplicationFailure {
  return ApplicationFailure.create({ type: SEND_FAILURE_TYPES.refused, message: 'refused', nonRetryable: true, details: [{ retryAfterMs, quota, codeName: 'RESOURCE_EXHAUSTED' }] });
}

export function ambiguous(): ApplicationFailure {
  return ApplicationFailure.create({ type: SEND_FAILURE_TYPES.ambiguous, message: 'answer lost', nonRetryable: true, details: [{ codeName: 'INTERNAL', message: 'answer lost' }] });
}

export function rejected(codeName = 'INVALID_ARGUMENT'): ApplicationFailure {
  return ApplicationFailure.create({ type: SEND_FAILURE_TYPES.rejected, message: 'rejected', nonRetryable: true, details: [{ codeName, message: 'rejected' }] });
}

/** What the real activities throw for a configuration fault (credentials, template, host, fallback channel). */
export function configurationFault(reason: 'credentials' | 'template' | 'unreachable' | 'fallback', codeName: string, retryAfterMs: number | null = null, message = `${codeName}: stub fault`): ApplicationFailure {
  return ApplicationFailure.create({ type: CONFIGURATION_FAULT, message, nonRetryable: true, details: [{ reason, codeName, message, retryAfterMs }] });
}

export function recipients(n: number, offset = 0): RecipientInput[] {
  return Array.from({ length: n }, (_, i) => ({ ppnum: String(45600000000 + offset + i), vars: { name: `R${offset + i}` } }));
}
