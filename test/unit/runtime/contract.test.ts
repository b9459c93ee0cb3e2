import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, outputJsonOf, RunError } from '../../../src/runtime/index.js';
import { input, library, rejection } from './helpers.js';

const runtime = createRuntime({ limits: { cpuTimeMs: 1000, wallTimeMs: 3000, memoryMb: 64 }, logs: { maxLines: 20, maxChars: 2000 } });
afterAll(() => runtime.close());

const plain = (results: unknown[]) => JSON.parse(JSON.stringify(results)) as unknown[];

describe('transformEvent', () => {
  it('keeps a returned object with statusCode 200 and its input index', async () => {
    const out = await runtime.run(input('export function transformEvent(event) { event.seen = true; return event; }', [{ id: 1 }, { id: 2 }]));
    expect(plain(out.results)).toEqual([
      { index: 0, statusCode: 200, output: { id: 1, seen: true } },
      { index: 1, statusCode: 200, output: { id: 2, seen: true } },
    ]);
    expect(out.dropped).toEqual([]);
    expect(out.logs).toEqual([]);
  });

  it('fails only the event whose returned value throws when read (a revoked Proxy), not its neighbours', async () => {
    const code = "export function transformEvent(event) { if (event.n !== 1) return event; const p = Proxy.revocable({}, {}); p.revoke(); return p.proxy; }";
    const out = await runtime.run(input(code, [{ n: 0 }, { n: 1 }, { n: 2 }]));
    expect(out.results.map((r) => [r.index, r.statusCode])).toEqual([[0, 200], [1, 400], [2, 200]]);
    expect((out.results[1] as { error: string }).error).toMatch(/TypeError/);
    const later = "export async function transformEvent(event) { await null; if (event.n !== 1) return event; const p = Proxy.revocable({}, {}); p.revoke(); return [event, p.proxy]; }";
    const outAsync = await runtime.run(input(later, [{ n: 0 }, { n: 1 }, { n: 2 }]));
    expect(outAsync.results.map((r) => [r.index, r.statusCode])).toEqual([[0, 200], [1, 400], [2, 200]]);
  });

  it('fans an array out into several outcomes with the same index, in order', async () => {
    const code = 'export function transformEvent(event) { return [{ n: event.n, part: 1 }, { n: event.n, part: 2 }]; }';
    const out = await runtime.run(input(code, [{ n: 'a' }, { n: 'b' }]));
    expect(plain(out.results)).toEqual([
      { index: 0, statusCode: 200, output: { n: 'a', part: 1 } },
      { index: 0, statusCode: 200, output: { n: 'a', part: 2 } },
      { index: 1, statusCode: 200, output: { n: 'b', part: 1 } },
      { index: 1, statusCode: 200, output: { n: 'b', part: 2 } },
    ]);
  });

  it('fails an event whose fan-out contains a non-object, keeping none of its outputs', async () => {
    const code = 'export function transformEvent(event) { return event.bad ? [{ ok: 1 }, 7] : [event]; }';
    const out = await runtime.run(input(code, [{ bad: true }, { good: true }]));
    expect(out.results).toHaveLength(2);
    expect(out.results[0]).toMatchObject({ index: 0, statusCode: 400 });
    expect(out.results[0]).toHaveProperty('error', expect.stringContaining('element 1 is a number'));
    expect(plain([out.results[1]])).toEqual([{ index: 1, statusCode: 200, output: { good: true } }]);
  });

  it('drops events for null, undefined and an empty array', async () => {
    const code = 'export function transformEvent(event) { if (event.k === "null") return null; if (event.k === "undef") return; if (event.k === "empty") return []; return event; }';
    const out = await runtime.run(input(code, [{ k: 'null' }, { k: 'keep' }, { k: 'undef' }, { k: 'empty' }]));
    expect(out.dropped).toEqual([0, 2, 3]);
    expect(plain(out.results)).toEqual([{ index: 1, statusCode: 200, output: { k: 'keep' } }]);
  });

  it('fails only the event that throws, with "Name: message" and the user\'s frames only', async () => {
    const code = 'export function transformEvent(event) { if (event.fail) throw new TypeError("boom " + event.fail); return event; }';
    const out = await runtime.run(input(code, [{ fail: 1 }, { ok: true }, { fail: 2 }]));
    expect(plain(out.results)).toEqual([
      { index: 0, statusCode: 400, error: 'TypeError: boom 1\n    at transformEvent (transformation:1:63)' },
      { index: 1, statusCode: 200, output: { ok: true } },
      { index: 2, statusCode: 400, error: 'TypeError: boom 2\n    at transformEvent (transformation:1:63)' },
    ]);
    for (const result of out.results) if (result.statusCode === 400) expect(result.error).not.toMatch(/bootstrap|node_modules|\.ts:|file:/);
  });

  it('describes thrown non-errors', async () => {
    const code = 'export function transformEvent(event) { throw event.what; }';
    const out = await runtime.run(input(code, [{ what: 'plain string' }, { what: { code: 7 } }, { what: null }]));
    expect(out.results.map((r) => (r.statusCode === 400 ? r.error : null))).toEqual(['plain string', '{"code":7}', 'null']);
  });

  it('fails an event that returns a primitive, with a clear message', async () => {
    const code = 'export function transformEvent(event) { return event.v; }';
    const out = await runtime.run(input(code, [{ v: 42 }, { v: 'text' }, { v: true }]));
    expect(out.results.map((r) => r.statusCode)).toEqual([400, 400, 400]);
    expect(out.results[0]).toHaveProperty('error', 'transformEvent returned a number; expected an object, an array of objects, null or undefined');
    expect(out.results[1]).toHaveProperty('error', expect.stringContaining('returned a string'));
  });

  it('fails an event whose output cannot be serialized as a JSON object', async () => {
    const code = 'export function transformEvent(event) { if (event.k === "cycle") { event.self = event; } if (event.k === "big") { event.n = 1n; } if (event.k === "date") return new Date(0); return event; }';
    const out = await runtime.run(input(code, [{ k: 'cycle' }, { k: 'big' }, { k: 'date' }, { k: 'fine' }]));
    expect(out.results.map((r) => r.statusCode)).toEqual([400, 400, 400, 200]);
    expect(out.results[0]).toHaveProperty('error', expect.stringContaining('not serializable as JSON'));
    expect(out.results[2]).toHaveProperty('error', 'output event does not serialize to a JSON object');
  });

  it('awaits an async transformEvent and keeps input order', async () => {
    const code = `export async function transformEvent(event) {
      for (let i = 0; i < event.delay; i++) await null;
      if (event.fail) throw new Error("async failure");
      return { id: event.id };
    }`;
    const out = await runtime.run(input(code, [{ id: 'slow', delay: 5 }, { id: 'fast', delay: 0 }, { id: 'bad', delay: 2, fail: true }]));
    expect(plain(out.results)).toEqual([
      { index: 0, statusCode: 200, output: { id: 'slow' } },
      { index: 1, statusCode: 200, output: { id: 'fast' } },
      { index: 2, statusCode: 400, error: 'Error: async failure\n    at transformEvent (transformation:3:29)' },
    ]);
  });

  it('accepts each way of exporting the entry point', async () => {
    const forms = [
      'export function transformEvent(e) { return { form: 1 }; }',
      'export async function transformEvent(e) { return { form: 2 }; }',
      'export const transformEvent = (e) => ({ form: 3 });',
      'function transformEvent(e) { return { form: 4 }; }\nexport { transformEvent };',
      'const impl = (e) => ({ form: 5 });\nexport { impl as transformEvent };',
    ];
    for (const [i, code] of forms.entries()) {
      const out = await runtime.run(input(code, [{}]));
      expect(plain(out.results)).toEqual([{ index: 0, statusCode: 200, output: { form: i + 1 } }]);
    }
  });

  it('runs an empty batch', async () => {
    const out = await runtime.run(input('export function transformEvent(e) { return e; }', []));
    expect(out).toEqual({ results: [], dropped: [], logs: [] });
  });
});

