import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { hasChromium, launchChromium, openPage, screenshot, type WatchedPage } from './browser.js';
import { ensureDashboardBuilt } from './global-setup.js';

// The editor's state in the address (tab, compared versions), a long code line in the version
// diff, search on the lists, test input kept in the browser with metadata and copyable outputs,
// and what a read-only token is offered. Everything is set up through the API, so each test is short.

// Both versions carry a line of about 90 characters, so the diff holds a long line on each side.
const longLine = (value: string) => `  event.properties = { ...event.properties, campaign: "${value}", medium: "email", note: "x" };`;
const firstCode = `export function transformEvent(event, metadata) {\n${longLine('spring-sale-2026-newsletter')}\n  return event;\n}\n`;
const secondCode = `export function transformEvent(event, metadata) {\n${longLine('summer-sale-2026-newsletter')}\n  event.source = metadata(event).sourceId ?? "none";\n  return event;\n}\n`;

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Transformations', exact: true }).waitFor();
}

/** How far the page is wider than its window (0 when nothing scrolls sideways). */
function pageOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

describe.skipIf(!hasChromium)('dashboard: editor state, search, test input and read-only tokens', () => {
  let server: TestServer;
  let browser: Browser;
  let watched: WatchedPage;
  let writer: string;
  let transformationId: string;
  let workspaceId: string;
  const versionIds: string[] = [];

  const post = async <T>(path: string, body: unknown): Promise<T> => {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${writer}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };

  beforeAll(async () => {
    await ensureDashboardBuilt();
    server = await startTestServer();
    writer = (await server.issueAccessToken({ name: 'writer' })).token;
    const created = await post<{ id: string; versionId: string; workspaceId: string }>('/transformations?publish=false', { name: 'Campaign tagger', code: firstCode });
    transformationId = created.id;
    workspaceId = created.workspaceId;
    versionIds.push(created.versionId);
    const updated = await post<{ versionId: string }>(`/transformations/${transformationId}?publish=false`, { code: secondCode });
    versionIds.push(updated.versionId);
    await post('/transformations?publish=false', { name: 'Drop bots', description: 'Filters crawler traffic', code: 'export function transformEvent(event) {\n  return event;\n}\n' });
    await post('/libraries?publish=false', { name: 'Price Tools', code: 'export function toCents(amount) {\n  return Math.round(amount * 100);\n}\n' });
    await post('/libraries?publish=false', { name: 'Geo Helpers', code: 'export function country(event) {\n  return event.context?.country;\n}\n' });
    browser = await launchChromium();
    watched = await openPage(browser, server.url);
    await watched.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await signIn(watched.page, server.url, writer);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('keeps the open tab and the compared versions in the address, through reload and Back', async () => {
    const { page } = watched;
    await page.getByRole('link', { name: 'Campaign tagger', exact: true }).click();
    await page.getByRole('heading', { name: 'Campaign tagger' }).waitFor();
    expect(await page.getByRole('tab', { name: 'Test' }).getAttribute('aria-selected')).toBe('true');

    await page.getByRole('tab', { name: /^Versions/ }).click();
    await page.getByTestId('version-list').waitFor();
    expect(new URL(page.url()).hash).toBe(`#/transformations/${transformationId}?tab=versions`);

    // Compare version 2 with itself: the choice goes into the address without a new history entry.
    await page.getByLabel('Older (left)').selectOption(versionIds[1]!);
    await expect.poll(() => new URL(page.url()).hash).toContain(`from=${versionIds[1]}`);
    await page.getByText('These two versions have identical code.').waitFor();

    await page.reload();
    await page.getByTestId('version-list').waitFor();
    expect(await page.getByRole('tab', { name: /^Versions/ }).getAttribute('aria-selected')).toBe('true');
    expect(await page.getByLabel('Older (left)').inputValue()).toBe(versionIds[1]);
    expect(await page.getByLabel('Newer (right)').inputValue()).toBe(versionIds[1]);

    // Back returns to the Test tab of the same editor, without asking about unsaved changes.
    const questions: string[] = [];
    page.on('dialog', (dialog) => {
      questions.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goBack();
    await expect.poll(() => page.getByRole('tab', { name: 'Test' }).getAttribute('aria-selected')).toBe('true');
    await page.getByTestId('test-panel').waitFor();
    expect(new URL(page.url()).hash).toBe(`#/transformations/${transformationId}`);
    await page.goForward();
    await page.getByTestId('version-list').waitFor();
    expect(questions).toEqual([]);
  });

  it('scrolls a long code line inside the diff, not the page, at 1280 and 390 px', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/#/transformations/${transformationId}?tab=versions&from=${versionIds[0]}&to=${versionIds[1]}`);
    const diff = page.getByTestId('diff-view');
    await diff.locator('.cm-mergeView .cm-changedLine').first().waitFor();
    expect(await pageOverflow(page)).toBeLessThanOrEqual(0);
    // The line is still whole: it scrolls inside the diff's own box.
    const inner = await diff.locator('.cm-mergeView .cm-scroller').first().evaluate((element) => element.scrollWidth - element.clientWidth);
    expect(inner).toBeGreaterThan(0);
    const box = await page.getByRole('button', { name: 'Publish latest' }).boundingBox();
    expect(box && box.x + box.width).toBeLessThanOrEqual(1280);
    await diff.scrollIntoViewIfNeeded();
    await screenshot(page, 'version-diff-long-line');

    const phone = await openPage(browser, server.url, 390, 844);
    try {
      await signIn(phone.page, server.url, writer);
      await phone.page.goto(`${server.url}/#/transformations/${transformationId}?tab=versions&from=${versionIds[0]}&to=${versionIds[1]}`);
      await phone.page.getByTestId('diff-view').locator('.cm-changedLine, .cm-insertedLine, .cm-deletedChunk').first().waitFor();
      expect(await pageOverflow(phone.page)).toBeLessThanOrEqual(0);
      const publish = await phone.page.getByRole('button', { name: 'Publish Version 1' }).boundingBox();
      expect(publish && publish.x + publish.width).toBeLessThanOrEqual(390);
      await screenshot(phone.page, 'version-diff-long-line');
      expect(phone.problems).toEqual([]);
    } finally {
      await phone.context.close();
    }
  });

  it('keeps test events and metadata per transformation across a reload, and copies an output', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/#/transformations/${transformationId}`);
    await page.getByTestId('test-panel').waitFor();
    const events = [{ type: 'track', event: 'Signed Up', properties: { plan: 'pro' } }];
    await page.getByLabel('Test events (JSON array)').fill(JSON.stringify(events));
    await page.getByLabel('Metadata (optional JSON)').fill('[1]');
    await page.getByText('Entry 1 is not a JSON object.').waitFor();
    expect(await page.getByRole('button', { name: 'Run test' }).isDisabled()).toBe(true);
    await page.getByLabel('Metadata (optional JSON)').fill('{ "sourceId": "web-1" }');
    await page.getByRole('button', { name: 'Run test' }).click();
    const output = page.getByTestId('test-output').first();
    await output.waitFor();
    const transformed = JSON.parse(await output.innerText()) as { source: string; properties: { campaign: string } };
    expect(transformed.source).toBe('web-1');
    expect(transformed.properties.campaign).toBe('summer-sale-2026-newsletter');

    await page.getByRole('button', { name: 'Copy output 1' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    expect(JSON.parse(await page.evaluate(() => navigator.clipboard.readText()))).toEqual(transformed);
    await screenshot(page, 'test-panel-metadata');

    // Kept under this workspace and transformation, and shown again after a reload.
    const keys = await page.evaluate(() => Object.keys(localStorage));
    expect(keys).toContain(`tiller.test-input.${workspaceId}.${transformationId}`);
    await page.reload();
    await page.getByTestId('test-panel').waitFor();
    expect(JSON.parse(await page.getByLabel('Test events (JSON array)').inputValue())).toEqual(events);
    expect(await page.getByLabel('Metadata (optional JSON)').inputValue()).toBe('{ "sourceId": "web-1" }');

    // Another transformation starts from the sample, with no metadata.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Transformations' }).click();
    await page.getByRole('link', { name: 'Drop bots', exact: true }).click();
    await page.getByTestId('test-panel').waitFor();
    expect(await page.getByLabel('Test events (JSON array)').inputValue()).not.toContain('Signed Up');
    expect(await page.getByLabel('Metadata (optional JSON)').inputValue()).toBe('');
  });

  it('searches the transformation and library lists', async () => {
    const { page } = watched;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Transformations' }).click();
    const rows = page.getByRole('table', { name: 'Transformations' }).locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    const search = page.getByLabel('Search transformations');
    await search.fill('CRAWLER');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain('Drop bots');
    await search.fill('no such thing');
    await expect.poll(() => rows.count()).toBe(0);
    await page.getByText('Nothing matches “no such thing”.').waitFor();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Libraries' }).click();
    const libraryRows = page.getByRole('table', { name: 'Libraries' }).locator('tbody tr');
    await expect.poll(() => libraryRows.count()).toBe(2);
    // The import name is searched too.
    await page.getByLabel('Search libraries').fill('geoHelpers');
    await expect.poll(() => libraryRows.count()).toBe(1);
    expect(await libraryRows.first().innerText()).toContain('Geo Helpers');
  });

  it('offers a read-only token no change, saying why', async () => {
    const reader = await openPage(browser, server.url);
    try {
      const { token } = await server.issueAccessToken({ name: 'reader', scopes: ['read'] });
      const { page } = reader;
      await signIn(page, server.url, token);
      const disabledWithReason = async (name: string) => {
        const button = page.getByRole('button', { name, exact: true });
        expect(await button.isDisabled(), name).toBe(true);
        expect(await button.locator('xpath=..').getAttribute('title'), name).toContain('needs a token with the write scope');
      };
      await page.getByRole('note').filter({ hasText: 'read only' }).waitFor();
      await disabledWithReason('New transformation');
      await disabledWithReason('Delete Campaign tagger');
      await disabledWithReason('Delete Drop bots');

      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Libraries' }).click();
      await page.getByRole('table', { name: 'Libraries' }).waitFor();
      await disabledWithReason('New library');
      await disabledWithReason('Delete Price Tools');

      // The editor: it can be read and tested, nothing saved, published or rolled back.
      await page.goto(`${server.url}/#/transformations/${transformationId}?tab=versions`);
      await page.getByTestId('version-list').waitFor();
      expect(await page.getByRole('button', { name: 'Save new version' }).isDisabled()).toBe(true);
      for (const name of ['Publish latest', 'Publish Version 2', 'Roll back to Version 1', 'Publish Version 1', 'Load Version 1 into the editor']) {
        expect(await page.getByRole('button', { name }).count(), name).toBe(0);
      }
      await page.getByRole('tab', { name: 'Test' }).click();
      await page.getByRole('button', { name: 'Run test' }).click();
      await page.getByTestId('test-output').first().waitFor();
      expect(reader.problems).toEqual([]);
    } finally {
      await reader.context.close();
    }
  });

  it('follows the system dark setting, the code editor and diff included', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/#/transformations/${transformationId}?tab=versions`);
    await page.getByTestId('diff-view').locator('.cm-mergeView').waitFor();
    const colours = () =>
      page.evaluate(() => {
        const background = (selector: string) => getComputedStyle(document.querySelector(selector)!).backgroundColor;
        return { page: background('body'), editor: background('[data-testid="code-editor"] .cm-editor'), diff: background('[data-testid="diff-view"] .cm-editor') };
      });
    const light = await colours();
    expect(light.page).toBe('rgb(245, 246, 244)');
    try {
      await page.emulateMedia({ colorScheme: 'dark' });
      await expect.poll(async () => (await colours()).page).toBe('rgb(18, 22, 20)');
      const dark = await colours();
      expect(dark.editor).toBe('rgb(26, 32, 29)');
      expect(dark.diff).toBe('rgb(26, 32, 29)');
      // Keywords take the dark theme's colour, readable on the dark surface.
      const keyword = page.locator('[data-testid="code-editor"] .cm-line span', { hasText: /^export$/ }).first();
      expect(await keyword.evaluate((element) => getComputedStyle(element).color)).toBe('rgb(215, 164, 255)');
      await screenshot(page, 'editor-dark');
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Transformations' }).click();
      await page.getByRole('table', { name: 'Transformations' }).waitFor();
      await page.getByRole('button', { name: 'Delete Drop bots' }).click();
      await page.getByRole('dialog', { name: 'Delete transformation' }).waitFor();
      await screenshot(page, 'transformations-dark');
      await page.keyboard.press('Escape');
    } finally {
      await page.emulateMedia({ colorScheme: 'light' });
    }
  });

  it('makes no request to another host and logs no errors', () => {
    expect(watched.foreignRequests).toEqual([]);
    expect(watched.problems).toEqual([]);
  });
});
