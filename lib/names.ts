// Random `color-animal` names, unique among the names a caller says are taken.

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
