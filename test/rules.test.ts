import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isInForce, type Rule, RuleBook, ruleId } from '../lib/rules.ts';

const ban = (key: string, until: number | null): Rule => ({ kind: 'ban', key, name: 'Spam Bot', by: 'Mod', reason: 'spam', until });

test('a ban holds on any of a connection\'s keys until its time, then no more', () => {
  let now = 1000;
  const book = new RuleBook(() => now);
  book.apply([{ set: ban('ip:1.2.3.4', 2000) }, { set: ban('token:abc', null) }]);
  assert.equal(book.banOf(['ip:9.9.9.9', 'token:abc'])?.key, 'token:abc');
  assert.equal(book.banOf(['ip:1.2.3.4'])?.until, 2000);
  now = 2000;
  assert.equal(book.banOf(['ip:1.2.3.4']), undefined, 'over at its time');
  assert.equal(book.all('ban').length, 1);
  assert.equal(book.banOf(['token:abc', 'sub:x'])?.reason, 'spam', 'null: until lifted');
});

test('mutes, slow mode and membership are per room; setting a rule again replaces it; a reset replaces them all', () => {
  const book = new RuleBook(() => 0);
  book.apply([
    { set: { kind: 'mute', room: 'lobby', key: 'token:abc', name: 'Ada', by: 'Mod', until: null } },
    { set: { kind: 'slow', room: 'lobby', seconds: 10, by: 'Mod' } },
    { set: { kind: 'slow', room: 'lobby', seconds: 30, by: 'Mod' } },
    { set: { kind: 'private', room: 'team', by: 'Mod' } },
    { set: { kind: 'member', room: 'team', key: 'sub:ada' } },
  ]);
  assert.ok(book.muteOf('lobby', ['token:abc']));
  assert.equal(book.muteOf('dev', ['token:abc']), undefined);
  assert.equal(book.slowSeconds('lobby'), 30);
  assert.equal(book.slowSeconds('dev'), 0);
  assert.ok(book.isMember('team', ['ip:1', 'sub:ada']));
  assert.ok(!book.isMember('team', ['sub:bob']));
  assert.ok(book.isMember('lobby', []), 'everyone is a member of a public room');
  assert.deepEqual(book.named('mute', 'lobby', (name) => name.toLowerCase() === 'ada').length, 1);
  book.apply([{ lift: ruleId({ kind: 'slow', room: 'lobby', seconds: 0, by: '' }) }]);
  assert.equal(book.slowSeconds('lobby'), 0);
  book.apply([{ reset: [ban('ip:1', null)] }]);
  assert.equal(book.muteOf('lobby', ['token:abc']), undefined);
  assert.ok(!book.isPrivate('team'));
  assert.ok(book.banOf(['ip:1']));
});

test('isInForce: rules without a time always are', () => {
  assert.ok(isInForce({ kind: 'slow', room: 'a', seconds: 1, by: '' }, Number.MAX_SAFE_INTEGER));
  assert.ok(!isInForce(ban('ip:1', 5), 5));
});
