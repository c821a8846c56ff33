// What moderators do, and what their rules refuse. A moderator is a JWT's `role: "moderator"`, or a
// connection that gave `oper` the token of --admin-token-file. Each act is checked here, done
// through the engine (so that every process obeys it), told to the room as a line, and written to
// the audit log as one JSON line: who, what, whom, when.

import type { Admission } from './admission.ts';
import type { Auth } from './auth.ts';
import type { Engine } from './engine.ts';
import { CLOSE, type ProtocolError, REFUSE, type Refusal, withReason } from './errors.ts';
import type { Hub, Peer } from './hub.ts';
import type { Sessions } from './sessions.ts';
import { nameKey } from './names.ts';
import type { PrivateRooms } from './private-rooms.ts';
import type { Moderated, ModeratorEvent } from './protocol.ts';
import { type Rule, type RuleBook, type RuleChange, type RuleKey, ruleId } from './rules.ts';

export interface ModerationContext {
  engine: Engine;
  hub: Hub;
  sessions: Sessions;
  rules: RuleBook;
  auth: Auth;
  admission: Admission;
  privateRooms: PrivateRooms;
  now: () => number;
  /** Writes one line of the audit log. */
  audit: (line: string) => void;
  log: (message: string) => void;
}

/** Who asks: a connection, in the room it is in. */
export interface Asker {
  readonly room: string;
  readonly name: string;
  readonly isModerator: boolean;
  readonly ruleKeys: readonly RuleKey[];
}

/** The keys an upgrade is known by before it has a session: its address, the session token it brings, a JWT's `sub`. */
export function upgradeKeys(address: string, token: string | undefined, sub: string | undefined): RuleKey[] {
  return [`ip:${address}`, ...(token === undefined ? [] : [`token:${token}`]), ...(sub === undefined ? [] : [`sub:${sub}`])];
}

/** "until 2026-12-02 18:00 UTC" or "until lifted", for messages. */
const untilText = (until: number | null | undefined) => (until == null ? 'until a moderator lifts it' : `until ${new Date(until).toISOString().replace('T', ' ').slice(0, 16)} UTC`);

export class Moderation {
  readonly #context: ModerationContext;
  /** Per `room\nkey`, when a person last sent a message to a room in slow mode. */
  readonly #lastSent = new Map<string, number>();

  constructor(context: ModerationContext) {
    this.#context = context;
  }

  /** Whether anyone can be a moderator here: setting a room's topic is then theirs alone. */
  get hasModerators(): boolean {
    return this.#context.auth.mode === 'jwt' || this.#context.auth.hasAdminToken;
  }

  /** Checks an `oper`'s token (a wrong one spends the address's budget of guesses); undefined when it is right. */
  oper(asker: Asker, address: string, token: string): ProtocolError | undefined {
    const { auth, admission } = this.#context;
    if (!auth.hasAdminToken) return { code: 'not-moderator', message: 'this server has no admin token (--admin-token-file); its moderators are those its sign-in names' };
    const wait = admission.guessWait(address);
    if (wait > 0) return { code: 'auth-failed', message: 'too many wrong tokens from your address; wait and try again', retryAfterMs: wait };
    if (!auth.isAdminToken(token)) {
      admission.takeGuess(address);
      return { code: 'auth-failed', message: 'wrong admin token' };
    }
    this.record(asker, 'oper', undefined, {});
    return undefined;
  }

