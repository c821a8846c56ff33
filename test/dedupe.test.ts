import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DedupeWindow } from '../lib/dedupe.ts';

test('a key is remembered for the window, then forgotten, and old keys are pruned', () => {
  const window = new DedupeWindow<number>(1000);
  window.set('a', 7, 0);
  assert.equal(window.get('a', 1000), 7, 'still inside the window');
  assert.equal(window.get('a', 1001), undefined, 'outside the window a retry counts as new');
  assert.equal(window.get('b', 0), undefined);
  window.set('b', 8, 1001);
  assert.equal(window.size, 1, 'old keys are pruned as new ones arrive, so memory stays bounded');
});
