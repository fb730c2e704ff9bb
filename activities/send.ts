// Send-side activities: template, pre-send cursor, the one CreateSendRequest call, reconciliation
// of ambiguous sends, and poll results. Each takes its dependencies from the factory.
import { ApplicationFailure } from '@temporalio/common';
import type { SignalDefinition } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { PpoppoClient } from '../src/api/client';
import { PpoppoApiError } from '../src/api/errors';
import type { PollConfigSpec, SendReceipt, TemplateComponentSpec, TemplateInfo } from '../src/api/types';
import { extractPlaceholders, urlTemplates } from '../src/api/validation';
import { envNumber } from '../src/run-helpers';
import type { ChunkSource } from '../src/campaign/chunk-source';
import type { TemplateSource } from '../src/campaign/spec';
import { chunkSentSignal } from '../src/contracts/campaign';
import type { ChunkSentPayload } from '../src/contracts/campaign';
import { SEND_FAILURE_TYPES } from '../src/contracts/chunk';
import type { RecipientSnapshot } from '../src/contracts/chunk';
import { LISTENER_WORKFLOW_ID, ROUTE_WAIT_MAX_MS, tellRoutes } from '../src/contracts/listener';
import type { ChunkRoute, PromptEventType, RoutePart, UntoldRoute } from '../src/contracts/listener';
import { apiFailure, configurationFailure, sendFailure } from './api-failures';
import { ChunkDirectory } from './chunk-directory';
import { activityContext, keptAlive, withKeepAlive } from './heartbeat';
import { cursorAt, reconcileSendRequest } from './reconcile';
import type { ReconcileInput } from './reconcile';
import { chunkReader } from './recipients';
import type { SendPacer } from './send-pacer';
import { sourceChanged } from './sources/source';

export interface SendDeps {
  client: PpoppoClient;
  /** Tells the listener about accepted requests (routes), and rules out other chunks' requests in reconcileSend. */
  temporalClient?: Client;
  /** How far before an attempt reconciliation starts reading the stream (default env PRESEND_CURSOR_MARGIN_MS, else 60 s). */
  presendCursorMarginMs?: number;
  /** The listener workflow told about each accepted request (default LISTENER_WORKFLOW_ID). */
  listenerWorkflowId?: string;
  /** Spaces this worker's CreateSendRequest calls (the send worker's; none = unspaced). */
  pacer?: SendPacer;
  /** Quiet period after which reconcileSend answers "nothing was accepted". */
  reconcileSettleMs?: number;
  reconcileMaxScanMs?: number;
}

export interface EnsuredTemplate {
  templateId: string;
  placeholders: string[];
  /** Button and image links with placeholders: every recipient's rendered link must be http(s). Absent in older histories. */
  urlTemplates?: string[];
  isPoll: boolean;
}

/** One chunk's send: the activity reads the chunk's own rows (vars never enter the history for files). */
export interface SendChunkInput {
  templateId: string;
  source: ChunkSource;
  pollConfig?: PollConfigSpec;
  /** The campaign's deadline (ISO): the call is not made after it, however long the task waited in the queue. */
  notAfter?: string;
  /**
   * The campaign to tell about an accepted request (chunkSent), from here: the chunk then sends no
   * signal of its own, and is spared the workflow task that signal's completion would wake.
   */
  campaign?: { workflowId: string; chunkIndex: number; recipients: number; sendRequestIds?: string[] };
  /** A chunk sent as several requests: this one's recipients are the source's rows [offset, offset + count). */
  part?: { offset: number; count: number };
  /** The event types the chunk acts on at once, for the listener's route (absent: all that may call for a fallback). */
  prompt?: PromptEventType[];
  /** A chunk sent as several requests: this one's place among them, for the listener's route (RouteTarget.part). */
  routePart?: RoutePart;
  /**
   * The chunk lets this request's route wait for a later request's send (ChunkInput.routes), with
   * the routes of its earlier requests that wait already: all are told in one signal by the last
   * request's send, or sooner by whichever send finds that waiting on would hold one back longer than
   * ROUTE_WAIT_MAX_MS (see routeMayWait).
   */
  routesWithLast?: { untold: UntoldRoute[] };
}

/**
 * `prompt`, `routePart`: as in SendChunkInput, for the route of a request reconciliation adopts. Where to scan
 * from: `attemptStartedAt` (the workflow's clock as the attempt began; the scan starts the pre-send
 * margin before it), or `cursorBefore` from beginSend (chunks started before).
 */
export type ReconcileSendInput = Omit<ReconcileInput, 'cursorBefore'> & { cursorBefore?: string | null; attemptStartedAt?: number; prompt?: PromptEventType[]; routePart?: RoutePart };

