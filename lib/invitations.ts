// Invitations to private rooms: `<room>.<expiry>.<MAC>`, the expiry in base 36 ms since the epoch and
// the MAC an HMAC-SHA256 of both under the secret every process of the chat shares (Engine.secret).
// Nothing is stored: a code proves itself until it expires. Pure: the secret and the clock are given.

import { createHmac } from 'node:crypto';
import { isSameSecret } from './auth.ts';

/** What a code is: good until `expiresAt` (ms since the epoch), or why not. */
export type InvitationCheck = { ok: true; expiresAt: number } | { ok: false; isExpired: boolean };

const CODE = /^([a-z0-9-]{1,32})\.([0-9a-z]{1,11})\.([\w-]{43})$/;

export class Invitations {
  readonly #secret: string;
  readonly #now: () => number;

  constructor(secret: string, now: () => number) {
    this.#secret = secret;
    this.#now = now;
  }

  /** A code for `room` that admits until `ttlMs` from now. */
  make(room: string, ttlMs: number): { code: string; expiresAt: number } {
    const expiresAt = this.#now() + ttlMs;
    const expiry = expiresAt.toString(36);
    return { code: `${room}.${expiry}.${this.#mac(room, expiry)}`, expiresAt };
  }

  /**
   * Whether `code` admits to `room` now. Only a code this chat signed can be expired: a malformed
   * one, a forged one and another room's are simply not valid.
   */
  check(room: string, code: string): InvitationCheck {
    const [, codeRoom = '', expiry = '', mac = ''] = CODE.exec(code) ?? [];
    // The MAC is compared even for a code of the wrong shape, so its time says nothing about why.
    const isSigned = isSameSecret(mac, this.#mac(codeRoom, expiry));
    if (!isSigned || codeRoom !== room) return { ok: false, isExpired: false };
    const expiresAt = parseInt(expiry, 36);
    return expiresAt > this.#now() ? { ok: true, expiresAt } : { ok: false, isExpired: true };
  }

  #mac(room: string, expiry: string): string {
    return createHmac('sha256', this.#secret).update(`plainchat invite\n${room}\n${expiry}`).digest('base64url');
  }
}
