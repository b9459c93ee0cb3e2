import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { hasChromium, launchChromium, openPage, screenshot, type WatchedPage } from './browser.js';
import { ensureDashboardBuilt } from './global-setup.js';

// The Configuration page: how to import before anything is imported, then the imported sources
// and destinations (names, ids, enabled, type, connected transformation), read-only, and never a
// destination's config, which may hold an API key.

const DESTINATION_KEY = 'amp-secret-key-in-config-9f8e7d';

const config = {
  sources: [
    {
      id: 'src-web',
      name: 'Web site',
      writeKey: 'wk-1',
      enabled: true,
      sourceDefinition: { name: 'Javascript' },
      config: {},
      destinations: [
        { id: 'dst-amp', name: 'Amplitude prod', enabled: false, config: { apiKey: DESTINATION_KEY }, destinationDefinition: { name: 'AM', displayName: 'Amplitude' } },
        { id: 'dst-hook', name: 'Webhook', enabled: true, config: {}, destinationDefinition: { name: 'WEBHOOK', displayName: 'Webhook' } },
      ],
    },
    { id: 'src-ios', name: 'iOS app', enabled: true, sourceDefinition: { name: 'iOS' }, destinations: [] },
  ],
};

describe.skipIf(!hasChromium)('dashboard: rudder-server configuration', () => {
  let server: TestServer;
  let browser: Browser;
  let watched: WatchedPage;
  let accessToken: string;

  beforeAll(async () => {
    await ensureDashboardBuilt();
    server = await startTestServer();
    accessToken = (await server.issueAccessToken({ name: 'dashboard-user' })).token;
    browser = await launchChromium();
    watched = await openPage(browser, server.url);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('says how to import while nothing is imported', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/`);
    await page.getByLabel('Token', { exact: true }).fill(accessToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Configuration' }).click();
    await page.getByRole('heading', { name: 'No configuration imported yet' }).waitFor();
    expect(await page.locator('pre').textContent()).toContain('/workspaceConfig/base');
  });

  it('lists the imported sources and destinations, without their configs', async () => {
    const res = await fetch(`${server.url}/workspaceConfig/base`, { method: 'PUT', headers: { authorization: server.workspaceAuth, 'content-type': 'application/json' }, body: JSON.stringify(config) });
    expect(res.status).toBe(200);
    const { page } = watched;
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('heading', { name: /Web site/ }).waitFor();
    const table = page.getByRole('table', { name: 'Destinations of Web site' });
    const amplitude = table.locator('tr', { hasText: 'Amplitude prod' });
    expect(await amplitude.locator('td[data-label="Id"]').textContent()).toBe('dst-amp');
    expect(await amplitude.locator('td[data-label="Type"]').textContent()).toBe('Amplitude');
    expect(await amplitude.locator('td[data-label="Enabled"]').textContent()).toBe('disabled');
    expect(await amplitude.locator('td[data-label="Transformation"]').textContent()).toBe('none');
    expect(await table.locator('tr', { hasText: 'Webhook' }).locator('td[data-label="Enabled"]').textContent()).toBe('enabled');
    expect(await page.getByTestId('source-src-ios').textContent()).toContain('No destinations.');
    expect(await page.locator('main, body').first().textContent()).toContain('2 sources, 2 destinations');
    expect(await page.content()).not.toContain(DESTINATION_KEY);
    await screenshot(page, 'configuration');
  });
});

describe.skipIf(!hasChromium)('dashboard: connecting a transformation to destinations', () => {
  let server: TestServer;
  let browser: Browser;
  let watched: WatchedPage;
  let accessToken: string;
  let transformationId: string;

  const served = async (destinationId: string) => {
    const res = await fetch(`${server.url}/workspaceConfig?fetchAll=true`, { headers: { authorization: server.workspaceAuth } });
    const body = (await res.json()) as { sources: { destinations: { id: string; transformations: { versionId: string }[] }[] }[] };
    return body.sources.flatMap((s) => s.destinations).find((d) => d.id === destinationId)!.transformations;
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
      body: JSON.stringify({ name: 'Enrich', code: 'export function transformEvent(e) { return e; }' }),
    });
    transformationId = ((await created.json()) as { id: string }).id;
    browser = await launchChromium();
    watched = await openPage(browser, server.url);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('connects and disconnects from the Destinations tab, and rudder-server is served the change', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/`);
    await page.getByLabel('Token', { exact: true }).fill(accessToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.goto(`${server.url}/#/transformations/${transformationId}`);
    await page.getByRole('tab', { name: 'Destinations (0)' }).click();
    await page.getByRole('button', { name: 'Connect Webhook' }).click();
    await page.getByRole('button', { name: 'Disconnect Webhook' }).waitFor();
    await page.getByRole('tab', { name: 'Destinations (1)' }).waitFor();
    expect(await served('dst-hook')).toHaveLength(1);
    await screenshot(page, 'transformation-destinations');

    await page.getByRole('button', { name: 'Disconnect Webhook' }).click();
    await page.getByRole('button', { name: 'Connect Webhook' }).waitFor();
    expect(await served('dst-hook')).toEqual([]);

    // The Configuration page names the connected transformation.
    await page.getByRole('button', { name: 'Connect Amplitude prod' }).click();
    await page.getByRole('button', { name: 'Disconnect Amplitude prod' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Configuration' }).click();
    const row = page.getByRole('table', { name: 'Destinations of Web site' }).locator('tr', { hasText: 'Amplitude prod' });
    await row.locator('td[data-label="Transformation"] a').waitFor();
    expect(await row.locator('td[data-label="Transformation"]').textContent()).toBe(transformationId);
  });
});
