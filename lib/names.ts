// Names: what may be one, the key that makes two look-alikes one name, and random `color-animal`
// names, unique among the names a caller says are taken.

import unhomoglyph from 'unhomoglyph';
import { findMixedScripts, hasMixedDigits } from './scripts.ts';

/** Invisible characters and fillers (U+200B..U+200D, U+2060, U+FEFF, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, ...). */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * A name's identity for uniqueness in a room: two names with one key are one name. It is
 * `skeleton(lower(skeleton(upper(NFKC(name) less default-ignorable characters))))`, where
 * skeleton is UTS #39's `NFD(prototypes(NFD(x)))` over Unicode's confusables.txt (`unhomoglyph`).
 * NFKC makes fullwidth and other compatibility forms plain. Case is folded twice around a
 * skeleton because confusables.txt is case-sensitive: in capitals first, so that look-alike
 * capitals count (Greek `ΤΟΚΥΟ` is `TOKYO`, `I` and the digit `1` are `l`, the digit `0` is `O`),
 * then in small letters, so that small look-alikes count (Cyrillic `о` and `һ` are `o` and `h`).
 * One skeleton after lower case alone would miss the capitals; the price is that `eagie` and
 * `eagle` are one name, as `rn` and `m` are. The key is for comparing only: it is never shown.
 */
export function nameKey(name: string): string {
  const capitals = name.normalize('NFKC').replace(INVISIBLE, '').toUpperCase();
  return skeleton(skeleton(capitals).toLowerCase());
}

/** UTS #39's skeleton: each character replaced by its prototype in confusables.txt, between two NFDs. */
function skeleton(text: string): string {
  return unhomoglyph(text.normalize('NFD')).normalize('NFD');
}

/** Letters, digits, spaces, `-` and `_`, 1 to 32 of them. */
const NAME_SHAPE = /^[\p{L}\p{N} _-]{1,32}$/u;

/**
 * Whether `text` is made as a name is: 1 to 32 letters, digits, spaces, `-` and `_`. A direct
 * message's recipient needs only this: a name kept from before the stricter rules still reaches its owner.
 */
export function isNameShaped(text: string): boolean {
  return NAME_SHAPE.test(text);
}

/**
 * What is wrong with `name` (in NFC, trimmed) as a new name, for the sender to read; undefined
 * when nothing is. A name is 1 to 32 letters, digits, spaces, `-` and `_`, with no invisible
 * characters or fillers (such a name looks like the name without them), in one script or in
 * Latin with Han and kana, Bopomofo or Hangul (UTS #39 "Highly Restrictive"), and with the digits
 * of one numbering system.
 */
export function findNameProblem(name: string): string | undefined {
  const invisible = name.match(INVISIBLE)?.[0];
  if (invisible !== undefined) return `a name may not contain invisible characters or fillers, such as the ${codePoint(invisible)} in this one`;
  if (!isNameShaped(name)) return 'a name is 1 to 32 letters, digits, spaces, - and _';
  const mixed = findMixedScripts(name);
  if (mixed) return `a name is written in one script (or Latin with Han and kana, Bopomofo or Hangul); this one mixes ${mixed[0]} and ${mixed[1]}`;
  if (hasMixedDigits(name)) return 'a name may not mix the digits of two numbering systems';
  return undefined;
}

function codePoint(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** CSS named colors, chosen to read well as a dot on a white page; the page paints the dot with it. */
export const COLORS = [
  'red', 'orange', 'gold', 'green', 'teal', 'blue', 'navy', 'purple', 'pink', 'brown',
  'coral', 'crimson', 'indigo', 'olive', 'salmon', 'tomato', 'violet', 'orchid', 'plum', 'maroon',
] as const;

export const ANIMALS = [
  'bear', 'cat', 'crab', 'crow', 'deer', 'dog', 'duck', 'eagle', 'fish', 'fox',
  'frog', 'gecko', 'goat', 'hawk', 'heron', 'koala', 'lemur', 'lion', 'llama', 'lynx',
  'moose', 'mouse', 'newt', 'orca', 'otter', 'owl', 'panda', 'raven', 'seal', 'shark',
  'sloth', 'squid', 'swan', 'tiger', 'toad', 'whale', 'wolf', 'wren', 'yak', 'zebra',
] as const;

const PAIRS = COLORS.length * ANIMALS.length;
// A few random draws find a free pair quickly while the room is sparse; past that a scan is cheaper.
const RANDOM_DRAWS = 8;

function pairName(index: number): string {
  return `${COLORS[index % COLORS.length]}-${ANIMALS[Math.floor(index / COLORS.length)]}`;
}

/**
 * Picks a `color-animal` name for which `isTaken` is false. Tries random pairs, then every pair from a
 * random starting point; when all pairs are taken it moves on to `-2` names (`blue-fish-2`), then
 * `-3`, and so on, the same way. `crowd` (how many names are taken, if known) lets a crowded room
 * start at the level where free names are, instead of scanning every full level below it.
 * `random` returns a number in [0, 1), like Math.random, so tests can make the choice exact.
 */
export function generateName(isTaken: (name: string) => boolean, random: () => number = Math.random, crowd = 0): string {
  for (let level = Math.floor(crowd / PAIRS); ; level++) {
    const nameAt = (index: number) => (level === 0 ? pairName(index) : `${pairName(index)}-${level + 1}`);
    const start = Math.floor(random() * PAIRS);
    for (let draw = 0; draw < RANDOM_DRAWS; draw++) {
      const name = nameAt(draw === 0 ? start : Math.floor(random() * PAIRS));
      if (!isTaken(name)) return name;
    }
    for (let step = 0; step < PAIRS; step++) {
      const name = nameAt((start + step) % PAIRS);
      if (!isTaken(name)) return name;
    }
  }
}