describe('transformBatch', () => {
  it('maps outputs to inputs by identity, then messageId, then position', async () => {
    const code = `export function transformBatch(events) {
      const [a, b, c] = events;
      return [c, { ...a, copied: true }, { fresh: true }, { alsoFresh: true }];
    }`;
    const events = [{ messageId: 'm-a' }, { messageId: 'm-b' }, { messageId: 'm-c' }];
    const out = await runtime.run(input(code, events));
    expect(plain(out.results)).toEqual([
      { index: 2, statusCode: 200, output: { messageId: 'm-c' } },
      { index: 0, statusCode: 200, output: { messageId: 'm-a', copied: true } },
      { index: 2, statusCode: 200, output: { fresh: true } },
      { index: 3, statusCode: 200, output: { alsoFresh: true } },
    ]);
    // The input no outcome traces back to counts as dropped.
    expect(out.dropped).toEqual([1]);
  });

  it('awaits an async transformBatch', async () => {
    const code = 'export async function transformBatch(events) { await null; return events.filter((e) => e.keep); }';
    const out = await runtime.run(input(code, [{ keep: true, n: 0 }, { keep: false, n: 1 }, { keep: true, n: 2 }]));
    expect(plain(out.results)).toEqual([
      { index: 0, statusCode: 200, output: { keep: true, n: 0 } },
      { index: 2, statusCode: 200, output: { keep: true, n: 2 } },
    ]);
    expect(out.dropped).toEqual([1]);
  });

  it('fails the whole batch with batch_error when transformBatch throws, keeping its logs', async () => {
    const code = 'export async function transformBatch(events) { log("before", events.length); throw new RangeError("whole batch"); }';
    const error = await rejection(runtime.run(input(code, [{}, {}])));
    expect(error).toBeInstanceOf(RunError);
    expect(error.code).toBe('batch_error');
    expect(error.message).toBe('RangeError: whole batch\n    at transformBatch (transformation:1:84)');
    expect(error.logs).toEqual(['before 2']);
  });

  it('fails the whole batch with invalid_output for a non-array', async () => {
    const error = await rejection(runtime.run(input('export function transformBatch(events) { return { events }; }', [{}])));
    expect(error.code).toBe('invalid_output');
    expect(error.message).toBe('transformBatch returned an object; expected an array of objects');
  });

  it('fails single elements that are not objects', async () => {
    const out = await runtime.run(input('export function transformBatch(events) { return [events[0], null, "x"]; }', [{ a: 1 }]));
    expect(out.results.map((r) => [r.index, r.statusCode])).toEqual([
      [0, 200],
      [1, 400],
      [2, 400],
    ]);
    expect(out.results[1]).toHaveProperty('error', expect.stringContaining('element 1 is null'));
  });
});

