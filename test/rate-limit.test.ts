import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../lib/rate-limit.ts';

test('a burst passes, the next event waits for a token, and tokens come back at the set rate', () => {
  let now = 0;
  const bucket = new TokenBucket(3, 5, () => now);
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [0, 0, 0]);
  assert.equal(bucket.take(), 200, '5 per second: one token every 200 ms');
  now = 100;
  assert.equal(bucket.take(), 100);
  now = 200;
  assert.equal(bucket.take(), 0);
  assert.equal(bucket.take(), 200);
});

test('an idle bucket refills only up to its burst', () => {
  let now = 0;
  const bucket = new TokenBucket(2, 10, () => now);
  bucket.take();
  bucket.take();
  now = 60_000;
  assert.deepEqual([bucket.take(), bucket.take()], [0, 0]);
  assert.ok(bucket.take() > 0);
});
