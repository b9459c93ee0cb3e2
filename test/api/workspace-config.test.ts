import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLog, eventually } from '../helpers/observe.js';
import { startTestServer, testDialect, type TestServer } from '../helpers/server.js';
import { client, createLibrary, createTransformation, expectEnvelope, startCatalog, tagging, type Answer, type Catalog, type Client } from './transformations.helpers.js';

// The control plane of a self-hosted rudder-server (spec section 8), over real HTTP and with
// rudder-server's own calls: import the ConfigT file, export it back, and poll
// /workspaceConfig?fetchAll=true as rudder-server does (Basic workspace token, Content-Type:
// application/json on a GET), reading the answer as Go's decoder would.

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Third-party API keys in destination configs: never in the audit log or the server log. */
const WEBHOOK_SECRET = 'whsec-0f9e8d7c6b5a-never-logged';
const AMPLITUDE_KEY = 'amp-key-1a2b3c4d-never-logged';

const log = captureLog();
let catalog: Catalog;
let api: Client;
/** The workspace token, in rudder-server's Basic form. */
let owner: Client;

/** Two sources, three destinations, with the fields rudder-server's file mode reads. */
function rudderConfig() {
  return {
    workspaceId: 'file-mode-workspace',
    enableMetrics: false,
    sources: [
      {
        id: 'src-web',
        name: 'Web',
        writeKey: 'wk-web-123',
        enabled: true,
        workspaceId: 'file-mode-workspace',
        sourceDefinition: { id: 'def-js', name: 'Javascript', category: null },
        config: {},
        destinations: [
          {
            id: 'dst-webhook',
            name: 'Webhook',
            enabled: true,
            workspaceId: 'file-mode-workspace',
            config: { webhookUrl: 'https://hooks.example.com/in', headers: [{ from: 'X-Key', to: WEBHOOK_SECRET }] },
            destinationDefinition: { id: 'def-wh', name: 'WEBHOOK', displayName: 'Webhook', config: { transformAt: 'processor' } },
            isProcessorEnabled: true,
            transformations: [],
          },
          {
            id: 'dst-amplitude',
            name: 'Amplitude prod',
            enabled: false,
            config: { apiKey: AMPLITUDE_KEY },
            destinationDefinition: { id: 'def-am', name: 'AM', displayName: 'Amplitude' },
            isProcessorEnabled: true,
            // Hand-written in file mode; Tiller serves its own connections instead.
            transformations: [{ versionId: 'hand-written-version', id: 'hand-written', config: {} }],
          },
        ],
      },
      {
        id: 'src-ios',
        name: 'iOS app',
        writeKey: 'wk-ios-456',
        enabled: true,
        sourceDefinition: { id: 'def-ios', name: 'iOS' },
        config: { dataplaneUrl: 'https://dp.example.com' },
        destinations: [
          {
            id: 'dst-bigquery',
            name: 'BigQuery',
            enabled: true,
            config: { project: 'analytics' },
            destinationDefinition: { id: 'def-bq', name: 'BQ', displayName: 'BigQuery' },
            isProcessorEnabled: false,
          },
        ],
      },
    ],
    settings: { dataRetention: { disableReportingPii: false } },
    connections: {},
    libraries: [{ versionId: 'ignored-library' }],
    credentials: {},
    updatedAt: '2024-05-01T10:00:00.000Z',
  };
}

type Served = ReturnType<typeof rudderConfig> & {
  sources: { id: string; destinations: { id: string; transformations: { id: string; versionId: string; config: Record<string, unknown>; language: string }[] }[] }[];
  libraries: { versionId: string }[];
  credentials: Record<string, { key: string; value: string; isSecret: boolean }>;
};

/** rudder-server's poll: GET with Content-Type: application/json and no body. */
function poll(as: Client = owner, headers: Record<string, string> = {}): Promise<Answer<Served>> {
  return as.call('GET', '/workspaceConfig?fetchAll=true', undefined, { 'content-type': 'application/json', ...headers });
}

const importConfig = (body: unknown, as: Client = owner) => as.call('PUT', '/workspaceConfig/base', body);

/** The served destination's transformations, wherever it is listed. */
function transformationsOf(served: Served, destinationId: string) {
  for (const source of served.sources) for (const destination of source.destinations ?? []) if (destination.id === destinationId) return destination.transformations;
  throw new Error(`destination ${destinationId} not served`);
}

