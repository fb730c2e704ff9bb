// The workflow bundle the worker loads (workflowsPath): every workflow type, nothing else.
export { campaignWorkflow } from './campaign';
export { chunkWorkflow } from './chunk';
export { listenerWorkflow } from './listener';
