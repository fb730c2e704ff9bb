// Spacing of this worker's CreateSendRequest calls: at most one per 1/rate seconds. The fleet-wide
// rate is the send queue's (Temporal's task-queue limiter); this second guard keeps what one
// worker was handed at once (the limiter refilled by a server restart, a burst of retries) from
// reaching the API in the same second. Calls wait in order, except that an alert's call (`ahead`)
// takes the next turn before every waiting bulk send, as its task-queue priority did on the server.
export class SendPacer {
  private nextAt = 0;
  private readonly waiting: { ahead: boolean; go: () => void }[] = [];
  private pumping = false;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    if (!(perSecond > 0)) throw new RangeError(`a send pacer needs a positive rate, got ${perSecond}`);
  }

  /** Resolves when this call may go out, each 1/rate after the previous; `ahead`: before the waiting calls that are not. */
  slot(options: { ahead?: boolean } = {}): Promise<void> {
    return new Promise((go) => {
      const ahead = options.ahead === true;
      const firstBulk = ahead ? this.waiting.findIndex((waiter) => !waiter.ahead) : -1;
      if (firstBulk === -1) this.waiting.push({ ahead, go });
      else this.waiting.splice(firstBulk, 0, { ahead, go });
      void this.pump();
    });
  }

  /** Hands out turns while anyone waits; the turn goes to whoever is first when it comes. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.waiting.length > 0) {
        const now = this.now();
        const at = Math.max(now, this.nextAt);
        if (at > now) await this.sleep(at - now);
        this.nextAt = at + 1000 / this.perSecond;
        this.waiting.shift()!.go();
      }
    } finally {
      this.pumping = false;
    }
  }
}
