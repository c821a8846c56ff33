// Detecting dead connections: ping each peer every interval; one that has not answered since the
// last ping is cut off (the ws README's "How to detect and close broken connections"). One timer
// serves every peer: it visits a slice of them per tick, so ten thousand peers are not pinged in
// the same instant and cost no timer each.

/** A connection as the heartbeat sees it. */
export interface Pulse {
  /** Set by any frame from the peer (a pong included); cleared by each ping. */
  isAlive: boolean;
  sendPing(): void;
  terminate(): void;
}

const SLICES = 20;

export class Heartbeat {
  readonly #slices: Array<Set<Pulse>> = Array.from({ length: SLICES }, () => new Set());
  readonly #timer: NodeJS.Timeout;
  #next = 0;
  #added = 0;

  constructor(intervalMs: number) {
    this.#timer = setInterval(() => this.#tick(), intervalMs / SLICES).unref();
  }

  /** Starts pinging `pulse`; its first ping comes within one interval. */
  add(pulse: Pulse): void {
    this.#slices[this.#added++ % SLICES]!.add(pulse);
  }

  remove(pulse: Pulse): void {
    for (const slice of this.#slices) if (slice.delete(pulse)) return;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    const slice = this.#slices[this.#next]!;
    this.#next = (this.#next + 1) % SLICES;
    for (const pulse of slice) {
      if (!pulse.isAlive) {
        slice.delete(pulse);
        pulse.terminate();
        continue;
      }
      pulse.isAlive = false;
      pulse.sendPing();
    }
  }
}
