import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createOriginCheck, parseOrigins } from '../lib/origin.ts';

const HOST = 'localhost:3000';

test("no Origin (a command-line client) and the page's own origin are allowed", () => {
  const isAllowed = createOriginCheck([]);
  assert.equal(isAllowed(undefined, HOST), true);
  assert.equal(isAllowed('http://localhost:3000', HOST), true);
  assert.equal(isAllowed('https://localhost:3000', HOST), true);
  assert.equal(isAllowed('HTTP://LOCALHOST:3000', HOST), true);
});

test('look-alikes and other sites are refused', () => {
  const isAllowed = createOriginCheck([]);
  for (const origin of [
    'http://localhost:3000.evil.test',
    'http://evil.test/localhost:3000',
    'http://evil.test',
    'null',
    '',
    'http://localhost',
    'http://localhost:30000',
    'http://sub.localhost:3000',
    'http://localhost:3000/',
    'ws://localhost:3000',
    'http://evil.test#http://localhost:3000',
  ]) {
    assert.equal(isAllowed(origin, HOST), false, origin);
  }
  assert.equal(isAllowed('http://localhost:3000', undefined), false, 'no Host: no own origin');
});

test('the allowlist matches whole origins only', () => {
  const isAllowed = createOriginCheck(parseOrigins('https://chat.example.com, http://10.0.0.5:3000'));
  assert.equal(isAllowed('https://chat.example.com', HOST), true);
  assert.equal(isAllowed('http://10.0.0.5:3000', HOST), true);
  assert.equal(isAllowed('https://chat.example.com.evil.test', HOST), false);
  assert.equal(isAllowed('http://chat.example.com', HOST), false);
});
