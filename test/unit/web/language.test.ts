import { describe, expect, it } from 'vitest';
import { languageLabel, languageOf } from '../../../src/web/language.js';
import { defaultLibraryCode, defaultTransformationCode, isUntouchedSample, pythonLibraryCode, pythonTransformationCode, sampleCode } from '../../../src/web/samples.js';

describe('languageOf', () => {
  it('reads the API names, the python alias and an absent field (older servers: JavaScript)', () => {
    expect(languageOf('pythonfaas')).toBe('pythonfaas');
    expect(languageOf('python')).toBe('pythonfaas');
    expect(languageOf('javascript')).toBe('javascript');
    expect(languageOf(undefined)).toBe('javascript');
    expect(languageOf(null)).toBe('javascript');
    expect(languageLabel('pythonfaas')).toBe('Python');
    expect(languageLabel('javascript')).toBe('JavaScript');
  });
});

describe('sample code by language', () => {
  it('gives each kind a sample in each language', () => {
    expect(sampleCode('transformation', 'javascript')).toBe(defaultTransformationCode);
    expect(sampleCode('library', 'javascript')).toBe(defaultLibraryCode);
    expect(sampleCode('transformation', 'pythonfaas')).toBe(pythonTransformationCode);
    expect(sampleCode('library', 'pythonfaas')).toBe(pythonLibraryCode);
    expect(pythonTransformationCode).toMatch(/^def transformEvent\(event, metadata\):$/m);
    expect(pythonLibraryCode).toMatch(/^def \w+\(/m);
  });

  it('counts only an unchanged sample (or an empty editor) as replaceable', () => {
    for (const kind of ['transformation', 'library'] as const) {
      expect(isUntouchedSample(kind, sampleCode(kind, 'javascript'))).toBe(true);
      expect(isUntouchedSample(kind, sampleCode(kind, 'pythonfaas'))).toBe(true);
      expect(isUntouchedSample(kind, '  \n')).toBe(true);
      expect(isUntouchedSample(kind, `${sampleCode(kind, 'pythonfaas')}# edited\n`)).toBe(false);
    }
    // The other kind's sample is code the user put there.
    expect(isUntouchedSample('transformation', pythonLibraryCode)).toBe(false);
  });
});
