// One WebSocket connection's life: join a room, police and parse each incoming frame, write every
// outgoing frame, leave on close. The connection is the WebSocket itself (`ws` builds it as the
// server's WebSocket class), so ten thousand idle peers each cost one object and its fields, not a
// socket plus a state object plus listener closures.

import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { type RawData, WebSocket } from 'ws';
import type { Admission } from './admission.ts';
import type { Auth, Identity } from './auth.ts';
import type { Config } from './config.ts';
import type { Engine } from './engine.ts';
import { type Asker, type Moderation, upgradeKeys } from './moderation.ts';
import { CLOSE, type CloseInfo, type ProtocolError, REFUSE, withReason } from './errors.ts';
import type { Heartbeat, Pulse } from './heartbeat.ts';
import type { Hub, Peer } from './hub.ts';
import type { Counters } from './metrics.ts';
import { type Flusher, framePong, frameText, Outbox, PING_FRAME } from './outbox.ts';
import { type ChatMessage, type ClientEvent, encodeEvent, HELP, parseClientFrame, parseResume, type ServerEvent, TEXT_HELP } from './protocol.ts';
import { TokenBucket } from './rate-limit.ts';
import type { PrivateRooms } from './private-rooms.ts';
import { pageOfRooms, type RoomListCache } from './room-list.ts';
import type { Session, Sessions } from './sessions.ts';
import { renderBanner, renderText } from './text.ts';
import { nextSlice } from './turn.ts';

export interface ConnectionContext {
  hub: Hub;
  flusher: Flusher;
  heartbeat: Heartbeat;
  counters: Counters;
  admission: Admission;
  sessions: Sessions;
  engine: Engine;
  config: Config;
  roomList: RoomListCache;
  auth: Auth;
  moderation: Moderation;
  privateRooms: PrivateRooms;
  /** A time as text mode shows it (see text.ts). */
  textTime: (ts: number) => string;
  now: () => number;
  log: (message: string) => void;
}

/** What the upgrade knew of who comes in (see Connection.accept). */
export interface Entry {
  /** Who the upgrade signed in (undefined: the first frames must, see #awaitSignIn). */
  identity: Identity | undefined;
  /** The session token it brought. */
  token: string | undefined;
  /** It brought a good invitation to its room (private): it becomes a member as it enters. */
  isInvited: boolean;
  /** The page's origin as people reach it (--public-url, or the upgrade's Host): invitation links start with it. */
  origin: string;
}

function ignore(): void {}

/**
 * A kept message framed as history, made once per message object: fifty clients resuming over the
 * same messages of a store that keeps them in memory frame each once, not fifty times.
 */
const historyFrames = new WeakMap<ChatMessage, Buffer>();
function historyFrame(message: ChatMessage): Buffer {
  let frame = historyFrames.get(message);
  if (!frame) historyFrames.set(message, (frame = frameText(encodeEvent(historyEvent(message)))));
  return frame;
}
/** The answer to asking for the topic of a room that has none (never set, or cleared). */
const NO_TOPIC = { topic: '', by: '', ts: 0 };
const historyEvent = (message: ChatMessage): ServerEvent => ({ type: 'message', data: { ...message, history: true } });

/**
 * The token of the session a connection has in `room` after `/join`: the one it came with in the
 * room it came to, and one made from that (and only from it) in any other. Each room so keeps the
 * connection's name there, and a person coming back to a room is the same person in it.
 */
function roomToken(home: { room: string; token: string }, room: string): string {
  return room === home.room ? home.token : createHash('sha256').update(`${home.token}\n${room}`).digest('base64url').slice(0, 32);
}

/** How many of the sessions a connection had in other rooms a ban also names (see Connection#roomTokens). */
const MAX_ROOM_TOKENS = 8;

/** A WebSocket that is the hub's peer (once it has joined) and the heartbeat's pulse. */
export class Connection extends WebSocket implements Peer, Pulse, Asker {
  room = '';
  isAlive = true;
  // Set by accept(): `ws` constructs the object before it is handed over.
  #context!: ConnectionContext;
  /** The client's address, as budgets are kept (see admission.ts). */
  #address = '';
  #outbox!: Outbox;
  #bucket!: TokenBucket;
  // Refusals are counted by a bucket of their own, made at the first refusal: a client that goes
  // over the limit now and then earns its allowance back, while one that keeps flooding runs out of
  // it and is closed.
  #strikes: TokenBucket | undefined;
  #session: Session | undefined;
  #isInHub = false;
  #hasLeft = false;
  #isDetached = false;
  #isTyping = false;
  #typingTimer: NodeJS.Timeout | undefined;
  /** Live events that arrived while the greeting and replay were being read; sent after them. */
  #held: Array<{ frame: Buffer; seq: number | undefined; event: ServerEvent }> | undefined = [];
  #heldBytes = 0;
  /** With `format=text`: events go out as the lines of text.ts, and each frame is a line typed. */
  #isText = false;
  /** The room this connection came to and its session's token there (see roomToken). */
  #home: { room: string; token: string } | undefined;
  /** Set while the replay is being written: the entry's deadline then blames the reader, not the join. */
  #isReplaying = false;
  /** The room's position this client has: the newest seq it was sent. */
  #seq = 0;
  /**
   * Frames that came over the rate limit, waiting for its tokens (a paste, not a flood: IRC
   * servers' "fake lag"), oldest first; a refusal waits here too, to keep its frame's place.
   */
  #waiting: Array<string | { refused: true }> = [];
  #waitingBytes = 0;
  #waitTimer: NodeJS.Timeout | undefined;
  /**
   * Settles once every frame taken so far is answered: a frame's handling starts after the one
   * before it is done, so its answers leave after that one's, however long the engine takes.
   */
  #answered: Promise<void> | undefined;
  /** Whether #answered waits for chat messages only, all started at once (the engine keeps their order). */
  #isPublishing = false;
  /** Who signed in (see auth.ts); undefined until then, when the server wants a sign-in. */
  #identity: Identity | undefined;
  /** Runs out while waiting for a sign-in (--auth-timeout-ms), then at the token's expiry. */
  #signInTimer: NodeJS.Timeout | undefined;
  /** Frames read after the sign-in and before the entry (one TCP read may hold both); handled after it. */
  #early: RawData[] | undefined;
  /** Gave `oper` the admin token: a moderator until it closes. */
  #isOperator = false;
  /** The private room a good invitation let this connection into, until it is made a member there. */
  #invitedTo: string | undefined;
  /** See Entry.origin. */
  #origin = '';

