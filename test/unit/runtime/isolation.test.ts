import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, type RunInput } from '../../../src/runtime/index.js';
import { input, rejection, versionId } from './helpers.js';

// Small limits keep hostile cases quick. The wall-clock limit is generous so that on a busy machine
// a CPU-bound loop still reaches its CPU limit first; the wall-clock case has its own runtime.
const runtime = createRuntime({ limits: { cpuTimeMs: 200, wallTimeMs: 20_000, memoryMb: 32 }, workspaceConcurrency: 2 });
const impatient = createRuntime({ limits: { cpuTimeMs: 200, wallTimeMs: 500 } });
// Garbage collection near the memory limit costs CPU time; memory cases get room to reach the limit.
const cramped = createRuntime({ limits: { cpuTimeMs: 5000, wallTimeMs: 20_000, memoryMb: 32 } });
afterAll(() => Promise.all([runtime.close(), impatient.close(), cramped.close()]));

const MEMORY_BOMB = 'const hoard = []; while (true) hoard.push(new Array(100000).fill(1.5));';

/** The same version id and code for several runs. */
function fixed(code: string): (events: unknown[], workspaceId?: string) => RunInput {
  const id = versionId('fixed');
  return (events, workspaceId = 'ws-test') => ({ workspaceId, transformation: { versionId: id, code }, libraries: [], events });
}

describe('CPU and wall-clock limits', () => {
  it('stops a synchronous endless loop with cpu_limit and serves the version again afterwards', async () => {
    const run = fixed('export function transformEvent(e) { if (e.spin) { while (true) {} } return e; }');
    const before = runtime.stats().limitKills.cpu;
    const error = await rejection(runtime.run(run([{ spin: true }])));
    expect(error.code).toBe('cpu_limit');
    expect(error.message).toBe('the batch used more than 200 ms of CPU time');
    expect(runtime.stats().limitKills.cpu).toBe(before + 1);
    const next = await runtime.run(run([{ spin: false }]));
    expect(next.results).toMatchObject([{ index: 0, statusCode: 200 }]);
  });

  it('stops a loop that starts after an await', async () => {
    const error = await rejection(runtime.run(input('export async function transformEvent(e) { await null; while (true) {} }', [{}])));
    expect(error.code).toBe('cpu_limit');
  });

  it('stops a loop in a microtask the code leaves behind', async () => {
    const error = await rejection(runtime.run(input('export function transformEvent(e) { Promise.resolve().then(() => { while (true) {} }); return e; }', [{}])));
    expect(error.code).toBe('cpu_limit');
  });

  it('stops an endless loop in top-level code', async () => {
    const error = await rejection(runtime.run(input('while (true) {}\nexport function transformEvent(e) { return e; }', [{}])));
    expect(error.code).toBe('cpu_limit');
    expect(error.message).toContain('top-level code');
  });

  it('stops a batch that never settles with wall_limit', async () => {
    const error = await rejection(impatient.run(input('export function transformBatch(events) { return new Promise(() => {}); }', [{}])));
    expect(error.code).toBe('wall_limit');
    expect(error.message).toBe('the batch did not finish within 500 ms');
  });
});

describe('memory limit', () => {
  it('fails a memory bomb with memory_limit and gives the next run a fresh isolate', async () => {
    const run = fixed(`export function transformEvent(e) { if (e.bomb) { ${MEMORY_BOMB} } return { fine: true }; }`);
    await cramped.run(run([{}]));
    const before = cramped.stats().limitKills.memory;
    const error = await rejection(cramped.run(run([{ bomb: true }])));
    expect(error.code).toBe('memory_limit');
    expect(error.message).toBe('the batch used more than 32 MB of memory');
    expect(cramped.stats().limitKills.memory).toBe(before + 1);
    const next = await cramped.run(run([{}, {}]));
    expect(JSON.parse(JSON.stringify(next.results))).toEqual([
      { index: 0, statusCode: 200, output: { fine: true } },
      { index: 1, statusCode: 200, output: { fine: true } },
    ]);
  });

  it('refuses a large ArrayBuffer per event without harming the isolate', async () => {
    const code = 'export function transformEvent(e) { const b = new ArrayBuffer(e.mb * 1024 * 1024); return { bytes: b.byteLength }; }';
    const out = await runtime.run(input(code, [{ mb: 100 }, { mb: 1 }]));
    expect(JSON.parse(JSON.stringify(out.results))).toEqual([
      { index: 0, statusCode: 400, error: 'RangeError: Array buffer allocation failed\n    at transformEvent (transformation:1:47)' },
      { index: 1, statusCode: 200, output: { bytes: 1024 * 1024 } },
    ]);
  });

  it('turns deep recursion into a per-event RangeError', async () => {
    const code = 'function down(n) { return down(n + 1) + 1; }\nexport function transformEvent(e) { return e.deep ? { n: down(0) } : e; }';
    const out = await runtime.run(input(code, [{ deep: true }, { ok: true }]));
    expect(out.results[0]).toMatchObject({ index: 0, statusCode: 400 });
    expect((out.results[0] as { error: string }).error).toMatch(/^RangeError: Maximum call stack size exceeded\n {4}at down \(transformation:1:\d+\)/);
    expect(out.results[1]).toMatchObject({ index: 1, statusCode: 200 });
  });

  it('turns deep recursion in transformBatch into a batch error', async () => {
    const error = await rejection(runtime.run(input('const down = (n) => down(n + 1);\nexport function transformBatch(events) { return down(0); }', [{}])));
    expect(error.code).toBe('batch_error');
    expect(error.message).toMatch(/^RangeError: Maximum call stack size exceeded\n {4}at down \(transformation:1:\d+\)/);
  });
});

