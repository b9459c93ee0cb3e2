import { describe, expect, it } from 'vitest';
import { DomainError } from '../../../src/domain/errors.js';
import { groupWireBatch, serveWireBatch } from '../../../src/domain/serving/wire.js';
import type { VersionResolver } from '../../../src/domain/serving/version-resolver.js';
import { RunError, type EventOutcome, type Runtime } from '../../../src/runtime/types.js';

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

// What a fake runtime was asked to run, and a resolver that knows some versions.
type Ran = { workspaceId: string; credentials?: Record<string, unknown>; transformation: { name?: string }; events: unknown[] };
const versionOf = (versionId: string, workspaceId = 'w') => ({ versionId, transformationId: `t-${versionId}`, workspaceId, name: `name of ${versionId}`, code: '', codeVersion: '1', language: 'javascript', imports: [] });
const knownVersions = (...versions: Array<ReturnType<typeof versionOf>>) => {
  const byId = new Map(versions.map((v) => [v.versionId, v]));
  return { peekTransformation: (id: string) => byId.get(id) ?? null } as unknown as VersionResolver;
};
const recording = (ran: Ran[], results: (input: Ran) => unknown[] = (input) => input.events.map((_, index) => ({ index, statusCode: 200, output: { n: index } }))) =>
  ({
    run: async (input: Ran) => {
      ran.push(input);
      return { results: results(input), dropped: [], logs: [] };
    },
  }) as unknown as Runtime;
