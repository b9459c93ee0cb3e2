import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { hasChromium, launchChromium, openPage, screenshot, type WatchedPage } from './browser.js';
import { ensureDashboardBuilt } from './global-setup.js';

// The Credentials page with an access token: a secret and a plain credential created, the
// secret's value nowhere on the page once saved, a value replaced, one deleted; and a read-only
// token sees every change button disabled with the reason.

const SECRET_VALUE = 'sk_live_dashboard_7f3b9c21d0e4';
const REPLACED_VALUE = 'sk_live_replaced_0a9b8c7d6e5f';

/** Every place a value could linger once its dialog closed: markup, text, form values, storage. */
async function pageHolds(page: Page, value: string): Promise<boolean> {
  const html = await page.content();
  const live = await page.evaluate(() => ({
    text: document.body.innerText,
    values: Array.from(document.querySelectorAll('input, textarea')).map((element) => (element as HTMLInputElement).value),
    storage: JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }),
  }));
  return html.includes(value) || live.text.includes(value) || live.values.some((entry) => entry.includes(value)) || live.storage.includes(value);
}

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Credentials' }).click();
  await page.getByRole('heading', { name: 'Credentials', exact: true }).waitFor();
}

describe.skipIf(!hasChromium)('dashboard: workspace credentials', () => {
  let server: TestServer;
  let browser: Browser;
  let watched: WatchedPage;
  let accessToken: string;

  const runtimeValues = () => server.server.services.credentials.valuesFor(server.workspaceId);

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

  it('shows the empty state after signing in with an access token', async () => {
    const { page } = watched;
    await signIn(page, server.url, accessToken);
    await page.getByRole('heading', { name: 'No credentials yet' }).waitFor();
    expect(page.url()).toContain('#/credentials');
  });

  it('creates a secret: masked while typed, never on the page once saved', async () => {
    const { page } = watched;
    await page.getByRole('button', { name: 'Add a credential' }).click();
    const dialog = page.getByRole('dialog', { name: 'New credential' });
    await dialog.getByLabel('Key').fill('STRIPE_KEY');
    // Secret is the default, and the value is masked as it is typed.
    expect(await dialog.getByRole('checkbox', { name: /Secret/ }).isChecked()).toBe(true);
    const value = dialog.getByTestId('credential-value');
    await value.fill(SECRET_VALUE);
    expect(await value.evaluate((element) => getComputedStyle(element).getPropertyValue('-webkit-text-security'))).toBe('disc');
    await dialog.getByRole('checkbox', { name: 'Show what I type' }).check();
    expect(await value.evaluate((element) => getComputedStyle(element).getPropertyValue('-webkit-text-security'))).toBe('none');
    await screenshot(page, 'new-credential-dialog');
    await dialog.getByRole('button', { name: 'Save credential' }).click();
    await dialog.waitFor({ state: 'hidden' });

    const row = page.locator('tr', { hasText: 'STRIPE_KEY' });
    await row.waitFor();
    expect(await row.textContent()).toContain('secret');
    expect(await row.textContent()).toContain('Hidden');
    await expect.poll(() => page.getByRole('status').last().textContent()).toContain('Its value is not shown again');
    expect(await pageHolds(page, SECRET_VALUE)).toBe(false);
    // Reopening the dialog starts empty: the value left the page's state with the save.
    await page.getByRole('button', { name: 'New credential' }).click();
    expect(await page.getByRole('dialog', { name: 'New credential' }).getByTestId('credential-value').inputValue()).toBe('');
    await page.getByRole('dialog', { name: 'New credential' }).getByRole('button', { name: 'Cancel' }).click();
    expect(await runtimeValues()).toEqual({ STRIPE_KEY: SECRET_VALUE });
  });

  it('creates a plain credential, shown in the list, and says what is wrong with a bad key', async () => {
    const { page } = watched;
    await page.getByRole('button', { name: 'New credential' }).click();
    const dialog = page.getByRole('dialog', { name: 'New credential' });
    await dialog.getByLabel('Key').fill('api host');
    await dialog.getByRole('checkbox', { name: /Secret/ }).uncheck();
    await dialog.getByTestId('credential-value').fill('api.example.com');
    await dialog.getByRole('button', { name: 'Save credential' }).click();
    await expect.poll(() => dialog.locator('.field-error').first().textContent()).toContain('letters A-Z and a-z, digits 0-9');
    await dialog.getByLabel('Key').fill('API_HOST');
    await dialog.getByRole('button', { name: 'Save credential' }).click();
    await dialog.waitFor({ state: 'hidden' });

    const row = page.locator('tr', { hasText: 'API_HOST' });
    await row.waitFor();
    expect(await row.locator('td[data-label="Value"]').textContent()).toBe('api.example.com');
    expect(await row.locator('td[data-label="Kind"]').textContent()).toBe('plain');

    // A key the workspace already has: the server's 409 shows in the dialog.
    await page.getByRole('button', { name: 'New credential' }).click();
    await dialog.getByLabel('Key').fill('API_HOST');
    await dialog.getByTestId('credential-value').fill('other');
    await dialog.getByRole('button', { name: 'Save credential' }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent()).toContain('a credential with key "API_HOST" already exists');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await screenshot(page, 'credentials');
  });

  it("replaces the secret's value without showing either value", async () => {
    const { page } = watched;
    await page.getByRole('button', { name: 'Replace value of STRIPE_KEY' }).click();
    const dialog = page.getByRole('dialog', { name: 'Replace value' });
    const value = dialog.getByTestId('credential-value');
    expect(await value.inputValue()).toBe('');
    expect(await dialog.textContent()).toContain('The current value is secret, so it is not shown.');
    await value.fill(REPLACED_VALUE);
    await dialog.getByRole('button', { name: 'Replace value' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(() => page.getByRole('status').last().textContent()).toContain('Replaced the value of credential “STRIPE_KEY”');
    expect(await runtimeValues()).toEqual({ API_HOST: 'api.example.com', STRIPE_KEY: REPLACED_VALUE });
    expect(await pageHolds(page, SECRET_VALUE)).toBe(false);
    expect(await pageHolds(page, REPLACED_VALUE)).toBe(false);
  });

  it("starts a plain credential's replace with its value, and can make it secret", async () => {
    const { page } = watched;
    await page.getByRole('button', { name: 'Replace value of API_HOST' }).click();
    const dialog = page.getByRole('dialog', { name: 'Replace value' });
    expect(await dialog.getByTestId('credential-value').inputValue()).toBe('api.example.com');
    await dialog.getByTestId('credential-value').fill('internal.example.com');
    await dialog.getByRole('checkbox', { name: /Secret/ }).check();
    await dialog.getByRole('button', { name: 'Replace value' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const row = page.locator('tr', { hasText: 'API_HOST' });
    await expect.poll(() => row.locator('td[data-label="Kind"]').textContent()).toBe('secret');
    expect(await pageHolds(page, 'internal.example.com')).toBe(false);
    expect((await runtimeValues()).API_HOST).toBe('internal.example.com');
  });

  it('deletes a credential after confirming', async () => {
    const { page } = watched;
    await page.getByRole('button', { name: 'Delete API_HOST' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete credential' });
    expect(await confirm.textContent()).toContain('getCredential("API_HOST")');
    await confirm.getByRole('button', { name: 'Delete credential' }).click();
    await confirm.waitFor({ state: 'hidden' });
    await page.locator('tr', { hasText: 'API_HOST' }).waitFor({ state: 'detached' });
    expect(await runtimeValues()).toEqual({ STRIPE_KEY: REPLACED_VALUE });
  });

  it('shows a read-only token the list with every change disabled, saying why', async () => {
    const reader = await openPage(browser, server.url);
    try {
      const { token } = await server.issueAccessToken({ name: 'reader', scopes: ['read'] });
      await signIn(reader.page, server.url, token);
      const { page } = reader;
      await page.locator('tr', { hasText: 'STRIPE_KEY' }).waitFor();
      await page.getByRole('note').filter({ hasText: 'read only' }).waitFor();
      for (const name of ['New credential', 'Replace value of STRIPE_KEY', 'Delete STRIPE_KEY']) {
        const button = page.getByRole('button', { name });
        expect(await button.isDisabled(), name).toBe(true);
        expect(await button.locator('xpath=..').getAttribute('title'), name).toContain('needs a token with the write scope');
      }
      expect(reader.problems).toEqual([]);
    } finally {
      await reader.context.close();
    }
  });

  it('fits a 390 px wide screen', async () => {
    const narrow = await openPage(browser, server.url, 390, 844);
    try {
      await signIn(narrow.page, server.url, accessToken);
      await narrow.page.locator('tr', { hasText: 'STRIPE_KEY' }).waitFor();
      const overflow = await narrow.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(narrow.page, 'credentials');
      expect(narrow.problems).toEqual([]);
    } finally {
      await narrow.context.close();
    }
  });

  it('makes no request to another host and logs no errors', () => {
    expect(watched.foreignRequests).toEqual([]);
    expect(watched.problems).toEqual([]);
  });
});
