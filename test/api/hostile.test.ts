import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createTransformation, expectEnvelope, passThrough, startCatalog, tagging, type Catalog, type Client } from './transformations.helpers.js';

// Hostile code sent to the test calls fails its own test with a clear error, while the server goes
// on serving everyone else. Limits are lowered so each case hits them quickly.

let catalog: Catalog;
let api: Client;
/** A client of another workspace, whose requests must not suffer from this workspace's code. */
let neighbour: Client;

beforeAll(async () => {
  catalog = await startCatalog({ env: { TILLER_SANDBOX_CPU_MS: '500', TILLER_SANDBOX_WALL_MS: '4000', TILLER_SANDBOX_MEMORY_MB: '32' } });
  api = catalog.api;
  const other = await catalog.server.createWorkspace('neighbour');
  const { token } = await catalog.server.issueAccessToken({ name: 'neighbour' }, other.workspaceAuth);
  neighbour = client(catalog.server.url, `Bearer ${token}`);
});

afterAll(async () => {
  await catalog?.server.close();
});

interface Hostile {
  name: string;
  code: string;
  /**
   * The error codes the whole batch may fail with (undefined when the event alone fails). A loop
   * on a loaded machine may reach the wall-clock limit before the CPU limit; both are clear.
   */
  batchCodes?: string[];
  /** Text the error message must contain. */
  message: RegExp;
}

const hostile: Hostile[] = [
  { name: 'an endless loop', code: 'export function transformEvent(e) { while (true) {} }', batchCodes: ['cpu_limit', 'wall_limit'], message: /cpu|did not finish/i },
  { name: 'an endless loop after an await', code: 'export async function transformEvent(e) {\n  await null;\n  for (;;) {}\n}', batchCodes: ['cpu_limit', 'wall_limit'], message: /cpu|did not finish/i },
  { name: 'an endless async loop of awaits', code: 'export async function transformEvent(e) {\n  for (;;) await Promise.resolve();\n}', batchCodes: ['cpu_limit', 'wall_limit'], message: /cpu|did not finish/i },
  { name: 'a promise that never settles', code: 'export async function transformEvent(e) {\n  await new Promise(() => {});\n  return e;\n}', message: /./ },
  { name: 'deep recursion', code: 'function down(n) { return down(n + 1) + 1; }\nexport function transformEvent(e) { e.depth = down(0); return e; }', message: /call stack/i },
  { name: 'reaching the host through this.constructor', code: 'export function transformEvent(e) {\n  const p = this.constructor.constructor("return process")();\n  e.pid = p.pid;\n  return e;\n}', message: /./ },
  {
    name: 'reaching the host through the Function constructor',
    code: 'export function transformEvent(e) {\n  const p = ({}).constructor.constructor("return process")();\n  e.env = p.env;\n  return e;\n}',
    message: /./,
  },
  { name: 'require', code: 'export function transformEvent(e) {\n  const fs = require("fs");\n  e.secret = fs.readFileSync("/etc/passwd", "utf8");\n  return e;\n}', message: /require/i },
];

/** Whether a failed test run reports the expected failure. */
function expectFailure(failure: { result: { message: string; errors: { code?: string; message: string }[] } }, item: Hostile): void {
  expect(failure.result.message).toMatch(item.message);
  if (item.batchCodes) expect(item.batchCodes).toContain(failure.result.errors[0]?.code);
  // Host internals never leak into the message.
  expect(failure.result.message).not.toMatch(/node_modules|\/work\/|at .*\.ts:\d+/);
}

