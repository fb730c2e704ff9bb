// `validate`: everything the campaign would reject, found locally without sending anything: the
// spec's structure, then every recipient row (file sources through the same planRecipients the
// worker runs, inline lists through checkInlineRecipients).
import { extractPlaceholders } from '../api/validation';
import type { ValidationIssue } from '../api/validation';
import { campaignSettings, checkInlineRecipients, parseCampaignSpec, requiredColumnsFor, requiredVarsFor } from '../campaign/spec';
import type { SpecIssue } from '../campaign/spec';
import { planRecipients } from '../../activities/recipients';

export interface ValidationReport {
  ok: boolean;
  campaignId?: string;
  specIssues: SpecIssue[];
  /** Recipients that would be sent (valid, duplicates removed). */
  valid: number;
  invalid: number;
  duplicates: number;
  /** Every bad row, by line (files) or index (inline) and field. */
  rowIssues: ValidationIssue[];
  /** What could not be checked locally (e.g. a template referenced by id). */
  notes: string[];
}

export async function validateSpec(input: unknown): Promise<ValidationReport> {
  const report: ValidationReport = { ok: false, specIssues: [], valid: 0, invalid: 0, duplicates: 0, rowIssues: [], notes: [] };
  const { spec, issues } = parseCampaignSpec(input);
  if (!spec) return { ...report, specIssues: issues };
  report.campaignId = spec.campaignId;

  const templateVars = 'components' in spec.template ? extractPlaceholders(spec.template.components) : [];
  if ('templateId' in spec.template) report.notes.push(`template ${spec.template.templateId} is fetched at start: its variables are not checked here`);
  const requiredVars = requiredVarsFor(templateVars, spec.fallback);
  const requiredColumns = requiredColumnsFor(spec.fallback);

  const source = spec.recipients;
  if ('retryOf' in source) {
    report.notes.push(`the recipients are those of campaign ${source.retryOf} whose outcome was ${source.outcome}: they are read when the follow-up starts`);
    return { ...report, ok: true };
  }
  if ('inline' in source) {
    const checked = checkInlineRecipients(source.inline, requiredVars, { checkSize: true, requiredColumns });
    Object.assign(report, { valid: checked.recipients.length, invalid: checked.invalidCount, duplicates: checked.duplicateCount, rowIssues: checked.issues });
  } else {
    const plan = await planRecipients({
      campaignId: spec.campaignId,
      file: source.file,
      format: source.format ?? 'csv',
      encoding: source.encoding,
      requiredVars,
      requiredColumns,
      chunkSize: campaignSettings(spec).chunkSize,
      maxIssues: Number.MAX_SAFE_INTEGER,
    });
    Object.assign(report, { valid: plan.valid, invalid: plan.invalidCount, duplicates: plan.duplicateCount, rowIssues: plan.issues });
    if (plan.total === 0) report.notes.push(`${source.file} has no recipient rows`);
  }
  // Duplicates are sent once and are not an error; invalid rows are.
  report.ok = report.invalid === 0 && report.valid > 0;
  if (report.valid === 0) report.notes.push('no valid recipients: a campaign would be refused before creating its template');
  return report;
}
