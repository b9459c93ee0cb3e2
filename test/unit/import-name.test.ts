import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { camelCase, importNameOf, wordsOf } from '../../src/domain/import-name.js';

// importName must equal lodash 4's camelCase of the library name, because existing transformations
// import libraries by the names RudderStack computed with lodash. Expected values are lodash's
// own answers (its documentation and test suite), including the tricky ones.

describe('importNameOf', () => {
  it('matches the examples of the API contract', () => {
    expect(importNameOf('User Defined Library')).toBe('userDefinedLibrary');
    expect(importNameOf('Sample Transformation Library JS 2')).toBe('sampleTransformationLibraryJs2');
  });
});

describe('camelCase, as lodash 4 answers', () => {
  const cases: [string, string][] = [
    // lodash documentation
    ['Foo Bar', 'fooBar'],
    ['--foo-bar--', 'fooBar'],
    ['__FOO_BAR__', 'fooBar'],
    // lodash test suite: words, numbers and acronyms
    ['12 feet', '12Feet'],
    ['enable 6h format', 'enable6HFormat'],
    ['enable 24H format', 'enable24HFormat'],
    ['too legit 2 quit', 'tooLegit2Quit'],
    ['walk 500 miles', 'walk500Miles'],
    ['xhr2 request', 'xhr2Request'],
    ['safe HTML', 'safeHtml'],
    ['safeHTML', 'safeHtml'],
    ['escape HTML entities', 'escapeHtmlEntities'],
    ['XMLHttpRequest', 'xmlHttpRequest'],
    ['XmlHTTP', 'xmlHttp'],
    ['IET', 'iet'],
    ['fooBar', 'fooBar'],
    ['FooBar', 'fooBar'],
    ['foo bar', 'fooBar'],
    ['foo_bar', 'fooBar'],
    ['foo-bar', 'fooBar'],
    ['foo.bar', 'fooBar'],
    ['foo   bar', 'fooBar'],
    ['foo2bar', 'foo2Bar'],
    ['1st place', '1stPlace'],
    ['iOS App', 'iOsApp'],
    ['HTML5 Parser', 'html5Parser'],
    // deburring (Latin-1 Supplement and Latin Extended-A) and dropped apostrophes
    ['déjà vu', 'dejaVu'],
    ['Café Library', 'cafeLibrary'],
    ['Straße', 'strasse'],
    ['ÆØÅ', 'aeOa'],
    ['Łódź city', 'lodzCity'],
    ["Don't Stop", 'dontStop'],
    ['it\u2019s here', 'itsHere'],
    ['e\u0301te\u0301', 'ete'],
    // other scripts and symbols keep their letters
    ['Привет мир', 'приветМир'],
    ['rocket 🚀 lib', 'rocket🚀Lib'],
    ['数据 处理', '数据处理'],
    // nothing to make words of
    ['', ''],
    ['   ', ''],
    ['!!! ---', ''],
    ['___', ''],
  ];

  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(expected)}`, () => {
      expect(camelCase(input)).toBe(expected);
    });
  }

  it('splits words like lodash words()', () => {
    expect(wordsOf('fred, barney, & pebbles')).toEqual(['fred', 'barney', 'pebbles']);
    expect(wordsOf('fooBar')).toEqual(['foo', 'Bar']);
    expect(wordsOf('ÀÁÂ äöü')).toEqual(['ÀÁÂ', 'äöü']);
  });

  // Not idempotent in general, like lodash: camelCase('0aA') is '0AA', whose camelCase is '0Aa'.
  it('turns ASCII names into letters and digits only, never starting upper-case', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (name) => {
        const once = camelCase(name);
        expect(once).toMatch(/^(?:[a-z0-9][A-Za-z0-9]*)?$/);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on arbitrary Unicode', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (name) => {
        expect(typeof camelCase(name)).toBe('string');
      }),
      { numRuns: 500 },
    );
  });

  it('gives names that differ only in case or separators the same import name', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/), { minLength: 1, maxLength: 4 }), (words) => {
        const spaced = words.join(' ');
        expect(camelCase(words.join('-'))).toBe(camelCase(spaced));
        expect(camelCase(words.join('_').toUpperCase())).toBe(camelCase(spaced.toUpperCase()));
      }),
      { numRuns: 300 },
    );
  });
});