describe('hostile code in test calls', () => {
  for (const item of hostile) {
    it(`fails the test of ${item.name} and keeps serving other requests`, async () => {
      const saved = await createTransformation(api, { name: item.name, code: item.code });
      const testing = api.post('/transformations/libraries/test', { transformations: [{ versionId: saved.versionId, testInput: [{ type: 'track' }] }] });
      // Meanwhile, other requests are answered: a read in this workspace and a full test run in another.
      const [list, neighbourTest] = await Promise.all([
        api.get('/transformations'),
        neighbour.post('/transformations/test', { code: tagging('neighbour'), events: [{ n: 1 }] }),
      ]);
      expect(list.status).toBe(200);
      expect(neighbourTest.status).toBe(200);
      expect(neighbourTest.body.results).toEqual([{ index: 0, statusCode: 200, output: { n: 1, tag: 'neighbour' } }]);

      const answer = await testing;
      expect(answer.status).toBe(200);
      expect(answer.body.result.successTestResults).toEqual([]);
      expect(answer.body.result.failedTestResults).toHaveLength(1);
      expectFailure(answer.body.result.failedTestResults[0], item);
      const serialized = JSON.stringify(answer.body);
      expect(serialized).not.toContain('root:');
      expect(serialized).not.toContain('"pid"');
    });
  }

  it('refuses to save or publish hostile code whose events or tests fail', async () => {
    const loop = hostile[0]!.code;
    const created = await api.post('/transformations', { name: 'Looping on save', code: loop, events: [{}] });
    expectEnvelope(created, 400, 'events_failed');
    expect(['cpu_limit', 'wall_limit']).toContain(created.body.error.errors[0].code);
    const saved = await createTransformation(api, { name: 'Looping publish', code: loop });
    const published = await api.post('/transformations/publish', { transformations: [{ versionId: saved.versionId }] });
    expectEnvelope(published, 400, 'test_failed');
    expect((await api.get(`/transformations/${saved.id}`)).body.publishedVersionId).toBeNull();
  });

  it('answers the inline test of an endless loop with 400 and the limit it broke', async () => {
    const answer = await api.post('/transformations/test', { code: hostile[0]!.code, events: [{}] });
    expectEnvelope(answer, 400);
    expect(['cpu_limit', 'wall_limit']).toContain(answer.body.error.code);
    expect((await api.get('/transformations')).status).toBe(200);
  });

  it('reports each failing case of a test suite while the other cases pass', async () => {
    const code = 'export function transformEvent(e) {\n  if (e.spin) for (;;) {}\n  return e;\n}';
    const saved = await createTransformation(api, { name: 'Sometimes spins', code });
    const answer = await api.post('/transformations/tests/run', {
      transformations: [{ versionId: saved.versionId, testSuite: [{ name: 'calm', input: [{ a: 1 }], expectedOutput: [{ a: 1 }] }, { name: 'spins', input: [{ spin: true }] }, { name: 'calm again', input: [{ b: 2 }] }] }],
    });
    expect(answer.status).toBe(200);
    const results = answer.body.validationOutput.transformations[0].testResult.results;
    expect(results.map((r: { status: string }) => r.status)).toEqual(['passed', 'failed', 'passed']);
    expect(['cpu_limit', 'wall_limit']).toContain(results[1].errors[0].code);
  });
});

