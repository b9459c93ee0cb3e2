import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { hasChromium, launchChromium, openPage, screenshot, type WatchedPage } from './browser.js';
import { ensureDashboardBuilt } from './global-setup.js';

// A published, connected transformation's "Live events" tab (turn them on, see rudder-server's
// samples: event before, events after, dropped, error, status) and its "Use it" tab (ids with copy
// buttons, connected destinations, the settings lines, never the workspace token).

const config = {
  sources: [
    {
      id: 'src-web',
      name: 'Web site',
      writeKey: 'wk-1',
      enabled: true,
      sourceDefinition: { name: 'Javascript' },
      config: {},
      destinations: [{ id: 'dst-hook', name: 'Webhook', enabled: true, config: {}, destinationDefinition: { name: 'WEBHOOK', displayName: 'Webhook' } }],
    },
  ],
};

describe.skipIf(!hasChromium)('dashboard: live events and "Use it"', () => {
  let server: TestServer;
  let browser: Browser;
  let watched: WatchedPage;
  let accessToken: string;
  let transformation: { id: string; versionId: string };

  const eventTransform = async () => {
    const res = await fetch(`${server.url}/workspaceConfig?fetchAll=true`, { headers: { authorization: server.workspaceAuth } });
    const body = (await res.json()) as { sources: { destinations: { id: string; transformations: { config: { eventTransform?: boolean } }[] }[] }[] };
    return body.sources[0]!.destinations[0]!.transformations[0]?.config.eventTransform;
  };

  beforeAll(async () => {
    await ensureDashboardBuilt();
    server = await startTestServer();
    accessToken = (await server.issueAccessToken({ name: 'dashboard-user' })).token;
    const imported = await fetch(`${server.url}/workspaceConfig/base`, { method: 'PUT', headers: { authorization: server.workspaceAuth, 'content-type': 'application/json' }, body: JSON.stringify(config) });
    expect(imported.status).toBe(200);
    const created = await fetch(`${server.url}/transformations?publish=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Enrich', code: 'export function transformEvent(e) { return e; }', destinationIds: ['dst-hook'] }),
    });
    transformation = (await created.json()) as { id: string; versionId: string };
    browser = await launchChromium();
    watched = await openPage(browser, server.url);
    const { page } = watched;
    await page.goto(`${server.url}/`);
    await page.getByLabel('Token', { exact: true }).fill(accessToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('turns live events on and shows the samples rudder-server posts', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/#/transformations/${transformation.id}`);
    await page.getByRole('tab', { name: 'Live events' }).click();
    await page.getByText('No samples yet.').waitFor();
    await page.getByRole('button', { name: 'Turn on live events' }).click();
    await page.getByRole('button', { name: 'Turn off' }).waitFor();
    expect(await page.getByRole('tabpanel').textContent()).toMatch(/until/);
    expect(await eventTransform()).toBe(true);

    const sample = (n: number, after: Record<string, unknown>) => ({
      transformationId: transformation.id,
      sourceId: 'src-web',
      destinationId: 'dst-hook',
      eventBefore: { eventName: `Checkout ${n}`, eventType: 'track', receivedAt: new Date().toISOString(), payload: { event: `Checkout ${n}`, before: true } },
      eventsAfter: { receivedAt: new Date().toISOString(), isDropped: false, error: '', statusCode: 200, payload: null, ...after },
      error: false,
    });
    const posted = await fetch(`${server.url}/dataplane/eventTransformStatus`, {
      method: 'POST',
      headers: { authorization: server.workspaceAuth, 'content-type': 'application/json;charset=UTF-8' },
      body: JSON.stringify({
        payload: [
          sample(1, { payload: [{ eventName: 'Checkout 1', eventType: 'track', payload: { event: 'Checkout 1', enriched: 'yes' } }] }),
          sample(2, { isDropped: true, statusCode: 298 }),
          sample(3, { error: 'TypeError: boom', statusCode: 400 }),
        ],
      }),
    });
    expect(posted.status).toBe(200);
    await page.getByRole('button', { name: 'Refresh' }).click();
    const events = page.getByTestId('live-event');
    await events.nth(2).waitFor();
    expect(await events.nth(0).textContent()).toContain('Checkout 3');
    expect(await events.nth(0).textContent()).toContain('error');
    expect(await events.nth(1).textContent()).toContain('dropped');
    expect(await events.nth(1).textContent()).toContain('status 298');
    await events.nth(2).locator('summary').click();
    const opened = await events.nth(2).textContent();
    expect(opened).toContain('"before": true');
    expect(opened).toContain('"enriched": "yes"');
    await screenshot(page, 'transformation-live-events');

    await page.getByRole('button', { name: 'Turn off' }).click();
    await page.getByRole('button', { name: 'Turn on live events' }).waitFor();
    expect(await eventTransform()).toBeUndefined();
  });

  it('shows the ids, the connected destination and the settings lines, never the workspace token', async () => {
    const { page } = watched;
    await page.getByRole('tab', { name: 'Use it' }).click();
    expect(await page.getByTestId('use-transformation-id').textContent()).toBe(transformation.id);
    expect(await page.getByTestId('use-published-version-id').textContent()).toBe(transformation.versionId);
    await page.getByRole('button', { name: 'Copy transformation id' }).waitFor();
    await page.getByRole('button', { name: 'Copy published version id' }).waitFor();
    expect(await page.getByRole('list', { name: 'Connected destinations' }).textContent()).toContain('Webhook');
    const lines = await page.getByTestId('use-rudder-server').textContent();
    expect(lines).toContain(`CONFIG_BACKEND_URL=${server.url}`);
    expect(lines).toContain('WORKSPACE_TOKEN=<your workspace token>');
    expect(lines).toContain('USER_TRANSFORM_URL=<runtime URL>');
    expect(await page.content()).not.toContain(server.workspaceToken);
    await screenshot(page, 'transformation-use-it');
    expect(watched.problems).toEqual([]);
    expect(watched.foreignRequests).toEqual([]);
  });
});