/**
 * `campaignTold`: the campaign has this chunk's chunkSent (absent in older histories: the chunk
 * signals). `routeUntold`: the listener workflow could not be told the routes (it answers only to
 * a workflow's durable signal now; a chunk sent as several requests then signals them itself, since
 * visibility knows only its first request). `routeWaits`: this request's route was left to a later
 * request's send (SendChunkInput.routesWithLast); the chunk tells it itself if it stops or waits first.
 */
export type SendChunkReceipt = SendReceipt & { campaignTold?: boolean; routeUntold?: { listenerWorkflowId: string }; routeWaits?: { listenerWorkflowId: string } };

/**
 * Whether a just-accepted request's route may wait for the chunk's next request: not the last, and
 * the oldest waiting route plus the requests still to come, each taking as long as this one took
 * from being scheduled to accepted, stay within ROUTE_WAIT_MAX_MS. At a slow rate every route is told at once.
 */
export function routeMayWait(o: { part: RoutePart; untold: UntoldRoute[]; scheduledAt: number; acceptedAt: number; maxWaitMs?: number }): boolean {
  const toCome = o.part.count - 1 - o.part.index;
  if (toCome <= 0) return false;
  const oldest = Math.min(o.acceptedAt, ...o.untold.map((route) => route.acceptedAt));
  const perRequestMs = Math.max(0, o.acceptedAt - o.scheduledAt);
  return o.acceptedAt - oldest + toCome * perRequestMs <= (o.maxWaitMs ?? ROUTE_WAIT_MAX_MS);
}

/**
 * The pre-send cursor's margin: more than any clock difference between a worker and the API can be.
 * It costs reconciliation this much of the stream to read (about what the listener's committed
 * cursor, up to one 60 s run old, cost before).
 */
const PRESEND_CURSOR_MARGIN_MS = 60_000;
/**
 * A send heartbeats first after this, then as often (the SDK sends at most one per 4 s for the 5 s
 * timeout). Each heartbeat is a write of the chunk's state in Temporal: at the app's limit a send
 * waits about 1 s for its turn in the pacer, and with a first heartbeat at 1 s nearly every send paid one.
 */
const SEND_KEEP_ALIVE_MS = 2_500;
/** How long telling the listener or the campaign may take: neither ever holds up a send. */
const SIGNAL_TIMEOUT_MS = 5_000;

/** A signal by workflow id that gives up after SIGNAL_TIMEOUT_MS (the caller says what a failure means). */
function signalSoon<T>(client: Client, workflowId: string, signal: SignalDefinition<[T]>, payload: T): Promise<void> {
  return client.withDeadline(Date.now() + SIGNAL_TIMEOUT_MS, () => client.workflow.getHandle(workflowId).signal(signal, payload));
}

