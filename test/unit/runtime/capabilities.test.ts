import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type BatchReport, type RunInput } from '../../../src/runtime/index.js';
import { cityRecord, writeMmdb } from '../../helpers/mmdb.js';
import { input, library, rejection } from './helpers.js';

// The capabilities of spec 7.5 through real sandbox host processes: getCredential, fetch, fetchV2,
// geolocation and the user's own error frames. Outbound calls reach only the stub server below,
// on 127.0.0.1, which the open runtime allows explicitly; the closed one allows nothing.

let server: Server;
let base = '';
const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];

function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
  seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
  const url = new URL(req.url ?? '/', 'http://stub');
  if (url.pathname === '/json') {
    res.setHeader('content-type', 'application/json');
    res.setHeader('x-stub', 'yes');
    res.end(JSON.stringify({ ok: true, echo: body, method: req.method }));
  } else if (url.pathname === '/text') {
    res.end('plain words');
  } else if (url.pathname === '/missing') {
    res.statusCode = 404;
    res.end('{"error":"nope"}');
  } else if (url.pathname === '/slow') {
    setTimeout(() => res.end('{"slow":true}'), Number(url.searchParams.get('ms') ?? 300));
  } else {
    res.statusCode = 500;
    res.end('unexpected');
  }
}

const reports: BatchReport[] = [];
const limits = { cpuTimeMs: 200, wallTimeMs: 3000 };
let open: ReturnType<typeof createRuntime>;
let closed: ReturnType<typeof createRuntime>;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => answer(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  open = createRuntime({ processes: 1, limits, outbound: { allow: ['127.0.0.1/32'], maxCallsPerBatch: 5, timeoutMs: 1500 }, metrics: { onBatch: (report) => reports.push(report) } });
  closed = createRuntime({ processes: 1, limits });
});

