// CampaignClient: the app-code API for campaigns (start, watch, control, read outcomes), on top of a
// @temporalio/client Client. The CLI (src/cli) is a thin shell over this class.
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { campaignSettings, parseCampaignSpec } from '../campaign/spec';
import type { ReadSourceSpec } from '../campaign/recipient-source';
import type { CampaignSpec, SpecIssue } from '../campaign/spec';
import { CAMPAIGN_MEMO, CAMPAIGN_WORKFLOW_TYPE, campaignIdOf, campaignWorkflowId, cancelUpdate, pauseUpdate, progressQuery, resumeUpdate } from '../contracts/campaign';
import type { CampaignProgress, CampaignResult } from '../contracts/campaign';
import { chunkRecipientsQuery, chunkWorkflowId } from '../contracts/chunk';
import type { RecipientRecord } from '../contracts/chunk';
import { CAMPAIGN_ID_KEY, CAMPAIGN_STATUS_KEY, TASK_QUEUES } from '../temporal/names';
import type { campaignWorkflow } from '../../workflows/campaign/workflow';

export interface CampaignClientOptions {
  /** Task queue of the campaign workflows (default TASK_QUEUES.campaigns). */
  taskQueue?: string;
  /** Non-default send queue, passed to the workflow in its memo (tests, isolated workers). */
  sendTaskQueue?: string;
}

export interface StartedCampaign {
  campaignId: string;
  workflowId: string;
  runId: string;
  /** The campaign had already finished: nothing was started (a finished campaign never reruns). */
  alreadyFinished?: boolean;
}

export interface CampaignSummary {
  campaignId: string;
  workflowId: string;
  runId: string;
  /** The campaign's own status (search attribute), or the workflow's if not yet set. */
  status: string;
  workflowStatus: string;
  startTime: string;
  closeTime?: string;
}

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

export class CampaignClient {
  readonly #client: Client;
  readonly #options: CampaignClientOptions;

  constructor(client: Client, options: CampaignClientOptions = {}) {
    this.#client = client;
    this.#options = options;
  }

