// Where the Temporal SDK's log goes in our processes (worker, listener, demo, tests). The full log
// (INFO and up, errors with their stacks, the SDK core's own warnings) can go to a file; the
// terminal gets one plain line per entry a person should see: no stack traces, no task tokens.
// Faults the chunk workflow handles by design (the API refused a send, or its answer was lost) get
// a sentence saying what happens next, instead of the SDK's "Activity failed" with a stack.
import { mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, Runtime, type LogEntry, type LogLevel, type LogMetadata, type Logger } from '@temporalio/worker';
import { campaignIdOf } from './contracts/campaign';
import { decodeSendFailure, SEND_FAILURE_TYPES, type SendErrorDetails } from './contracts/chunk';

export interface ProcessLogOptions {
  /** Append the full log here (the directory is created); undefined: no file. */
  file?: string;
  /** Lowest level printed on the terminal (default WARN); 'OFF' prints nothing. */
  terminalLevel?: LogLevel | 'OFF';
  /** Where terminal lines go (default stderr). */
  print?: (line: string) => void;
}

const SEVERITY: Record<LogLevel | 'OFF', number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, OFF: 5 };

/** Entries that are expected and say nothing a person must act on: file only. */
const FILE_ONLY = [
  // The send worker runs activities only, on purpose (src/worker.ts).
  'No workflows registered, not polling for workflow tasks',
];

/** Meta that identifies an SDK task rather than explaining anything (and the task token, which is a credential). */
const NOISE = new Set(['taskToken', 'namespace', 'taskQueue', 'activityId', 'activityRunId', 'workflowRunId', 'runId', 'isLocal', 'sdkComponent', 'workflowType', 'durationMs', 'error', 'attempt']);

/**
 * Installs the process-wide Temporal Runtime logger (processLogger). Call it once, before the first
 * Worker or NativeConnection; later calls in the same process are ignored (the Runtime is a singleton).
 */
export function installProcessLogger(options: ProcessLogOptions = {}): void {
  try {
    Runtime.install({ logger: processLogger(options), telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } } } });
  } catch {
    // already installed in this process (e.g. a test file that starts several workers)
  }
}

/** A Temporal SDK Logger that writes the full log to `file` and plain lines to the terminal. */
export function processLogger(options: ProcessLogOptions = {}): Logger {
  const terminalSeverity = SEVERITY[options.terminalLevel ?? 'WARN'];
  const print = options.print ?? ((line: string) => console.error(line));
  let fd: number | undefined;
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    fd = openSync(options.file, 'a');
    writeSync(fd, `--- ${new Date().toISOString()} pid ${process.pid}: ${process.argv.slice(1).join(' ')}\n`);
  }
  return new DefaultLogger('INFO', (entry) => {
    if (fd !== undefined) writeSync(fd, fileLine(entry));
    if (SEVERITY[entry.level] < terminalSeverity) return;
    const line = plainLine(entry);
    if (line !== undefined) print(line);
  });
}

/** One entry for the log file: time, level, message, meta as JSON, then the error's stack. No task token. */
export function fileLine(entry: LogEntry): string {
  const { error, ...meta } = withoutTaskToken(entry.meta);
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const metaText = Object.keys(meta).length > 0 ? ` ${safeJson(meta)}` : '';
  const errorText = error === undefined ? '' : `\n  ${describeError(error)}${error instanceof Error && error.stack ? `\n${indent(error.stack)}` : ''}`;
  return `${time} ${entry.level} ${entry.message}${metaText}${errorText}\n`;
}

/** The terminal line for an entry, or undefined when it belongs in the file only. */
export function plainLine(entry: LogEntry): string | undefined {
  if (FILE_ONLY.some((text) => entry.message.includes(text))) return undefined;
  const meta = entry.meta ?? {};
  const handled = handledSendFault(meta);
  if (handled !== undefined) return handled;
  const context = Object.entries(meta)
    .filter(([key, value]) => !NOISE.has(key) && ['string', 'number', 'boolean'].includes(typeof value))
    .map(([key, value]) => `${key}=${String(value)}`);
  const error = meta.error === undefined ? '' : `: ${describeError(meta.error)}`;
  return `${entry.level.toLowerCase()}: ${entry.message}${error}${context.length > 0 ? ` (${context.join(', ')})` : ''}`;
}

/** The send activity's name as the SDK logs it (activities/send.ts). */
const SEND_ACTIVITY = 'createSendRequest';

/**
 * A send failure the chunk workflow handles (its contract: src/contracts/chunk.ts), in words:
 * refused → it sends again after the server's hint or a backoff; ambiguous → it reconciles first;
 * rejected → the chunk's recipients end invalid or failed.
 */
function handledSendFault(meta: LogMetadata): string | undefined {
  const error = meta.error;
  if (meta.activityType !== SEND_ACTIVITY || !(error instanceof ApplicationFailure)) return undefined;
  const chunk = /^(.*)\/chunk\/(\d+)$/.exec(String(meta.workflowId ?? ''));
  const who = chunk ? `campaign ${campaignIdOf(chunk[1]!)}, chunk ${Number(chunk[2])}` : `send ${String(meta.workflowId ?? '')}`;
  const failure = decodeSendFailure(error.type, error.details?.[0], error.message);
  if (failure.kind === 'refused') {
    const when = failure.retryAfterMs !== null ? `in ${(failure.retryAfterMs / 1000).toFixed(1)} s (the server's hint)` : 'after a backoff';
    return `${who}: send refused (${failure.codeName}${failure.quota ? ', monthly quota' : ''}), nothing was accepted; sending again ${when}`;
  }
  if (failure.kind === 'rejected') {
    return `${who}: send rejected (${failure.codeName}): ${firstLine(failure.message)}; its recipients end ${failure.codeName === 'INVALID_ARGUMENT' ? 'invalid' : 'failed'}`;
  }
  if (error.type === SEND_FAILURE_TYPES.ambiguous) {
    const details = error.details?.[0] as Partial<SendErrorDetails> | undefined;
    return `${who}: the answer to the send was lost (${details?.codeName ?? 'UNKNOWN'}); checking with the API whether it was accepted before sending again`;
  }
  return undefined;
}

function describeError(error: unknown): string {
  if (error instanceof ApplicationFailure && error.type) return `${error.type}: ${firstLine(error.message)}`;
  if (error instanceof Error) return `${error.name}: ${firstLine(error.message)}`;
  return firstLine(String(error));
}

function withoutTaskToken(meta: LogMetadata | undefined): LogMetadata {
  const { taskToken: _taskToken, ...rest } = meta ?? {};
  return rest;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return String(value);
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line.trimStart()}`)
    .join('\n');
}
