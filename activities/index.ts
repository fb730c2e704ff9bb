// Every activity the campaign and chunk workflows use, built from their dependencies.
// Workflows type their proxies with `import type { createActivities }` and never import this at runtime.
import type { Client } from '@temporalio/client';
import type { PpoppoClient } from '../src/api/client';
import { createAlertActivities } from './alert';
import { createChunkStatusActivities } from './chunk-status';
import { createFallbackActivities } from './fallback/index';
import { chunkReader, createRecipientActivities } from './recipients';
import { createSendActivities } from './send';
import type { SendPacer } from './send-pacer';

export interface ActivityDeps {
  client: PpoppoClient;
  temporalClient?: Client;
  /** The listener workflow the send path tells about accepted requests (default LISTENER_WORKFLOW_ID). */
  listenerWorkflowId?: string;
  /** Spaces this worker's CreateSendRequest calls (src/worker.ts gives one at the send queue's rate). */
  pacer?: SendPacer;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createRecipientActivities(deps),
    ...createSendActivities(deps),
    ...createAlertActivities(deps),
    ...createFallbackActivities({ readRecipients: chunkReader(deps.temporalClient).readChunkRecipients }),
    ...createChunkStatusActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
