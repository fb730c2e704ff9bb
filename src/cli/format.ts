// Text rendering for the campaign CLI: progress lines, the validation report and the CSV report.
import { describeIssue } from '../api/validation';
import type { UsageStats } from '../api/types';
import { usageLine } from '../campaign/budget';
import { consentLine } from '../campaign/consent';
import { RECIPIENT_OUTCOMES, countRecipients } from '../campaign/outcomes';
import type { CampaignProgress, CampaignResult } from '../contracts/campaign';
import type { RecipientRecord } from '../contracts/chunk';
import { shortDuration } from '../text';
import type { ValidationReport } from './validate';

const BAR_WIDTH = 30;

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
  const outcomes = RECIPIENT_OUTCOMES.filter((outcome) => counts[outcome] > 0).map((outcome) => `${outcome} ${counts[outcome]}`);
  const fallbacks = counts.fallbackSent + counts.fallbackFailed > 0 ? [`fallback sent ${counts.fallbackSent}/failed ${counts.fallbackFailed}`] : [];
  return [...outcomes, ...fallbacks].join(', ') || 'no outcomes yet';
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** One status line: bar, done/total, status, counts per outcome, in-flight work, ETA, parked reason. */
export function progressLine(progress: CampaignProgress, etaMs?: number): string {
  const done = countRecipients(progress.counts);
  const fraction = progress.total > 0 ? Math.min(1, done / progress.total) : 0;
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
  const parts = [`${bar} ${done}/${progress.total}`, progress.status, countsText(progress.counts)];
  parts.push(`chunks ${progress.chunksSent}/${progress.chunksTotal} sent`);
  if (progress.awaitingOutcome > 0) parts.push(`${progress.awaitingOutcome} awaiting outcome`);
  if (progress.status === 'parked' && progress.parkedUntil) parts.push(`parked (${progress.parkedReason ?? 'limit'}) until ${progress.parkedUntil}`);
  if (etaMs !== undefined) parts.push(`ETA ${formatDuration(etaMs)}`);
  return parts.join(' | ');
}

/** `usage`: the app's quota use from the API, or why it could not be read. */
export function formatProgress(progress: CampaignProgress, usage?: UsageStats | string): string {
  const lines = [`campaign ${progress.campaignId}: ${progress.status}`, progressLine(progress)];
  const consent = progress.consent ? consentLine(progress.consent) : '';
  if (consent) lines.push(`consent: ${consent}`);
  if (usage !== undefined) lines.push(typeof usage === 'string' ? `quota: not read (${usage})` : usageLine(usage));
  if (progress.templateId) lines.push(`template ${progress.templateId}`);
  if (progress.issues.length > 0) lines.push('recipient issues:', ...progress.issues.map((issue) => `  ${describeIssue(issue)}`));
  return lines.join('\n');
}

export function formatResult(result: CampaignResult): string {
  const lines = [`campaign ${result.campaignId} ${result.status}: ${result.total} recipients in ${result.chunks} chunks`, `  ${countsText(result.counts)}`];
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
