// Every name that crosses the Temporal boundary (workflow types, signals, queries, updates,
// failure types, memo keys, the listener's id) is defined once, in src/contracts/, and producers
// and consumers use the definitions, never a string literal of their own.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as alert from '../src/contracts/alert';
import * as campaign from '../src/contracts/campaign';
import * as chunk from '../src/contracts/chunk';
import * as listener from '../src/contracts/listener';
import { TASK_QUEUES } from '../src/temporal/names';
import { PACKAGE_COMMANDS } from '../scripts/package-commands';
import * as bundle from '../workflows/index';

const ROOT = new URL('..', import.meta.url).pathname;
/** Product and tooling code (tests may spell a wire name out to pin it). */
const CODE_DIRS = ['src', 'workflows', 'activities', 'dev', 'scripts', 'examples'];

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'gen' ? [] : sourceFiles(path);
    return /\.(ts|mjs|js)$/.test(name) ? [path] : [];
  });
}

/** Source text without comments (a comment may name a workflow type for the reader). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').replace(/\s\/\/ .*$/gm, '');
}

const files = CODE_DIRS.flatMap((dir) => sourceFiles(join(ROOT, dir))).map((path) => ({ path: relative(ROOT, path), text: code(readFileSync(path, 'utf8')) }));
const contracts = { campaign, chunk, listener };

/** Signal, query and update definitions exported by the contracts. */
const messages = Object.values(contracts)
  .flatMap((module) => Object.values(module))
  .filter((value): value is { name: string; type: string } => typeof value === 'object' && value !== null && 'name' in value && ['signal', 'query', 'update'].includes((value as { type?: string }).type ?? ''));

const names = {
  workflowTypes: [alert.ALERT_WORKFLOW_TYPE, campaign.CAMPAIGN_WORKFLOW_TYPE, campaign.CAMPAIGN_SCHEDULE_WORKFLOW_TYPE, chunk.CHUNK_WORKFLOW_TYPE, listener.LISTENER_WORKFLOW_TYPE],
  failureTypes: [...Object.values(chunk.SEND_FAILURE_TYPES), chunk.CONFIGURATION_FAULT, ...Object.values(campaign.CAMPAIGN_FAILURE_TYPES)],
  memoKeys: Object.values(campaign.CAMPAIGN_MEMO),
  ids: [listener.LISTENER_WORKFLOW_ID],
  messages: messages.map((message) => message.name),
};

/**
 * Names that are ordinary words elsewhere: query names, and the control updates, which are named
 * after the ControlAction values ('pause', 'resume', 'cancel') their handlers take. The API-call
 * check below covers them.
 */
const GENERIC = new Set(['progress', 'recipients', 'cursor', 'routes', 'control', 'pause', 'resume', 'cancel', 'spec', 'source']);
/** The listener's workflow id and its task queue happen to share a string; the queue is defined in names.ts. */
const taskQueueNames = new Set<string>(Object.values(TASK_QUEUES));
/** So does the listener's command; the package's commands are defined in scripts/package-commands.ts. */
const commandNames = new Set<string>(Object.keys(PACKAGE_COMMANDS));

describe('contracts', () => {
  it('define the workflow types the bundle exports', () => {
    expect(Object.keys(bundle).sort()).toEqual([...names.workflowTypes].sort());
  });

  it('define every message once per workflow, with distinct names within a workflow', () => {
    const perContract = Object.entries(contracts).map(([domain, module]) => {
      const own = Object.values(module).filter((value) => messages.includes(value as never)) as { name: string; type: string }[];
      return [domain, own.map((m) => `${m.type}:${m.name}`)] as const;
    });
    for (const [domain, list] of perContract) expect(new Set(list).size, domain).toBe(list.length);
    // Pinned: renaming one breaks running workflows, the README's Temporal CLI commands and the Web UI steps.
    expect(Object.fromEntries(perContract)).toEqual({
      campaign: ['signal:chunkSent', 'signal:chunkFinished', 'signal:chunkParked', 'signal:chunkUnparked', 'signal:chunkFailed', 'signal:chunkReconciling', 'signal:chunkConsent', 'signal:control', 'update:pause', 'update:resume', 'update:cancel', 'query:progress', 'update:setThrottle', 'query:spec'],
      chunk: ['signal:deliveryBatch', 'signal:deliveryBatches', 'signal:deliveryEvents', 'signal:chunkControl', 'signal:reportFinishBySignal', 'query:recipients', 'query:progress', 'query:source'],
      listener: ['signal:chunkRoute', 'signal:chunkRoutes', 'query:routeTargets', 'query:routes', 'query:cursor'],
    });
  });

  it('are the only place a boundary name is written as a string literal', () => {
    const distinctive = [...names.workflowTypes, ...names.failureTypes, ...names.memoKeys, ...names.ids, ...names.messages].filter((name) => !GENERIC.has(name));
    const misplaced: string[] = [];
    for (const name of new Set(distinctive)) {
      const literal = new RegExp(`['"\`]${name}['"\`]`);
      for (const file of files) {
        if (file.path.startsWith('src/contracts/')) continue;
        if (taskQueueNames.has(name) && file.path === 'src/temporal/names.ts') continue;
        if (commandNames.has(name) && file.path === 'scripts/package-commands.ts') continue;
        if (literal.test(file.text)) misplaced.push(`${file.path}: '${name}'`);
      }
    }
    expect(misplaced).toEqual([]);
  });

  it('are what Temporal calls are made with: no string names passed to signal, query, update or start', () => {
    const byString = [
      /\.(signal|query|executeUpdate|startUpdate|signalWithStart)\(\s*['"`]/,
      /\b(defineSignal|defineQuery|defineUpdate)\b/,
      /\bstartChild(<[^>]*>)?\(\s*['"`]/,
      /\.workflow\.(start|execute|signalWithStart)(<[^>]*>)?\(\s*['"`]/,
    ];
    // A probe of the SDK (dev/<probe>/workflows.ts, e.g. dev/query-split) defines its own names, once, beside its workflow.
    const definesOwn = (path: string) => path.startsWith('src/contracts/') || /^dev\/[^/]+\/workflows\.ts$/.test(path);
    const offenders = files.filter((file) => !definesOwn(file.path) && byString.some((pattern) => pattern.test(file.text))).map((file) => file.path);
    expect(offenders).toEqual([]);
  });
});