describe('nothing from the host is reachable', () => {
  it('finds no process through the Function constructor', async () => {
    const code = `export function transformEvent(e) {
      const attempts = {};
      const tryIt = (name, f) => { try { attempts[name] = String(f()); } catch (err) { attempts[name] = err.name; } };
      tryIt('ctorProcess', () => ({}).constructor.constructor("return process")());
      tryIt('ctorRequire', () => ({}).constructor.constructor("return require")());
      tryIt('thisCtor', function () { return this.constructor.constructor("return process")(); });
      tryIt('functionThis', () => typeof Function("return this")().process);
      tryIt('evalProcess', () => eval("typeof process"));
      tryIt('dynamicImport', () => typeof import("fs"));
      return attempts;
    }`;
    const out = await runtime.run(input(code, [{}]));
    expect(out.results[0]).toMatchObject({
      statusCode: 200,
      output: { ctorProcess: 'ReferenceError', ctorRequire: 'ReferenceError', thisCtor: 'TypeError', functionThis: 'undefined', evalProcess: 'undefined', dynamicImport: 'object' },
    });
    // The import() promise rejected with nobody listening: reported, not fatal.
    expect(out.logs).toEqual(['[tiller] unhandled promise rejection: Error: Not supported']);
  });

  it('keeps a finished batch when the code leaves an unhandled rejection behind', async () => {
    const out = await runtime.run(input('export function transformEvent(e) { Promise.reject(new Error("stray")); return e; }', [{ a: 1 }]));
    expect(JSON.parse(JSON.stringify(out))).toEqual({
      results: [{ index: 0, statusCode: 200, output: { a: 1 } }],
      dropped: [],
      logs: ['[tiller] unhandled promise rejection: Error: stray'],
    });
  });

  it('rejects dynamic import() as an ordinary per-event failure', async () => {
    const out = await runtime.run(input('export async function transformEvent(e) { const fs = await import("fs"); return { fs: typeof fs }; }', [{}]));
    expect(out.results[0]).toMatchObject({ index: 0, statusCode: 400 });
  });

  it('exposes only standard built-ins and the transformation API on globalThis', async () => {
    const code = `export function transformEvent(e) {
      const names = Object.getOwnPropertyNames(globalThis);
      const host = ['require', 'process', 'module', 'exports', 'Buffer', 'global', 'setTimeout', 'setInterval', 'setImmediate',
        'clearTimeout', 'queueMicrotask', 'XMLHttpRequest', 'ivm', '_ivm', 'SharedArrayBuffer', 'Atomics', 'WebAssembly'];
      // The runner's garbage collector is an emptied global (V8 will not let it be deleted).
      if (typeof gc !== 'undefined') host.push('gc');
      return { present: host.filter((n) => names.includes(n) || typeof globalThis[n] !== 'undefined'), api: [typeof log, typeof metadata, typeof console.log, typeof getCredential, typeof fetch, typeof fetchV2, typeof geolocation] };
    }`;
    const out = await runtime.run(input(code, [{}]));
    expect(out.results[0]).toMatchObject({ statusCode: 200, output: { present: [], api: ['function', 'function', 'function', 'function', 'function', 'function', 'function'] } });
  });

  it('keeps prototype poisoning inside the version that does it', async () => {
    const poisoner = fixed(`
      Object.prototype.poisoned = "yes";
      Array.prototype.push = function () { throw new Error("push is poisoned"); };
      JSON.stringify = () => "not json";
      JSON.parse = () => ({ forged: true });
      String.prototype.slice = () => "forged";
      export function transformEvent(e) { return { own: e.n, sawPoison: ({}).poisoned }; }`);
    const out = await runtime.run(poisoner([{ n: 1 }, { n: 2 }]));
    // The runner's framing survives the module replacing built-ins it uses itself.
    expect(JSON.parse(JSON.stringify(out.results))).toEqual([
      { index: 0, statusCode: 200, output: { own: 1, sawPoison: 'yes' } },
      { index: 1, statusCode: 200, output: { own: 2, sawPoison: 'yes' } },
    ]);
    expect(({} as Record<string, unknown>).poisoned).toBeUndefined();
    expect(JSON.stringify({ a: 1 })).toBe('{"a":1}');

    const clean = await runtime.run(input('export function transformEvent(e) { return { sawPoison: ({}).poisoned === undefined ? "no" : "yes" }; }', [{}]));
    expect(clean.results[0]).toMatchObject({ statusCode: 200, output: { sawPoison: 'no' } });
  });

  it('keeps module state between warm runs of one version (documented, like RudderStack)', async () => {
    const run = fixed('let calls = 0;\nexport function transformEvent(e) { calls++; return { calls }; }');
    const first = await runtime.run(run([{}]));
    const second = await runtime.run(run([{}]));
    expect(first.results[0]).toMatchObject({ output: { calls: 1 } });
    expect(second.results[0]).toMatchObject({ output: { calls: 2 } });
  });

  it('survives outputs with throwing getters and toJSON', async () => {
    const code = `export function transformEvent(e) {
      if (e.k === 'getter') return { get bad() { throw new Error('getter says no'); } };
      if (e.k === 'toJSON') return { toJSON() { throw new Error('toJSON says no'); } };
      if (e.k === 'proxy') return new Proxy({}, { ownKeys() { throw new Error('proxy says no'); } });
      return e;
    }`;
    const out = await runtime.run(input(code, [{ k: 'getter' }, { k: 'toJSON' }, { k: 'proxy' }, { k: 'fine' }]));
    expect(out.results.map((r) => r.statusCode)).toEqual([400, 400, 400, 200]);
    expect(out.results[0]).toHaveProperty('error', 'output event is not serializable as JSON: Error: getter says no');
  });
});

