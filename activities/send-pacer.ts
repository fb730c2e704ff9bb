// Spacing of this worker's CreateSendRequest calls: at most one per 1/rate seconds. The fleet-wide
// rate is the send queue's (Temporal's task-queue limiter); this second guard keeps what one
// worker was handed at once (the limiter refilled by a server restart, a burst of retries) from
// reaching the API in the same second.
export class SendPacer {
  private nextAt = 0;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    if (!(perSecond > 0)) throw new RangeError(`a send pacer needs a positive rate, got ${perSecond}`);
  }

  /** Resolves when this call may go out; calls are served in order, each 1/rate after the previous. */
  async slot(): Promise<void> {
    const now = this.now();
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + 1000 / this.perSecond;
    if (at > now) await this.sleep(at - now);
  }
}