export function createSendActivities(deps: SendDeps) {
  const { client, temporalClient } = deps;
  const cursorMarginMs = deps.presendCursorMarginMs ?? envNumber('PRESEND_CURSOR_MARGIN_MS') ?? PRESEND_CURSOR_MARGIN_MS;
  const settleMs = deps.reconcileSettleMs ?? Number(process.env.RECONCILE_SETTLE_MS ?? 5_000);
  const maxScanMs = deps.reconcileMaxScanMs ?? Number(process.env.RECONCILE_MAX_SCAN_MS ?? 120_000);
  const listenerWorkflowId = deps.listenerWorkflowId ?? LISTENER_WORKFLOW_ID;
  const directory = temporalClient ? new ChunkDirectory(temporalClient) : undefined;
  const { readChunkRecipients } = chunkReader(temporalClient);

  /**
   * Creates the template, or finds an identical one by name (safe to run again). A configuration
   * fault (credentials, permission, a missing or inactive template, an unreachable host) reaches the
   * campaign at once: it parks, shows why, and tries again.
   */
  async function ensureTemplate(input: TemplateSource): Promise<EnsuredTemplate> {
    if ('templateId' in input) {
      const template = await client.getTemplate(input.templateId).catch((err: unknown) => {
        throw apiFailure(err, `template ${input.templateId} cannot be used`, { faults: 'report' });
      });
      if (!template.isActive) {
        throw configurationFailure({ reason: 'template', codeName: 'FAILED_PRECONDITION', message: `template ${template.id} ("${template.name}") is not active; activate it or reference another` }, true);
      }
      return describe(template);
    }
    const existing = await findByName(input.name);
    if (existing) return describe(checkSame(existing, input.components));
    try {
      return describe(await client.createTemplate(input));
    } catch (err) {
      // A previous attempt (or another campaign) created it meanwhile: use it if it is the same.
      if (err instanceof PpoppoApiError && err.codeName === 'ALREADY_EXISTS') {
        const found = await findByName(input.name);
        if (found) return describe(checkSame(found, input.components));
      }
      throw apiFailure(err, `creating template "${input.name}"`, { faults: 'report' });
    }
  }

  async function findByName(name: string): Promise<TemplateInfo | undefined> {
    return client.findTemplateByName(name).catch((err: unknown) => {
      throw apiFailure(err, `looking up template "${name}"`, { faults: 'report' });
    });
  }

  /**
   * A stream cursor taken before a send, from the clock alone: events of a request made from now on
   * carry ids minted from now on, which sort after a cursor for a moment the margin earlier. It needs
   * no listener, so a dead listener never delays a send. (Null cursors in old histories mean "scan
   * from the start of the stream".) Only chunks started before sendCursor 'attempt-time' call it:
   * newer ones give reconcileSend the attempt's start from the workflow's clock instead.
   */
  async function beginSend(): Promise<{ cursorBefore: string | null }> {
    return { cursorBefore: cursorAt(Date.now() - cursorMarginMs) };
  }

  /** Calls CreateSendRequest exactly once; the workflow decides about retries from the failure type. */
  async function createSendRequest(input: SendChunkInput): Promise<SendChunkReceipt> {
    // Checked before reading and again after waiting for the pacer's slot: never a call past the deadline.
    const pastDeadline = () => input.notAfter !== undefined && Date.now() >= Date.parse(input.notAfter);
    const deadlinePassed = () => ApplicationFailure.nonRetryable(`the campaign's deadline ${input.notAfter} passed before this send went out; nothing was sent`, SEND_FAILURE_TYPES.deadline);
    if (pastDeadline()) throw deadlinePassed();
    const rows = await readChunkRecipients({ source: input.source, ...(input.part ? { part: input.part } : {}) });
    const recipients = input.part ? rows.slice(input.part.offset, input.part.offset + input.part.count) : rows;
    if (input.part && recipients.length !== input.part.count) {
      throw sourceChanged(`of chunk ${input.campaign?.chunkIndex ?? ''}`.trim(), `${rows.length} rows now, too few for the request of rows ${input.part.offset + 1} to ${input.part.offset + input.part.count}`, 'restore the list, or start a new campaign');
    }
    if (recipients.length === 0) throw ApplicationFailure.nonRetryable('the chunk has no recipients', SEND_FAILURE_TYPES.empty);
    let receipt: SendReceipt | undefined;
    try {
      // Heartbeats while it waits its turn and while the call is out: a worker that dies mid-send is noticed in seconds.
      receipt = await withKeepAlive(async () => {
        await deps.pacer?.slot();
        if (pastDeadline()) return undefined;
        return client.createSendRequest({ templateId: input.templateId, recipients, pollConfig: input.pollConfig });
      }, undefined, SEND_KEEP_ALIVE_MS);
    } catch (err) {
      throw sendFailure(err);
    }
    if (!receipt) throw deadlinePassed();
    const sendRequestId = receipt.sendRequestId;
    const waits = routeWaits(input);
    const routes = waits ? [] : [...(input.routesWithLast?.untold ?? []).map((untold) => routeOf(untold.sendRequestId, input.prompt, input.routePart && { index: untold.index, count: input.routePart.count })), routeOf(sendRequestId, input.prompt, input.routePart)];
    const [routeTold, campaignTold] = await Promise.all([tellListener(routes), input.campaign ? tellCampaign(input.campaign, sendRequestId) : false]);
    return { ...receipt, ...(input.campaign ? { campaignTold } : {}), ...(routeTold ? {} : { routeUntold: { listenerWorkflowId } }), ...(waits ? { routeWaits: { listenerWorkflowId } } : {}) };
  }

  /** Whether this request's route is left to a later request's send (SendChunkInput.routesWithLast). */
  function routeWaits(input: SendChunkInput): boolean {
    const info = activityContext()?.info;
    if (!input.routesWithLast || !input.routePart || !info) return false;
    return routeMayWait({ part: input.routePart, untold: input.routesWithLast.untold, scheduledAt: info.currentAttemptScheduledTimestampMs, acceptedAt: Date.now() });
  }

  /** The campaign's chunkSent, by workflow id; false (the chunk signals instead) if it cannot be told. */
  async function tellCampaign(campaign: NonNullable<SendChunkInput['campaign']>, sendRequestId: string): Promise<boolean> {
    if (!temporalClient) return false;
    const ids = campaign.sendRequestIds ? [...campaign.sendRequestIds, sendRequestId] : undefined;
    const sent: ChunkSentPayload = { chunkIndex: campaign.chunkIndex, sendRequestId, recipients: campaign.recipients, ...(ids ? { sendRequestIds: ids } : {}) };
    try {
      await signalSoon(temporalClient, campaign.workflowId, chunkSentSignal, sent);
      return true;
    } catch (err) {
      activityContext()?.log.warn('could not tell the campaign about the accepted request; the chunk will', { sendRequestId, error: String(err) });
      return false;
    }
  }

  async function reconcileSend({ prompt, routePart, attemptStartedAt, cursorBefore = null, ...input }: ReconcileSendInput): Promise<{ sendRequestId: string | null }> {
    const from = attemptStartedAt !== undefined ? cursorAt(attemptStartedAt - cursorMarginMs) : cursorBefore;
    const found = await reconcileSendRequest(client, { ...input, cursorBefore: from }, { settleMs, maxScanMs, directory });
    if (found.sendRequestId !== null) await tellListener([routeOf(found.sendRequestId, prompt, routePart)]);
    return found;
  }

  /**
   * Tells the listener workflow which chunk (this activity's workflow) owns accepted requests, in one
   * signal, so it routes their events without a visibility query. Never fails the send: if the
   * listener cannot be told, the chunk tells it, or visibility finds the chunk.
   */
  async function tellListener(routes: ChunkRoute[]): Promise<boolean> {
    if (!temporalClient || routes.length === 0 || routes[0]!.workflowId === '') return true; // nothing or nobody to tell (tests of the activity alone)
    try {
      await tellRoutes(routes, (signal, payload) => signalSoon(temporalClient, listenerWorkflowId, signal, payload));
      return true;
    } catch (err) {
      activityContext()?.log.warn('could not tell the listener about the send requests; the chunk or visibility will', { sendRequestIds: routes.map((route) => route.sendRequestId), error: String(err) });
      return false;
    }
  }

  /** Poll totals over the chunks' send requests (poll_id = send_request_id). */
  async function fetchPollResults(input: { sendRequestIds: string[] }): Promise<{ options: Record<string, number>; totalResponses: number }> {
    const options: Record<string, number> = {};
    let totalResponses = 0;
    for (const id of input.sendRequestIds) {
      let results;
      try {
        results = await client.getPollResults(id);
      } catch (err) {
        if (err instanceof PpoppoApiError && err.codeName === 'NOT_FOUND') continue; // no poll (yet) for this request
        throw apiFailure(err, `reading poll results of ${id}`);
      }
      totalResponses += results.totalResponses;
      for (const option of results.results) options[option.optionText] = (options[option.optionText] ?? 0) + option.count;
    }
    return { options, totalResponses };
  }

  /**
   * The API's own account (GetSendRequestStatus) of the given recipients, final ones only. The chunk
   * asks before it closes its consent window, so a decision the stream has not brought yet (listener
   * down, events late) is taken from the source of truth instead of being declared expired.
   */
  async function snapshotOutcomes(input: { sendRequestId: string; ppnums: string[] }): Promise<RecipientSnapshot[]> {
    const wanted = new Set(input.ppnums);
    const status = await client.getSendRequestStatus(input.sendRequestId).catch((err: unknown) => {
      throw apiFailure(err, `reading send request ${input.sendRequestId}`);
    });
    return status.recipients
      .filter((r) => wanted.has(r.ppnum) && (r.status === 'DELIVERED' || r.status === 'FAILED'))
      .map((r) => ({ ppnum: r.ppnum, status: r.status as RecipientSnapshot['status'], ...(r.errorCode ? { errorCode: r.errorCode } : {}) }));
  }

  return { ensureTemplate: keptAlive(ensureTemplate), beginSend, createSendRequest, reconcileSend, fetchPollResults: keptAlive(fetchPollResults), snapshotOutcomes };
}

