// Invitation codes: made and checked with a given secret and clock; only a code this chat signed
// for the room, before its expiry, admits.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Invitations } from '../lib/invitations.ts';

let now = 1_800_000_000_000;
const invitations = new Invitations('the shared secret', () => now);

test('a code admits to its room until it expires, then says it expired', () => {
  const { code, expiresAt } = invitations.make('team', 60_000);
  assert.equal(expiresAt, now + 60_000);
  assert.match(code, /^team\.[0-9a-z]+\.[\w-]{43}$/);
  assert.deepEqual(invitations.check('team', code), { ok: true, expiresAt });
  now += 60_000;
  assert.deepEqual(invitations.check('team', code), { ok: false, isExpired: true });
});

test('a forged code, another room\'s, another secret\'s and garbage are not valid (never "expired")', () => {
  const { code } = invitations.make('team', 60_000);
  const [room, expiry, mac] = code.split('.') as [string, string, string];
  const notValid = { ok: false, isExpired: false };
  assert.deepEqual(invitations.check('other', code), notValid);
  assert.deepEqual(invitations.check('other', `other.${expiry}.${mac}`), notValid);
  assert.deepEqual(invitations.check('team', `${room}.${(parseInt(expiry, 36) + 1).toString(36)}.${mac}`), notValid);
  assert.deepEqual(invitations.check('team', `${room}.${expiry}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`), notValid);
  assert.deepEqual(invitations.check('team', new Invitations('another secret', () => now).make('team', 60_000).code), notValid);
  for (const garbage of ['', 'team', 'team..', `${code}.x`, '\u0000']) assert.deepEqual(invitations.check('team', garbage), notValid, garbage);
  now += 3_600_000;
  assert.deepEqual(invitations.check('team', `${room}.${expiry}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`), notValid, 'an expired forgery is only not valid');
});
