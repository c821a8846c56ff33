// Which scripts a name is written in, by UTS #39's "Highly Restrictive" level: one script, or
// Latin with the scripts Japanese, Chinese or Korean write beside Han. Membership comes from the
// JavaScript engine's own Unicode data (`\p{Script_Extensions=...}`); JavaScript cannot ask a
// character for its script, only whether it is in a given one, so the scripts are listed by name.

/** Every script of Unicode 17 but Common, Inherited and Unknown (which letters of any script may sit beside). */
const SCRIPT_NAMES = `
  Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali
  Beria_Erfe Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian
  Caucasian_Albanian Chakma Cham Cherokee Chisoi Chorasmian Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic
  Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Garay
  Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Gurung_Khema Han Hangul
  Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inscriptional_Pahlavi
  Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kawi Kayah_Li Kharoshthi Khitan_Small_Script
  Khmer Khojki Khudawadi Kirat_Rai Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian
  Mahajani Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek
  Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar
  Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki
  Ol_Onal Old_Hungarian Old_Italic Old_North_Arabian Old_Permic Old_Persian Old_Sogdian
  Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau
  Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham
  Sidetic SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Sunuwar Syloti_Nagri Syriac
  Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Tai_Yo Takri Tamil Tangsa Tangut Telugu Thaana Thai
  Tibetan Tifinagh Tirhuta Todhri Tolong_Siki Toto Tulu_Tigalari Ugaritic Vai Vithkuqi Wancho
  Warang_Citi Yezidi Yi Zanabazar_Square
`.trim().split(/\s+/);

/** A test per script the engine knows: an older engine (Node 20.0 has Unicode 15) rejects the newer names. */
const SCRIPTS = SCRIPT_NAMES.flatMap((script) => {
  try {
    return [{ script, test: new RegExp(`^\\p{Script_Extensions=${script}}$`, 'u') }];
  } catch {
    return [];
  }
});

/** Characters every script shares (digits, punctuation, combining marks): they never mix scripts. */
const SHARED = /^[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]$/u;

/**
 * The writing systems that combine a script with others (UTS #39's augmented script sets): a text
 * whose characters all keep one of these in common is written in that system. Latin is in all
 * three, so `Tokyo 東京` and `Seoul 서울` pass while Latin with Cyrillic does not.
 */
const SYSTEMS: Record<string, string[]> = {
  Latin: ['Japanese', 'Chinese', 'Korean'],
  Han: ['Japanese', 'Chinese', 'Korean'],
  Hiragana: ['Japanese'],
  Katakana: ['Japanese'],
  Bopomofo: ['Chinese'],
  Hangul: ['Korean'],
};

/** The scripts `char` belongs to, then the writing systems they are part of; `Unknown` when none this engine knows. */
export function scriptsOf(char: string): string[] {
  const scripts = SCRIPTS.filter(({ test }) => test.test(char)).map(({ script }) => script);
  // A script this list lacks (one newer than it) still counts as one script.
  if (scripts.length === 0) return ['Unknown'];
  return [...new Set([...scripts, ...scripts.flatMap((script) => SYSTEMS[script] ?? [])])];
}

/**
 * The two scripts `text` mixes (the first character's and the first one's that shares none with
 * everything before it), or undefined when it is written in one script, or in Latin with Han and
 * kana (Japanese), Han and Bopomofo (Chinese), or Han and Hangul (Korean).
 */
export function findMixedScripts(text: string): [string, string] | undefined {
  let common: string[] | undefined;
  let first = '';
  for (const char of text) {
    if (SHARED.test(char)) continue;
    const scripts = scriptsOf(char);
    if (common === undefined) {
      common = scripts;
      first = scripts[0]!;
      continue;
    }
    const kept = common.filter((script) => scripts.includes(script));
    if (kept.length === 0) return [first, scripts[0]!];
    common = kept;
  }
  return undefined;
}

/** Whether `text` has decimal digits of two numbering systems (`1` beside an Arabic-Indic `١`). */
export function hasMixedDigits(text: string): boolean {
  let zero: number | undefined;
  for (const char of text) {
    if (!DIGIT.test(char)) continue;
    const found = zeroOf(char.codePointAt(0)!);
    if (zero !== undefined && found !== zero) return true;
    zero = found;
  }
  return false;
}

const DIGIT = /^\p{Nd}$/u;

/**
 * The zero of the digit at `code`: Unicode encodes decimal digits in runs of ten, 0 to 9, so the
 * run that holds `code` starts where the unbroken stretch of digits below it does, in steps of ten.
 */
function zeroOf(code: number): number {
  let start = code;
  while (start > 0 && DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return start + Math.floor((code - start) / 10) * 10;
}