afterAll(async () => {
  await Promise.all([open?.close(), closed?.close()]);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const outputs = async (runtime: ReturnType<typeof createRuntime>, run: RunInput) => (await runtime.run(run)).results;

describe('getCredential', () => {
  const code = `export function transformEvent(e) {
    return { api: getCredential('API_KEY'), missing: getCredential('nope'), proto: getCredential('toString'), num: getCredential(7) };
  }`;

  it('returns the value of the credential with that key, else undefined', async () => {
    const results = await outputs(open, input(code, [{}], { credentials: { API_KEY: 'k-123', 7: 'seven' } }));
    expect(results).toEqual([{ index: 0, statusCode: 200, output: { api: 'k-123', num: 'seven' } }]);
  });

  it('returns undefined for every key when the run has no credentials', async () => {
    const results = await outputs(open, input(code, [{}]));
    expect(results).toEqual([{ index: 0, statusCode: 200, output: {} }]);
  });

  it('throws a TypeError for a missing key, as RudderStack does', async () => {
    const results = await outputs(open, input('export function transformEvent(e) { return { v: getCredential() }; }', [{}], { credentials: { a: 'b' } }));
    expect(results[0]).toMatchObject({ statusCode: 400 });
    expect((results[0] as { error: string }).error).toMatch(/^TypeError: Key should be valid and defined/);
  });

  it('does not carry one batch\'s credentials into the next', async () => {
    const run = input(code, [{}], { credentials: { API_KEY: 'first' } });
    await open.run(run);
    const again = await outputs(open, { ...run, credentials: undefined });
    expect(again).toEqual([{ index: 0, statusCode: 200, output: {} }]);
  });
});

describe('fetch and fetchV2', () => {
  it('fetch resolves the JSON body, else the text, and sends method, headers and body', async () => {
    const code = `export async function transformEvent(e) {
      const json = await fetch('${base}/json', { method: 'POST', headers: { 'x-key': 'abc' }, body: JSON.stringify({ id: e.id }) });
      const text = await fetch('${base}/text');
      const missing = await fetch('${base}/missing');
      return { json, text, missing };
    }`;
    const results = await outputs(open, input(code, [{ id: 7 }]));
    expect(results).toEqual([
      { index: 0, statusCode: 200, output: { json: { ok: true, echo: '{"id":7}', method: 'POST' }, text: 'plain words', missing: { error: 'nope' } } },
    ]);
    const post = seen.find((request) => request.method === 'POST' && request.url === '/json');
    expect(post?.headers['x-key']).toBe('abc');
  });

  it('fetchV2 resolves status, url, headers and body', async () => {
    const code = `export async function transformEvent(e) {
      const r = await fetchV2('${base}/json');
      const m = await fetchV2('${base}/missing');
      return { status: r.status, url: r.url, stub: r.headers['x-stub'], body: r.body, missing: m.status };
    }`;
    const results = await outputs(open, input(code, [{}]));
    expect(results).toEqual([{ index: 0, statusCode: 200, output: { status: 200, url: `${base}/json`, stub: 'yes', body: { ok: true, echo: '', method: 'GET' }, missing: 404 } }]);
  });

  it('refuses non-public addresses unless the operator allows them: fetch answers "ERROR", fetchV2 rejects saying why', async () => {
    const before = seen.length;
    const code = `export async function transformEvent(e) {
      const plain = await fetch('${base}/json');
      let reason = null;
      try { await fetchV2('${base}/json'); } catch (error) { reason = error.message; }
      return { plain, reason };
    }`;
    const results = await outputs(closed, input(code, [{}]));
    expect(results).toEqual([{ index: 0, statusCode: 200, output: { plain: 'ERROR', reason: expect.stringContaining('blocked request to non-public address: 127.0.0.1') } }]);
    expect(seen.length).toBe(before);
  });

  it('does not count the time spent waiting against the CPU limit', async () => {
    const code = `export async function transformEvent(e) { return await fetch('${base}/slow?ms=600'); }`;
    const results = await outputs(open, input(code, [{}]));
    expect(results).toEqual([{ index: 0, statusCode: 200, output: { slow: true } }]);
  });

  it('counts the time spent waiting against the wall-clock limit, the longer one once the batch has made a call', async () => {
    const impatient = createRuntime({ processes: 1, limits: { cpuTimeMs: 200, wallTimeMs: 300, outboundWallTimeMs: 1500 }, queueTimeoutMs: 20_000, outbound: { allow: ['127.0.0.1/32'] } });
    try {
      // 800 ms of waiting is past the plain limit, within the outbound one.
      expect((await impatient.run(input(`export async function transformEvent(e) { return await fetch('${base}/slow?ms=800'); }`, [{}]))).results).toEqual([
        { index: 0, statusCode: 200, output: { slow: true } },
      ]);
      const error = await rejection(impatient.run(input(`export async function transformEvent(e) { return await fetch('${base}/slow?ms=4000'); }`, [{}])));
      expect((error as { code?: string }).code).toBe('wall_limit');
      expect(error.message).toBe('the batch did not finish within 1500 ms');
      // Code that makes no call keeps the plain limit.
      const idle = await rejection(impatient.run(input('export function transformEvent(e) { return new Promise(() => {}); }', [{}])));
      expect(idle.message).toBe('the batch did not finish within 300 ms');
    } finally {
      await impatient.close();
    }
  });

  it('caps the calls one batch may make', async () => {
    const code = `export async function transformEvent(e) {
      const answers = [];
      for (let i = 0; i < 7; i++) answers.push(await fetch('${base}/text'));
      let reason = null;
      try { await fetchV2('${base}/text'); } catch (error) { reason = error.message; }
      return { answers, reason };
    }`;
    const [result] = await outputs(open, input(code, [{}]));
    const output = (result as unknown as { output: { answers: string[]; reason: string } }).output;
    expect(output.answers).toEqual(['plain words', 'plain words', 'plain words', 'plain words', 'plain words', 'ERROR', 'ERROR']);
    expect(output.reason).toMatch(/more than 5 outbound calls in one batch/);
  });

  it('aborts a call the code did not wait for when its batch ends, and serves the next batch', async () => {
    const code = `export function transformEvent(e) { fetch('${base}/slow?ms=1000').then(() => { while (true) {} }); return e; }`;
    const run = input(code, [{ n: 1 }]);
    expect(await outputs(open, run)).toEqual([{ index: 0, statusCode: 200, output: { n: 1 } }]);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await outputs(open, { ...run, events: [{ n: 2 }] })).toEqual([{ index: 0, statusCode: 200, output: { n: 2 } }]);
  });

  it('never wakes user code after its batch, however quickly an answer comes back', async () => {
    // The answer is delivered to the isolate as a task of its own, after the batch returned: were
    // it delivered, this loop would run outside every limit and freeze the host.
    const code = `export function transformEvent(e) {
      geolocation('8.8.8.8').catch(() => { while (true) {} });
      fetch('${base}/text').then(() => { while (true) {} });
      return e;
    }`;
    const run = input(code, [{ n: 1 }]);
    expect(await outputs(open, run)).toEqual([{ index: 0, statusCode: 200, output: { n: 1 } }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    expect(await outputs(open, input('export function transformEvent(e) { return e; }', [{ n: 2 }]))).toEqual([{ index: 0, statusCode: 200, output: { n: 2 } }]);
    expect(await outputs(open, { ...run, events: [{ n: 3 }] })).toEqual([{ index: 0, statusCode: 200, output: { n: 3 } }]);
    // Not a timing assertion: a frozen host would not have answered at all before the silent-host kill.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('runs at most 16 of one batch\'s calls at once, queueing the rest', async () => {
    let running = 0;
    let most = 0;
    const counting = createServer((req, res) => {
      running++;
      most = Math.max(most, running);
      setTimeout(() => {
        running--;
        res.end('{"ok":true}');
      }, 50);
    });
    await new Promise<void>((resolve) => counting.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(counting.address() as AddressInfo).port}`;
    const wide = createRuntime({ processes: 1, limits: { cpuTimeMs: 1000, wallTimeMs: 10_000 }, outbound: { allow: ['127.0.0.1/32'] } });
    try {
      const code = `export async function transformEvent(e) {
        const answers = await Promise.all(Array.from({ length: 40 }, () => fetch('${url}/')));
        return { ok: answers.filter((a) => a.ok === true).length };
      }`;
      expect(await outputs(wide, input(code, [{}]))).toEqual([{ index: 0, statusCode: 200, output: { ok: 40 } }]);
      expect(most).toBeLessThanOrEqual(16);
      expect(most).toBeGreaterThan(1);
    } finally {
      await wide.close();
      counting.closeAllConnections();
      await new Promise<void>((resolve) => counting.close(() => resolve()));
    }
  });

  it('does not hold a version\'s only isolate while its batch waits: the next batch gets one of its own', async () => {
    let running = 0;
    let most = 0;
    const slow = createServer((req, res) => {
      running++;
      most = Math.max(most, running);
      setTimeout(() => {
        running--;
        res.end('{"ok":true}');
      }, 400);
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const single = createRuntime({ processes: 1, limits: { cpuTimeMs: 1000, wallTimeMs: 10_000 }, cache: { isolatesPerVersion: 1 }, outbound: { allow: ['127.0.0.1/32'] } });
    try {
      const run = input(`export async function transformEvent(e) { return await fetch('${url}/'); }`, [{}]);
      await single.run(run);
      most = 0;
      const answers = await Promise.all([single.run(run), single.run(run)]);
      expect(answers.map((answer) => answer.results)).toEqual([
        [{ index: 0, statusCode: 200, output: { ok: true } }],
        [{ index: 0, statusCode: 200, output: { ok: true } }],
      ]);
      // Both calls were open at once: the second batch did not queue behind the first's wait.
      expect(most).toBe(2);
    } finally {
      await single.close();
      slow.closeAllConnections();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });

  it('refuses oversized requests before they leave the isolate', async () => {
    const code = `export async function transformEvent(e) {
      const reasons = [];
      for (const call of [() => fetchV2('${base}/' + 'x'.repeat(20000)), () => geolocation('1'.repeat(100))]) {
        try { await call(); reasons.push(null); } catch (error) { reasons.push(error.message); }
      }
      return { reasons };
    }`;
    const results = await outputs(open, input(code, [{}]));
    expect(results).toEqual([{ index: 0, statusCode: 200, output: { reasons: [expect.stringContaining('longer than 16384 characters'), expect.stringContaining('invalid ip address')] } }]);
  });

  it('is not available to top-level module code', async () => {
    const code = `let early = null; fetchV2('${base}/json').catch((error) => { early = error.message; });
      export function transformEvent(e) { return { early }; }`;
    const results = await outputs(open, input(code, [{}]));
    expect(results).toEqual([{ index: 0, statusCode: 200, output: { early: expect.stringContaining('only be called while a batch runs') } }]);
  });

  it('tells the metrics sink about outbound calls by kind and outcome', async () => {
    reports.length = 0;
    await open.run(input(`export async function transformEvent(e) { await fetch('${base}/text'); await fetch('http://10.0.0.1/'); return e; }`, [{}]));
    expect(reports.at(-1)?.outbound).toEqual({ fetch: { ok: 1, blocked: 1 } });
  });
});

describe('geolocation', () => {
  it('resolves records of the operator\'s database, null for an address it does not hold, and rejects an invalid address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiller-geo-'));
    const file = join(dir, 'city.mmdb');
    await writeMmdb(file, [{ network: '203.0.113.0/24', record: cityRecord({ country: 'DE', countryName: 'Germany', city: 'Berlin', latitude: 52.5244, longitude: 13.4105, timeZone: 'Europe/Berlin' }) }], { ipVersion: 6 });
    const located = createRuntime({ processes: 1, limits, outbound: { geolocationDatabase: file } });
    try {
      const code = `export async function transformEvent(e) {
        const hit = await geolocation(e.ip);
        const miss = await geolocation('192.0.2.1');
        let invalid = null;
        try { await geolocation('not an ip'); } catch (error) { invalid = error.message; }
        return { city: hit.city.names.en, country: hit.country.iso_code, miss, invalid };
      }`;
      const results = await outputs(located, input(code, [{ ip: '203.0.113.9' }]));
      expect(results).toEqual([{ index: 0, statusCode: 200, output: { city: 'Berlin', country: 'DE', miss: null, invalid: expect.stringContaining('invalid ip address') } }]);
    } finally {
      await located.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects with a clear message when no database is configured', async () => {
    const code = `export async function transformEvent(e) { try { await geolocation('8.8.8.8'); return { ok: true }; } catch (error) { return { message: error.message }; } }`;
    const results = await outputs(open, input(code, [{}]));
    expect(results).toEqual([{ index: 0, statusCode: 200, output: { message: expect.stringContaining('geolocation is not available') } }]);
  });
});

describe('error frames', () => {
  it('name the user\'s own lines, in the transformation and its libraries, and no host frames', async () => {
    const code = [
      "import { cents } from 'money';",
      'export function transformEvent(e) {',
      '  return { total: cents(e.price) };',
      '}',
    ].join('\n');
    const money = { ...library('money', ['export function cents(price) {', '  if (price < 0) throw new RangeError("negative price");', '  return price * 100;', '}'].join('\n')), name: 'Money helpers' };
    const run = input(code, [{ price: 2 }, { price: -1 }], { libraries: [money] });
    run.transformation.name = 'Checkout totals';
    const results = await outputs(open, run);
    expect(results[0]).toEqual({ index: 0, statusCode: 200, output: { total: 200 } });
    expect(results[1]).toEqual({
      index: 1,
      statusCode: 400,
      error: 'RangeError: negative price\n    at cents (Money helpers:2:24)\n    at transformEvent (Checkout totals:3:19)',
    });
  });

  it('default to "transformation" and the import name, and cover transformBatch and async code', async () => {
    const batch = 'export async function transformBatch(events) {\n  await null;\n  throw new Error("bad batch");\n}';
    const error = await rejection(open.run(input(batch, [{}])));
    expect(error.message).toBe('Error: bad batch\n    at transformBatch (transformation:3:9)');
  });

  it('name the lines of a throw in top-level module code, and nothing of the host', async () => {
    const run = input('function boot() { throw new TypeError("not configured"); }\nboot();\nexport function transformEvent(e) { return e; }', [{}]);
    run.transformation.name = 'Boot time';
    const error = await rejection(open.run(run));
    expect(error.message).toBe('top-level code threw TypeError: not configured\n    at boot (Boot time:1:25)\n    at Boot time:2:1');
  });

  it('leave thrown strings as they are', async () => {
    const results = await outputs(open, input('export function transformEvent(e) { throw "just words"; }', [{}]));
    expect(results).toEqual([{ index: 0, statusCode: 400, error: 'just words' }]);
  });
});
