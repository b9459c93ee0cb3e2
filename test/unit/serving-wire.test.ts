import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import { groupWireBatch, serveWireBatch } from '../../src/domain/serving-wire.js';
import type { VersionResolver } from '../../src/domain/serving.js';
import type { Runtime } from '../../src/runtime/types.js';

// The wire protocol's grouping and failure rules without a server: what one odd entry may cost.

const entry = (metadata: unknown, message: unknown = { type: 'track' }) => ({ message, metadata, destination: { Transformations: [{ VersionID: 'v1' }] } });
const deep = (depth: number): unknown => JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));

describe('groupWireBatch', () => {
  it('groups by destinationId and sourceId whatever their types, without calling anything on them', () => {
    const batch = groupWireBatch([
      entry({ destinationId: { toString: 1 }, sourceId: 's' }),
      entry({ destinationId: { toString: 1 }, sourceId: 's' }),
      entry({ destinationId: 'd', sourceId: ['x'] }),
      entry({ destinationId: 5 }),
      entry({ destinationId: '5' }),
    ]);
    expect(batch.rejected).toEqual([]);
    expect(batch.groups.map((group) => group.positions)).toEqual([[0, 1], [2], [3], [4]]);
  });

  it('sets aside an entry whose metadata is nested too deeply to serialize, echoing its serializable top-level fields', () => {
    // A message that deep is found when its group is serialized for the sandbox (the API tests cover it).
    const batch = groupWireBatch([entry({ jobId: 1 }), entry({ jobId: 2 }, { deep: deep(6000) }), entry({ jobId: 3, deep: deep(6000) })]);
    expect(batch.groups.map((group) => group.positions)).toEqual([[0, 1]]);
    expect(batch.rejected.map((r) => [r.position, r.error])).toEqual([[2, 'metadata is nested too deeply to serialize as JSON']]);
    expect(batch.metadataJson[2]).toBe('{"jobId":3}');
    const own = JSON.parse('{"jobId":4,"__proto__":{"x":1},"deep":' + '['.repeat(6000) + ']'.repeat(6000) + '}');
    expect(groupWireBatch([entry(own)]).metadataJson[0]).toBe('{"jobId":4,"__proto__":{"x":1}}');
  });
});

describe('serveWireBatch', () => {
  it('answers a store failure as a retryable 503 (unavailable), never a permanent failure', async () => {
    const resolver = {
      peekTransformation: () => undefined,
      transformation: async () => {
        throw new Error('connection refused');
      },
    } as unknown as VersionResolver;
    const runtime = { run: async () => ({ results: [], dropped: [], logs: [] }) } as unknown as Runtime;
    const failure = await serveWireBatch({ runtime, resolver, outputJson: () => '{}' }, [entry({})], { workspaceId: undefined, filterDropped: false }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DomainError);
    expect(failure).toMatchObject({ kind: 'unavailable', code: 'store_unavailable', retryAfterSeconds: 1 });
  });
});
