import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('GET /health and GET /ready', () => {
  it('GET /health answers ok without credentials', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /ready checks the store and the sandbox processes', async () => {
    // Sandbox processes start beside the listener; until one takes batches, /ready says so.
    let res = await fetch(`${server.url}/ready`);
    for (let tries = 0; res.status === 503 && tries < 300; tries++) {
      expect(await res.json()).toMatchObject({ success: false, error: { code: 'sandbox_unavailable' } });
      await new Promise((resolve) => setTimeout(resolve, 100));
      res = await fetch(`${server.url}/ready`);
    }
    expect(res.status).toBe(200);
    const body = (await res.json()) as { sandboxProcesses: number };
    expect(body).toEqual({ status: 'ready', store: server.server.services.store.dialect, sandboxProcesses: expect.any(Number) });
    expect(body.sandboxProcesses).toBeGreaterThanOrEqual(1);
  });
});
