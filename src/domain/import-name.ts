// A library's importName is lodash's camelCase of its name (lodash 4.17), because that is what
// existing transformations and CI tools (which compute handle names with lodash) expect:
// "User Defined Library" -> "userDefinedLibrary". The steps mirror lodash exactly: deburr Latin
// letters, drop combining marks and apostrophes, split into words (ASCII or Unicode rules), then
// lower-case the first word and capitalize the rest.

/** lodash's deburredLetters: Latin-1 Supplement and Latin Extended-A letters to basic Latin. */
const DEBURRED: Record<string, string> = {
  '\xc0': 'A', '\xc1': 'A', '\xc2': 'A', '\xc3': 'A', '\xc4': 'A', '\xc5': 'A',
  '\xe0': 'a', '\xe1': 'a', '\xe2': 'a', '\xe3': 'a', '\xe4': 'a', '\xe5': 'a',
  '\xc7': 'C', '\xe7': 'c',
  '\xd0': 'D', '\xf0': 'd',
  '\xc8': 'E', '\xc9': 'E', '\xca': 'E', '\xcb': 'E',
  '\xe8': 'e', '\xe9': 'e', '\xea': 'e', '\xeb': 'e',
  '\xcc': 'I', '\xcd': 'I', '\xce': 'I', '\xcf': 'I',
  '\xec': 'i', '\xed': 'i', '\xee': 'i', '\xef': 'i',
  '\xd1': 'N', '\xf1': 'n',
  '\xd2': 'O', '\xd3': 'O', '\xd4': 'O', '\xd5': 'O', '\xd6': 'O', '\xd8': 'O',
  '\xf2': 'o', '\xf3': 'o', '\xf4': 'o', '\xf5': 'o', '\xf6': 'o', '\xf8': 'o',
  '\xd9': 'U', '\xda': 'U', '\xdb': 'U', '\xdc': 'U',
  '\xf9': 'u', '\xfa': 'u', '\xfb': 'u', '\xfc': 'u',
  '\xdd': 'Y', '\xfd': 'y', '\xff': 'y',
  '\xc6': 'Ae', '\xe6': 'ae',
  '\xde': 'Th', '\xfe': 'th',
  '\xdf': 'ss',
  '\u0100': 'A', '\u0102': 'A', '\u0104': 'A',
  '\u0101': 'a', '\u0103': 'a', '\u0105': 'a',
  '\u0106': 'C', '\u0108': 'C', '\u010a': 'C', '\u010c': 'C',
  '\u0107': 'c', '\u0109': 'c', '\u010b': 'c', '\u010d': 'c',
  '\u010e': 'D', '\u0110': 'D', '\u010f': 'd', '\u0111': 'd',
  '\u0112': 'E', '\u0114': 'E', '\u0116': 'E', '\u0118': 'E', '\u011a': 'E',
  '\u0113': 'e', '\u0115': 'e', '\u0117': 'e', '\u0119': 'e', '\u011b': 'e',
  '\u011c': 'G', '\u011e': 'G', '\u0120': 'G', '\u0122': 'G',
  '\u011d': 'g', '\u011f': 'g', '\u0121': 'g', '\u0123': 'g',
  '\u0124': 'H', '\u0126': 'H', '\u0125': 'h', '\u0127': 'h',
  '\u0128': 'I', '\u012a': 'I', '\u012c': 'I', '\u012e': 'I', '\u0130': 'I',
  '\u0129': 'i', '\u012b': 'i', '\u012d': 'i', '\u012f': 'i', '\u0131': 'i',
  '\u0134': 'J', '\u0135': 'j',
  '\u0136': 'K', '\u0137': 'k', '\u0138': 'k',
  '\u0139': 'L', '\u013b': 'L', '\u013d': 'L', '\u013f': 'L', '\u0141': 'L',
  '\u013a': 'l', '\u013c': 'l', '\u013e': 'l', '\u0140': 'l', '\u0142': 'l',
  '\u0143': 'N', '\u0145': 'N', '\u0147': 'N', '\u014a': 'N',
  '\u0144': 'n', '\u0146': 'n', '\u0148': 'n', '\u014b': 'n',
  '\u014c': 'O', '\u014e': 'O', '\u0150': 'O',
  '\u014d': 'o', '\u014f': 'o', '\u0151': 'o',
  '\u0154': 'R', '\u0156': 'R', '\u0158': 'R',
  '\u0155': 'r', '\u0157': 'r', '\u0159': 'r',
  '\u015a': 'S', '\u015c': 'S', '\u015e': 'S', '\u0160': 'S',
  '\u015b': 's', '\u015d': 's', '\u015f': 's', '\u0161': 's',
  '\u0162': 'T', '\u0164': 'T', '\u0166': 'T',
  '\u0163': 't', '\u0165': 't', '\u0167': 't',
  '\u0168': 'U', '\u016a': 'U', '\u016c': 'U', '\u016e': 'U', '\u0170': 'U', '\u0172': 'U',
  '\u0169': 'u', '\u016b': 'u', '\u016d': 'u', '\u016f': 'u', '\u0171': 'u', '\u0173': 'u',
  '\u0174': 'W', '\u0175': 'w',
  '\u0176': 'Y', '\u0177': 'y', '\u0178': 'Y',
  '\u0179': 'Z', '\u017b': 'Z', '\u017d': 'Z',
  '\u017a': 'z', '\u017c': 'z', '\u017e': 'z',
  '\u0132': 'IJ', '\u0133': 'ij',
  '\u0152': 'Oe', '\u0153': 'oe',
  '\u0149': "'n", '\u017f': 's',
};

