import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackEvent, wireEvent } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { hasChromium, launchChromium, openPage, screenshot, type WatchedPage } from './browser.js';
import { ensureDashboardBuilt } from './global-setup.js';

// What a transformation did on live traffic, as the dashboard shows it: the Stats tab (totals,
// charts, recent errors with "Open in test panel") and the 24-hour columns of the list.

const code = [
  'export function transformEvent(event) {',
  "  if (event.properties.fail) throw new Error('refused ' + event.messageId);",
  '  return event;',
  '}',
].join('\n');

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Transformations', exact: true }).waitFor();
}

describe.skipIf(!hasChromium)('dashboard: stats and recent errors', () => {
  let server: TestServer;
  let browser: Browser;
  let watched: WatchedPage;
  let transformationId: string;
  let writer: string;

  beforeAll(async () => {
    await ensureDashboardBuilt();
    server = await startTestServer();
    writer = (await server.issueAccessToken({ name: 'writer' })).token;
    const headers = { Authorization: `Bearer ${writer}`, 'Content-Type': 'application/json' };
    const created = await fetch(`${server.url}/transformations?publish=true`, { method: 'POST', headers, body: JSON.stringify({ name: 'Order filter', code }) });
    const { id, versionId } = (await created.json()) as { id: string; versionId: string };
    transformationId = id;
    const events = Array.from({ length: 8 }, (_, n) => wireEvent(n, { versionId, message: trackEvent(n, n < 2 ? { fail: true } : {}) }));
    expect((await fetch(`${server.url}/customTransform`, { method: 'POST', headers, body: JSON.stringify(events) })).status).toBe(200);
    await server.server.services.liveStats!.flush();
    browser = await launchChromium();
    watched = await openPage(browser, server.url);
    await signIn(watched.page, server.url, writer);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('lists 24-hour volume and error rate per transformation', async () => {
    const { page } = watched;
    const row = page.locator('tbody tr', { hasText: 'Order filter' });
    await expect.poll(() => row.locator('td[data-label="Events (24 h)"]').textContent()).toBe('8');
    expect(await row.locator('td[data-label="Error rate (24 h)"]').textContent()).toBe('25.0 %');
  });

  it('shows totals, two charts and the recent errors; an error opens in the test panel', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/#/transformations/${transformationId}?tab=stats`);
    const totals = page.getByLabel('Totals over the window');
    await totals.waitFor();
    expect(await totals.textContent()).toContain('Events in8');
    expect(await totals.textContent()).toContain('Failed2');
    expect(await totals.textContent()).toContain('25.0 %');
    // uPlot draws each chart on a canvas inside its figure.
    await expect.poll(() => page.locator('figure.time-chart canvas').count()).toBe(2);
    const errors = page.getByRole('list', { name: 'Recent errors' }).locator('li');
    await expect.poll(() => errors.count()).toBe(2);
    expect(await errors.first().textContent()).toMatch(/Error: refused msg-[01]/);
    expect(await errors.first().textContent()).toContain('line 2');
    await screenshot(page, 'transformation-stats');

    await errors.first().getByRole('button', { name: 'Open in test panel' }).click();
    expect(await page.getByRole('tab', { name: 'Test' }).getAttribute('aria-selected')).toBe('true');
    const events = await page.getByLabel('Test events (JSON array)').inputValue();
    expect(JSON.parse(events)).toEqual([expect.objectContaining({ messageId: expect.stringMatching(/^msg-[01]$/), properties: expect.objectContaining({ fail: true }) })]);
  });

  it('shows the workspace overview: totals, charts, and the transformations with traffic linking to their stats', async () => {
    const { page } = watched;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Overview', exact: true }).waitFor();
    const totals = page.getByLabel('Totals over the window');
    await totals.waitFor();
    expect(await totals.textContent()).toContain('Events in8');
    await expect.poll(() => page.locator('figure.time-chart canvas').count()).toBe(2);
    const row = page.getByRole('table', { name: 'Transformations with traffic' }).locator('tbody tr');
    expect(await row.count()).toBe(1);
    expect(await row.locator('td[data-label="Error rate"]').textContent()).toBe('25.0 %');
    await screenshot(page, 'overview');
    await row.getByRole('link', { name: 'Order filter' }).click();
    await page.getByLabel('Totals over the window').waitFor();
    expect(await page.getByRole('tab', { name: 'Stats' }).getAttribute('aria-selected')).toBe('true');
  });

  it('starts a canary from the Release tab, shows both sides, and aborts it', async () => {
    const { page } = watched;
    const headers = { Authorization: `Bearer ${writer}`, 'Content-Type': 'application/json' };
    const created = (await (await fetch(`${server.url}/transformations?publish=true`, { method: 'POST', headers, body: JSON.stringify({ name: 'Canaried', code: 'export function transformEvent(e) { e.v = 1; return e; }' }) })).json()) as { id: string; versionId: string };
    await fetch(`${server.url}/transformations/${created.id}?publish=false`, { method: 'POST', headers, body: JSON.stringify({ code: 'export function transformEvent(e) { e.v = 2; return e; }' }) });
    await page.goto(`${server.url}/#/transformations/${created.id}?tab=release`);
    const form = page.getByRole('form', { name: 'Start a canary' });
    await form.waitFor();
    await form.getByLabel('Share of live traffic (%)').fill('30');
    await form.getByRole('button', { name: 'Start canary' }).click();
    await expect.poll(() => page.getByTestId('canary-status').textContent()).toBe('running');

    const events = Array.from({ length: 100 }, (_, n) => wireEvent(n, { versionId: created.versionId, message: { ...trackEvent(n), userId: `user-${n}` } }));
    expect((await fetch(`${server.url}/customTransform`, { method: 'POST', headers, body: JSON.stringify(events) })).status).toBe(200);
    await page.reload();
    const table = page.getByRole('table', { name: 'Published and canary side by side' });
    await table.waitFor();
    const canaryIn = Number(await table.locator('tr[data-side="canary"] td[data-label="Events in"]').textContent());
    const stableIn = Number(await table.locator('tr[data-side="stable"] td[data-label="Events in"]').textContent());
    expect(canaryIn + stableIn).toBe(100);
    expect(canaryIn).toBeGreaterThan(10);
    await screenshot(page, 'release-canary');

    await page.getByRole('button', { name: 'Abort' }).click();
    await expect.poll(() => page.getByTestId('canary-status').textContent()).toBe('aborted');
    await page.getByRole('form', { name: 'Start a canary' }).waitFor();
  });

  it('shadows a version from the Release tab and shows the report and a sampled difference', async () => {
    const { page } = watched;
    const headers = { Authorization: `Bearer ${writer}`, 'Content-Type': 'application/json' };
    const created = (await (await fetch(`${server.url}/transformations?publish=true`, { method: 'POST', headers, body: JSON.stringify({ name: 'Shadowed', code: 'export function transformEvent(e) { e.v = 1; return e; }' }) })).json()) as { id: string; versionId: string };
    await fetch(`${server.url}/transformations/${created.id}?publish=false`, { method: 'POST', headers, body: JSON.stringify({ code: 'export function transformEvent(e) { e.v = 2; return e; }' }) });
    await page.goto(`${server.url}/#/transformations/${created.id}?tab=release`);
    const form = page.getByRole('form', { name: 'Start a shadow' });
    await form.waitFor();
    await form.getByLabel('Share of live batches copied (%)').fill('100');
    await form.getByRole('button', { name: 'Start shadow' }).click();
    await expect.poll(() => page.getByTestId('shadow-status').textContent()).toBe('running');

    const events = Array.from({ length: 10 }, (_, n) => wireEvent(n, { versionId: created.versionId, message: trackEvent(n) }));
    expect((await fetch(`${server.url}/customTransform`, { method: 'POST', headers, body: JSON.stringify(events) })).status).toBe(200);
    const runner = server.server.services.shadows;
    for (let i = 0; i < 100 && runner.pending > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await page.reload();
    const report = page.getByLabel('Shadow report');
    await report.waitFor();
    expect(await report.textContent()).toContain('Compared10');
    expect(await report.textContent()).toContain('Differing10');
    await page.getByText('Difference 1 of 10 sampled').waitFor();
    await screenshot(page, 'release-shadow');
    await page.getByRole('button', { name: 'Stop shadow' }).click();
    await expect.poll(() => page.getByTestId('shadow-status').textContent()).toBe('stopped');
  });

  it('fits a 390 px wide screen', async () => {
    const narrow = await openPage(browser, server.url, 390, 844);
    try {
      await signIn(narrow.page, server.url, (await server.issueAccessToken({ name: 'narrow' })).token);
      await narrow.page.goto(`${server.url}/#/transformations/${transformationId}?tab=stats`);
      await narrow.page.getByLabel('Totals over the window').waitFor();
      await expect.poll(() => narrow.page.locator('figure.time-chart canvas').count()).toBe(2);
      expect(await narrow.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    } finally {
      await narrow.context.close();
    }
  });
});
