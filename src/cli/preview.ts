// `preview`: one recipient's message (and fallback) exactly as it would be rendered, sending
// nothing. The template comes from the spec, or from the API when the spec names a templateId.
import type { TemplateComponentSpec } from '../api/types';
import { extractPlaceholders, missingVars, renderTemplate, validateRecipients } from '../api/validation';
import { describeRecipientSource } from '../campaign/recipient-source';
import { parseCampaignSpec, requiredColumnsFor, requiredVarsFor } from '../campaign/spec';
import { InvalidSpecError } from '../client/errors';
import { readDataRow } from '../../activities/recipients';
import { CliError, EXIT } from './errors';

export interface Preview {
  campaignId: string;
  /** 1-based recipient row (header and blank lines not counted). */
  row: number;
  /** Line of the row (file and URL sources). */
  line?: number;
  ppnum: string;
  message: string;
  fallback?: { channel: string; on: string[]; text: string; subject?: string; to?: string };
  /** Why this row would not be sent, if it would not (bad ppnum, missing variable, too large...). */
  problem?: string;
}

export async function previewSpec(input: unknown, row: number, fetchTemplate: (templateId: string) => Promise<TemplateComponentSpec[]>): Promise<Preview> {
  const { spec, issues } = parseCampaignSpec(input);
  if (!spec) throw new InvalidSpecError(issues);
  const source = spec.recipients;
  if ('retryOf' in source) throw new CliError(`the recipients of a follow-up are read from campaign ${source.retryOf} when it starts: preview that campaign's spec instead`, EXIT.usage);

  let ppnum: string;
  let vars: Record<string, string>;
  let line: number | undefined;
  let problem: string | undefined;
  if ('inline' in source) {
    const entry = source.inline[row - 1] as { ppnum?: unknown; vars?: Record<string, string> } | undefined;
    if (!entry) throw new CliError(`--row ${row}: the inline list has ${source.inline.length} recipient(s)`, EXIT.usage);
    ppnum = String(entry.ppnum);
    vars = entry.vars ?? {};
    const [issue] = validateRecipients([entry], { checkSize: true, requiredColumns: requiredColumnsFor(spec.fallback) }).issues;
    if (issue) problem = `${issue.field}: ${issue.message}`;
  } else {
    if ('postgres' in source) throw new CliError(`preview reads rows of inline lists, files and URLs, not of ${describeRecipientSource(source)}: copy a row into an inline list to preview it`, EXIT.usage);
    const found = await readDataRow({ ...source, row });
    if (!found) throw new CliError(`--row ${row}: ${describeRecipientSource(source)} has fewer recipient rows`, EXIT.usage);
    line = found.line;
    if (!found.parsed.ok) {
      ppnum = found.parsed.ppnum ?? '?';
      vars = {};
      problem = `${found.parsed.field}: ${found.parsed.message}`;
    } else {
      ({ ppnum, vars } = found.parsed.recipient);
    }
  }

  const components = 'components' in spec.template ? spec.template.components : await fetchTemplate(spec.template.templateId);
  const missing = missingVars(requiredVarsFor(extractPlaceholders(components), spec.fallback), vars);
  if (!problem && missing.length > 0) problem = `no value for ${missing.map((name) => `"${name}"`).join(', ')}: this row would be invalid`;
  const preview: Preview = { campaignId: spec.campaignId, row, ...(line !== undefined ? { line } : {}), ppnum, message: renderTemplate(components, vars), ...(problem ? { problem } : {}) };
  const fallback = spec.fallback;
  if (fallback) {
    const channel = fallback.channel;
    const render = (text: string) => renderTemplate([{ type: 'text', content: text }], vars);
    preview.fallback = {
      channel: channel.type,
      on: fallback.on,
      text: render(fallback.text ?? ''),
      ...(channel.type === 'email' ? { subject: render(channel.subject ?? 'A message for you'), to: vars[channel.addressColumn] ?? '' } : {}),
    };
  }
  return preview;
}

export function formatPreview(preview: Preview): string {
  const indent = (text: string) => text.split('\n').map((lineText) => `  ${lineText}`).join('\n');
  const where = preview.line !== undefined ? `row ${preview.row} (line ${preview.line})` : `row ${preview.row}`;
  const lines = [`campaign ${preview.campaignId}, ${where}, ppnum ${preview.ppnum}: nothing is sent`, 'message:', indent(preview.message)];
  const fallback = preview.fallback;
  if (fallback) {
    lines.push(`fallback by ${fallback.channel} (on ${fallback.on.join(', ')}):`);
    if (fallback.to !== undefined) lines.push(`  to: ${fallback.to || '(no address: this recipient\'s fallback would fail)'}`, `  subject: ${fallback.subject}`);
    lines.push(indent(fallback.text || '(no text: the webhook gets the variables)'));
  }
  if (preview.problem) lines.push(`note: ${preview.problem}`);
  return lines.join('\n');
}
