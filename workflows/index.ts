// The workflow bundle the worker loads (workflowsPath): every workflow type, nothing else. The
// exported names are the workflow types the contracts name (CAMPAIGN_WORKFLOW_TYPE, ...).
export { campaignWorkflow } from './campaign/workflow';
export { chunkWorkflow } from './chunk/workflow';
export { listenerWorkflow } from './listener/workflow';
export { campaignScheduleWorkflow } from './campaign/schedule';
export { alertWorkflow } from './alert/workflow';
