// Small pieces the stack scripts (`npm run chaos`, `npm run bench`) share.

/** An integer flag in [min, max], or `fallback` when absent; anything else is an error naming the flag. */
export function integerFlag(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${flag} must be an integer from ${min} to ${max}, got "${text}"`);
  return n;
}

/** `promise`, or a rejection with `message` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

/** The listener's holds and run length as the environment of a listener process (src/listener.ts reads it). */
export function listenerTimingEnv(timing: { actionableMaxDelayMs: number; batchMaxDelayMs: number; partsMaxDelayMs: number; maxRunMs: number }): NodeJS.ProcessEnv {
  return {
    LISTENER_ACTIONABLE_MAX_DELAY_MS: String(timing.actionableMaxDelayMs),
    LISTENER_BATCH_MAX_DELAY_MS: String(timing.batchMaxDelayMs),
    LISTENER_PARTS_MAX_DELAY_MS: String(timing.partsMaxDelayMs),
    LISTENER_MAX_RUN_MS: String(timing.maxRunMs),
  };
}
