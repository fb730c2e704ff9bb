// Campaign workflow (id campaign/<campaignId>): validates the spec, plans the recipients, creates
// or resolves the template (prepare.ts), and runs chunk workflows in a sliding window of unsent
// chunks. Children report by signal to this workflow's id, so the reports survive continue-as-new,
// which carries only compact state (CampaignCarry). A chunk's end counts from its completion, or
// from its signal when the run that started it has continued as new. The accounting is
// CampaignState (state.ts); this file is the Temporal shell around it: handlers, activities,
// children, search attributes.
import {
  ApplicationFailure,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../../activities/index';
import { DEFAULT_SENDS_PER_CHUNK, RECORDED_SENDS_PER_CHUNK, campaignSettings, withSendsPerChunk } from '../../src/campaign/spec';
import type { CampaignSpec } from '../../src/campaign/spec';
import {
  CAMPAIGN_FAILURE_TYPES,
  CAMPAIGN_MEMO,
  CAMPAIGN_RUN_MAX_EVENTS,
  campaignControlSignal,
  campaignSpecQuery,
  cancelUpdate,
  chunkConsentSignal,
  chunkFailedSignal,
  chunkFinishedSignal,
  chunkParkedSignal,
  chunkReconcilingSignal,
  chunkSentSignal,
  chunkUnparkedSignal,
  pauseUpdate,
  progressQuery,
  resumeUpdate,
  sendTaskQueueFromMemo,
} from '../../src/contracts/campaign';
import type { CampaignResult, PollSummary } from '../../src/contracts/campaign';
import { CHUNK_WORKFLOW_TYPE, chunkControlSignal, chunkWorkflowId, reportFinishBySignal } from '../../src/contracts/chunk';
import type { ChunkInput, ChunkResult, ControlAction } from '../../src/contracts/chunk';
import { innermostMessage } from '../../src/temporal/failures';
import { CAMPAIGN_ID_KEY, CAMPAIGN_STATUS_KEY, WORKFLOW_TASK_TIMEOUT_MS } from '../../src/temporal/names';
import type { chunkWorkflow } from '../chunk/workflow';
import { recordCampaignOutcome } from '../metrics';
import { campaignDetails, chunkSummary } from './details';
import { prepare } from './prepare';
import { CampaignState } from './state';
import type { CampaignCarry } from './state';
import { chunkTiming, deadlineReached, nextWake, timeCampaign, waitForStart } from './timing';

const { fetchPollResults } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** How an earlier run of this campaign planned its chunks (a restart): local, so a new campaign's start takes no extra workflow task. */
const { plannedSendsPerChunk } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Asks what became of a chunk an earlier run of this campaign started (a restart). */
const { describeChunk } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Patch ids: histories recorded before each change replay without it. */
const PATCHES = {
  /** Restarts adopt closed chunks (describeChunk). */
  adoptExistingChunks: 'adopt-existing-chunks',
  /** Stricter spec checks, recipients before the template, the spec fingerprint memo, failing when nobody was reached. */
  operatorFaults: 'operator-faults',
  /** A wait that set no timer (the window was full) looks again once a pace or send window is all that holds the next chunk. */
  rearmPacing: 'rearm-pacing',
  /** Runs continue as new at 1,000 events instead of 10,000 (CAMPAIGN_RUN_MAX_EVENTS). */
  shorterRuns: 'shorter-runs',
  /**
   * A chunk's end counts from its completion; chunks signal chunkFinished only when told to
   * (finishReport). Chunks started from then on also keep clear of late local results (afterLocalActivities).
   */
  finishByResult: 'finish-by-result',
  /** The default limits.sendsPerChunk is written into the spec at the start (withSendsPerChunk). */
  sendsPerChunkInSpec: 'sends-per-chunk-in-spec',
} as const;

/**
 * The spec with the requests per chunk it runs with written in: its own, or what an earlier run of
 * this campaign planned (a restart adopts that run's chunks by index, so it must plan the same), or
 * today's default. Written in, a later default never changes this campaign's plan. Recorded runs: 1.
 */
async function withPlannedSends(spec: CampaignSpec, campaignId: string): Promise<CampaignSpec> {
  if (typeof spec !== 'object' || spec === null || spec.limits?.sendsPerChunk !== undefined) return spec;
  if (!patched(PATCHES.sendsPerChunkInSpec)) return withSendsPerChunk(spec, RECORDED_SENDS_PER_CHUNK);
  const earlier = await plannedSendsPerChunk({ campaignId });
  return withSendsPerChunk(spec, earlier ?? DEFAULT_SENDS_PER_CHUNK);
}

/** A chunk's run continues as new from this many events: Temporal suggests it at 4,096, and events keep coming meanwhile. */
const CHUNK_CONTINUE_AT_EVENTS = 3_500;
/** Runs recorded before the shorter-runs patch continued as new at 10,000 events (about 5 s to replay). */
const MAX_HISTORY_EVENTS_BEFORE_PATCH = 10_000;
/** Children started by one run stay pending for it until they close (Temporal allows 2,000): a fresh run counts from zero. */
const MAX_CHILDREN_PER_RUN = 1_000;

export async function campaignWorkflow(input: CampaignSpec, carry?: CampaignCarry): Promise<CampaignResult> {
  // A run continued from one recorded before requests per chunk went into the spec ran with 1.
  const spec = carry ? withSendsPerChunk(input, RECORDED_SENDS_PER_CHUNK) : input;
  const campaignId = typeof spec?.campaignId === 'string' ? spec.campaignId : workflowInfo().workflowId;
  const state = new CampaignState(campaignId, carry ? { carry, chunkSize: campaignSettings(spec).recipientsPerChunk } : undefined);
  let published = state.status;
  upsertSearchAttributes([
    { key: CAMPAIGN_ID_KEY, value: campaignId },
    { key: CAMPAIGN_STATUS_KEY, value: state.status },
  ]);
  /** After every transition: the status search attribute (a command, so right away) and the Web UI details. */
  const publish = () => {
    if (state.status !== published) {
      published = state.status;
      upsertSearchAttributes([{ key: CAMPAIGN_STATUS_KEY, value: state.status }]);
    }
    setCurrentDetails(campaignDetails(state.progress()));
  };
  publish();

  const forward = async (action: ControlAction, chunkIndexes: number[]) => {
    await Promise.all(
      chunkIndexes.map(async (chunkIndex) => {
        try {
          await getExternalWorkflowHandle(chunkWorkflowId(campaignId, chunkIndex)).signal(chunkControlSignal, { action });
        } catch (err) {
          log.warn('could not forward control to chunk', { chunkIndex, action, error: innermostMessage(err) });
        }
      }),
    );
  };
  const control = async (action: ControlAction) => {
    const unsent = state.control(action);
    publish();
    await forward(action, unsent);
    return state.progress();
  };
  /** A chunk's end, from its signal, its completion, or (a restart) what it completed with. */
  const chunkEnded = (chunkIndex: number, result: ChunkResult) => {
    state.chunkFinished(chunkIndex, result.counts, result.sendRequestIds ?? result.sendRequestId, result.consent);
    publish();
  };
  const chunkFailed = (chunkIndex: number, reason: string) => {
    if (state.chunkFailed(chunkIndex, reason)) log.error('chunk workflow failed', { chunkIndex, error: reason });
    publish();
  };

  setHandler(chunkSentSignal, ({ chunkIndex, sendRequestId, recipients, sendRequestIds }) => {
    state.chunkSent(chunkIndex, sendRequestIds ?? sendRequestId, recipients);
    publish();
  });
  setHandler(chunkFinishedSignal, (finished) => chunkEnded(finished.chunkIndex, finished));
  setHandler(chunkConsentSignal, ({ chunkIndex, consent, counts }) => {
    state.chunkConsent(chunkIndex, consent, counts);
    publish();
  });
  setHandler(chunkParkedSignal, ({ chunkIndex, until, reason, message, since }) => {
    state.chunkParked(chunkIndex, { until, reason, message, since });
    publish();
  });
  setHandler(chunkUnparkedSignal, ({ chunkIndex }) => {
    state.chunkUnparked(chunkIndex);
    publish();
  });
  setHandler(chunkFailedSignal, ({ chunkIndex, reason }) => chunkFailed(chunkIndex, reason));
  setHandler(chunkReconcilingSignal, ({ chunkIndex }) => state.chunkReconciling(chunkIndex));
  setHandler(progressQuery, () => state.progress());
  setHandler(pauseUpdate, () => control('pause'), { validator: () => state.check('pause') });
  setHandler(resumeUpdate, () => control('resume'), { validator: () => state.check('resume') });
  setHandler(cancelUpdate, () => control('cancel'), { validator: () => state.check('cancel') });
  setHandler(campaignControlSignal, async ({ action }) => {
    try {
      state.check(action);
    } catch (err) {
      log.warn('control signal ignored', { action, reason: innermostMessage(err) });
      return;
    }
    await control(action);
  });

  let running = spec;
  setHandler(campaignSpecQuery, () => running);
  timeCampaign(spec, state, publish);
  if (!carry) {
    try {
      const waitUntilStart = (valid: CampaignSpec) => waitForStart(campaignSettings(valid), state, publish);
      running = await prepare(await withPlannedSends(spec, campaignId), { state, publish, rules: patched(PATCHES.operatorFaults) ? 'current' : 'v1', waitForStart: waitUntilStart });
      recordCampaignOutcome('invalid', state.invalidRowsSkipped());
      publish();
    } catch (err) {
      // e.g. the template conflicts with an existing one: the reason in the progress, the status in the search attribute
      if (state.status !== 'failed') state.failed(undefined, innermostMessage(err));
      publish();
      throw err;
    }
  }

  const settings = campaignSettings(running);
  const maxHistoryEvents = patched(PATCHES.shorterRuns) ? CAMPAIGN_RUN_MAX_EVENTS : MAX_HISTORY_EVENTS_BEFORE_PATCH;
  const shouldContinueAsNew = () => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > maxHistoryEvents || state.startedThisRun >= MAX_CHILDREN_PER_RUN;
  };
  const windowOpen = () => state.canStartChunk(settings.chunksInFlight, MAX_CHILDREN_PER_RUN, Date.now());

  /** Chunks this run started with finishReport 'result' and has not seen end: their completion tells it. */
  const endingByResult = new Map<number, Promise<void>>();
  /** True when the chunk got the request (it was running). */
  const askForEndReport = async (chunkIndex: number): Promise<boolean> => {
    try {
      await getExternalWorkflowHandle(chunkWorkflowId(campaignId, chunkIndex)).signal(reportFinishBySignal);
      return true;
    } catch {
      return false;
    }
  };

  /**
   * Before this run continues as new: its chunks' completions would reach a closed run, so each
   * still running is told to signal its end. One that closed first has its completion on the way here.
   */
  const handOverEndReports = async () => {
    await Promise.all(
      [...endingByResult].map(async ([chunkIndex, ended]) => {
        if (!(await askForEndReport(chunkIndex))) await ended;
      }),
    );
  };

  const startNextChunk = async () => {
    const { chunkIndex, source, plannedRecipients } = state.takeNextChunk(Date.now());
    const finishByResult = patched(PATCHES.finishByResult);
    const input: ChunkInput = {
      campaignId,
      chunkIndex,
      templateId: state.templateId!,
      source,
      pollConfig: running.poll,
      consentWindowMs: settings.consentWindowMs,
      fallback: running.fallback,
      parentWorkflowId: workflowInfo().workflowId,
      ...chunkTiming(running, source),
      ...(finishByResult ? { finishReport: 'result' as const, afterLocalActivities: 'fixed' as const } : {}),
      sendCursor: 'attempt-time',
      heldReports: 'wake',
      continueAtEvents: CHUNK_CONTINUE_AT_EVENTS,
      // A list read at the send shows the plan's count until then (an inline list is there at once).
      ...(source.kind === 'inline' ? {} : { plannedRecipients }),
      ...(settings.sendsPerChunk > 1 ? { requestSize: settings.chunkSize, routes: 'with-last' as const } : {}),
      ...(settings.sendsPerChunk > 1 && state.throttle !== undefined ? { requestIntervalMs: Math.ceil((settings.chunkSize * 60_000) / state.throttle) } : {}),
    };
    const sendTaskQueue = sendTaskQueueFromMemo(workflowInfo().memo);
    try {
      const child = await startChild<typeof chunkWorkflow>(CHUNK_WORKFLOW_TYPE, {
        workflowId: chunkWorkflowId(campaignId, chunkIndex),
        // No taskQueue: chunks run on the campaign's own queue (TASK_QUEUES.campaigns in production).
        args: [input],
        memo: sendTaskQueue ? { [CAMPAIGN_MEMO.sendTaskQueue]: sendTaskQueue } : undefined,
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // A chunk id is used once: a chunk can never be started (and so sent) twice.
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT_MS,
        typedSearchAttributes: [{ key: CAMPAIGN_ID_KEY, value: campaignId }],
        staticSummary: chunkSummary(campaignId, chunkIndex, state.chunksTotal, source.kind),
      });
      if (finishByResult) {
        const ended = child.result().then(
          (result) => chunkEnded(chunkIndex, result),
          (err: unknown) => chunkFailed(chunkIndex, innermostMessage(err)),
        );
        endingByResult.set(chunkIndex, ended);
        void ended.then(() => endingByResult.delete(chunkIndex));
      } else {
        child.result().catch((err: unknown) => chunkFailed(chunkIndex, innermostMessage(err)));
      }
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      log.info('chunk workflow already started', { chunkIndex });
      if (patched(PATCHES.adoptExistingChunks)) await adoptExisting(chunkIndex);
    }
    // A pause or cancel accepted while the chunk was being started still reaches it.
    if (state.status === 'paused' || state.status === 'cancelling') await forward(state.status === 'paused' ? 'pause' : 'cancel', [chunkIndex]);
    publish();
  };

  /** An earlier run of this campaign started the chunk (a restart): adopt what it did, never send it again. */
  const adoptExisting = async (chunkIndex: number) => {
    const status = await describeChunk({ workflowId: chunkWorkflowId(campaignId, chunkIndex) });
    // Still running, it would report its end to the run that started it: have it signal this one.
    // It may close first; then what it ended with is there to adopt.
    if (status.state === 'running' && patched(PATCHES.finishByResult) && !(await askForEndReport(chunkIndex))) return adoptExisting(chunkIndex);
    if (status.state === 'completed') chunkEnded(chunkIndex, status.result);
    else if (status.state === 'closed') chunkFailed(chunkIndex, `chunk workflow ${status.status.toLowerCase()} before this run`);
    else if (status.sendRequestId !== undefined) state.chunkSent(chunkIndex, status.sendRequestId, status.recipients);
    // Running and not sent yet: its chunkSent and chunkFinished signals come to this run as usual.
    // The old run may have paused it; this run's own pause or cancel follows in startNextChunk.
    else if (state.status === 'running' || state.status === 'parked') await forward('resume', [chunkIndex]);
    publish();
  };

  for (;;) {
    if (deadlineReached(settings, state)) publish();
    // Start every chunk the window allows at once (one workflow task, not one per chunk).
    const starts: Promise<void>[] = [];
    while (windowOpen() && !shouldContinueAsNew()) starts.push(startNextChunk());
    await Promise.all(starts);
    if (state.allDone()) break;
    if (shouldContinueAsNew()) {
      await handOverEndReports();
      await condition(allHandlersFinished);
      await continueAsNew<typeof campaignWorkflow>(running, state.carry());
    }
    // A timer only for a deadline, throttle or send window (recorded histories have none); a throttle update wakes it too.
    // Waiting with a full window sets no pace timer: when chunks leave it and only the pace or a
    // closed send window holds the next one, wake to set that earlier timer (else nothing would
    // wake the loop before the deadline, or ever).
    const pacing = state.pacingRevision;
    const wake = () => nextWake(settings, state, settings.chunksInFlight, MAX_CHILDREN_PER_RUN);
    const timeout = wake();
    const armedAt = timeout === undefined ? Infinity : Date.now() + timeout;
    const rearm = () => {
      const next = wake();
      return next !== undefined && Date.now() + next < armedAt && patched(PATCHES.rearmPacing);
    };
    await condition(() => windowOpen() || state.allDone() || shouldContinueAsNew() || state.pacingRevision !== pacing || rearm(), timeout);
  }

  const pollIds = state.pollSendRequestIds();
  const poll: PollSummary | undefined = pollIds.length > 0 ? await fetchPollResults({ sendRequestIds: pollIds }) : undefined;
  state.close({ failWhenNobodyReached: patched(PATCHES.operatorFaults) });
  recordCampaignOutcome('cancelled', state.cancelledBeforeStart());
  recordCampaignOutcome('deadline', state.deadlineBeforeStart());
  publish();
  await condition(allHandlersFinished);
  const result = state.result(poll);
  // Reaching nobody is not a success to read as green: the workflow fails, saying why, with the full account.
  if (result.status === 'failed') throw ApplicationFailure.create({ type: CAMPAIGN_FAILURE_TYPES.nothingDelivered, message: state.failure!, nonRetryable: true, details: [result] });
  return result;
}
