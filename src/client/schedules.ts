// Recurring campaigns on Temporal Schedules (not a home-made cron): a Schedule whose id is the spec's
// campaignId starts campaignScheduleWorkflow at each run time, which runs that time's campaign as
// "<scheduleId>.<run time>" (scheduledCampaignId). The same schedules show in the Web UI's
// Schedules page and `temporal schedule list|describe|toggle|trigger|delete`.
import { ScheduleAlreadyRunning, ScheduleNotFoundError as TemporalScheduleNotFound, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Client, ScheduleSpec } from '@temporalio/client';
import { parseCampaignSpec, parseDuration } from '../campaign/spec';
import { isTimeZone } from '../campaign/send-window';
import { CAMPAIGN_MEMO, CAMPAIGN_SCHEDULE_WORKFLOW_TYPE, campaignScheduleWorkflowId, scheduledCampaignId } from '../contracts/campaign';
import type { CampaignScheduleInput } from '../contracts/campaign';
import { TASK_QUEUES, WORKFLOW_TASK_TIMEOUT_MS } from '../temporal/names';
import { InvalidSpecError } from './errors';

/**
 * What happens when a run is due while the previous one still runs: 'skip' it (the default: a
 * weekly digest that is still sending should not start twice), run it right after ('buffer-one'),
 * or run both ('allow-all'). Temporal's cancel/terminate-other are not offered: they would stop a
 * campaign halfway through its sends.
 */
export const OVERLAP_POLICIES = { skip: ScheduleOverlapPolicy.SKIP, 'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE, 'allow-all': ScheduleOverlapPolicy.ALLOW_ALL } as const;
export type OverlapPolicy = keyof typeof OVERLAP_POLICIES;

/**
 * A run missed while the server was down is still taken this long after its time, and skipped
 * after that: a message meant for Monday 09:00 is not sent on Tuesday (Temporal's default is a year).
 */
const CATCHUP_WINDOW = '1 hour';
/** Run ids are "<scheduleId>.YYYYMMDDTHHMMSSZ" (17 more characters) and must stay campaign ids (200 at most). */
const MAX_SCHEDULE_ID_LENGTH = 183;

export interface ScheduleOptions {
  /** A cron expression ("0 9 * * MON"), read in `timeZone`; or `every`, an interval ("1h", "2s"). */
  cron?: string;
  every?: string;
  /** IANA time zone of the cron expression (default UTC); Temporal handles its daylight-saving changes. */
  timeZone?: string;
  overlap?: OverlapPolicy;
}

export interface CampaignScheduleSummary {
  scheduleId: string;
  paused: boolean;
  note?: string;
  /** The next run times (ISO) and the campaign ids they will run as. */
  nextRuns: { at: string; campaignId: string }[];
  /** The latest runs: their time and campaign id. */
  recentRuns: { at: string; campaignId: string }[];
}

/** The schedule options or the spec cannot make a schedule; the message names the flag or field. */
export class InvalidScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidScheduleError';
  }
}

export class ScheduleNotFoundError extends Error {
  constructor(readonly scheduleId: string) {
    super(`no campaign schedule "${scheduleId}"`);
    this.name = 'ScheduleNotFoundError';
  }
}

export class ScheduleExistsError extends Error {
  constructor(readonly scheduleId: string) {
    super(`a schedule "${scheduleId}" already exists; nothing was created (delete it first, or use another campaignId)`);
    this.name = 'ScheduleExistsError';
  }
}

export class CampaignSchedules {
  constructor(
    private readonly client: Client,
    private readonly options: { taskQueue?: string; sendTaskQueue?: string } = {},
  ) {}

