import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

// The seed document's commands, character for character, run with the real curl (and httpie when
// installed). Only the host and the token are replaced; the shell continuations are undone and
// the single-quoted words passed as the shell would pass them.

const run = promisify(execFile);

const SEED_HOST = 'https://api.rudderstack.com';
const SEED_HOST_HTTP = 'http://api.rudderstack.com';
const SEED_TOKEN_PLACEHOLDERS = ['Base64Enc(workspacetoken:)', 'MXBUbGc2MlpZcUgycWtDMDVmc1hUZlJQRWZyOg=='];

const SEED = {
  curlPost: `curl --location -X POST 'https://api.rudderstack.com/accessTokens' \\
-H 'Authorization: Basic Base64Enc(workspacetoken:)' \\
-H 'Content-Type: application/json' \\
-d '{
    "name": "some-test-access-token",
    "description": "some-description"
}'`,
  curlGet: `curl --location -X GET 'https://api.rudderstack.com/accessTokens' \\
-H 'Authorization: Basic MXBUbGc2MlpZcUgycWtDMDVmc1hUZlJQRWZyOg==' \\
`,
  curlDelete: `curl --location -X DELETE 'https://api.rudderstack.com/accessTokens?name=some-test-access-token' \\
-H 'Authorization: Basic MXBUbGc2MlpZcUgycWtDMDVmc1hUZlJQRWZyOg==' \\
`,
  httpiePost: ` http POST 'https://api.rudderstack.com/accessTokens' \\
 name=some-test-access-token description=some-description \\
 Authorization:'Basic MXBUbGc2MlpZcUgycWtDMDVmc1hUZlJQRWZyOg==' \\
 Content-Type:'application/json'`,
  httpieGet: `http GET 'https://api.rudderstack.com/accessTokens' \\
'Authorization: Basic Base64Enc(workspacetoken:)'`,
  httpieDelete: `http DELETE 'http://api.rudderstack.com/accessTokens?name=sdc' \\
'Authorization: Basic Base64Enc(workspacetoken:)'`,
};

