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
