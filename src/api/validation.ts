// Local checks of recipients and template components, run before anything is sent.
// PURE: no Node or gRPC imports, so workflow code may import this module.
import type { RecipientInput, TemplateComponentSpec } from './types';
import { thousands } from '../text';

/** One problem found in the input. `index` is the position in a list, `line` a line in a file. */
export interface ValidationIssue {
  index?: number;
  line?: number;
  ppnum?: string;
  /** What is wrong, as a path: 'ppnum', 'vars.first_name', 'components[2].url', 'recipients'. */
  field: string;
  message: string;
}

/**
 * "line 12, vars.name: …" (files) or "entry 3, ppnum: …" (lists; a field path like
 * 'recipients.inline[3].ppnum' already says where). The ppnum only when asked for (local output
 * to the person who owns the file): texts that are stored never name a recipient.
 */
export function describeIssue(issue: ValidationIssue, options: { withPpnum?: boolean } = {}): string {
  const where = issue.line !== undefined ? `line ${issue.line}` : issue.index !== undefined && !issue.field.includes('[') ? `entry ${issue.index}` : '';
  const who = options.withPpnum && issue.ppnum ? ` (${issue.ppnum})` : '';
  return `${where}${who}${where || who ? ': ' : ''}${issue.field}: ${issue.message}`;
}

/** A ppnum repeated in a list: `index` is dropped, `firstIndex` is the entry kept. */
export interface DuplicateRecipient {
  index: number;
  ppnum: string;
  firstIndex: number;
}

export interface RecipientValidation {
  /** Valid recipients, deduplicated by ppnum (first occurrence wins), in input order. */
  recipients: RecipientInput[];
  issues: ValidationIssue[];
  duplicates: DuplicateRecipient[];
}

/** The API's limits for one CreateSendRequest. */
export const MIN_RECIPIENTS_PER_REQUEST = 1;
export const MAX_RECIPIENTS_PER_REQUEST = 1000;
/**
 * A gRPC server takes messages up to 4 MiB unless configured otherwise (grpc-js's and tonic's
 * default receive limit; the sandbox keeps it): a larger CreateSendRequest is refused whole.
 */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/**
 * What one recipient (ppnum and vars, as encoded) may take, so that a full request of 1,000 fits
 * MAX_REQUEST_BYTES with room to spare. Checked by `validate`, the plan and inline lists: a larger
 * row is invalid (by line and variable) before anything is sent.
 */
export const MAX_RECIPIENT_BYTES = 4_000;

/** UTF-8 length of a string, without Node's Buffer (workflow code uses this module). */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair is one 4-byte character
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

/** Per-field overhead of the wire encoding (tags, lengths, the Struct's map entry and Value wrappers). */
const FIELD_OVERHEAD = 12;

/** A recipient's size as a CreateSendRequest carries it (a close upper estimate of the protobuf encoding). */
export function recipientBytes(recipient: { ppnum: string; vars?: Readonly<Record<string, unknown>> }): number {
  let bytes = utf8Bytes(recipient.ppnum) + FIELD_OVERHEAD;
  for (const [name, value] of Object.entries(recipient.vars ?? {})) bytes += utf8Bytes(name) + (typeof value === 'string' ? utf8Bytes(value) : 0) + FIELD_OVERHEAD;
  return bytes;
}

/** An issue when the recipient is over MAX_RECIPIENT_BYTES, naming its largest variable. */
export function recipientSizeIssue(recipient: { ppnum: string; vars?: Readonly<Record<string, unknown>> }): { field: string; message: string } | undefined {
  const bytes = recipientBytes(recipient);
  if (bytes <= MAX_RECIPIENT_BYTES) return undefined;
  const [largest, largestBytes] = Object.entries(recipient.vars ?? {})
    .map(([name, value]): [string, number] => [name, typeof value === 'string' ? utf8Bytes(value) : 0])
    .reduce((best, next) => (next[1] > best[1] ? next : best), ['', 0]);
  const field = largest ? `vars.${largest}` : 'row';
  const alone = largest ? ` (${field} alone ${thousands(largestBytes)})` : '';
  return {
    field,
    message: `the recipient takes ${thousands(bytes)} bytes${alone}; at most ${thousands(MAX_RECIPIENT_BYTES)} fit, so that a request of ${thousands(MAX_RECIPIENTS_PER_REQUEST)} stays within the API's ${MAX_REQUEST_BYTES / 1024 / 1024} MB message limit`,
  };
}