/** Splits a shell command the way sh would for these: words, single quotes, backslash-newline. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let current: string | null = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === '\\' && (command[i + 1] === '\n' || i + 1 === command.length)) {
      i++;
      continue;
    }
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end === -1) throw new Error('unterminated quote');
      current = (current ?? '') + command.slice(i + 1, end);
      i = end;
      continue;
    }
    if (/\s/.test(c)) {
      if (current !== null) words.push(current);
      current = null;
      continue;
    }
    current = (current ?? '') + c;
  }
  if (current !== null) words.push(current);
  return words;
}

let server: TestServer;
let basic: string;

function adapt(command: string): string[] {
  return shellWords(command).map((word) => {
    let out = word.replace(SEED_HOST, server.url).replace(SEED_HOST_HTTP, server.url);
    for (const placeholder of SEED_TOKEN_PLACEHOLDERS) out = out.replace(placeholder, basic);
    return out;
  });
}

async function curl(command: string): Promise<{ status: number; body: unknown }> {
  const [program, ...args] = adapt(command);
  expect(program).toBe('curl');
  // -s and the status line are added at the end, so the seed's own arguments stay as they are.
  const { stdout } = await run('curl', [...args, '-s', '-w', '\n%{http_code}'], { timeout: 20_000 });
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: JSON.parse(stdout.slice(0, cut)) };
}

async function hasProgram(name: string): Promise<boolean> {
  try {
    await run(name, ['--version'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

const curlInstalled = await hasProgram('curl');
const httpieInstalled = await hasProgram('http');

beforeAll(async () => {
  server = await startTestServer();
  basic = Buffer.from(`${server.workspaceToken}:`).toString('base64');
});
afterAll(async () => {
  await server?.close();
});

describe('shellWords', () => {
  it('undoes continuations and keeps quoted newlines', () => {
    expect(shellWords(SEED.curlGet)).toEqual(['curl', '--location', '-X', 'GET', 'https://api.rudderstack.com/accessTokens', '-H', 'Authorization: Basic MXBUbGc2MlpZcUgycWtDMDVmc1hUZlJQRWZyOg==']);
    expect(shellWords(SEED.curlPost).at(-1)).toBe('{\n    "name": "some-test-access-token",\n    "description": "some-description"\n}');
    expect(shellWords(SEED.httpiePost).slice(3)).toEqual(['name=some-test-access-token', 'description=some-description', 'Authorization:Basic MXBUbGc2MlpZcUgycWtDMDVmc1hUZlJQRWZyOg==', 'Content-Type:application/json']);
  });
});

describe.skipIf(!curlInstalled)('the seed\'s curl commands', () => {
  it('POST generates an access token: 200 { success: true, data: { token } }', async () => {
    const answer = await curl(SEED.curlPost);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ success: true, data: { token: expect.any(String) } });
    const token = (answer.body as { data: { token: string } }).data.token;
    const self = await fetch(`${server.url}/accessTokens/self`, { headers: { authorization: `Basic ${Buffer.from(`:${token}`).toString('base64')}` } });
    expect(self.status).toBe(200);
  });

  it('GET lists the workspace\'s tokens as a bare array of { name, description, userId }, without the secret', async () => {
    const answer = await curl(SEED.curlGet);
    expect(answer.status).toBe(200);
    expect(Array.isArray(answer.body)).toBe(true);
    const entries = answer.body as { name: string; description: string; userId: string; token?: unknown }[];
    const entry = entries.find((t) => t.name === 'some-test-access-token');
    expect(entry).toMatchObject({ name: 'some-test-access-token', description: 'some-description', userId: expect.any(String) });
    for (const e of entries) {
      expect(typeof e.description).toBe('string');
      expect(e.token).toBeUndefined();
    }
  });

  it('DELETE deletes every token with the name: 200 { success: true }', async () => {
    // A second token with the same name: the seed says all are deleted.
    await curl(SEED.curlPost);
    const answer = await curl(SEED.curlDelete);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ success: true, deleted: 2 });
    const after = await curl(SEED.curlGet);
    expect((after.body as { name: string }[]).some((t) => t.name === 'some-test-access-token')).toBe(false);
  });

  it('the deleted name then answers 404 with the error envelope', async () => {
    const answer = await curl(SEED.curlDelete);
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ success: false, error: { code: 'not_found' } });
  });

  it('the seed\'s example header with its unknown token answers 401', async () => {
    const [, ...args] = shellWords(SEED.curlGet).map((w) => w.replace(SEED_HOST, server.url));
    const { stdout } = await run('curl', [...args, '-s', '-o', '/dev/null', '-w', '%{http_code}']);
    expect(stdout).toBe('401');
  });
});

describe.skipIf(!httpieInstalled)('the seed\'s httpie commands', () => {
  async function http(command: string): Promise<{ status: number; body: unknown }> {
    const [program, ...args] = adapt(command);
    expect(program).toBe('http');
    const { stdout } = await run('http', ['--ignore-stdin', '--print=hb', ...args], { timeout: 20_000 });
    const status = Number(/^HTTP\/[\d.]+ (\d+)/m.exec(stdout)?.[1]);
    const body = JSON.parse(stdout.slice(stdout.search(/^[[{]/m)));
    return { status, body };
  }

  it('POST, GET and DELETE behave as the seed says', async () => {
    const created = await http(SEED.httpiePost);
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ success: true, data: { token: expect.any(String) } });
    const list = await http(SEED.httpieGet);
    expect((list.body as { name: string }[]).some((t) => t.name === 'some-test-access-token')).toBe(true);
    await fetch(`${server.url}/accessTokens`, { method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json' }, body: '{"name":"sdc"}' });
    const deleted = await http(SEED.httpieDelete);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ success: true });
  });
});
