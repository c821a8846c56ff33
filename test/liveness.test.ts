import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Liveness } from '../lib/liveness.ts';

test('a count that stands still for a whole TTL is dead; a break in the connection gives every process a full TTL again', () => {
  const liveness = new Liveness(1000);
  assert.deepEqual(liveness.observe(new Map([['a', '1'], ['b', '7']]), 0), []);
  assert.deepEqual(liveness.observe(new Map([['a', '2'], ['b', '7']]), 900), []);
  assert.deepEqual(liveness.observe(new Map([['a', '3'], ['b', '7']]), 1100), [{ id: 'b', count: '7' }]);
  liveness.reset();
  assert.deepEqual(liveness.observe(new Map([['a', '3'], ['b', '7']]), 5000), [], 'an outage is no one\'s silence');
  assert.deepEqual(liveness.observe(new Map([['a', '4'], ['b', '7']]), 5900), []);
  assert.deepEqual(liveness.observe(new Map([['a', '5'], ['b', '7']]), 6100), [{ id: 'b', count: '7' }]);
});

test('a process found dead and registered again gets a full TTL again, even at the count it died at', () => {
  const liveness = new Liveness(1000);
  assert.deepEqual(liveness.observe(new Map([['b', '0']]), 0), []);
  assert.deepEqual(liveness.observe(new Map([['b', '0']]), 1100), [{ id: 'b', count: '0' }]);
  // Swept, it registers again at 0 and beats again: a beat is a third of the TTL away.
  assert.deepEqual(liveness.observe(new Map([['b', '0']]), 1400), [], 'not dead again at once');
  assert.deepEqual(liveness.observe(new Map([['b', '1']]), 1700), []);
});
