// Text rendering for the campaign CLI: progress lines, status, the validation report and the CSV report.
import { describeIssue } from '../api/validation';
import type { UsageStats } from '../api/types';
import { usageLine } from '../campaign/budget';
import { consentLine } from '../campaign/consent';
import { timingText } from '../campaign/timing';
import { RECIPIENT_OUTCOMES, countRecipients } from '../campaign/outcomes';
import type { CampaignScheduleSummary, CampaignStatusReport, CampaignSummary, FailingWorkflowTask, RepairReport, StuckActivity } from '../client/campaigns';
import { PARK_REASON_TEXT } from '../contracts/campaign';
import type { CampaignProgress, CampaignResult } from '../contracts/campaign';
import type { RecipientRecord } from '../contracts/chunk';
import { shortDuration, thousands } from '../text';
import type { ValidationReport } from './validate';

const MAX_BAR_WIDTH = 30;
/** Statuses in which nothing moves forward: no ETA. */
const STILL = new Set(['scheduled', 'paused', 'parked', 'validating', 'cancelling']);

export function formatValidation(report: ValidationReport): string {
  const lines: string[] = [];
  if (report.specIssues.length > 0) {
    lines.push('spec is invalid:', ...report.specIssues.map((issue) => `  ${issue.path || '(spec)'}: ${issue.message}`));
    return lines.join('\n');
  }
  lines.push(`campaign ${report.campaignId}: ${report.valid} valid, ${report.invalid} invalid, ${report.duplicates} duplicate recipients`);
  lines.push(...report.rowIssues.map((issue) => `  ${describeIssue(issue, { withPpnum: true })}`));
  lines.push(...report.notes.map((note) => `note: ${note}`));
  if (report.quota) lines.push(`${report.quota.fits ? 'quota' : 'QUOTA'}: ${report.quota.text}`);
  lines.push(report.ok ? 'OK: nothing was sent' : 'NOT OK: fix the rows above (nothing was sent)');
  return lines.join('\n');
}

