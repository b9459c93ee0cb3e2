import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueAccessToken } from '../../src/domain/access-tokens.js';
import { systemActor } from '../../src/domain/audit.js';
import { CredentialVerifier } from '../../src/domain/auth/verifier.js';
import { ACCESS_TOKEN_PREFIX, WORKSPACE_TOKEN_PREFIX, generateSecret, secretKind } from '../../src/domain/secrets.js';
import { createWorkspace } from '../../src/domain/workspaces.js';
import { parseAuthorization } from '../../src/http/auth.js';
import { openStore, type Store } from '../../src/store/db.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const secret = generateSecret('access');

describe('parseAuthorization: every documented form', () => {
  it.each([
    ['Basic base64(<token>:) (the seed form)', `Basic ${b64(`${secret}:`)}`, secret, null],
    ['Basic base64(<email>:<token>)', `Basic ${b64(`dev@example.com:${secret}`)}`, secret, 'dev@example.com'],
    ['Basic base64(:<token>)', `Basic ${b64(`:${secret}`)}`, secret, null],
    ['Basic base64(<token>) without a colon', `Basic ${b64(secret)}`, secret, null],
    ['Bearer <token>', `Bearer ${secret}`, secret, null],
    ['lower-case scheme', `basic ${b64(`${secret}:`)}`, secret, null],
    ['upper-case scheme', `BEARER ${secret}`, secret, null],
    ['surrounding and inner whitespace', `  Basic   ${b64(`:${secret}`)}  `, secret, null],
    ['base64url alphabet', `Basic ${Buffer.from(`:${secret}`).toString('base64url')}`, secret, null],
    ['the newline `echo "$TOKEN:" | base64` adds', `Basic ${b64(`${secret}:\n`)}`, secret, null],
    ['a CRLF after the password', `Basic ${b64(`:${secret}\r\n`)}`, secret, null],
  ])('%s', (_label, header, wantSecret, wantEmail) => {
    expect(parseAuthorization(header)).toEqual({ ok: true, secret: wantSecret, email: wantEmail });
  });

  it.each([
    ['absent', undefined, 'missing'],
    ['empty', '', 'missing'],
    ['blank', '   ', 'missing'],
    ['scheme only', 'Basic', 'bad_scheme'],
    ['unknown scheme', `Token ${secret}`, 'bad_scheme'],
    ['Digest scheme', `Digest username="x"`, 'bad_scheme'],
    ['three parts', `Basic ${b64(`${secret}:`)} extra`, 'bad_scheme'],
    ['not base64', 'Basic !!!not-base64!!!', 'malformed'],
    ['base64 of a lone colon', `Basic ${b64(':')}`, 'malformed'],
    ['base64 of nothing', 'Basic ====', 'malformed'],
  ])('refuses %s', (_label, header, reason) => {
    expect(parseAuthorization(header)).toEqual({ ok: false, reason });
  });

  it('takes the password over the user name when both are present', () => {
    expect(parseAuthorization(`Basic ${b64(`someone:${secret}`)}`)).toEqual({ ok: true, secret, email: 'someone' });
  });
});

describe('parseAuthorization: properties', () => {
  it('never throws, whatever the header holds', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })), (header) => {
        const parsed = parseAuthorization(header);
        expect(typeof parsed.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on Basic or Bearer followed by anything', () => {
    fc.assert(
      fc.property(fc.constantFrom('Basic ', 'Bearer ', 'basic ', ' Basic\t'), fc.string({ unit: 'binary' }), (scheme, rest) => {
        const parsed = parseAuthorization(scheme + rest);
        if (parsed.ok) expect(parsed.secret.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on Basic with the base64 of arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const parsed = parseAuthorization(`Basic ${Buffer.from(bytes).toString('base64')}`);
        expect(typeof parsed.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every Basic form for any e-mail-like user name', () => {
    fc.assert(
      fc.property(fc.emailAddress(), (email) => {
        const parsed = parseAuthorization(`Basic ${b64(`${email}:${secret}`)}`);
        expect(parsed).toEqual({ ok: true, secret, email });
      }),
      { numRuns: 300 },
    );
  });
});

describe('no random string verifies as a token', () => {
  let dataDir: string;
  let store: Store;
  let verifier: CredentialVerifier;
  let realAccess: string;
  const pepper = Buffer.from('unit-pepper-0123456789abcdef0123456789');

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tiller-unit-'));
    store = await openStore({ dataDir });
    await store.migrate();
    const { workspace } = await createWorkspace(store, pepper, { name: 'w', ownerEmail: 'owner@example.com' });
    realAccess = (await issueAccessToken(store, pepper, workspace.id, systemActor, { name: 'real' })).token;
    verifier = new CredentialVerifier(store, pepper, { cacheSize: 100, cacheTtlMs: 30_000 });
    await verifier.start();
  });

  afterAll(async () => {
    await verifier?.stop();
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the real token verifies (the store is live)', async () => {
    const result = await verifier.verify(realAccess, { ip: '127.0.0.1' });
    expect(result.ok).toBe(true);
  });

  it('secretKind rejects random strings, including ones with a real prefix', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string().map((s) => ACCESS_TOKEN_PREFIX + s), fc.string().map((s) => WORKSPACE_TOKEN_PREFIX + s)), (candidate) => {
        expect(secretKind(candidate)).toBeNull();
      }),
      { numRuns: 5000 },
    );
  });

  it('secretKind rejects random base62 bodies of the right length (checksum)', () => {
    const base62 = fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
    fc.assert(
      fc.property(fc.constantFrom(ACCESS_TOKEN_PREFIX, WORKSPACE_TOKEN_PREFIX), fc.array(base62, { minLength: 36, maxLength: 36 }), (prefix, chars) => {
        // A random 6-character checksum matches with probability 62^-6: never, in practice.
        expect(secretKind(prefix + chars.join(''))).toBeNull();
      }),
      { numRuns: 5000 },
    );
  });

  it('the verifier refuses random strings and well-formed unknown secrets', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string().map((s) => ACCESS_TOKEN_PREFIX + s), fc.constant(null).map(() => generateSecret('access')), fc.constant(null).map(() => generateSecret('workspace'))),
        async (candidate) => {
          const result = await verifier.verify(candidate, { ip: '127.0.0.1' });
          expect(result.ok).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the verifier refuses the real token with any single character changed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: realAccess.length - 1 }), fc.string({ minLength: 1, maxLength: 1 }), async (position, c) => {
        fc.pre(realAccess[position] !== c);
        const mutated = realAccess.slice(0, position) + c + realAccess.slice(position + 1);
        const result = await verifier.verify(mutated, { ip: '127.0.0.1' });
        expect(result).toEqual({ ok: false, reason: secretKind(mutated) === null ? 'malformed' : 'unknown' });
      }),
      { numRuns: 300 },
    );
  });
});