const outputJson = (outcome: EventOutcome) => JSON.stringify((outcome as { output?: unknown }).output);
const options = { workspaceId: undefined, filterDropped: false };
const onVersion = (VersionID: string, metadata: Record<string, unknown> = {}, more: Record<string, unknown> = {}) => ({ message: { type: 'track' }, metadata, destination: { Transformations: [{ VersionID }] }, ...more });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request credentials (spec 7.3, 7.5)', () => {
  const first = (credentials: unknown) => groupWireBatch([{ ...entry({}), credentials }, { ...entry({}), credentials: [{ key: 'second', value: 'ignored' }] }]).credentials;

  it('maps the first entry\'s credentials by key, later entries winning, and ignores every other entry\'s', () => {
    expect(
      first([
        { id: 'c1', key: 'apiKey', value: 'one', isSecret: true },
        { key: 'region', value: 'eu', isSecret: false },
        { id: 'c3', key: 'apiKey', value: 'two', isSecret: true },
        { key: 'nested', value: { a: [1, 2] } },
        { key: 'none' },
      ]),
    ).toEqual({ apiKey: 'two', region: 'eu', nested: { a: [1, 2] }, none: undefined });
    expect(groupWireBatch([entry({}), { ...entry({}), credentials: [{ key: 'k', value: 'v' }] }]).credentials).toBeUndefined();
  });

  it('ignores a credentials field that is not an array, and skips entries without a non-empty string key, never failing events', () => {
    for (const odd of [undefined, null, 'k=v', 42, { key: 'k', value: 'v' }]) expect(first(odd)).toBeUndefined();
    expect(first([])).toBeUndefined();
    expect(first([null, 'k', 7, [], { key: '' }, { key: 5, value: 'v' }, { key: null, value: 'v' }, { value: 'v' }, { key: 'ok', value: 'v' }])).toEqual({ ok: 'v' });
    const batch = groupWireBatch([{ ...entry({ jobId: 1 }), credentials: 'broken' }]);
    expect(batch.rejected).toEqual([]);
    expect(batch.groups[0]!.positions).toEqual([0]);
  });

  it('keeps keys such as __proto__ as plain keys', () => {
    const credentials = first(JSON.parse('[{"key":"__proto__","value":{"polluted":true}},{"key":"constructor","value":"c"}]')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(credentials)).toBe(Object.prototype);
    expect(Object.keys(credentials)).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(credentials, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('takes at most 1000 entries and 1 MiB of keys and values', () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    expect(Object.keys(first(many)!)).toHaveLength(1000);
    const large = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(300 * 1024) }));
    expect(Object.keys(first(large)!)).toEqual(['k0', 'k1', 'k2']);
  });

  it('gives each group\'s run its version\'s workspace credentials, with the request\'s on top for the first entry\'s workspace only, one lookup per workspace', async () => {
    const ran: Ran[] = [];
    const looked: string[] = [];
    const deps = {
      runtime: recording(ran),
      resolver: knownVersions(versionOf('va', 'wa'), versionOf('vb', 'wb'), versionOf('va2', 'wa')),
      outputJson,
      maxAnswerChars: 1e6,
      workspaceCredentials: async (workspaceId: string) => {
        looked.push(workspaceId);
        return workspaceId === 'wa' ? { shared: 'from wa', only: 'wa' } : { shared: 'from wb' };
      },
    };
    const body = [
      onVersion('va', { destinationId: 'd1' }, { credentials: [{ key: 'shared', value: 'from request', isSecret: true }, { key: 'extra', value: 'x' }] }),
      onVersion('vb', { destinationId: 'd2' }),
      onVersion('va2', { destinationId: 'd3' }),
    ];
    await serveWireBatch(deps, body, options);
    // Groups run concurrently: compare in workspace order.
    const byWorkspace = ran.map((input) => [input.workspaceId, input.credentials]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    // The request's credentials come from the config of the first entry's workspace: another
    // workspace's group in the same request never sees them.
    expect(byWorkspace).toEqual([
      ['wa', { shared: 'from request', only: 'wa', extra: 'x' }],
      ['wa', { shared: 'from request', only: 'wa', extra: 'x' }],
      ['wb', { shared: 'from wb' }],
    ]);
    expect(looked.sort()).toEqual(['wa', 'wb']);
  });

  it('gives a read-only caller that sends credentials of its own none of the workspace\'s secrets', async () => {
    const asked: boolean[] = [];
    const run = async (readOnlyCaller: boolean, credentials?: unknown[]) => {
      const ran: Ran[] = [];
      const deps = {
        runtime: recording(ran),
        resolver: knownVersions(versionOf('v1')),
        outputJson,
        maxAnswerChars: 1e6,
        workspaceCredentials: (_workspaceId: string, { secrets }: { secrets: boolean }) => {
          asked.push(secrets);
          return secrets ? { secret: 's', plain: 'p' } : { plain: 'p' };
        },
      };
      await serveWireBatch(deps, [onVersion('v1', {}, credentials ? { credentials } : {})], { ...options, readOnlyCaller });
      return ran[0]!.credentials;
    };
    expect(await run(true, [{ key: 'url', value: 'elsewhere' }])).toEqual({ plain: 'p', url: 'elsewhere' });
    expect(await run(true)).toEqual({ secret: 's', plain: 'p' });
    expect(await run(false, [{ key: 'url', value: 'elsewhere' }])).toEqual({ secret: 's', plain: 'p', url: 'elsewhere' });
    expect(asked).toEqual([false, true, true]);
  });

  it('accepts a synchronous lookup, runs with the request\'s credentials alone without one, and with none when nobody has any', async () => {
    const runWith = async (workspaceCredentials: ((id: string) => Record<string, unknown>) | undefined, body: unknown[]) => {
      const ran: Ran[] = [];
      await serveWireBatch({ runtime: recording(ran), resolver: knownVersions(versionOf('v1')), outputJson, maxAnswerChars: 1e6, ...(workspaceCredentials ? { workspaceCredentials } : {}) }, body, options);
      return ran[0]!.credentials;
    };
    const withRequest = [onVersion('v1', {}, { credentials: [{ key: 'k', value: 'request' }] })];
    expect(await runWith(() => ({ k: 'workspace', w: 1 }), withRequest)).toEqual({ k: 'request', w: 1 });
    expect(await runWith(() => ({ w: 1 }), [onVersion('v1')])).toEqual({ w: 1 });
    expect(await runWith(undefined, withRequest)).toEqual({ k: 'request' });
    expect(await runWith(undefined, [onVersion('v1')])).toBeUndefined();
    expect(await runWith(() => ({}), [onVersion('v1')])).toBeUndefined();
  });

  it('answers a failing credentials lookup as the store being away: a retryable 503, never per-event failures', async () => {
    const ran: Ran[] = [];
    const failing = [
      async () => Promise.reject(new Error('connection refused')),
      () => {
        throw new Error('cache broken');
      },
    ];
    for (const workspaceCredentials of failing) {
      const served = serveWireBatch({ runtime: recording(ran), resolver: knownVersions(versionOf('v1'), versionOf('v2')), outputJson, maxAnswerChars: 1e6, workspaceCredentials }, [onVersion('v1', { destinationId: 'a' }), onVersion('v2', { destinationId: 'b' })], options);
      await expect(served).rejects.toBeInstanceOf(DomainError);
      await expect(served).rejects.toMatchObject({ kind: 'unavailable', code: 'store_unavailable', retryAfterSeconds: 1 });
    }
    expect(ran).toEqual([]);
  });

  it('looks nothing up for a version that does not exist or belongs to another workspace', async () => {
    const looked: string[] = [];
    const workspaceCredentials = (id: string) => {
      looked.push(id);
      return {};
    };
    await serveWireBatch({ runtime: recording([]), resolver: knownVersions(versionOf('v1', 'theirs')), outputJson, maxAnswerChars: 1e6, workspaceCredentials }, [onVersion('missing', { destinationId: 'a' }), onVersion('v1', { destinationId: 'b' })], { workspaceId: 'mine', filterDropped: false });
    expect(looked).toEqual([]);
  });

  it('names the transformation in the run, for error frames', async () => {
    const ran: Ran[] = [];
    await serveWireBatch({ runtime: recording(ran), resolver: knownVersions(versionOf('v1')), outputJson, maxAnswerChars: 1e6 }, [onVersion('v1')], options);
    expect(ran[0]!.transformation.name).toBe('name of v1');
  });
});