describe('hostile code hitting the memory limit', () => {
  // Garbage collection near the memory limit costs CPU time, so this server gives a batch enough
  // CPU time to reach the memory limit first.
  let roomy: Catalog;

  beforeAll(async () => {
    roomy = await startCatalog({ env: { TILLER_SANDBOX_CPU_MS: '5000', TILLER_SANDBOX_WALL_MS: '20000', TILLER_SANDBOX_MEMORY_MB: '32' } });
  });

  afterAll(async () => {
    await roomy?.server.close();
  });

  it('fails the test of allocation until the memory limit and keeps serving other requests', async () => {
    const item: Hostile = {
      name: 'allocation until the memory limit',
      code: 'export function transformEvent(e) {\n  const hoard = [];\n  for (;;) hoard.push(new Array(100000).fill(1.5));\n}',
      batchCodes: ['memory_limit'],
      message: /memory/i,
    };
    const saved = await createTransformation(roomy.api, { name: item.name, code: item.code });
    const testing = roomy.api.post('/transformations/libraries/test', { transformations: [{ versionId: saved.versionId, testInput: [{ type: 'track' }] }] });
    const other = await roomy.api.post('/transformations/test', { code: tagging('calm'), events: [{ n: 1 }] });
    expect(other.status).toBe(200);
    expect(other.body.results).toEqual([{ index: 0, statusCode: 200, output: { n: 1, tag: 'calm' } }]);
    const answer = await testing;
    expect(answer.status).toBe(200);
    expect(answer.body.result.failedTestResults).toHaveLength(1);
    expectFailure(answer.body.result.failedTestResults[0], item);

    // The same version runs again right after, in a fresh sandbox.
    const calmCode = 'export function transformEvent(e) {\n  if (e.bomb) { const hoard = []; for (;;) hoard.push(new Array(100000).fill(1.5)); }\n  return { fine: true };\n}';
    const calm = await createTransformation(roomy.api, { name: 'Bomb on demand', code: calmCode });
    const suite = await roomy.api.post('/transformations/tests/run', { transformations: [{ versionId: calm.versionId, testSuite: [{ name: 'bomb', input: [{ bomb: true }] }, { name: 'calm', input: [{}], expectedOutput: [{ fine: true }] }] }] });
    expect(suite.body.validationOutput.transformations[0].testResult.results.map((r: { status: string }) => r.status)).toEqual(['failed', 'passed']);
  });
});

describe('prototype pollution inside the sandbox', () => {
  it('stays inside the sandbox: the server and later runs see clean objects', async () => {
    const polluting = 'Object.prototype.polluted = "yes";\nArray.prototype.push = function () { return -1; };\nexport function transformEvent(e) {\n  Object.prototype.isAdmin = true;\n  return { seen: e.n };\n}';
    const saved = await createTransformation(api, { name: 'Polluter', code: polluting });
    const answer = await api.post('/transformations/libraries/test', { transformations: [{ versionId: saved.versionId, testInput: [{ n: 1 }] }] });
    expect(answer.status).toBe(200);
    const outcome = answer.body.result.successTestResults[0] ?? answer.body.result.failedTestResults[0];
    expect(outcome).toBeDefined();
    if (answer.body.result.successTestResults.length === 1) {
      // Inherited properties are not own properties: the output is exactly the object returned.
      expect(answer.body.result.successTestResults[0].result.output.transformedEvents).toEqual([{ seen: 1 }]);
    }

    // The host's own objects are untouched, and a clean transformation run afterwards is unaffected.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const clean = await createTransformation(api, { name: 'Clean after polluter', code: 'export function transformEvent(e) {\n  e.inherited = ("polluted" in {}) || ("isAdmin" in {});\n  const list = [];\n  list.push(1);\n  e.pushed = list.length;\n  return e;\n}' });
    const after = await api.post('/transformations/libraries/test', { transformations: [{ versionId: clean.versionId, testInput: [{ n: 2 }] }] });
    expect(after.body.result.successTestResults[0].result.output.transformedEvents).toEqual([{ n: 2, inherited: false, pushed: 1 }]);
    const listed = await api.get('/transformations');
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).not.toContain('"isAdmin"');
  });

  it('keeps JSON and Object overrides from breaking the answer', async () => {
    const code = 'JSON.stringify = () => "{\\"forged\\":true}";\nObject.keys = () => [];\nexport function transformEvent(e) { return e; }';
    const answer = await api.post('/transformations/test', { code, events: [{ real: true }] });
    // Either the runtime refuses the tampered output, or it answers the real event; never the forged one.
    if (answer.status === 200) expect(answer.body.results).toEqual([{ index: 0, statusCode: 200, output: { real: true } }]);
    else expectEnvelope(answer, 400);
    expect(JSON.stringify(answer.body)).not.toContain('forged');
    expect((await api.post('/transformations/test', { code: passThrough, events: [{ after: 1 }] })).body.results[0].output).toEqual({ after: 1 });
  });
});