  /**
   * Starts the campaign, or attaches to the running one with the same campaignId (the workflow id
   * is derived from it, and a second start uses the existing run). A completed campaign is not run
   * again: its last run is returned with `alreadyFinished`. One that was terminated, failed or timed
   * out starts again and takes over what its chunks already did: nobody is sent anything twice.
   */
  async startCampaign(input: unknown): Promise<StartedCampaign> {
    const { spec, issues } = parseCampaignSpec(input);
    if (!spec) throw new InvalidSpecError(issues);
    const workflowId = campaignWorkflowId(spec.campaignId);
    try {
      const handle = await this.#client.workflow.start<typeof campaignWorkflow>(CAMPAIGN_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.#options.taskQueue ?? TASK_QUEUES.campaigns,
        args: [spec],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        memo: this.#options.sendTaskQueue ? { [CAMPAIGN_MEMO.sendTaskQueue]: this.#options.sendTaskQueue } : undefined,
        ...campaignSummary(spec),
      });
      return { campaignId: spec.campaignId, workflowId, runId: handle.firstExecutionRunId };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const info = await this.#client.workflow.getHandle(workflowId).describe();
      return { campaignId: spec.campaignId, workflowId, runId: info.runId, alreadyFinished: true };
    }
  }

  getProgress(campaignId: string): Promise<CampaignProgress> {
    return this.#call(campaignId, (handle) => handle.query(progressQuery));
  }

  pause(campaignId: string): Promise<CampaignProgress> {
    return this.#call(campaignId, (handle) => handle.executeUpdate(pauseUpdate));
  }

  resume(campaignId: string): Promise<CampaignProgress> {
    return this.#call(campaignId, (handle) => handle.executeUpdate(resumeUpdate));
  }

  cancel(campaignId: string): Promise<CampaignProgress> {
    return this.#call(campaignId, (handle) => handle.executeUpdate(cancelUpdate));
  }

  /** Waits for the campaign to end (follows continue-as-new). */
  result(campaignId: string): Promise<CampaignResult> {
    return this.#call(campaignId, (handle) => handle.result() as Promise<CampaignResult>);
  }

  /** Whether the campaign workflow has closed (completed, cancelled, failed, terminated...). */
  async isClosed(campaignId: string): Promise<boolean> {
    const info = await this.#call(campaignId, (handle) => handle.describe());
    return info.status.name !== 'RUNNING';
  }

  /** Every recipient of the campaign, chunk by chunk (chunks not started yet have none). */
  async *recipients(campaignId: string): AsyncGenerator<RecipientRecord> {
    const progress = await this.getProgress(campaignId);
    for (let index = 0; index < progress.chunksTotal; index++) {
      const handle = this.#client.workflow.getHandle(chunkWorkflowId(campaignId, index));
      let records: RecipientRecord[];
      try {
        records = await handle.query(chunkRecipientsQuery);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) continue; // not started yet
        throw err;
      }
      yield* records;
    }
  }

  async recipient(campaignId: string, ppnum: string): Promise<RecipientRecord | undefined> {
    for await (const record of this.recipients(campaignId)) if (record.ppnum === ppnum) return record;
    return undefined;
  }

  /** Campaigns on the server, newest first (visibility is eventually consistent: a new one may lag). */
  async list(query?: string): Promise<CampaignSummary[]> {
    const campaigns: CampaignSummary[] = [];
    const filter = `WorkflowType = "${CAMPAIGN_WORKFLOW_TYPE}"${query ? ` AND (${query})` : ''}`;
    for await (const info of this.#client.workflow.list({ query: filter })) {
      const attributes = info.typedSearchAttributes;
      campaigns.push({
        campaignId: attributes.get(CAMPAIGN_ID_KEY) ?? campaignIdOf(info.workflowId),
        workflowId: info.workflowId,
        runId: info.runId,
        status: attributes.get(CAMPAIGN_STATUS_KEY) ?? info.status.name.toLowerCase(),
        workflowStatus: info.status.name,
        startTime: info.startTime.toISOString(),
        closeTime: info.closeTime?.toISOString(),
      });
    }
    return campaigns;
  }

  async #call<T>(campaignId: string, action: (handle: WorkflowHandle) => Promise<T>): Promise<T> {
    try {
      return await action(this.#client.workflow.getHandle(campaignWorkflowId(campaignId)));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new CampaignNotFoundError(campaignId);
      throw err;
    }
  }
}

/**
 * The Web UI's Summary panel for a campaign: id, template, where the recipients come from, and
 * the settings that shape the run. Counts and names only, never a recipient's data.
 */
export function campaignSummary(spec: CampaignSpec): { staticSummary: string; staticDetails: string } {
  const template = 'templateId' in spec.template ? `template ${spec.template.templateId}` : `template "${spec.template.name}"`;
  const recipients = 'inline' in spec.recipients ? `${spec.recipients.inline.length} inline recipients` : `recipients from ${sourceKind(spec.recipients)}`;
  const settings = campaignSettings(spec);
  const fallback = spec.fallback ? `fallback by ${spec.fallback.channel.type} on ${spec.fallback.on.join(', ')}` : 'no fallback';
  return {
    staticSummary: `campaign ${spec.campaignId} · ${template} · ${recipients}`,
    staticDetails: [`consent window ${spec.consentWindow ?? '24h'}`, `chunks of ${settings.chunkSize}, ${settings.chunksInFlight} in flight`, fallback].join(' · '),
  };
}

/** What kind of source, never where: a path, URL or table name is the operator's business. */
function sourceKind(source: ReadSourceSpec): string {
  if ('postgres' in source) return 'PostgreSQL';
  return `a ${source.format ?? 'csv'} ${'url' in source ? 'URL' : 'file'}`;
}
