// The benchmark's idle CPU rate: the median over windows, so one burst while sampling (a process
// settling after its start, a GC) is not charged as idle for a whole campaign.
import { describe, expect, it } from 'vitest';
import { medianRate } from '../../dev/bench/orchestrator';

describe('medianRate', () => {
  it('takes the median of the windows, not their mean', () => {
    // Cumulative CPU seconds at the edges of five 3 s windows: 0.03 s in each, but 0.6 s in the third.
    expect(medianRate([1, 1.03, 1.06, 1.66, 1.69, 1.72], 3_000)).toBeCloseTo(0.01, 6);
  });
  it('averages the two middle windows of an even count, and is 0 without a window', () => {
    expect(medianRate([0, 0.03, 0.09, 0.15, 0.18], 3_000)).toBeCloseTo(0.015, 6);
    expect(medianRate([5], 3_000)).toBe(0);
  });
});