describe('metadata', () => {
  it('returns the caller metadata of an input event, by identity or messageId, else {}', async () => {
    const code = `export function transformEvent(event, meta) {
      return { own: meta(event), global: metadata(event), copy: metadata({ messageId: event.messageId }), fresh: metadata({ x: 1 }), none: metadata() };
    }`;
    const out = await runtime.run(input(code, [{ messageId: 'a' }, { messageId: 'b' }], { metadata: [{ sourceId: 's-a' }, { sourceId: 's-b', destinationId: 'd' }] }));
    expect(plain(out.results)).toEqual([
      { index: 0, statusCode: 200, output: { own: { sourceId: 's-a' }, global: { sourceId: 's-a' }, copy: { sourceId: 's-a' }, fresh: {}, none: {} } },
      { index: 1, statusCode: 200, output: { own: { sourceId: 's-b', destinationId: 'd' }, global: { sourceId: 's-b', destinationId: 'd' }, copy: { sourceId: 's-b', destinationId: 'd' }, fresh: {}, none: {} } },
    ]);
  });

  it('returns {} when the caller sent no metadata', async () => {
    const out = await runtime.run(input('export function transformBatch(events, meta) { return events.map((e) => ({ m: meta(e) })); }', [{ messageId: 'x' }]));
    expect(plain(out.results)).toEqual([{ index: 0, statusCode: 200, output: { m: {} } }]);
  });

  it('does not carry metadata from one run into the next', async () => {
    const code = 'let saved; export function transformEvent(event) { const previous = saved ? metadata(saved) : null; saved = event; return { previous, now: metadata(event) }; }';
    const versionId = `meta-${Date.now()}`;
    const first = await runtime.run({ ...input(code, [{ messageId: 'same' }], { metadata: [{ run: 1 }] }), transformation: { versionId, code } });
    const second = await runtime.run({ ...input(code, [{ messageId: 'other' }], { metadata: [{ run: 2 }] }), transformation: { versionId, code } });
    expect(plain(first.results)).toEqual([{ index: 0, statusCode: 200, output: { previous: null, now: { run: 1 } } }]);
    expect(plain(second.results)).toEqual([{ index: 0, statusCode: 200, output: { previous: {}, now: { run: 2 } } }]);
  });
});

