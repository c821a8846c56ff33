// One WebSocket connection's life: join a room, police and parse each incoming frame, write every
// outgoing frame, leave on close.

import type { Writable } from 'node:stream';
import { WebSocket } from 'ws';
import type { Config } from './config.ts';
import type { Engine } from './engine.ts';
import { CLOSE, type CloseInfo } from './errors.ts';
import { startHeartbeat } from './heartbeat.ts';
import type { Hub, Peer } from './hub.ts';
import { encodeEvent, parseClientFrame } from './protocol.ts';
import { TokenBucket } from './rate-limit.ts';
import type { WriteBatch } from './write-batch.ts';

/** The room every connection joins until rooms can be chosen. */
const DEFAULT_ROOM = 'lobby';

export interface ConnectionContext {
  hub: Hub;
  writes: WriteBatch;
  engine: Engine;
  config: Config;
  now: () => number;
  random: () => number;
  log: (message: string) => void;
}

/**
 * Takes over a freshly upgraded socket; `raw` is the TCP socket under it. Reading is paused until the peer has its name, so that the
 * first frames the client sees are `name-generated` then `update-peers`, and nothing it sends is
 * handled before it is in the room.
 */
export function acceptConnection(socket: WebSocket, raw: Writable, { hub, writes, engine, config, now, random, log }: ConnectionContext): void {
  const room = DEFAULT_ROOM;
  const bucket = new TokenBucket(config.rateBurst, config.ratePerSecond, now);
  // Refusals are counted by a bucket of their own: a client that goes over the limit now and then
  // earns its allowance back, while one that keeps flooding runs out of it and is closed.
  const strikes = new TokenBucket(config.floodLimit, config.ratePerSecond, now);
  let peer: Peer | undefined;
  let hasLeft = false;

  /**
   * Writes one text frame. Every frame to this peer passes here, broadcasts included, so that the
   * frames of one event-loop turn leave in one write, and a reader that falls more than
   * `maxBufferedBytes` behind is closed instead of growing memory.
   */
  function send(frame: string | Buffer): void {
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > config.maxBufferedBytes) {
      kick(CLOSE.slow);
      return;
    }
    writes.hold(raw);
    socket.send(frame, { binary: false });
  }

  /** Leaves the room once, whether the socket closed or the server is closing it. */
  function leave(): void {
    if (hasLeft) return;
    hasLeft = true;
    if (!peer) return;
    hub.remove(peer);
    engine.leave(room, peer.name).catch((err: unknown) => log(`leave failed for ${peer?.name}: ${String(err)}`));
  }

  /** Closes with a documented code; the peer leaves at once, even if the socket lingers to flush. */
  function kick(close: CloseInfo): void {
    leave();
    socket.close(close.code, close.reason);
  }

  const stopHeartbeat = startHeartbeat(socket, config.heartbeatMs, random);
  // `ws` reports protocol violations (oversize, bad UTF-8, ...) here and then closes the socket with
  // the RFC code; without a listener the error would crash the process.
  socket.on('error', () => {});
  socket.on('close', () => {
    stopHeartbeat();
    leave();
  });
  socket.on('message', (data, isBinary) => {
    if (!peer || hasLeft) return;
    const wait = bucket.take();
    if (wait > 0) {
      if (strikes.take() > 0) kick(CLOSE.flood);
      else send(encodeEvent({ type: 'error', data: { code: 'rate-limited', message: `too many events; retry in ${wait} ms`, retryAfterMs: wait } }));
      return;
    }
    if (isBinary) {
      kick(CLOSE.binary);
      return;
    }
    const result = parseClientFrame(data.toString(), config);
    if (!result.ok) {
      send(encodeEvent({ type: 'error', data: result.error }));
    } else if (result.event.type === 'ping') {
      send(encodeEvent({ type: 'pong', data: null }));
    } else {
      engine
        .publish(room, { sender: peer.name, message: result.event.data, ts: now() })
        .catch((err: unknown) => log(`publish failed in ${room}: ${String(err)}`));
    }
  });

  socket.pause();
  engine.join(room).then(
    ({ name, peers }) => {
      if (hasLeft || socket.readyState !== WebSocket.OPEN) {
        void engine.leave(room, name);
        return;
      }
      peer = { socket, room, name, joinedAt: now(), send };
      hub.add(peer);
      send(encodeEvent({ type: 'name-generated', data: name }));
      send(encodeEvent({ type: 'update-peers', data: peers }));
      socket.resume();
    },
    (err: unknown) => {
      log(`join failed in ${room}: ${String(err)}`);
      kick(CLOSE.joinFailed);
    },
  );
}
