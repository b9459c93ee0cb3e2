import { describe, expect, it } from 'vitest';
import { createLibrary } from '../../../src/domain/libraries.js';
import { requestFailureOf } from '../../../src/domain/serving/run-events.js';
import { VersionResolver } from '../../../src/domain/serving/version-resolver.js';
import { createTransformation } from '../../../src/domain/transformations.js';
import { RunError } from '../../../src/runtime/types.js';
import { actor, useFixture } from './helpers.js';

// The serving rules without a server: the one whole-batch failure policy, and the version cache.

describe('requestFailureOf (the one policy for a whole-batch failure)', () => {
  const failure = (code: string, retryAfterSeconds?: number) => new RunError(code, `${code} happened`, ['log'], retryAfterSeconds);

  it("fails the request for Tiller's own state, whoever waits, and leaves the code's failures to the caller", () => {
    for (const traffic of ['live', 'developer'] as const) {
      for (const code of ['overloaded', 'shutting_down', 'sandbox_lost', 'sandbox_unavailable']) expect(requestFailureOf(failure(code), traffic)).toMatchObject({ kind: 'unavailable', code, retryAfterSeconds: 1 });
      expect(requestFailureOf(failure('crash_limited', 30), traffic)).toMatchObject({ kind: 'too_many_requests', retryAfterSeconds: 30 });
      for (const code of ['code_error', 'cpu_limit', 'memory_limit', 'link_error', 'quarantined']) expect(requestFailureOf(failure(code), traffic)).toBeUndefined();
    }
  });

  it('retries a batch that crashed its sandbox on live traffic only', () => {
    expect(requestFailureOf(failure('sandbox_crashed'), 'live')).toMatchObject({ kind: 'unavailable', code: 'sandbox_crashed', retryAfterSeconds: 1 });
    expect(requestFailureOf(failure('sandbox_crashed'), 'developer')).toBeUndefined();
  });
});

describe('VersionResolver', () => {
  const fixture = useFixture();

  it('answers a warm version from memory, remembers unknown ids for a while, and shares one query among concurrent cold lookups', async () => {
    const f = fixture.current;
    const t = await createTransformation(f.ctx, f.workspaceId, actor, { name: 't', code: 'export function transformEvent(e) { return e; }' }, { publish: false });
    const resolver = new VersionResolver(f.store.db, { maxEntries: 100, maxCodeBytes: 1_000_000, negativeTtlMs: 60_000 });
    expect(resolver.peekTransformation(t.versionId)).toBeUndefined();
    const [a, b] = await Promise.all([resolver.transformation(t.versionId), resolver.transformation(t.versionId)]);
    expect(a).toBe(b);
    expect(a).toMatchObject({ versionId: t.versionId, workspaceId: f.workspaceId });
    expect(resolver.stats()).toMatchObject({ misses: 1, entries: 1 });
    expect(resolver.peekTransformation(t.versionId)).toBe(a);

    expect(await resolver.transformation('no-such-version')).toBeUndefined();
    expect(resolver.peekTransformation('no-such-version')).toBeNull();
    expect(resolver.stats().misses).toBe(2);
  });

  it('bounds the cache by code bytes and serves, without keeping, a version larger than the whole bound', async () => {
    const f = fixture.current;
    const small = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'small', code: 'export const s = 1;' }, { publish: false });
    const big = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'big', code: `export const b = "${'x'.repeat(20_000)}";` }, { publish: false });
    // Libraries get a quarter of the byte bound: 10,000 bytes, room for the small one only.
    const resolver = new VersionResolver(f.store.db, { maxEntries: 100, maxCodeBytes: 40_000, negativeTtlMs: 1_000 });
    const found = await resolver.libraryVersions([small.versionId, big.versionId, 'unknown']);
    expect([...found.keys()].sort()).toEqual([small.versionId, big.versionId].sort());
    expect(resolver.stats().codeBytes).toBeLessThanOrEqual(10_000);
    await resolver.libraryVersions([small.versionId, big.versionId, 'unknown']);
    // The big one is looked up again; the small one and the unknown id are remembered.
    expect(resolver.stats()).toMatchObject({ misses: 4 });
  });
});
