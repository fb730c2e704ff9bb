// The chunk's one CreateSendRequest, exactly once. The workflow decides every retry itself (the
// activity runs once per attempt): refused → wait the server's hint on a workflow timer and try
// again; rejected → the recipients are invalid/failed; a configuration fault → hold (the campaign
// parks), try again with backoff or when resumed, nobody's outcome touched; ambiguous or timed out →
// reconcile (adopt the accepted request, or resend only when certain nothing was accepted).
import { ActivityFailure, ApplicationFailure, TimeoutFailure, condition, getExternalWorkflowHandle, log, patched, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { chunkParkedSignal, chunkReconcilingSignal, chunkSentSignal, chunkUnparkedSignal } from '../../src/contracts/campaign';
import type { ChunkParkedPayload, ChunkReconcilingPayload, ChunkSentPayload } from '../../src/contracts/campaign';
import { decodeSendFailure } from '../../src/contracts/chunk';
import type { ChunkInput, SendFailure } from '../../src/contracts/chunk';
import type { ChunkSource } from '../../src/campaign/chunk-source';
import type { ReconcileSendInput } from '../../activities/send';
import type { RecipientOutcome } from '../../src/campaign/outcomes';
import { fallbackTriggers } from '../../src/campaign/spec';
import { promptEventsFor, tellRoutes } from '../../src/contracts/listener';
import type { ChunkRoute, RoutePart } from '../../src/contracts/listener';
import { innermostMessage } from '../../src/temporal/failures';
import { windowAt } from '../../src/campaign/send-window';
import { SEND_REQUEST_ID_KEY } from '../../src/temporal/names';
import { backoff } from '../activity-faults';
import { recordReconcileResult, recordRefusal, recordSendResult } from '../metrics';
import { CHUNK_PATCHES } from './patches';
import { beginSend, reconcileSend, sendActivities } from './proxies';
import { reportBlocked, signalCampaign } from './report';
import type { ChunkState } from './state';

/** A refused send waiting longer than this parks the campaign (visible to the user). */
const PARK_AFTER_MS = 60_000;
const MAX_BACKOFF_MS = 60_000;
/** A configuration fault is tried again after 2 s, 4 s … at most every 5 minutes (or at once on resume). */
const BLOCKED_FIRST_RETRY_MS = 2_000;
const BLOCKED_MAX_RETRY_MS = 5 * 60_000;

/**
 * Sends once, retrying only when it is certain nothing was accepted; ends with a send request id,
 * or none (cancelled/rejected/empty). `load` reads a list just before the first cursor, after the
 * checks: what follows a local activity's result must not depend on the time or on signals
 * (ChunkInput.afterLocalActivities). Without it the recipients are loaded already. A chunk larger
 * than one request (ChunkInput.requestSize) sends its parts one after another, each exactly once
 * the same way, and the campaign hears "sent" once, with the last.
 */
export async function send(chunk: ChunkState, input: ChunkInput, show: () => void, load?: () => Promise<void>): Promise<void> {
  const heard = { sent: false };
  await sendRequest(chunk, input, show, heard, load);
  if (!chunk.sendPart()) return; // one request holds the chunk
  while (chunk.nextPart()) {
    show();
    // A throttled campaign's pace holds inside the chunk too; a cancel ends the wait.
    const paceMs = input.requestIntervalMs === undefined || chunk.sentAt === undefined ? 0 : chunk.sentAt + input.requestIntervalMs - Date.now();
    if (paceMs > 0) {
      await tellWaitingRoutes(chunk, input);
      await condition(() => chunk.cancelled, paceMs);
    }
    await sendRequest(chunk, input, show, heard);
  }
  // The last request was not accepted (rejected, cancelled, the deadline): the earlier ones were.
  await tellWaitingRoutes(chunk, input);
  if (chunk.sendRequestId !== undefined && !heard.sent) await tellCampaignSent(chunk, input);
}

/** One request: the whole chunk, or the part of it being sent. */
async function sendRequest(chunk: ChunkState, input: ChunkInput, show: () => void, heard: { sent: boolean }, load?: () => Promise<void>): Promise<void> {
  const { createSendRequest } = sendActivities(input);
  // The listener hands over at once only the events this chunk's fallback policy acts on.
  const prompt = promptEventsFor(fallbackTriggers(input.fallback));
  let unloaded = load;
  const ensureLoaded = async () => {
    const reading = unloaded;
    unloaded = undefined;
    if (reading) await reading();
  };
  // Every wait ends at the deadline, if the campaign has one (no timer otherwise: recorded histories replay).
  const deadline = input.deadline !== undefined ? Date.parse(input.deadline) : undefined;
  const atMost = (ms: number | undefined) => (deadline === undefined ? ms : Math.max(1, Math.min(ms ?? Infinity, deadline - Date.now())));
  const pastDeadline = () => deadline !== undefined && Date.now() >= deadline;
  const deadlinePassed = () => {
    chunk.deadlinePassed();
    show();
  };
  let blockedTries = 0;
  /** This request's wait parked the campaign (chunkParked). */
  let parkReported = false;
  for (let attempt = 1; ; attempt++) {
    if (pastDeadline()) {
      await ensureLoaded(); // the deadline settles every recipient
      return deadlinePassed();
    }
    if (chunk.paused) {
      chunk.holdForPause();
      show();
    }
    const held = () => chunk.paused && !chunk.cancelled;
    if (held()) await tellWaitingRoutes(chunk, input);
    if (deadline === undefined) await condition(() => !held());
    else if (held()) await condition(() => !held(), atMost(undefined));
    if (chunk.cancelled) return await ensureLoaded(); // the chunk then cancels every recipient
    if (pastDeadline()) {
      await ensureLoaded();
      return deadlinePassed();
    }
    const window = input.sendWindow ? windowAt(input.sendWindow, Date.now()) : undefined;
    if (window && !window.open) {
      chunk.holdForWindow(new Date(window.changesAt).toISOString());
      show();
      await tellWaitingRoutes(chunk, input);
      await condition(() => chunk.cancelled, atMost(window.changesAt - Date.now()));
      attempt -= 1; // waiting for the window is no attempt
      continue;
    }
    if (unloaded) {
      await ensureLoaded();
      if (chunk.size === 0) return;
    }
    chunk.beginAttempt(attempt);
    show();
    // A fresh cursor per attempt is enough: earlier attempts are known to have been accepted nowhere.
    // The workflow's clock is the attempt's start, before the call; chunks started before read it from beginSend.
    const sentAfter: Pick<ReconcileSendInput, 'cursorBefore' | 'attemptStartedAt'> = input.sendCursor === 'attempt-time' ? { attemptStartedAt: Date.now() } : await beginSend();
    // Older chunks looked at a pause or cancel that arrived meanwhile; now the send follows the
    // cursor as it follows the checks (a pause then holds the next attempt, if there is one).
    if (input.afterLocalActivities !== 'fixed' && (chunk.paused || chunk.cancelled)) continue;
    chunk.markSending();
    show();
    let failure: SendFailure;
    try {
      const part = chunk.sendPart();
      const source = part ? partSource(input.source, part) : input.source;
      // Several requests: the campaign hears "sent" with the last one, and every id with it.
      const campaign = !part
        ? { workflowId: input.parentWorkflowId, chunkIndex: input.chunkIndex, recipients: chunk.size }
        : chunk.lastPartToSend()
          ? { workflowId: input.parentWorkflowId, chunkIndex: input.chunkIndex, recipients: chunk.sentRecipients() + part.size, sendRequestIds: chunk.sendRequestIds() }
          : undefined;
      const receipt = await createSendRequest({
        templateId: input.templateId,
        source,
        ...(part && source.kind !== 'inline' ? { part: { offset: part.offset, count: part.size } } : {}),
        pollConfig: input.pollConfig,
        ...(input.deadline ? { notAfter: input.deadline } : {}),
        ...(campaign ? { campaign } : {}),
        prompt,
        ...routePartOf(part),
        ...(part && input.routes === 'with-last' ? { routesWithLast: { untold: chunk.untoldRoutes() } } : {}),
      });
      recordSendResult('accepted');
      await accepted(chunk, input, receipt.sendRequestId, 'accepted', show, heard, receipt.campaignTold === true);
      if (receipt.routeWaits) chunk.routeWaits(receipt.routeWaits.listenerWorkflowId);
      else if (receipt.routeUntold) {
        // Visibility knows a chunk by its first request only: the listener must hear of the others.
        if (part && part.index > 0) chunk.routeWaits(receipt.routeUntold.listenerWorkflowId);
        await tellWaitingRoutes(chunk, input);
      } else chunk.routesTold(); // the send told the waiting ones with its own
      // Parked for this request, and more to send: the campaign is not parked for this chunk any more (chunkSent comes with the last).
      if (part && parkReported && !heard.sent) await signalCampaign(input, (campaign) => campaign.signal(chunkUnparkedSignal, { chunkIndex: input.chunkIndex }));
      return;
    } catch (err) {
      failure = sendFailureOf(err);
      if (failure.kind !== 'empty' && failure.kind !== 'blocked' && failure.kind !== 'deadline') recordSendResult(failure.kind);
    }
    if (failure.kind === 'blocked') {
      // Credentials, permission, template or host: nothing was accepted and nobody is at fault.
      blockedTries += 1;
      await tellWaitingRoutes(chunk, input);
      const waitMs = failure.retryAfterMs ?? backoff(blockedTries, BLOCKED_FIRST_RETRY_MS, BLOCKED_MAX_RETRY_MS);
      if (chunk.blockedBy(failure, new Date(Date.now() + waitMs).toISOString())) {
        await reportBlocked(input, chunk);
        parkReported = true;
      }
      show();
      await condition(() => chunk.cancelled || chunk.wakeRequested, atMost(waitMs));
      continue;
    }
    blockedTries = 0;
    if (failure.kind === 'refused') {
      await tellWaitingRoutes(chunk, input);
      const waitMs = failure.retryAfterMs ?? backoff(attempt, 1_000, MAX_BACKOFF_MS);
      const until = new Date(Date.now() + waitMs).toISOString();
      chunk.refused(failure.codeName, until);
      recordRefusal(failure.codeName, waitMs);
      show();
      if (failure.quota || waitMs > PARK_AFTER_MS) {
        const parked: ChunkParkedPayload = { chunkIndex: input.chunkIndex, until, reason: failure.quota ? 'quota' : 'rate' };
        await signalCampaign(input, (campaign) => campaign.signal(chunkParkedSignal, parked));
        parkReported = true;
      }
      // Exactly the server's hint; a cancel (or the deadline: a quota park can last weeks) ends the wait at once.
      await condition(() => chunk.cancelled, atMost(waitMs));
      chunk.retryDue();
      continue;
    }
    if (failure.kind === 'rejected') {
      chunk.rejected(rejectedOutcome(failure.codeName), failure.codeName, failure.message);
      show();
      return;
    }
    if (failure.kind === 'empty') return;
    if (failure.kind === 'deadline') return deadlinePassed();
    // Ambiguous (INTERNAL, deadline, lost connection) or the activity timed out (worker died):
    // the request may have been accepted. Look before sending again.
    chunk.reconciling();
    show();
    await tellWaitingRoutes(chunk, input);
    const reconciling: ChunkReconcilingPayload = { chunkIndex: input.chunkIndex };
    const told = patched(CHUNK_PATCHES.reconcileOutsideWindow) ? signalCampaign(input, (campaign) => campaign.signal(chunkReconcilingSignal, reconciling)) : undefined;
    const { sendRequestId } = await reconcileSend({ ...sentAfter, ppnums: chunk.ppnums(), templateId: input.templateId, prompt, ...routePartOf(chunk.sendPart()) });
    await told;
    recordReconcileResult(sendRequestId !== null ? 'adopted' : 'not_accepted');
    if (sendRequestId !== null) return await accepted(chunk, input, sendRequestId, 'adopted after reconciliation', show, heard);
    chunk.notAccepted();
    show();
    await sleep(atMost(backoff(attempt, 1_000, MAX_BACKOFF_MS))!);
  }
}

/**
 * A rejected request's recipients: 'invalid' when the request itself was wrong (INVALID_ARGUMENT,
 * or RESOURCE_EXHAUSTED for a message over the server's size limit: rate limits are refusals, never
 * rejections), otherwise 'failed'.
 */
function rejectedOutcome(codeName: string): RecipientOutcome {
  return codeName === 'INVALID_ARGUMENT' || codeName === 'RESOURCE_EXHAUSTED' ? 'invalid' : 'failed';
}

/**
 * `campaignTold`: the send activity already signalled chunkSent (recorded in its result, so replay
 * agrees); `heard.sent`: the campaign has this chunk's chunkSent. A chunk sent as several requests
 * tells the campaign once, when the last is accepted (send), and keeps its first request's id in
 * the search attribute (visibility finds it by that one).
 */
async function accepted(chunk: ChunkState, input: ChunkInput, sendRequestId: string, how: string, show: () => void, heard: { sent: boolean }, campaignTold = false): Promise<void> {
  const first = chunk.sendRequestId === undefined;
  chunk.accepted(sendRequestId, how);
  if (first) upsertSearchAttributes([{ key: SEND_REQUEST_ID_KEY, value: sendRequestId }]);
  show();
  heard.sent ||= campaignTold;
  if (campaignTold || !chunk.lastPartToSend()) return;
  await tellCampaignSent(chunk, input);
  heard.sent = true;
}

/** chunkSent from the workflow (the send activity could not tell the campaign, or the last request was not accepted). */
async function tellCampaignSent(chunk: ChunkState, input: ChunkInput): Promise<void> {
  const ids = chunk.sendRequestIds();
  const sent: ChunkSentPayload = { chunkIndex: input.chunkIndex, sendRequestId: chunk.sendRequestId!, recipients: chunk.sendPart() ? chunk.sentRecipients() : chunk.size, ...(ids.length > 1 ? { sendRequestIds: ids } : {}) };
  await signalCampaign(input, (campaign) => campaign.signal(chunkSentSignal, sent));
}

/**
 * Routes still waiting for a later request's send (or that the send could not hand over), told by
 * the chunk itself as a durable signal (retried by Temporal): before it waits, or when it sends no more.
 */
async function tellWaitingRoutes(chunk: ChunkState, input: ChunkInput): Promise<void> {
  const listenerWorkflowId = chunk.untoldRoutesListener();
  const untold = chunk.untoldRoutes();
  if (listenerWorkflowId === undefined || untold.length === 0) return;
  chunk.routesTold();
  const count = chunk.sendPart()?.count ?? 1;
  const prompt = promptEventsFor(fallbackTriggers(input.fallback));
  const routes: ChunkRoute[] = untold.map(({ sendRequestId, index }) => ({ sendRequestId, workflowId: workflowInfo().workflowId, prompt, part: { index, count } }));
  try {
    const listener = getExternalWorkflowHandle(listenerWorkflowId);
    await tellRoutes(routes, (signal, payload) => listener.signal(signal, payload));
  } catch (err) {
    log.warn('could not tell the listener workflow the routes; the status snapshot before expiry settles their recipients', { sendRequestIds: untold.map((route) => route.sendRequestId), error: innermostMessage(err) });
  }
}

/** A part's place among the chunk's requests, for the listener's route (this chunk takes deliveryBatchesSignal). */
function routePartOf(part: { index: number; count: number } | undefined): { routePart?: RoutePart } {
  return part ? { routePart: { index: part.index, count: part.count } } : {};
}

/** The source a part's send reads: an inline list's own rows; a list to read, with the part's place in it (SendChunkInput.part). */
function partSource(source: ChunkSource, part: { offset: number; size: number }): ChunkSource {
  return source.kind === 'inline' ? { ...source, recipients: source.recipients.slice(part.offset, part.offset + part.size) } : source;
}

/** What a failed createSendRequest means for the chunk; a timeout (worker died mid-call) is ambiguous. */
function sendFailureOf(err: unknown): SendFailure {
  if (!(err instanceof ActivityFailure)) throw err;
  const cause = err.cause;
  if (cause instanceof TimeoutFailure || !(cause instanceof ApplicationFailure)) return { kind: 'ambiguous' };
  return decodeSendFailure(cause.type, cause.details?.[0], cause.message);
}
