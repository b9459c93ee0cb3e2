import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../../src/runtime/index.js';
import { scanModuleSyntax } from '../../../src/runtime/module-syntax.js';

const runtime = createRuntime({ limits: { maxCodeBytes: 4096 } });
afterAll(() => runtime.close());

describe('analyze(kind: transformation)', () => {
  it('reports the entry point and import specifiers', async () => {
    const code = 'import { a } from "libA";\nimport b from "libB";\nimport * as c from "libA";\nexport async function transformBatch(events) { return events; }';
    expect(await runtime.analyze(code, 'transformation')).toEqual({ ok: true, entry: 'transformBatch', imports: ['libA', 'libB'] });
  });

  it('accepts each export form of transformEvent', async () => {
    const forms = [
      'export function transformEvent(e) { return e; }',
      'export async function transformEvent(e) { return e; }',
      'export const transformEvent = (e) => e;',
      'export let transformEvent = function (e) { return e; };',
      'function transformEvent(e) { return e; }\nexport { transformEvent };',
      'const t = (e) => e;\nexport { t as transformEvent, t as other };',
      'import { transformEvent } from "shared";\nexport { transformEvent };',
      'export { helper as transformEvent } from "shared";',
    ];
    for (const code of forms) {
      const analysis = await runtime.analyze(code, 'transformation');
      expect(analysis, code).toMatchObject({ ok: true, entry: 'transformEvent' });
    }
  });

  it('reports a syntax error with 1-based line and column', async () => {
    const analysis = await runtime.analyze('export function transformEvent(event) {\n  const x = ;\n  return event;\n}', 'transformation');
    expect(analysis).toEqual({
      ok: false,
      error: { code: 'compile_error', message: "SyntaxError: Unexpected token ';' (line 2, column 13)", line: 2, column: 13 },
    });
  });

  it('reports module-level errors V8 finds at compile time', async () => {
    const duplicate = await runtime.analyze('export function transformEvent() {}\nexport function transformEvent() {}', 'transformation');
    expect(duplicate).toMatchObject({ ok: false, error: { code: 'compile_error', line: 2 } });
    const undeclared = await runtime.analyze('export { transformEvent };', 'transformation');
    expect(undeclared).toMatchObject({ ok: false, error: { code: 'compile_error', line: 1 } });
  });

  it('reports a missing entry point', async () => {
    for (const code of ['export function transform(e) { return e; }', 'export default function transformEvent(e) { return e; }', 'const transformEvent = 1;', '']) {
      expect(await runtime.analyze(code, 'transformation'), code).toMatchObject({ ok: false, error: { code: 'missing_entry_point' } });
    }
  });

  it('reports two entry points', async () => {
    const code = 'export function transformEvent(e) { return e; }\nexport const transformBatch = (events) => events;';
    expect(await runtime.analyze(code, 'transformation')).toMatchObject({ ok: false, error: { code: 'multiple_entry_points' } });
  });

  it('refuses code over maxCodeBytes', async () => {
    const code = `export function transformEvent(e) { return e; }\n/*${'x'.repeat(5000)}*/`;
    expect(await runtime.analyze(code, 'transformation')).toMatchObject({ ok: false, error: { code: 'code_too_large' } });
  });

  it('never runs top-level code', async () => {
    // An endless loop at top level would hang a check that evaluates the module.
    const analysis = await runtime.analyze('while (true) {}\nexport function transformEvent(e) { return e; }', 'transformation');
    expect(analysis).toMatchObject({ ok: true, entry: 'transformEvent' });
  });
});

describe('analyze(kind: library)', () => {
  it('accepts a library without imports', async () => {
    expect(await runtime.analyze('export const add = (a, b) => a + b;\nexport default add;', 'library')).toEqual({ ok: true, entry: null, imports: [] });
  });

  it('refuses a library that imports, pointing at the import', async () => {
    const analysis = await runtime.analyze('// helpers\nconst x = 1;\nimport { y } from "other";\nexport const z = x + y;', 'library');
    expect(analysis).toEqual({
      ok: false,
      error: { code: 'library_imports_not_allowed', message: 'a library cannot import other modules (it imports "other")', line: 3, column: 1 },
    });
    expect(await runtime.analyze('export * from "other";', 'library')).toMatchObject({ ok: false, error: { code: 'library_imports_not_allowed', line: 1 } });
  });

  it('reports library syntax errors', async () => {
    expect(await runtime.analyze('export const = 1;', 'library')).toMatchObject({ ok: false, error: { code: 'compile_error', line: 1 } });
  });
});

describe('scanModuleSyntax', () => {
  const exportsOf = (code: string) => scanModuleSyntax(code).exports;

  it('reads every export form', () => {
    expect(exportsOf('export default 1;')).toEqual(['default']);
    expect(exportsOf('export function* gen() {}\nexport async function* agen() {}\nexport class K {}')).toEqual(['gen', 'agen', 'K']);
    expect(exportsOf('export const a = 1, b = { c: 2 }, d = [1, 2], e = (x, y) => x, f = `t${1}`;')).toEqual(['a', 'b', 'd', 'e', 'f']);
    expect(exportsOf('export const { a, b: renamed, c = 1, ...rest } = obj, [x, , y = 2, ...zs] = arr;')).toEqual(['a', 'renamed', 'c', 'rest', 'x', 'y', 'zs']);
    expect(exportsOf('export { a, b as c, d as default, e as "string name" };')).toEqual(['a', 'c', 'default', 'string name']);
    expect(exportsOf('export * from "m";\nexport * as ns from "m";')).toEqual(['ns']);
  });

  it('ignores "export" inside strings, comments, templates, regular expressions and properties', () => {
    const code = [
      '// export function transformBatch() {}',
      '/* export const transformBatch = 1 */',
      'const s = "export function transformBatch() {}";',
      "const t = `export ${'function'} transformBatch ${`nested export ${1}`}`;",
      'const r = /export function transformBatch/g;',
      'const o = { export: 1, import: 2 }; o.export; class C { export() {} }',
      'if (r) /export transformBatch/.test(s);',
      'const ratio = 4 / 2 / 1; const q = ratio / 2;',
      'export function transformEvent(e) { return e; }',
    ].join('\n');
    expect(exportsOf(code)).toEqual(['transformEvent']);
  });

  it('stops a declaration at a line break that ends the statement', () => {
    const code = 'export const a = compute()\nfoo(), bar()\nexport const b = 2';
    expect(exportsOf(code)).toEqual(['a', 'b']);
  });

  it('reads nested patterns, and refuses absurdly deep ones with a clear error instead of overflowing', async () => {
    expect(exportsOf('export const [a, [b, { c: [d] }]] = value;')).toEqual(['a', 'b', 'd']);
    const deep = `export const ${'['.repeat(20000)}x${']'.repeat(20000)} = y;\nexport function transformEvent() {}`;
    expect(() => exportsOf(deep)).toThrow(/nests too deeply/);
    const big = createRuntime({ limits: { maxCodeBytes: 1024 * 1024 } });
    try {
      // V8's own parser gives up on it first; either way the save answers a compile error, never a crash.
      expect(await big.analyze(deep, 'transformation')).toMatchObject({ ok: false, error: { code: 'compile_error' } });
    } finally {
      await big.close();
    }
  });

  it('finds static imports but not dynamic import() or import.meta', () => {
    const code = 'import a from "x";\nconst m = import.meta;\nconst p = import("y");\nexport { z } from "w";';
    expect(scanModuleSyntax(code).importOffsets).toEqual([0, code.indexOf('export { z }')]);
  });
});