const PPNUM_PATTERN = /^[0-9]{11,}$/;
/** `{{ name }}`: letters, digits and underscores, not starting with a digit; spaces inside braces allowed. */
const PLACEHOLDER_PATTERN = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** ASCII digits only, at least 11 (the API's wire form; display hyphens are not accepted). */
export function isValidPpnum(value: unknown): value is string {
  return typeof value === 'string' && PPNUM_PATTERN.test(value);
}

/** Only the last 4 digits of a ppnum may appear in logs and in texts stored outside encrypted payloads. */
export function redactPpnum(ppnum: string | undefined): string {
  if (!ppnum) return '-';
  return `…${ppnum.slice(-4)}`;
}

/** A text with every ppnum-like run of 11+ digits redacted (error texts of the API may name recipients). */
export function redactPpnums(text: string): string {
  return text.replace(/(?<![A-Za-z0-9])\d{11,}(?![A-Za-z0-9])/g, (digits) => redactPpnum(digits));
}

/** Names of `requiredVars` that `vars` lacks or leaves empty. */
export function missingVars(requiredVars: readonly string[], vars: Readonly<Record<string, unknown>> | undefined): string[] {
  return requiredVars.filter((name) => {
    const value = vars?.[name];
    return typeof value !== 'string' || value === '';
  });
}

/** What a recipient's variables must satisfy for a template: its placeholders filled, its URLs still URLs. */
export interface VarRules {
  /** Placeholders every recipient needs a non-empty value for. */
  requiredVars?: readonly string[];
  /** Button and image URLs of the template that hold placeholders (see urlTemplates). */
  urlTemplates?: readonly string[];
}

/**
 * The first problem with a recipient's variables, or undefined. Messages name the variable, never
 * its value: they end up in statuses, failures and logs.
 */
export function checkVars(vars: Readonly<Record<string, string>>, rules: VarRules): { field: string; message: string } | undefined {
  const [missing] = missingVars(rules.requiredVars ?? [], vars);
  if (missing !== undefined) return { field: `vars.${missing}`, message: `the template needs "${missing}" but it is missing or empty` };
  for (const template of rules.urlTemplates ?? []) {
    const rendered = template.replace(PLACEHOLDER_PATTERN, (whole, name: string) => vars[name] ?? whole).trim();
    if (/^https?:\/\/[^\s]/i.test(rendered)) continue;
    const name = [...template.matchAll(PLACEHOLDER_PATTERN)][0]![1]!;
    return { field: `vars.${name}`, message: `a link of the template is "${template}": with this row's "${name}" it is not an http:// or https:// address` };
  }
  return undefined;
}

/**
 * What validateRecipients checks beyond VarRules: `requiredColumns` must be present in vars but may
 * be empty (the email fallback's address); `checkSize` checks MAX_RECIPIENT_BYTES.
 */
export interface RecipientRules extends VarRules {
  requiredColumns?: readonly string[];
  checkSize?: boolean;
  /** A campaign's own check of an entry's variables (e.g. its time zone), after the others pass. */
  checkEntryVars?: (vars: Readonly<Record<string, string>>) => { field: string; message: string } | undefined;
}

/** Button and image URLs with a {{placeholder}}: their rendered value must be checked per recipient. */
export function urlTemplates(components: readonly TemplateComponentSpec[]): string[] {
  const urls = components.flatMap((component) => (component.type === 'button' || component.type === 'image' ? [component.url] : []));
  return [...new Set(urls.filter((url) => new RegExp(PLACEHOLDER_PATTERN.source).test(url)))];
}

/**
 * Checks every entry (ppnum format, vars are strings, required vars present, links still links)
 * and drops repeated ppnums, keeping the first. Entries with issues are left out of `recipients`.
 */
export function validateRecipients(list: readonly unknown[], options: RecipientRules = {}): RecipientValidation {
  const recipients: RecipientInput[] = [];
  const issues: ValidationIssue[] = [];
  const duplicates: DuplicateRecipient[] = [];
  const firstIndexOf = new Map<string, number>();

  list.forEach((entry, index) => {
    const entryIssues = checkRecipient(entry, index, options);
    if (entryIssues.length > 0) {
      issues.push(...entryIssues);
      return;
    }
    const recipient = entry as RecipientInput;
    const firstIndex = firstIndexOf.get(recipient.ppnum);
    if (firstIndex !== undefined) {
      duplicates.push({ index, ppnum: recipient.ppnum, firstIndex });
      return;
    }
    firstIndexOf.set(recipient.ppnum, index);
    recipients.push({ ppnum: recipient.ppnum, vars: { ...(recipient.vars ?? {}) } });
  });
  return { recipients, issues, duplicates };
}

/** Issues never quote a value: an invalid ppnum is left out of the issue, a variable is named, not shown. */
function checkRecipient(entry: unknown, index: number, rules: RecipientRules): ValidationIssue[] {
  if (!isPlainObject(entry)) return [{ index, field: 'recipient', message: 'each recipient must be an object like { ppnum, vars }' }];
  const { vars } = entry;
  if (typeof entry.ppnum !== 'string') return [{ index, field: 'ppnum', message: 'ppnum is missing or not a string' }];
  const ppnum = isValidPpnum(entry.ppnum) ? entry.ppnum : undefined;
  const issues: ValidationIssue[] = [];
  if (!ppnum) issues.push({ index, field: 'ppnum', message: 'ppnum is not valid: it must be 11 or more digits (no hyphens or spaces)' });
  if (vars !== undefined && !isPlainObject(vars)) {
    issues.push({ index, ppnum, field: 'vars', message: 'vars must be an object of strings' });
    return issues;
  }
  for (const [name, value] of Object.entries(vars ?? {})) {
    if (typeof value !== 'string') issues.push({ index, ppnum, field: `vars.${name}`, message: `variable "${name}" must be a string` });
  }
  for (const name of missingVars(rules.requiredVars ?? [], vars)) {
    if (vars?.[name] !== undefined && typeof vars[name] !== 'string') continue; // already reported as not a string
    issues.push({ index, ppnum, field: `vars.${name}`, message: `the template needs "${name}" but it is missing or empty` });
  }
  for (const name of rules.requiredColumns ?? []) {
    if (vars?.[name] === undefined) issues.push({ index, ppnum, field: `vars.${name}`, message: `the email fallback reads addresses from "${name}", which this entry lacks (an empty value is allowed)` });
  }
  if (issues.length === 0) {
    const problem = checkVars((vars ?? {}) as Record<string, string>, { urlTemplates: rules.urlTemplates }) ?? rules.checkEntryVars?.((vars ?? {}) as Record<string, string>);
    if (problem) issues.push({ index, ppnum, ...problem });
  }
  const size = rules.checkSize ? recipientSizeIssue({ ppnum: entry.ppnum, vars }) : undefined;
  if (size) issues.push({ index, ppnum, ...size });
  return issues;
}

/** Checks a template's components; issues name the component as `components[i].field`. */
export function validateComponents(components: readonly unknown[]): ValidationIssue[] {
  if (!Array.isArray(components) || components.length === 0) {
    return [{ field: 'components', message: 'a template needs at least one component' }];
  }
  const issues: ValidationIssue[] = [];
  let polls = 0;
  components.forEach((component, i) => {
    const at = (field: string) => `components[${i}]${field ? `.${field}` : ''}`;
    const issue = (field: string, message: string) => issues.push({ index: i, field: at(field), message });
    if (!isPlainObject(component)) return issue('', 'each component must be an object with a "type"');
    const text = (field: string, required = true) => {
      const value = component[field];
      if (value === undefined && !required) return;
      if (typeof value !== 'string' || (required && value.trim() === '')) return issue(field, `${component.type} ${field} must be a non-empty string`);
      checkPlaceholderSyntax(value, (message) => issue(field, message));
    };
    const url = (field: string) => {
      text(field);
      const value = component[field];
      if (typeof value === 'string' && value.trim() !== '' && !/^(https?:\/\/|\{\{)/i.test(value.trim())) {
        issue(field, `${component.type} ${field} must start with http:// or https:// (or a {{placeholder}})`);
      }
    };
    switch (component.type) {
      case 'text':
        return text('content');
      case 'divider':
        return;
      case 'button':
        text('label');
        return url('url');
      case 'image':
        url('url');
        return text('alt', false);
      case 'poll': {
        polls += 1;
        if (polls === 2) issue('type', 'a template can hold only one poll');
        text('question');
        const options = component.options;
        if (!Array.isArray(options) || options.length < 2) return issue('options', 'a poll needs at least two options');
        const seen = new Set<string>();
        options.forEach((option, j) => {
          const field = `options[${j}]`;
          if (typeof option !== 'string' || option.trim() === '') return issue(field, 'poll options must be non-empty strings');
          if (seen.has(option.trim())) issue(field, `poll option "${option}" appears twice`);
          seen.add(option.trim());
          checkPlaceholderSyntax(option, (message) => issue(field, message));
        });
        return;
      }
      default:
        return issue('type', `unknown component type ${JSON.stringify(component.type)}; use text, divider, button, image or poll`);
    }
  });
  return issues;
}

/** Reports `{{` without a matching well-formed `{{name}}` (e.g. `{{first name}}` or `{{name`). */
function checkPlaceholderSyntax(value: string, report: (message: string) => void): void {
  const leftover = value.replace(PLACEHOLDER_PATTERN, '');
  if (leftover.includes('{{') || leftover.includes('}}')) {
    report('has a malformed placeholder: write {{name}} with letters, digits and underscores only');
  }
}

/** Every `{{placeholder}}` name in the components, in order of first appearance. */
export function extractPlaceholders(components: readonly TemplateComponentSpec[]): string[] {
  const names = new Set<string>();
  for (const text of componentTexts(components)) {
    for (const match of text.matchAll(PLACEHOLDER_PATTERN)) names.add(match[1]!);
  }
  return [...names];
}

/** The text of a message as a recipient would read it (for previews and tests). Unknown vars stay as `{{name}}`. */
export function renderTemplate(components: readonly TemplateComponentSpec[], vars: Readonly<Record<string, string>>): string {
  const fill = (text: string) => text.replace(PLACEHOLDER_PATTERN, (whole, name: string) => vars[name] ?? whole);
  return components
    .map((component) => {
      switch (component.type) {
        case 'text':
          return fill(component.content);
        case 'divider':
          return '---';
        case 'button':
          return `[${fill(component.label)}](${fill(component.url)})`;
        case 'image':
          return `![${fill(component.alt ?? '')}](${fill(component.url)})`;
        case 'poll':
          return [fill(component.question), ...component.options.map((option) => `- ${fill(option)}`)].join('\n');
      }
    })
    .join('\n');
}

/** The strings of each component that may hold placeholders. */
function componentTexts(components: readonly TemplateComponentSpec[]): string[] {
  return components.flatMap((component) => {
    switch (component.type) {
      case 'text':
        return [component.content];
      case 'divider':
        return [];
      case 'button':
        return [component.label, component.url];
      case 'image':
        return [component.url, component.alt ?? ''];
      case 'poll':
        return [component.question, ...component.options];
    }
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