// Character classes as lodash composes them (UTF-16 code units, no `u` flag, on purpose).
const astralRange = '\\ud800-\\udfff';
const comboRange = '\\u0300-\\u036f' + '\\ufe20-\\ufe2f' + '\\u20d0-\\u20ff';
const dingbatRange = '\\u2700-\\u27bf';
const lowerRange = 'a-z\\xdf-\\xf6\\xf8-\\xff';
const mathOpRange = '\\xac\\xb1\\xd7\\xf7';
const nonCharRange = '\\x00-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\xbf';
const punctuationRange = '\\u2000-\\u206f';
const spaceRange =
  ' \\t\\x0b\\f\\xa0\\ufeff\\n\\r\\u2028\\u2029\\u1680\\u180e\\u2000\\u2001\\u2002\\u2003\\u2004\\u2005\\u2006\\u2007\\u2008\\u2009\\u200a\\u202f\\u205f\\u3000';
const upperRange = 'A-Z\\xc0-\\xd6\\xd8-\\xde';
const varRange = '\\ufe0e\\ufe0f';
const breakRange = mathOpRange + nonCharRange + punctuationRange + spaceRange;

const apos = "['\u2019]";
const breakClass = `[${breakRange}]`;
const combo = `[${comboRange}]`;
const digits = '\\d+';
const dingbat = `[${dingbatRange}]`;
const lower = `[${lowerRange}]`;
// lodash puts `\d+` inside this class, which also excludes "+"; kept for identical results.
const misc = `[^${astralRange}${breakRange}${digits}${dingbatRange}${lowerRange}${upperRange}]`;
const fitz = '\\ud83c[\\udffb-\\udfff]';
const modifier = `(?:${combo}|${fitz})`;
const nonAstral = `[^${astralRange}]`;
const regional = '(?:\\ud83c[\\udde6-\\uddff]){2}';
const surrogatePair = '[\\ud800-\\udbff][\\udc00-\\udfff]';
const upper = `[${upperRange}]`;
const zwj = '\\u200d';

const miscLower = `(?:${lower}|${misc})`;
const miscUpper = `(?:${upper}|${misc})`;
const optContrLower = `(?:${apos}(?:d|ll|m|re|s|t|ve))?`;
const optContrUpper = `(?:${apos}(?:D|LL|M|RE|S|T|VE))?`;
const optMod = `${modifier}?`;
const optVar = `[${varRange}]?`;
const optJoin = `(?:${zwj}(?:${[nonAstral, regional, surrogatePair].join('|')})${optVar}${optMod})*`;
const ordLower = '\\d*(?:1st|2nd|3rd|(?![123])\\dth)(?=\\b|[A-Z_])';
const ordUpper = '\\d*(?:1ST|2ND|3RD|(?![123])\\dTH)(?=\\b|[a-z_])';
const seq = optVar + optMod + optJoin;
const emoji = `(?:${[dingbat, regional, surrogatePair].join('|')})${seq}`;

const UNICODE_WORD = new RegExp(
  [
    `${upper}?${lower}+${optContrLower}(?=${[breakClass, upper, '$'].join('|')})`,
    `${miscUpper}+${optContrUpper}(?=${[breakClass, upper + miscLower, '$'].join('|')})`,
    `${upper}?${miscLower}+${optContrLower}`,
    `${upper}+${optContrUpper}`,
    ordUpper,
    ordLower,
    digits,
    emoji,
  ].join('|'),
  'g',
);
const HAS_UNICODE_WORD = /[a-z][A-Z]|[A-Z]{2}[a-z]|[0-9][a-zA-Z]|[a-zA-Z][0-9]|[^a-zA-Z0-9 ]/;
const ASCII_WORD = /[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+/g;
const LATIN = /[\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u017f]/g;
const COMBO_MARK = new RegExp(combo, 'g');
const APOSTROPHE = new RegExp(apos, 'g');

function deburr(text: string): string {
  return text.replace(LATIN, (letter) => DEBURRED[letter] ?? letter).replace(COMBO_MARK, '');
}

/** lodash `words`: the Unicode rules only when the text needs them, as lodash decides. */
export function wordsOf(text: string): string[] {
  return (HAS_UNICODE_WORD.test(text) ? text.match(UNICODE_WORD) : text.match(ASCII_WORD)) ?? [];
}

function upperFirst(word: string): string {
  // Combining marks were removed by deburr, so the first code point is lodash's first symbol.
  const first = String.fromCodePoint(word.codePointAt(0) ?? 0);
  return word.length === 0 ? word : first.toUpperCase() + word.slice(first.length);
}

/** lodash `camelCase`. Returns '' for names without letters, digits or other word characters. */
export function camelCase(text: string): string {
  const words = wordsOf(deburr(text).replace(APOSTROPHE, ''));
  let out = '';
  words.forEach((word, index) => {
    const lowered = word.toLowerCase();
    out += index === 0 ? lowered : upperFirst(lowered);
  });
  return out;
}

/** The name transformations import a library by. */
export function importNameOf(libraryName: string): string {
  return camelCase(libraryName);
}
