// Many calls to Temporal, a bounded number at a time.

/** Runs `each` over `items`, `size` at a time: a group finishes before the next one starts. */
export async function inGroups<T>(items: readonly T[], size: number, each: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
}
