// One WebSocket connection's life: join a room, police and parse each incoming frame, write every
// outgoing frame, leave on close.

import type { Writable } from 'node:stream';
import { WebSocket } from 'ws';
import type { Config } from './config.ts';
import type { Engine } from './engine.ts';
import { CLOSE, type CloseInfo, type ProtocolError } from './errors.ts';
import type { Heartbeat, Pulse } from './heartbeat.ts';
import type { Hub, Peer } from './hub.ts';
import type { Counters } from './metrics.ts';
import { type Flusher, frameText, Outbox, PING_FRAME } from './outbox.ts';
import { encodeEvent, HELP, parseClientFrame, parseResume, type ServerEvent } from './protocol.ts';
import { TokenBucket } from './rate-limit.ts';
import type { Session, Sessions } from './sessions.ts';

export interface ConnectionContext {
  hub: Hub;
  flusher: Flusher;
  heartbeat: Heartbeat;
  counters: Counters;
  sessions: Sessions;
  engine: Engine;
  config: Config;
  now: () => number;
  log: (message: string) => void;
}

/**
 * Takes over a freshly upgraded socket for `room`; `raw` is the TCP socket under it and `query`
 * the upgrade URL's query (a resume request). Reading is paused until the peer is in the room, so that the
 * client first sees its greeting and replay, and nothing it sends is handled before.
 */
