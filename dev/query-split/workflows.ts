// The workflow of the query-split probe (dev/query-split/probe.ts), not of the product. Its commands
// depend on how many signals the activation that ends its first wait has seen: deterministic for a
// given grouping of events into activations, as every workflow is, and no more.
import { condition, defineQuery, defineSignal, proxyActivities, setHandler, sleep } from '@temporalio/workflow';

export const probeSignal = defineSignal('probe');
export const signalsQuery = defineQuery<number>('signals');

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '1 minute' });

export async function splitProbe(): Promise<number> {
  let signals = 0;
  setHandler(signalsQuery, () => signals);
  setHandler(probeSignal, () => void signals++);
  await condition(() => signals >= 1);
  for (let i = 0; i < signals; i++) void sleep(600_000 + i); // one timer per signal seen here
  await condition(() => signals >= 4);
  void noop(); // a command of another kind: a replay that set more timers above reaches it out of step
  await condition(() => signals >= 100);
  return signals;
}