function countsText(counts: CampaignProgress['counts']): string {
  const outcomes = RECIPIENT_OUTCOMES.filter((outcome) => counts[outcome] > 0).map((outcome) => `${outcome} ${thousands(counts[outcome])}`);
  const fallbacks = counts.fallbackSent + counts.fallbackFailed > 0 ? [`fallback sent ${thousands(counts.fallbackSent)}/failed ${thousands(counts.fallbackFailed)}`] : [];
  return [...outcomes, ...fallbacks].join(', ') || 'no outcomes yet';
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/**
 * One status line: a bar of final (#), sent and awaiting consent or delivery (=) and queued (.)
 * recipients, the three counts, status, counts per outcome, chunks, why it is parked, the retry
 * in progress, and the ETA (never while nothing moves). `width` fits it to the terminal: it never wraps.
 */
export function progressLine(progress: CampaignProgress, options: { etaMs?: number; width?: number; retrying?: StuckActivity; sharingWith?: string[] } = {}): string {
  const final = countRecipients(progress.counts);
  const awaiting = Math.min(progress.awaitingOutcome, Math.max(0, progress.total - final));
  const queued = Math.max(0, progress.total - final - awaiting);
  const barWidth = options.width ? Math.max(10, Math.min(MAX_BAR_WIDTH, Math.floor(options.width / 5))) : MAX_BAR_WIDTH;
  const cells = (n: number) => (progress.total > 0 ? Math.round((n / progress.total) * barWidth) : 0);
  const done = Math.min(barWidth, cells(final));
  const sent = Math.min(barWidth - done, cells(awaiting));
  const bar = `[${'#'.repeat(done)}${'='.repeat(sent)}${'.'.repeat(barWidth - done - sent)}]`;
  const parts = [`${bar} ${thousands(final)} final · ${thousands(awaiting)} sent, awaiting consent · ${thousands(queued)} queued of ${thousands(progress.total)}`, progress.status];
  if (progress.status === 'parked' && progress.parkedReason) parts.push(parkedLine(progress));
  const timing = timingText(progress);
  if (timing) parts.push(timing);
  if (options.sharingWith?.length) parts.push(sharingText(options.sharingWith));
  parts.push(countsText(progress.counts), `chunks ${progress.chunksSent}/${progress.chunksTotal} sent`);
  if (options.retrying) parts.push(retryText(options.retrying));
  if (options.etaMs !== undefined && !STILL.has(progress.status)) parts.push(`ETA ${formatDuration(options.etaMs)}`);
  return fit(parts.join(' | '), options.width);
}

/** "sharing the app limit with 2 campaigns": the send queue's rate is split between them by weight. */
export function sharingText(campaignIds: string[]): string {
  return `sharing the app limit with ${campaignIds.length} campaign${campaignIds.length === 1 ? '' : 's'}`;
}

/** "parked since … (API credentials refused)" or "parked until … (monthly quota)". */
function parkedLine(progress: CampaignProgress): string {
  const reason = progress.parkedReason ? PARK_REASON_TEXT[progress.parkedReason] : 'limit';
  const configuration = progress.parkedReason !== 'rate' && progress.parkedReason !== 'quota';
  return configuration ? `parked since ${progress.parkedSince ?? '?'}: ${reason}` : `parked until ${progress.parkedUntil ?? '?'}: ${reason}`;
}

function retryText(activity: StuckActivity): string {
  return `${activity.where}: ${activity.activity} attempt ${activity.attempt}${activity.lastFailure ? `, last failure: ${activity.lastFailure}` : ''}${activity.nextAttemptAt ? `, next at ${activity.nextAttemptAt}` : ''}`;
}

/** Cuts a line to `width - 1` characters, so a terminal never wraps it. */
export function fit(line: string, width: number | undefined): string {
  if (!width || line.length < width) return line;
  return `${line.slice(0, Math.max(1, width - 2))}…`;
}

/**
 * Everything `status` knows, a reason per line: parked why, failed why, retries in progress, consent
 * figures, the app's quota use (`usage`: from the API, or why it could not be read), links to follow-ups.
 */
export function formatStatus(report: CampaignStatusReport, usage?: UsageStats | string): string {
  const { progress } = report;
  const lines = [`campaign ${progress.campaignId}: ${progress.status}`, progressLine(progress)];
  if (report.sharingWith?.length) lines.push(`  ${sharingText(report.sharingWith)} (${report.sharingWith.join(', ')}): the send rate is split among them by weight`);
  if (progress.status === 'parked' && progress.parkedReason) {
    lines.push(`  ${parkedLine(progress)}${progress.parkedChunks ? ` (${progress.parkedChunks} chunk(s) holding)` : ''}`);
    if (progress.parkedMessage) lines.push(`  reason: ${progress.parkedMessage}`);
    lines.push(`  nobody's outcome changes meanwhile; it tries again by itself (\`campaign resume ${progress.campaignId}\` tries now)`);
  }
  const failure = report.failure ?? (progress.failure ? [progress.failure] : undefined);
  if (failure) lines.push(`failed: ${failure.join(': ')}`);
  if (report.workflowTask) lines.push(workflowTaskLine(progress.campaignId, report.workflowTask));
  for (const task of report.chunkWorkflowTasks ?? []) lines.push(`chunk ${task.chunkIndex} ${workflowTaskLine(progress.campaignId, task)}`);
  if (report.retries.length > 0) lines.push('retrying:', ...report.retries.map((activity) => `  ${retryText(activity)}`));
  const consent = progress.consent ? consentLine(progress.consent) : '';
  if (consent) lines.push(`consent: ${consent}`);
  if (usage !== undefined) lines.push(typeof usage === 'string' ? `quota: not read (${usage})` : usageLine(usage));
  if (progress.templateId) lines.push(`template ${progress.templateId}`);
  if (progress.retryOf) lines.push(`retries the ${progress.retryOf.outcome} recipients of campaign ${progress.retryOf.campaignId}`);
  if (report.followUps.length > 0) lines.push(`follow-ups: ${report.followUps.map((f) => `${f.campaignId} (${f.outcome}, ${f.status})`).join(', ')}`);
  if (progress.issues.length > 0) lines.push('recipient issues:', ...progress.issues.map((issue) => `  ${describeIssue(issue)}`));
  return lines.join('\n');
}

/** A workflow task being tried again: how often, why, and what to do. */
function workflowTaskLine(campaignId: string, task: FailingWorkflowTask): string {
  const why = `${task.cause}${task.message ? `: ${task.message}` : ''}`;
  const next = task.cause === 'nondeterminism' ? `; \`campaign repair ${campaignId}\` resets it to where it diverged` : '';
  return `workflow task: attempt ${task.attempt} (${why})${next}`;
}

/** What `campaign repair` found and did, one workflow per line. */
export function formatRepair(report: RepairReport): string {
  if (report.findings.length === 0) return `campaign ${report.campaignId}: nothing to repair (${report.checked} workflow(s) checked, no workflow task failing)`;
  const lines = [`campaign ${report.campaignId}: ${report.findings.length} of ${report.checked} workflow(s) with a failing workflow task`];
  for (const finding of report.findings) {
    lines.push(`  ${finding.where} (${finding.workflowId}): ${finding.failing.cause}, attempt ${finding.failing.attempt}`);
    if (finding.divergence) lines.push(`    diverged at workflow task ${finding.divergence.completedEventId}: ${finding.divergence.message}`);
    lines.push(`    ${finding.action === 'left' ? 'left as is' : finding.action}: ${finding.reason}`);
    if (finding.newRunId) lines.push(`    new run ${finding.newRunId}: the signals after that task were applied to it again`);
  }
  return lines.join('\n');
}

/** One line per campaign: id, status, final of total, counts per outcome, when it started and closed. */
export function formatList(campaigns: CampaignSummary[]): string {
  if (campaigns.length === 0) return 'no campaigns';
  return campaigns
    .map((c) => {
      const progress = c.progress ? `${thousands(countRecipients(c.progress.counts))}/${thousands(c.progress.total)} final\t${countsText(c.progress.counts)}` : '-\t-';
      return `${c.campaignId}\t${c.status}\t${progress}\tstarted ${c.startTime}${c.closeTime ? `\tclosed ${c.closeTime}` : ''}`;
    })
    .join('\n');
}

export function formatResult(result: CampaignResult): string {
  const lines = [`campaign ${result.campaignId} ${result.status}: ${thousands(result.total)} recipients in ${thousands(result.chunks)} chunks`, `  ${countsText(result.counts)}`];
  if (result.failure) lines.push(`  ${result.failure}`);
  const consent = result.consent ? consentLine(result.consent) : '';
  if (consent) lines.push(`  consent: ${consent}`);
  if (result.poll) lines.push(`  poll: ${result.poll.totalResponses} responses ${JSON.stringify(result.poll.options)}`);
  return lines.join('\n');
}

export function formatRecipient(record: RecipientRecord): string {
  const lines = [`${record.ppnum}: ${record.state}${record.outcome ? ` (outcome ${record.outcome})` : ''}`];
  if (record.fallback) lines.push(`  fallback: ${record.fallback}`);
  if (record.errorCode) lines.push(`  error: ${record.errorCode}`);
  if (record.consent) lines.push(`  consent: ${record.consent}${record.consentDecisionMs === undefined ? '' : ` after ${shortDuration(record.consentDecisionMs)}`}`);
  lines.push(...record.history.map((entry) => `  ${entry.at}  ${entry.event}`));
  return lines.join('\n');
}

export const REPORT_COLUMNS = ['ppnum', 'state', 'outcome', 'fallback', 'errorCode', 'responded', 'consent', 'consentDecisionMs', 'lastEventAt', 'lastEvent'] as const;

export function reportRow(record: RecipientRecord): string[] {
  const last = record.history.at(-1);
  return [
    record.ppnum,
    record.state,
    record.outcome ?? '',
    record.fallback ?? '',
    record.errorCode ?? '',
    record.responded ? 'yes' : '',
    record.consent ?? '',
    record.consentDecisionMs === undefined ? '' : String(record.consentDecisionMs),
    last?.at ?? '',
    last?.event ?? '',
  ];
}

export function csvLine(cells: readonly string[]): string {
  return cells.map((cell) => (/[",\n\r]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell)).join(',');
}

/** A campaign schedule: id, paused or not, the next runs as the campaign ids they start. */
export function formatSchedule(schedule: CampaignScheduleSummary): string {
  const next = schedule.nextRuns.slice(0, 3).map((r) => `${r.at} → ${r.campaignId}`);
  const lines = [`${schedule.scheduleId}\t${schedule.paused ? 'paused' : 'active'}${schedule.note ? `\t${schedule.note}` : ''}`];
  if (!schedule.paused && next.length > 0) lines.push(...next.map((line) => `  next: ${line}`));
  const last = schedule.recentRuns.at(-1);
  if (last) lines.push(`  last: ${last.at} → ${last.campaignId}`);
  return lines.join('\n');
}
