// Everything that can be wrong with a campaign is found here, before a single message is sent:
// the spec, the recipients (every row, by line), and the template. A configuration fault on the
// way (credentials, permission, a missing or inactive template, an unreachable host) parks the
// campaign with the reason and tries again, until it clears, the campaign is resumed, or cancelled.
import { ApplicationFailure, condition, patched, proxyActivities, upsertMemo, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities/index';
import { describeIssue, extractPlaceholders, urlTemplates } from '../../src/api/validation';
import type { ValidationIssue } from '../../src/api/validation';
import { chunkInline } from '../../src/campaign/chunk-source';
import type { TimeZoneGrouping } from '../../src/campaign/chunk-source';
import { describeRecipientSource } from '../../src/campaign/recipient-source';
import type { ReadSourceSpec } from '../../src/campaign/recipient-source';
import { asFingerprint, specFingerprint } from '../../src/campaign/fingerprint';
import { campaignSettings, checkInlineRecipients, parseCampaignSpec, requiredColumnsFor, requiredVarsFor, timeZoneGrouping } from '../../src/campaign/spec';
import type { CampaignSpec, SpecRules } from '../../src/campaign/spec';
import { CAMPAIGN_FAILURE_TYPES, CAMPAIGN_MEMO, campaignWorkflowId } from '../../src/contracts/campaign';
import type { CampaignFailureDetails } from '../../src/contracts/campaign';
import { backoff, configurationFaultOf } from '../activity-faults';
import { MAX_ISSUES } from './state';
import type { CampaignPlan, CampaignState } from './state';

/** Patch id: histories recorded before the worker checked the fallback channel at start replay without it. */
const CHECK_FALLBACK_CHANNEL = 'check-fallback-channel';

/** The activities heartbeat every 5 s: a worker killed mid-call costs seconds, not the 2 minutes. */
const { ensureTemplate, checkFallbackChannel } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Streams the whole recipient file once (heartbeating every 5 s), so it gets a long timeout. */
const { planRecipients, planFollowUp } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** A configuration fault is tried again after 2 s, 4 s … at most every 5 minutes (or at once on resume). */
const BLOCKED_FIRST_RETRY_MS = 2_000;
const BLOCKED_MAX_RETRY_MS = 5 * 60_000;

export interface Preparing {
  state: CampaignState;
  /** Publishes the state (search attribute, details) after a transition. */
  publish(): void;
  /** 'current' for new campaigns; 'v1' replays histories recorded before the stricter checks exactly. */
  rules: SpecRules;
  /** Waits for the spec's startAt once the spec is known to be valid; false when cancelled meanwhile. */
  waitForStart(spec: CampaignSpec): Promise<boolean>;
}

/** Ends the campaign before anything is sent, with every issue listed. */
function fail(ctx: Preparing, type: string, summary: string, issues: ValidationIssue[]): never {
  const listed = issues.slice(0, 10).map((issue) => describeIssue(issue)).join('; ');
  const more = issues.length > 10 ? `; and ${issues.length - 10} more` : '';
  const message = listed ? `${summary}: ${listed}${more}` : summary;
  ctx.state.failed(issues, message);
  ctx.publish();
  const details: CampaignFailureDetails = { issues: ctx.state.issues };
  throw ApplicationFailure.create({ type, message, nonRetryable: true, details: [details] });
}

type Planned = Omit<CampaignPlan, 'templateId' | 'isPoll' | 'chunkSize'>;
type Ensured = Awaited<ReturnType<typeof ensureTemplate>>;

/** Returns the spec to carry through continue-as-new (an inline list is in the plan by then). */
export async function prepare(input: CampaignSpec, ctx: Preparing): Promise<CampaignSpec> {
  const { rules } = ctx;
  const { spec, issues } = parseCampaignSpec(input, rules);
  const expectedId = spec ? campaignWorkflowId(spec.campaignId) : undefined;
  if (expectedId && workflowInfo().workflowId !== expectedId) {
    // Chunk ids derive from the campaign id: one campaign id must mean one campaign workflow.
    issues.push({ path: 'campaignId', message: `start this campaign with workflow id "${expectedId}" (it is "${workflowInfo().workflowId}")` });
  }
  if (!spec || issues.length > 0) fail(ctx, CAMPAIGN_FAILURE_TYPES.invalidSpec, 'the campaign spec is invalid', issues.map((issue) => ({ field: issue.path || 'spec', message: issue.message })));
  const valid = spec!;
  // Secrets and allowed hosts: only the worker knows them. Checked before anything is sent.
  const checkFallback = valid.fallback && patched(CHECK_FALLBACK_CHANNEL) ? { channel: valid.fallback.channel, template: valid.fallback.text } : undefined;
  if (rules === 'v1') {
    // Step for step as recorded before the checks below existed: replay compares commands and their order.
    if (checkFallback) await checkFallbackChannel(checkFallback);
    const ensured = await ensureTemplate(valid.template);
    const links = ensured.urlTemplates ?? [];
    const source = valid.recipients;
    const planned = 'inline' in source ? planInline(valid, ensured.placeholders, links, ctx) : planFile(valid, await planRecipients(planInput(valid, ensured.placeholders, links, ctx)), ctx);
    return plannedWith(valid, ensured, planned, ctx);
  }
  // Started from the Temporal CLI or Web UI (no memo): keep the fingerprint a second start compares with.
  if (!asFingerprint(workflowInfo().memo?.[CAMPAIGN_MEMO.specFingerprint])) upsertMemo({ [CAMPAIGN_MEMO.specFingerprint]: specFingerprint(valid) });
  // A bad spec fails now; the recipients and the template are read at the start time (a list may change until then).
  if (!(await ctx.waitForStart(valid))) return valid; // cancelled while scheduled
  // A fallback channel the worker cannot use (secret missing, host not allowed) parks the campaign until it can.
  if (checkFallback && !(await untilClear(ctx, () => checkFallbackChannel(checkFallback).then(() => true)))) return valid; // cancelled while parked
  const template = valid.template;
  // The recipients first when the template's variables are known here: a bad list creates no template.
  const early = 'components' in template ? await recipientsOf(valid, extractPlaceholders(template.components), urlTemplates(template.components), ctx) : undefined;
  const ensured = await untilClear(ctx, () => ensureTemplate(template));
  if (!ensured) return valid; // cancelled while parked
  return plannedWith(valid, ensured, early ?? (await recipientsOf(valid, ensured.placeholders, ensured.urlTemplates ?? [], ctx)), ctx);
}

function plannedWith(spec: CampaignSpec, ensured: Ensured, planned: Planned, ctx: Preparing): CampaignSpec {
  ctx.state.planned({ ...planned, templateId: ensured.templateId, isPoll: ensured.isPoll, chunkSize: campaignSettings(spec).recipientsPerChunk });
  // An inline list is now in the plan's chunks; do not carry it twice through continue-as-new.
  return 'inline' in spec.recipients ? { ...spec, recipients: { inline: [] } } : spec;
}

/** Checks every recipient (inline), plans a file, URL or table into chunks, or finds a follow-up's recipients. */
async function recipientsOf(spec: CampaignSpec, placeholders: string[], links: string[], ctx: Preparing): Promise<Planned> {
  const source = spec.recipients;
  let planned: Planned;
  if ('inline' in source) planned = planInline(spec, placeholders, links, ctx);
  else if ('retryOf' in source) {
    const followUp = await planFollowUp({ campaignId: source.retryOf, outcome: source.outcome });
    if (followUp.total === 0) fail(ctx, CAMPAIGN_FAILURE_TYPES.invalidRecipients, `nothing to retry: no recipient of campaign ${source.retryOf} has the outcome ${source.outcome}`, []);
    return { validTotal: followUp.total, invalidRows: 0, issues: [], chunks: followUp.chunks, sizes: followUp.sizes, retryOf: { campaignId: source.retryOf, outcome: source.outcome } };
  } else {
    const plan = await planRecipients(planInput(spec, placeholders, links, ctx));
    const headerOnly = !('postgres' in source) && source.format !== 'ndjson';
    if (plan.total === 0) fail(ctx, CAMPAIGN_FAILURE_TYPES.invalidRecipients, `${describeRecipientSource(source)} has no recipient rows${headerOnly ? ' (only a header, or nothing)' : ''}`, []);
    planned = planFile(spec, plan, ctx);
  }
  if (planned.validTotal === 0) fail(ctx, CAMPAIGN_FAILURE_TYPES.invalidRecipients, 'no valid recipient to send to', planned.issues);
  return planned;
}

/** `links`: the template's button and image links with placeholders; each row's rendered link is checked. */
function planInline(spec: CampaignSpec, placeholders: string[], links: string[], ctx: Preparing): Planned {
  const settings = campaignSettings(spec);
  const list = 'inline' in spec.recipients ? spec.recipients.inline : [];
  const current = ctx.rules === 'current';
  const timeZones = timeZoneGrouping(spec);
  const checked = checkInlineRecipients(list, requiredVarsFor(placeholders, spec.fallback), { urlTemplates: links, ...(current ? { checkSize: true, requiredColumns: requiredColumnsFor(spec.fallback) } : {}), timeZones });
  if (checked.invalidCount > 0 && settings.onInvalidRows === 'abort') {
    fail(ctx, CAMPAIGN_FAILURE_TYPES.invalidRecipients, `${checked.invalidCount} recipient(s) are invalid (onInvalidRows is "abort")`, checked.issues);
  }
  const chunks = chunkInline(checked.recipients, settings.recipientsPerChunk, timeZones);
  // Chunks grouped by zone are not all full: the campaign needs each one's size.
  const sizes = timeZones ? { sizes: chunks.map((chunk) => chunk.recipients.length) } : {};
  return { validTotal: checked.recipients.length, invalidRows: checked.invalidCount, issues: checked.issues, chunks, ...sizes };
}

function planInput(spec: CampaignSpec, placeholders: string[], links: string[], ctx: Preparing) {
  const source = spec.recipients as ReadSourceSpec;
  const current = ctx.rules === 'current';
  return {
    campaignId: spec.campaignId,
    ...('file' in source ? { file: source.file, format: source.format ?? 'csv', encoding: source.encoding } : source),
    requiredVars: requiredVarsFor(placeholders, spec.fallback),
    urlTemplates: links,
    requiredColumns: current ? requiredColumnsFor(spec.fallback) : [],
    chunkSize: campaignSettings(spec).recipientsPerChunk,
    maxIssues: MAX_ISSUES,
    ...timeZonesOption(spec),
  };
}

/** The plan's grouping by time zone, only when the spec asks for it (other plans' inputs stay as they were). */
function timeZonesOption(spec: CampaignSpec): { timeZones?: TimeZoneGrouping } {
  const timeZones = timeZoneGrouping(spec);
  return timeZones ? { timeZones } : {};
}

function planFile(spec: CampaignSpec, plan: Awaited<ReturnType<typeof planRecipients>>, ctx: Preparing): Planned {
  if (plan.invalidCount > 0 && campaignSettings(spec).onInvalidRows === 'abort') {
    fail(ctx, CAMPAIGN_FAILURE_TYPES.invalidRecipients, `${plan.invalidCount} row(s) of ${describeRecipientSource(spec.recipients)} are invalid (onInvalidRows is "abort")`, plan.issues);
  }
  return { validTotal: plan.valid, invalidRows: plan.invalidCount, issues: plan.issues, chunks: plan.chunks, ...(plan.sizes ? { sizes: plan.sizes } : {}) };
}

/**
 * Runs `work` until it gets past configuration faults: each one parks the campaign with its reason
 * and waits (backoff, or the hint) before the next try; a resume tries at once. Undefined when the
 * campaign was cancelled meanwhile. Any other failure is thrown.
 */
async function untilClear<T>(ctx: Preparing, work: () => Promise<T>): Promise<T | undefined> {
  const { state, publish } = ctx;
  for (let tries = 1; ; tries++) {
    try {
      const value = await work();
      if (state.blockedItself) {
        state.unblocked();
        publish();
      }
      return value;
    } catch (err) {
      const fault = configurationFaultOf(err);
      if (!fault) throw err;
      const waitMs = fault.retryAfterMs ?? backoff(tries, BLOCKED_FIRST_RETRY_MS, BLOCKED_MAX_RETRY_MS);
      state.blocked({ reason: fault.reason, until: new Date(Date.now() + waitMs).toISOString(), since: new Date().toISOString(), message: fault.message });
      publish();
      await condition(() => state.wakeRequested || state.status === 'cancelling', waitMs);
      if (state.status === 'cancelling') return undefined;
    }
  }
}
