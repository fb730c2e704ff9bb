// Campaign workflow (id campaign/<campaignId>): validates the spec, creates or resolves the
// template, plans the recipients, and runs chunk workflows in a sliding window of unsent chunks.
// Children report by signal to this workflow's id, so the counts survive continue-as-new, which
// carries only compact state (CampaignCarry). The accounting is CampaignState (state.ts); this file
// is the Temporal shell around it: handlers, activities, children, search attributes.
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
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../../activities/index';
import { describeIssue } from '../../src/api/validation';
import type { ValidationIssue } from '../../src/api/validation';
import { chunkInline } from '../../src/campaign/chunk-source';
import { describeRecipientSource } from '../../src/campaign/recipient-source';
import { campaignSettings, checkInlineRecipients, parseCampaignSpec, requiredVarsFor } from '../../src/campaign/spec';
import type { CampaignSpec } from '../../src/campaign/spec';
import {
  CAMPAIGN_FAILURE_TYPES,
  CAMPAIGN_MEMO,
  campaignControlSignal,
  campaignWorkflowId,
  cancelUpdate,
  chunkConsentSignal,
  chunkFailedSignal,
  chunkFinishedSignal,
  chunkParkedSignal,
  chunkReconcilingSignal,
  chunkSentSignal,
  pauseUpdate,
  progressQuery,
  resumeUpdate,
  sendTaskQueueFromMemo,
} from '../../src/contracts/campaign';
import type { CampaignFailureDetails, CampaignResult, PollSummary } from '../../src/contracts/campaign';
import { CHUNK_WORKFLOW_TYPE, chunkControlSignal, chunkWorkflowId } from '../../src/contracts/chunk';
import type { ChunkInput, ControlAction } from '../../src/contracts/chunk';
import { innermostMessage } from '../../src/temporal/failures';
import { CAMPAIGN_ID_KEY, CAMPAIGN_STATUS_KEY, WORKFLOW_TASK_TIMEOUT_MS } from '../../src/temporal/names';
import type { chunkWorkflow } from '../chunk/workflow';
import { recordCampaignOutcome } from '../metrics';
import { campaignDetails, chunkSummary } from './details';
import { CampaignState, MAX_ISSUES } from './state';
import type { CampaignCarry, CampaignPlan } from './state';

const { ensureTemplate, fetchPollResults, checkFallbackChannel } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Asks what became of a chunk an earlier run of this campaign started (a restart). */
const { describeChunk } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Streams the whole recipient file once (heartbeating), so it gets a long timeout. */
const { planRecipients } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Patch id: histories recorded before restarts adopted closed chunks replay without describeChunk. */
const ADOPT_EXISTING_CHUNKS = 'adopt-existing-chunks';
/** Patch id: histories recorded before the worker checked the fallback channel at start replay without it. */
const CHECK_FALLBACK_CHANNEL = 'check-fallback-channel';

/** Our own cap besides the server's continue-as-new suggestion. */
const MAX_HISTORY_EVENTS = 10_000;
/** Children started by one run stay pending for it until they close (Temporal allows 2,000): a fresh run counts from zero. */
const MAX_CHILDREN_PER_RUN = 1_000;

