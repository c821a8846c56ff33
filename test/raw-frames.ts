// Raw WebSocket bytes for tests that must send what a well-behaved client library never would.

import { randomBytes } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { after } from 'node:test';

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** An HTTP upgrade request for `path`, as a WebSocket client sends it. */
export function upgradeRequest(path = '/ws', extraHeaders = '', host = '127.0.0.1'): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`
  );
}

/** Sends raw bytes and returns everything the server answers until it closes the connection. */
export function rawRequest(port: number, text: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', () => {});
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`the server neither answered nor closed within ${timeoutMs} ms; got ${JSON.stringify(answer.slice(0, 200))}`));
    });
  });
}

/** One client frame; masked unless `mask` is false, final unless `fin` is false. */
export function clientFrame(opcode: number, payload: Buffer | string, { fin = true, mask = true, rsv = 0 } = {}): Buffer {
  const body = Buffer.from(payload);
  const length = body.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (mask ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  header[1] = (mask ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) header.writeUInt16BE(length, 2);
  if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(length), 2);
  if (!mask) return Buffer.concat([header, body]);
  const key = randomBytes(4);
  key.copy(header, 2 + lengthBytes);
  const masked = Buffer.from(body.map((byte, i) => byte ^ key[i % 4]!));
  return Buffer.concat([header, masked]);
}

/** Splits the server's unmasked frames out of `bytes`; returns them and whatever incomplete tail is left. */
export function parseServerFrames(bytes: Buffer): { frames: Array<{ opcode: number; payload: Buffer }>; rest: Buffer } {
  const frames: Array<{ opcode: number; payload: Buffer }> = [];
  let offset = 0;
  while (bytes.length - offset >= 2) {
    const opcode = bytes[offset]! & 0x0f;
    let length = bytes[offset + 1]! & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      if (bytes.length < start + 2) break;
      length = bytes.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      if (bytes.length < start + 8) break;
      length = Number(bytes.readBigUInt64BE(start));
      start += 8;
    }
    if (bytes.length < start + length) break;
    frames.push({ opcode, payload: bytes.subarray(start, start + length) });
    offset = start + length;
  }
  return { frames, rest: bytes.subarray(offset) };
}

export interface RawFrame {
  opcode: number;
  payload: Buffer;
}

/** A WebSocket client on a bare TCP socket: it answers nothing by itself, not even pings. */
export interface RawPeer {
  readonly socket: Socket;
  /** The HTTP status line the server answered the upgrade with. */
  readonly status: string;
  /** The header lines of that answer. */
  readonly headers: string;
  /** The next frame from the server; rejects after `timeoutMs` or when the socket ends first. */
  nextFrame(timeoutMs?: number): Promise<RawFrame>;
  /** Reads frames until a close frame and returns its code (1005 when it carries none). */
  closeCode(timeoutMs?: number): Promise<number>;
  /** Resolves when the TCP connection has ended. */
  readonly ended: Promise<void>;
}

/** Opens a TCP connection (from `localAddress`, any 127.x.y.z), sends an upgrade for `path`, and parses what the server sends back. */
export async function openRawPeer(port: number, path = '/ws', extraHeaders = '', localAddress?: string): Promise<RawPeer> {
  const socket = connectTcp({ port, host: '127.0.0.1', localAddress });
  after(() => socket.destroy());
  socket.on('error', () => {});
  let bytes: Buffer = Buffer.alloc(0);
  let status: string | undefined;
  let headers = '';
  const frames: RawFrame[] = [];
  let wake: (() => void) | undefined;
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void ended.then(() => wake?.());
  socket.on('data', (chunk: Buffer) => {
    bytes = Buffer.concat([bytes, chunk]);
    if (status === undefined) {
      const headerEnd = bytes.indexOf('\r\n\r\n');
      if (headerEnd === -1) return;
      status = bytes.subarray(0, bytes.indexOf('\r\n')).toString('latin1');
      headers = bytes.subarray(0, headerEnd).toString('latin1');
      bytes = bytes.subarray(headerEnd + 4);
    }
    const parsed = parseServerFrames(bytes);
    frames.push(...parsed.frames);
    bytes = parsed.rest;
    wake?.();
  });
  socket.write(upgradeRequest(path, extraHeaders, `127.0.0.1:${port}`));
  await waitFor(() => status !== undefined, 3000, () => 'no HTTP answer to the upgrade');

  async function waitFor(isReady: () => boolean, timeoutMs: number, problem: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!isReady()) {
      const left = deadline - Date.now();
      if (left <= 0 || socket.closed) throw new Error(problem());
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  const peer: RawPeer = {
    socket,
    status: status!,
    headers,
    async nextFrame(timeoutMs = 3000) {
      await waitFor(() => frames.length > 0, timeoutMs, () => (socket.closed ? 'the socket closed with no frame' : `no frame within ${timeoutMs} ms`));
      return frames.shift()!;
    },
    async closeCode(timeoutMs = 3000) {
      for (;;) {
        const frame = await peer.nextFrame(timeoutMs);
        if (frame.opcode === OPCODE.close) return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
      }
    },
    ended,
  };
  return peer;
}
