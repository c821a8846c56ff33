import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ANIMALS, COLORS, findNameProblem, generateName, nameKey } from '../lib/names.ts';

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

describe('nameKey: one key for a name, its other cases and its look-alikes', () => {
  const key = nameKey('orchid-eagle');
  const lookAlikes: Array<[string, string]> = [
    ['\u043erchid-eagle', 'Cyrillic о'],
    ['\u03bfrchid-eagle', 'Greek ο'],
    ['Orchid-EAGLE', 'other case'],
    ['\uff4f\uff52\uff43\uff48\uff49\uff44-eagle', 'fullwidth letters (NFKC)'],
    ['0rchid-eagle', 'digit zero for o'],
    ['orchid-eag1e', 'digit one for l'],
    ['orchid-eagIe', 'capital I for l'],
    ['orchid-eagle\u3164', 'a Hangul filler (a name with one is refused, but a recipient may carry it)'],
  ];
  for (const [name, why] of lookAlikes) test(why, () => assert.equal(nameKey(name), key, name));

  test('a name all in Cyrillic or Greek look-alikes is the Latin name, in small letters or capitals', () => {
    assert.equal(nameKey('\u0455\u0440\u0430\u0441\u0435'), nameKey('space'), 'Cyrillic ѕрасе');
    assert.equal(nameKey('\u0421\u041e\u0420\u0415'), nameKey('cope'), 'Cyrillic СОРЕ');
    assert.equal(nameKey('\u03a4\u039f\u039a\u03a5\u039f'), nameKey('Tokyo'), 'Greek ΤΟΚΥΟ');
    assert.equal(nameKey('\u0422\u041e\u041a\u0423\u041e'), nameKey('tokyo'), 'Cyrillic ТОКУО');
  });

  test('огсһіd-еаglе, Cyrillic where Cyrillic has a look-alike, is refused for mixing scripts', () => {
    assert.match(findNameProblem('\u043e\u0433\u0441\u04bb\u0456d-\u0435\u0430gl\u0435') ?? '', /mixes Cyrillic and Latin/);
  });

  test('different names keep different keys', () => {
    assert.notEqual(nameKey('orchid-eagle'), nameKey('orchid-egret'));
    assert.notEqual(nameKey('Дмитрий'), nameKey('Dmitry'));
    assert.notEqual(nameKey('山田'), nameKey('田山'));
  });

  test('every generated name, at every level, has a key of its own', () => {
    const names = COLORS.flatMap((color) => ANIMALS.flatMap((animal) => [`${color}-${animal}`, `${color}-${animal}-2`]));
    assert.equal(new Set(names.map(nameKey)).size, names.length);
  });

  test('a key has no newline, so the Redis scripts may join keys with one', () => {
    assert.ok(!nameKey('a\u2028b\u0085c').includes('\n'));
  });
});

describe('findNameProblem: what a new name may not be', () => {
  for (const filler of ['\u3164', '\u115f', '\u1160', '\uffa0']) {
    const hex = filler.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    test(`the Hangul filler U+${hex} is refused, alone, inside or after a name`, () => {
      for (const name of [filler, `orchid${filler}eagle`, `orchid-eagle${filler}`]) assert.match(findNameProblem(name) ?? '', new RegExp(`invisible.*U\\+${hex}`), JSON.stringify(name));
    });
  }

  test('zero-width and other invisible characters are refused, saying so', () => {
    for (const invisible of ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u034f']) {
      assert.match(findNameProblem(`orchid${invisible}eagle`) ?? '', /invisible characters or fillers/, invisible.codePointAt(0)!.toString(16));
    }
  });

  test('letters of two scripts are refused, naming them', () => {
    assert.match(findNameProblem('\u043erchid-eagle') ?? '', /mixes Cyrillic and Latin/);
    assert.match(findNameProblem('orchid-\u0435agle') ?? '', /mixes Latin and Cyrillic/);
    assert.match(findNameProblem('Αλέξανδρος Дмитрий') ?? '', /mixes Greek and Cyrillic/);
    assert.match(findNameProblem('김민수 たろう') ?? '', /mixes Hangul and Hiragana/);
    assert.match(findNameProblem('Дмитрий 山田') ?? '', /mixes Cyrillic and Han/);
  });

  test('one script, or Latin with the scripts of Japanese, Chinese or Korean, is fine, with digits', () => {
    for (const name of ['orchid-eagle', 'Ada Lovelace 2', 'Zoë_x', 'Дмитрий', 'Дмитрий 42', '山田たろう', 'ヤマダ 太郎', '김민수', 'Αλέξανδρος', 'Tokyo 東京 たろう', 'Seoul 서울', 'Taipei 臺北 ㄅㄆ', 'محمد ١٢']) {
      assert.equal(findNameProblem(name), undefined, name);
    }
  });

  test('digits of two numbering systems are refused', () => {
    assert.match(findNameProblem('\u0645\u062d\u0645\u062f 1\u0661') ?? '', /digits of two numbering systems/);
    assert.match(findNameProblem('agent 7\uff17') ?? '', /digits of two numbering systems/);
    assert.equal(findNameProblem('agent \uff17\uff17'), undefined, 'fullwidth digits alone are one system');
  });

  test('the old rule stands: 1 to 32 letters, digits, spaces, - and _', () => {
    for (const name of ['', 'x'.repeat(33), 'cat 🐱', '<b>', 'tab\there']) assert.equal(findNameProblem(name), 'a name is 1 to 32 letters, digits, spaces, - and _', JSON.stringify(name));
    assert.equal(findNameProblem('x'.repeat(32)), undefined);
  });
});