export function acceptConnection(socket: WebSocket, raw: Writable, room: string, query: string, context: ConnectionContext): void {
  const { hub, flusher, heartbeat, counters, sessions, engine, config, now, log } = context;
  const outbox = new Outbox(raw, flusher, () => socket.readyState === WebSocket.OPEN);
  const bucket = new TokenBucket(config.rateBurst, config.ratePerSecond, now);
  // Refusals are counted by a bucket of their own: a client that goes over the limit now and then
  // earns its allowance back, while one that keeps flooding runs out of it and is closed.
  const strikes = new TokenBucket(config.floodLimit, config.ratePerSecond, now);
  let session: Session | undefined;
  let peer: Peer | undefined;
  let hasLeft = false;
  let isDetached = false;
  let isTyping = false;
  let typingTimer: NodeJS.Timeout | undefined;
  // Raised by the size of a replay until the reader has worked its way back under the limit.
  let bufferLimit = config.maxBufferedBytes;

  /**
   * Queues one framed message. Every frame to this peer passes here, broadcasts included (only the
   * replay and pings go straight to the outbox), so that the frames of one event-loop turn leave in
   * one write, and a reader that falls more than `maxBufferedBytes` behind is closed instead of
   * growing memory.
   */
  function send(frame: Buffer): void {
    if (socket.readyState !== WebSocket.OPEN) {
      counters.framesDropped++;
      return;
    }
    const buffered = outbox.bufferedBytes;
    if (buffered > bufferLimit) {
      counters.slowConsumerCloses++;
      kick(CLOSE.slow);
      return;
    }
    if (buffered <= config.maxBufferedBytes) bufferLimit = config.maxBufferedBytes;
    outbox.push(frame);
  }

  /** Sends an event meant for this peer alone. */
  function reply(event: ServerEvent): void {
    send(frameText(encodeEvent(event)));
  }

  /** Refuses the client's last event; the connection stays open. */
  function sendError(error: ProtocolError): void {
    reply({ type: 'error', data: error });
  }

  /**
   * Leaves the room; safe to call again. A plain disconnect keeps the session's name for the grace period, so a
   * reconnect with its token is seamless; a kick ends the session at once.
   */
  function leave(immediately = false): void {
    if (session && isTyping) setTyping(session, false);
    clearTimeout(typingTimer);
    hasLeft = true;
    if (peer) hub.remove(peer);
    const ended = session;
    if (!ended || isDetached) return;
    isDetached = true;
    sessions.detach(
      ended,
      () => engine.leave(ended.room, ended.name).catch((err: unknown) => log(`leave failed for ${ended.name}: ${String(err)}`)),
      immediately,
    );
  }

  /** Closes with a documented code; the peer leaves at once, even if the socket lingers to flush. */
  function kick(close: CloseInfo): void {
    leave(true);
    outbox.flush();
    socket.close(close.code, close.reason);
  }

  /** Publishes a chat message once per id: a retry of an id already sent is acknowledged with its seq. */
  function publish(active: Session, text: string, id: string | undefined): void {
    const ack = (seq: number) => reply({ type: 'ack', data: { id: id!, seq } });
    const known = id === undefined ? undefined : sessions.seqOf(active, id);
    if (known) {
      void known.then(ack, () => {});
      return;
    }
    counters.messagesPublished++;
    const seq = engine.publish(room, { sender: active.name, message: text, ts: now() }).then((message) => message.seq);
    if (id === undefined) {
      seq.catch((err: unknown) => log(`publish failed in ${room}: ${String(err)}`));
      return;
    }
    sessions.remember(active, id, seq);
    seq.then(ack, (err: unknown) => {
      active.sent.delete(id);
      log(`publish failed in ${room}: ${String(err)}`);
    });
  }

  /** Takes a new name if nobody in the room has it (ignoring case); everyone is told `peer-renamed`. */
  function rename(active: Session, to: string): void {
    const from = active.name;
    if (to === from) return;
    engine.rename(room, from, to).then(
      (isRenamed) => {
        if (!isRenamed) {
          sendError({ code: 'name-taken', message: `someone in this room is already called ${JSON.stringify(to)} (names ignore case); pick another` });
          return;
        }
        active.name = to;
        if (peer) peer.name = to;
      },
      (err: unknown) => log(`rename failed in ${room}: ${String(err)}`),
    );
  }

  /** Tells the room this peer is typing, or has stopped; the state lapses after `typingMs`. */
  function setTyping(active: Session, typing: boolean): void {
    clearTimeout(typingTimer);
    if (typing) typingTimer = setTimeout(() => setTyping(active, false), config.typingMs).unref();
    if (typing === isTyping) return;
    isTyping = typing;
    engine.signal(room, { type: 'typing', data: { name: active.name, typing } }).catch((err: unknown) => log(`typing failed in ${room}: ${String(err)}`));
  }

  /** Sends to one peer of this room (every connection of it) and, as confirmation, to the sender. Never in history. */
  function direct(active: Session, to: string, message: string): void {
    const targets = hub.named(room, to);
    if (targets.length === 0) {
      sendError({ code: 'unknown-recipient', message: `nobody called ${JSON.stringify(to)} is in this room` });
      return;
    }
    const frame = frameText(encodeEvent({ type: 'direct-message', data: { from: active.name, to: targets[0]!.name, message, ts: now() } }));
    for (const target of targets) target.send(frame);
    if (!targets.includes(peer!)) send(frame);
  }

  const pulse: Pulse = { isAlive: true, ping: () => outbox.push(PING_FRAME), terminate: () => socket.terminate() };
  heartbeat.add(pulse);
  socket.on('pong', () => {
    pulse.isAlive = true;
  });
  // `ws` reports protocol violations (oversize, bad UTF-8, ...) here and then closes the socket with
  // the RFC code; without a listener the error would crash the process.
  socket.on('error', () => {});
  socket.on('close', () => {
    heartbeat.remove(pulse);
    leave();
  });
  socket.on('message', (data, isBinary) => {
    pulse.isAlive = true;
    counters.framesReceived++;
    if (!session || hasLeft) return;
    const wait = bucket.take();
    if (wait > 0) {
      counters.rateLimited++;
      if (strikes.take() > 0) kick(CLOSE.flood);
      else sendError({ code: 'rate-limited', message: `too many events; retry in ${wait} ms`, retryAfterMs: wait });
      return;
    }
    if (isBinary) {
      kick(CLOSE.binary);
      return;
    }
    const result = parseClientFrame(data.toString(), config);
    if (!result.ok) sendError(result.error);
    else if (result.event.type === 'ping') reply({ type: 'pong', data: null });
    else if (result.event.type === 'rename') rename(session, result.event.data);
    else if (result.event.type === 'direct-message') direct(session, result.event.data.to, result.event.data.message);
    else if (result.event.type === 'typing') setTyping(session, result.event.data);
    else if (result.event.type === 'who') void engine.peers(room).then((names) => reply({ type: 'update-peers', data: names }));
    else if (result.event.type === 'help') reply({ type: 'help', data: HELP });
    else {
      setTyping(session, false);
      publish(session, result.event.data, result.event.id);
    }
  });

  socket.pause();
  enter().catch((err: unknown) => {
    log(`join failed in ${room}: ${String(err)}`);
    kick(CLOSE.joinFailed);
  });

  // Takes the session back by its token or starts one, then greets and replays. The greeting, the
  // replay and registering in the hub happen in one synchronous step after the engine answers, so
  // no live message falls between the replay and the first live frame.
  async function enter(): Promise<void> {
    const { since, token } = parseResume(query);
    const resumed = sessions.resume(token, room);
    let peers: string[];
    if (resumed) {
      session = resumed;
      peers = await engine.peers(room);
    } else {
      const joined = await engine.join(room);
      session = sessions.create(room, joined.name);
      peers = joined.peers;
    }
    const replay = await engine.replay(room, since, config.historyOnJoin);
    if (hasLeft || socket.readyState !== WebSocket.OPEN) {
      leave();
      return;
    }
    peer = { socket, room, name: session.name, joinedAt: now(), send };
    hub.add(peer);
    reply({ type: 'name-generated', data: session.name });
    reply({ type: 'update-peers', data: peers });
    reply({ type: 'session', data: { token: session.token } });
    // A replay may be larger than --max-buffered-bytes (up to --history-size messages); it is owed
    // in full, so it is not policed. Live frames behind it are.
    for (const message of replay.messages) outbox.push(frameText(encodeEvent({ type: 'message', data: { ...message, history: true } })));
    bufferLimit = config.maxBufferedBytes + outbox.bufferedBytes;
    const { messages, ...position } = replay;
    reply({ type: 'synced', data: position });
    socket.resume();
  }
}
