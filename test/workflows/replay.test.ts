// Replays recorded histories of a finished campaign and its chunks against today's workflow code:
// a change that breaks determinism (reordered commands, a removed timer or activity) fails here
// before it can break running campaigns. Refresh the fixtures with `npm run record-histories`
// after an intended, compatible change (or one guarded by `patched()`).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { quietTemporalLogs } from '../support/quiet-logs';

const dir = fileURLToPath(new URL('./histories/', import.meta.url));
/** Each fixture with the workflow id it ran under (the campaign workflow checks its own id). */
const index: { file: string; workflowId: string }[] = JSON.parse(readFileSync(dir + 'index.json', 'utf8'));
const files = readdirSync(dir).filter((name) => name.endsWith('.json') && name !== 'index.json');

describe('replay of recorded histories', () => {
  it('has fixtures for the campaign and its chunks', () => {
    expect(files).toEqual(expect.arrayContaining(['campaign.json', 'chunk-0.json']));
    expect(index.map((entry) => entry.file).sort()).toEqual([...files].sort());
  });

  it('replays every recorded history without a nondeterminism error', async () => {
    quietTemporalLogs();
    const histories = index.map(({ file, workflowId }) => ({ workflowId, history: historyFromJSON(JSON.parse(readFileSync(dir + file, 'utf8'))) }));
    const results = Worker.runReplayHistories(
      { workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)) },
      histories,
    );
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of results) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(index.length);
  });
});