export async function campaignWorkflow(spec: CampaignSpec, carry?: CampaignCarry): Promise<CampaignResult> {
  const campaignId = typeof spec?.campaignId === 'string' ? spec.campaignId : workflowInfo().workflowId;
  const state = new CampaignState(campaignId, carry ? { carry, chunkSize: campaignSettings(spec).chunkSize } : undefined);
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
  const chunkFailed = (chunkIndex: number, reason: string) => {
    if (state.chunkFailed(chunkIndex, reason)) log.error('chunk workflow failed', { chunkIndex, error: reason });
    publish();
  };

  setHandler(chunkSentSignal, ({ chunkIndex, sendRequestId, recipients }) => {
    state.chunkSent(chunkIndex, sendRequestId, recipients);
    publish();
  });
  setHandler(chunkFinishedSignal, ({ chunkIndex, counts, sendRequestId, consent }) => {
    state.chunkFinished(chunkIndex, counts, sendRequestId, consent);
    publish();
  });
  setHandler(chunkConsentSignal, ({ chunkIndex, consent }) => {
    state.chunkConsent(chunkIndex, consent);
    publish();
  });
  setHandler(chunkParkedSignal, ({ chunkIndex, until, reason }) => {
    state.chunkParked(chunkIndex, until, reason);
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

  /** Ends the campaign before anything is sent, with every issue listed. */
  const fail = (type: string, summary: string, issues: ValidationIssue[]): never => {
    state.failed(issues);
    publish();
    const listed = issues.slice(0, 10).map((issue) => describeIssue(issue)).join('; ');
    const more = issues.length > 10 ? `; and ${issues.length - 10} more` : '';
    const details: CampaignFailureDetails = { issues: state.issues };
    throw ApplicationFailure.create({ type, message: `${summary}: ${listed}${more}`, nonRetryable: true, details: [details] });
  };

  let current = spec;
  if (!carry) {
    try {
      current = await prepare(spec, state, fail);
      recordCampaignOutcome('invalid', state.invalidRowsSkipped());
      publish();
    } catch (err) {
      state.failed(); // e.g. the template conflicts with an existing one: visible in the search attribute
      publish();
      throw err;
    }
  }

  const settings = campaignSettings(current);
  const shouldContinueAsNew = () => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS || state.startedThisRun >= MAX_CHILDREN_PER_RUN;
  };
  const windowOpen = () => state.canStartChunk(settings.chunksInFlight, MAX_CHILDREN_PER_RUN);

  const startNextChunk = async () => {
    const { chunkIndex, source } = state.takeNextChunk();
    const input: ChunkInput = {
      campaignId,
      chunkIndex,
      templateId: state.templateId!,
      source,
      pollConfig: current.poll,
      consentWindowMs: settings.consentWindowMs,
      fallback: current.fallback,
      parentWorkflowId: workflowInfo().workflowId,
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
      child.result().catch((err: unknown) => chunkFailed(chunkIndex, innermostMessage(err)));
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      log.info('chunk workflow already started', { chunkIndex });
      if (patched(ADOPT_EXISTING_CHUNKS)) await adoptExisting(chunkIndex);
    }
    // A pause or cancel accepted while the chunk was being started still reaches it.
    if (state.status === 'paused' || state.status === 'cancelling') await forward(state.status === 'paused' ? 'pause' : 'cancel', [chunkIndex]);
    publish();
  };

  /** An earlier run of this campaign started the chunk (a restart): adopt what it did, never send it again. */
  const adoptExisting = async (chunkIndex: number) => {
    const status = await describeChunk({ workflowId: chunkWorkflowId(campaignId, chunkIndex) });
    if (status.state === 'completed') state.chunkFinished(chunkIndex, status.result.counts, status.result.sendRequestId, status.result.consent);
    else if (status.state === 'closed') chunkFailed(chunkIndex, `chunk workflow ${status.status.toLowerCase()} before this run`);
    else if (status.sendRequestId !== undefined) state.chunkSent(chunkIndex, status.sendRequestId, status.recipients);
    // Running and not sent yet: its chunkSent and chunkFinished signals come to this run as usual.
    // The old run may have paused it; this run's own pause or cancel follows in startNextChunk.
    else if (state.status === 'running' || state.status === 'parked') await forward('resume', [chunkIndex]);
    publish();
  };

  for (;;) {
    // Start every chunk the window allows at once (one workflow task, not one per chunk).
    const starts: Promise<void>[] = [];
    while (windowOpen() && !shouldContinueAsNew()) starts.push(startNextChunk());
    await Promise.all(starts);
    if (state.allDone()) break;
    if (shouldContinueAsNew()) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof campaignWorkflow>(current, state.carry());
    }
    await condition(() => windowOpen() || state.allDone() || shouldContinueAsNew());
  }

  const pollIds = state.pollSendRequestIds();
  const poll: PollSummary | undefined = pollIds.length > 0 ? await fetchPollResults({ sendRequestIds: pollIds }) : undefined;
  state.close();
  recordCampaignOutcome('cancelled', state.cancelledBeforeStart());
  publish();
  await condition(allHandlersFinished);
  return state.result(poll);
}

