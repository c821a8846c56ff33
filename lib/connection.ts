// One WebSocket connection's life: join a room, turn each incoming frame into an event or a named
// error, leave on close.

import type { WebSocket } from 'ws';
import type { Config } from './config.ts';
import type { Engine } from './engine.ts';
import { CLOSE } from './errors.ts';
import { type Hub, type Peer, sendFrame } from './hub.ts';
import { encodeEvent, parseClientFrame } from './protocol.ts';

/** The room every connection joins until rooms can be chosen. */
export const DEFAULT_ROOM = 'lobby';

export interface ConnectionContext {
  hub: Hub;
  engine: Engine;
  config: Config;
  now: () => number;
  log: (message: string) => void;
}

/**
 * Takes over a freshly upgraded socket. Reading is paused until the peer has its name, so that the
 * first frames the client sees are `name-generated` then `update-peers`, and nothing it sends is
 * handled before it is in the room.
 */
export function acceptConnection(socket: WebSocket, { hub, engine, config, now, log }: ConnectionContext): void {
  const room = DEFAULT_ROOM;
  let peer: Peer | undefined;
  let isClosed = false;

  // `ws` reports protocol violations (oversize, bad UTF-8, ...) here and then closes the socket with
  // the RFC code; without a listener the error would crash the process.
  socket.on('error', () => {});
  socket.on('close', () => {
    isClosed = true;
    if (!peer) return;
    hub.remove(peer);
    engine.leave(room, peer.name).catch((err: unknown) => log(`leave failed for ${peer?.name}: ${String(err)}`));
  });
  socket.on('message', (data, isBinary) => {
    if (!peer) return;
    if (isBinary) {
      socket.close(CLOSE.binary.code, CLOSE.binary.reason);
      return;
    }
    const result = parseClientFrame(data.toString(), config);
    if (!result.ok) {
      sendFrame(peer, encodeEvent({ type: 'error', data: result.error }));
      return;
    }
    engine
      .publish(room, { sender: peer.name, message: result.event.data, ts: now() })
      .catch((err: unknown) => log(`publish failed in ${room}: ${String(err)}`));
  });

  socket.pause();
  engine.join(room).then(
    ({ name, peers }) => {
      if (isClosed) {
        void engine.leave(room, name);
        return;
      }
      peer = { socket, room, name, joinedAt: now() };
      hub.add(peer);
      sendFrame(peer, encodeEvent({ type: 'name-generated', data: name }));
      sendFrame(peer, encodeEvent({ type: 'update-peers', data: peers }));
      socket.resume();
    },
    (err: unknown) => {
      log(`join failed in ${room}: ${String(err)}`);
      socket.close(CLOSE.joinFailed.code, CLOSE.joinFailed.reason);
    },
  );
}
