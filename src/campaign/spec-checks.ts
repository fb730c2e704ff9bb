// Small checks the spec's parts share (the spec itself, its recipient source). PURE: workflow code
// imports this module.

/** Reports a problem in a spec at its JSON path (e.g. 'recipients.postgres.columns[1]'). */
export type Report = (path: string, message: string) => void;

/** Campaign ids are 1-200 characters, so a follow-up's id (`<id>.retry-failed`) fits too. */
export const CAMPAIGN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
export const CAMPAIGN_ID_RULE = 'campaignId must be 1-200 characters: letters, digits, ".", "_" or "-", starting with a letter or digit';

/** Reports every key of `object` not in `known`, by its path, naming the close match when there is one. */
export function unknownFields(object: Record<string, unknown>, known: readonly string[], path: string, issue: Report): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue;
    const close = known.find((name) => name.toLowerCase() === key.toLowerCase());
    const hint = close ? `did you mean "${close}"?` : `expected ${known.length === 1 ? `"${known[0]}"` : `one of ${known.join(', ')}`}`;
    issue(path ? `${path}.${key}` : key, `unknown field "${key}"; ${hint}`);
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
