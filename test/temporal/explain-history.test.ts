// explainHistory: the one sentence a chaos run's log gets about a history today's code cannot
// replay. A recorded chunk history (the replay fixtures) replays cleanly; the same history with one
// recorded activity renamed parts from today's code at exactly that task, and the sentence says so.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { describe, expect, it } from 'vitest';
import { dataConverterFromEnv } from '../../src/temporal/data-converter';
import { HistoryReplayer, explainHistory } from '../../src/temporal/divergence';
import { bundleWorkflowsAt } from '../../src/temporal/workflow-code';

const fixture = fileURLToPath(new URL('../workflows/histories/chunk-0.json', import.meta.url));
const workflowId = 'campaign/tpl-39ec922a/chunk/000000';
const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

describe('explainHistory', () => {
  const replayer = new HistoryReplayer(dataConverterFromEnv(), () => bundleWorkflowsAt(workflowsPath));

  it('says a history that replays does', async () => {
    const history = historyFromJSON(JSON.parse(readFileSync(fixture, 'utf8')));
    expect(await explainHistory(replayer, history, workflowId)).toBe(`its ${history.events!.length} events replay cleanly with today's code`);
  }, 120_000);

  it('names the first task today\'s code does not reproduce, its error and the events around it', async () => {
    const json = JSON.parse(readFileSync(fixture, 'utf8')) as { events: Array<{ eventId: string; activityTaskScheduledEventAttributes?: { activityType?: { name: string } } }> };
    // The second send (scheduled by the task that completed at event 16) recorded under another name.
    const scheduled = json.events.find((event) => event.eventId === '18')!;
    expect(scheduled.activityTaskScheduledEventAttributes?.activityType?.name).toBe('createSendRequest');
    scheduled.activityTaskScheduledEventAttributes!.activityType!.name = 'sendSomethingElse';
    const sentence = await explainHistory(replayer, historyFromJSON(json), workflowId);
    expect(sentence).toMatch(/^today's code first parts from it at the workflow task 15-16 \(recorded by [^)]+\): .*Nondeterminism/);
    expect(sentence).toContain('sendSomethingElse');
    expect(sentence).toContain('events around it: 10 WORKFLOW_TASK_STARTED, 11 WORKFLOW_TASK_COMPLETED');
    expect(sentence).toContain('18 ACTIVITY_TASK_SCHEDULED');
  }, 120_000);
});
