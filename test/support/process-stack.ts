// A whole stack as real processes (Temporal dev server, sandbox, worker, listener) for one test
// file, started before its tests and stopped after. Its sandbox delivers every message: any other
// outcome would be ours.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/start-stack';

export interface ProcessStack {
  /** The stack's directory (processes' logs and databases; recipient files may go here). */
  readonly dir: string;
  /** The running stack (from the file's first test on). */
  readonly stack: Stack;
}

export function useDeliveringStack(name: string): ProcessStack {
  const dir = mkdtempSync(join(tmpdir(), `ppoppo-${name}-`));
  let stack: Stack | undefined;
  beforeAll(async () => {
    stack = await startStack({ dir, sandboxFlags: { 'outcome-mix': '100/0/0/0/0', 'delivery-delay': '50ms' }, env: { RECONCILE_SETTLE_MS: '1000', LISTENER_MAX_RUN_MS: '5000' } });
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    get stack(): Stack {
      if (!stack) throw new Error(`the ${name} stack is not running`);
      return stack;
    },
  };
}
