import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionCaps } from '../lib/admission.ts';

test('the per-address cap and the total cap each hold, and a release frees a slot', () => {
  const caps = new ConnectionCaps(3, 2);
  assert.equal(caps.admit('a'), true);
  assert.equal(caps.admit('a'), true);
  assert.equal(caps.admit('a'), false, 'per-address cap');
  assert.equal(caps.admit('b'), true);
  assert.equal(caps.admit('c'), false, 'total cap');
  caps.release('a');
  assert.equal(caps.admit('c'), true);
  assert.equal(caps.total, 3);
  caps.release('unknown');
  assert.equal(caps.total, 3, 'releasing an address never admitted changes nothing');
});
