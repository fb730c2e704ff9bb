// Sets of chunk indexes as sorted [first, last] ranges: compact state for continue-as-new.
// PURE: workflow code imports this module.

export type Ranges = [number, number][];

export function toRanges(indexes: Iterable<number>): Ranges {
  const ranges: Ranges = [];
  for (const index of [...indexes].sort((a, b) => a - b)) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] === index - 1) last[1] = index;
    else if (!last || last[1] < index) ranges.push([index, index]);
  }
  return ranges;
}

export function fromRanges(ranges: Ranges): Set<number> {
  const indexes = new Set<number>();
  for (const [first, last] of ranges) for (let i = first; i <= last; i++) indexes.add(i);
  return indexes;
}