/** Everything that can be wrong is found here, before a single message is sent. Returns the spec to carry. */
async function prepare(input: CampaignSpec, state: CampaignState, fail: (type: string, summary: string, issues: ValidationIssue[]) => never): Promise<CampaignSpec> {
  const { spec, issues } = parseCampaignSpec(input);
  const expectedId = spec ? campaignWorkflowId(spec.campaignId) : undefined;
  if (expectedId && workflowInfo().workflowId !== expectedId) {
    // Chunk ids derive from the campaign id: one campaign id must mean one campaign workflow.
    issues.push({ path: 'campaignId', message: `start this campaign with workflow id "${expectedId}" (it is "${workflowInfo().workflowId}")` });
  }
  if (!spec || issues.length > 0) fail(CAMPAIGN_FAILURE_TYPES.invalidSpec, 'the campaign spec is invalid', issues.map((issue) => ({ field: issue.path || 'spec', message: issue.message })));
  const valid = spec!;
  const settings = campaignSettings(valid);

  // Secrets, allowed hosts: only the worker knows them. A channel it cannot use fails the campaign here, before anything is sent.
  if (valid.fallback && patched(CHECK_FALLBACK_CHANNEL)) await checkFallbackChannel({ channel: valid.fallback.channel, template: valid.fallback.text });
  const template = await ensureTemplate(valid.template);
  const requiredVars = requiredVarsFor(template.placeholders, valid.fallback);
  const urlTemplates = template.urlTemplates ?? [];
  const plan: Omit<CampaignPlan, 'validTotal' | 'invalidRows' | 'issues' | 'chunks'> = { templateId: template.templateId, isPoll: template.isPoll, chunkSize: settings.chunkSize };

  if ('inline' in valid.recipients) {
    const checked = checkInlineRecipients(valid.recipients.inline, requiredVars, urlTemplates);
    if (checked.invalidCount > 0 && settings.onInvalidRows === 'abort') {
      fail(CAMPAIGN_FAILURE_TYPES.invalidRecipients, `${checked.invalidCount} recipient(s) are invalid (onInvalidRows is "abort")`, checked.issues);
    }
    state.planned({ ...plan, validTotal: checked.recipients.length, invalidRows: checked.invalidCount, issues: checked.issues, chunks: chunkInline(checked.recipients, settings.chunkSize) });
    // The inline list is now in the plan's chunks; do not carry it twice through continue-as-new.
    return { ...valid, recipients: { inline: [] } };
  }
  const source = 'file' in valid.recipients ? { file: valid.recipients.file, format: valid.recipients.format ?? 'csv' } : valid.recipients;
  const planned = await planRecipients({ campaignId: valid.campaignId, ...source, requiredVars, urlTemplates, chunkSize: settings.chunkSize, maxIssues: MAX_ISSUES });
  if (planned.invalidCount > 0 && settings.onInvalidRows === 'abort') {
    fail(CAMPAIGN_FAILURE_TYPES.invalidRecipients, `${planned.invalidCount} row(s) of ${describeRecipientSource(source)} are invalid (onInvalidRows is "abort")`, planned.issues);
  }
  state.planned({ ...plan, validTotal: planned.valid, invalidRows: planned.invalidCount, issues: planned.issues, chunks: planned.chunks });
  return valid;
}
