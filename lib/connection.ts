// One WebSocket connection's life: join a room, police and parse each incoming frame, write every
// outgoing frame, leave on close. The connection is the WebSocket itself (`ws` builds it as the
// server's WebSocket class), so ten thousand idle peers each cost one object and its fields, not a
// socket plus a state object plus listener closures.

import type { Writable } from 'node:stream';
import { type RawData, WebSocket } from 'ws';
import type { Admission } from './admission.ts';
import type { Config } from './config.ts';
import type { Engine } from './engine.ts';
import { CLOSE, type CloseInfo, type ProtocolError } from './errors.ts';
import type { Heartbeat, Pulse } from './heartbeat.ts';
import type { Hub, Peer } from './hub.ts';
import type { Counters } from './metrics.ts';
import { type Flusher, framePong, frameText, Outbox, PING_FRAME } from './outbox.ts';
import { type ChatMessage, type ClientEvent, encodeEvent, HELP, parseClientFrame, parseResume, type ServerEvent } from './protocol.ts';
import { TokenBucket } from './rate-limit.ts';
import { newToken, type Session, type Sessions } from './sessions.ts';
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
  now: () => number;
  log: (message: string) => void;
}

function ignore(): void {}

/**
 * A kept message framed as history, made once per message object: fifty clients resuming over the
 * same messages of a store that keeps them in memory frame each once, not fifty times.
 */
const historyFrames = new WeakMap<ChatMessage, Buffer>();
function historyFrame(message: ChatMessage): Buffer {
  let frame = historyFrames.get(message);
  if (!frame) historyFrames.set(message, (frame = frameText(encodeEvent({ type: 'message', data: { ...message, history: true } }))));
  return frame;
}

/** A WebSocket that is the hub's peer (once it has joined) and the heartbeat's pulse. */
export class Connection extends WebSocket implements Peer, Pulse {
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
  #held: Array<{ frame: Buffer; seq: number | undefined }> | undefined = [];
  #heldBytes = 0;
  /** Set while the replay is being written: the entry's deadline then blames the reader, not the join. */
  #isReplaying = false;
  /** The room's position this client has: the newest seq it was sent. */
  #seq = 0;

