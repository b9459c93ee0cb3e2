import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { hasChromium, launchChromium, openPage, screenshot, type WatchedPage } from './browser.js';
import { ensureDashboardBuilt } from './global-setup.js';

const libraryCode = `export function toCents(amount) {
  return Math.round(Number(amount ?? 0) * 100);
}
`;

const firstCode = `import { toCents } from "priceTools";

export function transformEvent(event, metadata) {
  if (event.properties) event.properties.revenue_cents = toCents(event.properties.revenue);
  return event;
}
`;

// Line 4 has the error: a dangling operator V8 reports at that line.
const brokenCode = `import { toCents } from "priceTools";

export function transformEvent(event, metadata) {
  const cents = toCents(event.properties.revenue) +* 1;
  return event;
}
`;

const fixedCode = `import { toCents } from "priceTools";

export function transformEvent(event, metadata) {
  log("order", event.properties?.order_id);
  if (event.properties) {
    event.properties.revenue_cents = toCents(event.properties.revenue);
    event.properties.source = "tiller";
  }
  return event;
}
`;

const thirdCode = fixedCode.replace('"tiller"', '"tiller-v3"');

// Throws on line 2 for every event: nothing has a "missing" property.
const throwingCode = 'export function transformEvent(e){\n  return e.missing.x;\n}\n';

/** Replaces the whole editor document the way a user would: focus, select all, type. */
async function setEditorCode(page: Page, code: string): Promise<void> {
  const content = page.locator('[data-testid="code-editor"] .cm-content');
  await content.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(code);
  await expect.poll(() => content.evaluate((element) => (element as HTMLElement).innerText.replace(/\u00a0/g, ' '))).toContain(code.trim().split('\n')[0]!);
}

async function editorCode(page: Page): Promise<string> {
  return page.evaluate(() => {
    const lines = Array.from(document.querySelectorAll('[data-testid="code-editor"] .cm-line'));
    return lines.map((line) => (line as HTMLElement).innerText).join('\n');
  });
}

interface ApiTransformation {
  id: string;
  versionId: string;
  name: string;
  publishedVersionId?: string | null;
}

