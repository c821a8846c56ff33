// The rules moderators set and every process obeys: bans (the whole chat), mutes and slow mode (a
// room), private rooms and their members. The engine keeps them (SQLite, or Redis for every
// process) and tells each process every change; this is one process's copy, asked at each upgrade
// and each send, so a check costs a map lookup and no round trip.

/**
 * Who a rule is about, as a connection is known: `sub:<sub>` (a JWT's user), `token:<session
 * token>`, `ip:<address key>` (see admission.ts's addressKey). A connection has several; a rule on
 * any of them holds for it.
 */
export type RuleKey = string;

/** A moderator's decision that lasts; `until` is ms since the epoch, null for as long as nobody lifts it. */
export type Rule =
  // Refused before the upgrade, everywhere in the chat.
  | { kind: 'ban'; key: RuleKey; name: string; by: string; reason: string; until: number | null }
  // Reads the room, cannot send to it.
  | { kind: 'mute'; room: string; key: RuleKey; name: string; by: string; until: number | null }
  // One message per `seconds` for each person in the room.
  | { kind: 'slow'; room: string; seconds: number; by: string }
  // Only members may join it, read it or see it listed.
  | { kind: 'private'; room: string; by: string }
  | { kind: 'member'; room: string; key: RuleKey };

/** A change to the rules: one set (replacing the rule of its id), one lifted, or all of them read afresh. */
export type RuleChange = { set: Rule } | { lift: string } | { reset: Rule[] };

/** A rule's identity: setting a rule of the same id replaces it. */
export function ruleId(rule: Rule): string {
  return idOf(rule.kind, 'room' in rule ? rule.room : '', 'key' in rule ? rule.key : '');
}

const idOf = (kind: Rule['kind'], room: string, key: string): string => `${kind}\n${room}\n${key}`;

/** Whether a rule with an `until` still holds at `now`. */
export function isInForce(rule: Rule, now: number): boolean {
  return !('until' in rule) || rule.until === null || rule.until > now;
}

/** This process's copy of the rules, kept current by the engine's changes. */
export class RuleBook {
  readonly #rules = new Map<string, Rule>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  apply(changes: readonly RuleChange[]): void {
    for (const change of changes) {
      if ('set' in change) this.#rules.set(ruleId(change.set), change.set);
      else if ('lift' in change) this.#rules.delete(change.lift);
      else {
        this.#rules.clear();
        for (const rule of change.reset) this.#rules.set(ruleId(rule), rule);
      }
    }
  }

  /** The ban in force on any of `keys`, if one is. */
  banOf(keys: readonly RuleKey[]): Extract<Rule, { kind: 'ban' }> | undefined {
    return this.#first('ban', '', keys) as Extract<Rule, { kind: 'ban' }> | undefined;
  }

  /** The mute in force in `room` on any of `keys`, if one is. */
  muteOf(room: string, keys: readonly RuleKey[]): Extract<Rule, { kind: 'mute' }> | undefined {
    return this.#first('mute', room, keys) as Extract<Rule, { kind: 'mute' }> | undefined;
  }

  /** Seconds between two messages of one person in `room`; 0 when the room is not in slow mode. */
  slowSeconds(room: string): number {
    const rule = this.#rules.get(idOf('slow', room, ''));
    return rule?.kind === 'slow' ? rule.seconds : 0;
  }

  isPrivate(room: string): boolean {
    return this.#rules.has(idOf('private', room, ''));
  }

  /** Whether any of `keys` is a member of `room` (every key is, of a public room). */
  isMember(room: string, keys: readonly RuleKey[]): boolean {
    return !this.isPrivate(room) || this.#first('member', room, keys) !== undefined;
  }

  /** How many members `room` has (a public room's too: they are kept for when it is private again). */
  memberCount(room: string): number {
    let count = 0;
    for (const rule of this.#rules.values()) if (rule.kind === 'member' && rule.room === room) count++;
    return count;
  }

  /** The bans (no room) or the mutes of `room` recorded under `name`, as the moderator named them (compared by `isSame`). */
  named(kind: 'ban' | 'mute', room: string, isSame: (name: string) => boolean): Rule[] {
    return this.all(kind).filter((rule) => (rule.kind === 'ban' || (rule.kind === 'mute' && rule.room === room)) && isSame(rule.name));
  }

  /** Every rule in force of `kind`. */
  all(kind: Rule['kind']): Rule[] {
    return [...this.#rules.values()].filter((rule) => rule.kind === kind && isInForce(rule, this.#now()));
  }

  #first(kind: Rule['kind'], room: string, keys: readonly RuleKey[]): Rule | undefined {
    const now = this.#now();
    for (const key of keys) {
      const rule = this.#rules.get(idOf(kind, room, key));
      if (rule && isInForce(rule, now)) return rule;
    }
    return undefined;
  }
}