  /**
   * Takes over this freshly upgraded socket for `room`; `raw` is the TCP socket under it, `query`
   * the upgrade URL's query (a resume request) and `address` the client's address, whose budgets
   * its events spend. Reading is paused until the peer is in the room, so that the client first sees
   * its greeting and replay, and nothing it sends is handled before.
   */
  accept(raw: Writable, room: string, query: string, address: string, context: ConnectionContext): void {
    const { config, now, heartbeat } = context;
    this.room = room;
    this.#address = address;
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
    // The whole entry (join, greeting, replay) has one deadline: neither a join that hangs nor a
    // reader that does not take its replay holds the socket for longer.
    const deadline = setTimeout(() => {
      if (this.#isReplaying) this.#tooSlow(CLOSE.slowReplay);
      else this.#kick(CLOSE.joinFailed);
    }, config.replayTimeoutMs).unref();
    this.#enter(query)
      .catch((err: unknown) => {
        context.log(`join failed in ${room}: ${String(err)}`);
        this.#kick(CLOSE.joinFailed);
      })
      .finally(() => clearTimeout(deadline));
  }

  /** The session's name: every connection of a session changes with it. */
  get name(): string {
    return this.#session?.name ?? '';
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
    if (connection.#hasLeft || connection.#spend(CLOSE.pingFlood) !== 0) return;
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
  deliver(frame: Buffer, seq?: number): void {
    if (this.#held) {
      // Live events wait behind a replay, within the same bound as any reader's backlog.
      this.#heldBytes += frame.length;
      if (this.#heldBytes > this.#context.config.maxBufferedBytes) this.#tooSlow(CLOSE.slow);
      else this.#held.push({ frame, seq });
      return;
    }
    if (seq !== undefined) {
      if (seq !== 0 && seq <= this.#seq) return;
      this.#seq = seq;
    }
    this.#send(frame);
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

  #tooSlow(close: CloseInfo): void {
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
  async #enter(query: string): Promise<void> {
    const { engine, config, hub } = this.#context;
    const { room } = this;
    const { since, token } = parseResume(query);
    // The engine keeps the session before the join resolves, so before its token is handed out.
    const { snapshot, hasMail } = await this.#takeSession(token);
    const session = this.#session!;
    // Read a page at a time (see #writeReplay): a resume of --max-replay messages is never in memory whole.
    const [replay, missed] = await Promise.all([engine.replay(room, since, config.historyOnJoin, config.historyPageMax), hasMail ? engine.missed(session.token, room) : []]);
    if (this.#hasLeft || this.readyState !== WebSocket.OPEN) {
      this.#leave();
      return;
    }
    this.#reply({ type: 'name-generated', data: session.name });
    this.#send(snapshot);
    this.#reply({ type: 'session', data: { token: session.token, maxMessageChars: config.maxMessageChars } });
    if (!(await this.#writeReplay(replay.messages, replay.seq))) return;
    const { messages, ...position } = replay;
    this.#reply({ type: 'synced', data: position });
    // Kept direct messages are forgotten only once they are on their way to this connection.
    for (const direct of missed) this.#reply({ type: 'direct-message', data: { ...direct, missed: true } });
    if (missed.length > 0) engine.dropMissed(session.token, room, missed.length).catch((err: unknown) => this.#context.log(`could not forget the direct messages handed to ${session.name}: ${String(err)}`));
    this.#seq = replay.seq;
    const held = this.#held!;
    this.#held = undefined;
    this.#heldBytes = 0;
    for (const { frame, seq } of held) this.deliver(frame, seq);
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
        this.#outbox.push(historyFrame(message));
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
  async #takeSession(token: string | undefined): Promise<{ snapshot: Buffer; hasMail: boolean }> {
    const { sessions, engine, hub } = this.#context;
    const { room } = this;
    let session = sessions.resume(token, room);
    // Held from now, so that a close while joining lets go of it.
    this.#session = session;
    let isFirst = session?.connections === 1;
    let snapshot: Buffer | undefined;
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
        },
      });
    const resumed = owned === undefined ? undefined : await enter({ token: token!, name: owned });
    // A name that now belongs to someone else (Redis lost its data) is given up for a fresh one.
    const entered = resumed ?? (await enter({ token: newToken() }));
    if (!entered) throw new Error('no name could be taken');
    return { snapshot: snapshot!, hasMail: resumed !== undefined && isFirst };
  }

  #receive(data: RawData, isBinary: boolean): void {
    const { counters, config } = this.#context;
    this.isAlive = true;
    counters.framesReceived++;
    const session = this.#session;
    if (!session || this.#hasLeft) return;
    const wait = this.#spend(CLOSE.flood);
    if (wait > 0) {
      if (!this.#hasLeft) this.#sendError({ code: 'rate-limited', message: `too many events; retry in ${wait} ms`, retryAfterMs: wait });
      return;
    }
    if (isBinary) {
      this.#kick(CLOSE.binary);
      return;
    }
    const result = parseClientFrame(data.toString(), config);
    if (result.ok) this.#handle(session, result.event);
    else this.#sendError(result.error);
  }

  /**
   * Spends one event of this connection's budget and of its address's (all of the address's
   * connections share that one, so reconnecting earns nothing): returns 0 when the event may pass,
   * else the ms until it could. One that keeps going over is closed with `flood`.
   */
  #spend(flood: CloseInfo): number {
    const { counters, config, admission, now } = this.#context;
    const wait = this.#bucket.take() || admission.takeEvent(this.#address);
    if (wait === 0) return 0;
    counters.rateLimited++;
    this.#strikes ??= new TokenBucket(config.floodLimit, config.ratePerSecond, now);
    if (this.#strikes.take() > 0) this.#kick(flood);
    return wait;
  }

  #handle(session: Session, event: ClientEvent): void {
    const { engine } = this.#context;
    if (event.type === 'ping') this.#reply({ type: 'pong', data: null });
    else if (event.type === 'rename') this.#rename(session, event.data);
    else if (event.type === 'direct-message') this.#direct(session, event.data.to, event.data.message).catch(() => this.#unavailable('your direct message could not be sent just now and reached nobody; send it again in a moment'));
    else if (event.type === 'history') this.#history(event.data.before, event.data.limit).catch(() => this.#unavailable('older messages could not be read just now; ask again in a moment'));
    else if (event.type === 'typing') this.#setTyping(session, event.data);
    else if (event.type === 'who') engine.peers(this.room).then((names) => this.#reply({ type: 'update-peers', data: names }), () => this.#unavailable('who is here could not be read just now; ask again in a moment'));
    else if (event.type === 'help') this.#reply({ type: 'help', data: HELP });
    else {
      this.#setTyping(session, false);
      this.#publish(session, event.data, event.id);
    }
  }

  /** Sends an event meant for this peer alone. */
  #reply(event: ServerEvent): void {
    this.#send(frameText(encodeEvent(event)));
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
    const { hub, sessions, engine, log } = this.#context;
    const ended = this.#session;
    if (ended && this.#isTyping) this.#setTyping(ended, false);
    clearTimeout(this.#typingTimer);
    this.#hasLeft = true;
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
  #publish(session: Session, text: string, id: string | undefined): void {
    const { engine, counters, now, log } = this.#context;
    const { room } = this;
    counters.messagesPublished++;
    engine.publish(room, { sender: session.name, message: text, ts: now() }, { token: session.token, id }).then(
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
  #rename(session: Session, to: string): void {
    const { engine, log } = this.#context;
    const from = session.name;
    if (to === from) {
      this.#sendError({ code: 'bad-name', message: `you are already called ${JSON.stringify(from)}` });
      return;
    }
    engine
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
    this.#isTyping = typing;
    engine.signal(this.room, { type: 'typing', data: { name: session.name, typing } }).catch((err: unknown) => log(`typing failed in ${this.room}: ${String(err)}`));
  }

  /**
   * Sends to one peer of this room (every connection of it, on any process) and, as confirmation,
   * to the sender; a recipient that is not connected now gets it when it next connects. Never in
   * history.
   */
  async #direct(session: Session, to: string, message: string): Promise<void> {
    const { engine, now } = this.#context;
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
