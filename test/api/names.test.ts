import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import { MAX_NAME_CHARS, MAX_TOKEN_NAME_CHARS } from '../../src/domain/names.js';
import { listWorkspaces } from '../../src/domain/workspaces.js';
import { client, passThrough, startCatalog, type Answer, type Catalog, type Client } from './transformations.helpers.js';

// One rule for every name a user gives: access tokens, transformations, libraries, workspaces.
// A name is shown in lists, the dashboard, logs and terminals, so a name that carries a line
// break, a terminal escape, a bidi override or an invisible character is an attack on whoever
// reads it. Each kind refuses the same characters with the same 400.

let catalog: Catalog;
let workspace: Client;

beforeAll(async () => {
  catalog = await startCatalog({ env: { TILLER_SANDBOX_PROCESSES: '1' } });
  workspace = client(catalog.server.url, catalog.server.workspaceAuth);
});
afterAll(async () => {
  await catalog?.server.close();
});

const charMessage = (codePoint: string) => `name must be printable Unicode text without control or format characters (it has ${codePoint})`;

// [label, name, the character the error names]
const unprintable: [string, string, string][] = [
  ['a CR LF (log and header injection)', 'build\r\nX-Injected: 1', 'U+000D'],
  ['a terminal escape sequence', 'ok \u001b[2K\u001b[1Gdeleted', 'U+001B'],
  ['a tab inside', 'a\tb', 'U+0009'],
  ['a NUL', 'a\u0000b', 'U+0000'],
  ['a C1 control', 'a\u0085b', 'U+0085'],
  ['a right-to-left override (U+202E)', 'invoice\u202Efdp.exe', 'U+202E'],
  ['a zero-width joiner', 'ad\u200Dmin', 'U+200D'],
  ['a zero-width space', 'ad\u200Bmin', 'U+200B'],
  ['a byte-order mark inside', 'ad\uFEFFmin', 'U+FEFF'],
  ['a line separator', 'a\u2028b', 'U+2028'],
  ['a private-use character', 'a\uE000b', 'U+E000'],
  ['an unassigned code point', 'a\u0378b', 'U+0378'],
];

/** Each kind of name, created through its own entry point; answers the error body or null. */
const kinds: { kind: string; max: number; create(name: string): Promise<{ code: string; message: string; field?: string } | { ok: string }> }[] = [
  {
    kind: 'access token',
    max: MAX_TOKEN_NAME_CHARS,
    create: async (name) => outcome(await workspace.post('/accessTokens', { name })),
  },
  {
    kind: 'transformation',
    max: MAX_NAME_CHARS,
    create: async (name) => outcome(await catalog.api.post('/transformations', { name, code: passThrough })),
  },
  {
    kind: 'library',
    max: MAX_NAME_CHARS,
    create: async (name) => outcome(await catalog.api.post('/libraries', { name, code: 'export const one = 1;' })),
  },
  {
    kind: 'workspace',
    max: MAX_NAME_CHARS,
    create: async (name) => {
      try {
        const { workspaceId } = await catalog.server.createWorkspace(name);
        const stored = (await listWorkspaces(catalog.server.server.services.store)).find((w) => w.id === workspaceId);
        return { ok: stored!.name };
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        expect(error.kind).toBe('invalid');
        return { code: error.code, message: error.message, ...(error.details as { field?: string }) };
      }
    },
  },
];

function outcome(answer: Answer): { code: string; message: string; field?: string } | { ok: string } {
  if (answer.status === 200) return { ok: (answer.body.data ?? answer.body).name };
  expect(answer.status, JSON.stringify(answer.body)).toBe(400);
  expect(answer.body).toMatchObject({ success: false, requestId: expect.any(String) });
  return answer.body.error;
}

describe.each(kinds)('$kind names', ({ kind, max, create }) => {
  it.each(unprintable)(`refuses %s`, async (_label, name, codePoint) => {
    expect(await create(name)).toEqual({ code: 'invalid_field', message: charMessage(codePoint), field: 'name' });
  });

  it(`refuses a name over ${max} characters, counted after trimming`, async () => {
    expect(await create('n'.repeat(max + 1))).toEqual({ code: 'invalid_field', message: `name must be at most ${max} characters`, field: 'name' });
    expect(await create('🚀'.repeat(max + 1))).toEqual({ code: 'invalid_field', message: `name must be at most ${max} characters`, field: 'name' });
  });

  it('refuses a name that shows nothing (Hangul filler, blank Braille cells)', async () => {
    for (const name of ['\u3164', '\u2800\u2800']) expect(await create(name)).toEqual({ code: 'invalid_field', message: 'name must contain a visible character', field: 'name' });
  });

  it('refuses a blank name', async () => {
    expect(await create(' \t\n ')).toEqual({ code: 'invalid_field', message: 'name must not be empty', field: 'name' });
  });

  it('accepts ordinary Unicode, trimmed, exactly as given', async () => {
    const name = `Café – 東京 🚀 ${kind} עברית e\u0301`;
    expect(await create(`  ${name}\n`)).toEqual({ ok: name });
    expect(await create(` ${'é'.repeat(max)} `)).toEqual({ ok: 'é'.repeat(max) });
  });
});

describe('renaming a transformation', () => {
  it('follows the same rule', async () => {
    const created = await catalog.api.post('/transformations', { name: 'Renamed later', code: passThrough });
    expect(created.status).toBe(200);
    const answer = await catalog.api.post(`/transformations/${created.body.id}`, { name: 'evil\u202Etxt.js' });
    expect(outcome(answer)).toEqual({ code: 'invalid_field', message: charMessage('U+202E'), field: 'name' });
    expect((await catalog.api.post(`/transformations/${created.body.id}`, { name: 'Café – 東京 🚀 v2' })).body.name).toBe('Café – 東京 🚀 v2');
  });
});