  /**
   * Takes over this freshly upgraded socket for `room`; `raw` is the TCP socket under it, `query`
   * the upgrade URL's query (a resume request) and `address` the client's address, whose budgets
   * its events spend. Reading is paused until the peer is in the room, so that the client first sees
   * its greeting and replay, and nothing it sends is handled before. `entry` is what the upgrade
   * knew of who comes in.
   */
  accept(raw: Writable, room: string, query: string, address: string, context: ConnectionContext, { identity, token, isInvited, origin }: Entry): void {
    const { config, now, heartbeat } = context;
    this.room = room;
    this.#address = address;
    this.#origin = origin;
    if (isInvited) this.#invitedTo = room;
    this.#context = context;
    this.#outbox = new Outbox(raw, context.flusher, this);
    this.#bucket = new TokenBucket(config.rateBurst, config.ratePerSecond, now);
    heartbeat.add(this);
    // Listeners shared by every connection (`this` is the socket), so none is made per peer.
    this.on('pong', Connection.#onPong);
    this.on('ping', Connection.#onPing);
    // `ws` reports protocol violations (oversize, bad UTF-8, ...) here and then closes the socket
    // with the RFC code; without a listener the error would crash the process.
    this.on('error', ignore);
    this.on('close', Connection.#onClose);
    this.on('message', Connection.#onMessage);
    this.pause();
    this.#isText = new URLSearchParams(query).get('format') === 'text';
    const { since } = parseResume(query);
    if (identity) void this.#enterAs(identity, since, token);
    else this.#awaitSignIn(since, token);
  }

  /** Enters as `identity`: under its own session token where it has one (jwt: one per `sub`), closed when its token expires. */
  #enterAs(identity: Identity, since: ReturnType<typeof parseResume>['since'], token: string | undefined): Promise<void> {
    this.#identity = identity;
    if (identity.expiresAt !== undefined) this.#expireAt(identity.expiresAt);
    const own = this.#context.auth.tokenOf(identity);
    return this.#enterWithin(since, own ?? token, own !== undefined);
  }

  /** Closes with `token-expired` at `expiresAt` (ms since the epoch); a timer waits at most about 24 days, so a later one is set again. */
  #expireAt(expiresAt: number): void {
    const wait = expiresAt - this.#context.now();
    if (wait <= 0) return this.#kick(CLOSE.tokenExpired);
    this.#signInTimer = setTimeout(() => this.#expireAt(expiresAt), Math.min(wait, 2 ** 31 - 1)).unref();
  }

  /**
   * The server wants a sign-in and the upgrade carried none: the client is told so (auth-required)
   * and its frames are read for an `auth` (a password or a JWT, see auth.ts) until --auth-timeout-ms.
   * Wrong ones spend the address's budget of guesses; the entry follows a right one, with the
   * session of `token` where the engine knows it (a person from before the password was set keeps their name).
   */
  #awaitSignIn(since: ReturnType<typeof parseResume>['since'], token: string | undefined): void {
    const { auth, config } = this.#context;
    this.#signInTimer = setTimeout(() => this.#kick(CLOSE.signInTimeout), config.authTimeoutMs).unref();
    let isChecking = false;
    this.#early = [];
    const required = () => this.#sendError({ code: 'auth-required', message: this.#isText ? 'sign in first: type /auth <password or token>' : 'sign in first: send {"type":"auth","data":"<password or token>"}' });
    this.#onSignInFrame = (text) => {
      // What comes while an auth is checked waits for its outcome (a client may send at once after
      // it), and spends its budgets then; the rest spends them now, a flood closed as any is.
      if (isChecking && this.#early!.length < config.pasteQueueEvents) return void this.#early!.push(Buffer.from(text));
      if (this.#bucket.take() > 0) {
        this.#context.counters.rateLimited++;
        if (!this.#strike(CLOSE.flood)) this.#sendError({ code: 'rate-limited', message: 'too many events before signing in', retryAfterMs: this.#bucket.wait() });
        return;
      }
      const result = parseClientFrame(text, config, this.#isText);
      if (!result.ok) return this.#sendError(result.error);
      if (isChecking || result.event.type !== 'auth') return required();
      const wait = this.#context.admission.guessWait(this.#address);
      if (wait > 0) return this.#sendError({ code: 'auth-failed', message: 'too many wrong sign-ins from your address; wait and try again', retryAfterMs: wait });
      isChecking = true;
      void auth.verify(result.event.data).then((verdict) => {
        isChecking = false;
        if (this.#hasLeft) return;
        if (!verdict.ok) {
          if (verdict.isExpired) return this.#kick(CLOSE.tokenExpired);
          this.#context.admission.takeGuess(this.#address);
          this.#sendError({ code: 'auth-failed', message: verdict.message });
          // What was sent after a wrong auth was sent before any sign-in.
          for (const frame of this.#early!.splice(0)) this.#onSignInFrame?.(frame.toString());
          return;
        }
        if (verdict.identity.rooms && !verdict.identity.rooms.includes(this.room)) return this.#kick(CLOSE.roomForbidden);
        const ban = this.#context.moderation.banOf(upgradeKeys(this.#address, token, verdict.identity.sub), verdict.identity.isModerator);
        if (ban) return this.#kick(withReason(CLOSE.banned, ban.reason));
        const comer = { keys: upgradeKeys(this.#address, token, verdict.identity.sub), identity: verdict.identity };
        if (this.#invitedTo !== this.room && !this.#context.privateRooms.isAdmitted(this.room, comer)) return this.#kick(CLOSE.privateRoom);
        // A room is brought into being by those signed in only: its budget is spent now, not at the upgrade.
        const refusal = this.#roomRefusal(this.room);
        if (refusal) {
          this.#sendError(refusal);
          return this.#kick(CLOSE.joinFailed);
        }
        clearTimeout(this.#signInTimer);
        this.#onSignInFrame = undefined;
        this.pause();
        void this.#enterAs(verdict.identity, since, token);
      });
    };
    this.#reply({ type: 'auth-required', data: { mode: auth.mode === 'jwt' ? 'jwt' : 'password' } });
    this.resume();
  }

  /** While a sign-in is awaited: what becomes of each text frame. */
  #onSignInFrame: ((text: string) => void) | undefined;

  /**
   * Enters this.room (see #enter) within one deadline for the whole entry (join, greeting,
   * replay): neither a join that hangs nor a reader that does not take its replay holds the socket
   * for longer. Resolves once entered, or closed.
   */
  async #enterWithin(since: ReturnType<typeof parseResume>['since'], token: string | undefined, isOwnToken: boolean): Promise<void> {
    const { room } = this;
    const deadline = setTimeout(() => {
      if (this.#isReplaying) this.#tooSlow(CLOSE.slowReplay);
      else this.#kick(CLOSE.joinFailed);
    }, this.#context.config.replayTimeoutMs).unref();
    try {
      await this.#enter(since, token, isOwnToken);
    } catch (err) {
      this.#context.log(`join failed in ${room}: ${String(err)}`);
      this.#kick(CLOSE.joinFailed);
    } finally {
      clearTimeout(deadline);
    }
  }

  /** The session's name: every connection of a session changes with it. */
  get name(): string {
    return this.#session?.name ?? '';
  }

  get isModerator(): boolean {
    return this.#isOperator || this.#identity?.isModerator === true;
  }

  /** Who this is, as moderation rules name people: its address, its JWT's `sub`, and the session tokens it came with and has in this room. */
  get ruleKeys(): string[] {
    const keys = upgradeKeys(this.#address, this.#home?.token, this.#identity?.sub);
    const token = this.#session?.token;
    for (const other of this.#roomTokens) if (other !== token) keys.push(`token:${other}`);
    if (token !== undefined && token !== this.#home?.token) keys.push(`token:${token}`);
    return keys;
  }

  /**
   * The sessions this connection had in the other rooms it joined (see roomToken), the last few:
   * a ban holds for each, so that the person is not themselves again in a room they were in.
   */
  readonly #roomTokens = new Set<string>();

  /** Who this is in `room`, as rules name people: ruleKeys, and the session token it would have there (see roomToken). */
  #keysIn(room: string): string[] {
    return this.#home ? [...this.ruleKeys, `token:${roomToken(this.#home, room)}`] : this.ruleKeys;
  }

  // `ws` types a listener's `this` as its base class; the socket is always a Connection.
  static #onPong(this: WebSocket): void {
    (this as Connection).isAlive = true;
  }

  /**
   * Pings are answered here, not by `ws` (the server turns its autoPong off): they spend the same
   * budgets as events, so a ping flood is refused and then closed with a close frame that says
   * why, where `ws` would cut the socket without one.
   */
  static #onPing(this: WebSocket, data: Buffer): void {
    const connection = this as Connection;
    connection.isAlive = true;
    if (connection.#hasLeft) return;
    if (connection.#spend() > 0) {
      connection.#context.counters.rateLimited++;
      connection.#strike(CLOSE.pingFlood);
      return;
    }
    connection.#outbox.push(framePong(data));
  }

  static #onClose(this: WebSocket): void {
    const connection = this as Connection;
    connection.#context.heartbeat.remove(connection);
    connection.#leave();
  }

  static #onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    (this as Connection).#receive(data, isBinary);
  }

  /**
   * Queues a framed event for this peer. `seq` is the room's position after it (a chat message's
   * seq, or 0 when numbering restarts): a message this client was sent already (in its replay, or
   * heard late from another process) is not sent again, however late it comes.
   */
  deliver(frame: Buffer, seq: number | undefined, event: ServerEvent): void {
    if (this.#held) {
      // Live events wait behind a replay, within the same bound as any reader's backlog.
      this.#heldBytes += frame.length;
      if (this.#heldBytes > this.#context.config.maxBufferedBytes) this.#tooSlow(CLOSE.slow);
      else this.#held.push({ frame, seq, event });
      return;
    }
    if (seq !== undefined) {
      if (seq !== 0 && seq <= this.#seq) return;
      this.#seq = seq;
    }
    if (!this.#isText) this.#send(frame);
    else this.#sendText(event);
  }

  /** Sends an event as text-mode lines, if it has any. */
  #sendText(event: ServerEvent): void {
    const text = renderText(event, { me: this.name, time: this.#context.textTime });
    if (text !== undefined) this.#send(frameText(text));
  }

  /**
   * Queues one framed message. Every frame to this peer passes here, broadcasts included (only the
   * replay and pings go straight to the outbox), so that the frames of one event-loop turn leave in
   * one write, and a reader that falls more than `maxBufferedBytes` behind is closed instead of
   * growing memory.
   */
  #send(frame: Buffer): void {
    const { counters, config } = this.#context;
    if (this.readyState !== WebSocket.OPEN) {
      counters.framesDropped++;
      return;
    }
    if (this.#outbox.bufferedBytes > config.maxBufferedBytes) this.#tooSlow(CLOSE.slow);
    else this.#outbox.push(frame);
  }

  /**
   * Pings, unless the peer still has not taken what it was sent: its pongs say it is there, not
   * that it reads, so one that sits on a full backlog is closed here even when nothing new comes.
   */
  sendPing(): void {
    // Its frames (pongs too) are not read until the replay is written: till then the replay's
    // deadline judges this reader, not the heartbeat.
    if (this.#held) {
      this.isAlive = true;
      return;
    }
    if (this.#outbox.bufferedBytes > this.#context.config.maxBufferedBytes) this.#tooSlow(CLOSE.slow);
    else this.#outbox.push(PING_FRAME);
  }

  /** Closes this connection from outside (a kick): see Peer.disconnect. */
  disconnect(close: CloseInfo): void {
    this.#kick(close);
  }

  #tooSlow(close: CloseInfo): void {
    // Once: a ping or a frame due while the close waits for its answer finds the backlog still there.
    if (this.#hasLeft) return;
    this.#context.counters.slowConsumerCloses++;
    this.#kick(close);
  }

  /** Closes with a documented code; the peer leaves at once, even if the socket lingers to flush. */
  #kick(close: CloseInfo): void {
    this.#leave(true);
    this.#outbox.flush();
    this.close(close.code, close.reason);
    // Read again if the entry had paused reading, or the peer's answer to the close is never seen
    // and the socket lingers for --close-timeout-ms; what else it sends is ignored once it has left.
    this.resume();
  }

  /**
   * Takes the session back by its token or starts one, then greets and replays. The peer is in the
   * hub from the point of the room's stream where its presence snapshot was taken, before the
   * replay is read; what arrives meanwhile is held and sent after the replay, and from then on no
   * message it already has is sent again (see deliver): with an engine whose events come over the
   * network (Redis) nothing falls between the snapshot, the replay and the live stream, nor comes twice.
   */
  async #enter(since: ReturnType<typeof parseResume>['since'], token: string | undefined, isOwnToken: boolean): Promise<void> {
    const { engine, config } = this.#context;
    const { room } = this;
    // The engine keeps the session before the join resolves, so before its token is handed out.
    const { snapshot, peers, hasMail } = await this.#takeSession(token, isOwnToken);
    // In the hub now: a ban made while it joined was not found by Moderation.enforce.
    if (this.#context.moderation.closeIfBanned(this)) return;
    const session = this.#session!;
    this.#home ??= { room, token: session.token };
    if (this.#invitedTo === room) {
      this.#invitedTo = undefined;
      this.#context.privateRooms.admit(room, this.ruleKeys);
    }
    // Read a page at a time (see #writeReplay): a resume of --max-replay messages is never in memory whole.
    const [replay, missed, topic] = await Promise.all([
      engine.replay(room, since, config.historyOnJoin, config.historyPageMax),
      hasMail ? engine.missed(session.token, room) : [],
      engine.topic(room).catch(() => undefined),
    ]);
    if (this.#hasLeft || this.readyState !== WebSocket.OPEN) {
      this.#leave();
      return;
    }
    if (this.#isText) {
      this.#send(frameText(renderBanner(session.name, room, peers.length, this.#context.auth.mode === 'jwt' ? undefined : session.token)));
      if (topic?.topic) this.#sendText({ type: 'topic', data: topic });
      if (replay.messages.length > 0) this.#send(frameText('-- history --'));
    } else {
      this.#reply({ type: 'name-generated', data: session.name });
      this.#send(snapshot);
      this.#reply({ type: 'session', data: { token: session.token, maxMessageChars: config.maxMessageChars } });
      if (topic?.topic) this.#reply({ type: 'topic', data: topic });
    }
    if (!(await this.#writeReplay(replay.messages, replay.seq))) return;
    const { messages, ...position } = replay;
    this.#reply({ type: 'synced', data: position });
    if (this.#notice) this.#sendError(this.#notice);
    this.#notice = undefined;
    // Kept direct messages are forgotten only once they are on their way to this connection.
    for (const direct of missed) this.#reply({ type: 'direct-message', data: { ...direct, missed: true } });
    if (missed.length > 0) engine.dropMissed(session.token, room, missed.length).catch((err: unknown) => this.#context.log(`could not forget the direct messages handed to ${session.name}: ${String(err)}`));
    this.#seq = replay.seq;
    const held = this.#held!;
    this.#held = undefined;
    this.#heldBytes = 0;
    for (const { frame, seq, event } of held) this.deliver(frame, seq, event);
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const data of early) this.#receive(data, false);
    this.resume();
  }

  /**
   * Writes a replay as the socket takes it: its first page (`first`), then, once the kernel has
   * that, the next page of at most --history-page-max messages read from the engine, and so on up
   * to seq `until`. A replay (up to --max-replay messages) is then neither read nor held in memory
   * whole for a reader that does not read, and costs no long turn of the event loop. A reader that
   * has not taken all of it by the entry's deadline (--replay-timeout-ms) is closed with 4008.
   * Returns false when the connection closed meanwhile.
   */
  async #writeReplay(first: ChatMessage[], until: number): Promise<boolean> {
    const { config, engine } = this.#context;
    this.#isReplaying = true;
    // An empty first page is an empty replay.
    let sent = first.length === 0 ? until : 0;
    for (let page = first; ; ) {
      for (const message of page) {
        this.#outbox.push(this.#isText ? frameText(renderText(historyEvent(message), { me: this.name, time: this.#context.textTime })!) : historyFrame(message));
        sent = message.seq;
      }
      this.#outbox.flush();
      await this.#outbox.drained();
      if (this.#hasLeft || this.readyState !== WebSocket.OPEN) return false;
      if (sent >= until) break;
      // One page a turn among all replays, so that many at once do not hold up everyone else.
      await nextSlice();
      // The next seqs up to `before`; those trimmed meanwhile are skipped.
      const before = Math.min(sent + 1 + config.historyPageMax, until + 1);
      page = (await engine.history(this.room, before, before - 1 - sent)).messages.filter((message) => message.seq > sent);
      if (page.length === 0) sent = before - 1;
    }
    this.#isReplaying = false;
    return true;
  }

  /**
   * Takes the session of `token` (one this process serves now, or one kept while it was away, or
   * one another process holds) or starts one under a fresh name, and enters the room's presence
   * with it; returns the presence snapshot framed, and whether kept direct messages may wait for
   * it: they go to the first connection of a session that existed before (others came while it was here).
   */
  async #takeSession(token: string | undefined, isOwnToken: boolean): Promise<{ snapshot: Buffer; peers: string[]; hasMail: boolean }> {
    const { sessions, engine, hub } = this.#context;
    const { room } = this;
    let session = sessions.resume(token, room);
    // Held from now, so that a close while joining lets go of it.
    this.#session = session;
    let isFirst = session?.connections === 1;
    let snapshot: Buffer | undefined;
    let names: string[] = [];
    const owned = session?.name ?? (token === undefined ? undefined : await engine.findSession(token, room));
    const enter = (request: { token: string; name?: string }) =>
      engine.join(room, {
        ...request,
        // Synchronous at the snapshot's place in the stream: the peer hears every event after it.
        onEnter: ({ name, peers }) => {
          // Another connection of the same session may have taken it while this one waited.
          session ??= sessions.resume(request.token, room);
          if (!session) {
            session = sessions.create(room, name, request.token);
            isFirst = true;
          }
          this.#session = session;
          hub.add(this);
          this.#isInHub = true;
          // Framed here, in the stream's order, each a few names more than the last: a storm's
          // snapshots extend one another instead of each being serialized whole.
          snapshot = hub.snapshotFrame(room, peers);
          names = peers;
        },
      });
    const resumed = owned === undefined ? undefined : await enter({ token: token!, name: owned });
    // A name that now belongs to someone else (Redis lost its data) is given up for a fresh one.
    // A token the client brought is taken only when known; one this connection made is its own.
    const entered = resumed ?? (await enter({ token: isOwnToken ? token! : this.#context.auth.newToken() }));
    if (!entered) throw new Error('no name could be taken');
    await this.#takeClaimedName();
    return { snapshot: snapshot!, peers: names, hasMail: resumed !== undefined && isFirst };
  }

  /**
   * Takes the name the sign-in gives (jwt's `name` claim) as a rename does, so that it is unique
   * in the room as every name is: someone else under it, or a look-alike of it, keeps it, and
   * this person keeps the name they have, and is told why.
   */
  async #takeClaimedName(): Promise<void> {
    const claimed = this.#identity?.name;
    const session = this.#session!;
    if (claimed === undefined || claimed === session.name) return;
    const isRenamed = await this.#context.engine.rename(this.room, session.name, claimed, session.token).catch(() => false);
    if (isRenamed) session.name = claimed;
    else this.#notice = { code: 'name-taken', message: `someone in this room is already called ${JSON.stringify(claimed)}, or a name that looks like it; you are ${session.name} here` };
  }

  /** Said after the greeting: why the name the sign-in gives was not taken. */
  #notice: ProtocolError | undefined;

  #receive(data: RawData, isBinary: boolean): void {
    const { counters, config } = this.#context;
    this.isAlive = true;
    counters.framesReceived++;
    if (this.#hasLeft) return;
    if (isBinary) {
      this.#kick(CLOSE.binary);
      return;
    }
    if (this.#onSignInFrame) {
      this.#onSignInFrame(data.toString());
      return;
    }
    // Nothing is read before the first entry (but what came with a sign-in); during a /join the frames wait their turn (see #answer).
    if (!this.#home) {
      if (this.#early && this.#early.length < this.#context.config.pasteQueueEvents) this.#early.push(data);
      return;
    }
    const text = data.toString();
    if (this.#waiting.length === 0 && this.#spend() === 0) {
      this.#handleFrame(text);
      return;
    }
    const bytes = Buffer.byteLength(text);
    if (this.#waiting.length < config.pasteQueueEvents && this.#waitingBytes + bytes <= config.pasteQueueBytes && this.#context.admission.holdWaiting(this.#address, bytes)) {
      counters.delayed++;
      this.#waiting.push(text);
      this.#waitingBytes += bytes;
    } else {
      // Over the queue too: refused.
      counters.rateLimited++;
      if (this.#strike(CLOSE.flood)) return;
      this.#waiting.push({ refused: true });
    }
    // A refusal at the head is answered at once; a frame waits for its tokens.
    this.#waitTimer ??= setTimeout(this.#drain, typeof this.#waiting[0] === 'string' ? this.#budgetWait() : 0);
  }

  /** Spends one event of this connection's budget and of its address's (shared by all its connections, so reconnecting earns nothing); returns 0, or the ms until one could be spent. */
  #spend(): number {
    return this.#bucket.take() || this.#context.admission.takeEvent(this.#address);
  }

  /** Counts a refusal; one that keeps going over is closed with `flood`, and true returned. */
  #strike(flood: CloseInfo): boolean {
    const { config, now } = this.#context;
    this.#strikes ??= new TokenBucket(config.floodLimit, config.ratePerSecond, now);
    if (this.#strikes.take() === 0) return false;
    this.#kick(flood);
    return true;
  }

  /** Takes the waiting frames the budgets allow now, in order, and waits for the tokens of the rest. */
  readonly #drain = (): void => {
    this.#waitTimer = undefined;
    if (this.#hasLeft) return;
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0]!;
      if (typeof next === 'string' && this.#spend() > 0) break;
      this.#waiting.shift();
      if (typeof next !== 'string') {
        // The wait as of its answer, which comes after what the queue held before it.
        this.#answer(() => {
          const wait = this.#budgetWait();
          this.#sendError({ code: 'rate-limited', message: `too many events; retry in ${wait} ms`, retryAfterMs: wait });
        }, false);
        continue;
      }
      const bytes = Buffer.byteLength(next);
      this.#waitingBytes -= bytes;
      this.#context.admission.releaseWaiting(this.#address, bytes);
      this.#handleFrame(next);
    }
    if (this.#waiting.length > 0) this.#waitTimer = setTimeout(this.#drain, this.#budgetWait());
  };

  /** Ms until both budgets have an event again (at least 1). */
  #budgetWait(): number {
    return Math.max(1, this.#bucket.wait(), this.#context.admission.eventWait(this.#address));
  }

  /** Parses a frame the budgets let through and handles it in its turn. */
  #handleFrame(text: string): void {
    // A terminal's Enter on an empty line says nothing.
    if (this.#isText && text.trim() === '') return;
    const result = parseClientFrame(text, this.#context.config, this.#isText);
    if (!result.ok) this.#answer(() => this.#sendError(result.error), false);
    else {
      const { event } = result;
      // The session is the one of the room the connection is in by the frame's turn (after a /join before it).
      this.#answer(() => (this.#session && !this.#hasLeft ? this.#handle(this.#session, event) : undefined), event.type === 'message');
    }
  }

  /**
   * Runs `step` (the handling of one frame, resolved once its answers are sent) after every frame
   * before it is answered, or at once when none waits. Chat messages in a row start at once: the
   * engine numbers and acknowledges them in the order they were published.
   */
  #answer(step: () => Promise<void> | void, isPublish: boolean): void {
    const before = this.#answered;
    if (before && !(isPublish && this.#isPublishing)) {
      this.#isPublishing = false;
      this.#settle(before.then(step));
      return;
    }
    const running = step();
    if (!running) return;
    this.#isPublishing = isPublish;
    this.#settle(before ? Promise.all([before, running]) : running);
  }

  #settle(running: Promise<unknown>): void {
    const settled: Promise<void> = running
      .catch((err: unknown) => this.#context.log(`an answer failed: ${String(err)}`))
      .then(() => {
        if (this.#answered === settled) this.#answered = undefined;
      });
    this.#answered = settled;
  }

  /** Handles one event; a promise when it waits for the engine, settled once the event is answered. */
  #handle(session: Session, event: ClientEvent): Promise<void> | void {
    const { engine } = this.#context;
    switch (event.type) {
      case 'ping':
        return this.#reply({ type: 'pong', data: null });
      case 'rename':
        return this.#rename(session, event.data);
      case 'direct-message':
        return this.#direct(session, event.data.to, event.data.message).catch(() => this.#unavailable('your direct message could not be sent just now and reached nobody; send it again in a moment'));
      case 'history':
        return this.#history(event.data.before, event.data.limit).catch(() => this.#unavailable('older messages could not be read just now; ask again in a moment'));
      case 'typing':
        return this.#setTyping(session, event.data);
      case 'who':
        return engine.peers(this.room).then((names) => this.#reply({ type: 'update-peers', data: names }), () => this.#unavailable('who is here could not be read just now; ask again in a moment'));
      case 'help':
        return this.#reply({ type: 'help', data: this.#isText ? TEXT_HELP : HELP });
      case 'list':
        return this.#context.roomList.list().then(
          (rooms) => {
            const allowed = this.#identity?.rooms;
            const listed = this.#context.privateRooms.listedFor(allowed ? rooms.filter(({ room }) => allowed.includes(room)) : rooms, this.#identity, (room) => this.#keysIn(room));
            const answer = pageOfRooms(listed, '', this.#context.config.roomsPageMax);
            if (answer.ok) this.#reply({ type: 'room-list', data: answer.page });
          },
          () => this.#unavailable('the room list could not be read just now; ask again in a moment'),
        );
      case 'topic':
        return this.#topic(session, event.data);
      case 'join':
        return this.#switchRoom(event.data);
      case 'quit':
        return this.#quit(session, event.data);
      case 'message':
        this.#setTyping(session, false);
        return this.#publish(session, event.data, event.id, event.action);
      case 'auth':
        return this.#sendError({ code: 'auth-failed', message: 'you are signed in already; to sign in as someone else, connect again' });
      case 'invite': {
        const answer = this.#context.privateRooms.invite(this.room, event.data.seconds, this.#origin);
        return 'url' in answer ? this.#reply({ type: 'invitation', data: answer }) : this.#sendError(answer);
      }
      case 'oper': {
        const refusal = this.#context.moderation.oper(this, this.#address, event.data);
        if (refusal) return this.#sendError(refusal);
        this.#isOperator = true;
        return this.#reply({ type: 'moderator', data: null });
      }
      default:
        return this.#context.moderation.act(this, event).then(
          (refusal) => refusal && this.#sendError(refusal),
          () => this.#unavailable(`the ${event.type} could not be done just now; nothing changed; try again in a moment`),
        );
    }
  }

  /** Shows the room's topic (`text` undefined), or sets it for everyone ("" clears it). */
  #topic(session: Session, text: string | undefined): Promise<void> {
    const { engine, now } = this.#context;
    if (text === undefined) {
      return engine.topic(this.room).then(
        (topic) => this.#reply({ type: 'topic', data: topic?.topic ? topic : NO_TOPIC }),
        () => this.#unavailable('the topic could not be read just now; ask again in a moment'),
      );
    }
    const refusal = this.#context.moderation.sendRefusal(this, false) ?? this.#context.moderation.topicRefusal(this, text);
    if (refusal) return Promise.resolve(this.#sendError(refusal));
    return engine.setTopic(this.room, { topic: text, by: session.name, ts: now() }).catch(() => this.#unavailable('the topic could not be kept just now; nothing changed; try again in a moment'));
  }

  /**
   * Leaves this room (at once: presence says so now) and enters `to` on the same connection, under
   * the name this connection's person has there (see roomToken), with its greeting and history as
   * a new connection gets them, after `room-changed`. A room nobody is in costs what an upgrade
   * into it does (see Admission.admitUpgrade).
   */
  async #switchRoom(to: string): Promise<void> {
    const { engine, config, admission } = this.#context;
    const from = this.room;
    if (to === from) return this.#sendError({ code: 'bad-room', message: `you are in #${to} already` });
    if (this.#identity?.rooms && !this.#identity.rooms.includes(to)) return this.#sendError({ code: 'room-refused', message: `your sign-in does not let you into #${to}` });
    const refusal = (this.isModerator ? undefined : this.#context.privateRooms.joinRefusal(to, { keys: this.#keysIn(to), identity: this.#identity })) ?? this.#roomRefusal(to);
    if (refusal) return this.#sendError(refusal);
    this.#leaveRoom(true);
    const left = this.#session?.token;
    if (left !== undefined && left !== this.#home?.token) {
      this.#roomTokens.add(left);
      if (this.#roomTokens.size > MAX_ROOM_TOKENS) this.#roomTokens.delete(this.#roomTokens.values().next().value!);
    }
    this.#reply({ type: 'room-changed', data: { from, to } });
    this.room = to;
    this.#session = undefined;
    this.#isDetached = false;
    this.#held = [];
    this.#seq = 0;
    await this.#enterWithin(undefined, roomToken(this.#home!, to), true);
  }

  /** Why entering `room` is refused now (it is new here, and rooms or the address's new-room budget are spent), spending that budget when it is not. */
  #roomRefusal(room: string): ProtocolError | undefined {
    const { engine, config, admission } = this.#context;
    if (engine.heldRooms.has(room)) return undefined;
    if (engine.heldRooms.size >= config.maxRooms) return { code: 'room-refused', message: REFUSE.roomsFull.message };
    const wait = admission.takeRoom(this.#address);
    return wait > 0 ? { code: 'room-refused', message: REFUSE.newRooms.message.replace('Retry-After', 'retryAfterMs'), retryAfterMs: wait } : undefined;
  }

  /** Leaves with a reason the room is told (when this is the person's last connection), and closes with 1000. */
  async #quit(session: Session, reason: string): Promise<void> {
    if (reason !== '' && session.connections === 1) await this.#context.engine.signal(this.room, { type: 'peer-quit', data: { name: session.name, reason } }).catch(() => {});
    this.#kick(CLOSE.quit);
  }

  /** Sends an event meant for this peer alone. */
  #reply(event: ServerEvent): void {
    if (this.#isText) this.#sendText(event);
    else this.#send(frameText(encodeEvent(event)));
  }

  /** Tells the client its last event (the `message` of `id`, if any) could not be served: the engine (Redis) could not be reached. */
  #unavailable(message: string, id?: string): void {
    this.#sendError({ code: 'unavailable', message, ...(id === undefined ? {} : { id }) });
  }

  /** Refuses the client's last event; the connection stays open. */
  #sendError(error: ProtocolError): void {
    this.#reply({ type: 'error', data: error });
  }

  /**
   * Leaves the room; safe to call again. A plain disconnect stays in the room's presence for the
   * grace period, so a reconnect with its token is seamless; a kick leaves it at once. Either way
   * the session keeps owning its name (for the session TTL), and comes back under it.
   */
  #leave(immediately = false): void {
    this.#hasLeft = true;
    clearTimeout(this.#waitTimer);
    clearTimeout(this.#signInTimer);
    this.#context.admission.releaseWaiting(this.#address, this.#waitingBytes);
    this.#waitingBytes = 0;
    this.#waiting = [];
    this.#leaveRoom(immediately);
  }

  /** Leaves this room (see #leave), the connection staying open when it has not left. */
  #leaveRoom(immediately: boolean): void {
    const { hub, sessions, engine, log } = this.#context;
    const ended = this.#session;
    if (ended && this.#isTyping) this.#setTyping(ended, false);
    clearTimeout(this.#typingTimer);
    if (this.#isInHub) hub.remove(this);
    this.#isInHub = false;
    if (!ended || this.#isDetached) return;
    this.#isDetached = true;
    const onEnd = () => engine.leave(ended.room, ended.name, ended.token).catch((err: unknown) => log(`leave failed for ${ended.name}: ${String(err)}`));
    // Online for the grace period, with no connection here: direct messages to it are kept.
    if (sessions.detach(ended, onEnd, immediately)) engine.away(ended.room, ended.name).catch(() => {});
  }

  /**
   * Publishes a chat message once per id: a retry of an id the session already sent (on any
   * process, with Redis) is acknowledged with its seq and not sent again; the engine remembers ids.
   */
  #publish(session: Session, text: string, id: string | undefined, action: true | undefined): Promise<void> {
    const { engine, counters, now, log, moderation } = this.#context;
    const { room } = this;
    const refusal = moderation.sendRefusal(this, true);
    if (refusal) return Promise.resolve(this.#sendError(id === undefined ? refusal : { ...refusal, id }));
    counters.messagesPublished++;
    return engine.publish(room, { sender: session.name, message: text, ts: now(), ...(action && { action }) }, { token: session.token, id }).then(
      ({ seq }) => {
        if (id !== undefined) this.#reply({ type: 'ack', data: { id, seq } });
      },
      // Never a silent drop: the sender hears that its message went nowhere, and may send it again.
      (err: unknown) => {
        log(`publish failed in ${room}: ${String(err)}`);
        this.#unavailable('your message could not be sent just now and reached nobody; send it again in a moment', id);
      },
    );
  }

  /** Takes a new name if nobody in the room has it or one that looks like it (see nameKey); everyone is told `peer-renamed`. */
  #rename(session: Session, to: string): Promise<void> | void {
    const { engine, log } = this.#context;
    const from = session.name;
    if (to === from) return this.#sendError({ code: 'bad-name', message: `you are already called ${JSON.stringify(from)}` });
    if (this.#context.auth.mode === 'jwt') return this.#sendError({ code: 'bad-name', message: 'here your name comes from your sign-in; the application that signed you in can change it' });
    // A new name is said to the room: a muted person says nothing.
    const muted = this.#context.moderation.sendRefusal(this, false);
    if (muted) return this.#sendError(muted);
    return engine
      .rename(this.room, from, to, session.token)
      .then((isRenamed) => {
        if (!isRenamed) {
          this.#sendError({ code: 'name-taken', message: `someone in this room is already called ${JSON.stringify(to)}, or a name that looks like it, or owns it while away (case and look-alike letters do not count); pick another` });
          return;
        }
        session.name = to;
      })
      .catch((err: unknown) => {
        log(`rename failed in ${this.room}: ${String(err)}`);
        this.#sendError({ code: 'unavailable', message: 'your new name could not be kept just now; you are still called ' + JSON.stringify(session.name) + '; try again in a moment' });
      });
  }

  /** Tells the room this peer is typing, or has stopped; the state lapses after `typingMs`. */
  #setTyping(session: Session, typing: boolean): void {
    const { engine, config, log } = this.#context;
    clearTimeout(this.#typingTimer);
    if (typing) this.#typingTimer = setTimeout(() => this.#setTyping(session, false), config.typingMs).unref();
    if (typing === this.#isTyping) return;
    // Nor is a muted person shown typing (a stop is always said: it ends what was shown before the mute).
    if (typing && this.#context.moderation.sendRefusal(this, false)) return;
    this.#isTyping = typing;
    engine.signal(this.room, { type: 'typing', data: { name: session.name, typing } }).catch((err: unknown) => log(`typing failed in ${this.room}: ${String(err)}`));
  }

  /**
   * Sends to one peer of this room (every connection of it, on any process) and, as confirmation,
   * to the sender; a recipient that is not connected now gets it when it next connects. Never in
   * history.
   */
  async #direct(session: Session, to: string, message: string): Promise<void> {
    const { engine, now, moderation } = this.#context;
    const refusal = moderation.sendRefusal(this, false);
    if (refusal) return this.#sendError(refusal);
    const outcome = await engine.direct(this.room, { from: session.name, to, message, ts: now() });
    if (outcome === 'unknown') this.#sendError({ code: 'unknown-recipient', message: `nobody called ${JSON.stringify(to)} is in this room` });
    else if (outcome === 'full') this.#sendError({ code: 'recipient-full', message: `${JSON.stringify(to)} is away and has ${this.#context.config.maxKeptDirect} direct messages waiting already; this one was not kept: send it again when they are back` });
  }

  /** Answers a scroll-back request: older messages, oldest first, then where the page ends. */
  async #history(before: number, limit: number): Promise<void> {
    const { engine, config } = this.#context;
    const page = await engine.history(this.room, before, Math.min(limit, config.historyPageMax));
    for (const message of page.messages) this.#send(historyFrame(message));
    this.#reply({ type: 'history-page', data: { before, count: page.messages.length, more: page.more } });
  }
}