/**
 * rudder-server's processor: a /customTransform batch for one destination, built only from the
 * polled configuration (its transformations[0].versionId, libraries and credentials).
 */
async function runAsProcessor(served: Served, destinationId: string, events: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
  const [entry] = transformationsOf(served, destinationId);
  if (!entry) throw new Error(`nothing connected to ${destinationId}`);
  const body = events.map((message, i) => ({
    message,
    metadata: { sourceId: served.sources[0]!.id, destinationId, workspaceId: served.workspaceId, jobId: i + 1, messageId: `m-${i}` },
    destination: { ID: destinationId, Transformations: [{ VersionID: entry.versionId, ID: entry.id }] },
    libraries: served.libraries.map((library) => ({ VersionID: library.versionId })),
    credentials: Object.values(served.credentials).map((credential) => ({ key: credential.key, value: credential.value, isSecret: credential.isSecret })),
  }));
  const answer = await api.call('POST', '/customTransform', body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return (answer.body as { statusCode: number; output: Record<string, unknown> }[]).map((result) => {
    expect(result.statusCode, JSON.stringify(result)).toBe(200);
    return result.output;
  });
}

beforeAll(async () => {
  catalog = await startCatalog({ logStream: log.stream });
  api = catalog.api;
  owner = client(catalog.server.url, catalog.server.workspaceAuth);
});

afterAll(async () => {
  await catalog?.server.close();
});

describe('before an import', () => {
  it('answers 404 to the export and to the poll, saying what to do', async () => {
    const exported = await owner.get('/workspaceConfig/base');
    expectEnvelope(exported, 404, 'workspace_config_missing');
    expect(exported.body.error.message).toContain('PUT /workspaceConfig/base');
    expectEnvelope(await poll(), 404, 'workspace_config_missing');
  });
});

describe('PUT and GET /workspaceConfig/base', () => {
  it('imports two sources and three destinations and exports them back unchanged', async () => {
    const answer = await importConfig(rudderConfig());
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toEqual({ success: true, sources: 2, destinations: 3, bytes: JSON.stringify(rudderConfig()).length, importedAt: expect.stringMatching(ISO_MS), updatedAt: answer.body.importedAt });
    const exported = await owner.get('/workspaceConfig/base');
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toContain('application/json');
    expect(exported.body).toEqual(rudderConfig());
  });

  it('answers 400 naming the path of what is wrong, and keeps the configuration it had', async () => {
    const cases: [(config: any) => void, string, string][] = [
      [(c) => delete c.sources, 'missing_field', 'sources is required'],
      [(c) => (c.sources = {}), 'invalid_field', 'sources must be array'],
      [(c) => delete c.sources[1].destinations[0].id, 'missing_field', 'sources[1].destinations[0].id is required'],
      [(c) => delete c.sources[0].id, 'missing_field', 'sources[0].id is required'],
      [(c) => (c.sources[0].id = ''), 'invalid_field', 'sources[0].id must be a non-empty string'],
      [(c) => (c.sources[0].destinations[1].id = 7), 'invalid_field', 'sources[0].destinations[1].id must be a non-empty string'],
      [(c) => (c.sources[1].enabled = 'yes'), 'invalid_field', 'sources[1].enabled must be a boolean'],
      [(c) => (c.sources[0].destinations = { id: 'x' }), 'invalid_field', 'sources[0].destinations must be an array'],
      [(c) => (c.sources[0].destinations[0].config = 'x'), 'invalid_field', 'sources[0].destinations[0].config must be an object'],
      [(c) => (c.sources[1] = 'iOS'), 'invalid_field', 'sources[1] must be an object'],
      [(c) => (c.updatedAt = 5), 'invalid_field', 'config.updatedAt must be a string'],
      [(c) => (c.sources[1].id = 'src-web'), 'duplicate_id', 'sources[1].id "src-web" is also the id of sources[0]; source ids must be unique'],
      [(c) => (c.sources[0].destinations[1].id = 'dst-webhook'), 'duplicate_id', 'sources[0].destinations[1].id "dst-webhook" is also the id of sources[0].destinations[0]; a source lists each destination once'],
    ];
    for (const [spoil, code, message] of cases) {
      const config = rudderConfig();
      spoil(config);
      const answer = await importConfig(config);
      expectEnvelope(answer, 400, code);
      expect(answer.body.error.message).toBe(message);
    }
    expectEnvelope(await importConfig('[1, 2]'), 400, 'invalid_body');
    expectEnvelope(await importConfig('{"sources": ['), 400, 'invalid_json');
    expect((await owner.get('/workspaceConfig/base')).body).toEqual(rudderConfig());
  });

  it('accepts the same destination under two sources: one destination connected to both', async () => {
    const config = rudderConfig();
    config.sources[1]!.destinations.push({ ...config.sources[0]!.destinations[0]! } as never);
    const answer = await importConfig(config);
    expect(answer.status).toBe(200);
    expect(answer.body.destinations).toBe(3);
    expect((await importConfig(rudderConfig())).status).toBe(200);
  });

  it('accepts several MiB (over the general body limit) and answers 413 with the envelope past 8 MiB', async () => {
    const big = rudderConfig();
    (big.settings as Record<string, unknown>).padding = 'x'.repeat(3 * 1024 * 1024);
    expect((await importConfig(big)).status).toBe(200);
    const tooBig = rudderConfig();
    (tooBig.settings as Record<string, unknown>).padding = 'x'.repeat(8 * 1024 * 1024);
    expectEnvelope(await importConfig(tooBig), 413, 'body_too_large');
    expect((await importConfig(rudderConfig())).status).toBe(200);
  });

  it('takes the workspace token only: access tokens and no credentials answer 401', async () => {
    for (const as of [api, client(catalog.server.url, undefined)]) {
      const put = await importConfig(rudderConfig(), as);
      expectEnvelope(put, 401, 'unauthorized');
      expect(put.headers.get('www-authenticate')).toBe('Basic realm="tiller"');
      expectEnvelope(await as.get('/workspaceConfig/base'), 401, 'unauthorized');
      expectEnvelope(await poll(as), 401, 'unauthorized');
    }
    // Another workspace's token sees its own workspace, which has no configuration.
    const other = await catalog.server.createWorkspace('other');
    const stranger = client(catalog.server.url, other.workspaceAuth);
    expectEnvelope(await stranger.get('/workspaceConfig/base'), 404, 'workspace_config_missing');
    expectEnvelope(await poll(stranger), 404, 'workspace_config_missing');
  });

  it('lists sources and destinations without their configs at /workspaceConfig/sources, for either token', async () => {
    for (const as of [owner, api]) {
      const answer = await as.get('/workspaceConfig/sources');
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body).toEqual({
        sources: [
          {
            id: 'src-web',
            name: 'Web',
            enabled: true,
            type: 'Javascript',
            destinations: [
              { id: 'dst-webhook', name: 'Webhook', enabled: true, type: 'Webhook', transformationId: null },
              { id: 'dst-amplitude', name: 'Amplitude prod', enabled: false, type: 'Amplitude', transformationId: null },
            ],
          },
          { id: 'src-ios', name: 'iOS app', enabled: true, type: 'iOS', destinations: [{ id: 'dst-bigquery', name: 'BigQuery', enabled: true, type: 'BigQuery', transformationId: null }] },
        ],
        importedAt: expect.stringMatching(ISO_MS),
        updatedAt: expect.stringMatching(ISO_MS),
      });
      expect(JSON.stringify(answer.body)).not.toContain(AMPLITUDE_KEY);
    }
    const { token } = await catalog.server.issueAccessToken({ name: 'no-read', scopes: ['write'] });
    expectEnvelope(await client(catalog.server.url, `Bearer ${token}`).get('/workspaceConfig/sources'), 403, 'insufficient_scope');
    expectEnvelope(await client(catalog.server.url, undefined).get('/workspaceConfig/sources'), 401, 'unauthorized');
  });

  it('audits imports with counts only: destination secrets reach neither the audit log nor the server log', async () => {
    const auditLog = await owner.get('/auditLog?limit=1000');
    const imports = (auditLog.body as { action: string; target: string; reason: string; actor: { type: string } }[]).filter((e) => e.action === 'workspace_config.import');
    expect(imports.length).toBeGreaterThanOrEqual(3);
    expect(imports[0]).toMatchObject({ target: catalog.server.workspaceId, reason: `2 sources, 3 destinations, ${JSON.stringify(rudderConfig()).length} bytes`, actor: { type: 'workspace' } });
    const everything = JSON.stringify(auditLog.body) + log.text();
    expect(everything).not.toContain(WEBHOOK_SECRET);
    expect(everything).not.toContain(AMPLITUDE_KEY);
  });
});

