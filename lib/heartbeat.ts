// Detecting dead connections: ping each peer every interval; one that has not answered since the
// last ping is cut off (the ws README's "How to detect and close broken connections").

import type { WebSocket } from 'ws';

/**
 * Starts pinging `socket` and returns the function that stops it. The first ping comes after a
 * random part of the interval, so that ten thousand peers who joined together are not all pinged in
 * the same instant. Any frame from the peer counts as an answer.
 */
export function startHeartbeat(socket: WebSocket, intervalMs: number, random: () => number): () => void {
  let isAlive = true;
  const markAlive = () => {
    isAlive = true;
  };
  socket.on('pong', markAlive);
  socket.on('message', markAlive);
  const beat = () => {
    if (!isAlive) {
      socket.terminate();
      return;
    }
    isAlive = false;
    socket.ping();
    timer = setTimeout(beat, intervalMs).unref();
  };
  let timer = setTimeout(beat, Math.floor(random() * intervalMs)).unref();
  return () => clearTimeout(timer);
}
