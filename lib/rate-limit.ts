// A token bucket per connection: `burst` events at once, refilled at `perSecond`.

/** Decides whether an event may pass now; pure apart from the injected clock. */
export class TokenBucket {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  constructor(burst: number, perSecond: number, now: () => number) {
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#now = now;
    this.#tokens = burst;
    this.#updatedAt = now();
  }

  /** Takes a token and returns 0, or returns how many ms until the next token without taking one. */
  take(): number {
    const wait = this.wait();
    if (wait === 0) this.#tokens -= 1;
    return wait;
  }

  /** How many ms until a token is there (0: now), taking none. */
  wait(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#updatedAt) * this.#perMs);
    this.#updatedAt = now;
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMs);
  }
}
