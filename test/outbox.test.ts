import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import * as ws from 'ws';
import { createCounters } from '../lib/metrics.ts';
import { Flusher, frameText, Outbox } from '../lib/outbox.ts';

const OPEN = { readyState: 1 };

/** A stream that records each write it is handed. */
function recordingStream(): Writable & { writes: Buffer[] } {
  const writes: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push(chunk);
      done();
    },
  });
  return Object.assign(stream, { writes });
}

// ws exports its frame parser, but @types/ws does not declare it.
const { Receiver } = ws as unknown as { Receiver: new (options: { isServer: boolean }) => Writable };

/** Decodes server frames with ws's own parser, as a client would. */
function decode(bytes: Buffer): string[] {
  const texts: string[] = [];
  const receiver = new Receiver({ isServer: false });
  receiver.on('message', (data: Buffer) => texts.push(data.toString()));
  receiver.write(bytes);
  return texts;
}

test('frameText makes frames a WebSocket client reads, at each length encoding', () => {
  const texts = ['', 'hi', 'é'.repeat(100), 'x'.repeat(70_000)];
  assert.deepEqual(decode(Buffer.concat(texts.map(frameText))), texts);
});

test('the frames of one turn leave in one write per socket, after the turn', async () => {
  const counters = createCounters();
  const flusher = new Flusher(counters);
  const a = recordingStream();
  const b = recordingStream();
  const toA = new Outbox(a, flusher, OPEN);
  const toB = new Outbox(b, flusher, OPEN);
  for (const text of ['one', 'two', 'three']) {
    toA.push(frameText(text));
    toB.push(frameText(text));
  }
  assert.equal(a.writes.length, 0, 'nothing is written during the turn');
  assert.equal(toA.bufferedBytes, 3 * 2 + 11, 'queued bytes count as owed');
  await nextTurn();
  assert.equal(a.writes.length, 1);
  assert.deepEqual(decode(a.writes[0]!), ['one', 'two', 'three']);
  assert.deepEqual(decode(b.writes[0]!), ['one', 'two', 'three']);
  assert.equal(counters.framesSent, 6);

  toA.push(frameText('next turn'));
  await nextTurn();
  assert.deepEqual(decode(a.writes[1]!), ['next turn']);
});

test('frames owed to a closed socket are dropped and counted', async () => {
  const counters = createCounters();
  const stream = recordingStream();
  const outbox = new Outbox(stream, new Flusher(counters), { readyState: 3 });
  outbox.push(frameText('late'));
  await nextTurn();
  assert.equal(stream.writes.length, 0);
  assert.equal(counters.framesDropped, 1);
});