describe('workspaces', () => {
  it('serves other workspaces while one runs hostile code', async () => {
    const hostile = fixed('export function transformEvent(e) { while (true) {} }');
    const normal = fixed('export function transformEvent(e) { return { ok: e.n }; }');
    const hostileRuns = Array.from({ length: 4 }, () => runtime.run(hostile([{}], 'ws-hostile')).catch((error: { code?: string }) => error.code));
    const normalRuns = Array.from({ length: 6 }, (_, n) => runtime.run(normal([{ n }], 'ws-normal')));
    const normalResults = await Promise.all(normalRuns);
    normalResults.forEach((out, n) => expect(out.results).toMatchObject([{ index: 0, statusCode: 200, output: { ok: n } }]));
    expect(await Promise.all(hostileRuns)).toEqual(['cpu_limit', 'cpu_limit', 'cpu_limit', 'cpu_limit']);
  });

  it('serves other workspaces while one runs memory bombs', async () => {
    const bomber = fixed(`export function transformEvent(e) { ${MEMORY_BOMB} }`);
    const normal = fixed('export function transformEvent(e) { return { ok: e.n }; }');
    const bombs = Array.from({ length: 3 }, () => cramped.run(bomber([{}], 'ws-bomber')).catch((error: { code?: string }) => error.code));
    const normalResults = await Promise.all(Array.from({ length: 6 }, (_, n) => cramped.run(normal([{ n }], 'ws-normal'))));
    normalResults.forEach((out, n) => expect(out.results).toMatchObject([{ index: 0, statusCode: 200, output: { ok: n } }]));
    expect(await Promise.all(bombs)).toEqual(['memory_limit', 'memory_limit', 'memory_limit']);
  });

  it('fails fast with overloaded when a workspace queue is full', async () => {
    const tight = createRuntime({ limits: { cpuTimeMs: 200, wallTimeMs: 20_000 }, workspaceConcurrency: 1, workspaceQueueLimit: 1 });
    try {
      const slow = fixed('export function transformEvent(e) { while (true) {} }');
      const first = tight.run(slow([{}], 'ws-busy')).catch((error: { code?: string }) => error.code);
      const second = tight.run(slow([{}], 'ws-busy')).catch((error: { code?: string }) => error.code);
      const third = await rejection(tight.run(slow([{}], 'ws-busy')));
      expect(third.code).toBe('overloaded');
      // Another workspace is not affected by ws-busy's full queue.
      const other = await tight.run(input('export function transformEvent(e) { return e; }', [{ a: 1 }], { workspaceId: 'ws-other' }));
      expect(other.results).toHaveLength(1);
      expect(await Promise.all([first, second])).toEqual(['cpu_limit', 'cpu_limit']);
    } finally {
      await tight.close();
    }
  });
});