describe('logs', () => {
  it('records log() and console.* lines like console.log renders them', async () => {
    const code = `export function transformEvent(event) {
      log("text", 1, true, null, undefined, { a: [1, 2] }, [3]);
      console.log("console", event.n);
      console.warn("warned");
      console.error(new TypeError("shown as name and message"));
      const cyclic = {}; cyclic.self = cyclic;
      log(cyclic, 10n, () => 1, function named() {}, Symbol("s"));
      return event;
    }`;
    const out = await runtime.run(input(code, [{ n: 5 }]));
    expect(out.logs).toEqual([
      'text 1 true null undefined {"a":[1,2]} [3]',
      'console 5',
      'warned',
      'TypeError: shown as name and message',
      '[object Object] 10n [Function: (anonymous)] [Function: named] Symbol(s)',
    ]);
  });

  it('caps lines per run and says how many were dropped', async () => {
    const out = await runtime.run(input('export function transformEvent(e) { for (let i = 0; i < 100; i++) log("line", i); return e; }', [{}]));
    // maxLines is 20 in this suite.
    expect(out.logs).toHaveLength(21);
    expect(out.logs[19]).toBe('line 19');
    expect(out.logs[20]).toBe('[tiller] 80 more log lines were dropped (log limit reached)');
  });

  it('caps bytes per run', async () => {
    const out = await runtime.run(input('export function transformEvent(e) { log("x".repeat(1500)); log("y".repeat(1500)); log("z"); return e; }', [{}]));
    const recorded = out.logs.filter((line) => !line.startsWith('[tiller]'));
    expect(recorded.join('').length).toBeLessThanOrEqual(2001);
    expect(recorded[0]).toHaveLength(1500);
    expect(out.logs.at(-1)).toMatch(/^\[tiller\] 1 more log lines were dropped/);
  });

  it('records nothing when captureLogs is false', async () => {
    const out = await runtime.run(input('export function transformEvent(e) { log("quiet"); console.log("quiet"); return e; }', [{}], { captureLogs: false }));
    expect(out.logs).toEqual([]);
    expect(out.results).toHaveLength(1);
  });
});

describe('libraries', () => {
  const financeLib = library('financeLib', 'export function add(a, b) { return a + b; }\nexport default { mul: (a, b) => a * b };\nexport const rate = 3;');

  it('links named, default and namespace imports by importName', async () => {
    const code = `import { add, rate } from "financeLib";
      import fin from "financeLib";
      import * as all from "financeLib";
      export function transformEvent(e) { return { sum: add(e.a, rate), product: fin.mul(e.a, 2), ns: all.add(1, 1) }; }`;
    const out = await runtime.run(input(code, [{ a: 4 }], { libraries: [library('other', 'export const x = 1;'), financeLib] }));
    expect(plain(out.results)).toEqual([{ index: 0, statusCode: 200, output: { sum: 7, product: 8, ns: 2 } }]);
  });

  it('fails with link_error when an imported library is not given', async () => {
    const error = await rejection(runtime.run(input('import { f } from "missingLib";\nexport function transformEvent(e) { return e; }', [{}], { libraries: [financeLib] })));
    expect(error.code).toBe('link_error');
    expect(error.message).toBe('library "missingLib" not found');
  });

  it('fails with link_error when a library does not export an imported name', async () => {
    const error = await rejection(runtime.run(input('import { nope } from "financeLib";\nexport function transformEvent(e) { return e; }', [{}], { libraries: [financeLib] })));
    expect(error.code).toBe('link_error');
    expect(error.message).toContain('nope');
  });

  it('refuses a library that imports another module', async () => {
    const importing = library('importingLib', 'import { add } from "financeLib";\nexport const twice = (a) => add(a, a);');
    const error = await rejection(runtime.run(input('import { twice } from "importingLib";\nexport function transformEvent(e) { return e; }', [{}], { libraries: [importing, financeLib] })));
    expect(error.code).toBe('link_error');
    expect(error.message).toContain('libraries cannot import other modules');
  });

  it('links a new library version under a new cache entry', async () => {
    const code = 'import { value } from "versioned";\nexport function transformEvent(e) { return { value }; }';
    const base = input(code, [{}]);
    const v1 = await runtime.run({ ...base, libraries: [library('versioned', 'export const value = 1;')] });
    const v2 = await runtime.run({ ...base, libraries: [library('versioned', 'export const value = 2;')] });
    expect(plain(v1.results)).toEqual([{ index: 0, statusCode: 200, output: { value: 1 } }]);
    expect(plain(v2.results)).toEqual([{ index: 0, statusCode: 200, output: { value: 2 } }]);
  });
});