describe('GET /workspaceConfig?fetchAll=true', () => {
  let transformation: { id: string; versionId: string };
  let library: { id: string; versionId: string; importName: string };

  it('answers the imported ConfigT with Tiller\'s parts, field by field as Go decodes it', async () => {
    const answer = await poll();
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.headers.get('content-type')).toContain('application/json');
    expect(answer.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    const served = answer.body;
    const imported = rudderConfig();
    expect(served.workspaceId).toBe(catalog.server.workspaceId);
    expect(served.updatedAt).toMatch(ISO_MS);
    expect(served.libraries).toEqual([]);
    expect(served.credentials).toEqual({});
    expect(served.settings).toEqual(imported.settings);
    expect(served.connections).toEqual({});
    expect(served.enableMetrics).toBe(false);
    expect(served.sources.map((s) => s.id)).toEqual(['src-web', 'src-ios']);
    imported.sources.forEach((source, i) => {
      const got = served.sources[i] as unknown as Record<string, unknown> & { destinations: Record<string, unknown>[] };
      for (const field of ['id', 'name', 'writeKey', 'enabled', 'sourceDefinition', 'config'] as const) expect(got[field], `sources[${i}].${field}`).toEqual(source[field]);
      source.destinations.forEach((destination, j) => {
        const gotDestination = got.destinations[j]!;
        for (const field of ['id', 'name', 'enabled', 'config', 'destinationDefinition', 'isProcessorEnabled'] as const) {
          expect(gotDestination[field], `sources[${i}].destinations[${j}].${field}`).toEqual(destination[field]);
        }
        // Nothing is connected yet: every destination has an empty list, the hand-written one too.
        expect(gotDestination.transformations, `sources[${i}].destinations[${j}].transformations`).toEqual([]);
      });
    });
  });

  it('serves a connected transformation\'s published version and the libraries it imports', async () => {
    const before = (await poll()).body.updatedAt;
    library = await createLibrary(api, { name: 'Config Helpers', code: 'export function mark(e) { e.marked = true; return e; }' }, true);
    transformation = await createTransformation(
      api,
      {
        name: 'Connected',
        code: `import { mark } from "${library.importName}";\nexport function transformEvent(event) {\n  event.region = getCredential("REGION") ?? "none";\n  return mark(event);\n}\n`,
        destinationIds: ['dst-webhook'],
      },
      true,
    );
    const served = (await poll()).body;
    expect(transformationsOf(served, 'dst-webhook')).toEqual([{ id: transformation.id, versionId: transformation.versionId, config: {}, language: 'javascript' }]);
    expect(transformationsOf(served, 'dst-amplitude')).toEqual([]);
    expect(transformationsOf(served, 'dst-bigquery')).toEqual([]);
    expect(served.libraries).toEqual([{ versionId: library.versionId }]);
    expect(served.updatedAt > before).toBe(true);
  });

  it('runs what it serves: /customTransform with the version, libraries and credentials of the poll', async () => {
    const [output] = await runAsProcessor((await poll()).body, 'dst-webhook', [{ type: 'track', event: 'Signed Up' }]);
    expect(output).toEqual({ type: 'track', event: 'Signed Up', region: 'none', marked: true });
  });

  it('shows a new published version on the next poll, and a rollback', async () => {
    const v2 = await api.post(`/transformations/${transformation.id}?publish=true`, { description: 'second' });
    expect(v2.status, JSON.stringify(v2.body)).toBe(200);
    expect(transformationsOf((await poll()).body, 'dst-webhook')[0]!.versionId).toBe(v2.body.versionId);
    // A draft does not change what is served.
    const draft = await api.post(`/transformations/${transformation.id}?publish=false`, { code: tagging('draft') });
    expect(draft.status).toBe(200);
    expect(transformationsOf((await poll()).body, 'dst-webhook')[0]!.versionId).toBe(v2.body.versionId);

    const rollback = await api.post('/transformations/libraries/publish', { transformations: [{ versionId: transformation.versionId }] });
    expect(rollback.status, JSON.stringify(rollback.body)).toBe(200);
    expect(transformationsOf((await poll()).body, 'dst-webhook')[0]!.versionId).toBe(transformation.versionId);

    const libraryV2 = await api.post(`/libraries/${library.id}?publish=true`, { code: 'export function mark(e) { e.marked = 2; return e; }' });
    expect(libraryV2.status).toBe(200);
    expect((await poll()).body.libraries).toEqual([{ versionId: libraryV2.body.versionId }]);
    expect((await runAsProcessor((await poll()).body, 'dst-webhook', [{ type: 'track' }]))[0]!.marked).toBe(2);
  });

  it('shows credential changes, secrets in plain text for the workspace\'s own rudder-server', async () => {
    const before = (await poll()).body.updatedAt;
    const created = await api.post('/credentials', { key: 'API_KEY', value: 'k-1', isSecret: true });
    expect(created.status).toBe(201);
    const served = (await poll()).body;
    expect(served.credentials).toEqual({ API_KEY: { key: 'API_KEY', value: 'k-1', isSecret: true } });
    expect(served.updatedAt > before).toBe(true);
    const region = await api.post('/credentials', { key: 'REGION', value: 'eu-west-1' });
    expect((await runAsProcessor((await poll()).body, 'dst-webhook', [{ type: 'track' }]))[0]!.region).toBe('eu-west-1');
    await api.del(`/credentials/${region.body.id}`);
    await api.call('PATCH', `/credentials/${created.body.id}`, { value: 'k-2' });
    expect((await poll()).body.credentials.API_KEY!.value).toBe('k-2');
    await api.del(`/credentials/${created.body.id}`);
    expect((await poll()).body.credentials).toEqual({});
  });

  it('answers 304 to a matching If-None-Match, and 200 with a new ETag after a change', async () => {
    const first = await poll();
    const etag = first.headers.get('etag')!;
    const again = await poll(owner, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
    expect(again.headers.get('etag')).toBe(etag);
    // No body and no length that promises one: a client reading a 304 that says Content-Length: 4
    // waits for bytes that never come (the poll benchmark stalled on exactly that).
    expect(again.headers.get('content-length') ?? '0').toBe('0');
    expect((await poll(owner, { 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
    expect((await poll(owner, { 'if-none-match': '"something-else"' })).status).toBe(200);

    const config = rudderConfig();
    config.sources[1]!.enabled = false;
    expect((await importConfig(config)).status).toBe(200);
    const changed = await poll(owner, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(changed.body.sources[1]!.enabled).toBe(false);
    // The import replaced the file but kept Tiller's connection.
    expect(transformationsOf(changed.body, 'dst-webhook')[0]!.id).toBe(transformation.id);
    expect((await importConfig(rudderConfig())).status).toBe(200);
  });

  it('answers 503 with Retry-After when the configuration cannot be read, so rudder-server keeps its own', async () => {
    const served = catalog.server.server.services.workspaceConfigs;
    const original = served.get.bind(served);
    served.get = () => Promise.reject(new Error('connection terminated'));
    try {
      const answer = await poll();
      expectEnvelope(answer, 503, 'unavailable');
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.headers.get('x-rudder-should-retry')).toBe('true');
      expect(JSON.stringify(answer.body)).not.toContain('connection terminated');
    } finally {
      served.get = original;
    }
    expect((await poll()).status).toBe(200);
  });

  it('keeps serving from memory: repeated polls read the store once', async () => {
    const served = catalog.server.server.services.workspaceConfigs;
    const first = await served.get(catalog.server.workspaceId);
    expect(await served.get(catalog.server.workspaceId)).toBe(first);
  });
});

describe("rudder-server's other config-backend calls", () => {
  it('serves source and destination live-event flags as false and keeps them in the export', async () => {
    const config = rudderConfig();
    config.sources[0]!.config = { eventUpload: true, eventUploadTS: 1733100000000 } as never;
    config.sources[0]!.destinations[0]!.config = { ...config.sources[0]!.destinations[0]!.config, eventDelivery: true } as never;
    expect((await importConfig(config)).status).toBe(200);
    const served = (await poll()).body as unknown as { sources: { config: Record<string, unknown>; destinations: { config: Record<string, unknown> }[] }[] };
    expect(served.sources[0]!.config).toEqual({ eventUpload: false, eventUploadTS: 1733100000000 });
    expect(served.sources[0]!.destinations[0]!.config).toMatchObject({ webhookUrl: 'https://hooks.example.com/in', eventDelivery: false });
    const exported = (await owner.get('/workspaceConfig/base')).body as ReturnType<typeof rudderConfig>;
    expect(exported.sources[0]!.config).toEqual({ eventUpload: true, eventUploadTS: 1733100000000 });
    expect(exported.sources[0]!.destinations[0]!.config).toMatchObject({ eventDelivery: true });
  });

  it('answers debugger uploads with a 501 naming the rudder-server setting that stops them', async () => {
    const cases = [
      ['/dataplane/v2/eventUploads', 'RSERVER_SOURCE_DEBUGGER_DISABLE_EVENT_UPLOADS=true'],
      ['/dataplane/eventUploads', 'RSERVER_SOURCE_DEBUGGER_DISABLE_EVENT_UPLOADS=true'],
      ['/dataplane/v2/eventDeliveryStatus', 'RSERVER_DESTINATION_DEBUGGER_DISABLE_EVENT_DELIVERY_STATUS_UPLOADS=true'],
      ['/dataplane/eventDeliveryStatus', 'RSERVER_DESTINATION_DEBUGGER_DISABLE_EVENT_DELIVERY_STATUS_UPLOADS=true'],
    ] as const;
    for (const [path, setting] of cases) {
      const answer = await owner.call('POST', path, { 'wk-web-123': [{ type: 'track', event: 'Order' }] }, { 'content-type': 'application/json;charset=UTF-8' });
      expectEnvelope(answer, 501, 'not_supported');
      expect(answer.body.error.message).toContain(setting);
      // An access token is not rudder-server's credential.
      expect((await api.call('POST', path, {})).status).toBe(401);
    }
  });

  it("tells the regulation worker there is no job (204), and 404 for another workspace's id", async () => {
    const mine = await owner.call('GET', `/dataplane/workspaces/${catalog.server.workspaceId}/regulations/workerJobs`, undefined, { 'content-type': 'application/json' });
    expect(mine.status).toBe(204);
    expect(mine.body).toBeUndefined();
    expectEnvelope(await owner.get('/dataplane/workspaces/someone-else/regulations/workerJobs'), 404, 'not_found');
    expect((await api.get(`/dataplane/workspaces/${catalog.server.workspaceId}/regulations/workerJobs`)).status).toBe(401);
  });
});

describe('two instances', () => {
  it.skipIf(testDialect() !== 'postgres')('answer the same configuration after a change on one (PostgreSQL NOTIFY)', async () => {
    const first = await startTestServer();
    let second: TestServer | undefined;
    try {
      second = await startTestServer({ databaseUrl: first.config.databaseUrl!, dataDir: first.config.dataDir, workspace: { workspaceId: first.workspaceId, workspaceToken: first.workspaceToken } });
      const one = client(first.url, first.workspaceAuth);
      const two = client(second.url, second.workspaceAuth);
      expect((await importConfig(rudderConfig(), one)).status).toBe(200);
      const [a, b] = [await poll(one), await poll(two)];
      expect(b.status).toBe(200);
      expect(b.body).toEqual(a.body);
      expect(b.headers.get('etag')).toBe(a.headers.get('etag'));

      // Each instance now holds it in memory; a publish on the first must reach the second's.
      const { token } = await first.issueAccessToken({ name: 'ci' });
      const writer = client(first.url, `Bearer ${token}`);
      const created = await createTransformation(writer, { destinationIds: ['dst-bigquery'] }, true);
      const started = Date.now();
      const seen = await eventually(() => poll(two), (answer) => transformationsOf(answer.body, 'dst-bigquery').length === 1, 5000);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(transformationsOf(seen.body, 'dst-bigquery')[0]!.versionId).toBe(created.versionId);
      const here = await poll(one);
      expect(seen.body).toEqual(here.body);
      expect(seen.headers.get('etag')).toBe(here.headers.get('etag'));

      const credential = await writer.post('/credentials', { key: 'SHARED', value: 'v1' });
      expect(credential.status).toBe(201);
      const withCredential = await eventually(() => poll(two), (answer) => answer.body.credentials.SHARED?.value === 'v1', 5000);
      expect(withCredential.body.credentials.SHARED).toEqual({ key: 'SHARED', value: 'v1', isSecret: false });
    } finally {
      await second?.close();
      await first.close();
    }
  });
});
