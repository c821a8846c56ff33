// Caps on open connections, in total and per client address, checked before an upgrade.

/** Counts open connections; `admit` says whether one more may open, `release` when it closes. */
export class ConnectionCaps {
  readonly #maxTotal: number;
  readonly #maxPerIp: number;
  readonly #perIp = new Map<string, number>();
  #total = 0;

  constructor(maxTotal: number, maxPerIp: number) {
    this.#maxTotal = maxTotal;
    this.#maxPerIp = maxPerIp;
  }

  /** Reserves a slot for `ip` and returns true, or returns false when a cap is reached. */
  admit(ip: string): boolean {
    const count = this.#perIp.get(ip) ?? 0;
    if (this.#total >= this.#maxTotal || count >= this.#maxPerIp) return false;
    this.#perIp.set(ip, count + 1);
    this.#total++;
    return true;
  }

  release(ip: string): void {
    const count = this.#perIp.get(ip);
    if (count === undefined) return;
    if (count <= 1) this.#perIp.delete(ip);
    else this.#perIp.set(ip, count - 1);
    this.#total--;
  }

  get total(): number {
    return this.#total;
  }
}
