// The errors CampaignClient throws: each says, in plain words, what happened and what to do.
// The CLI maps them to exit codes (src/cli/program.ts); app code can tell them apart by class.
import { campaignWorkflowId } from '../contracts/campaign';
import type { SpecIssue } from '../campaign/spec';

/** The spec failed parseCampaignSpec; `issues` lists every problem by JSON path. */
export class InvalidSpecError extends Error {
  constructor(readonly issues: SpecIssue[]) {
    super(`invalid campaign spec:\n${issues.map((issue) => `  ${issue.path || '(spec)'}: ${issue.message}`).join('\n')}`);
    this.name = 'InvalidSpecError';
  }
}

/** No campaign with this id exists on the server. */
export class CampaignNotFoundError extends Error {
  constructor(readonly campaignId: string) {
    super(`no campaign "${campaignId}" (workflow ${campaignWorkflowId(campaignId)} not found)`);
    this.name = 'CampaignNotFoundError';
  }
}

/**
 * The campaign id is taken by a campaign with a different spec. `differences` names the top-level
 * fields that differ; nothing was started.
 */
export class SpecMismatchError extends Error {
  constructor(
    readonly campaignId: string,
    readonly differences: string[],
    readonly existing: { status: string; summary?: string },
    readonly hint: string,
  ) {
    const summary = existing.summary ? `\n  existing: ${existing.summary}` : '';
    super(`campaign ${campaignId} already exists (${existing.status}) with a different spec: ${differences.length > 0 ? `it differs in ${differences.join(', ')}` : 'it differs'}${summary}\n${hint}`);
    this.name = 'SpecMismatchError';
  }
}

/** A control the campaign's state does not allow (the update's validator refused it, saying why). */
export class ControlRefusedError extends Error {
  constructor(
    readonly campaignId: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'ControlRefusedError';
  }
}

/** The campaign has finished: there is nothing to pause, resume or cancel. */
export class CampaignFinishedError extends Error {
  constructor(
    readonly campaignId: string,
    readonly action: string,
    readonly status: string,
  ) {
    super(`cannot ${action} campaign ${campaignId}: it has finished (${status})`);
    this.name = 'CampaignFinishedError';
  }
}

/** The campaign workflow failed; `reasons` is the cause chain, outermost first. */
export class CampaignFailedError extends Error {
  constructor(
    readonly campaignId: string,
    readonly reasons: string[],
  ) {
    super(`campaign ${campaignId} failed: ${reasons.join(': ')}`);
    this.name = 'CampaignFailedError';
  }
}

/** A follow-up asked for a campaign that is still running (its outcomes are not final yet). */
export class CampaignStillRunningError extends Error {
  constructor(readonly campaignId: string) {
    super(`campaign ${campaignId} is still running: retry its recipients once it has finished`);
    this.name = 'CampaignStillRunningError';
  }
}

/**
 * The campaign's workflow task keeps failing, so the campaign cannot answer or move on. For a
 * nondeterminism error `campaign repair` resets it to where it diverged; other causes are in the
 * worker log.
 */
export class CampaignStuckError extends Error {
  constructor(
    readonly campaignId: string,
    readonly task: { attempt: number; cause: string; message?: string },
  ) {
    const next = task.cause === 'nondeterminism' ? `run \`ppoppo-campaign repair ${campaignId}\` (see README, "A workflow task that keeps failing")` : 'the worker log says why; it goes on once the cause is fixed';
    super(`campaign ${campaignId} is stuck: its workflow task keeps failing (${task.cause}${task.message ? `: ${task.message}` : ''}; attempt ${task.attempt}); ${next}`);
    this.name = 'CampaignStuckError';
  }
}

/**
 * A chunk could not answer for its recipients (a query replays its history on a worker): `report`,
 * `recipients` and the checks name the chunk, and a replay error is a fault of the runtime, not of
 * anyone's outcome.
 */
export class ChunkUnreadableError extends Error {
  constructor(
    readonly campaignId: string,
    readonly chunkIndex: number,
    readonly workflowId: string,
    reason: string,
  ) {
    super(`could not read the recipients of chunk ${chunkIndex} of campaign ${campaignId} (workflow ${workflowId}): ${reason}`);
    this.name = 'ChunkUnreadableError';
  }
}

/**
 * No worker polls the campaign's task queue, so nobody answers a query of its progress (a worker
 * replays the workflow to answer it; without one the query waits about 30 s, then fails unexplained).
 */
export class NoWorkerError extends Error {
  constructor(
    readonly campaignId: string,
    readonly taskQueue: string,
  ) {
    super(`no worker polls task queue ${taskQueue}, so nobody can answer for campaign ${campaignId} (a worker replays it to tell its progress); start one (npm run worker)`);
    this.name = 'NoWorkerError';
  }
}
