import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WriteBatch } from '../lib/write-batch.ts';

/** A stream that records each write it is handed: a batch of chunks per call. */
function recordingStream(): Writable & { calls: string[][] } {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      calls.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      calls.push(chunks.map(({ chunk }) => String(chunk)));
      done();
    },
  });
  return Object.assign(stream, { calls });
}

test('frames written in one turn leave in one write, per stream, after the turn', async () => {
  const batch = new WriteBatch();
  const a = recordingStream();
  const b = recordingStream();
  for (const frame of ['one', 'two', 'three']) {
    batch.hold(a);
    a.write(frame);
    batch.hold(b);
    b.write(frame);
  }
  assert.deepEqual(a.calls, [], 'nothing is written during the turn');
  await nextTurn();
  assert.deepEqual(a.calls, [['one', 'two', 'three']]);
  assert.deepEqual(b.calls, [['one', 'two', 'three']]);

  batch.hold(a);
  a.write('next turn');
  await nextTurn();
  assert.deepEqual(a.calls.at(-1), ['next turn']);
});
