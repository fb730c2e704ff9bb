// `validate`: everything the campaign would reject, found locally without sending anything: the
// spec's structure, then every recipient row (files, URLs and PostgreSQL through the same
// planner the worker runs, inline lists through checkInlineRecipients).
//
// It runs on the user's machine and reads the user's own file, so the worker's confinement
// (RECIPIENT_FILE_ROOTS) does not apply, unless that variable is set here too: then a file the
// worker would refuse is reported, as the worker would report it. The same goes for the
// worker's outbound allow-list (FALLBACK_ALLOWED_HOSTS): checked when set here, without DNS.
import { ApplicationFailure } from '@temporalio/common';
import { extractPlaceholders, urlTemplates } from '../api/validation';
import type { QuotaCheck } from '../campaign/budget';
import type { ValidationIssue } from '../api/validation';
import { describeRecipientSource } from '../campaign/recipient-source';
import { campaignSettings, checkInlineRecipients, parseCampaignSpec, requiredColumnsFor, requiredVarsFor, timeZoneGrouping } from '../campaign/spec';
import type { SpecIssue } from '../campaign/spec';
import { RECIPIENT_FILE_REFUSED } from '../../activities/file-roots';
import { OutboundRefusedError, checkDestination, outboundPolicyFromEnv, urlDestination } from '../../activities/outbound';
import { planRecipientSource } from '../../activities/recipients';
import type { PlanRecipientsInput, RecipientPlan } from '../../activities/recipients';
import { CliError, EXIT } from './errors';

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

export async function validateSpec(input: unknown, env: Record<string, string | undefined> = process.env): Promise<ValidationReport> {
  const report: ValidationReport = { ok: false, specIssues: [], valid: 0, invalid: 0, duplicates: 0, rowIssues: [], notes: [] };
  const { spec, issues } = parseCampaignSpec(input);
  if (!spec) return { ...report, specIssues: issues };
  report.campaignId = spec.campaignId;
  if (spec.fallback && env.FALLBACK_ALLOWED_HOSTS) {
    const channel = spec.fallback.channel;
    const [path, { host, port }] = channel.type === 'webhook' ? ['fallback.channel.url', urlDestination(channel.url)] : ['fallback.channel.host', { host: channel.host, port: channel.port }];
    try {
      checkDestination(outboundPolicyFromEnv(env), host, port);
    } catch (err) {
      if (!(err instanceof OutboundRefusedError)) throw err;
      return { ...report, specIssues: [{ path, message: err.message }] };
    }
  }

  const templateVars = 'components' in spec.template ? extractPlaceholders(spec.template.components) : [];
  const links = 'components' in spec.template ? urlTemplates(spec.template.components) : [];
  if ('templateId' in spec.template) report.notes.push(`template ${spec.template.templateId} is fetched at start: its variables are not checked here`);
  const requiredVars = requiredVarsFor(templateVars, spec.fallback);
  const requiredColumns = requiredColumnsFor(spec.fallback);

  const source = spec.recipients;
  const timeZones = timeZoneGrouping(spec);
  if ('retryOf' in source) {
    report.notes.push(`the recipients are those of campaign ${source.retryOf} whose outcome was ${source.outcome}: they are read when the follow-up starts`);
    return { ...report, ok: true };
  }
  if ('inline' in source) {
    const checked = checkInlineRecipients(source.inline, requiredVars, { urlTemplates: links, checkSize: true, requiredColumns, timeZones });
    Object.assign(report, { valid: checked.recipients.length, invalid: checked.invalidCount, duplicates: checked.duplicateCount, rowIssues: checked.issues });
  } else {
    const input = {
      campaignId: spec.campaignId,
      ...source,
      requiredVars,
      requiredColumns,
      urlTemplates: links,
      chunkSize: campaignSettings(spec).chunkSize,
      maxIssues: Number.MAX_SAFE_INTEGER,
      ...(timeZones ? { timeZones } : {}),
    };
    let plan: RecipientPlan;
    try {
      plan = await planLocally(input, env);
    } catch (err) {
      if (err instanceof ApplicationFailure && err.type === RECIPIENT_FILE_REFUSED) return { ...report, specIssues: [{ path: 'recipients.file', message: err.message }] };
      throw err;
    }
    Object.assign(report, { valid: plan.valid, invalid: plan.invalidCount, duplicates: plan.duplicateCount, rowIssues: plan.issues });
    if (plan.total === 0) report.notes.push(`${describeRecipientSource(source)} has no recipient rows`);
  }
  // Duplicates are sent once and are not an error; invalid rows are.
  report.ok = report.invalid === 0 && report.valid > 0;
  if (report.valid === 0) report.notes.push('no valid recipients: a campaign would be refused before creating its template');
  return report;
}

/**
 * The worker's own planning, run here; a source this machine cannot read is a plain error, not a
 * stack. With RECIPIENT_FILE_ROOTS set in `env`, a file those roots refuse is returned as the failure itself.
 */
async function planLocally(input: PlanRecipientsInput, env: Record<string, string | undefined>): Promise<RecipientPlan> {
  const shown = describeRecipientSource(input);
  if ('postgres' in input && !process.env.RECIPIENT_DATABASE_URL) {
    throw new CliError(`cannot check ${shown} here: set RECIPIENT_DATABASE_URL (the worker reads the same variable from its own environment)`, EXIT.usage);
  }
  try {
    return await planRecipientSource(input, { confineFiles: Boolean(env.RECIPIENT_FILE_ROOTS), env });
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === RECIPIENT_FILE_REFUSED) throw err;
    if (err instanceof ApplicationFailure) throw new CliError(`cannot plan the recipients: ${err.message}`, EXIT.usage);
    throw new CliError(`cannot read ${shown}: ${(err as Error).message}`, EXIT.cannotConnect);
  }
}