describe.skipIf(!hasChromium)('dashboard: transformations and libraries with an access token', () => {
  let server: TestServer;
  let browser: Browser;
  let watched: WatchedPage;
  let accessToken: string;
  let accessTokenId: string;

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${server.url}${path}`, { headers: { Authorization: `Bearer ${accessToken}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  };

  beforeAll(async () => {
    await ensureDashboardBuilt();
    server = await startTestServer();
    const issued = await server.issueAccessToken({ name: 'dashboard-user' });
    accessToken = issued.token;
    accessTokenId = issued.id;
    browser = await launchChromium();
    watched = await openPage(browser, server.url);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('signs in with an access token and shows the empty transformations list', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/`);
    await page.getByLabel('Token', { exact: true }).fill(accessToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'No transformations yet' }).waitFor();
    expect(page.url()).toContain('#/transformations');
    // An access token cannot manage tokens: those links are not offered.
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Access tokens' }).count()).toBe(0);
  });

  it('creates a library and shows how to import it', async () => {
    const { page } = watched;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Libraries' }).click();
    await page.getByRole('link', { name: 'Create a library' }).click();
    await page.getByLabel('Name').fill('Price Tools');
    await page.getByLabel('Description (optional)').fill('Money helpers');
    await setEditorCode(page, libraryCode);
    await page.getByRole('button', { name: 'Create library' }).click();
    await page.getByRole('heading', { name: 'Price Tools' }).waitFor();
    await expect.poll(() => page.getByTestId('editor-status').textContent()).toContain('priceTools');
    await expect.poll(() => page.locator('.import-snippet').textContent()).toContain('import { toCents } from "priceTools";');
  });

  it('creates a transformation that imports the library, and marks a compile error at its line', async () => {
    const { page } = watched;
    await page.goto(`${server.url}/#/transformations/new`);
    await page.getByLabel('Name').fill('Revenue in cents');
    await setEditorCode(page, firstCode);
    await page.getByRole('button', { name: 'Create transformation' }).click();
    await page.getByRole('heading', { name: 'Revenue in cents' }).waitFor();
    await expect.poll(() => page.getByTestId('published-version').textContent()).toContain('Not published');

    await setEditorCode(page, brokenCode);
    await page.getByRole('button', { name: 'Save new version' }).click();
    const error = page.getByTestId('save-error');
    await error.waitFor();
    expect(await error.textContent()).toContain('Line 4');
    // The editor marks that very line (line decoration and lint underline).
    const marked = page.locator('.cm-line[data-error-line="true"]');
    await marked.waitFor();
    expect(await marked.innerText()).toContain('+* 1');
    await page.locator('.cm-lintRange-error').first().waitFor();
    await screenshot(page, 'editor-with-error');

    await setEditorCode(page, fixedCode);
    await page.getByRole('button', { name: 'Save new version' }).click();
    await expect.poll(() => page.getByTestId('editor-status').textContent()).toContain('Version 2');
    expect(await page.getByTestId('save-error').count()).toBe(0);
    expect(await page.locator('.cm-line[data-error-line="true"]').count()).toBe(0);
  });

  it('tests the saved version on a sample event and shows outputs and logs', async () => {
    const { page } = watched;
    await page.getByLabel('Sample events').selectOption('track');
    await page.getByRole('button', { name: 'Use sample' }).click();
    await page.getByRole('button', { name: 'Run test' }).click();
    const output = page.getByTestId('test-output').first();
    await output.waitFor();
    const event = JSON.parse(await output.innerText()) as { properties: { revenue_cents: number; source: string } };
    expect(event.properties.revenue_cents).toBe(11497);
    expect(event.properties.source).toBe('tiller');
    await expect.poll(() => page.locator('.log-lines').innerText()).toContain('ORD-100482');
    await screenshot(page, 'test-panel');
  });

  it('tests unsaved code inline and reports a dropped event', async () => {
    const { page } = watched;
    await setEditorCode(page, 'export function transformEvent(event) {\n  return event.type === "track" ? event : null;\n}\n');
    await page.getByLabel('Sample events').selectOption('all');
    await page.getByRole('button', { name: 'Use sample' }).click();
    await expect.poll(() => page.getByTestId('test-panel').textContent()).toContain('Tests the unsaved code in the editor');
    await page.getByRole('button', { name: 'Run test' }).click();
    await expect.poll(() => page.getByTestId('test-result').textContent()).toContain('2 dropped');
    expect(await page.getByTestId('test-output').count()).toBe(1);
    // Back to the saved code for the publish steps.
    await setEditorCode(page, fixedCode);
    await expect.poll(() => page.getByTestId('editor-status').textContent()).not.toContain('Unsaved changes');
  });

  it('shows where a runtime error was thrown and goes to that line from its stack frame', async () => {
    const { page } = watched;
    try {
      await setEditorCode(page, throwingCode);
      await page.getByRole('button', { name: 'Run test' }).click();
      const errors = page.getByTestId('test-errors');
      await errors.waitFor();
      // The first line is the message; the frame is beneath it, not inside it.
      expect(await errors.innerText()).toContain("TypeError: Cannot read properties of undefined (reading 'x')");
      expect(await errors.innerText()).toMatch(/at transformEvent \(line 2, column \d+\)/);
      const frame = errors.getByRole('button', { name: /^line 2, column \d+$/ }).first();

      // The editor marks the line the error was thrown at, with a lint underline.
      const marked = page.locator('.cm-line[data-runtime-error-line="true"]');
      await marked.waitFor();
      expect(await marked.innerText()).toContain('e.missing.x');
      await page.locator('.cm-lintRange-error').first().waitFor();
      await screenshot(page, 'test-runtime-error');

      // Move the cursor away, then the frame brings it back to line 2 and focuses the editor.
      await page.locator('[data-testid="code-editor"] .cm-content').click();
      await page.keyboard.press('Control+End');
      await expect.poll(() => page.locator('.cm-lineNumbers .cm-activeLineGutter').innerText()).toBe('4');
      await page.getByRole('button', { name: 'Run test' }).focus();
      await frame.click();
      await expect.poll(() => page.locator('.cm-lineNumbers .cm-activeLineGutter').innerText()).toBe('2');
      expect(await page.evaluate(() => document.activeElement?.classList.contains('cm-content'))).toBe(true);

      // Any edit clears the mark (the result stays).
      await page.keyboard.type(' ');
      await expect.poll(() => marked.count()).toBe(0);
      expect(await errors.count()).toBe(1);

      // A whole-batch failure shows its frames the same way.
      await setEditorCode(page, 'export function transformBatch(events) {\n  throw new Error("whole batch");\n}\n');
      await page.getByRole('button', { name: 'Run test' }).click();
      const batch = page.getByTestId('test-batch-error');
      await batch.waitFor();
      expect(await batch.innerText()).toContain('Error: whole batch');
      await batch.getByRole('button', { name: /^line 2, column \d+$/ }).waitFor();
      await expect.poll(() => marked.innerText()).toContain('throw new Error');
    } finally {
      // Back to the saved code for the publish steps, whatever happened above.
      await setEditorCode(page, fixedCode);
      await expect.poll(() => page.getByTestId('editor-status').textContent()).not.toContain('Unsaved changes');
    }
  });

  it('publishes, edits, compares versions and rolls back to the first version', async () => {
    const { page } = watched;
    await page.getByRole('button', { name: 'Publish latest' }).click();
    const publishDialog = page.getByRole('dialog', { name: 'Publish Version 2' });
    await publishDialog.getByRole('button', { name: 'Publish' }).click();
    await publishDialog.waitFor({ state: 'hidden' });
    await expect.poll(() => page.getByTestId('published-version').textContent()).toContain('Published: Version 2 (latest)');

    await setEditorCode(page, thirdCode);
    await page.getByRole('button', { name: 'Save new version' }).click();
    await expect.poll(() => page.getByTestId('editor-status').textContent()).toContain('Latest: Version 3');
    await expect.poll(() => page.getByTestId('published-version').textContent()).toContain('Published: Version 2 (not the latest)');

    await page.getByRole('tab', { name: /Versions/ }).click();
    const list = page.getByTestId('version-list');
    await list.waitFor();
    expect(await list.locator('li').count()).toBe(3);
    expect(await list.locator('li[data-published="true"] .version-label').innerText()).toBe('Version 2');
    const diff = page.getByTestId('diff-view');
    await diff.locator('.cm-mergeView').waitFor();
    await expect.poll(() => diff.locator('.cm-changedLine').count()).toBeGreaterThan(0);
    // CodeMirror measures line heights only in view; scroll there so the screenshot is exact.
    await diff.scrollIntoViewIfNeeded();
    await screenshot(page, 'version-diff');

    await page.getByRole('button', { name: 'Roll back to Version 1' }).click();
    const rollback = page.getByRole('dialog', { name: /Roll back to Version 1/ });
    await rollback.getByRole('button', { name: 'Roll back' }).click();
    await rollback.waitFor({ state: 'hidden' });
    await expect.poll(() => page.getByTestId('published-version').textContent()).toContain('Published: Version 1 (not the latest)');
    await expect.poll(() => list.locator('li[data-published="true"] .version-label').innerText()).toBe('Version 1');

    // The API agrees: the published version is the first one.
    const { transformations } = await api<{ transformations: ApiTransformation[] }>('/transformations');
    const [transformation] = transformations;
    expect(transformation).toBeDefined();
    const { TransformationVersions: versions } = await api<{ TransformationVersions: { versionId: string }[] }>(
      `/transformations/${transformation!.id}/versions?count=10&orderBy=asc`,
    );
    expect(transformation!.publishedVersionId).toBe(versions[0]!.versionId);
  });

  it('lists the transformation with its published state', async () => {
    const { page } = watched;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Transformations' }).click();
    const row = page.locator('tr', { hasText: 'Revenue in cents' });
    await row.waitFor();
    expect(await row.textContent()).toContain('Older version published');
    expect(await row.textContent()).toContain('priceTools');
    await screenshot(page, 'transformations');
  });

  it('asks before leaving the editor with unsaved changes', async () => {
    const { page } = watched;
    await page.getByRole('link', { name: 'Revenue in cents', exact: true }).click();
    await page.getByRole('heading', { name: 'Revenue in cents' }).waitFor();
    await setEditorCode(page, `${thirdCode}// not saved yet\n`);
    const questions: string[] = [];
    page.once('dialog', (dialog) => {
      questions.push(dialog.message());
      void dialog.dismiss();
    });
    await page.getByRole('link', { name: '← All transformations' }).click();
    await expect.poll(() => questions.length).toBe(1);
    expect(questions[0]).toContain('unsaved changes');
    // Staying keeps the page and the edits.
    await page.getByRole('heading', { name: 'Revenue in cents' }).waitFor();
    expect(page.url()).toContain('#/transformations/');
    expect(await editorCode(page)).toContain('// not saved yet');

    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('link', { name: '← All transformations' }).click();
    await page.getByRole('heading', { name: 'Transformations', exact: true }).waitFor();
  });

  it('fits the editor on a 390 px wide screen', async () => {
    const narrow = await openPage(browser, server.url, 390, 844);
    try {
      await narrow.page.goto(`${server.url}/`);
      await narrow.page.getByLabel('Token', { exact: true }).fill(accessToken);
      await narrow.page.getByRole('button', { name: 'Sign in' }).click();
      await narrow.page.getByRole('link', { name: 'Revenue in cents', exact: true }).click();
      await narrow.page.locator('[data-testid="code-editor"] .cm-content').waitFor();
      const overflow = await narrow.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(narrow.page, 'editor');
      expect(narrow.problems).toEqual([]);
    } finally {
      await narrow.context.close();
    }
  });

  it('explains a refused publish event by event and publishes nothing', async () => {
    const { page } = watched;
    const created = await fetch(`${server.url}/transformations?publish=false`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Strict checker', code: 'export function transformEvent(event) {\n  if (!event.userId) throw new Error("userId is required");\n  return event;\n}\n' }),
    });
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    await page.goto(`${server.url}/#/transformations/${id}`);
    await page.getByRole('heading', { name: 'Strict checker' }).waitFor();
    // The page sample has no userId: the publish check must fail on it.
    await page.getByLabel('Sample events').selectOption('page');
    await page.getByRole('button', { name: 'Use sample' }).click();
    await page.getByRole('button', { name: 'Publish latest' }).click();
    const dialog = page.getByRole('dialog', { name: 'Publish Version 1' });
    await dialog.getByRole('button', { name: 'Publish' }).click();
    const failures = dialog.getByTestId('publish-failures');
    await failures.waitFor();
    expect(await failures.innerText()).toContain('userId is required');
    expect(await dialog.getByRole('alert').innerText()).toContain('Nothing was published');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.getByTestId('published-version').innerText()).toContain('Not published');
  });

  it('returns to sign-in with a message when the access token is revoked', async () => {
    const { page } = watched;
    const revoked = await fetch(`${server.url}/accessTokens/${accessTokenId}`, { method: 'DELETE', headers: { Authorization: server.workspaceAuth } });
    expect(revoked.status).toBe(200);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Libraries' }).click();
    await page.getByRole('heading', { name: 'Sign in to Tiller' }).waitFor();
    expect(await page.getByRole('alert').first().textContent()).toContain('no longer accepts your access token');
    expect(await page.evaluate(() => sessionStorage.getItem('tiller.session'))).toBeNull();
    expect(await editorCode(page)).toBe('');
  });

  it('makes no request to another host and logs no errors', () => {
    expect(watched.foreignRequests).toEqual([]);
    expect(watched.problems).toEqual([]);
  });
});
