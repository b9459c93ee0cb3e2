import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runTiller } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// The remote commands (tiller login|pull|push|test|publish|rollback|status|...) run as real
// processes against one server of the current dialect, the way a CI job runs them.

let server: TestServer;
let root: string;
let writeToken: string;
let readToken: string;
let libraryId: string;
let transformationId: string;
let firstVersionId: string;

const LIBRARY_CODE = 'export function tag(event) {\n  return { ...event, tagged: true };\n}\n';
const TRANSFORMATION_CODE = "import { tag } from 'sharedUtils';\n\nexport function transformEvent(event) {\n  return tag(event);\n}\n";

interface Manifest {
  transformations: { id?: string; name: string; file: string; testEvents?: string; expectedOutput?: string }[];
  libraries: { id?: string; name: string; importName?: string; file: string }[];
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${writeToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const versionsOf = async (id: string) => (await api<{ TransformationVersions: { versionId: string }[] }>('GET', `/transformations/${id}/versions?count=100`)).TransformationVersions;
const publishedOf = async (id: string) => (await api<{ publishedVersionId: string | null; versionId: string }>('GET', `/transformations/${id}`));

/** One CLI command in a child process; the connection comes from env unless a test overrides it. */
function tiller(args: string[], env: Record<string, string> = {}, { connect = true } = {}) {
  return runTiller(args, {
    HOME: join(root, 'home'),
    XDG_CONFIG_HOME: join(root, 'config'),
    NO_COLOR: '1',
    ...(connect ? { TILLER_URL: server.url, TILLER_TOKEN: writeToken } : {}),
    ...env,
  });
}

const errorLines = (stderr: string) => stderr.split('\n').filter((line) => line.trim() !== '' && !/Deprecation|--trace-warnings|ExperimentalWarning/.test(line));
const project = (name: string) => join(root, name);
const readManifest = (dir: string) => parse(readFileSync(join(dir, 'tiller.yaml'), 'utf8')) as Manifest;
const writeManifest = (dir: string, manifest: Manifest) => writeFileSync(join(dir, 'tiller.yaml'), stringify(manifest));

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tiller-cli-remote-'));
  server = await startTestServer();
  writeToken = (await server.issueAccessToken({ name: 'ci' })).token;
  readToken = (await server.issueAccessToken({ name: 'reader', scopes: ['read'] })).token;
  libraryId = (await api<{ id: string }>('POST', '/libraries', { name: 'Shared Utils', code: LIBRARY_CODE })).id;
  const created = await api<{ id: string; versionId: string }>('POST', '/transformations', { name: 'Add Tag', code: TRANSFORMATION_CODE });
  transformationId = created.id;
  firstVersionId = created.versionId;
});

afterAll(async () => {
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('tiller login', () => {
  it('verifies the token, saves it with mode 0600 in a 0700 dir, and never prints it', async () => {
    const result = await tiller(['login', '--url', server.url, '--token', writeToken], {}, { connect: false });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('"ci"');
    expect(result.stdout + result.stderr).not.toContain(writeToken);
    const file = join(root, 'config', 'tiller', 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'config', 'tiller')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ url: server.url, token: writeToken });

    // Later commands use the saved profile when neither flags nor environment name a server.
    const list = await tiller(['transformations', 'list', '--json'], {}, { connect: false });
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { id: string }[]).map((t) => t.id)).toContain(transformationId);
  });

  it('refuses a wrong token with exit 3 and saves nothing', async () => {
    const result = await tiller(['login', '--url', server.url, '--token', 'tlr_at_wrong'], { XDG_CONFIG_HOME: join(root, 'config-wrong') }, { connect: false });
    expect(result.code).toBe(3);
    const lines = errorLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('--token');
    expect(existsSync(join(root, 'config-wrong', 'tiller', 'config.json'))).toBe(false);
  });
});

