// The client library: what app code imports from the package (`import { CampaignClient } from
// 'ppoppo-campaigns'`) to start, follow and control campaigns. The worker, listener and CLI are the
// package's commands (ppoppo-worker, ppoppo-listener, ppoppo-campaign), not part of this API.
export { AlertFailedError, CampaignClient, CampaignNotFoundError, CampaignStuckError, InvalidSpecError } from './client/campaigns';
export type { AlertReceipt, CampaignClientOptions, CampaignSummary, RepairFinding, RepairReport, StartedCampaign } from './client/campaigns';
export { parseCampaignSpec } from './campaign/spec';
export type { CampaignSpec, FallbackSpec, RecipientSourceSpec, SpecIssue, TemplateSource } from './campaign/spec';
export type { FallbackOutcome, OutcomeCounts, RecipientOutcome } from './campaign/outcomes';
export type { CampaignProgress, CampaignResult, CampaignStatus, ParkReason, PollSummary } from './contracts/campaign';
export type { RecipientRecord, RecipientState } from './contracts/chunk';
export type { RecipientInput, TemplateComponentSpec } from './api/types';
export { connectClient, describeTemporalConfig, temporalConfigFromEnv } from './temporal/config';
export type { TemporalConfig } from './temporal/config';
export { TASK_QUEUES } from './temporal/names';
