// Private rooms: who may enter one (its members, by identity; a JWT whose `rooms` claim names it; a
// moderator), who comes in with an invitation (see invitations.ts), and what the room lists show.
// A moderator makes a room private (moderation.ts); the flag and the members are rules the engine
// keeps and every process obeys (rules.ts). Checked at the upgrade, at a first-frame sign-in and
// at each /join.

import type { Admission } from './admission.ts';
import type { Identity } from './auth.ts';
import type { Engine, RuleEdit } from './engine.ts';
import type { Hub } from './hub.ts';
import { type ProtocolError, REFUSE, type Refusal } from './errors.ts';
import type { Invitations } from './invitations.ts';
import type { Invitation, ListedRoom } from './protocol.ts';
import type { RuleBook, RuleChange, RuleKey } from './rules.ts';

export interface PrivateRoomsContext {
  rules: RuleBook;
  engine: Engine;
  invitations: Invitations;
  admission: Admission;
  hub: Hub;
  /** --invite-ttl-ms, --max-invite-ttl-ms, --max-room-members. */
  limits: { inviteTtlMs: number; maxInviteTtlMs: number; maxRoomMembers: number };
  log: (message: string) => void;
}

/** Who asks to come in, as far as it is known: the keys it brings (see upgradeKeys) and who it signed in as. */
export interface Comer {
  keys: readonly RuleKey[];
  identity: Identity | undefined;
}

/**
 * The keys that make a member: who a person is, not where they come from. A JWT's `sub` where
 * there is one (its session token is made from it), else the session tokens; never an address.
 */
export function memberKeys(keys: readonly RuleKey[]): RuleKey[] {
  const subs = keys.filter((key) => key.startsWith('sub:'));
  return subs.length > 0 ? subs : keys.filter((key) => key.startsWith('token:'));
}

/** The rules that make `keys` (their member keys) members of `room`. */
export function memberRules(room: string, keys: readonly RuleKey[]): Array<{ set: { kind: 'member'; room: string; key: RuleKey } }> {
  return [...new Set(memberKeys(keys))].map((key) => ({ set: { kind: 'member', room, key } }));
}

/** A refusal with "this room" named. */
const naming = <R extends Refusal>(refusal: R, room: string): R => ({ ...refusal, message: refusal.message.replace('this room', `#${room}`) });

export class PrivateRooms {
  readonly #context: PrivateRoomsContext;

  constructor(context: PrivateRoomsContext) {
    this.#context = context;
  }

  /** Whether `comer` may enter `room` without an invitation: it is public, or they are a member, a moderator, or named by their JWT's `rooms`. */
  isAdmitted(room: string, { keys, identity }: Comer): boolean {
    const { rules } = this.#context;
    return !rules.isPrivate(room) || identity?.isModerator === true || identity?.rooms?.includes(room) === true || rules.isMember(room, keys);
  }

  /**
   * Why an upgrade into `room` is refused, before it: a private room, to one who is not admitted
   * and brings no good `invite` (expired, not valid, the room full of members, or the address out
   * of guesses; a wrong code spends one). One still to sign in (`identity` undefined) is checked at
   * its sign-in, but its invitation here. `invited` says the invitation admitted it.
   */
  upgradeRefusal(room: string, comer: Comer, invite: string | undefined, address: string): { refusal: Refusal; retryAfter?: number } | { invited: boolean } {
    const { admission, invitations, rules, limits } = this.#context;
    const isPending = comer.identity === undefined;
    if (!rules.isPrivate(room) || (!isPending && this.isAdmitted(room, comer))) return { invited: false };
    if (invite === undefined) return isPending ? { invited: false } : { refusal: naming(REFUSE.privateRoom, room) };
    const wait = admission.guessWait(address);
    if (wait > 0) return { refusal: REFUSE.invitationGuesses, retryAfter: Math.ceil(wait / 1000) };
    const check = invitations.check(room, invite);
    if (!check.ok) {
      if (check.isExpired) return { refusal: { ...REFUSE.invitation, message: `the invitation has expired; ask a member of #${room} for a new one` } };
      admission.takeGuess(address);
      return { refusal: { ...REFUSE.invitation, message: `the invitation is not valid for #${room} (mistyped, cut short, or made for another room); ask a member for a new one` } };
    }
    if (rules.memberCount(room) >= limits.maxRoomMembers) {
      return { refusal: { ...REFUSE.roomMembersFull, message: naming(REFUSE.roomMembersFull, room).message.replace('--max-room-members', `--max-room-members ${limits.maxRoomMembers}`) } };
    }
    return { invited: true };
  }

  /** Why `/join` into `room` is refused (private, and not admitted), or undefined. */
  joinRefusal(room: string, comer: Comer): ProtocolError | undefined {
    if (this.isAdmitted(room, comer)) return undefined;
    return { code: 'room-refused', message: naming(REFUSE.privateRoom, room).message };
  }

  /** Makes one who came in with an invitation a member of `room`, here at once and then everywhere. */
  admit(room: string, keys: readonly RuleKey[]): void {
    this.#keep(room, memberRules(room, keys));
  }

  /** The room was made private (heard on every process): this process's connections in it become members. */
  admitPresent(room: string): void {
    this.#keep(room, [...this.#context.hub.peersIn(room)].flatMap((peer) => memberRules(room, peer.ruleKeys)));
  }

  #keep(room: string, changes: RuleChange[]): void {
    const { rules, engine, log } = this.#context;
    if (changes.length === 0) return;
    rules.apply(changes);
    engine.changeRules(changes as RuleEdit[]).catch((err: unknown) => log(`the membership of #${room} could not be kept: ${String(err)}`));
  }

  /**
   * The answer to `invite` from someone in `room`: a code for `seconds` (null: --invite-ttl-ms) and
   * the page's link with it, under `origin`; a public room's plain link; or why not.
   */
  invite(room: string, seconds: number | null, origin: string): Invitation | ProtocolError {
    const { rules, invitations, limits } = this.#context;
    const ttlMs = seconds === null ? limits.inviteTtlMs : seconds * 1000;
    if (ttlMs > limits.maxInviteTtlMs) return { code: 'bad-envelope', message: `an invitation lasts at most ${Math.floor(limits.maxInviteTtlMs / 1000)} s here (--max-invite-ttl-ms); ask for less` };
    if (!rules.isPrivate(room)) return { room, code: null, expiresAt: null, url: `${origin}/#${room}` };
    const { code, expiresAt } = invitations.make(room, ttlMs);
    return { room, code, expiresAt, url: `${origin}/#${room}&invite=${code}` };
  }

  /** The rooms `GET /rooms` shows: the public ones. */
  publicOnly(rooms: readonly ListedRoom[]): ListedRoom[] {
    return rooms.filter(({ room }) => !this.#context.rules.isPrivate(room));
  }

  /** The rooms `list` shows to `comer`: the public ones, and the private ones it may enter, marked (`keysIn`: its keys in each). */
  listedFor(rooms: readonly ListedRoom[], identity: Identity | undefined, keysIn: (room: string) => RuleKey[]): ListedRoom[] {
    const { rules } = this.#context;
    return rooms.flatMap((listed) => {
      if (!rules.isPrivate(listed.room)) return [listed];
      return this.isAdmitted(listed.room, { keys: keysIn(listed.room), identity }) ? [{ ...listed, private: true as const }] : [];
    });
  }
}
