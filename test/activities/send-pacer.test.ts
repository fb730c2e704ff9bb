// The per-worker spacing of CreateSendRequest calls, on a fake clock.
import { describe, expect, it } from 'vitest';
import { SendPacer } from '../../activities/send-pacer';

function fakeClock() {
  let now = 1_000_000;
  const slept: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
    },
    advance: (ms: number) => (now += ms),
    slept,
  };
}

describe('SendPacer', () => {
  it('lets the first call go at once and spaces the next ones 1/rate apart, in order', async () => {
    const clock = fakeClock();
    const pacer = new SendPacer(2, clock.now, clock.sleep);
    const started: number[] = [];
    for (let i = 0; i < 4; i++) {
      await pacer.slot();
      started.push(clock.now());
    }
    expect(started.map((at) => at - started[0]!)).toEqual([0, 500, 1000, 1500]);
  });

  it('never lets more than rate + 1 calls start in any second, however many arrive at once', async () => {
    // Five calls handed over together (a refilled limiter after a server restart): the clock stands
    // still while they ask, and each starts when its sleep would end.
    const now = 1_000_000;
    const starts: number[] = [];
    let current = now;
    const pacer = new SendPacer(1.6, () => now, async (ms) => void (current = now + ms));
    for (let i = 0; i < 5; i++) {
      current = now;
      await pacer.slot();
      starts.push(current);
    }
    const inWindow = (from: number) => starts.filter((at) => at >= from && at < from + 1000).length;
    expect(starts.map((at) => at - now)).toEqual([0, 625, 1250, 1875, 2500]);
    expect(Math.max(...starts.map(inWindow))).toBeLessThanOrEqual(2);
  });

  it('does not save up turns while idle: after a pause the next call goes at once, the one after waits', async () => {
    const clock = fakeClock();
    const pacer = new SendPacer(2, clock.now, clock.sleep);
    await pacer.slot();
    clock.advance(10_000);
    const before = clock.slept.length;
    await pacer.slot();
    expect(clock.slept.length).toBe(before);
    await pacer.slot();
    expect(clock.slept.at(-1)).toBe(500);
  });

  it('gives the next turn to a call marked ahead (an alert), before the calls already waiting', async () => {
    const clock = fakeClock();
    const pacer = new SendPacer(2, clock.now, clock.sleep);
    const order: string[] = [];
    const take = (name: string, ahead = false) => pacer.slot({ ahead }).then(() => void order.push(name));
    // Three bulk sends handed over at once, then an alert, then a second alert: the alerts go
    // after the send already on its way, before the bulk sends still waiting, in their own order.
    const all = [take('bulk1'), take('bulk2'), take('bulk3'), take('alert1', true), take('alert2', true)];
    await Promise.all(all);
    expect(order).toEqual(['bulk1', 'alert1', 'alert2', 'bulk2', 'bulk3']);
    expect(clock.slept).toEqual([500, 500, 500, 500]); // still one turn per 1/rate
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new SendPacer(0)).toThrow(/positive rate/);
  });
});
