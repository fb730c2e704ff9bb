// The faults the fault campaign injects, and its seeded schedule. Every fault is real: processes
// are SIGKILLed and started again, the Temporal server restarts on its database, and the
// sandbox's own fault switches (POST /inspect/faults, /inspect/config) misbehave on the wire.
import { setTimeout as sleep } from 'node:timers/promises';
import { CAMPAIGN_WORKFLOW_TYPE } from '../../src/contracts/campaign';
import { ManagedProcess } from '../stack/managed-process';
import type { Random } from './random';
import type { Stack } from '../stack/start-stack';

export const FAULT_KINDS = [
  'worker-kill',
  'listener-kill',
  'sandbox-restart',
  'temporal-restart',
  'ambiguous-send',
  'unavailable-burst',
  'resource-exhausted-storm',
  'stream-cut',
  'consent-race',
  'bad-credentials',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

export interface PlannedFault {
  kind: FaultKind;
  /** When to inject it, from the start of the campaign. */
  atMs: number;
}

export interface InjectedFault extends PlannedFault {
  detail: string;
  /** How long the injection (kill + restart, or the storm) took. */
  recoveryMs: number;
  /** The sandbox's send counters just before it was restarted (they live in memory). */
  sandboxBeforeRestart?: { rateLimitRefusals: number; maxCallsInAnySecond: number };
}

/**
 * `count` faults at sorted random moments in [0.5 s, horizon]. With everyKindOnce, each kind
 * appears once (in seeded order) before any repeats, so a short run still covers every kind.
 */
export function planFaults(random: Random, options: { count: number; kinds: readonly FaultKind[]; horizonMs: number; everyKindOnce?: boolean }): PlannedFault[] {
  const times = Array.from({ length: options.count }, () => 500 + random.next() * Math.max(0, options.horizonMs - 500)).sort((a, b) => a - b);
  const kinds: FaultKind[] = [];
  if (options.everyKindOnce) {
    const bag = [...options.kinds];
    while (bag.length > 0 && kinds.length < options.count) kinds.push(bag.splice(random.int(0, bag.length - 1), 1)[0]!);
  }
  while (kinds.length < options.count) kinds.push(random.pick(options.kinds));
  return times.map((atMs, i) => ({ kind: kinds[i]!, atMs: Math.round(atMs) }));
}

/** The sandbox's configured consent timing, which the consent race bends and restores. */
export interface ConsentTiming {
  consentWindowMs: number;
  /** A fixed delay, or null: the sandbox's spread over the window (a first campaign). */
  consentDecisionDelayMs: number | null;
}

export async function injectFault(stack: Stack, planned: PlannedFault, random: Random, consent: ConsentTiming): Promise<InjectedFault> {
  const started = Date.now();
  let detail: string;
  let sandboxBeforeRestart: InjectedFault['sandboxBeforeRestart'];
  switch (planned.kind) {
    case 'worker-kill': {
      // The worker running the campaign workflow when there is one: the worst case for failover.
      const picked = random.pick(stack.workers);
      const campaignWorker = await workerRunningCampaign(stack);
      const worker = campaignWorker ?? picked;
      const downMs = random.int(0, 2_000);
      await worker.kill('SIGKILL');
      await sleep(downMs);
      await worker.start();
      detail = `SIGKILL ${worker.spec.name}${campaignWorker ? ' (running the campaign workflow)' : ''}, down ${downMs} ms, restarted`;
      break;
    }
    case 'listener-kill': {
      const listener = random.pick(stack.listeners);
      const downMs = random.int(0, 2_000);
      await listener.kill('SIGKILL');
      await sleep(downMs);
      await listener.start();
      detail = `SIGKILL ${listener.spec.name}, down ${downMs} ms, restarted`;
      break;
    }
    case 'sandbox-restart': {
      const stats = await stack.inspector.stats();
      sandboxBeforeRestart = { rateLimitRefusals: stats.rateLimitRefusals, maxCallsInAnySecond: stats.createSendRequest.maxCallsInAnySecond };
      const downMs = random.int(0, 2_000);
      await stack.sandbox.kill('SIGKILL');
      await sleep(downMs);
      await stack.sandbox.start();
      detail = `SIGKILL sandbox, down ${downMs} ms, restarted on the same SQLite file and ports`;
      break;
    }
    case 'temporal-restart': {
      await stack.temporal.restart();
      detail = `Temporal ${stack.temporal.postgres ? 'server stopped and started on the same PostgreSQL databases' : 'dev server stopped and started on the same SQLite file'} and port`;
      break;
    }
    case 'ambiguous-send': {
      const n = random.int(1, 3);
      await stack.inspector.faults({ ambiguousNext: n });
      detail = `next ${n} CreateSendRequest accepted but answered INTERNAL`;
      break;
    }
    case 'unavailable-burst': {
      const n = random.int(3, 10);
      await stack.inspector.faults({ unavailableNext: n });
      detail = `next ${n} CreateSendRequest refused with UNAVAILABLE`;
      break;
    }
    case 'resource-exhausted-storm': {
      const n = random.int(5, 20);
      const retryAfterMs = random.int(300, 3_000);
      await stack.inspector.faults({ resourceExhaustedNext: n, retryAfterMs });
      detail = `next ${n} CreateSendRequest refused with RESOURCE_EXHAUSTED, retry-after-ms ${retryAfterMs}`;
      break;
    }
    case 'stream-cut': {
      await stack.inspector.faults({ cutStreamsNow: true });
      detail = 'every open event stream cut';
      break;
    }
    case 'bad-credentials': {
      // A worker restarted with a wrong client secret for a while: its sends are refused at the
      // token endpoint, the campaign parks (nobody's outcome changes), then the right secret again.
      const worker = random.pick(stack.workers);
      const holdMs = random.int(3_000, 8_000);
      const { spec } = worker;
      const misconfigured = new ManagedProcess({
        ...spec,
        name: `${spec.name}-bad-secret`,
        env: { ...spec.env, PAS_PCS_CLIENT_SECRET: 'chaos-wrong-client-secret' },
        args: spec.args?.map((arg) => arg.replace(/\.sdk\.log$/, '-bad-secret.sdk.log')),
        logFile: spec.logFile.replace(/\.log$/, '-bad-secret.log'),
      });
      await worker.kill('SIGKILL');
      await misconfigured.start();
      await sleep(holdMs);
      await misconfigured.kill('SIGKILL');
      await worker.start();
      detail = `${spec.name} restarted with a wrong PAS_PCS_CLIENT_SECRET for ${holdMs} ms, then with the right one`;
      break;
    }
    case 'consent-race': {
      // For a few seconds, consent decisions land just before the sandbox's window ends.
      const delay = consent.consentWindowMs - random.int(50, 400);
      const holdMs = random.int(3_000, 6_000);
      await stack.inspector.config({ consentDecisionDelayMs: delay });
      await sleep(holdMs);
      await stack.inspector.config({ consentDecisionDelayMs: consent.consentDecisionDelayMs });
      detail = `consent decisions ${delay} ms after acceptance (window ${consent.consentWindowMs} ms) for ${holdMs} ms`;
      break;
    }
  }
  return { ...planned, detail, recoveryMs: Date.now() - started, ...(sandboxBeforeRestart ? { sandboxBeforeRestart } : {}) };
}

/** The worker process that ran the open campaign workflow's latest workflow task (identities are pid@host). */
async function workerRunningCampaign(stack: Stack): Promise<Stack['workers'][number] | undefined> {
  try {
    for await (const campaign of stack.client.workflow.list({ query: `WorkflowType = "${CAMPAIGN_WORKFLOW_TYPE}" AND ExecutionStatus = "Running"` })) {
      const events = (await stack.client.workflow.getHandle(campaign.workflowId, campaign.runId).fetchHistory()).events ?? [];
      const identity = events.findLast((event) => event.workflowTaskStartedEventAttributes)?.workflowTaskStartedEventAttributes?.identity ?? '';
      const pid = Number(identity.split('@')[0]);
      return stack.workers.find((worker) => worker.pid === pid && worker.running);
    }
  } catch {
    // Temporal restarting: fall back to a random worker.
  }
  return undefined;
}