describe('pull, push, test, publish, rollback', () => {
  const dir = () => project('work');

  it('pull writes tiller.yaml and one file per transformation and library', async () => {
    const result = await tiller(['pull', dir()]);
    expect(result.code, result.stderr).toBe(0);
    const manifest = readManifest(dir());
    expect(manifest.libraries).toEqual([expect.objectContaining({ id: libraryId, name: 'Shared Utils', importName: 'sharedUtils', file: 'libraries/sharedUtils.js' })]);
    expect(manifest.transformations).toEqual([expect.objectContaining({ id: transformationId, name: 'Add Tag', file: 'transformations/add-tag.js' })]);
    expect(readFileSync(join(dir(), 'libraries/sharedUtils.js'), 'utf8')).toBe(LIBRARY_CODE);
    expect(readFileSync(join(dir(), 'transformations/add-tag.js'), 'utf8')).toBe(TRANSFORMATION_CODE);
  });

  it('push saves an edit as one new version; a second push creates none', async () => {
    writeFileSync(join(dir(), 'transformations/add-tag.js'), TRANSFORMATION_CODE.replace('return tag(event);', 'return { ...tag(event), source: "git" };'));
    const before = (await versionsOf(transformationId)).length;
    const first = await tiller(['push', dir(), '--json']);
    expect(first.code, first.stderr).toBe(0);
    const pushed = JSON.parse(first.stdout) as { transformations: { action: string }[]; libraries: { action: string }[] };
    expect(pushed.transformations.map((t) => t.action)).toEqual(['updated']);
    expect(pushed.libraries.map((l) => l.action)).toEqual(['unchanged']);
    expect((await versionsOf(transformationId)).length).toBe(before + 1);

    const second = await tiller(['push', dir()]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/unchanged.*Add Tag/);
    expect((await versionsOf(transformationId)).length).toBe(before + 1);
  });

  it('test passes on matching output, then fails with exit 1 and a diff', async () => {
    writeFileSync(join(dir(), 'events.json'), JSON.stringify([{ type: 'track', event: 'Order Completed', userId: 'u1' }]));
    writeFileSync(join(dir(), 'expected.json'), JSON.stringify([{ userId: 'u1', type: 'track', event: 'Order Completed', tagged: true, source: 'git' }]));
    const manifest = readManifest(dir());
    manifest.transformations[0]!.testEvents = 'events.json';
    manifest.transformations[0]!.expectedOutput = 'expected.json';
    writeManifest(dir(), manifest);

    const pass = await tiller(['test', dir()]);
    expect(pass.code, pass.stdout + pass.stderr).toBe(0);
    expect(pass.stdout).toContain('PASS Add Tag');

    writeFileSync(join(dir(), 'expected.json'), JSON.stringify([{ userId: 'u1', type: 'track', event: 'Order Completed', tagged: true, source: 'svn' }]));
    const fail = await tiller(['test', dir()]);
    expect(fail.code).toBe(1);
    expect(fail.stdout).toContain('FAIL Add Tag');
    expect(fail.stdout).toContain('-     "source": "svn"');
    expect(fail.stdout).toContain('+     "source": "git"');
    writeFileSync(join(dir(), 'expected.json'), JSON.stringify([{ userId: 'u1', type: 'track', event: 'Order Completed', tagged: true, source: 'git' }]));
  });

  it('test runs local library edits that are not pushed, and saves nothing', async () => {
    const libraryFile = join(dir(), 'libraries/sharedUtils.js');
    const libraryBefore = await api<{ versionId: string }>('GET', `/libraries/${libraryId}`);
    writeFileSync(libraryFile, LIBRARY_CODE.replace('tagged: true', 'tagged: "local"'));
    const result = await tiller(['test', dir(), '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { pass: boolean; tests: { actualOutput: { tagged: unknown }[] }[] };
    expect(report.tests[0]!.actualOutput[0]!.tagged).toBe('local');
    expect((await api<{ versionId: string }>('GET', `/libraries/${libraryId}`)).versionId).toBe(libraryBefore.versionId);
    writeFileSync(libraryFile, LIBRARY_CODE);
  });

  it('status in text says what differs locally', async () => {
    const file = join(dir(), 'transformations/add-tag.js');
    const code = readFileSync(file, 'utf8');
    writeFileSync(file, code + '\n// edited\n');
    const result = await tiller(['status', dir()]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/local changes\s+transformation "Add Tag"/);
    expect(result.stdout).toMatch(/library "Shared Utils"/);
    writeFileSync(file, code);
  });

  it('publish publishes the pushed versions; status agrees; rollback publishes the first version again', async () => {
    const result = await tiller(['publish', dir()]);
    expect(result.code, result.stderr).toBe(0);
    const t = await publishedOf(transformationId);
    expect(t.publishedVersionId).toBe(t.versionId);

    const state = await tiller(['status', dir(), '--json']);
    expect(state.code, state.stderr).toBe(0);
    expect((JSON.parse(state.stdout) as { items: { state: string }[] }).items.map((i) => i.state)).toEqual(['published', 'published']);

    const back = await tiller(['rollback', transformationId, firstVersionId]);
    expect(back.code, back.stderr).toBe(0);
    expect((await publishedOf(transformationId)).publishedVersionId).toBe(firstVersionId);
  });
});

describe('errors', () => {
  const copy = (name: string) => {
    const dir = project(name);
    cpSync(project('work'), dir, { recursive: true });
    return dir;
  };

  it('an unreachable server exits 3 with one line naming --url / TILLER_URL', async () => {
    const result = await tiller(['push', project('work')], { TILLER_URL: 'http://127.0.0.1:1' });
    expect(result.code).toBe(3);
    const lines = errorLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/cannot reach.*TILLER_URL/);
  });

  it('a wrong token exits 3 naming TILLER_TOKEN', async () => {
    const result = await tiller(['status', project('work')], { TILLER_TOKEN: 'tlr_at_not_a_real_token' });
    expect(result.code).toBe(3);
    const lines = errorLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('TILLER_TOKEN');
  });

  it('a read-only token cannot publish: exit 3 naming the scope, and nothing is published', async () => {
    const dir = copy('readonly');
    writeFileSync(join(dir, 'transformations/add-tag.js'), TRANSFORMATION_CODE.replace('return tag(event);', 'return { ...tag(event), v: 3 };'));
    const before = await publishedOf(transformationId);
    const result = await tiller(['publish', dir], { TILLER_TOKEN: readToken });
    expect(result.code).toBe(3);
    const lines = errorLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/write scope/);
    expect(await publishedOf(transformationId)).toEqual(before);
  });

  it('a syntax error exits 4 naming file:line, and saves nothing', async () => {
    const dir = copy('syntax');
    writeFileSync(join(dir, 'transformations/add-tag.js'), "import { tag } from 'sharedUtils';\n\nexport function transformEvent(event) {\n  return tag(event;\n}\n");
    const before = (await versionsOf(transformationId)).length;
    const result = await tiller(['publish', dir]);
    expect(result.code).toBe(4);
    const lines = errorLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/add-tag\.js:\d+/);
    expect((await versionsOf(transformationId)).length).toBe(before);
  });

  it('a syntax error in a library exits 4 naming the library file, and saves neither it nor an edited transformation', async () => {
    const dir = copy('library-syntax');
    writeFileSync(join(dir, 'libraries/sharedUtils.js'), 'export function tag(event) {\n  return { ...event, tagged: true };\n}\nexport const broken = ;\n');
    writeFileSync(join(dir, 'transformations/add-tag.js'), TRANSFORMATION_CODE.replace('return tag(event);', 'return { ...tag(event), v: 4 };'));
    const versions = (await versionsOf(transformationId)).length;
    const library = await api<{ versionId: string }>('GET', `/libraries/${libraryId}`);
    const result = await tiller(['push', dir]);
    expect(result.code).toBe(4);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(/sharedUtils\.js:4:\d+: .*Shared Utils/)]);
    expect((await versionsOf(transformationId)).length).toBe(versions);
    expect((await api<{ versionId: string }>('GET', `/libraries/${libraryId}`)).versionId).toBe(library.versionId);
  });

  it('a transformation without transformEvent or transformBatch exits 4 naming its file, and saves nothing', async () => {
    const dir = copy('no-export');
    writeFileSync(join(dir, 'libraries/sharedUtils.js'), LIBRARY_CODE.replace('tagged: true', 'tagged: 2'));
    writeFileSync(join(dir, 'transformations/add-tag.js'), 'export function transform(event) {\n  return event;\n}\n');
    const library = await api<{ versionId: string }>('GET', `/libraries/${libraryId}`);
    const result = await tiller(['push', dir]);
    expect(result.code).toBe(4);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(/add-tag\.js.*transformEvent/)]);
    expect((await api<{ versionId: string }>('GET', `/libraries/${libraryId}`)).versionId).toBe(library.versionId);
  });

  it('a missing events file exits 4 naming it', async () => {
    const dir = copy('no-events');
    rmSync(join(dir, 'events.json'));
    const result = await tiller(['test', dir]);
    expect(result.code).toBe(4);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(/events\.json: file not found/)]);
  });

  it('an import of an unknown library exits 4 naming file:line and the library', async () => {
    const dir = copy('unknown-lib');
    writeFileSync(join(dir, 'transformations/add-tag.js'), "import { tag } from 'sharedUtils';\nimport { nope } from 'noSuchLib';\n\nexport function transformEvent(event) {\n  return nope(tag(event));\n}\n");
    const before = (await versionsOf(transformationId)).length;
    const result = await tiller(['push', dir]);
    expect(result.code).toBe(4);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(/add-tag\.js:2: .*"noSuchLib"/)]);
    expect((await versionsOf(transformationId)).length).toBe(before);
  });

  it('a usage error exits 2', async () => {
    const result = await tiller(['rollback', transformationId]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('missing required argument');
  });
});