/** A route to this activity's workflow (none outside an activity: tests of the activity alone). */
function routeOf(sendRequestId: string, prompt: PromptEventType[] | undefined, part: RoutePart | undefined): ChunkRoute {
  const workflowId = activityContext()?.info.workflowExecution?.workflowId ?? '';
  return { sendRequestId, workflowId, ...(prompt ? { prompt } : {}), ...(part ? { part } : {}) };
}

function describe(template: TemplateInfo): EnsuredTemplate {
  return {
    templateId: template.id,
    placeholders: extractPlaceholders(template.components),
    urlTemplates: urlTemplates(template.components),
    isPoll: template.components.some((component) => component.type === 'poll'),
  };
}

function checkSame(existing: TemplateInfo, components: TemplateComponentSpec[]): TemplateInfo {
  if (JSON.stringify(normalize(existing.components)) !== JSON.stringify(normalize(components))) {
    throw ApplicationFailure.nonRetryable(
      `a template named "${existing.name}" already exists (${existing.id}) with different components; rename the template in the campaign or reference it by templateId`,
      'TemplateConflict',
    );
  }
  return existing;
}

/** Components compared field by field in a fixed order, ignoring absent optional fields. */
function normalize(components: TemplateComponentSpec[]): unknown[] {
  return components.map((component) => Object.fromEntries(Object.entries(component).filter(([, value]) => value !== undefined && value !== '').sort(([a], [b]) => a.localeCompare(b))));
}
