import { describe, expect, it } from 'vitest';
import { DomainError } from '../../../src/domain/errors.js';
import { groupWireBatch, serveWireBatch } from '../../../src/domain/serving/wire.js';
import type { VersionResolver } from '../../../src/domain/serving/version-resolver.js';
import { RunError, type Runtime } from '../../../src/runtime/types.js';

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
    const failure = await serveWireBatch({ runtime, resolver, outputJson: () => '{}', maxAnswerChars: 1e6 }, [entry({})], { workspaceId: undefined, filterDropped: false }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DomainError);
    expect(failure).toMatchObject({ kind: 'unavailable', code: 'store_unavailable', retryAfterSeconds: 1 });
  });
  it('answers a whole-batch failure of the code per event, and a crash or an overloaded runtime as a retryable 503', async () => {
    const version = { versionId: 'v1', transformationId: 't', workspaceId: 'w', code: '', codeVersion: '1', language: 'javascript', imports: [] };
    const resolver = { peekTransformation: () => version } as unknown as VersionResolver;
    const failing = (code: string) => ({ run: async () => Promise.reject(new RunError(code, `${code} happened`)) }) as unknown as Runtime;
    const serve = (code: string) => serveWireBatch({ runtime: failing(code), resolver, outputJson: () => '{}', maxAnswerChars: 1e6 }, [entry({ jobId: 1 }), entry({ jobId: 2 })], { workspaceId: undefined, filterDropped: false });
    const answered = JSON.parse((await serve('code_error')).json) as Array<{ statusCode: number; error: string; metadata: unknown }>;
    expect(answered).toEqual([
      { statusCode: 400, error: 'code_error happened', metadata: { jobId: 1 } },
      { statusCode: 400, error: 'code_error happened', metadata: { jobId: 2 } },
    ]);
    for (const code of ['sandbox_crashed', 'overloaded']) await expect(serve(code)).rejects.toMatchObject({ kind: 'unavailable', code, retryAfterSeconds: 1 });
  });

  it('fails whole the groups whose output entries would pass the answer budget, metadata echoes counted, and keeps the rest', async () => {
    const versions: Record<string, unknown> = {};
    for (const id of ['small', 'big']) versions[id] = { versionId: id, transformationId: 't', workspaceId: 'w', code: '', codeVersion: '1', language: 'javascript', imports: [] };
    const resolver = { peekTransformation: (id: string) => versions[id] } as unknown as VersionResolver;
    // Every input becomes ten outputs of a 100-character event.
    const runtime = {
      run: async (input: { events: unknown[] }) => ({ results: input.events.flatMap((_, index) => Array.from({ length: 10 }, () => ({ index, statusCode: 200, output: {} }))), dropped: [], logs: [] }),
    } as unknown as Runtime;
    const pad = 'x'.repeat(1000);
    const wire = (versionId: string, destinationId: string, jobId: number) => ({ message: { type: 'track' }, metadata: { jobId, destinationId, pad }, destination: { Transformations: [{ VersionID: versionId }] } });
    const body = [wire('small', 'a', 1), wire('big', 'b', 2), wire('big', 'b', 3)];
    const served = await serveWireBatch({ runtime, resolver, outputJson: () => `{"p":"${'y'.repeat(94)}"}`, maxAnswerChars: 20_000 }, body, { workspaceId: undefined, filterDropped: false });
    const answer = JSON.parse(served.json) as Array<{ statusCode: number; error?: string; metadata: { jobId: number } }>;
    expect(answer.filter((a) => a.metadata.jobId === 1).map((a) => a.statusCode)).toEqual(Array(10).fill(200));
    expect(answer.filter((a) => a.metadata.jobId !== 1).map((a) => [a.metadata.jobId, a.statusCode])).toEqual([[2, 400], [3, 400]]);
    expect(answer[10]!.error).toMatch(/the answer to this request would be larger than its .* limit; send fewer events per request/);
  });

  it('refuses a VersionID no version can have before any store lookup, and links at most 100 distinct library ids', async () => {
    const looked: string[] = [];
    const resolver = {
      peekTransformation: () => undefined,
      transformation: async (id: string) => {
        looked.push(id);
        return undefined;
      },
    } as unknown as VersionResolver;
    const runtime = {} as unknown as Runtime;
    const bad = ['a\u0000b', 'x'.repeat(65), 'with space'].map((VersionID) => ({ message: {}, metadata: {}, destination: { Transformations: [{ VersionID }] } }));
    const served = await serveWireBatch({ runtime, resolver, outputJson: () => '{}', maxAnswerChars: 1e6 }, bad, { workspaceId: undefined, filterDropped: false });
    expect((JSON.parse(served.json) as Array<{ statusCode: number }>).map((a) => a.statusCode)).toEqual([400, 400, 400]);
    expect(looked).toEqual([]);
    const libraries = Array.from({ length: 50_000 }, (_, i) => ({ VersionID: `lib-${i % 300}` }));
    expect(groupWireBatch([{ ...entry({}), libraries }]).libraryVersionIds).toHaveLength(100);
  });
});