describe('inspecting the server', () => {
  it('transformations get and versions, libraries list and get, in text and JSON', async () => {
    const got = await tiller(['transformations', 'get', transformationId]);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toContain(`Add Tag (${transformationId})`);
    expect(got.stdout).toContain('imports: sharedUtils');

    const versions = await tiller(['transformations', 'versions', transformationId, '--count', '2', '--json']);
    expect(versions.code, versions.stderr).toBe(0);
    const list = JSON.parse(versions.stdout) as { versionId: string }[];
    expect(list).toHaveLength(2);
    expect(list.map((v) => v.versionId)).toEqual((await api<{ TransformationVersions: { versionId: string }[] }>('GET', `/transformations/${transformationId}/versions?count=2&orderBy=desc`)).TransformationVersions.map((v) => v.versionId));
    const text = await tiller(['transformations', 'versions', transformationId]);
    expect(text.stdout).toContain(`${firstVersionId}`);
    expect(text.stdout).toMatch(/published/);

    const libraries = await tiller(['libraries', 'list']);
    expect(libraries.code, libraries.stderr).toBe(0);
    expect(libraries.stdout).toMatch(new RegExp(`${libraryId}\\s+Shared Utils\\s+import "sharedUtils"`));
    const library = await tiller(['libraries', 'get', libraryId, '--json']);
    expect(JSON.parse(library.stdout)).toMatchObject({ id: libraryId, importName: 'sharedUtils', code: LIBRARY_CODE });

    const missing = await tiller(['libraries', 'get', 'lib_nope']);
    expect(missing.code).toBe(4);
    expect(errorLines(missing.stderr)).toEqual([expect.stringContaining('library lib_nope not found')]);
  });

  it('pull into an existing project keeps its file names and test files', async () => {
    const dir = project('repull');
    cpSync(project('work'), dir, { recursive: true });
    const manifest = readManifest(dir);
    manifest.transformations[0]!.file = 'src/tag.js';
    writeManifest(dir, manifest);
    const result = await tiller(['pull', dir]);
    expect(result.code, result.stderr).toBe(0);
    const after = readManifest(dir);
    expect(after.transformations[0]).toMatchObject({ id: transformationId, file: 'src/tag.js', testEvents: 'events.json', expectedOutput: 'expected.json' });
    expect(readFileSync(join(dir, 'src/tag.js'), 'utf8')).toBe((await api<{ code: string }>('GET', `/transformations/${transformationId}`)).code);
  });

  it('login --workspace-token saves it for the tokens commands', async () => {
    const config = join(root, 'config-ws');
    const login = await tiller(['login', '--url', server.url, '--token', writeToken, '--workspace-token', server.workspaceToken], { XDG_CONFIG_HOME: config }, { connect: false });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout + login.stderr).not.toContain(server.workspaceToken);
    const list = await tiller(['tokens', 'list', '--json'], { XDG_CONFIG_HOME: config }, { connect: false });
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((t) => t.name)).toContain('ci');

    const wrong = await tiller(['login', '--url', server.url, '--token', writeToken, '--workspace-token', 'tlr_ws_wrong'], { XDG_CONFIG_HOME: join(root, 'config-ws-wrong') }, { connect: false });
    expect(wrong.code).toBe(3);
    expect(existsSync(join(root, 'config-ws-wrong', 'tiller', 'config.json'))).toBe(false);
  });
});

describe('help and tokens', () => {
  it('--help shows examples', async () => {
    const result = await tiller(['push', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Examples:');
    expect(result.stdout).toContain('--url');
  });

  it('tokens create, list and delete with the workspace token', async () => {
    const env = { TILLER_WORKSPACE_TOKEN: server.workspaceToken };
    const created = await tiller(['tokens', 'create', '--name', 'from-cli', '--scopes', 'read', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const token = JSON.parse(created.stdout) as { id: string; token: string; scopes: string[] };
    expect(token.scopes).toEqual(['read']);
    const list = await tiller(['tokens', 'list'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('from-cli');
    expect(list.stdout).not.toContain(token.token);
    const deleted = await tiller(['tokens', 'delete', token.id], env);
    expect(deleted.code, deleted.stderr).toBe(0);
    const missing = await tiller(['tokens', 'list']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--workspace-token');
  });
});
