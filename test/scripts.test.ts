import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findMixedScripts, hasMixedDigits, scriptsOf } from '../lib/scripts.ts';

test('every letter and digit this engine knows is in a script the list names', () => {
  const shared = /^[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]$/u;
  const unnamed: string[] = [];
  for (let code = 0; code <= 0x10ffff; code++) {
    const char = String.fromCodePoint(code);
    if (/^[\p{L}\p{N}]$/u.test(char) && !shared.test(char) && scriptsOf(char)[0] === 'Unknown') unnamed.push(`U+${code.toString(16)}`);
  }
  assert.deepEqual(unnamed.slice(0, 10), [], 'add the scripts of a newer Unicode to SCRIPT_NAMES in lib/scripts.ts');
});

test('a character is in its scripts and the writing systems that use them', () => {
  assert.deepEqual(scriptsOf('a'), ['Latin', 'Japanese', 'Chinese', 'Korean']);
  assert.deepEqual(scriptsOf('た'), ['Hiragana', 'Japanese']);
  assert.deepEqual(scriptsOf('д'), ['Cyrillic']);
  // Script_Extensions: the prolonged sound mark belongs to both kana.
  assert.deepEqual(scriptsOf('ー'), ['Hiragana', 'Katakana', 'Japanese']);
});

test('a mix is told as the first script and the one that does not fit', () => {
  assert.deepEqual(findMixedScripts('paypal'), undefined);
  assert.deepEqual(findMixedScripts('pаypal'), ['Latin', 'Cyrillic']);
  assert.deepEqual(findMixedScripts('東京 tokyo たろう 서울'), ['Han', 'Hangul']);
  assert.deepEqual(findMixedScripts('123 - _'), undefined, 'digits and punctuation are every script’s');
});

test('digits: one numbering system at a time', () => {
  assert.equal(hasMixedDigits('2024'), false);
  assert.equal(hasMixedDigits('२०२४'), false);
  assert.equal(hasMixedDigits('20२४'), true);
  assert.equal(hasMixedDigits('\u{1d7ce}\u{1d7d8}'), true, 'bold 0 and double-struck 0 are next to each other, but two systems');
});
