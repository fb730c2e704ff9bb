// Reading Temporal failures for people: the reason is usually the innermost cause ("recipient file
// … changed since …"), not the wrapper ("Activity task failed"). PURE: workflow code imports it.

/** Every message from the outermost failure to its innermost cause, duplicates removed. */
export function failureChain(err: unknown): string[] {
  const messages: string[] = [];
  for (let current: unknown = err; current !== undefined && current !== null; current = current instanceof Error ? current.cause : undefined) {
    const message = current instanceof Error ? current.message : String(current);
    if (message !== '' && !messages.includes(message)) messages.push(message);
    if (!(current instanceof Error)) break;
  }
  return messages;
}

/** The innermost cause's message. */
export function innermostMessage(err: unknown): string {
  return failureChain(err).at(-1) ?? String(err);
}

/** Wrappers that say only that something below failed. */
const WRAPPERS = new Set(['Workflow execution failed', 'Activity task failed', 'Child Workflow execution failed']);

/**
 * The reasons a person needs, outermost first: the chain without the bare wrappers ("Workflow
 * execution failed", "Activity task failed"), or the innermost message if nothing else is left.
 */
export function failureReasons(err: unknown): string[] {
  const chain = failureChain(err);
  const meaningful = chain.filter((message) => !WRAPPERS.has(message));
  return meaningful.length > 0 ? meaningful : chain.slice(-1);
}
