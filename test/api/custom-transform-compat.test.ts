import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLibrary, createTransformation } from '../helpers/fixtures.js';
import { cityRecord, writeMmdb } from '../helpers/mmdb.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// POST /customTransform against recorded request/answer pairs (test/fixtures/custom-transform-compat/):
// each case is what rudder-server sends and what rudder-transformer's behaviour says the answer is,
// and Tiller's answer must equal it exactly: status, the headers rudder-server reads, and the body.
// The only freedom is a generated messageId ("$uuid"), checked to be a UUID. The calls go to the
// credential-free runtime listener, as rudder-server makes them. fetch and fetchV2 reach only the
// stub below on 127.0.0.1 ("$stub" in the fixtures' code), which this server allows explicitly;
// geolocation reads a small MaxMind database the test writes.

const FIXTURES = new URL('../fixtures/custom-transform-compat/', import.meta.url);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Code {
  transformations: Record<string, { name: string; code: string }>;
  libraries: Record<string, { name: string; code: string }>;
}

interface Case {
  name: string;
  rudderTransformer: string;
  request: { headers: Record<string, string>; body: unknown[] };
  response: { status: number; headers: Record<string, string>; body: unknown[] };
}

const code = JSON.parse(readFileSync(new URL('_code.json', FIXTURES), 'utf8')) as Code;
const cases = readdirSync(FIXTURES)
  .filter((file) => /^\d+-.*\.json$/.test(file))
  .sort()
  .map((file) => ({ file, ...(JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8')) as Case) }));

let server: TestServer;
let stub: Server;
let geoDir: string;
const ids: Record<string, string> = {};

/** The fixture value with "$version:<key>" / "$library:<key>" strings replaced by the ids they stand for. */
function resolveIds(value: unknown): unknown {
  if (typeof value === 'string') {
    const match = /^\$(version|library):(.+)$/.exec(value);
    if (!match) return value;
    const id = ids[`${match[1]}:${match[2]}`];
    if (id === undefined) throw new Error(`fixture names unknown ${match[1]} "${match[2]}"`);
    return id;
  }
  if (Array.isArray(value)) return value.map(resolveIds);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveIds(v)]));
  return value;
}

/**
 * The expected body with each "$uuid" replaced by what Tiller answered at that place, after checking
 * it is a UUID; every other value is left for the deep equality.
 */
function fillGenerated(expected: unknown, actual: unknown, path: string): unknown {
  if (expected === '$uuid') {
    expect(actual, `${path} is a generated UUID`).toMatch(UUID);
    return actual;
  }
  if (Array.isArray(expected)) return expected.map((v, i) => fillGenerated(v, Array.isArray(actual) ? actual[i] : undefined, `${path}[${i}]`));
  if (expected !== null && typeof expected === 'object') {
    const own = (actual ?? {}) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, fillGenerated(v, own[k], `${path}.${k}`)]));
  }
  return expected;
}

beforeAll(async () => {
  stub = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: decodeURIComponent((req.url ?? '').replace('/users/', '')), method: req.method, body }));
    });
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  const stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  geoDir = mkdtempSync(join(tmpdir(), 'tiller-compat-geo-'));
  const geoFile = join(geoDir, 'city.mmdb');
  await writeMmdb(geoFile, [{ network: '203.0.113.0/24', record: cityRecord({ country: 'DE', countryName: 'Germany', city: 'Berlin', latitude: 52.52, longitude: 13.4, timeZone: 'Europe/Berlin' }) }], { ipVersion: 6 });
  server = await startTestServer({ env: { TILLER_RUNTIME_PORT: '0', TILLER_OUTBOUND_ALLOW: '127.0.0.1/32', TILLER_GEOLOCATION_DATABASE: geoFile } });
  for (const transformation of Object.values(code.transformations)) transformation.code = transformation.code.replaceAll('$stub', stubUrl);
  for (const [key, library] of Object.entries(code.libraries)) {
    ids[`library:${key}`] = (await createLibrary(server, { workspaceId: server.workspaceId, name: library.name, code: library.code })).versionId;
  }
  for (const [key, transformation] of Object.entries(code.transformations)) {
    ids[`version:${key}`] = (await createTransformation(server, { workspaceId: server.workspaceId, name: transformation.name, code: transformation.code })).versionId;
  }
});

afterAll(async () => {
  await server?.close();
  stub?.closeAllConnections();
  await new Promise<void>((resolve) => (stub ? stub.close(() => resolve()) : resolve()));
  if (geoDir) rmSync(geoDir, { recursive: true, force: true });
});

describe('POST /customTransform: rudder-transformer compatibility fixtures', () => {
  it('has the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(18);
  });

  it.each(cases.map((c) => [c.file, c] as const))('%s', async (_file, fixture) => {
    const res = await fetch(`${server.runtimeUrl}/customTransform`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...fixture.request.headers },
      body: JSON.stringify(resolveIds(fixture.request.body)),
    });
    const text = await res.text();
    expect(res.status, fixture.name).toBe(fixture.response.status);
    for (const [name, value] of Object.entries(fixture.response.headers)) expect(res.headers.get(name), `header ${name}`).toBe(value);
    const body = JSON.parse(text) as unknown;
    const expected = fillGenerated(resolveIds(fixture.response.body), body, 'body');
    expect(body, `${fixture.name}\nrudder-transformer: ${fixture.rudderTransformer}`).toStrictEqual(expected);
  });
});
