// `validate`: everything the campaign would reject, found locally without sending anything: the
// spec's structure, then every recipient row (file sources through the same planRecipients the
// worker runs, inline lists through checkInlineRecipients).
import { extractPlaceholders } from '../api/validation';
import type { QuotaCheck } from '../campaign/budget';
import type { ValidationIssue } from '../api/validation';
import { campaignSettings, checkInlineRecipients, parseCampaignSpec, requiredVarsFor } from '../campaign/spec';
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
  /** The valid recipients against the app's remaining monthly quota (when the API could be asked). */
  quota?: QuotaCheck;
}

export async function validateSpec(input: unknown): Promise<ValidationReport> {
  const report: ValidationReport = { ok: false, specIssues: [], valid: 0, invalid: 0, duplicates: 0, rowIssues: [], notes: [] };
  const { spec, issues } = parseCampaignSpec(input);
  if (!spec) return { ...report, specIssues: issues };
  report.campaignId = spec.campaignId;

  const templateVars = 'components' in spec.template ? extractPlaceholders(spec.template.components) : [];
  if ('templateId' in spec.template) report.notes.push(`template ${spec.template.templateId} is fetched at start: its variables are not checked here`);
  const requiredVars = requiredVarsFor(templateVars, spec.fallback);

  if ('inline' in spec.recipients) {
    const checked = checkInlineRecipients(spec.recipients.inline, requiredVars);
    Object.assign(report, { valid: checked.recipients.length, invalid: checked.invalidCount, duplicates: checked.duplicateCount, rowIssues: checked.issues });
  } else {
    const plan = await planRecipients({
      campaignId: spec.campaignId,
      file: spec.recipients.file,
      format: spec.recipients.format ?? 'csv',
      requiredVars,
      chunkSize: campaignSettings(spec).chunkSize,
      maxIssues: Number.MAX_SAFE_INTEGER,
    });
    Object.assign(report, { valid: plan.valid, invalid: plan.invalidCount, duplicates: plan.duplicateCount, rowIssues: plan.issues });
  }
  // Duplicates are sent once and are not an error; invalid rows are.
  report.ok = report.invalid === 0 && report.valid > 0;
  if (report.valid === 0) report.notes.push('no valid recipients');
  return report;
}
