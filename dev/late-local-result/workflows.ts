// The workflow of the late-local-result probe (dev/late-local-result/probe.ts), not of the product.
// What it does after a local activity depends on the time its result arrives at: deterministic as
// long as live and replay hand the result over in the same workflow task, and no more.
import { condition, defineQuery, defineSignal, proxyLocalActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';

export const goSignal = defineSignal('go');
/** Sent while the query is answered: it arrives after the local activity was asked for. */
export const laterSignal = defineSignal('later');
/** A slow answer (pure computation): the local activity finishes while the query is being answered. */
export const slowQuery = defineQuery<number>('slow');

const { quick } = proxyLocalActivities<{ quick(): Promise<void> }>({ startToCloseTimeout: '1 minute' });

/** What the code after the local activity looks at. */
export type LookAt = 'time' | 'history length' | 'signals';

export async function lateLocalProbe(lookAt: LookAt): Promise<string> {
  let go = false;
  let later = false;
  setHandler(goSignal, () => void (go = true));
  setHandler(laterSignal, () => void (later = true));
  setHandler(slowQuery, () => {
    let x = 0;
    for (let i = 0; i < 300_000_000; i++) x ^= i;
    return x;
  });
  await condition(() => go);
  const seen = () => (lookAt === 'time' ? Date.now() : lookAt === 'history length' ? workflowInfo().historyLength : later);
  const before = seen();
  await quick();
  const changed = seen() !== before;
  if (changed) await sleep(1);
  return changed ? `${lookAt} changed` : `${lookAt} unchanged`;
}
