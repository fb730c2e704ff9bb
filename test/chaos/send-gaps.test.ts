// The send-gap figures `npm run chaos` reports after each fault, on made-up send times.
import { describe, expect, it } from 'vitest';
import { longestPauseOutside, sendGapAfter } from '../../dev/chaos/send-gaps';

const sends = [0, 200, 400, 600, 5_600, 5_800, 6_000, 20_000, 20_200];

describe('send gaps', () => {
  it('is the longest pause from the fault on: to the first send after it, and between the sends that follow', () => {
    expect(sendGapAfter(sends, 500)).toBe(5_000); // 600 → 5,600
    expect(sendGapAfter(sends, 5_500)).toBe(200); // resumed 100 ms after the fault, then every 200 ms (20,000 is past the window)
    expect(sendGapAfter(sends, 7_000, 15_000)).toBe(13_000); // 7,000 → 20,000
  });

  it('counts only up to the next fault: pauses after it are that fault\'s', () => {
    expect(sendGapAfter(sends, 500, undefined, 1_000)).toBe(400); // a send at 600, then none until the next fault at 1,000
    expect(sendGapAfter(sends, 500, undefined, 5_700)).toBe(5_000); // 600 → 5,600 ends before the next fault
    expect(sendGapAfter(sends, 6_500, undefined, 7_000)).toBe(500); // no send between the two faults: all of it
  });

  it('is undefined when the campaign was not sending at the fault', () => {
    expect(sendGapAfter(sends, -100)).toBeUndefined(); // before the first send (still planning)
    expect(sendGapAfter(sends, 21_000)).toBeUndefined(); // after the last send
  });

  it('compares with the longest pause away from every fault', () => {
    expect(longestPauseOutside(sends, [20_100])).toBe(14_000); // 6,000 → 20,000 ends before the fault
    expect(longestPauseOutside(sends, [500])).toBe(200); // every pause from 400 to 20,000 touches [500, 10,500]
    expect(longestPauseOutside([], [500])).toBeUndefined();
  });
});