  /** Does a moderator's act; resolves with the refusal to answer, if any (rejects when the engine cannot be reached). */
  async act(asker: Asker, event: Exclude<ModeratorEvent, { type: 'oper' }>): Promise<ProtocolError | undefined> {
    const { engine, rules } = this.#context;
    const { room } = asker;
    if (!asker.isModerator) return { code: 'not-moderator', message: `only a moderator may ${event.type}${this.hasModerators ? '' : '; this server has none (see --admin-token-file)'}` };
    switch (event.type) {
      case 'kick': {
        const { name: wanted, reason } = event.data;
        if (nameKey(wanted) === nameKey(asker.name)) return { code: 'bad-name', message: 'you cannot kick yourself; /quit leaves' };
        const name = await engine.kick(room, { name: wanted, by: asker.name, reason });
        if (name === undefined) return notHere(wanted, room);
        return this.record(asker, 'kick', name, { reason });
      }
      case 'delete': {
        const tombstone = await engine.deleteMessage(room, event.data.seq, asker.name);
        if (!tombstone) return { code: 'unknown-message', message: `no message ${event.data.seq} is kept in #${room}` };
        return this.record(asker, 'delete', tombstone.sender, { seq: tombstone.seq });
      }
      case 'ban':
      case 'mute': {
        const { name: wanted, seconds } = event.data;
        const name = (await engine.peers(room)).find((peer) => nameKey(peer) === nameKey(wanted));
        if (name === undefined) return notHere(wanted, room);
        if (nameKey(name) === nameKey(asker.name)) return { code: 'bad-name', message: `you cannot ${event.type} yourself` };
        const until = seconds === null ? null : this.#context.now() + seconds * 1000;
        const reason = event.type === 'ban' ? { reason: event.data.reason } : {};
        // Each process serving the name records its connections' identities and addresses as it hears this (see hear).
        await this.#tell(room, { action: event.type, by: asker.name, name, until, ...reason });
        return this.record(asker, event.type, name, { until, ...reason });
      }
      case 'unban':
      case 'unmute': {
        const kind = event.type === 'unban' ? 'ban' : 'mute';
        const lifted = rules.named(kind, room, (name) => nameKey(name) === nameKey(event.data.name));
        if (lifted.length === 0) return { code: 'unknown-recipient', message: `nobody called ${JSON.stringify(event.data.name)} is ${kind === 'ban' ? 'banned' : `muted in #${room}`}` };
        await engine.changeRules(lifted.map((rule) => ({ lift: ruleId(rule) })));
        const name = (lifted[0] as { name: string }).name;
        await this.#tell(room, { action: event.type, by: asker.name, name });
        return this.record(asker, event.type, name, {});
      }
      case 'slow': {
        const { seconds } = event.data;
        const rule: Rule = { kind: 'slow', room, seconds, by: asker.name };
        await engine.changeRules([seconds === 0 ? { lift: ruleId(rule) } : { set: rule }]);
        await this.#tell(room, { action: 'slow', by: asker.name, seconds });
        return this.record(asker, 'slow', undefined, { seconds });
      }
      case 'private':
      case 'public': {
        if (rules.isPrivate(room) === (event.type === 'private')) return { code: 'bad-room', message: `#${room} is ${event.type} already` };
        const rule: Rule = { kind: 'private', room, by: asker.name };
        // Made private once those here are members (each process records its own as it hears the line, see hear).
        if (event.type === 'private') await this.#tell(room, { action: 'private', by: asker.name });
        await engine.changeRules([event.type === 'private' ? { set: rule } : { lift: ruleId(rule) }]);
        if (event.type === 'public') await this.#tell(room, { action: 'public', by: asker.name });
        return this.record(asker, event.type, undefined, {});
      }
    }
  }

  /** Why setting the topic is refused (a server with moderators leaves it to them), or undefined; a moderator's change is logged. */
  topicRefusal(asker: Asker, topic: string): ProtocolError | undefined {
    if (!this.hasModerators) return undefined;
    if (!asker.isModerator) return { code: 'not-moderator', message: 'only a moderator may set the topic here; /topic alone shows it' };
    return this.record(asker, 'topic', undefined, { topic });
  }

  /**
   * Why what `asker` sends is refused: a mute (anything it says), or slow mode (a chat message
   * sooner than the room allows, counted per person); undefined when it may go. A message let
   * through in slow mode starts the person's wait.
   */
  sendRefusal(asker: Asker, isMessage: boolean): ProtocolError | undefined {
    const { rules, now } = this.#context;
    if (asker.isModerator) return undefined;
    const { room } = asker;
    const mute = rules.muteOf(room, asker.ruleKeys);
    if (mute) return { code: 'muted', message: `${mute.by} muted you in #${room} ${untilText(mute.until)}: you can read, not send`, ...(mute.until !== null && { retryAfterMs: mute.until - now() }) };
    const seconds = isMessage ? rules.slowSeconds(room) : 0;
    if (seconds === 0) return undefined;
    // Per person (a JWT's user, a session), not per address: people behind one NAT each have their turn.
    const keys = asker.ruleKeys.filter((key) => !key.startsWith('ip:')).map((key) => `${room}\n${key}`);
    const last = Math.max(...keys.map((key) => this.#lastSent.get(key) ?? -Infinity));
    const wait = last + seconds * 1000 - now();
    if (wait > 0) return { code: 'slow-mode', message: `#${room} is in slow mode: one message every ${seconds} s each; wait ${Math.ceil(wait / 1000)} s`, retryAfterMs: wait };
    this.#forgetPast();
    for (const key of keys) this.#lastSent.set(key, now());
    return undefined;
  }

  /**
   * Closes `peer` with 4030 when a ban names it (a moderator is not held by one); returns whether
   * it did. Asked of every peer as a ban arrives, and of each new one once it is among them: one
   * whose upgrade passed before the ban and whose join ended after it is caught either way.
   */
  closeIfBanned(peer: Pick<Peer, 'isModerator' | 'ruleKeys' | 'disconnect'>): boolean {
    const ban = this.banOf(peer.ruleKeys, peer.isModerator);
    if (ban) peer.disconnect(withReason(CLOSE.banned, ban.reason));
    return ban !== undefined;
  }

  /** The ban in force on any of `keys`, unless they are a moderator's. */
  banOf(keys: readonly RuleKey[], isModerator: boolean): Extract<Rule, { kind: 'ban' }> | undefined {
    return isModerator ? undefined : this.#context.rules.banOf(keys);
  }

  /** Why an upgrade known by `keys` is refused (banned), or undefined; a JWT's moderator is not held by a ban. */
  banRefusal(keys: readonly RuleKey[], isModerator = false): Refusal | undefined {
    const ban = this.banOf(keys, isModerator);
    return ban && { ...REFUSE.banned, message: `${REFUSE.banned.message} ${untilText(ban.until)}${ban.reason ? `: ${ban.reason}` : ''}` };
  }

  /**
   * A moderator's act heard (on every process): a ban or mute is recorded for the identities and
   * addresses of this process's connections of its name (and the token of its session here, when
   * it has none connected now), so that it holds wherever they come back; a room made private
   * makes this process's connections in it members.
   */
  hear(room: string, act: Moderated): void {
    const { hub, sessions, engine, log } = this.#context;
    if (act.action === 'private') return this.#context.privateRooms.admitPresent(room);
    if ((act.action !== 'ban' && act.action !== 'mute') || act.name === undefined) return;
    // A session in its grace period (its connection just dropped) is named by its token.
    const away = sessions.tokenNamed(room, act.name);
    const keys = new Set([...hub.peersNamed(room, act.name).flatMap((peer) => peer.ruleKeys), ...(away === undefined ? [] : [`token:${away}`])]);
    if (keys.size === 0) return;
    const { name, by, until = null, reason = '' } = act;
    const changes = [...keys].map((key): RuleChange => ({ set: act.action === 'ban' ? { kind: 'ban', key, name, by, reason, until } : { kind: 'mute', room, key, name, by, until } }));
    // Here at once, before the room hears the act: from its line on, a muted target can send nothing here.
    this.#context.rules.apply(changes);
    // A banned target is closed once the ban is kept and told to every process, so that coming back through another one finds it there.
    engine.changeRules(changes as Array<{ set: Rule }>).then(
      () => this.enforce(changes),
      (err: unknown) => {
        log(`the ${act.action} of ${name} in ${room} could not be kept: ${String(err)}`);
        this.enforce(changes);
      },
    );
  }

  /** Rules changed (on any process): this process's connections a new ban names are closed, in every room. */
  enforce(changes: readonly RuleChange[]): void {
    const bans = changes.flatMap((change) => ('set' in change ? [change.set] : 'reset' in change ? change.reset : [])).filter((rule) => rule.kind === 'ban');
    if (bans.length === 0) return;
    for (const peer of [...this.#context.hub.peers()]) this.closeIfBanned(peer);
  }

  #tell(room: string, act: Moderated): Promise<void> {
    return this.#context.engine.signal(room, { type: 'moderation', data: act });
  }

  /** Writes the audit line of an act (a moderator's, or the HTTP API's): who, what, whom, when, where, and its details. */
  record(actor: Pick<Asker, 'room' | 'name'>, what: string, whom: string | undefined, details: Record<string, unknown>): undefined {
    const { until, ...rest } = details;
    const when = new Date(this.#context.now()).toISOString();
    this.#context.audit(JSON.stringify({ when, who: actor.name, what, whom: whom ?? null, room: actor.room, ...rest, ...(until !== undefined && { until: until === null ? null : new Date(until as number).toISOString() }) }));
    return undefined;
  }

  /** Lets go of slow-mode times whose wait is over, once there are many. */
  #forgetPast(): void {
    if (this.#lastSent.size < 10_000) return;
    const { rules, now } = this.#context;
    for (const [key, at] of this.#lastSent) if (at + rules.slowSeconds(key.slice(0, key.indexOf('\n'))) * 1000 <= now()) this.#lastSent.delete(key);
  }
}

function notHere(name: string, room: string): ProtocolError {
  return { code: 'unknown-recipient', message: `nobody called ${JSON.stringify(name.slice(0, 40))} is online in #${room}` };
}