  /** Creates the schedule; the spec is checked now, and each run checks its recipients at its own time. */
  async create(input: unknown, options: ScheduleOptions): Promise<CampaignScheduleSummary> {
    const { spec, issues } = parseCampaignSpec(input);
    if (!spec) throw new InvalidSpecError(issues);
    const absolute = (['startAt', 'deadline'] as const).filter((field) => spec[field] !== undefined);
    if (absolute.length > 0) throw new InvalidScheduleError(`${absolute.join(' and ')}: a recurring campaign's runs start at their scheduled times; remove ${absolute.length > 1 ? 'these fixed times' : 'this fixed time'} from the spec`);
    if (spec.campaignId.length > MAX_SCHEDULE_ID_LENGTH) throw new InvalidScheduleError(`campaignId: a schedule's id is at most ${MAX_SCHEDULE_ID_LENGTH} characters (each run adds its time to it)`);
    const scheduleSpec = scheduleSpecOf(options);
    const scheduleInput: CampaignScheduleInput = { spec };
    const memo = this.options.sendTaskQueue ? { [CAMPAIGN_MEMO.sendTaskQueue]: this.options.sendTaskQueue } : undefined;
    try {
      await this.client.schedule.create({
        scheduleId: spec.campaignId,
        spec: scheduleSpec,
        action: {
          type: 'startWorkflow',
          workflowType: CAMPAIGN_SCHEDULE_WORKFLOW_TYPE,
          workflowId: campaignScheduleWorkflowId(spec.campaignId),
          taskQueue: this.options.taskQueue ?? TASK_QUEUES.campaigns,
          args: [scheduleInput],
          workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT_MS,
          ...(memo ? { memo } : {}),
        },
        policies: { overlap: OVERLAP_POLICIES[options.overlap ?? 'skip'], catchupWindow: CATCHUP_WINDOW },
        state: { note: `campaign ${spec.campaignId} (overlap: ${options.overlap ?? 'skip'})` },
      });
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) throw new ScheduleExistsError(spec.campaignId);
      // The server checks the cron expression: its words, naming the flag.
      if (options.cron !== undefined && /cron|invalid/i.test((err as Error).message)) throw new InvalidScheduleError(`--cron "${options.cron}": ${(err as Error).message}`);
      throw err;
    }
    return this.describe(spec.campaignId);
  }

  async describe(scheduleId: string): Promise<CampaignScheduleSummary> {
    const handle = this.client.schedule.getHandle(scheduleId);
    const description = await handle.describe().catch((err: unknown) => {
      throw err instanceof TemporalScheduleNotFound ? new ScheduleNotFoundError(scheduleId) : err;
    });
    if (description.action.workflowType !== CAMPAIGN_SCHEDULE_WORKFLOW_TYPE) throw new ScheduleNotFoundError(scheduleId);
    return {
      scheduleId,
      paused: description.state.paused,
      ...(description.state.note ? { note: description.state.note } : {}),
      nextRuns: description.info.nextActionTimes.map((at) => run(scheduleId, at)),
      recentRuns: description.info.recentActions.map((action) => run(scheduleId, action.scheduledAt)),
    };
  }

  /** Every campaign schedule (other schedules in the namespace are left out). */
  async list(): Promise<CampaignScheduleSummary[]> {
    const found: CampaignScheduleSummary[] = [];
    for await (const summary of this.client.schedule.list()) {
      if (summary.action?.workflowType !== CAMPAIGN_SCHEDULE_WORKFLOW_TYPE) continue;
      found.push({
        scheduleId: summary.scheduleId,
        paused: summary.state.paused,
        ...(summary.state.note ? { note: summary.state.note } : {}),
        nextRuns: summary.info.nextActionTimes.map((at) => run(summary.scheduleId, at)),
        recentRuns: summary.info.recentActions.map((action) => run(summary.scheduleId, action.scheduledAt)),
      });
    }
    return found.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
  }

  /** No new runs until resumed; a run in progress goes on. */
  async pause(scheduleId: string, note = 'paused from the campaign CLI'): Promise<CampaignScheduleSummary> {
    await this.describe(scheduleId);
    await this.client.schedule.getHandle(scheduleId).pause(note);
    return this.describe(scheduleId);
  }

  async resume(scheduleId: string): Promise<CampaignScheduleSummary> {
    await this.describe(scheduleId);
    await this.client.schedule.getHandle(scheduleId).unpause('resumed from the campaign CLI');
    return this.describe(scheduleId);
  }

  /** No more runs; campaigns it started go on to their end. */
  async delete(scheduleId: string): Promise<void> {
    await this.describe(scheduleId);
    await this.client.schedule.getHandle(scheduleId).delete();
  }
}

function run(scheduleId: string, at: Date): { at: string; campaignId: string } {
  return { at: at.toISOString(), campaignId: scheduledCampaignId(scheduleId, at) };
}

function scheduleSpecOf(options: ScheduleOptions): ScheduleSpec {
  if ((options.cron === undefined) === (options.every === undefined)) throw new InvalidScheduleError('give either --cron "<expression>" (e.g. "0 9 * * MON") or --every <interval> (e.g. "1h")');
  const timezone = options.timeZone ?? 'UTC';
  if (!isTimeZone(timezone)) throw new InvalidScheduleError(`--time-zone "${timezone}" is not an IANA time zone (like "Asia/Seoul" or "Europe/Berlin")`);
  if (options.overlap !== undefined && !(options.overlap in OVERLAP_POLICIES)) throw new InvalidScheduleError(`--overlap must be one of ${Object.keys(OVERLAP_POLICIES).join(', ')} (got "${options.overlap}")`);
  if (options.cron !== undefined) return { cronExpressions: [options.cron], timezone };
  const everyMs = parseDuration(options.every!);
  if (everyMs === undefined || everyMs < 1_000) throw new InvalidScheduleError(`--every must be an interval of 1s or more, like "1h" or "30m" (got "${options.every}")`);
  return { intervals: [{ every: everyMs }], timezone };
}
