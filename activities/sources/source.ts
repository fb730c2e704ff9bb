// What every recipient source (a local file, an http(s) URL, a PostgreSQL table or query) offers
// the campaign: `plan` reads the whole source once and cuts it into chunk sources that carry no
// recipient data (byte ranges or key ranges); `read` yields one chunk's recipients again (in batches), exactly
// the ones the plan counted, or refuses with RecipientSourceChanged when the source changed since.
import { ApplicationFailure } from '@temporalio/common';
import type { RecipientInput } from '../../src/api/types';
import { MAX_RECIPIENTS_PER_REQUEST } from '../../src/api/validation';
import type { ValidationIssue } from '../../src/api/validation';
import type { ChunkSource, TimeZoneGrouping } from '../../src/campaign/chunk-source';
import { MAX_SENDS_PER_CHUNK } from '../../src/campaign/spec';

export interface PlanOptions {
  /** Template placeholders every recipient must have a non-empty value for. */
  requiredVars: string[];
  /** The template's links with placeholders: each row's rendered link must be http(s). Absent in older histories. */
  urlTemplates?: string[];
  /** Columns every row must have, possibly empty (the email fallback's address). */
  requiredColumns?: string[];
  /** Valid recipients per chunk (1..1000). */
  chunkSize: number;
  /** At most this many issues are returned (counts are always complete). */
  maxIssues: number;
  /** Group the recipients into chunks by their own time zone (files, URLs and PostgreSQL; absent: one group). */
  timeZones?: TimeZoneGrouping;
}

export interface RecipientPlan<Chunk extends ChunkSource = ChunkSource> {
  /** Data rows in the source (blank lines excluded). */
  total: number;
  valid: number;
  invalidCount: number;
  duplicateCount: number;
  issues: ValidationIssue[];
  chunks: Chunk[];
  /** Recipients per chunk, when chunks are grouped by time zone (each zone's last chunk may be short). */
  sizes?: number[];
}

export interface RecipientSourceReader<Spec, Chunk extends ChunkSource> {
  plan(spec: Spec, options: PlanOptions): Promise<RecipientPlan<Chunk>>;
  read(chunk: Chunk): AsyncIterable<RecipientInput[]>;
}

/** Heartbeat the plan every this many rows, so a dead worker is noticed at the heartbeat timeout. */
export const HEARTBEAT_EVERY_ROWS = 10_000;

export const RECIPIENT_SOURCE_FAILURES = {
  /** The source is not what was planned any more: sending from it could message the wrong people. */
  changed: 'RecipientSourceChanged',
  /** Missing, refused or unusable; retrying will not help. */
  unreadable: 'RecipientSourceUnreadable',
  /** The plan's own inputs are wrong. */
  invalidPlan: 'InvalidPlanInput',
  tooManyInvalidRows: 'TooManyInvalidRows',
} as const;

export function sourceChanged(source: string, reason: string, fix: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`recipient source ${source} changed since the campaign was planned (${reason}); ${fix}`, RECIPIENT_SOURCE_FAILURES.changed);
}

export function sourceUnreadable(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, RECIPIENT_SOURCE_FAILURES.unreadable);
}

/** The plan's counts and issues, with the first-wins deduplication every source applies. */
export class PlanAccount {
  readonly totals = { total: 0, valid: 0, invalidCount: 0, duplicateCount: 0 };
  readonly issues: ValidationIssue[] = [];
  private readonly firstSeen = new Map<string, string>();

  constructor(private readonly maxIssues: number) {}

  issue(issue: ValidationIssue): void {
    if (this.issues.length < this.maxIssues) this.issues.push(issue);
  }

  invalid(issue: ValidationIssue): void {
    this.totals.invalidCount += 1;
    this.issue(issue);
  }

  /** True for the first row of a ppnum; a repeat is counted and reported with where the first was (`where`, e.g. "line 4"). */
  firstOf(ppnum: string, where: string, issue: Omit<ValidationIssue, 'field' | 'message'>): boolean {
    const first = this.firstSeen.get(ppnum);
    if (first === undefined) {
      this.firstSeen.set(ppnum, where);
      this.totals.valid += 1;
      return true;
    }
    this.totals.duplicateCount += 1;
    this.issue({ ...issue, ppnum, field: 'ppnum', message: `this ppnum already appears on ${first}; only that first row is used` });
    return false;
  }

  plan<Chunk extends ChunkSource>(chunks: Chunk[], sizes?: number[]): RecipientPlan<Chunk> {
    return { ...this.totals, issues: this.issues, chunks, ...(sizes ? { sizes } : {}) };
  }
}

/** Recipients per planned chunk: at most MAX_SENDS_PER_CHUNK requests of the API's 1,000. */
const MAX_RECIPIENTS_PER_CHUNK = MAX_RECIPIENTS_PER_REQUEST * MAX_SENDS_PER_CHUNK;

export function checkChunkSize(chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_RECIPIENTS_PER_CHUNK) {
    throw ApplicationFailure.nonRetryable(`chunkSize must be an integer from 1 to ${MAX_RECIPIENTS_PER_CHUNK}, got ${chunkSize}`, RECIPIENT_SOURCE_FAILURES.invalidPlan);
  }
}