describe('transformBatch outputs that trace back to no input', () => {
  const metadata = (n: number, more: Record<string, unknown> = {}) => ({
    sourceId: 's',
    destinationId: 'd',
    workspaceId: 'w',
    destinationType: 'WEBHOOK',
    transformationId: 'tr',
    messageId: `m${n}`,
    jobId: n,
    rudderId: `r${n}`,
    receivedAt: `2024-01-0${n + 1}T00:00:00Z`,
    traceparent: `00-${n}`,
    eventName: 'input event',
    eventType: 'track',
    ...more,
  });
  type Answer = { statusCode: number; output?: unknown; error?: string; metadata: Record<string, unknown> };
  const serve = async (results: unknown[], count = 2, filterDropped = false) => {
    const body = Array.from({ length: count }, (_, n) => onVersion('v1', metadata(n, n === 0 ? { messageIds: ['kept', 'as sent'] } : {})));
    const served = await serveWireBatch({ runtime: recording([], () => results), resolver: knownVersions(versionOf('v1')), outputJson, maxAnswerChars: 1e6 }, body, { workspaceId: undefined, filterDropped });
    return { body, answer: JSON.parse(served.json) as Answer[] };
  };

  it('gives an untraced output the first input\'s metadata with a new UUID messageId and eventName/eventType from the output', async () => {
    const { body, answer } = await serve([
      { index: 1, statusCode: 200, output: { type: 'track', event: 'traced' } },
      { index: 2, statusCode: 200, output: { type: 'identify', event: 'Summary' } },
      { index: 5, statusCode: 200, output: { type: 'track', event: 'Another' } },
    ]);
    expect(answer).toHaveLength(3);
    // Traced: the input's metadata, whole.
    expect(answer[0]).toEqual({ output: { type: 'track', event: 'traced' }, metadata: body[1]!.metadata, statusCode: 200 });
    const { messageId, ...rest } = answer[1]!.metadata;
    expect(messageId).toMatch(UUID);
    expect(rest).toEqual({ ...metadata(0), messageIds: ['kept', 'as sent'], eventName: 'Summary', eventType: 'identify', messageId: undefined });
    expect(Object.keys(answer[1]!.metadata)).not.toContain('undefined');
    expect(answer[2]!.metadata.messageId).toMatch(UUID);
    expect(answer[2]!.metadata.messageId).not.toBe(messageId);
    expect(answer[2]!.metadata).toMatchObject({ jobId: 0, rudderId: 'r0', receivedAt: '2024-01-01T00:00:00Z', traceparent: '00-0', eventName: 'Another', eventType: 'track' });
  });

  it('leaves eventName and eventType out when the output has no string event or type, as rudder-transformer\'s undefined does', async () => {
    const { answer } = await serve([
      { index: 2, statusCode: 200, output: { properties: {} } },
      { index: 3, statusCode: 200, output: { event: 42, type: { nested: true } } },
    ]);
    for (const entry of answer) {
      expect(entry.metadata).not.toHaveProperty('eventName');
      expect(entry.metadata).not.toHaveProperty('eventType');
      expect(entry.metadata).toMatchObject({ jobId: 0, sourceId: 's', messageIds: ['kept', 'as sent'] });
    }
  });

  it('answers untraced outputs after the group\'s last input, and writes each field once', async () => {
    const { answer } = await serve([
      { index: 3, statusCode: 200, output: { event: 'made up' } },
      { index: 0, statusCode: 200, output: { event: 'zero' } },
      { index: 1, statusCode: 200, output: { event: 'one' } },
    ]);
    expect(answer.map((a) => (a.output as { event: string }).event)).toEqual(['zero', 'one', 'made up']);
    const served = await serveWireBatch({ runtime: recording([], () => [{ index: 1, statusCode: 200, output: { event: 'e', type: 't' } }]), resolver: knownVersions(versionOf('v1')), outputJson, maxAnswerChars: 1e6 }, [onVersion('v1', metadata(0))], options);
    const text = served.json;
    for (const field of ['messageId', 'eventName', 'eventType', 'jobId']) expect(text.split(`"${field}":`)).toHaveLength(2);
  });

  it('handles a first input with no metadata, or metadata with odd keys', async () => {
    const run = async (meta: unknown) => {
      const served = await serveWireBatch({ runtime: recording([], () => [{ index: 1, statusCode: 200, output: { event: 'e' } }]), resolver: knownVersions(versionOf('v1')), outputJson, maxAnswerChars: 1e6 }, [{ message: {}, destination: { Transformations: [{ VersionID: 'v1' }] }, ...(meta === undefined ? {} : { metadata: meta }) }], options);
      return served.json;
    };
    expect(JSON.parse(await run(undefined))[0].metadata).toEqual({ messageId: expect.stringMatching(UUID), eventName: 'e' });
    const odd = JSON.parse(await run(JSON.parse('{"__proto__":{"x":1},"a\\"b":"c","eventName":"old"}')))[0].metadata;
    expect(Object.keys(odd)).toEqual(['__proto__', 'a"b', 'messageId', 'eventName']);
    expect(odd.eventName).toBe('e');
  });

  it('gives an untraced failure the group\'s common metadata, as rudder-transformer does', async () => {
    const { answer } = await serve([
      { index: 0, statusCode: 200, output: { event: 'ok' } },
      { index: 4, statusCode: 400, error: 'returned event in events array from transformBatch(events) is not an object' },
    ]);
    expect(answer[1]).toEqual({
      statusCode: 400,
      error: 'returned event in events array from transformBatch(events) is not an object',
      metadata: { sourceId: 's', destinationId: 'd', destinationType: 'WEBHOOK', workspaceId: 'w', transformationId: 'tr', messageIds: ['m0', 'm1'] },
    });
  });
});
