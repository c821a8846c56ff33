import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANIMALS, COLORS, generateName } from '../lib/names.ts';

/** A seeded generator, so a failure can be replayed. */
function seeded(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

test('there are at least 10 colors and 30 animals, with no repeats', () => {
  assert.ok(COLORS.length >= 10);
  assert.ok(ANIMALS.length >= 30);
  assert.equal(new Set(COLORS).size, COLORS.length);
  assert.equal(new Set(ANIMALS).size, ANIMALS.length);
});

test('a name is a color and an animal', () => {
  const name = generateName(() => false, seeded(1));
  const [color, animal] = name.split('-');
  assert.ok(COLORS.includes(color as never), name);
  assert.ok(ANIMALS.includes(animal as never), name);
});

test('the same random source gives the same name', () => {
  assert.equal(generateName(() => false, seeded(7)), generateName(() => false, seeded(7)));
});

test('names stay unique until every pair is taken, then get -2, -3, ...', () => {
  const taken = new Set<string>();
  const random = seeded(42);
  const pairs = COLORS.length * ANIMALS.length;
  for (let i = 0; i < pairs; i++) taken.add(generateName((n) => taken.has(n), random));
  assert.equal(taken.size, pairs);
  assert.ok([...taken].every((n) => n.split('-').length === 2));

  const next = generateName((n) => taken.has(n), random);
  assert.match(next, /^[a-z]+-[a-z]+-2$/);
  for (const name of [...taken]) taken.add(`${name}-2`);
  assert.match(generateName((n) => taken.has(n), random), /^[a-z]+-[a-z]+-3$/);
});

test('a crowded room starts at the level where free names are', () => {
  const pairs = COLORS.length * ANIMALS.length;
  const checked: string[] = [];
  const name = generateName((n) => (checked.push(n), false), seeded(3), 2 * pairs + 5);
  assert.match(name, /^[a-z]+-[a-z]+-3$/);
  assert.deepEqual(checked, [name], 'no full level was scanned');
});
