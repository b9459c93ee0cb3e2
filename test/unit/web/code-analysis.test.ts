import { describe, expect, it } from 'vitest';
import { exportedNames, importedNames } from '../../../src/web/code-analysis.js';

describe('importedNames', () => {
  it('reads JavaScript imports by default', () => {
    const code = 'import { toCents } from "priceTools";\nimport * as geo from \'geoLib\';\nexport function transformEvent(e) { return e; }\n';
    expect(importedNames(code)).toEqual(['priceTools', 'geoLib']);
  });

  it('reads Python from-imports and plain imports by their top-level module', () => {
    const code = [
      'from financeLib import get_price, to_cents',
      'import priceTools',
      'import json, datetime as dt',
      'import geo.lookup as lookup',
      'from . import sibling',
      '# import commentedOut',
      'def transformEvent(event, metadata):',
      '    from lazyLib import helper',
      '    return event',
    ].join('\n');
    expect(importedNames(code, 'pythonfaas').sort()).toEqual(['datetime', 'financeLib', 'geo', 'json', 'lazyLib', 'priceTools']);
  });

  it('does not read JavaScript imports as Python, or Python imports as JavaScript', () => {
    expect(importedNames('import { a } from "jsLib";', 'pythonfaas')).toEqual([]);
    expect(importedNames('from financeLib import get_price', 'javascript')).toEqual([]);
  });
});

describe('exportedNames', () => {
  it('lists a Python module\'s public top-level functions and classes', () => {
    const code = ['def to_cents(amount):', '    def inner():', '        pass', '    return 1', 'async def fetch_rate():', '    pass', 'class Money:', '    pass', 'def _private():', '    pass'].join('\n');
    expect(exportedNames(code, 'pythonfaas')).toEqual({ named: ['to_cents', 'fetch_rate', 'Money'], hasDefault: false });
  });

  it('keeps reading JavaScript exports', () => {
    expect(exportedNames('export function toCents(a) {}\nexport default 1;')).toEqual({ named: ['toCents'], hasDefault: true });
  });
});
