// A minimal WebSocket client on a bare TCP socket, for the benchmark's load generator: at a million
// frames a second the `ws` client's per-frame work (a Buffer, a string and an event per frame) costs
// more CPU than the servers under test, so this one hands each text frame over as a slice of the
// received chunk and never decodes it.

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

const HEADER_END = Buffer.from('\r\n\r\n');
const OPCODE = { text: 0x1, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface WsClientOptions {
  port: number;
  /** Request path with its query, e.g. `/ws?room=lobby`. */
  path: string;
  /**
   * A text frame's payload is `buf[start, end)`; valid only during the call. `now` is one
   * `performance.now()` per received chunk, not per frame, to keep the per-frame cost down.
   */
  onText(buf: Buffer, start: number, end: number, now: number): void;
  /** The server answered the upgrade with 101. */
  onOpen(): void;
  /** The connection ended without `close()` being called: an error, a refusal or the server closing it. Called at most once. */
  onClose(reason: string): void;
}

/** One WebSocket connection to 127.0.0.1; it answers pings, and counts the bytes it receives. */
export class WsClient {
  /** Bytes received after the handshake, frame headers included. */
  bytesIn = 0;
  #options: WsClientOptions;
  #socket: Socket;
  #isOpen = false;
  #hasEnded = false;
  /** Bytes of the handshake answer or of a frame that straddles chunks, and the total needed to go on. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #needed = 0;

  constructor(options: WsClientOptions) {
    this.#options = options;
    this.#socket = connect(options.port, '127.0.0.1', () => {
      this.#socket.write(
        `GET ${options.path} HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.#socket.setNoDelay(true);
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', (err) => this.#end(err.message));
    this.#socket.on('close', () => this.#end(this.#isOpen ? 'connection closed' : 'closed before 101'));
  }

  /** Sends one masked text frame, as a client must. */
  sendText(text: string): void {
    this.#writeFrame(OPCODE.text, Buffer.from(text));
  }

  /** Ends the connection at once; `onClose` is not called. */
  close(): void {
    this.#hasEnded = true;
    this.#socket.destroy();
  }

  #writeFrame(opcode: number, payload: Buffer): void {
    const length = payload.length;
    const frame = Buffer.allocUnsafe(14 + length);
    let offset = 2;
    frame[0] = 0x80 | opcode;
    if (length < 126) frame[1] = 0x80 | length;
    else if (length < 65536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
      offset = 4;
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(length), 2);
      offset = 10;
    }
    const mask = randomBytes(4);
    mask.copy(frame, offset);
    offset += 4;
    for (let i = 0; i < length; i++) frame[offset + i] = payload[i]! ^ mask[i & 3]!;
    this.#socket.write(frame.subarray(0, offset + length));
  }

  #end(reason: string): void {
    if (this.#hasEnded) return;
    this.#hasEnded = true;
    this.#socket.destroy();
    this.#options.onClose(reason);
  }

  #onData(chunk: Buffer): void {
    if (this.#hasEnded) return;
    // A frame bigger than a chunk is gathered without copying until all of it is here.
    if (this.#pendingBytes + chunk.length < this.#needed) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      if (this.#isOpen) this.bytesIn += chunk.length;
      return;
    }
    let buf = chunk;
    if (this.#pending.length > 0) {
      this.#pending.push(chunk);
      buf = Buffer.concat(this.#pending, this.#pendingBytes + chunk.length);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    this.#needed = 0;
    let offset = 0;
    if (!this.#isOpen) {
      const headerEnd = buf.indexOf(HEADER_END);
      if (headerEnd < 0) return this.#keep(buf, 0, 0);
      const status = buf.toString('latin1', 0, buf.indexOf('\r\n'));
      if (!status.startsWith('HTTP/1.1 101')) return this.#end(`refused: ${status}`);
      this.#isOpen = true;
      this.#options.onOpen();
      offset = headerEnd + HEADER_END.length;
      this.bytesIn += buf.length - offset;
    } else {
      this.bytesIn += chunk.length;
    }
    this.#parseFrames(buf, offset, performance.now());
  }

  #parseFrames(buf: Buffer, from: number, now: number): void {
    let offset = from;
    while (!this.#hasEnded) {
      if (buf.length - offset < 2) return this.#keep(buf, offset, 2);
      const opcode = buf[offset]! & 0x0f;
      let length = buf[offset + 1]! & 0x7f;
      let start = offset + 2;
      if (length === 126) {
        if (buf.length < start + 2) return this.#keep(buf, offset, 4);
        length = buf.readUInt16BE(start);
        start += 2;
      } else if (length === 127) {
        if (buf.length < start + 8) return this.#keep(buf, offset, 10);
        length = buf.readUInt32BE(start) * 2 ** 32 + buf.readUInt32BE(start + 4);
        start += 8;
      }
      const end = start + length;
      if (end > buf.length) return this.#keep(buf, offset, end - offset);
      if (opcode === OPCODE.text) this.#options.onText(buf, start, end, now);
      else if (opcode === OPCODE.ping) this.#writeFrame(OPCODE.pong, buf.subarray(start, end));
      else if (opcode === OPCODE.close) this.#end(`server closed with ${length >= 2 ? buf.readUInt16BE(start) : 'no code'}`);
      offset = end;
    }
  }

  /** Holds `buf[offset..]` until `needed` bytes of it are here. */
  #keep(buf: Buffer, offset: number, needed: number): void {
    if (offset === buf.length) return;
    this.#pending = [buf.subarray(offset)];
    this.#pendingBytes = buf.length - offset;
    this.#needed = needed;
  }
}
