import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonLibraryCode, pythonTransformationCode, defaultTransformationCode } from '../../src/web/samples.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { hasChromium, launchChromium, openPage, screenshot, type WatchedPage } from './browser.js';
import { ensureDashboardBuilt } from './global-setup.js';

// The language choice in the dashboard: the create form's picker, the sample it swaps, the
// editor's highlighting, the badges on lists and editors, and the language sent to the API. The
// requests that would need the server to accept Python (create, inline test) are answered by the
// test itself, so nothing here needs the Python runtime.

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Transformations', exact: true }).waitFor();
}

/** The editor's document, line by line as CodeMirror renders it. */
async function editorCode(page: Page): Promise<string> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('[data-testid="code-editor"] .cm-line'))
      .map((line) => (line as HTMLElement).innerText.replace(/\u00a0/g, ' ').replace(/\n$/, ''))
      .join('\n'),
  );
}

/** Answers the next matching request with a stubbed 400 and hands back the request the page sent. */
async function stubOnce(page: Page, method: string, pathname: string): Promise<() => Promise<Request>> {
  let resolve: (request: Request) => void;
  const sent = new Promise<Request>((done) => (resolve = done));
  const matches = (url: URL) => url.pathname === pathname;
  await page.route(matches, async (route) => {
    if (route.request().method() !== method) return route.continue();
    resolve(route.request());
    await route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ error: { code: 'stubbed', message: 'Stubbed by the test.' } }) });
    await page.unroute(matches);
  });
  return () => sent;
}

describe.skipIf(!hasChromium)('dashboard: JavaScript and Python', () => {
  let server: TestServer;
  let browser: Browser;
  let watched: WatchedPage;
  let writer: string;
  let transformationId: string;

  beforeAll(async () => {
    await ensureDashboardBuilt();
    server = await startTestServer();
    writer = (await server.issueAccessToken({ name: 'writer' })).token;
    const response = await fetch(`${server.url}/transformations?publish=false`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${writer}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Order tagger', code: defaultTransformationCode }),
    });
    expect(response.status).toBe(200);
    transformationId = ((await response.json()) as { id: string }).id;
    browser = await launchChromium();
    watched = await openPage(browser, server.url);
    await signIn(watched.page, server.url, writer);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows the language on the transformation list and on a saved transformation, fixed there', async () => {
    const { page } = watched;
    const row = page.locator(`tr[data-transformation-id="${transformationId}"]`);
    expect(await row.locator('td[data-label="Language"]').innerText()).toBe('JavaScript');

    await page.getByRole('link', { name: 'Order tagger', exact: true }).click();
    await page.getByRole('heading', { name: 'Order tagger' }).waitFor();
    expect(await page.getByTestId('editor-status').getByTestId('language-badge').innerText()).toBe('JavaScript');
    const picker = page.getByLabel('Language', { exact: true });
    expect(await picker.inputValue()).toBe('javascript');
    expect(await picker.isDisabled()).toBe(true);
    expect(await page.getByTestId('code-editor').getAttribute('data-language')).toBe('javascript');
  });

  it('swaps an untouched sample and the highlighting when the language changes, and keeps typed code', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/#/transformations/new`);
    await page.getByRole('heading', { name: 'New transformation' }).waitFor();
    const picker = page.getByLabel('Language', { exact: true });
    const editor = page.getByTestId('code-editor');
    expect(await picker.inputValue()).toBe('javascript');
    expect(await editorCode(page)).toBe(defaultTransformationCode);

    await picker.selectOption('pythonfaas');
    await expect.poll(() => editorCode(page)).toBe(pythonTransformationCode);
    expect(await editor.getAttribute('data-language')).toBe('pythonfaas');
    expect(await page.getByRole('textbox', { name: 'Transformation code (Python)' }).count()).toBe(1);
    // Python's grammar highlights `def` as a keyword: a token of its own.
    await editor.locator('.cm-line span', { hasText: /^def$/ }).first().waitFor();
    await screenshot(page, 'python-transformation-new');

    await picker.selectOption('javascript');
    await expect.poll(() => editorCode(page)).toBe(defaultTransformationCode);

    // Typed code is the user's: switching language leaves it alone.
    const content = editor.locator('.cm-content');
    await content.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.insertText('// mine\n');
    await picker.selectOption('pythonfaas');
    expect(await editor.getAttribute('data-language')).toBe('pythonfaas');
    expect(await editorCode(page)).toContain('// mine');
  });

  it('sends language "pythonfaas" when creating a Python transformation and when testing its unsaved code', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/#/transformations/new`);
    // A fresh page after unsaved work may ask first; accept so the form starts clean.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.reload();
    await page.getByRole('heading', { name: 'New transformation' }).waitFor();
    await page.getByLabel('Language', { exact: true }).selectOption('pythonfaas');
    await expect.poll(() => editorCode(page)).toBe(pythonTransformationCode);

    const tested = await stubOnce(page, 'POST', '/transformations/test');
    await page.getByRole('button', { name: 'Run test' }).click();
    const testBody = (await tested()).postDataJSON() as { code: string; language?: string };
    expect(testBody.language).toBe('pythonfaas');
    expect(testBody.code).toBe(pythonTransformationCode);
    await page.getByTestId('test-batch-error').waitFor();

    await page.getByLabel('Name', { exact: true }).fill('Python tagger');
    const created = await stubOnce(page, 'POST', '/transformations');
    await page.getByRole('button', { name: 'Create transformation' }).click();
    const createBody = (await created()).postDataJSON() as { name: string; code: string; language?: string };
    expect(createBody).toMatchObject({ name: 'Python tagger', language: 'pythonfaas', code: pythonTransformationCode });
    await page.getByText('Stubbed by the test.').first().waitFor();
  });

  it('offers the language for a new library too, with a Python sample and import line', async () => {
    const { page } = watched;
    page.once('dialog', (dialog) => void dialog.accept());
    await page.goto(`${server.url}/#/libraries/new`);
    await page.getByRole('heading', { name: 'New library' }).waitFor();
    await page.getByLabel('Language', { exact: true }).selectOption('pythonfaas');
    await expect.poll(() => editorCode(page)).toBe(pythonLibraryCode);
    expect(await page.getByTestId('code-editor').getAttribute('data-language')).toBe('pythonfaas');
    await page.getByText('from importName import name').waitFor();

    await page.getByLabel('Name', { exact: true }).fill('Price Tools');
    const created = await stubOnce(page, 'POST', '/libraries');
    await page.getByRole('button', { name: 'Create library' }).click();
    expect(((await created()).postDataJSON() as { language?: string }).language).toBe('pythonfaas');
    await page.getByText('Stubbed by the test.').first().waitFor();
    expect(watched.problems).toEqual([]);
    expect(watched.foreignRequests).toEqual([]);
  });
});