describe('code errors at run time', () => {
  it('reports a syntax error with its position', async () => {
    const error = await rejection(runtime.run(input('export function transformEvent(e) {\n  return e +;\n}', [{}])));
    expect(error.code).toBe('code_error');
    expect(error.message).toBe("SyntaxError: Unexpected token ';' (line 2, column 13)");
  });

  it('reports a missing or doubled entry point', async () => {
    expect((await rejection(runtime.run(input('export const nothing = 1;', [{}])))).code).toBe('code_error');
    const both = await rejection(runtime.run(input('export function transformEvent(e) { return e; }\nexport function transformBatch(e) { return e; }', [{}])));
    expect(both.message).toContain('both transformEvent and transformBatch');
  });

  it('reports a throw from top-level code', async () => {
    const error = await rejection(runtime.run(input('throw new Error("at load");\nexport function transformEvent(e) { return e; }', [{}])));
    expect(error.code).toBe('code_error');
    expect(error.message).toBe('top-level code threw Error: at load\n    at transformation:1:7');
  });

  it('rejects code over maxCodeBytes without compiling it', async () => {
    const small = createRuntime({ limits: { maxCodeBytes: 100 } });
    try {
      const error = await rejection(small.run(input(`export function transformEvent(e) { return e; }\n// ${'x'.repeat(200)}`, [{}])));
      expect(error.code).toBe('code_too_large');
      expect(small.stats().cacheMisses).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('rejects malformed input with invalid_input', async () => {
    const bad = { workspaceId: 'w', transformation: { versionId: 'x', code: '' }, libraries: [], events: 'nope' } as unknown as Parameters<typeof runtime.run>[0];
    expect((await rejection(runtime.run(bad))).code).toBe('invalid_input');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect((await rejection(runtime.run(input('export function transformEvent(e) { return e; }', [cyclic])))).code).toBe('invalid_input');
  });
});

describe('raw output JSON', () => {
  it('hands out each output as the JSON text the sandbox produced, parsed only on demand', async () => {
    const out = await runtime.run(input('export function transformEvent(e) { return { name: e.name, nested: { list: [1, "two"] } }; }', [{ name: 'é"\\' }]));
    const [result] = out.results;
    if (!result || result.statusCode !== 200) throw new Error('expected a kept event');
    expect(outputJsonOf(result)).toBe('{"name":"é\\"\\\\","nested":{"list":[1,"two"]}}');
    expect(result.output).toEqual({ name: 'é"\\', nested: { list: [1, 'two'] } });
    result.output = { replaced: true };
    expect(outputJsonOf(result)).toBe('{"replaced":true}');
    expect({ ...result }).toEqual({ index: 0, statusCode: 200, output: { replaced: true } });
  });

  it('serializes outcomes it did not produce', () => {
    expect(outputJsonOf({ index: 3, statusCode: 200, output: { made: 'by hand' } })).toBe('{"made":"by hand"}');
    expect(() => outputJsonOf({ index: 0, statusCode: 400, error: 'x' })).toThrow(TypeError);
  });

  it('keeps JSON.stringify of a whole RunOutput working', async () => {
    const out = await runtime.run(input('export function transformEvent(e) { return { n: e.n }; }', [{ n: 1 }, { n: 2 }]));
    expect(JSON.parse(JSON.stringify(out))).toEqual({
      results: [
        { index: 0, statusCode: 200, output: { n: 1 } },
        { index: 1, statusCode: 200, output: { n: 2 } },
      ],
      dropped: [],
      logs: [],
    });
  });
});
